"""Carry out a cluster plan: apply in order, prune, record the ApplySet, wait for the rollouts."""

from __future__ import annotations

from collections.abc import Callable

from kubelogs.cluster import rollout
from kubelogs.cluster.api import Kube
from kubelogs.cluster.plan import Plan


def execute(kube: Kube, plan: Plan, rollout_timeout: float, log: Callable[[str], None],
            skip_hosts: frozenset[str] = frozenset()) -> dict[str, int]:
    """Apply the plan's changes; ``skip_hosts`` are nodes whose node stage failed (left unlabelled)."""
    done = {"created": 0, "updated": 0, "pruned": 0, "skipped": 0}
    applied_parent = None
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
            if step.manifest["metadata"]["name"] == plan.final_parent["metadata"]["name"] and step.manifest["kind"] == "Secret":
                applied_parent = step.manifest
        log(step.describe())
    if applied_parent is not None and applied_parent != plan.final_parent:
        kube.apply(plan.final_parent)  # pruning is done: the parent lists only the kinds still owned
    rollout.wait(kube, plan.workloads, rollout_timeout, log)
    return done
