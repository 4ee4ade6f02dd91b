"""The coordination model of the fake Elasticsearch (tests/support/fake_es_coordination.py), rule by rule: each case
fails if its rule is missing. The rules' sources are in the module's doc."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support.fake_elasticsearch import FakeElasticsearch
from tests.support.fake_es_coordination import INITIAL_STATE_TIMEOUT, PLACEHOLDER, Coordination, reconfigure


def headless(app: str, not_ready: bool = True) -> dict:
    return {"spec": {"clusterIP": "None", "publishNotReadyAddresses": not_ready,
                     "selector": {"app.kubernetes.io/name": app}}}


SERVICES = {"elasticsearch-discovery": headless("elasticsearch"),
            "elasticsearch-master-discovery": headless("elasticsearch-master")}
DATA = ["data", "ingest"]


class Cluster:
    """A model and its pods: start/stop by name, evaluate with the namespace's Services."""

    def __init__(self, major: int = 8, services: dict | None = None) -> None:
        self.now = 0.0
        self.model = Coordination(major, clock=lambda: self.now)
        self.services = dict(SERVICES if services is None else services)
        self.uids: dict[str, str] = {}
        self.restarts = 0

    def start(self, name: str, seeds: str | list = "elasticsearch-discovery", initial: list[str] | None = None,
              **settings: object) -> None:
        app = "elasticsearch-master" if name.startswith("elasticsearch-master") else "elasticsearch"
        key = "discovery.seed_hosts" if self.model.major >= 7 else "discovery.zen.ping.unicast.hosts"
        config = {"node.name": "${HOSTNAME}", key: seeds, **settings}
        if initial is not None:
            config["cluster.initial_master_nodes"] = initial
        self.restarts += 1
        self.uids[name] = f"uid-{name}-{self.restarts}"
        self.model.start(self.uids[name], name, {"app.kubernetes.io/name": app}, config)

    def stop(self, name: str) -> None:
        self.model.stop(self.uids.pop(name))

    def settle(self) -> None:
        self.model.evaluate(self.services)

    def ready(self, name: str, local: bool = False) -> bool:
        return self.model.ready(self.uids[name], local)


ALL3 = [f"elasticsearch-{i}" for i in range(3)]


def three_nodes(major: int = 8) -> Cluster:
    c = Cluster(major)
    for name in ALL3:
        c.start(name, initial=ALL3)
    c.settle()
    return c


def test_three_nodes_bootstrap_one_cluster_and_elect_a_master():
    c = three_nodes()
    assert c.model.joined() == ALL3 and c.model.voting_config() == set(ALL3)
    assert c.model.has_master() and c.model.second_clusters == []
    assert all(c.ready(n) for n in ALL3)


def test_bootstrap_needs_a_majority_of_the_listed_nodes_and_its_own_name():
    c = Cluster()
    c.start("elasticsearch-0", initial=ALL3)
    c.settle()
    assert not c.model.has_master() and not c.ready("elasticsearch-0")  # 1 of 3 listed: no bootstrap
    c.start("elasticsearch-5", initial=["elasticsearch-5x"])  # its own name is not listed: never bootstraps
    c.settle()
    assert not c.model.clusters
    c.start("elasticsearch-1", initial=ALL3)
    c.settle()  # 2 of 3: bootstrapped, the missing one a placeholder; elasticsearch-5 joins it
    assert c.model.joined() == ["elasticsearch-0", "elasticsearch-1", "elasticsearch-5"]
    assert PLACEHOLDER + "elasticsearch-2" not in c.model.voting_config()  # reconfigured away: 3 live nodes
    assert c.model.voting_config() == {"elasticsearch-0", "elasticsearch-1", "elasticsearch-5"}


def test_a_two_node_cluster_votes_with_its_master_alone():
    # Reconfigurator: fewer than 3 in the configuration may shrink to 1 (the master). Restarting the other node
    # keeps the master; restarting the master loses it until it returns.
    names = ALL3[:2]
    c = Cluster()
    for name in names:
        c.start(name, initial=names)
    c.settle()
    assert c.model.voting_config() == {"elasticsearch-0"} and c.model.joined() == names
    c.stop("elasticsearch-1")
    c.settle()
    assert c.model.has_master() and c.model.joined() == ["elasticsearch-0"]
    c.start("elasticsearch-1", initial=names)
    c.settle()
    c.stop("elasticsearch-0")
    c.settle()
    assert not c.model.has_master() and not c.ready("elasticsearch-1")
    c.start("elasticsearch-0", initial=names)
    c.settle()
    assert c.model.joined() == names and c.model.second_clusters == []


def test_reconfiguration_follows_reconfigurator():
    # Candidates: current master, live, in the current configuration, name; not below 3 once 3 or more voted.
    assert reconfigure({"a", "b", "c", "d"}, set(), "d", {"a", "b", "c"}) == {"d", "a", "b"}
    assert reconfigure({"a", "b"}, set(), "a", {"a", "b", "c"}) == {"a", "b", "c"}
    assert reconfigure({"a", "b", "c"}, {"b", "c"}, "a", {"a", "b", "c"}) == {"a"}
    assert reconfigure({"a"}, {"a"}, "a", {"a"}) == {"a"}  # no quorum without it: unchanged


def test_a_node_whose_seeds_reach_only_data_only_nodes_never_joins():
    c = Cluster()
    masters = [f"elasticsearch-master-{i}" for i in range(3)]
    for name in masters:
        c.start(name, seeds="elasticsearch-master-discovery", initial=masters, **{"node.roles": ["master"]})
    c.start("elasticsearch-0", seeds="elasticsearch-master-discovery", **{"node.roles": DATA})
    # Seeds naming the data nodes' Service: its only peer is not master-eligible ("non-master-eligible node found").
    c.start("elasticsearch-1", seeds="elasticsearch-discovery", **{"node.roles": DATA})
    c.now = INITIAL_STATE_TIMEOUT + 1
    c.settle()
    assert c.model.joined() == ["elasticsearch-0", *masters]
    assert not c.ready("elasticsearch-1") and c.ready("elasticsearch-1", local=True)  # HTTP up after 30 s anyway
    assert c.model.data_nodes() == ["elasticsearch-0"]


def test_new_masters_with_a_bootstrap_list_and_seeds_that_miss_the_running_cluster_form_a_second_one():
    c = three_nodes()
    masters = [f"elasticsearch-master-{i}" for i in range(3)]
    for name in masters:
        c.start(name, seeds="elasticsearch-master-discovery", initial=masters, **{"node.roles": ["master"]})
    c.settle()
    assert c.model.second_clusters == [masters]
    assert c.model.joined() == ALL3 and all(c.ready(n) for n in masters)  # ready, in a cluster of their own


def test_new_masters_whose_seeds_reach_the_running_cluster_join_it():
    c = three_nodes()
    for i in range(3):
        c.start(f"elasticsearch-master-{i}", seeds=["elasticsearch-discovery", "elasticsearch-master-discovery"],
                initial=[f"elasticsearch-master-{j}" for j in range(3)], **{"node.roles": ["master"]})
    c.settle()
    assert c.model.second_clusters == [] and len(c.model.joined()) == 6
    # Six master-eligible: five vote (round down to odd), the three already in first, then by name.
    assert c.model.voting_config() == {*ALL3, "elasticsearch-master-0", "elasticsearch-master-1"}


def test_a_joined_node_probes_nobody_so_a_searching_node_must_reach_it_through_its_own_seeds():
    # Masters whose seeds name the data nodes' Service, in a cluster with a master: a data node restarted as
    # master-eligible, whose seeds name only that Service, finds no master-eligible peer (the masters do not probe
    # while they follow a master), so it never joins; with the masters' Service among its seeds it does.
    c = Cluster()
    masters = [f"elasticsearch-master-{i}" for i in range(3)]
    for name in masters:
        c.start(name, seeds=["elasticsearch-master-discovery", "elasticsearch-discovery"], initial=masters,
                **{"node.roles": ["master"]})
    c.start("elasticsearch-0", seeds="elasticsearch-master-discovery", **{"node.roles": DATA})
    c.settle()
    c.start("elasticsearch-1", seeds="elasticsearch-discovery")  # every role: master-eligible
    c.settle()
    assert "elasticsearch-1" not in c.model.joined() and not c.ready("elasticsearch-1")
    c.stop("elasticsearch-1")
    c.start("elasticsearch-1", seeds=["elasticsearch-discovery", "elasticsearch-master-discovery"])
    c.settle()
    assert "elasticsearch-1" in c.model.joined() and c.model.second_clusters == []


def test_removing_two_of_three_voters_without_exclusions_loses_the_master():
    c = three_nodes()
    c.stop("elasticsearch-2")
    c.settle()
    assert c.model.has_master() and c.model.voting_config() == set(ALL3)  # never below 3 by itself
    c.stop("elasticsearch-1")
    c.settle()
    assert not c.model.has_master() and not c.ready("elasticsearch-0")
    assert "master lost (no quorum)" in c.model.events


def test_excluding_first_keeps_the_master_while_two_of_three_leave():
    c = three_nodes()
    assert c.model.add_exclusions(["elasticsearch-1", "elasticsearch-2"]) == (200, "")
    assert c.model.voting_config() == {"elasticsearch-0"}
    c.stop("elasticsearch-2")
    c.stop("elasticsearch-1")
    c.settle()
    assert c.model.joined() == ["elasticsearch-0"]
    assert c.model.clear_exclusions() == (200, "") and c.model.exclusions() == []


@pytest.mark.parametrize("major, status", [(8, 500), (9, 429)])
def test_excluding_the_last_master_eligible_node_times_out_and_the_entry_stays(major, status):
    c = Cluster(major)
    c.start("elasticsearch-0", initial=["elasticsearch-0"])
    c.settle()
    got, body = c.model.add_exclusions(["elasticsearch-0"])
    assert (got, body["error"]["type"]) == (status, "timeout_exception")
    assert body["error"]["reason"] == ("timed out waiting for voting config exclusions "
                                       "[{elasticsearch-0}{elasticsearch-0}] to take effect")
    assert c.model.exclusions() == ["elasticsearch-0"] and c.model.has_master()


def test_an_excluded_master_abdicates():
    c = three_nodes()
    master = c.model.first().master
    assert c.model.add_exclusions([master]) == (200, "")
    assert c.model.first().master not in (None, master) and master not in c.model.voting_config()
    assert f"{master} abdicated" in c.model.events


@pytest.mark.parametrize("major, hint", [(7, "set waitForRemoval to false"), (8, "set ?wait_for_removal=false")])
def test_clearing_waits_for_the_excluded_nodes_to_leave(major, hint):
    c = three_nodes(major)
    c.model.add_exclusions(["elasticsearch-2"])
    status, body = c.model.clear_exclusions()
    assert status == 500 and body["error"]["reason"].startswith(
        f"timed out waiting for removal of nodes; if nodes should not be removed, {hint}. [")
    assert c.model.exclusions() == ["elasticsearch-2"]
    assert c.model.clear_exclusions(wait_for_removal=False) == (200, "") and c.model.exclusions() == []
    c.model.add_exclusions(["elasticsearch-2"])
    c.stop("elasticsearch-2")
    assert c.model.clear_exclusions() == (200, "")


def test_at_most_ten_exclusions_and_unknown_names_are_absent_entries():
    c = three_nodes()
    names = [f"gone-{i}" for i in range(10)]
    assert c.model.add_exclusions(names) == (200, "")
    status, body = c.model.add_exclusions(["elasticsearch-1"])
    assert status == 400 and "which would exceed the maximum of [10]" in body["error"]["reason"]
    assert c.model.first().exclusions[0] == ("_absent_", "gone-0")


def test_the_path_form_needs_a_master_eligible_node():
    c = three_nodes(7)
    status, body = c.model.add_exclusions(["nobody"], path_form=True)
    assert status == 400 and "matched no master-eligible nodes" in body["error"]["reason"]


@pytest.mark.parametrize("roles, master, data", [
    ({"node.roles": ["master"]}, True, False), ({"node.roles": ["data_hot", "ingest"]}, False, True),
    ({"node.master": False, "node.data": True}, False, True), ({"node.master": "true", "node.data": "false"}, True, False),
    ({}, True, True)])
def test_roles_from_the_file(roles, master, data):
    c = Cluster()
    c.start("elasticsearch-0", **roles)
    node = c.model.nodes[c.uids["elasticsearch-0"]]
    assert (node.master, node.data) == (master, data)


def test_a_node_back_without_the_master_role_is_reconfigured_out_of_the_vote():
    # elastic/elasticsearch#43688 (7.3+): its join triggers a reconfiguration that removes it; two master-eligible
    # nodes left in a configuration of fewer than three non-retired nodes: the master votes alone.
    c = three_nodes()
    c.stop("elasticsearch-2")
    c.start("elasticsearch-2", initial=ALL3, **{"node.roles": DATA})
    c.settle()
    assert c.model.joined() == ALL3 and c.model.voting_config() == {c.model.first().master}
    other = next(n for n in ALL3[:2] if n != c.model.first().master)
    c.stop(other)
    c.settle()
    assert c.model.has_master()  # the one left voting is the master
    c.stop(c.model.first().master)
    c.settle()
    assert not c.model.has_master()  # and with it the vote: a data-only node cannot take over


def test_a_full_restart_elects_again_from_the_data_paths_without_a_second_bootstrap():
    c = three_nodes()
    for name in ALL3:
        c.stop(name)
    c.settle()
    for name in ALL3:
        c.start(name, initial=ALL3)
    c.settle()
    assert c.model.joined() == ALL3 and c.model.second_clusters == [] and len(c.model.clusters) == 1


def test_without_publish_not_ready_addresses_the_nodes_never_find_each_other():
    c = Cluster(services={"elasticsearch-discovery": headless("elasticsearch", not_ready=False)})
    for name in ALL3:
        c.start(name, initial=ALL3)
    c.settle()
    assert not c.model.clusters


def test_zen_elects_while_the_master_eligible_nodes_reach_minimum_master_nodes():
    c = Cluster(6)
    quorum: dict = {}
    c.model.persistent_quorum = lambda: quorum.get("value")
    for name in ALL3[:2]:
        c.start(name, seeds="elasticsearch-discovery", **{"discovery.zen.minimum_master_nodes": 2})
    c.settle()
    assert c.model.joined() == ALL3[:2]
    c.stop("elasticsearch-1")
    c.settle()
    assert not c.model.has_master()
    quorum["value"] = "1"  # the persistent setting wins over the file
    c.settle()
    assert c.model.joined() == ["elasticsearch-0"]


def test_the_fake_answers_503_without_a_master_and_checks_exclusions():
    c = Cluster(8)
    c.start("elasticsearch-0", initial=ALL3)
    c.settle()
    with FakeElasticsearch(major=8, coordination=c.model) as es:
        def call(method: str, path: str) -> tuple[int, object]:
            try:
                with urllib.request.urlopen(urllib.request.Request(f"http://{es.address}{path}", method=method),
                                            timeout=5) as resp:
                    return resp.status, json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())
        cause = {"type": "master_not_discovered_exception", "reason": None}
        assert call("GET", "/_cluster/health") == (503, {"error": {"root_cause": [cause], **cause}, "status": 503})
        assert call("GET", "/_cluster/health?local=true")[1]["status"] == "red"
        assert call("PUT", "/_cluster/settings")[0] == 503
        c.start("elasticsearch-1", initial=ALL3)
        c.settle()
        assert call("GET", "/_cluster/health")[1]["number_of_nodes"] == 2
        status, body = call("POST", "/_cluster/voting_config_exclusions?node_names=elasticsearch-0,elasticsearch-1")
        assert status == 500 and body["error"]["type"] == "timeout_exception"
        assert es.voting_exclusions == ["elasticsearch-0", "elasticsearch-1"]
        assert call("POST", "/_cluster/voting_config_exclusions/elasticsearch-0")[0] == 400  # removed in 8.0
