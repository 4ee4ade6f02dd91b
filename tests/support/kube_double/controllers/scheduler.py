"""The default scheduler's filters for what our manifests use: taints, nodeSelector and required node
affinity, required pod (anti-)affinity, resource requests, host ports, and claims that must be bound.
A pod that fits nowhere gets PodScheduled=False/Unschedulable and a FailedScheduling event in the
scheduler's words; one that fits is bound to the least busy feasible node."""

from __future__ import annotations

import copy
from collections import Counter

from tests.support.kube_double.controllers.common import (node_matches, quantity, terminating, untolerated)
from tests.support.kube_double.errors import ApiFailure
from tests.support.kube_double.kinds import BY_KIND
from tests.support.kube_double.selectors import match_label_selector
from tests.support.kube_double.store import now

SCHEDULER = "kube-scheduler"
POD = BY_KIND["Pod"]


def _requests(pod: dict) -> dict[str, float]:
    total = {"cpu": 0.0, "memory": 0.0}
    for c in pod["spec"].get("containers") or []:
        resources = c.get("resources") or {}
        wanted = resources.get("requests") or resources.get("limits") or {}
        for key in total:
            total[key] += quantity(wanted.get(key))
    return total


def _affinity_terms(pod: dict, kind: str) -> list[dict]:
    return ((pod["spec"].get("affinity") or {}).get(kind) or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []


def _term_selects(term: dict, owner_ns: str, other: dict) -> bool:
    namespaces = term.get("namespaces") or [owner_ns]
    return other["metadata"]["namespace"] in namespaces and \
        match_label_selector(term.get("labelSelector"), other["metadata"].get("labels"))


def _selected(pod: dict, kind: str, bound: list[dict]) -> list[tuple[dict, list[dict]]]:
    """Each required (anti-)affinity term of ``pod`` with the bound pods it selects: the same on every node."""
    return [(term, [p for p in bound if _term_selects(term, pod["metadata"]["namespace"], p)])
            for term in _affinity_terms(pod, kind)]


def _same_topology(nodes: dict[str, dict], a: str, b: str, key: str) -> bool:
    la = (nodes.get(a) or {}).get("metadata", {}).get("labels") or {}
    lb = (nodes.get(b) or {}).get("metadata", {}).get("labels") or {}
    return key in la and la.get(key) == lb.get(key)


def _first_reason(pod: dict, node: dict, nodes: dict[str, dict], here: list[dict], repelling: list[dict],
                  anti: list[tuple[dict, list[dict]]], affinity: list[tuple[dict, list[dict]]]) -> str | None:
    """The first filter ``node`` fails for ``pod`` (the one the scheduler reports), or None where it fits. The
    cheap filters come first, as the scheduler's order has them: a DaemonSet pod pinned to one node leaves the
    other nodes at node affinity, before any look at the pods bound there (``here``: those on ``node``;
    ``repelling``: the bound pods with a required anti-affinity, the only ones that can refuse a newcomer;
    ``anti``, ``affinity``: the pod's own terms with the bound pods they select, see ``_selected``)."""
    spec, name = pod["spec"], node["metadata"]["name"]
    if (node.get("spec") or {}).get("unschedulable") and not any(
            t.get("key") == "node.kubernetes.io/unschedulable" or (t.get("operator") == "Exists" and not t.get("key"))
            for t in spec.get("tolerations") or []):
        return "node(s) were unschedulable"
    taints = untolerated(spec, node)
    if taints:
        t = taints[0]
        return f"node(s) had untolerated taint {{{t['key']}: {t.get('value', '')}}}"
    if not node_matches(spec, node):
        return "node(s) didn't match Pod's node affinity/selector"
    for term, selected in anti:
        if any(_same_topology(nodes, p["spec"]["nodeName"], name, term["topologyKey"]) for p in selected):
            return "node(s) didn't match pod anti-affinity rules"
    for other in repelling:  # the anti-affinity of pods already there, towards this one
        if any(_term_selects(term, other["metadata"]["namespace"], pod) and
               _same_topology(nodes, other["spec"]["nodeName"], name, term["topologyKey"])
               for term in _affinity_terms(other, "podAntiAffinity")):
            return "node(s) didn't satisfy existing pods anti-affinity rules"
    for term, selected in affinity:
        if not any(_same_topology(nodes, p["spec"]["nodeName"], name, term["topologyKey"]) for p in selected):
            return "node(s) didn't match pod affinity rules"
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    wanted = _requests(pod)
    for resource in ("cpu", "memory"):
        used = sum(_requests(p)[resource] for p in here)
        if wanted[resource] and used + wanted[resource] > quantity(allocatable.get(resource)):
            return f"Insufficient {resource}"
    if allocatable.get("pods") and len(here) + 1 > quantity(allocatable["pods"]):
        return "Too many pods"
    ports = {(p.get("hostPort"), p.get("protocol", "TCP")) for c in spec.get("containers") or []
             for p in c.get("ports") or [] if p.get("hostPort")}
    taken = {(p.get("hostPort"), p.get("protocol", "TCP")) for other in here for c in other["spec"].get("containers") or []
             for p in c.get("ports") or [] if p.get("hostPort")}
    if ports & taken:
        return "node(s) didn't have free ports for the requested pod ports"
    return None


def _claims_problem(store, pod: dict) -> str | None:
    for volume in pod["spec"].get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if not claim:
            continue
        pvc = store.peek("PersistentVolumeClaim", pod["metadata"]["namespace"], claim)
        if pvc is None:
            return f'persistentvolumeclaim "{claim}" not found'
        if (pvc.get("status") or {}).get("phase") != "Bound":
            return "pod has unbound immediate PersistentVolumeClaims"
    return None


def reconcile(store) -> None:
    nodes = {n["metadata"]["name"]: n for n in store.each("Node")}
    bound = [p for p in store.each("Pod") if p["spec"].get("nodeName")
             and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    # Indexed once a pass: with 1,000 nodes and their pods, scanning every bound pod for every node and every
    # pending pod kept the scheduler (and the store's lock) busy for minutes.
    by_node: dict[str, list[dict]] = {}
    for p in bound:
        by_node.setdefault(p["spec"]["nodeName"], []).append(p)
    repelling = [p for p in bound if _affinity_terms(p, "podAntiAffinity")]
    for pod in store.each("Pod"):
        spec = pod["spec"]
        if spec.get("nodeName") or terminating(pod) or spec.get("schedulerName", "default-scheduler") != "default-scheduler":
            continue
        problem = _claims_problem(store, pod)
        feasible, reasons = [], Counter()
        if problem is None:
            anti, affinity = _selected(pod, "podAntiAffinity", bound), _selected(pod, "podAffinity", bound)
            for name, node in sorted(nodes.items()):
                found = _first_reason(pod, node, nodes, by_node.get(name, []), repelling, anti, affinity)
                if found:
                    reasons[found] += 1  # the scheduler reports the first filter a node fails
                else:
                    feasible.append(name)
        if not feasible:
            total = len(nodes)
            if problem:
                detail = f"0/{total} nodes are available: {problem}. preemption: 0/{total} nodes are available: " \
                         f"{total} Preemption is not helpful for scheduling."
            elif not total:
                detail = "no nodes available to schedule pods"
            else:
                parts = sorted(f"{n} {r}" for r, n in reasons.items())
                detail = f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are " \
                         f"available: {total} Preemption is not helpful for scheduling."
            _unschedulable(store, pod, detail)
            continue
        target = min(feasible, key=lambda n: (len(by_node.get(n, [])), n))  # the least busy
        _bind(store, pod, target)
        placed = {**pod, "spec": {**spec, "nodeName": target}}
        bound.append(placed)
        by_node.setdefault(target, []).append(placed)
        if _affinity_terms(placed, "podAntiAffinity"):
            repelling.append(placed)


def _unschedulable(store, pod: dict, message: str) -> None:
    status = copy.deepcopy(pod.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    before = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
    if before.get("status") == "False" and before.get("message") == message:
        return
    conditions.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": now(),
                       "reason": "Unschedulable", "message": message})
    status["conditions"] = conditions
    store.write_status(POD, pod, status, SCHEDULER)
    store.event(pod, "Warning", "FailedScheduling", message, "default-scheduler", action="Scheduling")


def _bind(store, pod: dict, node: str) -> None:
    bound = copy.deepcopy(pod)
    bound["spec"]["nodeName"] = node
    try:
        written = store.write(POD, bound, SCHEDULER)
    except ApiFailure:
        return
    if written is None:
        return
    status = copy.deepcopy(written.get("status") or {})
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"] + [
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now()}]
    store.write_status(POD, written, status, SCHEDULER)
    store.event(written, "Normal", "Scheduled",
                f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {node}",
                "default-scheduler", action="Binding")
