"""The verify stage on many nodes (issue 25): canaries on a rotating sample of ``verify.canary_nodes`` that
covers every node over successive runs, its cursor kept where the cluster stage's no-op plan does not see it,
and every Fluent Bit's counters gathered by the verifier inside the cluster, so that the control machine's
requests do not grow with the nodes. Nodes are containerd nodes whose Fluent Bit the test kubelet plays
(its metrics served on each pod's IP, where the verifier's curl reads them)."""

from __future__ import annotations

import re

import pytest

from kubelogs.cluster import stage as cluster_stage
from kubelogs.cluster.api import Kube, load_client
from kubelogs.verify import rotation, stage
from kubelogs.verify.agent_metrics import AgentCounters
from tests.support.cluster_helpers import deploy, settings_for
from tests.support.tier import ClusterView, node_targets

CANARIES = 3


@pytest.fixture
def view_of(tier):
    views: list[ClusterView] = []

    def make(nodes: int) -> ClusterView:
        view = ClusterView(tier)
        views.append(view)
        view.nodes = node_targets(view, [(f"n{i:03}", "containerd", i == 0) for i in range(nodes)])
        return view

    yield make
    for view in views:
        if view.node_names:
            view.cleanup()


def deployed(view: ClusterView):
    # 100 played agents start within minutes on a small machine: the rollout gets the time they take.
    settings = settings_for(view, elasticsearch={"replicas": 1}, verify={"timeout": 120, "canary_nodes": CANARIES},
                            kubernetes={"rollout_timeout": 600})
    deploy(view, settings)
    return settings


def verify_once(view: ClusterView, settings) -> tuple[stage.Report, list[str]]:
    lines: list[str] = []
    return stage.run(Kube(load_client(settings)), settings, lines.append), lines


def test_canaries_rotate_until_every_node_had_one_and_the_plan_stays_a_no_op(view_of):
    view = view_of(10)
    settings = deployed(view)
    names = sorted(n.node for n in view.nodes)
    runs = []
    for _ in range(-(-10 // CANARIES)):  # ceil(10 / 3) = 4 runs cover every node
        report, lines = verify_once(view, settings)
        assert report.ok, lines
        runs.append([r.node for r in report.nodes if r.canaried])
        # Every node's agent is checked, canary or not: ready, and its counters read by the verifier.
        assert all(r.agent_ready and r.counters == AgentCounters() for r in report.nodes), lines
        assert f"canaries on {len(runs[-1])} of 10 nodes this run (verify.canary_nodes)" in lines[-2]
        assert sum("| not canaried this run |" in line for line in lines) == 10 - len(runs[-1])
    assert runs == [names[0:3], names[3:6], names[6:9], [*names[0:2], names[9]]]  # wrapped around
    cursor = view.get("NetworkPolicy", "kubelogs-verify", view.namespace)["metadata"]["annotations"]
    assert cursor[rotation.CURSOR_ANNOTATION] == names[1]
    # The cursor is the verify stage's own write: the cluster stage's plan sees nothing to do and writes nothing.
    view.requests.clear()
    again = cluster_stage.plan(Kube(load_client(settings)), settings, view.nodes)
    assert not again.has_work
    assert view.mutations() == []


def control_machine_requests(view: ClusterView) -> tuple[stage.Report, list, list]:
    """One verify run after a deploy: (report, the requests other than polls of a pod, the polls). The
    view's nodes are removed after (the next view's DaemonSet would take them)."""
    try:
        settings = deployed(view)
        view.requests.clear()
        report, lines = verify_once(view, settings)
        requests = [(r.method, r.path) for r in view.requests]
    finally:
        view.cleanup()
        view.node_names.clear()
    assert report.ok, lines
    poll = re.compile(rf"/api/v1/namespaces/{view.namespace}/pods/[^/]+")
    polls = [r for r in requests if r[0] == "GET" and poll.fullmatch(r[1])]
    return report, [r for r in requests if r not in polls], polls


def test_the_control_machine_s_requests_do_not_grow_with_the_nodes(view_of):
    small_report, small, small_polls = control_machine_requests(view_of(10))
    large_report, large, large_polls = control_machine_requests(view_of(100))
    print(f"verify's requests: 10 nodes {len(small)} + {len(small_polls)} polls; "
          f"100 nodes {len(large)} + {len(large_polls)} polls")
    # Every agent checked at 100 nodes too: ready, its counters read inside the cluster.
    assert len(large_report.nodes) == 100
    assert all(r.agent_ready and r.counters == AgentCounters() for r in large_report.nodes)
    assert sum(r.canaried for r in large_report.nodes) == CANARIES
    # The same requests at 10 and 100 nodes (their number: the pods' names differ), none through a pod proxy.
    assert len(large) == len(small)
    assert not any("/proxy" in path for _, path in small + large)
    # What is polled is the verify stage's own pods (the canaries, the verifier, Kibana's check), never an agent.
    assert {path.rsplit("/", 1)[1].split("-")[1] for _, path in small_polls + large_polls} <= {
        "canary", "verifier", "kibana"}
