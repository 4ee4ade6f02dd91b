"""The cluster stage in two steps: ``plan`` reads the cluster and returns what a run would do, as an ordered
list of named phases (``phases.py``); ``execute`` runs those phases, in one loop."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from kubelogs import compatibility as compat
from kubelogs.cluster import credentials, phases, safety
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.es_plan import plan_elasticsearch, repository_problem
from kubelogs.cluster.plan import NodeTarget, Plan, applied_unchanged, make_plan, with_applied_digest
from kubelogs.manifests import metrics, render_all
from kubelogs.manifests.checks import check
from kubelogs.manifests.elasticsearch import CONFIG_MAP, bootstrap_config_map, config_map, initial_masters_of
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
    if result.elasticsearch.retire:
        _transitional_config(result, settings)
    eol = compat.end_of_life_warning(settings.elasticsearch.version, datetime.date.today().isoformat())
    result.warnings += [eol] if eol else []
    result.phases = phases.order(result)
    return result


def bootstrap_list(kube: Kube, settings: Settings) -> tuple[str, ...] | None:
    """The bootstrap list an existing cluster formed with, which it keeps (see ``elasticsearch_yml``); None for a
    new one. Dedicated masters added to a running cluster get none (one GET more, only until their file exists):
    they join the cluster, where a bootstrap list could let them form a second one."""
    ns = settings.namespace
    kept = initial_masters_of(kube.get("ConfigMap", bootstrap_config_map(settings), ns))
    if kept is None and settings.elasticsearch.masters and kube.get("ConfigMap", CONFIG_MAP, ns) is not None:
        return ()
    return kept


def _transitional_config(result: Plan, settings: Settings) -> None:
    """Retiring the dedicated masters: the data nodes' file names their Service among its seed hosts until they
    are gone (cluster/layout.py); the file as it settles is applied once they are."""
    step = next(s for s in result.steps if (s.manifest["kind"], s.manifest["metadata"]["name"]) == ("ConfigMap", CONFIG_MAP))
    transitional = with_applied_digest(config_map(settings, initial_masters_of(step.live), retiring_masters=True))
    result.elasticsearch.settled_config = step.manifest
    step.manifest = transitional
    step.action = "unchanged" if step.live and applied_unchanged(step.live, transitional) else "update"
    step.note = "the masters' Service among the seed hosts until they are gone"


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
