"""The verify stage on the cluster tier: canaries on every node, Fluent Bit shipping their lines on
containerd nodes (the real binary where it is given, else played by its configuration), log-pilot played
by the contract on the Docker node, the in-cluster script (files/verify-canaries.sh) run with curl against
the fake Elasticsearch behind the Service, and its result read through the API server's pods/NAME/log
(from the test kubelet's endpoint). Tests of what only Fluent Bit itself does (retries, dead letters)
carry the ``fluent_bit`` marker.
"""

from __future__ import annotations

import re

import pytest

from kubelogs.cluster.api import Kube, load_client
from kubelogs.manifests.fluent_bit import DEAD_LETTERS_DIR
from kubelogs.verify import stage
from tests.support.cluster_helpers import deploy

# 6.8 with log-pilot on the Docker node: both agents' canaries in one table.
from tests.support.cluster_helpers import log_pilot_settings_for as settings_for
from tests.support.kubelet import write_container_log
from tests.support.log_traffic import app_pod, dead_letters_probe


@pytest.fixture
def cluster(api):
    es = api.serve_elasticsearch(major=6)  # the log-pilot recipe's version, 6.8.23
    yield api, es, api.tier.kubelet


def verify(api, then=lambda: None, **sections):
    """Deploy, do ``then`` (a fault the verify stage must see), verify with every node's dead letters read."""
    settings = settings_for(api, verify={"timeout": 15}, **sections)
    deploy(api, settings)
    then()
    lines: list[str] = []
    report = stage.run(Kube(load_client(settings)), settings, lines.append, dead_letters_on(api))
    return report, lines


def dead_letters_on(api) -> dict:
    """What the node stage's fact reads on each node: its probe, run on the played node's filesystem."""
    return {name: dead_letters_probe(node.root / DEAD_LETTERS_DIR.lstrip("/"))
            for name, node in api.tier.kubelet.nodes.items() if name in api.node_names}


def leftover_pods(api):
    """Verify pods the stage did not delete (deleted ones carry a deletionTimestamp until the kubelet confirms)."""
    return [p["metadata"]["name"] for p in api.objects("Pod")
            if "kubelogs.io/verify" in p["metadata"].get("labels", {}) and not p["metadata"].get("deletionTimestamp")]


def rows_of(lines: list[str]) -> dict[str, list[str]]:
    return {line.split(" | ")[0].strip(): [c.strip() for c in line.split(" | ")[1:]]
            for line in lines if " | " in line and not line.startswith("node ")}


def test_every_canary_found_reports_a_table_and_removes_its_pods(cluster):
    api, es, _ = cluster
    n1, n2, n3 = (n.node for n in api.nodes)
    report, lines = verify(api)
    assert report.ok, lines
    assert lines[0] == "Elasticsearch: green, 2 of 2 nodes; retention: indices deleted after 14d (ILM policy kubelogs-logs)"
    assert re.fullmatch(r"TLS: HTTPS; earliest expiry \d{4}-\d\d-\d\d \(the HTTP certificate, 36[45] days\)", lines[1])
    assert lines[2] == "Kibana: green; index patterns kubelogs-canary-* (1 new); no dashboard (this version has no import API)"
    assert [c.strip() for c in lines[3].split(" | ")] == [
        "node", "agent", "token found", "seconds to searchable", "retries", "dead letters", "unrouted"]
    # Fluent Bit's counters through the API server's pod proxy; log-pilot has none to read.
    assert {node: row[:1] + row[3:] for node, row in rows_of(lines).items()} == {
        n1: ["fluent-bit", "0", "0", "0"], n2: ["fluent-bit", "0", "0", "0"], n3: ["log-pilot", "-", "-", "-"]}
    assert all(row[1] == "yes" for row in rows_of(lines).values())
    assert lines[-1] == "verify: OK"
    assert leftover_pods(api) == []
    # The containerd nodes' lines went through Fluent Bit (its kubernetes filter added the pod's metadata from
    # the API server, or the played agent did by its configuration); the Docker node's came from played log-pilot.
    [index] = es.indices
    assert index.startswith("kubelogs-canary-")
    shipped_by_fluent_bit = {d["kubernetes"]["host"] for d in es.indices[index] if "kubernetes" in d}
    assert shipped_by_fluent_bit == {n1, n2}
    assert {d["k8s_node_name"] for d in es.indices[index] if "k8s_node_name" in d} == {n3}
    assert all(d["kubernetes"]["annotations"]["kubelogs_io/log-name"] == "kubelogs-canary"  # Replace_Dots
               for d in es.indices[index] if "kubernetes" in d)


def test_nothing_secret_is_printed(cluster):
    api, _, _ = cluster
    _, lines = verify(api)
    password = api.secret_data("elasticsearch-credentials")["password"]
    assert password not in "\n".join(lines)


def test_single_replica_yellow_passes_and_says_why(cluster):
    api, es, _ = cluster
    es.status = "yellow"
    report, lines = verify(api, elasticsearch={"replicas": 1})
    assert report.ok, lines
    assert "yellow is expected: with one Elasticsearch node" in "\n".join(lines)


def test_yellow_with_several_replicas_fails(cluster):
    api, es, _ = cluster
    report, lines = verify(api, then=lambda: setattr(es, "status", "yellow"))
    assert "Elasticsearch health is yellow (timed out waiting for green)" in report.problems


def test_missing_elasticsearch_nodes_fail(cluster):
    api, es, _ = cluster
    es.number_of_nodes = 1
    report, _ = verify(api)
    assert "Elasticsearch has 1 nodes, expected 2 (replicas)" in report.problems


@pytest.mark.fluent_bit
def test_a_lost_line_names_the_node_after_the_timeout_and_cleans_up(cluster):
    api, es, _ = cluster
    lost = api.nodes[1].node
    # Elasticsearch rejects that node's documents (a partial bulk reject): its line never arrives.
    es.reject = lambda doc: "mapping conflict" if (doc.get("kubernetes") or {}).get("host") == lost else None
    report, lines = verify(api)
    assert not report.ok
    assert [p for p in report.problems if "canary" in p] == [
        next(p for p in report.problems if p.startswith(f"node {lost}: canary line not found in index kubelogs-canary-"))]
    row = next(line for line in lines if line.startswith(f"{lost} "))
    assert "| no (not in kubelogs-canary-" in row
    # Fluent Bit sends one container's lines per request, so the reject refused the whole request: Fluent
    # Bit retries it, and the table counts the retries.
    assert int(rows_of(lines)[lost][3]) >= 1
    assert all(len(indices) == 1 for indices in es.bulk_indices)
    assert lines[-len(report.problems) - 1] == "verify: FAILED"
    assert leftover_pods(api) == []


@pytest.mark.fluent_bit
def test_a_batch_refused_past_the_retry_limit_is_dead_lettered_and_fails_verify(cluster):
    api, es, kubelet = cluster
    lost = api.nodes[1].node
    es.reject = lambda doc: "mapping conflict" if (doc.get("kubernetes") or {}).get("host") == lost else None
    dead = kubelet.nodes[lost].root / DEAD_LETTERS_DIR.lstrip("/")
    files = []

    def refused_lines_dead_lettered():
        pod = app_pod(api, "refused", lost, "refused-app")
        write_container_log(kubelet.nodes[lost], pod, "app", ["a line Elasticsearch refuses"])
        api.wait_for("the refused batch in the dead-letter queue", lambda: any(dead.glob("*.flb")), timeout=60)
        files.append(len(list(dead.glob("*.flb"))))  # as the node's state is read next (the canary's comes later)

    report, lines = verify(api, then=refused_lines_dead_lettered, agents={"retry_limit": 1})
    files = files[0]
    [problem] = [p for p in report.problems if "dead-letter" in p]
    assert problem.startswith(f"node {lost}: {files} batch file(s) (")
    assert f"in Fluent Bit's dead-letter queue {DEAD_LETTERS_DIR}: lines Elasticsearch refused 2 times" in problem
    assert f"kubectl -n {api.namespace} logs fluent-bit-" in problem
    row = rows_of(lines)[lost]
    assert row[3].endswith("given up)") and row[4].startswith(f"{files} (")
    # The other Fluent Bit node delivered and has nothing in its queue.
    assert rows_of(lines)[api.nodes[0].node][4] == "0"


def test_a_node_without_its_agent_is_named(cluster):
    api, _, kubelet = cluster
    settings = settings_for(api, verify={"timeout": 15})
    deploy(api, settings)
    n1 = api.nodes[0].node
    agent = next(p for p in kubelet.pods.values() if p.node.name == n1 and p.process is not None)
    agent.process.kill()  # Fluent Bit dies (real or played); the kubelet reports the container crashed
    api.wait_for("the pod to turn not ready", lambda: any(
        p["spec"].get("nodeName") == n1 and not p["status"]["containerStatuses"][0]["ready"] for p in api.pods("fluent-bit")))
    report = stage.run(Kube(load_client(settings)), settings, lambda line: None)
    assert f"node {n1}: should run fluent-bit, but no ready fluent-bit pod is there" in report.problems


def test_canaries_that_cannot_start_fail_with_the_reason_and_are_removed(cluster):
    api, _, kubelet = cluster
    try:
        report, _ = verify(api, then=lambda: kubelet.pull_failures.add(settings_for(api).verify.image))
    finally:
        kubelet.pull_failures.clear()
    assert any("did not start within 15 s: container canary waiting: ImagePullBackOff" in p
               for p in report.problems), report.problems
    assert leftover_pods(api) == []


def test_unreachable_elasticsearch_fails_clearly(cluster):
    api, es, _ = cluster
    report, _ = verify(api, then=es.stop)
    assert any(p.startswith("Elasticsearch did not answer the verifier") for p in report.problems), report.problems
    assert leftover_pods(api) == []
