"""The verify stage against the fake API server, the fake kubelet and a fake Elasticsearch on loopback.

The in-cluster script (files/verify-canaries.sh) really runs, with curl, against the fake Elasticsearch.
"""

from __future__ import annotations

import pytest

from kubelogs.cluster.api import Kube, load_client
from kubelogs.verify import stage
from tests import harness
from tests.api_helpers import deploy, settings_for
from tests.fake_cluster import FakeKubelet
from tests.fake_elasticsearch import FakeElasticsearch


@pytest.fixture
def cluster(api):
    es = FakeElasticsearch(status="green", number_of_nodes=2, credentials=lambda: harness.es_credentials(api)).start()
    kubelet = FakeKubelet(api, es, {"elasticsearch.logging.svc:9200": es.address})
    yield api, es, kubelet
    es.stop()


def verify(api, **sections):
    settings = settings_for(api, verify={"timeout": 10}, **sections)
    deploy(api, settings)
    lines: list[str] = []
    report = stage.run(Kube(load_client(settings)), settings, lines.append)
    return report, lines


def leftover_pods(api):
    return [p["metadata"]["name"] for p in api.objects("Pod") if "kubelogs.io/verify" in p["metadata"].get("labels", {})]


def test_every_canary_found_reports_a_table_and_removes_its_pods(cluster):
    api, es, _ = cluster
    report, lines = verify(api)
    assert report.ok, lines
    assert lines[0] == "Elasticsearch: green, 2 of 2 nodes"
    assert lines[1].split(" | ") == ["node", "agent     ", "token found", "seconds to searchable"]
    rows = {line.split(" | ")[0].strip(): [c.strip() for c in line.split(" | ")[1:]] for line in lines[3:-1]}
    assert {node: row[:2] for node, row in rows.items()} == {
        "n1": ["fluent-bit", "yes"], "n2": ["fluent-bit", "yes"], "n3": ["log-pilot", "yes"]}
    assert lines[-1] == "verify: OK"
    assert leftover_pods(api) == []
    # both agents wrote to the contract's index, with the canary's token
    [index] = es.indices
    assert index.startswith("kubelogs-canary-") and {d["agent"] for d in es.indices[index]} == {"fluent-bit", "log-pilot"}


def test_nothing_secret_is_printed(cluster):
    api, _, _ = cluster
    _, lines = verify(api)
    user, password = harness.es_credentials(api)
    assert password not in "\n".join(lines)


def test_single_replica_yellow_passes_and_says_why(cluster):
    api, es, _ = cluster
    es.status, es.number_of_nodes = "yellow", 1
    report, lines = verify(api, elasticsearch={"replicas": 1})
    assert report.ok, lines
    assert "yellow is expected: with one Elasticsearch node" in "\n".join(lines)


def test_yellow_with_several_replicas_fails(cluster):
    api, es, _ = cluster
    es.status = "yellow"
    report, lines = verify(api)
    assert "Elasticsearch health is yellow (timed out waiting for green)" in report.problems


def test_missing_elasticsearch_nodes_fail(cluster):
    api, es, _ = cluster
    es.number_of_nodes = 1
    report, _ = verify(api)
    assert "Elasticsearch has 1 nodes, expected 2 (replicas)" in report.problems


def test_a_lost_line_names_the_node_after_the_timeout_and_cleans_up(cluster):
    api, _, kubelet = cluster
    kubelet.lost_nodes.add("n2")
    report, lines = verify(api)
    assert not report.ok
    assert [p for p in report.problems if "canary" in p] == [
        next(p for p in report.problems if p.startswith("node n2: canary line not found in index kubelogs-canary-"))]
    row = next(line for line in lines if line.startswith("n2 "))
    assert "| no (not in kubelogs-canary-" in row
    assert lines[-len(report.problems) - 1] == "verify: FAILED"
    assert leftover_pods(api) == []


def test_a_node_without_its_agent_is_named(cluster):
    api, _, _ = cluster
    settings = settings_for(api, verify={"timeout": 10})
    deploy(api, settings)
    agent_pod = next(p for p in api.objects("Pod") if p["spec"].get("nodeName") == "n1"
                     and p["metadata"]["labels"].get("app.kubernetes.io/name") == "fluent-bit")
    api.set_status("Pod", agent_pod["metadata"]["name"], "logging", {"phase": "Running", "containerStatuses": [
        {"name": "fluent-bit", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
    report = stage.run(Kube(load_client(settings)), settings, lambda line: None)
    assert "node n1: should run fluent-bit, but no ready fluent-bit pod is there" in report.problems


def test_canaries_that_cannot_start_fail_with_the_reason_and_are_removed(cluster):
    api, _, kubelet = cluster
    kubelet.start_pods = False
    report, _ = verify(api)
    assert any("did not start within 10 s" in p for p in report.problems), report.problems
    assert leftover_pods(api) == []


def test_unreachable_elasticsearch_fails_clearly(cluster):
    api, es, _ = cluster
    es.stop()
    report, _ = verify(api)
    assert any(p.startswith("Elasticsearch did not answer the verifier") for p in report.problems), report.problems
    assert leftover_pods(api) == []
