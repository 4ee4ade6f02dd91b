"""The canary rotation (kubelogs/verify/rotation.py): every node up to the sample size; above, the next
nodes by name after the last one canaried, wrapping around, so successive runs cover every node."""

from __future__ import annotations

import math

from kubelogs.verify.rotation import sample

NODES = [f"node-{i:04}" for i in range(1000)]


def test_every_node_up_to_the_size():
    assert sample(["b", "a", "c"], 3, "b") == ["a", "b", "c"]


def test_successive_runs_cover_every_node_in_ceil_nodes_over_size_runs():
    cursor, seen, runs = "", set(), 0
    while len(seen) < len(NODES):
        chosen = sample(NODES, 50, cursor)
        assert len(chosen) == 50 and len(set(chosen)) == 50
        seen.update(chosen)
        cursor, runs = chosen[-1], runs + 1
    assert runs == math.ceil(1000 / 50) == 20


def test_it_wraps_around_and_a_cursor_no_longer_there_is_passed_by_name():
    assert sample(["a", "b", "c", "d"], 3, "c") == ["d", "a", "b"]
    assert sample(["a", "b", "d", "e"], 2, "c") == ["d", "e"]  # node "c" was removed
    assert sample(["a", "b", "c"], 2, "zzz") == ["a", "b"]
