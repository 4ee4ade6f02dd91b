"""The StatefulSet controller: pods ``<name>-<ordinal>`` with stable hostnames and claims from the
volume-claim templates; Parallel or OrderedReady creation and deletion; RollingUpdate that replaces the
highest outdated ordinal once everything is ready; OnDelete that recreates a deleted pod at the update
revision; revisions named ``<name>-<hash of the template patch>``, and status as the controller writes it
(currentRevision moves only when a rolling update completes). Pods its selector matches that no controller
owns (left by a StatefulSet deleted with ``--cascade=orphan``) are adopted, as the real controller's
``ClaimPods`` does; an adopted pod keeps its revision label, so OnDelete leaves it outdated."""

from __future__ import annotations

import copy

from tests.support.kube_double.controllers.common import (
    CONTROLLER_MANAGER,
    create_pod,
    delete_pod,
    new_pod,
    owned_pods,
    owner_ref,
    ready,
    statefulset_revision,
    terminating,
)
from tests.support.kube_double.errors import ApiFailure
from tests.support.kube_double.kinds import BY_KIND
from tests.support.kube_double.selectors import match_label_selector

STATEFULSET = BY_KIND["StatefulSet"]
POD = BY_KIND["Pod"]
CLAIM = BY_KIND["PersistentVolumeClaim"]
COMPONENT = "statefulset-controller"


def _ordinal(pod: dict, name: str) -> int | None:
    suffix = pod["metadata"]["name"][len(name) + 1:]
    return int(suffix) if pod["metadata"]["name"].startswith(name + "-") and suffix.isdigit() else None


def _revision(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get("controller-revision-hash", "")


def reconcile(store) -> None:
    for sts in store.each("StatefulSet"):
        if not terminating(sts):
            _sync(store, sts)


def _sync(store, sts: dict) -> None:
    name, spec = sts["metadata"]["name"], sts["spec"]
    status = sts.get("status") or {}
    collisions = status.get("collisionCount") or 0  # the controller always hashes with a count, 0 at first
    update_revision = statefulset_revision(sts, collisions)
    current_revision = status.get("currentRevision") or update_revision
    replicas = spec.get("replicas", 1)
    _adopt_orphans(store, sts)
    pods = {}
    for pod in owned_pods(store, sts):
        ordinal = _ordinal(pod, name)
        if ordinal is not None:
            pods[ordinal] = pod
    parallel = spec.get("podManagementPolicy") == "Parallel"
    # Failed pods are replaced.
    for ordinal, pod in list(pods.items()):
        if (pod.get("status") or {}).get("phase") == "Failed" and not terminating(pod):
            delete_pod(store, pod)
    # Create the missing ordinals (all at once, or in order once the lower ones are ready).
    for ordinal in range(replicas):
        if ordinal in pods:
            if not parallel and not (ready(pods[ordinal]) and not terminating(pods[ordinal])):
                break
            continue
        revision = current_revision if _outdated_allowed(spec, ordinal, replicas) else update_revision
        created = _create(store, sts, ordinal, revision)
        if created is None or not parallel:
            break
    # Remove ordinals beyond replicas (highest first; one at a time unless Parallel).
    for ordinal in sorted((o for o in pods if o >= replicas), reverse=True):
        if not terminating(pods[ordinal]):
            delete_pod(store, pods[ordinal])
        if not parallel:
            break
    # RollingUpdate: replace the highest outdated ordinal at or above the partition, once all are ready.
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        live = [pods[o] for o in range(replicas) if o in pods]
        if len(live) == replicas and all(ready(p) and not terminating(p) for p in live):
            for ordinal in range(replicas - 1, partition - 1, -1):
                if _revision(pods[ordinal]) != update_revision:
                    delete_pod(store, pods[ordinal])
                    break
    _status(store, sts, update_revision, current_revision)


def _adopt_orphans(store, sts: dict) -> None:
    for pod in list(store.each("Pod", sts["metadata"]["namespace"])):
        refs = pod["metadata"].get("ownerReferences") or []
        if terminating(pod) or any(r.get("controller") for r in refs) \
                or not match_label_selector(sts["spec"].get("selector"), pod["metadata"].get("labels")):
            continue
        adopted = copy.deepcopy(pod)
        adopted["metadata"]["ownerReferences"] = [*refs, owner_ref(sts)]
        store.write(POD, adopted, CONTROLLER_MANAGER)


def _outdated_allowed(spec: dict, ordinal: int, replicas: int) -> bool:
    """A recreated pod below a RollingUpdate partition keeps the current revision."""
    strategy = spec.get("updateStrategy") or {}
    partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
    return strategy.get("type", "RollingUpdate") == "RollingUpdate" and ordinal < partition


def _create(store, sts: dict, ordinal: int, revision: str) -> dict | None:
    name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
    pod_name = f"{name}-{ordinal}"
    pod = new_pod(sts, sts["spec"]["template"], name=pod_name)
    pod["metadata"].setdefault("labels", {}).update({
        "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name,
        "apps.kubernetes.io/pod-index": str(ordinal)})
    pod["spec"]["hostname"] = pod_name
    if sts["spec"].get("serviceName"):
        pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    for template in sts["spec"].get("volumeClaimTemplates") or []:
        claim_name = f"{template['metadata']['name']}-{pod_name}"
        if store.peek("PersistentVolumeClaim", ns, claim_name) is None:
            claim = {"metadata": {"name": claim_name, "labels": dict(sts["spec"]["selector"].get("matchLabels") or {})},
                     "spec": copy.deepcopy(template.get("spec") or {})}
            try:
                store.create(CLAIM, ns, claim, CONTROLLER_MANAGER)
            except ApiFailure as e:
                store.event(sts, "Warning", "FailedCreate", f"create Claim {claim_name} for Pod {pod_name} in "
                            f"StatefulSet {name} failed error: {e.message}", COMPONENT)
                return None
        volumes = [v for v in pod["spec"].get("volumes") or [] if v.get("name") != template["metadata"]["name"]]
        volumes.append({"name": template["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}})
        pod["spec"]["volumes"] = volumes
    return create_pod(store, sts, pod, COMPONENT)


def _status(store, sts: dict, update_revision: str, current_revision: str) -> None:
    pods = [p for p in owned_pods(store, sts) if _ordinal(p, sts["metadata"]["name"]) is not None]
    status: dict = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods)}
    ready_count = sum(1 for p in pods if ready(p))
    current = sum(1 for p in pods if not terminating(p) and _revision(p) == current_revision)
    updated = sum(1 for p in pods if not terminating(p) and _revision(p) == update_revision)
    strategy = sts["spec"].get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and updated == len(pods) and ready_count == len(pods):
        current, current_revision = updated, update_revision
    if ready_count:
        status["readyReplicas"] = ready_count
    if current:
        status["currentReplicas"] = current
    if updated:
        status["updatedReplicas"] = updated
    status["currentRevision"] = current_revision
    status["updateRevision"] = update_revision
    status["collisionCount"] = (sts.get("status") or {}).get("collisionCount", 0)
    status["availableReplicas"] = ready_count
    store.write_status(STATEFULSET, sts, status, CONTROLLER_MANAGER)
