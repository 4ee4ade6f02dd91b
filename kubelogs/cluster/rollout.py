"""Rollout status with ``kubectl rollout status`` semantics, a bounded wait, and a diagnosis on timeout."""

from __future__ import annotations

import re
from collections.abc import Callable

from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.polling import Poll

MAX_EVENTS = 8
EXAMPLES = 3  # pods named for a problem many share


def status(obj: dict) -> tuple[bool, str]:
    """(done, message) for a StatefulSet, DaemonSet or Deployment, as kubectl's status viewers decide it."""
    spec, st = obj.get("spec", {}), obj.get("status") or {}
    kind, name = obj["kind"], obj["metadata"]["name"]
    on_delete = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "OnDelete"
    if on_delete and kind != "StatefulSet":
        return True, f"{kind} {name}: not a rolling update; nothing to wait for"
    generation, observed = obj["metadata"].get("generation", 0), st.get("observedGeneration", 0)
    if not observed or generation > observed:
        return False, f"{kind} {name}: waiting for the spec update to be observed"
    if on_delete:  # kubelogs restarts outdated pods itself (restarts.py): here every pod only has to be ready
        replicas = spec.get("replicas", 1)
        if st.get("readyReplicas", 0) < replicas or st.get("replicas", 0) > replicas:
            return False, f"{kind} {name}: {st.get('readyReplicas', 0)} of {replicas} pods ready"
        return True, f"{kind} {name}: {replicas} pods ready"
    if kind == "Deployment":
        replicas, updated = spec.get("replicas", 1), st.get("updatedReplicas", 0)
        if updated < replicas:
            return False, f"{kind} {name}: {updated} of {replicas} new replicas updated"
        if st.get("replicas", 0) > updated:
            return False, f"{kind} {name}: {st.get('replicas', 0) - updated} old replicas pending termination"
        if st.get("availableReplicas", 0) < updated:
            return False, f"{kind} {name}: {st.get('availableReplicas', 0)} of {updated} updated replicas available"
        return True, f"{kind} {name}: {replicas} replicas available"
    if kind == "StatefulSet":
        replicas = spec.get("replicas", 1)
        if st.get("readyReplicas", 0) < replicas:
            return False, f"{kind} {name}: {st.get('readyReplicas', 0)} of {replicas} pods ready"
        partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0)
        if partition and st.get("updatedReplicas", 0) < replicas - partition:
            return False, f"{kind} {name}: {st.get('updatedReplicas', 0)} of {replicas - partition} pods updated (partition {partition})"
        if not partition and st.get("updateRevision") != st.get("currentRevision"):
            return False, f"{kind} {name}: rolling update in progress ({st.get('updatedReplicas', 0)} pods at revision {st.get('updateRevision')})"
        return True, f"{kind} {name}: {replicas} pods ready at revision {st.get('currentRevision')}"
    desired = st.get("desiredNumberScheduled", 0)
    if st.get("updatedNumberScheduled", 0) < desired:
        return False, f"{kind} {name}: {st.get('updatedNumberScheduled', 0)} of {desired} pods updated"
    if st.get("numberAvailable", 0) < desired:
        return False, f"{kind} {name}: {st.get('numberAvailable', 0)} of {desired} updated pods available"
    return True, f"{kind} {name}: {desired} pods available" + (" (no node selected)" if not desired else "")


def wait(kube: Kube, workloads: list[tuple[str, str, str]], timeout: float, poll: Poll,
         log: Callable[[str], None]) -> None:
    """Wait until every (kind, namespace, name) is rolled out, logging progress.

    On timeout, raise ClusterError with a diagnosis of each workload still rolling out.
    """
    pending = list(workloads)
    last: dict[tuple[str, str, str], str] = {}

    def all_done() -> bool | None:
        still = []
        for ref in pending:
            kind, ns, name = ref
            obj = kube.get(kind, name, ns)
            if obj is None:
                last[ref] = f"{kind} {name}: not found"
                still.append(ref)
                continue
            done, message = status(obj)
            if done:
                log(message)
            else:
                if last.get(ref) != message:
                    log(message)
                last[ref] = message
                still.append(ref)
        pending[:] = still
        return True if not pending else None

    def timed_out() -> ClusterError:
        diagnosis = "\n".join(diagnose(kube, kind, ns, name, last[(kind, ns, name)]) for kind, ns, name in pending)
        return ClusterError(f"rollout not complete after {timeout:g} s (kubelogs.kubernetes.rollout_timeout):\n"
                            f"{diagnosis}\nThe objects are applied; re-run to wait again once the cause is fixed.")

    poll.until(all_done, timeout, timed_out)


# Lines in a failing container's log that name their cause, and the fix (first match wins per pattern).
KNOWN_CAUSES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"kubelogs: the open-files hard limit here is (\w+)"),
     "the node's open-files hard limit is {0}, below the 65535 Elasticsearch needs: raise the container "
     "runtime's limit (containerd 2.x: LimitNOFILE=1048576 in containerd.service, then restart containerd; "
     "see docs/troubleshooting.md)"),
    (re.compile(r"max file descriptors \[(\d+)\] for elasticsearch process is too low, increase to at least \[(\d+)\]"),
     "Elasticsearch's bootstrap check: open files {0}, it needs {1}: raise the container runtime's limit on the node"),
    (re.compile(r"max virtual memory areas vm.max_map_count \[(\d+)\] is too low, increase to at least \[(\d+)\]"),
     "Elasticsearch's bootstrap check: vm.max_map_count is {0} on the node, it needs {1}: the node stage sets it; "
     "is this node in the inventory?"),
)
_DURATION = re.compile(r"\b(\d+h)?(\d+m)?\d+(\.\d+)?(s|ms)\b")  # as Go prints one: 10s, 1m20s, 5m0s
# Problems worth reading a container's log for: it ran and stopped.
_CRASHED = ("CrashLoopBackOff", "Error", "terminated", "restarts: ")


def known_causes(log: str) -> list[str]:
    """What ``KNOWN_CAUSES`` finds in a container's log."""
    found = []
    for pattern, text in KNOWN_CAUSES:
        match = pattern.search(log)
        if match:
            found.append(text.format(*match.groups()))
    return found


def diagnose(kube: Kube, kind: str, namespace: str, name: str, state: str) -> str:
    """Which pods are not ready and why, and the namespace's recent warnings about them."""
    lines = [f"- {state}"]
    obj = kube.get(kind, name, namespace) or {}
    match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = label_selector(match)
    pods = kube.list("Pod", namespace, selector) if selector else []
    names = {name} | {p["metadata"]["name"] for p in pods}
    # Pods with the same problem are one line (a DaemonSet on 300 nodes failing for one reason is one
    # reason), with its count and a few of them. The same problem: the same words once numbers and the pod's
    # own name and uid are set aside (the kubelet's back-off message names the pod and a growing delay).
    by_problem: dict[str, list[tuple[str, str]]] = {}
    for pod in pods:
        problem = pod_problem(pod)
        if problem:
            meta = pod["metadata"]
            where = f"{meta['name']} on {pod.get('spec', {}).get('nodeName') or '(no node)'}"
            key = problem.replace(meta["name"], "<pod>").replace(meta.get("uid") or "\0", "<uid>")
            key = re.sub(r"\d+", "#", _DURATION.sub("<duration>", key))
            by_problem.setdefault(key, []).append((where, problem))
    for group in by_problem.values():
        where, problem = [w for w, _ in group], group[0][1]
        if len(where) == 1:
            lines.append(f"    pod {where[0]}: {problem}")
        else:
            more = f" and {len(where) - EXAMPLES} more" if len(where) > EXAMPLES else ""
            words = "" if all(p == problem for _, p in group) else f" (words of pod {where[0].split(' on ')[0]})"
            lines.append(f"    {len(where)} pods: {problem}{words} (pods {', '.join(where[:EXAMPLES])}{more})")
        if any(word in problem for word in _CRASHED):  # one log per reason: its last run's words
            pod_name = where[0].split(" on ", 1)[0]
            try:
                log = kube.pod_log(pod_name, namespace, previous=True)
            except ClusterError:
                log = ""
            lines += [f"      cause: {cause}" for cause in known_causes(log)]
    if obj and not pods:
        lines.append("    no pods exist for it yet")
    events = [e for e in kube.list("Event", namespace)
              if (e.get("involvedObject") or {}).get("name") in names and e.get("type") != "Normal"]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    for e in events[-MAX_EVENTS:]:
        lines.append(f"    event {e['involvedObject'].get('kind', '')}/{e['involvedObject']['name']}: "
                     f"{e.get('reason', '')}: {e.get('message', '')}")
    return "\n".join(lines)


def pod_problem(pod: dict) -> str:
    """The reason a pod is not ready, in the words kubectl shows (empty when it is ready)."""
    st = pod.get("status") or {}
    for condition in st.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"not scheduled: {condition.get('reason', '')}: {condition.get('message', '')}"
    for container in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        state = container.get("state") or {}
        for key in ("waiting", "terminated"):
            if key in state and state[key].get("reason") not in (None, "Completed"):
                detail = state[key].get("message", "")
                return f"container {container['name']} {key}: {state[key]['reason']}" + (f": {detail}" if detail else "")
        if not container.get("ready"):
            return f"container {container['name']} not ready (restarts: {container.get('restartCount', 0)})"
    if st.get("phase") not in ("Running", "Succeeded"):
        return f"phase {st.get('phase', 'Unknown')}"
    return ""
