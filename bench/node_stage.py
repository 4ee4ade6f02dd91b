"""Benchmark the node stage on N node containers: first run, no-op re-run, and a bare pyinfra run of the
facts a no-op re-run reads (the floor it is compared with). Wall seconds, medians.

Usage (from the repository root, Docker running): python -m bench.node_stage 1 5 10 20 50 --repeat 3
Each repeat starts fresh containers, sets vm.max_map_count low, then times the runs. The node stage
alone is measured (--limit kube_nodes): the cluster stage has its own benchmark (bench.cluster_stage).
"""

from __future__ import annotations

import argparse
import subprocess
import time

from bench.table import print_medians
from tests import harness

SETTINGS = {"elasticsearch": {"replicas": 1}}
# The facts a no-op re-run reads on a containerd worker (the most common node), for the floor.
BARE_FACTS = ("kubelogs.facts.ContainerRuntime", "kubelogs.facts.DiskUsage", "path=/es-data",
              "server.Sysctl", "keys=vm.max_map_count",
              "files.File", "path=/etc/sysctl.d/90-kubelogs-elasticsearch.conf",
              "files.Sha1File", "path=/etc/sysctl.d/90-kubelogs-elasticsearch.conf",
              "kubelogs.facts.NumericPathStat", "path=/var/lib/fluent-bit")


def measure(nodes: int) -> tuple[float, float, float, float]:
    """(first run, no-op re-run, bare facts run, docker execs per node in the no-op re-run)."""
    with harness.FakeKindCluster() as cluster:
        cluster.add("control-plane")
        for _ in range(nodes - 1):
            cluster.add("worker")
        harness.set_max_map_count(cluster.nodes[0], 65530)
        first = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
        # Streamed: dockerd keeps only its last 256 events for `docker events --since`.
        events = subprocess.Popen(["docker", "events", "--filter", "event=exec_create", "--filter",
                                   f"label=io.x-k8s.kind.cluster={cluster.name}", "--format", "{{.Actor.ID}}"],
                                  stdout=subprocess.PIPE, text=True)
        rerun = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
        time.sleep(1)
        events.terminate()
        execs = events.communicate()[0].split()
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
    print_medians([("first run (s)", ".2f"), ("no-op re-run (s)", ".2f"), ("bare facts run (s)", ".2f"),
                   ("docker execs per node (no-op)", ".1f")], measure, args.nodes, args.repeat)


if __name__ == "__main__":
    main()
