"""The cluster stage's phases, in the order ``phases.ORDER`` gives them, for the runs people make: a first
install, a re-run with nothing to do, a version upgrade and a security change. The plan lists the phases;
the run carries them out in that order (its log names each as it starts). What each phase does to
Elasticsearch is asserted call by call in test_day2.py."""

from __future__ import annotations

import re

from kubelogs.cluster import phases
from tests.support.cluster_helpers import deploy
from tests.support.cluster_helpers import log_pilot_settings_for as settings_for


def names(plan) -> list[str]:
    return [p.name for p in plan.phases]


def started(log: list[str]) -> list[str]:
    """The phases in the order the run started them."""
    return [m.group(1) for line in log if (m := re.match(r"phase \d+/\d+: (.*?) \(", line))]


def test_first_install_sends_users_before_the_agents_and_waits_for_kibana_last(api):
    plan, done, log = deploy(api, settings_for(api))
    assert names(plan) == ["apply", "wait for Elasticsearch", "send users and index settings",
                           "apply the agents and Kibana", "wait for rollouts", "wait for Kibana"]
    assert started(log) == names(plan)
    # The agents and Kibana are applied after the users exist: their lines come after the send.
    sent = next(i for i, line in enumerate(log) if line.startswith("elasticsearch: set up the agents' writer"))
    assert all(i > sent for i, line in enumerate(log) if re.match(r"create +(DaemonSet|Deployment) ", line))
    assert done["created"] > 0 and done["restarted"] == 0
    listed = [line for line in plan.lines() if line.startswith("  phase ")]
    assert [re.match(r"  phase +\d+  (.*?):", line).group(1) for line in listed] == names(plan)


def test_a_rerun_with_nothing_to_do_has_no_phase(api):
    deploy(api, settings_for(api))
    plan, done, log = deploy(api, settings_for(api))
    assert not plan.has_work and plan.phases == [] and started(log) == []
    assert not any(done.values())


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
    assert "a full cluster restart (security changes)" in "\n".join(log)
    assert es.health() == "green"


def test_a_scale_down_calls_elasticsearch_before_applying_and_after_the_rollout(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    plan, _, log = deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    assert names(plan) == ["record pending Elasticsearch calls", "Elasticsearch calls before applying", "apply",
                           "wait for Elasticsearch", "send users and index settings", "wait for rollouts",
                           "Elasticsearch calls after the rollout", "clear pending Elasticsearch calls",
                           "wait for Kibana"]
    assert started(log) == names(plan)
    assert "safety check: quorum before a scale-down" in "\n".join(log)
    assert es.cluster_settings.get("cluster.routing.allocation.exclude._name") is None  # cleared after


def test_every_phase_kind_is_in_the_order_once():
    assert len(set(phases.ORDER)) == len(phases.ORDER)
    assert len({k.name for k in phases.ORDER}) == len(phases.ORDER)
