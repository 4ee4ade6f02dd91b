"""The DaemonSet controller: one pod per node the template selects and whose taints it tolerates, pinned by
node affinity on ``metadata.name`` and scheduled by the scheduler; rolling updates that replace at most
``maxUnavailable`` pods at a time; OnDelete that waits for someone to delete the old ones; status as
kube-controller-manager writes it."""

from __future__ import annotations

import copy
import time

from tests.support.kube_double.controllers.common import (CONTROLLER_MANAGER, create_pod, delete_pod, new_pod,
                                                          node_matches, owned_pods, ready, template_hash, terminating,
                                                          untolerated)
from tests.support.kube_double.kinds import BY_KIND
from tests.support.kube_double.store import TEMPLATE_GENERATION

DAEMONSET = BY_KIND["DaemonSet"]
COMPONENT = "daemonset-controller"
RETRY_SECONDS = 2.0  # after a refused creation, as the controller's rate limiter spaces its retries
# What the controller adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def _pod_spec(ds: dict, node: str) -> dict:
    spec = copy.deepcopy(ds["spec"]["template"]["spec"])
    tolerations = spec.get("tolerations") or []
    wanted = DAEMON_TOLERATIONS + ([HOST_NETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    for toleration in wanted:
        if not any(t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"] for t in tolerations):
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})["nodeSelectorTerms"] = [term]
    return spec


def _scaled(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent, rounding up (a percentage of the nodes that should run it)."""
    if isinstance(value, str) and value.endswith("%"):
        return -(-int(value[:-1]) * total // 100)
    return int(value)


def template_generation(ds: dict) -> str:
    """The template's generation, which the API server keeps in an annotation of apps/v1 DaemonSets."""
    return (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION, "1")


def _updated(pod: dict, revision: str, generation: str) -> bool:
    """util.IsPodUpdated: the revision hash, or the template generation, is the current one."""
    labels = pod["metadata"].get("labels") or {}
    return labels.get("controller-revision-hash") == revision or labels.get("pod-template-generation") == generation


def _target_node(pod: dict) -> str | None:
    if pod["spec"].get("nodeName"):
        return pod["spec"]["nodeName"]
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == "metadata.name" and expr.get("values"):
                return expr["values"][0]
    return None


class DaemonSets:
    def __init__(self) -> None:
        self._backoff: dict[str, float] = {}

    def reconcile(self, store) -> None:
        nodes = list(store.each("Node"))
        for ds in store.each("DaemonSet"):
            if not terminating(ds):
                self._sync(store, ds, nodes)

    def _sync(self, store, ds: dict, nodes: list[dict]) -> None:
        template = ds["spec"]["template"]
        collisions = (ds.get("status") or {}).get("collisionCount")
        revision = template_hash(template, collisions)
        by_node: dict[str, list[dict]] = {}
        for pod in owned_pods(store, ds):
            by_node.setdefault(_target_node(pod) or "", []).append(pod)
        # The daemon pod's tolerations are the same on every node (only its node affinity differs): built once,
        # not a copy of the template per node on every pass (1,000 nodes made that the controller's whole cost).
        tolerating = _pod_spec(ds, "")
        should_run = {n["metadata"]["name"] for n in nodes
                      if node_matches(template["spec"], n) and not untolerated(tolerating, n)}
        uid = ds["metadata"]["uid"]
        retry_ok = time.monotonic() >= self._backoff.get(uid, 0)
        rolling = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        value = ((ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", 1)
        max_unavailable = max(1, _scaled(value, len(should_run))) if rolling else 0
        unavailable = sum(1 for n in should_run if not any(ready(p) and not terminating(p) for p in by_node.get(n, [])))
        for name, pods in sorted(by_node.items()):
            live = [p for p in pods if not terminating(p)]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            for pod in failed:
                delete_pod(store, pod)
            live = [p for p in live if p not in failed]
            if name not in should_run:
                for pod in live:
                    delete_pod(store, pod)
                continue
            for pod in live[1:]:
                delete_pod(store, pod)
            if rolling and live and not _updated(live[0], revision, template_generation(ds)):
                if not ready(live[0]) or unavailable < max_unavailable:
                    if ready(live[0]):
                        unavailable += 1
                    delete_pod(store, live[0])
        for name in sorted(should_run):
            if any(not terminating(p) for p in by_node.get(name, [])) or not retry_ok:
                continue
            pod = new_pod(ds, template)
            pod["metadata"].setdefault("labels", {}).update({
                "controller-revision-hash": revision,
                "pod-template-generation": template_generation(ds)})
            pod["spec"] = _pod_spec(ds, name)
            if create_pod(store, ds, pod, COMPONENT) is None:
                self._backoff[uid] = time.monotonic() + RETRY_SECONDS
                break
        self._status(store, ds, should_run, revision)

    @staticmethod
    def _status(store, ds: dict, should_run: set[str], revision: str) -> None:
        """Counted as the controller counts: on each node, the first of its pods (scheduled before not,
        then the oldest), terminating ones included; so an update counts once the old pod is gone."""
        pods: dict[str, list[dict]] = {}
        for pod in owned_pods(store, ds):
            pods.setdefault(_target_node(pod) or "", []).append(pod)
        first = {n: sorted(ps, key=lambda p: (not p["spec"].get("nodeName"), p["metadata"]["creationTimestamp"],
                                              p["metadata"]["name"]))[0] for n, ps in pods.items()}
        generation = template_generation(ds)
        runs = [first[n] for n in should_run if n in first]
        ready_count = sum(1 for p in runs if ready(p))
        status = {
            "currentNumberScheduled": len(runs),
            "numberMisscheduled": len(set(first) - should_run),
            "desiredNumberScheduled": len(should_run),
            "numberReady": ready_count,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": sum(1 for p in runs if _updated(p, revision, generation)),
        }
        if ready_count:  # available: ready for minReadySeconds (0 here)
            status["numberAvailable"] = ready_count
        if len(should_run) - ready_count:
            status["numberUnavailable"] = len(should_run) - ready_count
        previous = ds.get("status") or {}
        if "collisionCount" in previous:
            status["collisionCount"] = previous["collisionCount"]
        store.write_status(DAEMONSET, ds, status, CONTROLLER_MANAGER)
