"""The cluster stage in two steps: ``plan`` reads the cluster and returns what a run would do, as an ordered
list of named phases (``phases.py``); ``execute`` runs those phases, in one loop."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from kubelogs import compatibility as compat
from kubelogs.cluster import credentials, phases, safety
from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.cluster.es_plan import plan_elasticsearch, repository_problem
from kubelogs.cluster.plan import NodeTarget, Plan, applied_unchanged, make_plan, with_applied_digest
from kubelogs.manifests import metrics, render_all
from kubelogs.manifests.checks import check
from kubelogs.manifests.common import selector
from kubelogs.manifests.elasticsearch import (
    CONFIG_MAP,
    MASTER_CONFIG_MAP,
    bootstrap_config_map,
    config_map,
    data_only,
    initial_masters_of,
)
from kubelogs.manifests.elasticsearch import NAME as ES_NAME
from kubelogs.polling import Poll
from kubelogs.settings import Settings


def plan(kube: Kube, settings: Settings, nodes: list[NodeTarget]) -> Plan:
    """Render and check the objects for these settings and plan applying them; changes nothing."""
    refused = safety.agent_on_every_node(settings, nodes)
    if refused:
        raise ClusterError(refused)
    generated = credentials.existing_or_new(kube, settings)
    refused = repository_problem(kube, settings, generated.listed)
    if refused:
        raise ClusterError(refused)
    objects = render_all(settings, generated.values, bootstrap_list(kube, settings),
                         pod_monitors=serves_pod_monitors(kube, settings))
    problems = check(objects)
    if problems:
        raise ClusterError("rendered objects are invalid (a kubelogs bug; nothing was applied):\n"
                           + "\n".join(f"- {p}" for p in problems))
    result = make_plan(kube, objects, nodes, settings.elasticsearch.storage == "hostPath", generated.secrets,
                       {"Secret": generated.listed} if generated.listed is not None else None)
    result.certificates = generated.certificates
    result.elasticsearch = plan_elasticsearch(kube, settings, result.steps)
    if result.elasticsearch.retire or result.elasticsearch.take_over:
        _transitional_configs(result, settings)
    eol = compat.end_of_life_warning(settings.elasticsearch.version, datetime.date.today().isoformat())
    result.warnings += [eol] if eol else []
    result.phases = phases.order(result)
    return result


def bootstrap_list(kube: Kube, settings: Settings) -> tuple[str, ...] | None:
    """The bootstrap list an existing cluster formed with, which it keeps (see ``elasticsearch_yml``); None for a
    new one. Dedicated masters added to a running cluster (its nodes master-eligible, its pods there: one GET and
    one LIST more, only until the masters' file exists) get none: they join it, where a bootstrap list could let
    them form a second one."""
    ns = settings.namespace
    kept = initial_masters_of(kube.get("ConfigMap", bootstrap_config_map(settings), ns))
    if kept is None and settings.elasticsearch.masters:
        data_config = kube.get("ConfigMap", CONFIG_MAP, ns)
        if data_config is not None and not data_only(data_config) \
                and kube.list("Pod", ns, label_selector(selector(ES_NAME))):
            return ()
    return kept


def _transitional_configs(result: Plan, settings: Settings) -> None:
    """While the master layout changes (cluster/layout.py), the transitional files are applied with the rest and
    those as they settle once the vote has moved (the masters' only when they are being added)."""
    work = result.elasticsearch
    names = {CONFIG_MAP: False, **({MASTER_CONFIG_MAP: True} if work.take_over else {})}
    for step in result.steps:
        ref = (step.manifest["kind"], step.manifest["metadata"]["name"])
        if ref[0] != "ConfigMap" or ref[1] not in names:
            continue
        # The bootstrap list the rendered file carries (the one the cluster keeps, or none).
        transitional = with_applied_digest(config_map(settings, initial_masters_of(step.manifest), master=names[ref[1]],
                                                      transitional=True))
        work.settled_configs.append(step.manifest)
        step.manifest = transitional
        if step.live:
            step.action = "unchanged" if applied_unchanged(step.live, transitional) else "update"
        step.note = "transitional while the master layout changes"


def serves_pod_monitors(kube: Kube, settings: Settings) -> bool:
    """With metrics on, whether the cluster serves the Prometheus Operator's PodMonitor: one discovery request
    (none with metrics off)."""
    return settings.metrics.enabled and \
        metrics.POD_MONITOR in (kube.served_kinds(compat.PROMETHEUS_OPERATOR_API) or set())


def execute(kube: Kube, plan: Plan, settings: Settings, log: Callable[[str], None],
            skip_hosts: frozenset[str] = frozenset(), poll: Poll | None = None) -> dict[str, int]:
    """Run the plan's phases in order; ``skip_hosts`` are nodes whose node stage failed (left unlabelled).
    What was done, by kind of change."""
    run = phases.Execution(kube, plan, settings, log, poll or Poll(settings.kubernetes.poll_interval), skip_hosts)
    for number, phase in enumerate(plan.phases, 1):
        log(f"phase {number}/{len(plan.phases)}: {phase.name} ({phase.why})")
        phase.run(run)
    return run.done
