"""The cluster stage in two steps: ``plan`` reads the cluster and returns what a run would do, as an ordered
list of named phases (``phases.py``); ``execute`` runs those phases, in one loop."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from kubelogs import compatibility as compat
from kubelogs.cluster import credentials, phases, safety
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.es_plan import plan_elasticsearch, repository_problem
from kubelogs.cluster.plan import NodeTarget, Plan, make_plan
from kubelogs.manifests import metrics, render_all
from kubelogs.manifests.checks import check
from kubelogs.manifests.elasticsearch import bootstrap_config_map, initial_masters_of
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
    # An existing cluster keeps the bootstrap list it formed with (see elasticsearch_yml).
    objects = render_all(settings, generated.values,
                         initial_masters_of(kube.get("ConfigMap", bootstrap_config_map(settings), settings.namespace)),
                         pod_monitors=serves_pod_monitors(kube, settings))
    problems = check(objects)
    if problems:
        raise ClusterError("rendered objects are invalid (a kubelogs bug; nothing was applied):\n"
                           + "\n".join(f"- {p}" for p in problems))
    result = make_plan(kube, objects, nodes, settings.elasticsearch.storage == "hostPath", generated.secrets,
                       {"Secret": generated.listed} if generated.listed is not None else None)
    result.certificates = generated.certificates
    result.elasticsearch = plan_elasticsearch(kube, settings, result.steps)
    eol = compat.end_of_life_warning(settings.elasticsearch.version, datetime.date.today().isoformat())
    result.warnings += [eol] if eol else []
    result.phases = phases.order(result)
    return result


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
