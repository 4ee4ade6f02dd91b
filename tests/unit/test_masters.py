"""Dedicated masters (elasticsearch.masters): two StatefulSets, each node's roles and discovery in its version's
terms, the masters' own resources, and the transport between the sets."""

from __future__ import annotations

import pytest
import yaml

from kubelogs.cluster import es_plan, layout, quorum, safety
from kubelogs.manifests import GeneratedSecrets, elasticsearch, render_all
from kubelogs.manifests.checks import check
from kubelogs.node.decisions import data_directory
from kubelogs.settings import SettingsError, validate_settings

SECRETS = GeneratedSecrets(password="generated", ca_crt="ca", tls_crt="crt", tls_key="key")
MASTERS = ["elasticsearch-master-0", "elasticsearch-master-1", "elasticsearch-master-2"]


def _render(version: str, initial_masters=None, **es):
    settings = validate_settings({"elasticsearch": {"version": version, "masters": 3, "replicas": 2, **es}})
    return render_all(settings, SECRETS, initial_masters)


def _named(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _yml(objects, config_map):
    return yaml.safe_load(_named(objects, "ConfigMap", config_map)["data"]["elasticsearch.yml"])


# (version, the masters' role settings, the data nodes')
ROLES = [
    ("6.8.23", {"node.master": True, "node.data": False, "node.ingest": False},
     {"node.master": False, "node.data": True, "node.ingest": True}),
    ("7.8.1", {"node.master": True, "node.data": False, "node.ingest": False},
     {"node.master": False, "node.data": True, "node.ingest": True}),
    ("7.17.26", {"node.roles": ["master"]}, {"node.roles": ["data", "ingest"]}),
    ("8.15.3", {"node.roles": ["master"]}, {"node.roles": ["data", "ingest"]}),
    ("9.5.7", {"node.roles": ["master"]}, {"node.roles": ["data", "ingest"]}),
]


@pytest.mark.parametrize("version, master_roles, data_roles", ROLES, ids=[r[0] for r in ROLES])
def test_two_statefulsets_with_the_roles_of_the_version(version, master_roles, data_roles):
    objects = _render(version)
    assert check(objects) == []
    masters, data = _yml(objects, "elasticsearch-master-config"), _yml(objects, "elasticsearch-config")
    role_keys = {k for k in {**masters, **data} if k.startswith("node.") and k != "node.name"}
    assert {k: masters[k] for k in role_keys if k in masters} == master_roles
    assert {k: data[k] for k in role_keys if k in data} == data_roles
    master_sts, data_sts = _named(objects, "StatefulSet", "elasticsearch-master"), _named(objects, "StatefulSet", "elasticsearch")
    assert (master_sts["spec"]["replicas"], data_sts["spec"]["replicas"]) == (3, 2)
    assert master_sts["spec"]["serviceName"] == "elasticsearch-master-discovery"
    assert data_sts["spec"]["serviceName"] == "elasticsearch-discovery"
    # Each pod reads its own set's file.
    assert {v["configMap"]["name"] for v in master_sts["spec"]["template"]["spec"]["volumes"] if "configMap" in v} \
        == {"elasticsearch-master-config"}
    assert [s["metadata"]["name"] for s in objects if s["kind"] == "StatefulSet"] == ["elasticsearch", "elasticsearch-master"]


@pytest.mark.parametrize("version", ["7.8.1", "7.17.26", "8.15.3", "9.5.7"])
def test_discovery_through_the_masters_and_bootstrap_list_of_masters_only(version):
    objects = _render(version)
    masters, data = _yml(objects, "elasticsearch-master-config"), _yml(objects, "elasticsearch-config")
    assert masters["discovery.seed_hosts"] == data["discovery.seed_hosts"] == ["elasticsearch-master-discovery"]
    assert masters["cluster.initial_master_nodes"] == MASTERS
    assert "cluster.initial_master_nodes" not in data  # data nodes are not master-eligible: they ignore it
    service = _named(objects, "Service", "elasticsearch-master-discovery")
    assert service["spec"]["selector"]["app.kubernetes.io/name"] == "elasticsearch-master"
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    # An existing cluster keeps the list it formed with (read back from the masters' ConfigMap).
    kept = _yml(_render(version, initial_masters=("elasticsearch-master-0",)), "elasticsearch-master-config")
    assert kept["cluster.initial_master_nodes"] == ["elasticsearch-master-0"]


@pytest.mark.parametrize("version", ["5.6.16", "6.8.23"])
def test_zen1_quorum_of_the_masters_on_every_node(version):
    objects = _render(version)
    for config_map in ("elasticsearch-master-config", "elasticsearch-config"):
        config = _yml(objects, config_map)
        assert config["discovery.zen.minimum_master_nodes"] == 2  # 3 masters // 2 + 1, whatever the data nodes
        assert config["discovery.zen.ping.unicast.hosts"] == "elasticsearch-master-discovery"
    five = render_all(validate_settings({"elasticsearch": {"version": version, "masters": 5, "replicas": 1}}), SECRETS)
    assert _yml(five, "elasticsearch-config")["discovery.zen.minimum_master_nodes"] == 3


def test_masters_resources_pdb_anti_affinity_and_own_directory():
    objects = _render("9.5.7", master_heap="384m", master_memory="768Mi", master_cpu="300m")
    pod = _named(objects, "StatefulSet", "elasticsearch-master")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {e["name"]: e.get("value") for e in container["env"]}["ES_JAVA_OPTS"] == "-Xms384m -Xmx384m"
    assert container["resources"] == {"requests": {"cpu": "300m", "memory": "768Mi"}, "limits": {"memory": "768Mi"}}
    data_pod = _named(objects, "StatefulSet", "elasticsearch")["spec"]["template"]["spec"]
    assert data_pod["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    # One pod of a set per node; a master and a data node may share one: each has its own directory.
    for spec, name, path in ((pod, "elasticsearch-master", "/es-data-master"), (data_pod, "elasticsearch", "/es-data")):
        [term] = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        assert next(v for v in spec["volumes"] if v["name"] == "data")["hostPath"]["path"] == path
    pdb = _named(objects, "PodDisruptionBudget", "elasticsearch-master")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "elasticsearch-master", "app.kubernetes.io/part-of": "kubelogs"}}}
    assert _named(objects, "PodDisruptionBudget", "elasticsearch")["spec"]["selector"]["matchLabels"][
        "app.kubernetes.io/name"] == "elasticsearch"  # each pod under one budget (eviction refuses two)


def test_clients_reach_the_data_nodes_only_and_transport_joins_both_sets():
    objects = _render("8.15.3")
    assert _named(objects, "Service", "elasticsearch")["spec"]["selector"]["app.kubernetes.io/name"] == "elasticsearch"
    both = [{"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                                    "values": ["elasticsearch", "elasticsearch-master"]}]}}]
    for name in ("elasticsearch", "elasticsearch-master"):
        policy = _named(objects, "NetworkPolicy", f"{name}-transport")
        assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        assert policy["spec"]["ingress"] == [{"from": both, "ports": [{"protocol": "TCP", "port": 9300}]}]
    # The same without masters: while a layout changes, the masters and the data nodes of the other layout still
    # talk to each other (cluster/layout.py); the masters' own policy goes with them.
    alone = render_all(validate_settings({"elasticsearch": {"version": "8.15.3", "replicas": 2}}), SECRETS)
    assert _named(alone, "NetworkPolicy", "elasticsearch-transport")["spec"]["ingress"][0]["from"] == both
    assert ("NetworkPolicy", "elasticsearch-master-transport") in layout.master_objects()
    # 9200 admits clients on the data nodes only: no policy opens it on the masters.
    http = _named(objects, "NetworkPolicy", "elasticsearch-http")
    assert http["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "elasticsearch"


@pytest.mark.parametrize("es, field, words", [
    ({"masters": 2}, "elasticsearch.masters", "one of 3, 5, 7"),
    ({"masters": 9}, "elasticsearch.masters", "one of 3, 5, 7"),
    ({"masters": 3, "master_heap": "512m", "master_memory": "512Mi"}, "elasticsearch.master_heap",
     "at most half of elasticsearch.master_memory ('512Mi'), i.e. at most 256m"),
    ({"masters": 3, "master_cpu": "lots"}, "elasticsearch.master_cpu", ""),
])
def test_bad_master_settings_name_field_value_and_fix(es, field, words):
    with pytest.raises(SettingsError) as caught:
        validate_settings({"elasticsearch": es})
    [problem] = caught.value.problems
    assert problem.field == field and words in problem.message


def test_hostpath_masters_need_as_many_data_nodes():
    validate_settings({"elasticsearch": {"masters": 3, "replicas": 2}}, eligible_data_nodes=3)
    with pytest.raises(SettingsError) as caught:
        validate_settings({"elasticsearch": {"masters": 3, "replicas": 2}}, eligible_data_nodes=2)
    [problem] = caught.value.problems
    assert problem.field == "elasticsearch.masters" and "only 2 data node(s)" in problem.message
    validate_settings({"elasticsearch": {"masters": 3, "replicas": 2, "storage": "pvc"}}, eligible_data_nodes=2)


@pytest.mark.parametrize("version", ["6.8.23", "7.17.26", "9.5.7"])
def test_data_node_scaling_with_dedicated_masters_only_drains(version):
    down = quorum.before_scaling(version, 3, 2, masters=3)
    assert down.actions == ("health", "allocation_exclude", "drained")
    assert down.env["NODES_WAIT"] == ">=6" and down.env["LEAVING"] == "elasticsearch-2"
    assert quorum.after_scaling(version, 3, 2, masters=3).actions == ("allocation_exclude_clear",)
    assert quorum.after_scaling(version, 2, 3, masters=3) is None  # no zen quorum to raise


def test_the_node_stage_prepares_the_masters_directory_beside_data_path():
    with_masters = data_directory(validate_settings({"elasticsearch": {"masters": 3}}), holds_data=True)
    assert with_masters.paths == ["/es-data", "/es-data-master"]
    assert (with_masters.uid, with_masters.gid, with_masters.mode) == (1000, 1000, 0o750)
    assert data_directory(validate_settings({}), holds_data=True).paths == ["/es-data"]
    assert data_directory(validate_settings({"elasticsearch": {"masters": 3, "storage": "pvc"}}), holds_data=True) is None


# -- changing the layout of a running cluster (cluster/layout.py) ---------------------------------------------
@pytest.mark.parametrize("masters", [0, 3])
def test_while_the_layout_changes_the_files_keep_data_nodes_master_eligible_and_seek_both_sets(masters):
    # Retiring masters (0 wanted) or adding them (3): until the vote has moved, the data nodes stay master-eligible
    # and every node seeks both sets; the pod templates digest the files as they settle, so nothing restarts for
    # the transitional ones, and applying the settled ones afterwards restarts nothing either.
    settings = validate_settings({"elasticsearch": {"version": "8.19.2", "replicas": 2, "masters": masters}})
    for master in ([False, True] if masters else [False]):
        settled, transitional = (yaml.safe_load(elasticsearch.config_map(settings, (), master, t)["data"]["elasticsearch.yml"])
                                 for t in (False, True))
        assert set(transitional["discovery.seed_hosts"]) == {"elasticsearch-discovery", "elasticsearch-master-discovery"}
        assert transitional["discovery.seed_hosts"][0] == settled["discovery.seed_hosts"][0]
        assert "cluster.initial_master_nodes" not in transitional
        assert ("node.roles" in transitional) == master  # a data node: the default roles, master among them
        assert elasticsearch.config_files(settings, (), live=False, master=master) == elasticsearch.config_files(
            settings, (), live=False, master=master, transitional=True)
    assert elasticsearch.data_only(elasticsearch.config_map(settings, ())) == bool(masters)
    assert not elasticsearch.data_only(elasticsearch.config_map(settings, (), transitional=True))


@pytest.mark.parametrize("version, path", [
    ("7.17.26", "_cluster/voting_config_exclusions?node_names=elasticsearch-0,elasticsearch-1"),
    ("9.5.7", "_cluster/voting_config_exclusions?node_names=elasticsearch-0,elasticsearch-1"),
])
def test_the_master_role_moves_by_voting_exclusions_by_node_name(version, path):
    settings = validate_settings({"elasticsearch": {"version": version, "masters": 3, "replicas": 2}})
    take_over = layout.take_over(settings, version)
    assert take_over.actions == ("health", "exclude_voting") and take_over.env["VOTING_EXCLUSIONS"] == path
    # Then, once the data-only file is applied, which data nodes still run with the master role (restarted, even at
    # the update revision).
    assert layout.eligible_data_nodes(settings).env["LEAVING"] == "elasticsearch-0,elasticsearch-1"
    assert layout.still_eligible("ok exclude_voting\nmaster-eligible elasticsearch-1\nok master_eligible\n") == {
        "elasticsearch-1"}
    assert take_over.env["NODES_WAIT"] == ">=5"  # every master joined before the data nodes leave the vote
    back = validate_settings({"elasticsearch": {"version": version, "masters": 0, "replicas": 2}})
    retire = layout.retire(back, version, 3)
    assert retire.env["NODES_WAIT"] == ">=5" and "elasticsearch-master-2" in retire.env["VOTING_EXCLUSIONS"]
    # Adding: the data nodes stay, so the exclusions go without waiting for them to leave; retiring: they left.
    # Each clearing carries the change's target: while it is pending, the change is under way.
    added, retired = layout.cleared(layout.LayoutChange(0, 3)), layout.cleared(layout.LayoutChange(3, 0))
    assert (added.actions, retired.actions) == (("clear_voting_kept",), ("clear_voting",))
    assert (layout.under_way([added]), layout.under_way([retired]), layout.under_way([])) == (3, 0, None)
    assert layout.adding_under_way([added]) and not layout.adding_under_way([retired])
    assert take_over.check == retire.check == "the master role handed over"


def test_adding_masters_to_more_data_nodes_than_voting_exclusions_allow_is_refused():
    refused = safety.master_layout_change_supported(0, 3, "8.19.2", [], data_nodes=11)
    assert "at most 10 exclusions (cluster.max_voting_config_exclusions)" in refused
    assert safety.master_layout_change_supported(0, 3, "8.19.2", [], data_nodes=10) == ""
    assert safety.master_layout_change_supported(3, 0, "8.19.2", [], data_nodes=11) == ""  # retiring: the masters


def test_before_7_8_a_layout_change_is_refused():
    # The path form of the exclusions (7.0-7.7) refuses a name no longer master-eligible: a change stopped after a
    # data node's restart could never resume.
    assert "upgrade to 7.8+ first" in safety.master_layout_change_supported(0, 3, "7.7.1", [])
    assert "upgrade to 7.8+ first" in safety.master_layout_change_supported(0, 3, "6.8.23", [])
    assert safety.master_layout_change_supported(0, 3, "7.8.0", []) == ""


def test_fewer_masters_leave_the_vote_before_their_statefulset_shrinks():
    settings = validate_settings({"elasticsearch": {"version": "8.19.2", "masters": 3, "replicas": 2}})
    batch = layout.scaling_down(settings, "8.19.2", 7)
    assert batch.env["VOTING_EXCLUSIONS"] == ("_cluster/voting_config_exclusions?node_names=elasticsearch-master-3,"
                                              "elasticsearch-master-4,elasticsearch-master-5,elasticsearch-master-6")
    # The nodes that stay (masters that never started can still go); masters hold no shard: nothing to drain.
    assert batch.env["NODES_WAIT"] == ">=5" and "drained" not in batch.actions
    assert layout.cleared(layout.LayoutChange(7, 3)).actions == ("clear_voting",)
    assert layout.under_way([layout.cleared(layout.LayoutChange(7, 3))]) == 3
    assert layout.cleared(layout.LayoutChange(3, 7)) is None  # more masters: nothing was excluded


def test_a_layout_change_is_a_risky_change_snapshotted_first():
    settings = validate_settings({"elasticsearch": {"version": "8.19.2", "masters": 3, "replicas": 2}})
    sts = _named(render_all(settings, SECRETS), "StatefulSet", "elasticsearch")
    assert es_plan.risky_change("8.19.2", sts, sts, settings, layout.LayoutChange(0, 3)) == "adding 3 dedicated masters"
    assert es_plan.risky_change("8.19.2", sts, sts, settings) == ""
