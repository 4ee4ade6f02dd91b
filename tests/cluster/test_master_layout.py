"""Day 2 on the cluster tier: the master layout of a running cluster changes (elasticsearch.masters 0 -> 3 -> 0,
cluster/layout.py) and its data nodes scale 2 -> 4 -> 2 -> 1, each with the order of Elasticsearch's calls asserted
against the fake, which follows Elasticsearch's allocation rules and, where it models them, its coordination."""

from __future__ import annotations

import pytest
import yaml

from kubelogs.cluster.api import ClusterError
from tests.cluster.test_day2 import ADMIN_PATHS, record_restarts
from tests.support.cluster_helpers import deploy, settings_for
from tests.support.tier import node_targets

ES = {"version": "9.5.7", "replicas": 2, "security": False}


def _nodes(api):
    # Four data-labelled nodes: with hostPath storage each pod of a set needs a node of its own.
    return [*api.nodes, *node_targets(api, [("n4", "containerd", True), ("n5", "containerd", True)])]


def _timeline(es) -> list[str]:
    return [f"{m} {p}" for m, p in es.calls if m == "DELETE-POD" or p.startswith((*ADMIN_PATHS, "/_cat/nodes"))]


def _cut(calls: list[str]) -> list[str]:
    return [c.split("?")[0] for c in calls]


def _yml(api, config_map: str) -> dict:
    return yaml.safe_load(api.get("ConfigMap", config_map, api.namespace)["data"]["elasticsearch.yml"])


def _phases(plan) -> list[str]:
    return [p.name for p in plan.phases]


def _uids(api, component: str) -> set[str]:
    return {p["metadata"]["uid"] for p in api.pods(component)}


def test_dedicated_masters_are_added_to_a_running_cluster_and_retired_again(api):
    nodes, ns = _nodes(api), api.namespace
    es = api.serve_elasticsearch(9)
    deploy(api, settings_for(api, elasticsearch=ES), nodes)
    es.index("app-2026.12.04", {"log": "a line"})
    es.calls[:] = []
    record_restarts(api, es)

    # 0 -> 3: the masters join, the data nodes leave the vote, then restart as data-only nodes, one at a time.
    plan, done, log = deploy(api, settings_for(api, elasticsearch={**ES, "masters": 3}), nodes)
    phases = _phases(plan)
    assert phases.index("wait for rollouts") < phases.index("dedicated masters take over") \
        < phases.index("restart outdated Elasticsearch pods")
    exclude = "POST /_cluster/voting_config_exclusions?node_names=elasticsearch-0,elasticsearch-1"
    health = "GET /_cluster/health?wait_for_status=green&timeout=30s&wait_for_nodes=>=5"  # every node, masters too
    prepare = ["PUT /_cluster/settings", health, "PUT /_cluster/settings", "POST /_flush"]
    timeline = _timeline(es)
    assert timeline[timeline.index(exclude) - 1:] == [
        health, exclude, "GET /_cat/nodes?h=name,node.role",  # after the data-only file: who is still eligible
        *prepare, "DELETE-POD elasticsearch-1 allocation=primaries", *prepare, "DELETE-POD elasticsearch-0 allocation=primaries",
        "PUT /_cluster/settings", health,  # allocation back on
        "DELETE /_cluster/voting_config_exclusions?wait_for_removal=false"], timeline
    assert _yml(api, "elasticsearch-config")["node.roles"] == ["data", "ingest"]
    masters_file = _yml(api, "elasticsearch-master-config")
    assert "cluster.initial_master_nodes" not in masters_file  # they join; they never bootstrap a second cluster
    assert masters_file["discovery.seed_hosts"] == ["elasticsearch-master-discovery"]  # as it settles
    # The data nodes' file turned data-only only once the vote had moved (an eviction before it brings a data node
    # back master-eligible, with seed hosts in both sets), just before their restarts.
    settled = [i for i, line in enumerate(log) if line.startswith("updated   ConfigMap") and "settles" in line]
    take_over = next(i for i, line in enumerate(log) if line.startswith("phase") and "dedicated masters take over" in line)
    restart = next(i for i, line in enumerate(log) if line.startswith("phase") and "restart outdated" in line)
    assert len(settled) == 2 and take_over < min(settled) and max(settled) < restart, log
    assert es.nodes() == 5 and es.voting_exclusions == [] and es.health() == "green"
    assert sorted(es.allocation()[0]) == ["elasticsearch-0", "elasticsearch-1"]  # masters hold no shard
    # Elasticsearch's coordination, as the fake follows it: the vote moved to the masters, one of them elected,
    # and no second cluster formed at any point.
    coordination = es.coordination
    assert coordination.voting_config() == {f"elasticsearch-master-{i}" for i in range(3)}
    assert coordination.second_clusters == [] and not [e for e in coordination.events if e.startswith("master lost")]
    assert not deploy(api, settings_for(api, elasticsearch={**ES, "masters": 3}), nodes)[0].has_work

    # 3 -> 0: the data nodes restart as master-eligible, the masters leave the vote, then go; their data stays.
    es.calls[:] = []
    masters = _uids(api, "elasticsearch-master")
    plan, done, log = deploy(api, settings_for(api, elasticsearch=ES), nodes)
    phases = _phases(plan)
    assert phases.index("restart outdated Elasticsearch pods") < phases.index("retire the dedicated masters") \
        < phases.index("Elasticsearch calls after the rollout")
    timeline = _timeline(es)
    retire = timeline.index("POST /_cluster/voting_config_exclusions?node_names=elasticsearch-master-0,"
                            "elasticsearch-master-1,elasticsearch-master-2")
    restarted = [c for c in timeline[:retire] if c.startswith("DELETE-POD")]
    assert restarted == ["DELETE-POD elasticsearch-1 allocation=primaries", "DELETE-POD elasticsearch-0 allocation=primaries"]
    # Each restart waits for every node, the masters being retired included: a data node that never rejoined stops it.
    assert all("wait_for_nodes=>=5" in c for c in timeline[:retire] if c.startswith("GET /_cluster/health"))
    assert timeline[retire - 1] == "GET /_cluster/health?wait_for_status=green&timeout=30s&wait_for_nodes=>=5"
    # The masters were deleted after the exclusion (their pods' terminations come after it), then the exclusions
    # cleared, once they had left.
    after = timeline[retire + 1:]
    assert [c for c in after if not c.startswith("DELETE-POD elasticsearch-master-")] == \
        ["DELETE /_cluster/voting_config_exclusions"]
    assert after[-1] == "DELETE /_cluster/voting_config_exclusions"
    # Every object of the masters goes in the retire phase, after the exclusion; none earlier with the other prunes.
    retire_phase = next(i for i, line in enumerate(log) if line.startswith("phase") and "retire the dedicated" in line)
    pruned = {line.split()[1] + " " + line.split()[2].split("/")[1]: i for i, line in enumerate(log) if line.startswith("prune")}
    assert {ref for ref, i in pruned.items() if i > retire_phase} == {
        "StatefulSet elasticsearch-master", "ConfigMap elasticsearch-master-config",
        "Service elasticsearch-master-discovery", "PodDisruptionBudget elasticsearch-master",
        "NetworkPolicy elasticsearch-master-transport"}, log
    assert api.get("StatefulSet", "elasticsearch-master", ns) is None and not api.pods("elasticsearch-master")
    assert api.get("ConfigMap", "elasticsearch-master-config", ns) is None
    assert not masters & _uids(api, "elasticsearch-master")
    data_file = _yml(api, "elasticsearch-config")
    assert data_file["discovery.seed_hosts"] == ["elasticsearch-discovery"] and "node.roles" not in data_file
    assert any(line.startswith("updated   ConfigMap") and "settles" in line for line in log)
    assert es.nodes() == 2 and es.voting_exclusions == [] and es.health() == "green"
    assert coordination.voting_config() <= {"elasticsearch-0", "elasticsearch-1"} and coordination.voting_config()
    assert coordination.second_clusters == [] and not [e for e in coordination.events if e.startswith("master lost")]
    assert not deploy(api, settings_for(api, elasticsearch=ES), nodes)[0].has_work


def test_data_nodes_scale_2_4_2_1_with_the_index_settings_before_each_drain(api):
    es = api.serve_elasticsearch(9)
    nodes = _nodes(api)
    deploy(api, settings_for(api, elasticsearch=ES), nodes)
    es.index("app-2026.12.04", {"log": "a line"})  # one primary and one replica
    first = _uids(api, "elasticsearch")
    record_restarts(api, es)

    es.calls[:] = []
    deploy(api, settings_for(api, elasticsearch={**ES, "replicas": 4}), nodes)
    assert first <= _uids(api, "elasticsearch") and es.nodes() == 4  # growing restarts nothing
    assert not [c for c in _timeline(es) if "voting" in c or c.startswith("DELETE-POD")]
    assert es.health() == "green"

    # 4 -> 2: the log indices keep their one replica (two nodes can hold it), so no settings go first; the two
    # leaving nodes are drained and excluded from voting together, removed, then both exclusions cleared.
    es.calls[:] = []
    deploy(api, settings_for(api, elasticsearch=ES), nodes)
    timeline = _cut(_timeline(es))
    removed = sorted(c for c in timeline if c.startswith("DELETE-POD"))  # together (Parallel pod management)
    assert [c for c in timeline if not c.startswith("DELETE-POD")] == [
        "GET /_cluster/health", "PUT /_cluster/settings", "GET /_cat/allocation/elasticsearch-2",
        "GET /_cat/allocation/elasticsearch-3", "POST /_cluster/voting_config_exclusions",
        "PUT /_cluster/settings", "DELETE /_cluster/voting_config_exclusions"], timeline
    assert removed == ["DELETE-POD elasticsearch-2 allocation=all", "DELETE-POD elasticsearch-3 allocation=all"]
    assert timeline.index("POST /_cluster/voting_config_exclusions") < min(map(timeline.index, removed)) \
        < max(map(timeline.index, removed)) < timeline.index("PUT /_cluster/settings", 2)
    assert ("POST", "/_cluster/voting_config_exclusions?node_names=elasticsearch-2,elasticsearch-3") in es.calls
    assert es.nodes() == 2 and es.health() == "green" and es.voting_exclusions == []

    # 2 -> 1: one node can hold no replica, so the index settings go first, else the drain would wait in vain.
    es.calls[:] = []
    deploy(api, settings_for(api, elasticsearch={**ES, "replicas": 1}), nodes)
    timeline = _cut(_timeline(es))
    drain = timeline.index("GET /_cat/allocation/elasticsearch-1")
    assert timeline.index("PUT /*-20*/_settings") < drain
    assert timeline[drain - 2:] == ["GET /_cluster/health", "PUT /_cluster/settings", "GET /_cat/allocation/elasticsearch-1",
                                    "POST /_cluster/voting_config_exclusions", "DELETE-POD elasticsearch-1 allocation=all",
                                    "PUT /_cluster/settings", "DELETE /_cluster/voting_config_exclusions"]
    assert es.allocation() == ({"elasticsearch-0": 1}, 0) and es.health() == "green"
    assert es.nodes() == 1 and es.voting_exclusions == []
    assert not deploy(api, settings_for(api, elasticsearch={**ES, "replicas": 1}), nodes)[0].has_work


def test_adding_masters_stopped_before_the_hand_over_is_resumed_by_the_next_run(api):
    nodes = _nodes(api)
    es = api.serve_elasticsearch(9)
    deploy(api, settings_for(api, elasticsearch=ES), nodes)
    data = _uids(api, "elasticsearch")
    es.status = "yellow"  # the hand-over waits for green: the run stops there, with the masters running
    with pytest.raises(ClusterError) as stopped:
        deploy(api, settings_for(api, elasticsearch={**ES, "masters": 3}, kubernetes={"rollout_timeout": 3}), nodes)
    assert "The safety check 'the master role handed over' is not met." in str(stopped.value)
    assert _uids(api, "elasticsearch") == data and len(api.pods("elasticsearch-master")) == 3
    assert not [c for c in es.calls if "voting_config_exclusions" in c[1]]
    # Until the hand-over, the data nodes' file keeps them master-eligible: one evicted now comes back able to vote.
    assert "node.roles" not in _yml(api, "elasticsearch-config")
    evicted = api.pods("elasticsearch")[0]
    api.admin.delete("Pod", evicted["metadata"]["name"], api.namespace)
    api.wait_for("the evicted pod back and ready", lambda: any(
        p["metadata"]["name"] == evicted["metadata"]["name"] and p["metadata"]["uid"] != evicted["metadata"]["uid"]
        and p["status"].get("phase") == "Running" for p in api.pods("elasticsearch")) and es.nodes() == 5)
    assert evicted["metadata"]["name"] in es.coordination.voting_config() | {
        n.name for n in es.coordination.nodes.values() if n.master}
    # Turning back half-way is refused by name: the change to 3 masters is under way.
    with pytest.raises(ClusterError, match=r"an earlier run's change to 3 dedicated master\(s\) is under way"):
        deploy(api, settings_for(api, elasticsearch=ES), nodes)
    # The next run's layout is already 3 masters; the clearing it still owes says the hand-over is under way.
    es.status, es.calls[:] = "green", []
    plan, _, _ = deploy(api, settings_for(api, elasticsearch={**ES, "masters": 3}), nodes)
    assert "dedicated masters take over" in _phases(plan)
    assert ("POST", "/_cluster/voting_config_exclusions?node_names=elasticsearch-0,elasticsearch-1") in es.calls
    assert es.calls[-1] == ("DELETE", "/_cluster/voting_config_exclusions?wait_for_removal=false")
    assert not data & _uids(api, "elasticsearch") and es.voting_exclusions == []
    # The evicted one too, though it came back at the update revision: it had read the file that kept it eligible.
    assert es.coordination.master_eligible() == {f"elasticsearch-master-{i}" for i in range(3)}
    assert not deploy(api, settings_for(api, elasticsearch={**ES, "masters": 3}), nodes)[0].has_work


def test_the_number_of_masters_changes_3_7_3_with_exclusions_only_when_fewer(api):
    # 7 data-labelled nodes: with hostPath storage each master needs one of its own.
    nodes = [*api.nodes, *node_targets(api, [(f"n{i}", "containerd", True) for i in range(4, 9)])]
    es = api.serve_elasticsearch(9)
    masters3 = {**ES, "masters": 3}
    deploy(api, settings_for(api, elasticsearch=masters3), nodes)
    before = _uids(api, "elasticsearch") | _uids(api, "elasticsearch-master")
    es.calls[:] = []
    record_restarts(api, es)
    # More: they join through the seed hosts and the voting configuration grows by itself; nothing restarts.
    deploy(api, settings_for(api, elasticsearch={**ES, "masters": 7}), nodes)
    assert before <= _uids(api, "elasticsearch") | _uids(api, "elasticsearch-master") and es.nodes() == 9
    assert not [c for c in _timeline(es) if "voting" in c or c.startswith("DELETE-POD")]
    coordination = es.coordination
    assert coordination.voting_config() == {f"elasticsearch-master-{i}" for i in range(7)}
    # Fewer: four of seven voters leave together, more than the configuration can lose by itself: they are
    # excluded from voting first, then removed, then the exclusions cleared once they have left; no shard to drain.
    es.calls[:] = []
    deploy(api, settings_for(api, elasticsearch=masters3), nodes)
    assert coordination.second_clusters == [] and not [e for e in coordination.events if e.startswith("master lost")]
    timeline = _timeline(es)
    assert [c for c in timeline if not c.startswith("DELETE-POD")] == [
        "GET /_cluster/health?wait_for_status=green&timeout=30s&wait_for_nodes=>=5",  # the nodes that stay
        "POST /_cluster/voting_config_exclusions?node_names=elasticsearch-master-3,elasticsearch-master-4,"
        "elasticsearch-master-5,elasticsearch-master-6",
        "DELETE /_cluster/voting_config_exclusions"], timeline
    removed = [i for i, c in enumerate(timeline) if c.startswith("DELETE-POD")]
    assert sorted(timeline[i].split()[1] for i in removed) == [f"elasticsearch-master-{i}" for i in range(3, 7)]
    assert 1 < min(removed) and max(removed) < len(timeline) - 1
    assert coordination.voting_config() == {f"elasticsearch-master-{i}" for i in range(3)}
    assert coordination.second_clusters == [] and not [e for e in coordination.events if e.startswith("master lost")]
    assert es.nodes() == 5 and es.voting_exclusions == []
    assert _uids(api, "elasticsearch") | _uids(api, "elasticsearch-master") <= before  # nothing restarted
    assert not deploy(api, settings_for(api, elasticsearch=masters3), nodes)[0].has_work


def test_retiring_masters_stopped_after_the_restarts_is_finished_by_the_next_run(api):
    nodes = _nodes(api)
    es = api.serve_elasticsearch(9)
    deploy(api, settings_for(api, elasticsearch={**ES, "masters": 3}), nodes)

    def turn_yellow(meta: dict) -> None:  # once the last data node restarts, the cluster stays yellow
        if meta["name"] == "elasticsearch-0":
            es.status = "yellow"
    api.tier.kubelet.on_terminate = turn_yellow
    with pytest.raises(ClusterError, match="allocation back on"):
        deploy(api, settings_for(api, elasticsearch=ES, kubernetes={"rollout_timeout": 3}), nodes)
    assert len(api.pods("elasticsearch-master")) == 3  # the masters still run: the run stopped before their turn
    api.tier.kubelet.on_terminate = None
    es.status, es.calls[:] = "green", []
    # The next run retires them; what the first left to do after the restarts waits for the nodes that stay.
    plan, _, _ = deploy(api, settings_for(api, elasticsearch=ES), nodes)
    assert "retire the dedicated masters" in _phases(plan) and not api.pods("elasticsearch-master")
    assert not [c for c in es.calls if "wait_for_nodes=>=5" in c[1] and c[1].startswith("/_cluster/health")][1:]
    assert es.coordination.second_clusters == [] and es.voting_exclusions == []
    assert not deploy(api, settings_for(api, elasticsearch=ES), nodes)[0].has_work
