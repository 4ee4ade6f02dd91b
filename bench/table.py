"""Shared output of the benchmark scripts: a Markdown table of medians, one row per node count."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Sequence


def print_medians(columns: Sequence[tuple[str, str]], measure: Callable[[int], Sequence[float]],
                  nodes: Sequence[int], repeat: int) -> None:
    """Run ``measure(n)`` ``repeat`` times per node count; print the median of each column.

    ``columns``: (heading, format spec) per value ``measure`` returns.
    """
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"median of {repeat}")
    print("| nodes | " + " | ".join(heading for heading, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for n in nodes:
        runs = [measure(n) for _ in range(repeat)]
        medians = [statistics.median(r[i] for r in runs) for i in range(len(columns))]
        print(f"| {n} | " + " | ".join(format(m, spec) for m, (_, spec) in zip(medians, columns)) + " |", flush=True)
