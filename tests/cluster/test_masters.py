"""Dedicated masters on the cluster tier: an installation with `elasticsearch.masters`, its re-run, a restart of
both StatefulSets in Elastic's order, data nodes scaled with no quorum calls, and a layout change with another change
refused (the layout changes themselves are in test_master_layout.py)."""

from __future__ import annotations

import pytest

from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.cluster.resources import RESOURCES
from kubelogs.verify import stage as verify_stage
from tests.cluster.test_day2 import ADMIN_PATHS, record_restarts
from tests.support.cluster_helpers import deploy, settings_for
from tests.support.tier import node_targets

# A third data node (n4): with hostPath storage each master needs its own data node (the node stage prepares
# <data_path>-master there); a master and a data node may share one.
MASTERS = {"version": "9.5.7", "masters": 3, "replicas": 2, "security": False}


def _nodes(api):
    return [*api.nodes, *node_targets(api, [("n4", "containerd", True)])]


def _names(api, component: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in api.pods(component))


def _timeline(es) -> list[str]:
    return [f"{m} {p.split('?')[0]}" for m, p in es.calls if m == "DELETE-POD" or p.startswith(ADMIN_PATHS)]


@pytest.fixture
def installed(api):
    nodes = _nodes(api)
    es = api.serve_elasticsearch(9)
    plan, _, _ = deploy(api, settings_for(api, elasticsearch=MASTERS), nodes)
    return api, es, nodes, plan


def test_install_rolls_out_both_sets_and_a_rerun_writes_nothing(installed):
    api, es, nodes, plan = installed
    ns = api.namespace
    assert {f"StatefulSet {ns}/elasticsearch", f"StatefulSet {ns}/elasticsearch-master"} <= {s.ref for s in plan.changes}
    assert _names(api, "elasticsearch-master") == [f"elasticsearch-master-{i}" for i in range(3)]
    assert _names(api, "elasticsearch") == ["elasticsearch-0", "elasticsearch-1"]
    for name, replicas in (("elasticsearch", 2), ("elasticsearch-master", 3)):
        assert api.get("StatefulSet", name, ns)["status"]["readyReplicas"] == replicas
    assert es.nodes() == 5  # the masters join as nodes too
    # The masters' own directory on the data nodes, never a data node's; one master per node.
    masters = api.pods("elasticsearch-master")
    assert len({p["spec"]["nodeName"] for p in masters}) == 3
    assert {v["hostPath"]["path"] for p in masters for v in p["spec"]["volumes"] if "hostPath" in v} == {"/es-data-master"}
    before = len(api.mutations())
    again, done, _ = deploy(api, settings_for(api, elasticsearch=MASTERS), nodes)
    assert not again.has_work and len(api.mutations()) == before


def test_a_config_change_restarts_data_nodes_then_masters_one_at_a_time(installed):
    api, es, nodes, _ = installed
    es.calls[:] = []
    record_restarts(api, es)
    renamed = {**MASTERS, "cluster_name": "renamed"}
    plan, done, log = deploy(api, settings_for(api, elasticsearch=renamed), nodes)
    ns = api.namespace
    assert sorted(s.ref for s in plan.changes) == [
        f"ConfigMap {ns}/elasticsearch-config", f"ConfigMap {ns}/elasticsearch-master-config",
        f"StatefulSet {ns}/elasticsearch", f"StatefulSet {ns}/elasticsearch-master"]
    prepare = ["PUT /_cluster/settings", "GET /_cluster/health", "PUT /_cluster/settings", "POST /_flush"]
    order = ["elasticsearch-1", "elasticsearch-0", "elasticsearch-master-2", "elasticsearch-master-1",
             "elasticsearch-master-0"]
    assert [t for t in _timeline(es) if t.startswith("DELETE-POD")] == \
        [f"DELETE-POD {n} allocation=primaries" for n in order]
    restarts = _timeline(es)[:len(order) * 5]
    assert restarts == [c for n in order for c in (*prepare, f"DELETE-POD {n} allocation=primaries")]
    # Every wait counts the masters as nodes: five joined before each restart.
    waits = [p for m, p in es.calls if p.startswith("/_cluster/health") and "wait_for_nodes" in p]
    assert waits and all("wait_for_nodes=%3E%3D5" in p or "wait_for_nodes=>=5" in p for p in waits)
    assert done["restarted"] == 5 and [line for line in log if line.startswith("restarted pod")] == \
        [f"restarted pod {n}" for n in order]
    assert not deploy(api, settings_for(api, elasticsearch=renamed), nodes)[0].has_work


def test_data_nodes_scale_up_and_down_without_quorum_calls(installed):
    api, es, nodes, _ = installed
    masters = {p["metadata"]["uid"] for p in api.pods("elasticsearch-master")}
    es.calls[:] = []
    deploy(api, settings_for(api, elasticsearch={**MASTERS, "replicas": 3}), nodes)
    assert _names(api, "elasticsearch") == ["elasticsearch-0", "elasticsearch-1", "elasticsearch-2"]
    assert es.nodes() == 6
    es.index("app-2026.12.04", {"log": "a line"})
    record_restarts(api, es)
    deploy(api, settings_for(api, elasticsearch=MASTERS), nodes)
    assert _names(api, "elasticsearch") == ["elasticsearch-0", "elasticsearch-1"]
    timeline = _timeline(es)
    # Drained (exclusion, then nothing left on it), removed, the exclusion cleared; no voting exclusion, no zen
    # quorum: the data nodes are not master-eligible.
    drain = timeline.index("GET /_cat/allocation/elasticsearch-2")
    assert timeline[drain - 1:drain + 3] == ["PUT /_cluster/settings", "GET /_cat/allocation/elasticsearch-2",
                                             "DELETE-POD elasticsearch-2 allocation=all", "PUT /_cluster/settings"]
    assert not [c for c in es.calls if "voting_config_exclusions" in c[1]] and es.voting_exclusions == []
    assert "discovery.zen.minimum_master_nodes" not in es.cluster_settings
    assert "cluster.routing.allocation.exclude._name" not in es.cluster_settings
    assert all(n.startswith("elasticsearch-") and not n.startswith("elasticsearch-master") for n in es.allocation()[0])
    assert {p["metadata"]["uid"] for p in api.pods("elasticsearch-master")} == masters  # untouched
    assert not deploy(api, settings_for(api, elasticsearch=MASTERS), nodes)[0].has_work


def test_a_layout_change_with_another_change_is_refused_before_anything_is_applied(installed):
    api, es, nodes, _ = installed
    before = len(api.mutations())
    # Layout changes alone are supported (test_master_layout.py); with replicas they would need two rules at once.
    with pytest.raises(ClusterError) as refused:
        deploy(api, settings_for(api, elasticsearch={**MASTERS, "masters": 0, "replicas": 3}), nodes)
    assert "[safety check: a supported master layout change]" in str(refused.value)
    assert "changing the master layout and replicas (2 -> 3) in one run are refused" in str(refused.value)
    assert "Keep elasticsearch.masters = 3 as installed" in str(refused.value)
    assert len(api.mutations()) == before


def test_verify_counts_the_masters_among_the_nodes(installed):
    api, es, nodes, _ = installed
    settings = settings_for(api, elasticsearch=MASTERS, verify={"timeout": 15})
    lines: list[str] = []
    report = verify_stage.run(Kube(load_client(settings)), settings, lines.append)
    assert report.es_nodes == 5 and not [p for p in report.problems if "nodes, expected" in p], report.problems
    assert any(line.startswith("Elasticsearch: green, 5 of 5 nodes") for line in lines), lines


def test_masters_statefulset_deleted_with_cascade_orphan_is_recreated_and_adopts_its_pods(installed):
    # As the immutable-fields refusal advises: the pods stay, the next run re-creates the StatefulSet; their
    # layout is the installed one, so this is no layout change.
    api, es, nodes, _ = installed
    settings = settings_for(api, elasticsearch=MASTERS)
    masters = {p["metadata"]["uid"] for p in api.pods("elasticsearch-master")}
    Kube(load_client(settings))._call("DELETE", RESOURCES["StatefulSet"].path(api.namespace, "elasticsearch-master"),
                                      body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Orphan"},
                                      content_type="application/json")
    api.wait_for("the StatefulSet to go", lambda: api.get("StatefulSet", "elasticsearch-master", api.namespace) is None)
    # The orphaned pods are the running layout: another number of masters is still refused (counted, not assumed).
    with pytest.raises(ClusterError, match=r"the running cluster has 3 dedicated master\(s\)"):
        deploy(api, settings_for(api, elasticsearch={**MASTERS, "masters": 5}), nodes)
    # Nor can they be retired without their StatefulSet: the data nodes' file says masters run elsewhere.
    with pytest.raises(ClusterError, match=r"3 dedicated master pod\(s\) wait to be adopted"):
        deploy(api, settings_for(api, elasticsearch={**MASTERS, "masters": 0}), nodes)
    plan, _, _ = deploy(api, settings, nodes)
    assert f"StatefulSet {api.namespace}/elasticsearch-master" in [s.ref for s in plan.changes]
    assert {p["metadata"]["uid"] for p in api.pods("elasticsearch-master")} == masters  # adopted, not replaced
    assert not deploy(api, settings, nodes)[0].has_work
