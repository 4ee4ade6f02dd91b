"""The cluster stage in two steps: plan (reads only) and execute (apply, prune, wait for rollouts)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from kubelogs import compatibility as compat
from kubelogs.cluster import credentials, es_tasks, restarts, rollout
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.es_plan import (
    APPLIED_ANNOTATION,
    APPLIED_FIELD_MANAGER,
    plan_elasticsearch,
    record_pending,
    send_task,
)
from kubelogs.cluster.plan import NodeTarget, Plan, make_plan
from kubelogs.manifests.checks import check
from kubelogs.manifests import render_all
from kubelogs.manifests.common import config_hash
from kubelogs.manifests.elasticsearch import CONFIG_MAP, initial_masters_of
from kubelogs.settings import Settings

LAST_ROLLOUTS = ("Deployment",)  # waited for after the Elasticsearch calls (Kibana)
USERS_OF_CREDENTIALS = ("DaemonSet", "Deployment")  # the agents and Kibana: applied once their users exist


def plan(kube: Kube, settings: Settings, nodes: list[NodeTarget]) -> Plan:
    """Render and check the objects for these settings and plan applying them; changes nothing."""
    uncovered = uncovered_nodes(settings, nodes)
    if uncovered:
        raise ClusterError(uncovered)
    secrets, generated = credentials.existing_or_new(kube, settings)
    # An existing cluster keeps the bootstrap list it formed with (see elasticsearch_yml).
    objects = render_all(settings, secrets, initial_masters_of(kube.get("ConfigMap", CONFIG_MAP, settings.namespace)))
    problems = check(objects)
    if problems:
        raise ClusterError("rendered objects are invalid (a kubelogs bug; nothing was applied):\n"
                           + "\n".join(f"- {p}" for p in problems))
    result = make_plan(kube, objects, nodes, settings.elasticsearch.storage == "hostPath", generated)
    result.elasticsearch = plan_elasticsearch(kube, settings, result.steps)
    eol = compat.end_of_life_warning(settings.elasticsearch.version, datetime.date.today().isoformat())
    result.warnings += [eol] if eol else []
    return result


def uncovered_nodes(settings: Settings, nodes: list[NodeTarget]) -> str:
    """Why some nodes of a known runtime would have no log agent with these settings ('' if none)."""
    collector, es = settings.agents.collector, settings.elasticsearch
    missing = [f"{n.node} ({n.runtime})" for n in nodes
               if n.runtime in compat.RUNTIMES and compat.agent_for_node(collector, n.runtime, es.major) is None]
    if not missing:
        return ""
    rules = "; ".join(f"{a.name} reads {'/'.join(a.runtimes)} nodes and writes to Elasticsearch "
                      f"{'/'.join(f'{m}.x' for m in a.es_majors)}" for a in compat.AGENTS.values())
    return (f"with kubelogs.agents.collector {collector!r} and Elasticsearch {es.version}, no log agent can "
            f"collect on: {', '.join(missing)} ({rules}). Choose another collector or Elasticsearch version; "
            "nothing was applied.")


def execute(kube: Kube, plan: Plan, settings: Settings, log: Callable[[str], None],
            skip_hosts: frozenset[str] = frozenset()) -> dict[str, int]:
    """Apply the plan's changes; ``skip_hosts`` are nodes whose node stage failed (left unlabelled).
    Then wait for the rollouts, restart outdated Elasticsearch pods one at a time and make the
    Elasticsearch calls the plan lists.

    When no Elasticsearch pod restarts in this run, the users and the index template are sent before the
    agents and Kibana are applied: they log in as those users, and their first lines make indices from the
    template. When pods restart (a new version, security turned on or off), they are sent after the
    restarts, in the form the restarted pods take."""
    done = {"created": 0, "updated": 0, "pruned": 0, "skipped": 0, "restarted": 0}
    work, ns, timeout = plan.elasticsearch, settings.namespace, settings.kubernetes.rollout_timeout
    interval = settings.kubernetes.poll_interval
    followups = list(work.after)
    if followups:  # the StatefulSet exists (follow-ups come from a live one): record them before they are due
        record_pending(kube, ns, followups)
    for task in work.before:
        es_tasks.run(kube, settings, task, log)
    early = work.send if work.send_early else []
    applies, prunes = [s for s in plan.steps if s.action != "prune"], [s for s in plan.steps if s.action == "prune"]
    later = [s for s in applies if early and s.manifest["kind"] in USERS_OF_CREDENTIALS]
    _apply(kube, [s for s in applies if s not in later], skip_hosts, log, done)
    if early:
        try:
            rollout.wait(kube, [w for w in plan.workloads if w[0] == "StatefulSet"], timeout, interval, log)
        except ClusterError as e:
            raise ClusterError(f"{e}\nThe log agents and Kibana are applied once Elasticsearch is up and their "
                               "users exist (the next run).") from None
        _send(kube, plan, settings, early, log)
    _apply(kube, later + prunes, skip_hosts, log, done)
    if plan.searched_parent != plan.final_parent:
        kube.apply(plan.final_parent)  # pruning is done: the parent lists only the kinds still owned
    # Kibana last: it is ready only once its password is set and every Elasticsearch node runs its version.
    last = [w for w in plan.workloads if w[0] in LAST_ROLLOUTS]
    rollout.wait(kube, [w for w in plan.workloads if w not in last], timeout, interval, log)
    recorded = bool(followups)

    def before_limiting(undo: es_tasks.Task) -> None:
        nonlocal recorded
        record_pending(kube, ns, [*followups, undo])
        recorded = True

    done["restarted"] = restarts.restart_outdated(kube, settings, log, before_limiting)
    for task in followups:
        es_tasks.run(kube, settings, task, log)
    if recorded:
        record_pending(kube, ns, [])
    _send(kube, plan, settings, [name for name in work.send if name not in early], log)
    rollout.wait(kube, last, timeout, interval, log)
    return done


def _apply(kube: Kube, steps: list, skip_hosts: frozenset[str], log: Callable[[str], None], done: dict[str, int]) -> None:
    for step in steps:
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


def _send(kube: Kube, plan: Plan, settings: Settings, names: list[str], log: Callable[[str], None]) -> None:
    """Send these requests ConfigMaps to Elasticsearch, each then marked as sent."""
    for name in names:
        es_tasks.run(kube, settings, send_task(name), log)
        sent = next(s.manifest for s in plan.steps if s.manifest["kind"] == "ConfigMap"
                    and s.manifest["metadata"]["name"] == name)
        kube.merge_patch("ConfigMap", name, settings.namespace,
                         {"metadata": {"annotations": {APPLIED_ANNOTATION: config_hash(sent["data"])}}},
                         APPLIED_FIELD_MANAGER)
