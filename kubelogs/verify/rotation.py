"""Which nodes get a canary this run: all of them up to ``verify.canary_nodes``; above, the next that many by
name after the last node the previous run canaried, wrapping around, so successive runs cover every node
(within ceil(nodes / canary_nodes) runs; a node added meanwhile is reached when the rotation passes its name).

The cursor (that last node's name) is an annotation on the verify pods' NetworkPolicy, an object kubelogs
owns and applies in every deploy. It is written by a merge patch under a field manager of its own:
server-side apply leaves it alone, and the cluster stage's no-op check ignores that manager's writes
(plan._OWN_PATCHERS), so a run of verify never makes the next plan see a change.
"""

from __future__ import annotations

import bisect

from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.manifests.network_policies import VERIFY_POLICY

CURSOR_ANNOTATION = "kubelogs.io/verify-canaried-through"
FIELD_MANAGER = "kubelogs-verify"


def sample(nodes: list[str], size: int, after: str) -> list[str]:
    """``size`` of ``nodes`` (all if there are no more), starting with the first name after ``after``."""
    ordered = sorted(nodes)
    if len(ordered) <= size:
        return ordered
    start = bisect.bisect_right(ordered, after) % len(ordered)
    return [ordered[(start + i) % len(ordered)] for i in range(size)]


def read_cursor(kube: Kube, namespace: str) -> str:
    """The last node the previous run canaried ("" before the first run, or where the policy is missing)."""
    policy = kube.get("NetworkPolicy", VERIFY_POLICY, namespace) or {}
    return ((policy.get("metadata") or {}).get("annotations") or {}).get(CURSOR_ANNOTATION, "")


def save_cursor(kube: Kube, namespace: str, last: str) -> str:
    """Record ``last`` for the next run; a note if it could not be (the next run starts over), else ""."""
    try:
        kube.merge_patch("NetworkPolicy", VERIFY_POLICY, namespace,
                         {"metadata": {"annotations": {CURSOR_ANNOTATION: last}}}, FIELD_MANAGER)
    except ClusterError as e:
        return (f"the canary rotation could not be recorded on NetworkPolicy {VERIFY_POLICY} "
                f"({str(e).splitlines()[0][:200]}): the next run starts again from the first node")
    return ""
