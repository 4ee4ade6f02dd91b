"""The verify table at scale: every node up to ``FULL_TABLE_NODES``; above, a summary line and only the nodes
with a problem, so that 1,000 nodes print a screenful, failures included."""

from __future__ import annotations

from kubelogs.verify.agent_metrics import AgentCounters
from kubelogs.verify.report import FULL_TABLE_NODES, MAX_PROBLEM_ROWS, NodeResult, Report, grouped


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


def test_a_thousand_failing_nodes_still_print_a_screenful():
    """Every agent down on 1,000 nodes, a canary missing on 300, dead letters on 20 with different counts: the
    table lists the first few, the problems are one line per kind with the count and a few of the nodes."""
    nodes = [NodeResult(f"node-{i:04}", "fluent-bit", False, agent_pod="") for i in range(1000)]
    problems = [f"node {r.node}: should run fluent-bit, but no ready fluent-bit pod is there" for r in nodes]
    problems += [f"node node-{i:04}: canary line not found in index kubelogs-canary-2026.12.04" for i in range(300)]
    problems += [f"node node-{i:04}: {i + 1} batch file(s) ({4 * i} KiB) in Fluent Bit's dead-letter queue; its log "
                 f"says why: kubectl -n logging logs <the fluent-bit pod on node-{i:04}>" for i in range(20)]
    problems.append("Elasticsearch health is yellow")
    lines = Report(health="yellow", es_nodes=3, replicas=3, nodes=nodes, problems=problems).lines()
    assert len(lines) < 25, "\n".join(lines)
    assert sum(line.startswith("node-") for line in lines) == MAX_PROBLEM_ROWS
    assert ("- 1000 nodes: should run fluent-bit, but no ready fluent-bit pod is there (nodes node-0000, node-0001, "
            "node-0002 and 997 more)") in lines
    assert "- 300 nodes: canary line not found in index kubelogs-canary-2026.12.04 (nodes node-0000, node-0001, " \
           "node-0002 and 297 more)" in lines
    # Different counts, one kind: said once, in the first node's words.
    assert ("- 20 nodes: 1 batch file(s) (0 KiB) in Fluent Bit's dead-letter queue; its log says why: kubectl -n "
            "logging logs <the fluent-bit pod on node-0000> (words of node node-0000) (nodes node-0000, node-0001, "
            "node-0002 and 17 more)") in lines
    assert "- Elasticsearch health is yellow" in lines
    assert (f"nodes: 1000, 0 fine, 1000 with a problem (the first {MAX_PROBLEM_ROWS} are listed: more than "
            f"{FULL_TABLE_NODES} nodes)") in lines


def test_a_node_not_canaried_this_run_is_fine_and_says_so():
    skipped = NodeResult("node-0001", "fluent-bit", True, canaried=False, counters=AgentCounters(retries=2))
    assert not skipped.problem
    assert skipped.cells()[2:5] == ("not canaried this run", "-", "2")
    # One that was canaried and whose line did not arrive is a problem, as before.
    assert NodeResult("node-0002", "fluent-bit", True, canaried=True, found=False).problem


def test_one_node_s_problem_keeps_its_own_line():
    lines = grouped(["node a: x 1", "node b: y", "other"], [])
    assert lines == ["node a: x 1", "node b: y", "other"]
