"""Benchmark the node stage on N node containers: first run and no-op re-run (wall time, seconds).

Usage (from the repository root, Docker running): python -m bench.node_stage 3 10 --repeat 3
Each repeat starts fresh containers, sets vm.max_map_count low, then times both runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics

from tests import harness


def measure(nodes: int) -> tuple[float, float]:
    with harness.FakeKindCluster() as cluster:
        cluster.add("control-plane")
        for _ in range(nodes - 1):
            cluster.add("worker")
        harness.set_max_map_count(cluster.nodes[0], 65530)
        settings = {"elasticsearch": {"replicas": 1}}
        first = harness.run_deploy(cluster, settings)
        rerun = harness.run_deploy(cluster, settings)
        for run in (first, rerun):
            if run.returncode != 0:
                raise SystemExit(run.stderr[-2000:])
        if rerun.changed_hosts():
            raise SystemExit(f"re-run changed something: {rerun.changed_hosts()}")
        return first.duration_s, rerun.duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("nodes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    harness.ensure_node_image()
    print(f"# {platform.node()} {platform.machine()}, Python {platform.python_version()}, median of {args.repeat}")
    print("| nodes | first run (s) | no-op re-run (s) |\n|---|---|---|")
    for n in args.nodes:
        runs = [measure(n) for _ in range(args.repeat)]
        print(f"| {n} | {statistics.median(r[0] for r in runs):.2f} | {statistics.median(r[1] for r in runs):.2f} |")


if __name__ == "__main__":
    main()
