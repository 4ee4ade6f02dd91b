"""Day-2 changes on the real control plane: a configuration change reaches the running pods (the real
controllers roll them), an unchanged one rolls nothing, and Elasticsearch version changes follow Elastic's
upgrade rules: downgrades and skipped steps are refused before anything is applied."""

from __future__ import annotations

import pytest

from kubelogs import compatibility as compat
from kubelogs.cluster import upgrades
from kubelogs.cluster.api import ClusterError
from tests.api_helpers import deploy, settings_for


def uids(api, component: str) -> set[str]:
    return {p["metadata"]["uid"] for p in api.pods(component)}


def test_config_only_change_rolls_the_pods_that_read_it(api):
    # elasticsearch.yml and fluent-bit.conf are read only at start: a change must restart the pods.
    deploy(api, settings_for(api))
    before, agents = uids(api, "elasticsearch"), uids(api, "fluent-bit")
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "cluster_name": "renamed"}))
    ns = api.namespace
    assert sorted(s.ref for s in plan.changes) == [f"ConfigMap {ns}/elasticsearch-config", f"StatefulSet {ns}/elasticsearch"]
    assert not before & uids(api, "elasticsearch")  # every pod restarted
    assert agents == uids(api, "fluent-bit")  # the agents did not
    again, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "cluster_name": "renamed"}))
    assert again.changes == []


@pytest.mark.parametrize("running, wanted, words", [
    ("6.8.23", "6.8.22", "older than the running 6.8.23"),
    ("7.17.26", "6.8.23", "downgrades are refused"),
    ("6.8.23", "8.15.3", "skips a major version: upgrade to the newest 7.17.x first"),
    ("5.6.16", "7.17.26", "skips a major version: upgrade to the newest 6.8.x first"),
    ("6.7.2", "7.17.26", "7.x upgrades only from 6.8: upgrade to the newest 6.8.x first"),
    ("5.5.3", "6.8.23", "6.x upgrades only from 5.6"),
    ("7.16.3", "8.15.3", "8.x upgrades only from 7.17"),
    ("8.18.2", "9.1.0", "9.x upgrades only from 8.19"),
    ("8.19.3", "9.0.2", "9.0 upgrades only from 8.18: from 8.19.3, upgrade to a later 9.x instead"),
    ("8.17.0", "9.0.2", "upgrade to the newest 8.18.x first"),
])
def test_version_rules_refuse_with_the_step_to_take(running, wanted, words):
    assert words in compat.version_change_problem(running, wanted)


@pytest.mark.parametrize("running, wanted", [
    ("6.8.23", "6.8.23"), ("6.8.22", "6.8.23"), ("5.6.16", "6.8.23"), ("6.8.0", "7.17.26"),
    ("7.17.0", "8.15.3"), ("8.19.0", "9.1.0"), ("8.18.1", "9.0.2"), ("8.15.3", "8.19.5")])
def test_version_rules_allow_patch_minor_and_supported_major_upgrades(running, wanted):
    assert compat.version_change_problem(running, wanted) == ""


@pytest.mark.parametrize("version, today, words", [
    ("6.8.23", "2026-11-27", "Elasticsearch 6.x reached its end of life on 2022-02-10"),
    ("7.17.26", "2026-11-27", "Elasticsearch 7.x reached its end of life on 2026-01-15"),
    ("5.6.16", "2026-11-27", "Elasticsearch 5.x reached its end of life already"),
    ("7.17.26", "2025-12-31", ""), ("8.19.26", "2026-11-27", ""), ("9.5.7", "2026-11-27", "")])
def test_end_of_life_warning_by_date(version, today, words):
    warning = compat.end_of_life_warning(version, today)
    assert (words in warning and warning) if words else warning == ""


@pytest.mark.parametrize("image, version", [
    ("docker.elastic.co/elasticsearch/elasticsearch:6.8.23", "6.8.23"),
    ("registry.example:5000/es/elasticsearch:7.17.26", "7.17.26"),
    ("registry.example:5000/es/elasticsearch:7.17.26@sha256:" + "a" * 64, "7.17.26"),
    ("registry.example/es/elasticsearch@sha256:" + "a" * 64, None),
    ("registry.example/es/elasticsearch:custom-build", None),
])
def test_running_version_from_an_unannotated_statefulset_is_its_image_tag(image, version):
    # StatefulSets deployed before the version annotation existed.
    live = {"metadata": {}, "spec": {"template": {"spec": {"containers": [{"image": image}]}}}}
    assert upgrades.running_version(live) == version


def test_downgrade_and_skipped_major_are_refused_before_anything_is_applied(api):
    deploy(api, settings_for(api))  # the default, 6.8.23
    before, versions = len(api.mutations()), api.resource_versions()
    for version, words in (("6.8.22", "downgrades are refused"),
                           ("8.15.3", "upgrade to the newest 7.17.x first, then to 8.15.3")):
        with pytest.raises(ClusterError) as refused:
            deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": version}))
        message = str(refused.value)
        assert f"StatefulSet {api.namespace}/elasticsearch runs Elasticsearch 6.8.23" in message
        assert words in message and "Nothing was applied" in message
    assert len(api.mutations()) == before and api.resource_versions() == versions


def test_allowed_upgrade_rolls_every_elasticsearch_pod(api):
    deploy(api, settings_for(api))
    before = uids(api, "elasticsearch")
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "7.17.26"}))
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    assert sts["metadata"]["annotations"]["kubelogs.io/elasticsearch-version"] == "7.17.26"
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":7.17.26")
    assert not before & uids(api, "elasticsearch")
    # With 7.x, log-pilot cannot write any more: the Docker node moves to Fluent Bit, log-pilot is pruned.
    assert f"DaemonSet {api.namespace}/log-pilot" in [s.ref for s in plan.steps if s.action == "prune"]


def test_scaling_down_keeps_the_data_and_says_where(api):
    deploy(api, settings_for(api))
    placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in api.pods("elasticsearch")}
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    assert plan.kept_data == [f"{placed['elasticsearch-1']}: the data of elasticsearch-1 (scaled away), never deleted"]
    assert f"  keeps     {plan.kept_data[0]}" in plan.lines()
    api.wait_for("the StatefulSet controller to remove elasticsearch-1", lambda: [
        p["metadata"]["name"] for p in api.pods("elasticsearch")] == ["elasticsearch-0"])
