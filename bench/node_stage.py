"""Benchmark the node stage on N node containers: first run, no-op re-run, and a bare pyinfra run of the
three facts the stage reads itself (the floor a no-op re-run is compared with). Wall seconds, medians.

Usage (from the repository root, Docker running): python -m bench.node_stage 1 5 10 20 50 --repeat 3
Each repeat starts fresh containers, sets vm.max_map_count low, then times the runs. The node stage
alone is measured (--limit kube_nodes): the cluster stage has its own benchmark (bench.cluster_stage).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics

from tests import harness

SETTINGS = {"elasticsearch": {"replicas": 1}}
BARE_FACTS = ("kubelogs.facts.ContainerRuntime", "kubelogs.facts.DiskUsage", "path=/es-data",
              "server.Sysctl", "keys=vm.max_map_count")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def measure(nodes: int) -> tuple[float, float, float, float]:
    """(first run, no-op re-run, bare facts run, docker execs per node in the no-op re-run)."""
    with harness.FakeKindCluster() as cluster:
        cluster.add("control-plane")
        for _ in range(nodes - 1):
            cluster.add("worker")
        harness.set_max_map_count(cluster.nodes[0], 65530)
        first = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
        since = _now()
        rerun = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
        execs = harness.exec_events([n.name for n in cluster.nodes], since, _now())
        bare = harness.run_pyinfra(cluster, "--limit", "kube_nodes", "fact", *BARE_FACTS, settings=SETTINGS)
        for run in (first, rerun, bare):
            if run.returncode != 0:
                raise SystemExit(run.stderr[-2000:])
        if rerun.changed_hosts():
            raise SystemExit(f"re-run changed something: {rerun.changed_hosts()}")
        return first.duration_s, rerun.duration_s, bare.duration_s, len(execs) / nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("nodes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    harness.ensure_node_image()
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"median of {args.repeat}")
    print("| nodes | first run (s) | no-op re-run (s) | bare facts run (s) | docker execs per node (no-op) |")
    print("|---|---|---|---|---|")
    for n in args.nodes:
        runs = [measure(n) for _ in range(args.repeat)]
        med = [statistics.median(r[i] for r in runs) for i in range(4)]
        print(f"| {n} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} | {med[3]:.1f} |")


if __name__ == "__main__":
    main()
