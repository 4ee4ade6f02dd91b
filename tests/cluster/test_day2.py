"""Day-2 changes on the cluster tier: a configuration change reaches the running pods (the
controllers roll them), an unchanged one rolls nothing, and Elasticsearch version changes follow Elastic's
upgrade rules: downgrades and skipped steps are refused before anything is applied."""

from __future__ import annotations

import datetime

import pytest

from kubelogs import compatibility as compat
from kubelogs.cluster import upgrades
from kubelogs.cluster.api import ClusterError
from kubelogs.cluster.plan import NodeTarget
from tests.support.cluster_helpers import deploy

# These scenarios start from a 6.8 installation (the seed's design) and change it.
from tests.support.cluster_helpers import log_pilot_settings_for as settings_for


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


def test_scaling_down_keeps_the_data_and_says_where(api):
    deploy(api, settings_for(api))
    placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in api.pods("elasticsearch")}
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    assert plan.kept_data == [f"{placed['elasticsearch-1']}: the data of elasticsearch-1 (scaled away), never deleted"]
    assert f"  keeps     {plan.kept_data[0]}" in plan.lines()
    api.wait_for("the StatefulSet controller to remove elasticsearch-1", lambda: [
        p["metadata"]["name"] for p in api.pods("elasticsearch")] == ["elasticsearch-0"])


# -- health-aware restarts, quorum, retention: the fake Elasticsearch records every call, and the test
# kubelet adds each Elasticsearch pod deletion to the same record, so the order is asserted.

ADMIN_PATHS = ("/_cluster/", "/_flush", "/_ilm/", "/_template/", "/_index_template/", "/*-20*/", "/_cat/allocation",
               "/_security/", "/_xpack/")
# The security settings in 7.x+ form (kubelogs/manifests/security.py), sent after an upgrade from 6.x.
SECURITY_7 = ["PUT /_security/role/kubelogs_writer", "PUT /_security/user/kubelogs-writer",
              "PUT /_security/user/kubelogs-writer/_password", "PUT /_security/role/kubelogs_reader",
              "PUT /_security/user/kubelogs-reader", "PUT /_security/user/kubelogs-reader/_password"]


def record_restarts(api, es) -> None:
    def seen(meta: dict) -> None:
        if meta["name"].startswith("elasticsearch-"):
            es.record("DELETE-POD", f"{meta['name']} allocation={es.cluster_settings.get('cluster.routing.allocation.enable', 'all')}")
    api.tier.kubelet.on_terminate = seen


def timeline(es) -> list[str]:
    """The calls around restarts and settings (not the agents' bulk requests), queries cut."""
    return [f"{m} {p.split('?')[0]}" for m, p in es.calls if m == "DELETE-POD" or p.startswith(ADMIN_PATHS)]


def test_upgrade_restarts_one_pod_at_a_time_each_after_green(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    before = uids(api, "elasticsearch")
    es.major, es.calls[:] = 7, []  # what the upgraded pods answer
    record_restarts(api, es)
    plan, done, log = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "7.17.26"}))
    prepare = ["PUT /_cluster/settings", "GET /_cluster/health", "PUT /_cluster/settings", "POST /_flush"]
    assert timeline(es) == [
        *prepare, "DELETE-POD elasticsearch-1 allocation=primaries",
        *prepare, "DELETE-POD elasticsearch-0 allocation=primaries",
        "PUT /_cluster/settings", "GET /_cluster/health",  # allocation back on, green again
        # the users and roles in the new version's API (and the path of Kibana's user, renamed in 7.8)
        "GET /_cluster/health", *SECURITY_7, "PUT /_security/user/kibana_system/_password",
        "GET /_cluster/health", "PUT /_ilm/policy/kubelogs-logs", "PUT /_index_template/kubelogs-logs",
        "PUT /*-20*/_settings"]
    *restart_health, security_health, send_health = [p for m, p in es.calls if p.startswith("/_cluster/health")]
    assert all("wait_for_status=green" in p for p in restart_health)
    assert "wait_for_status=yellow" in send_health  # the index settings need the primaries only
    assert "cluster.routing.allocation.enable" not in es.cluster_settings  # back to its default
    assert done["restarted"] == 2 and not before & uids(api, "elasticsearch")
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    assert sts["metadata"]["annotations"]["kubelogs.io/elasticsearch-version"] == "7.17.26"
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":7.17.26")
    # With 7.x, log-pilot cannot write any more: the Docker node moves to Fluent Bit, log-pilot is pruned.
    assert f"DaemonSet {api.namespace}/log-pilot" in [s.ref for s in plan.steps if s.action == "prune"]
    again, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "7.17.26"}))
    assert not again.has_work


def test_no_pod_restarts_while_the_cluster_is_not_green_and_a_rerun_resumes(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    before = uids(api, "elasticsearch")
    es.status = "yellow"
    renamed = {"replicas": 2, "cluster_name": "renamed"}
    with pytest.raises(ClusterError) as failed:
        deploy(api, settings_for(api, elasticsearch=renamed, kubernetes={"rollout_timeout": 4}))
    message = str(failed.value)
    assert "could not prepare to restart elasticsearch-1 once the cluster is green" in message
    assert "waited 4s for green" in message and "re-run" in message
    assert uids(api, "elasticsearch") == before and ("POST", "/_flush") not in es.calls
    # A version or replicas change must wait until those restarts are done (the pods' version is not known).
    with pytest.raises(ClusterError, match="not finished by an earlier run. Keep kubelogs.elasticsearch.version = "
                                           "'6.8.23', replicas = 2 and masters as installed for one more run"):
        deploy(api, settings_for(api, elasticsearch={**renamed, "version": "7.17.26"}))
    es.status = "green"
    plan, done, _ = deploy(api, settings_for(api, elasticsearch=renamed))
    assert plan.changes == [] and plan.elasticsearch.restarts_pending == [
        "StatefulSet elasticsearch: 2 pod(s) at an older revision (elasticsearch-1, elasticsearch-0); restarted one at a time"]
    assert done["restarted"] == 2 and not before & uids(api, "elasticsearch")
    assert not deploy(api, settings_for(api, elasticsearch=renamed))[0].has_work


def test_zen1_quorum_follows_replicas_through_the_settings_api_without_restarts(api):
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    first = uids(api, "elasticsearch")
    record_restarts(api, es)
    es.calls[:] = []
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2}))
    # Raised after the new node joined: the fake, like 6.x, refuses a quorum above the nodes it has.
    assert es.cluster_settings["discovery.zen.minimum_master_nodes"] == "2"
    # (The index settings, whose replicas follow, went first: before the agents are applied.)
    quorum_wait = [p for m, p in es.calls if p.startswith("/_cluster/health")][-1]
    assert "wait_for_nodes=%3E%3D2" in quorum_wait or "wait_for_nodes=>=2" in quorum_wait
    assert first <= uids(api, "elasticsearch")  # the running pod was not restarted
    es.calls[:] = []
    deploy(api, settings_for(api, elasticsearch={"replicas": 1}))
    # Lowered before the StatefulSet removed the second node, so the one left can still elect itself.
    index_settings = ["GET /_cluster/health", "PUT /_ilm/policy/kubelogs-logs", "PUT /_template/kubelogs-logs",
                      "PUT /*-20*/_settings"]  # one node: its indices get no replica
    # The index settings first (no replica left to place: a replica never shares a node with its primary), then
    # its shards moved off (allocation exclusion, then none left on it), the quorum lowered, then removed; the
    # exclusion cleared after the rollouts.
    assert timeline(es) == [*index_settings, "GET /_cluster/health", "PUT /_cluster/settings",
                            "GET /_cat/allocation/elasticsearch-1", "PUT /_cluster/settings",
                            "DELETE-POD elasticsearch-1 allocation=all", "PUT /_cluster/settings"]
    assert "cluster.routing.allocation.exclude._name" not in es.cluster_settings  # cleared after
    assert es.cluster_settings["discovery.zen.minimum_master_nodes"] == "1"
    assert first <= uids(api, "elasticsearch")


def test_7x_scale_down_excludes_the_leaving_nodes_from_voting_first(api):
    es = api.serve_elasticsearch(7)
    settings = {"version": "7.17.26"}
    deploy(api, settings_for(api, elasticsearch={**settings, "replicas": 1}))
    first = uids(api, "elasticsearch")
    deploy(api, settings_for(api, elasticsearch={**settings, "replicas": 2}))
    assert first <= uids(api, "elasticsearch")  # growing keeps the bootstrap list: nothing restarts
    es.index("app-2026.12.03", {"log": "a line"})  # one primary, one replica: one copy on each node
    assert es.allocation() == ({"elasticsearch-0": 1, "elasticsearch-1": 1}, 0)
    es.calls[:] = []
    record_restarts(api, es)
    deploy(api, settings_for(api, elasticsearch={**settings, "replicas": 1}))
    # The index settings first (one node: no replicas), so that the copy on the leaving node can go; drained and
    # excluded from voting, removed; both exclusions cleared after the rollouts. Draining first would wait
    # until rollout_timeout: the replica has nowhere to go.
    index_settings = ["GET /_cluster/health", "PUT /_ilm/policy/kubelogs-logs", "PUT /_index_template/kubelogs-logs",
                      "PUT /*-20*/_settings"]
    assert timeline(es) == [*index_settings, "GET /_cluster/health", "PUT /_cluster/settings",
                            "GET /_cat/allocation/elasticsearch-1", "POST /_cluster/voting_config_exclusions",
                            "DELETE-POD elasticsearch-1 allocation=all", "PUT /_cluster/settings",
                            "DELETE /_cluster/voting_config_exclusions"]
    assert es.allocation() == ({"elasticsearch-0": 1}, 0) and es.health() == "green"
    assert es.voting_exclusions == []
    assert ("POST", "/_cluster/voting_config_exclusions?node_names=elasticsearch-1") in es.calls


# 6.0-7.7 share the legacy form, 7.8+ the composable one (compatibility.COMPOSABLE_TEMPLATES_FROM).
@pytest.mark.parametrize("version, template", [("6.8.23", "_template"), ("9.5.7", "_index_template")])
def test_retention_is_an_ilm_policy_with_a_template_for_the_log_indices(api, version, template):
    es = api.serve_elasticsearch(compat.parse_version(version)[0])
    deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": version}))
    assert es.policies == {"kubelogs-logs": {"policy": {"phases": {"delete": {
        "min_age": "14d", "actions": {"delete": {}}}}}}}
    body = es.templates["kubelogs-logs"]
    settings = body["template"]["settings"] if template == "_index_template" else body["settings"]
    assert settings == {"index": {"lifecycle.name": "kubelogs-logs", "number_of_replicas": 1,
                                  "mapping": {"ignore_malformed": True}}}
    mappings = body["template"]["mappings"] if template == "_index_template" else body["mappings"]["_default_"]
    assert mappings["properties"]["log"] == {"type": "text"} and mappings["date_detection"] is False
    assert ("PUT", f"/{template}/kubelogs-logs") in es.calls
    assert api.get("CronJob", "elasticsearch-retention", api.namespace) is None
    sent = len(es.calls)
    assert not deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": version}))[0].has_work
    assert len([c for c in es.calls[sent:] if c[1].startswith(ADMIN_PATHS)]) == 0  # nothing sent again
    deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": version, "retention_days": 0}))
    assert es.policies["kubelogs-logs"]["policy"]["phases"] == {"hot": {"min_age": "0ms", "actions": {}}}


@pytest.mark.parametrize("version, patterns", [("6.5.4", {"index_patterns": ["*-20*"]}), ("5.6.16", {"template": "*-20*"})])
def test_retention_before_ilm_is_a_cronjob_that_deletes_old_daily_indices(api, version, patterns):
    # ILM came with 6.6. 5.x has an agent only on Docker nodes (log-pilot): these nodes all run Docker.
    es = api.serve_elasticsearch(compat.parse_version(version)[0])
    version = {"replicas": 2, "version": version}
    nodes = [NodeTarget(n.host, n.node, "docker", n.holds_data) for n in api.nodes]
    plan, _, _ = deploy(api, settings_for(api, elasticsearch=version), nodes)
    template = es.templates["kubelogs-logs"]
    assert es.policies == {} and {k: template[k] for k in patterns} == patterns
    assert template["settings"] == {"index": {"number_of_replicas": 1, "mapping": {"ignore_malformed": True}}}
    cron = api.get("CronJob", "elasticsearch-retention", api.namespace)
    assert cron is not None and f"CronJob {api.namespace}/elasticsearch-retention" in [s.ref for s in plan.steps]
    # Run it once, as the CronJob controller would: a Job from its template, played by the test kubelet.

    today = datetime.datetime.now(datetime.timezone.utc).date()
    old, recent = (f"app-{today - datetime.timedelta(days=d):%Y.%m.%d}" for d in (15, 13))
    for index in (old, recent, "not-a-daily-index"):
        es.index(index, {"message": "x"})
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "retention-now", "namespace": api.namespace},
           "spec": cron["spec"]["jobTemplate"]["spec"]}
    api.admin._call("POST", f"/apis/batch/v1/namespaces/{api.namespace}/jobs", body=job, content_type="application/json")
    api.wait_for("the retention job to delete the old index", lambda: old not in es.indices)
    assert recent in es.indices and "not-a-daily-index" in es.indices
    # Retention off: the CronJob is pruned.
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={**version, "retention_days": 0}), nodes)
    assert f"CronJob {api.namespace}/elasticsearch-retention" in [s.ref for s in plan.steps if s.action == "prune"]


def test_one_node_cluster_is_green_its_log_indices_have_no_replicas(api):
    es = api.serve_elasticsearch(8)
    es.status = None  # derived: yellow while an index wants a replica no other node can hold
    es.index("app-2026.11.01", {"message": "written before the deploy"})  # replicas 1: the default
    deploy(api, settings_for(api, elasticsearch={"replicas": 1, "version": "8.19.26"}))
    assert es.index_replicas == {"app-2026.11.01": 0} and es.health() == "green"
    es.index("app-2026.11.27", {"message": "a new day"})
    assert es.index_replicas["app-2026.11.27"] == 0 and es.health() == "green"


def test_a_security_change_restarts_every_pod_together(api):
    # Nodes with and without security cannot form one cluster: a full cluster restart, prepared the same way.
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))  # 6.8.23: security on
    es.calls[:] = []
    record_restarts(api, es)
    plan, done, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "security": False}))
    steps = timeline(es)
    assert steps[:4] == ["PUT /_cluster/settings", "GET /_cluster/health", "PUT /_cluster/settings", "POST /_flush"]
    assert sorted(steps[4:6]) == ["DELETE-POD elasticsearch-0 allocation=primaries",
                                  "DELETE-POD elasticsearch-1 allocation=primaries"]
    assert steps[6:8] == ["PUT /_cluster/settings", "GET /_cluster/health"] and done["restarted"] == 2


def test_allocation_left_limited_by_a_failed_run_is_re_enabled_by_the_next(api):
    # The last restarted pod cannot come back in this run (its image cannot be pulled): allocation stays at
    # primaries. The next run has no pod left to restart, and must still turn allocation back on.
    es = api.serve_elasticsearch(6)
    deploy(api, settings_for(api))
    kubelet, image = api.tier.kubelet, settings_for(api).elasticsearch.image_ref

    def last_restart(meta: dict) -> None:
        if meta["name"] == "elasticsearch-0":
            kubelet.pull_failures.add(image)
    kubelet.on_terminate = last_restart
    renamed = {"replicas": 2, "cluster_name": "renamed"}
    try:
        with pytest.raises(ClusterError, match="pod elasticsearch-0 was restarted but is not ready"):
            deploy(api, settings_for(api, elasticsearch=renamed, kubernetes={"rollout_timeout": 4}))
        assert es.cluster_settings["cluster.routing.allocation.enable"] == "primaries"
    finally:
        kubelet.on_terminate = None
        kubelet.pull_failures.discard(image)
    # The registry is back: the kubelet's next pull works (played here by replacing the stuck pod).
    api.admin.delete("Pod", "elasticsearch-0", api.namespace)
    plan, done, _ = deploy(api, settings_for(api, elasticsearch=renamed))
    assert plan.changes == [] and done["restarted"] == 0
    assert [t.why for t in plan.elasticsearch.after] == ["re-enable shard allocation and wait for green"]
    assert "cluster.routing.allocation.enable" not in es.cluster_settings
    assert not deploy(api, settings_for(api, elasticsearch=renamed))[0].has_work
