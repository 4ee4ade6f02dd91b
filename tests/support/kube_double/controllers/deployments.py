"""Deployments and ReplicaSets: a ReplicaSet per template (``<name>-<pod-template-hash>``), scaled by the
strategy (Recreate: the old ones to zero first; RollingUpdate within maxSurge/maxUnavailable), and a
ReplicaSet controller that keeps each one's pods at its replica count."""

from __future__ import annotations

import copy
import math

from tests.support.kube_double.controllers.common import (CONTROLLER_MANAGER, controlled_by, create_pod, delete_pod,
                                                          new_pod, owned_pods, owner_ref, ready, template_hash,
                                                          terminating)
from tests.support.kube_double.errors import ApiFailure
from tests.support.kube_double.kinds import BY_KIND
from tests.support.kube_double.store import now

DEPLOYMENT, REPLICASET = BY_KIND["Deployment"], BY_KIND["ReplicaSet"]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def _resolve(value: int | str, replicas: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def reconcile_deployments(store) -> None:
    for deployment in store.each("Deployment"):
        if not terminating(deployment):
            _sync(store, deployment)


def _sync(store, d: dict) -> None:
    ns, spec = d["metadata"]["namespace"], d["spec"]
    collisions = (d.get("status") or {}).get("collisionCount")
    pod_template_hash = template_hash(spec["template"], collisions)
    sets = [rs for rs in store.each("ReplicaSet", ns) if controlled_by(rs, d)]
    new = next((rs for rs in sets if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_template_hash), None)
    old = [rs for rs in sets if rs is not new]
    revisions = [int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in sets]
    replicas = spec.get("replicas", 1)
    recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
    if new is None:
        revision = str(max(revisions, default=0) + 1)
        labels = {**(spec["template"].get("metadata") or {}).get("labels", {}), HASH_LABEL: pod_template_hash}
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_template_hash
        start = 0 if recreate and any(rs["spec"].get("replicas") for rs in old) else (
            replicas if not old else min(replicas, _surge(spec, replicas)))
        body = {"metadata": {"name": f"{d['metadata']['name']}-{pod_template_hash}", "labels": labels,
                             "annotations": {REVISION: revision, "deployment.kubernetes.io/desired-replicas": str(replicas),
                                             "deployment.kubernetes.io/max-replicas": str(replicas + _surge(spec, replicas))},
                             "ownerReferences": [owner_ref(d)]},
                "spec": {"replicas": start, "selector": selector, "template": template,
                         "minReadySeconds": spec.get("minReadySeconds", 0)}}
        if not body["spec"]["minReadySeconds"]:
            del body["spec"]["minReadySeconds"]
        try:
            new = store.create(REPLICASET, ns, body, CONTROLLER_MANAGER)
        except ApiFailure as e:
            store.event(d, "Warning", "FailedCreate", str(e), "deployment-controller")
            return
        store.event(d, "Normal", "ScalingReplicaSet",
                    f"Scaled up replica set {new['metadata']['name']} from 0 to {start}", "deployment-controller")
        new = store.peek("ReplicaSet", ns, new["metadata"]["name"])
    if recreate:
        for rs in old:
            _scale(store, rs, 0)
        if not any(owned_pods(store, rs) for rs in old):
            _scale(store, new, replicas)
    else:
        old_total = sum(rs["spec"].get("replicas", 0) for rs in old)
        max_total = replicas + _surge(spec, replicas)
        wanted_new = min(replicas, max(new["spec"].get("replicas", 0), max_total - old_total))
        if wanted_new != new["spec"].get("replicas"):
            _scale(store, new, wanted_new)
        new_available = (new.get("status") or {}).get("availableReplicas", 0)
        min_available = replicas - _unavailable(spec, replicas)
        all_pods = old_total + new["spec"].get("replicas", 0)
        can_remove = all_pods - min_available - (new["spec"].get("replicas", 0) - new_available)
        for rs in sorted(old, key=lambda r: r["metadata"]["creationTimestamp"]):
            current = rs["spec"].get("replicas", 0)
            if current and can_remove > 0:
                step = min(current, can_remove)
                _scale(store, rs, current - step)
                can_remove -= step
    _status(store, d, new, old)


def _surge(spec: dict, replicas: int) -> int:
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    return _resolve(rolling.get("maxSurge", "25%"), replicas, True) if rolling else 0


def _unavailable(spec: dict, replicas: int) -> int:
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    if not rolling:
        return replicas
    value = _resolve(rolling.get("maxUnavailable", "25%"), replicas, False)
    return 1 if value == 0 and _surge(spec, replicas) == 0 else value


def _scale(store, rs: dict, replicas: int) -> None:
    live = store.peek("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"])
    if live is None or live["spec"].get("replicas") == replicas:
        return
    updated = copy.deepcopy(live)
    updated["spec"]["replicas"] = replicas
    store.write(REPLICASET, updated, CONTROLLER_MANAGER)


def _status(store, d: dict, new: dict, old: list[dict]) -> None:
    sets = [store.peek("ReplicaSet", d["metadata"]["namespace"], rs["metadata"]["name"]) for rs in [new, *old]]
    sets = [rs for rs in sets if rs]
    total = {key: sum((rs.get("status") or {}).get(key, 0) for rs in sets)
             for key in ("replicas", "readyReplicas", "availableReplicas")}
    updated = ((store.peek("ReplicaSet", d["metadata"]["namespace"], new["metadata"]["name"]) or {}).get("status")
               or {}).get("replicas", 0)
    replicas = d["spec"].get("replicas", 1)
    status: dict = {"observedGeneration": d["metadata"].get("generation", 1)}
    for key, value in (("replicas", total["replicas"]), ("updatedReplicas", updated),
                       ("readyReplicas", total["readyReplicas"]), ("availableReplicas", total["availableReplicas"]),
                       ("unavailableReplicas", max(0, total["replicas"] - total["availableReplicas"]))):
        if value:
            status[key] = value
    previous = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}
    minimum = replicas - _unavailable(d["spec"], replicas)
    available = total["availableReplicas"] >= minimum
    complete = updated == replicas and total["replicas"] == replicas and total["availableReplicas"] >= replicas
    wanted = {
        "Available": ("True" if available else "False",
                      "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                      "Deployment has minimum availability." if available else
                      "Deployment does not have minimum availability."),
        "Progressing": ("True", "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                        f'ReplicaSet "{new["metadata"]["name"]}" '
                        + ("has successfully progressed." if complete else "is progressing.")),
    }
    conditions = []
    for kind, (state, reason, message) in wanted.items():
        before = previous.get(kind, {})
        changed = before.get("status") != state
        stamp = now() if changed or not before else before.get("lastTransitionTime")
        update = now() if changed or before.get("reason") != reason else before.get("lastUpdateTime")
        conditions.append({"type": kind, "status": state, "lastUpdateTime": update, "lastTransitionTime": stamp,
                           "reason": reason, "message": message})
    status["conditions"] = conditions
    if (d.get("status") or {}).get("collisionCount") is not None:
        status["collisionCount"] = d["status"]["collisionCount"]
    # The revision annotation goes with the status (UpdateStatus), so it does not move the generation.
    annotations = dict(d["metadata"].get("annotations") or {})
    revision = (new["metadata"].get("annotations") or {}).get(REVISION)
    if revision:
        annotations[REVISION] = revision
    store.write_status(DEPLOYMENT, d, status, CONTROLLER_MANAGER, annotations=annotations)


def reconcile_replicasets(store) -> None:
    for rs in store.each("ReplicaSet"):
        if terminating(rs):
            continue
        pods = [p for p in owned_pods(store, rs) if not terminating(p)
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        wanted = rs["spec"].get("replicas", 1)
        if len(pods) < wanted:
            for _ in range(wanted - len(pods)):
                if create_pod(store, rs, new_pod(rs, rs["spec"]["template"]), "replicaset-controller") is None:
                    break
        elif len(pods) > wanted:
            # Unscheduled first, then not ready, then the newest: as the controller ranks them.
            ranked = sorted(pods, key=lambda p: (bool(p["spec"].get("nodeName")), ready(p),
                                                 p["metadata"]["creationTimestamp"]), reverse=False)
            for pod in ranked[:len(pods) - wanted]:
                delete_pod(store, pod)
        pods = [p for p in owned_pods(store, rs) if not terminating(p)]
        ready_count = sum(1 for p in pods if ready(p))
        status: dict = {"replicas": len(pods), "observedGeneration": rs["metadata"].get("generation", 1)}
        if pods:
            status["fullyLabeledReplicas"] = len(pods)
        if ready_count:
            status["readyReplicas"] = ready_count
            status["availableReplicas"] = ready_count
        store.write_status(REPLICASET, rs, status, CONTROLLER_MANAGER)
