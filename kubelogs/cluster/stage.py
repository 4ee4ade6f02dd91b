"""The cluster stage in two steps: plan (reads only) and execute (apply, prune, wait for rollouts)."""

from __future__ import annotations

from collections.abc import Callable

from kubelogs.cluster import credentials, rollout
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.plan import NodeTarget, Plan, make_plan
from kubelogs.manifest_checks import check
from kubelogs.manifests import render_all
from kubelogs.settings import Settings


def plan(kube: Kube, settings: Settings, nodes: list[NodeTarget]) -> Plan:
    """Render and check the objects for these settings and plan applying them; changes nothing."""
    secrets, generated = credentials.existing_or_new(kube, settings)
    objects = render_all(settings, secrets)
    problems = check(objects)
    if problems:
        raise ClusterError("rendered objects are invalid (a kubelogs bug; nothing was applied):\n"
                           + "\n".join(f"- {p}" for p in problems))
    return make_plan(kube, objects[0], objects, nodes, settings.elasticsearch.storage == "hostPath", generated)


def execute(kube: Kube, plan: Plan, rollout_timeout: float, log: Callable[[str], None],
            skip_hosts: frozenset[str] = frozenset()) -> dict[str, int]:
    """Apply the plan's changes; ``skip_hosts`` are nodes whose node stage failed (left unlabelled)."""
    done = {"created": 0, "updated": 0, "pruned": 0, "skipped": 0}
    for step in plan.steps:
        if step.action == "unchanged":
            continue
        if step.host in skip_hosts:
            log(f"skipped   {step.ref}: the node stage failed on {step.host}, so it is not labelled")
            done["skipped"] += 1
            continue
        if step.action == "prune":
            meta = step.manifest["metadata"]
            kube.delete(step.manifest["kind"], meta["name"], meta.get("namespace"))
            done["pruned"] += 1
        else:
            kube.apply(step.manifest)
            done["created" if step.action == "create" else "updated"] += 1
        log(step.describe())
    if plan.searched_parent != plan.final_parent:
        kube.apply(plan.final_parent)  # pruning is done: the parent lists only the kinds still owned
    rollout.wait(kube, plan.workloads, rollout_timeout, log)
    return done
