"""The verify table at scale: every node up to ``FULL_TABLE_NODES``; above, a summary line and only the nodes
with a problem, so that 1,000 nodes print a screenful, failures included."""

from __future__ import annotations

from kubelogs.verify.agent_metrics import AgentCounters
from kubelogs.verify.report import FULL_TABLE_NODES, NodeResult, Report


def fine(i: int) -> NodeResult:
    return NodeResult(f"node-{i:04}", "fluent-bit", True, found=True, seconds=1.0, counters=AgentCounters())


def test_a_small_cluster_lists_every_node_and_a_summary():
    report = Report(health="green", es_nodes=3, replicas=3, nodes=[fine(i) for i in range(3)])
    lines = report.lines()
    assert sum(line.startswith("node-") for line in lines) == 3
    assert "nodes: 3, 3 fine, 0 with a problem" in lines and lines[-1] == "verify: OK"


def test_a_thousand_nodes_print_a_screenful_with_the_ones_that_failed():
    nodes = [fine(i) for i in range(1000)]
    nodes[7] = NodeResult("node-0007", "fluent-bit", False)
    nodes[500] = NodeResult("node-0500", "fluent-bit", True, found=False, note="not in kubelogs-canary-2026.12.04")
    nodes[900].counters = AgentCounters(retries=12, given_up=2)
    report = Report(health="green", es_nodes=3, replicas=3, nodes=nodes, problems=["node node-0007: ..."])
    lines = report.lines()
    assert [line.split(" | ")[0].strip() for line in lines if line.startswith("node-")] == [
        "node-0007", "node-0500", "node-0900"]
    assert f"nodes: 1000, 997 fine, 3 with a problem (only those are listed: more than {FULL_TABLE_NODES} nodes)" in lines
    assert len(lines) < 20


def test_a_thousand_fine_nodes_are_one_line():
    lines = Report(health="green", es_nodes=3, replicas=3, nodes=[fine(i) for i in range(1000)]).lines()
    assert not any(line.startswith(("node ", "node-")) for line in lines)
    assert lines[-2:] == [f"nodes: 1000, 1000 fine, 0 with a problem (only those are listed: more than "
                          f"{FULL_TABLE_NODES} nodes)", "verify: OK"]
