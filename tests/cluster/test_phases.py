"""The cluster stage's phases, in the order ``phases.ORDER`` gives them, for the runs people make: a first
install, a re-run with nothing to do, a version upgrade, a security change, a scale-down, and the re-created
StatefulSet the immutable-fields refusal advises. Each asserts the phase list the plan returns and effects
of the run in the API server that only that order produces. What each phase does to Elasticsearch is
asserted call by call in test_day2.py."""

from __future__ import annotations

import json
import re

import kubernetes.client as k8s

from kubelogs.cluster import phases, quorum
from kubelogs.cluster.api import load_client
from kubelogs.cluster.es_plan import PENDING_ANNOTATION
from tests.support.cluster_helpers import deploy, kube
from tests.support.cluster_helpers import log_pilot_settings_for as settings_for


def names(plan) -> list[str]:
    return [p.name for p in plan.phases]


def started(log: list[str]) -> list[str]:
    """The phases in the order the run logged their start."""
    return [m.group(1) for line in log if (m := re.match(r"phase \d+/\d+: (.*?) \(", line))]


def writes_to(api, resource: str) -> list[tuple[int, str]]:
    """(position among the run's writes, content type) of each write to ``resource`` (a path suffix)."""
    return [(i, r.content_type) for i, r in enumerate(api.mutations()) if r.path.endswith(resource)]


def pending(api) -> str | None:
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    return (sts["metadata"].get("annotations") or {}).get(PENDING_ANNOTATION)


def test_first_install_sends_users_before_the_agents_and_waits_for_kibana_last(api):
    plan, done, log = deploy(api, settings_for(api))
    assert names(plan) == ["apply", "wait for Elasticsearch", "send users and index settings",
                           "apply the agents and Kibana", "wait for rollouts", "wait for Kibana"]
    assert started(log) == names(plan)
    # The agents and Kibana are created after the users are sent (the ConfigMap marked as sent, a merge patch).
    marked = [i for i, kind in writes_to(api, "/configmaps/elasticsearch-security") if "merge-patch" in kind]
    agents = [i for r in ("/daemonsets/fluent-bit", "/daemonsets/log-pilot", "/deployments/kibana")
              for i, _ in writes_to(api, r)]
    assert marked and len(agents) == 3 and min(agents) > marked[0]
    assert done["created"] > 0 and done["restarted"] == 0
    listed = [line for line in plan.lines() if line.startswith("  phase ")]
    assert [re.match(r"  phase +\d+  (.*?):", line).group(1) for line in listed] == names(plan)


def test_a_rerun_with_nothing_to_do_has_no_phase(api):
    deploy(api, settings_for(api))
    writes = len(api.mutations())
    plan, done, log = deploy(api, settings_for(api))
    assert not plan.has_work and plan.phases == [] and started(log) == []
    assert len(api.mutations()) == writes  # the run wrote nothing


def test_a_version_upgrade_restarts_then_sends_in_the_new_form(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    es.major = 7  # what the upgraded pods answer
    plan, done, log = deploy(api, settings_for(api, elasticsearch={"version": "7.17.26"}))
    # log-pilot cannot write to 7.x: its DaemonSet is pruned. The users and index settings wait for the restarts.
    assert names(plan) == ["apply", "prune", "wait for rollouts", "restart outdated Elasticsearch pods",
                           "clear pending Elasticsearch calls", "send users and index settings after the restarts",
                           "wait for Kibana"]
    assert started(log) == names(plan) and done["restarted"] == 2
    assert pending(api) is None  # "allocation back on" was recorded before the restarts, and cleared after


def test_a_security_change_restarts_every_pod_together_and_prunes_the_users(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))  # 6.8.23: security on
    plan, done, log = deploy(api, settings_for(api, elasticsearch={"security": False}))
    # No users to send any more: their ConfigMap is pruned. No Secret is rendered without security (the ones
    # made stay, never pruned), so the ApplySet parent stops listing Secrets. The index settings are unchanged:
    # nothing to send after the restarts.
    assert [s.ref for s in plan.steps if s.action == "prune"] == [f"ConfigMap {api.namespace}/elasticsearch-security"]
    assert names(plan) == ["apply", "prune", "update the ApplySet parent", "wait for rollouts",
                           "restart outdated Elasticsearch pods", "clear pending Elasticsearch calls", "wait for Kibana"]
    assert started(log) == names(plan) and done["restarted"] == 2
    assert "a full cluster restart (security or HTTPS changes)" in "\n".join(log)
    assert es.health() == "green"


def test_a_scale_down_calls_elasticsearch_before_applying_and_after_the_rollout(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    start = len(api.mutations())
    plan, _, log = deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    assert names(plan) == ["record pending Elasticsearch calls", "send the index settings before the drain",
                           "Elasticsearch calls before applying", "apply", "wait for rollouts",
                           "Elasticsearch calls after the rollout", "clear pending Elasticsearch calls",
                           "wait for Kibana"]
    assert started(log) == names(plan)
    assert "safety check: quorum before a scale-down" in "\n".join(log)
    assert es.cluster_settings.get("cluster.routing.allocation.exclude._name") is None  # cleared after
    # The follow-up is recorded (a merge patch) before the StatefulSet shrinks (an apply), removed after.
    writes = [(i, kind) for i, kind in writes_to(api, "/statefulsets/elasticsearch") if i >= start]
    applied = [i for i, kind in writes if "apply-patch" in kind]
    recorded = [i for i, kind in writes if "merge-patch" in kind]
    assert applied and recorded[0] < applied[0] < recorded[-1] and pending(api) is None


def test_a_re_created_statefulset_restarts_the_pods_it_adopts(api):
    # As the immutable-fields refusal advises: delete the StatefulSet keeping its pods, then re-run with the
    # change. The new StatefulSet adopts the pods; those at the older revision restart in the same run.
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    before = {p["metadata"]["uid"] for p in api.pods("elasticsearch")}
    k8s.AppsV1Api(load_client(settings_for(api))).delete_namespaced_stateful_set(
        "elasticsearch", api.namespace, propagation_policy="Orphan")
    api.wait_for("the StatefulSet to go", lambda: api.get("StatefulSet", "elasticsearch", api.namespace) is None)
    plan, done, _ = deploy(api, settings_for(api, elasticsearch={"heap": "384m"}))
    assert "restart outdated Elasticsearch pods" in names(plan) and done["restarted"] == 2
    assert not before & {p["metadata"]["uid"] for p in api.pods("elasticsearch")} and es.health() == "green"
    assert not deploy(api, settings_for(api, elasticsearch={"heap": "384m"}))[0].has_work


def test_a_call_recorded_by_an_older_kubelogs_is_made_once(api):
    # Recorded without a check name (kubelogs before the named checks), then the same follow-up planned now.
    api.serve_elasticsearch(6)
    deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    old = quorum.after_scaling("6.8.23", 1, 2).as_data()
    del old["check"]
    kube(settings_for(api)).merge_patch("StatefulSet", "elasticsearch", api.namespace,
                                        {"metadata": {"annotations": {PENDING_ANNOTATION: json.dumps([old])}}},
                                        "an-older-kubelogs")
    plan, _, _ = deploy(api, settings_for(api))  # two replicas
    assert [b.why for b in plan.elasticsearch.after] == ["raise minimum_master_nodes to 2 once 2 nodes have joined"]


def test_every_phase_kind_is_in_the_order_once():
    assert len(set(phases.ORDER)) == len(phases.ORDER)
    assert len({k.name for k in phases.ORDER}) == len(phases.ORDER)
