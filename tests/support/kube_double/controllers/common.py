"""What the controllers share: owner references, pod readiness, node matching, quantities."""

from __future__ import annotations

import copy
import functools
import json
import re

from tests.support.kube_double import podtemplate
from tests.support.kube_double.errors import ApiFailure
from tests.support.kube_double.kinds import BY_KIND
from tests.support.kube_double.selectors import Requirement

CONTROLLER_MANAGER = "kube-controller-manager"
POD = BY_KIND["Pod"]


@functools.lru_cache(maxsize=1024)
def _hash(text: str, collisions: int | None) -> str:
    return podtemplate.compute_hash(json.loads(text), collisions)


def template_hash(template: dict, collisions: int | None) -> str:
    """``controller.ComputeHash`` of a stored template (cached: controllers ask on every pass)."""
    return _hash(json.dumps(template, sort_keys=True), collisions)


@functools.lru_cache(maxsize=1024)
def _revision(text: str, collisions: int) -> str:
    return podtemplate.hash_controller_revision(podtemplate.statefulset_patch(json.loads(text)), collisions)


def statefulset_revision(sts: dict, collisions: int) -> str:
    """The name of a StatefulSet's revision for its current template (cached as above)."""
    return f"{sts['metadata']['name']}-{_revision(json.dumps({'spec': {'template': sts['spec']['template']}}, sort_keys=True), collisions)}"


def owner_ref(owner: dict) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def controlled_by(obj: dict, owner: dict) -> bool:
    return any(r.get("controller") and r.get("uid") == owner["metadata"]["uid"]
               for r in obj["metadata"].get("ownerReferences") or [])


def owned_pods(store, owner: dict) -> list[dict]:
    return [p for p in store.each("Pod", owner["metadata"]["namespace"]) if controlled_by(p, owner)]


def terminating(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def condition(obj: dict, kind: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition(pod, "Ready").get("status") == "True"


def new_pod(owner: dict, template: dict, name: str | None = None, generate: str | None = None) -> dict:
    meta = copy.deepcopy(template.get("metadata") or {})
    meta.pop("creationTimestamp", None)
    meta["namespace"] = owner["metadata"]["namespace"]
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate or owner["metadata"]["name"] + "-"
    meta["ownerReferences"] = [owner_ref(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


def create_pod(store, owner: dict, pod: dict, component: str) -> dict | None:
    """Create a controller's pod; a refusal becomes a FailedCreate event on the owner, as real controllers do."""
    try:
        return store.create(POD, owner["metadata"]["namespace"], pod, CONTROLLER_MANAGER)
    except ApiFailure as e:
        store.event(owner, "Warning", "FailedCreate", f"Error creating: {e.message}", component)
        return None


def delete_pod(store, pod: dict) -> None:
    try:
        store.delete(POD, pod["metadata"]["namespace"], pod["metadata"]["name"],
                     {"preconditions": {"uid": pod["metadata"]["uid"]}})
    except ApiFailure:
        pass  # gone already


_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists", "Gt": ">", "Lt": "<"}


def node_selector_term_matches(term: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    for expr in term.get("matchExpressions") or []:
        if not Requirement(expr["key"], _OPS[expr["operator"]], tuple(expr.get("values") or ())).matches(labels):
            return False
    for expr in term.get("matchFields") or []:
        fields = {"metadata.name": node["metadata"]["name"]}
        if not Requirement(expr["key"], _OPS[expr["operator"]], tuple(expr.get("values") or ())).matches(fields):
            return False
    return bool(term.get("matchExpressions") or term.get("matchFields"))


def node_matches(spec: dict, node: dict) -> bool:
    """The pod's nodeSelector and required node affinity."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms is not None and not any(node_selector_term_matches(t, node) for t in terms):
        return False
    return True


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def untolerated(spec: dict, node: dict) -> list[dict]:
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(spec.get("tolerations") or [], t)]


_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": 0.001}


def quantity(text: str | int | float | None) -> float:
    if text is None:
        return 0.0
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)", str(text).strip())
    if not m or m.group(2) not in _UNITS:
        return 0.0
    return float(m.group(1)) * _UNITS[m.group(2)]
