"""Benchmark the node stage on N node containers: first run, no-op re-run, and a bare pyinfra run of the
fact a no-op re-run reads (the floor it is compared with). Wall seconds and `docker exec` round trips
per node, medians.

Usage (from the repository root, Docker running): python -m bench.node_stage 1 5 10 20 50 --repeat 3
Each repeat starts fresh containers, sets vm.max_map_count low, then times the runs. The node stage
alone is measured (--limit kube_nodes): the cluster stage has its own benchmark (bench.cluster_stage).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

from bench.table import print_medians
from tests.support import harness

SETTINGS = {"elasticsearch": {"replicas": 1}}
# The fact a no-op re-run reads, with the directories the stage reads, for the floor.
BARE_FACTS = ("kubelogs.node.facts.NodeState", "data_path=/es-data",
              "sysctl_file=/etc/sysctl.d/90-kubelogs-elasticsearch.conf",
              "directories=/es-data,/var/lib/filebeat,/var/log/filebeat,/var/lib/fluent-bit")
T = TypeVar("T")


def counting_execs(cluster: str, run: Callable[[], T]) -> tuple[T, int]:
    """``run()`` and the number of `docker exec` calls into the nodes of kind-labelled cluster ``cluster``
    while it ran."""
    # Streamed (dockerd keeps only its last 256 events for `docker events --since`) into a file: a pipe
    # read only at the end fills at 64 KiB (about 1,000 events), and dockerd then drops the events.
    with tempfile.TemporaryFile("w+") as out:
        events = subprocess.Popen(["docker", "events", "--filter", "event=exec_create", "--filter",
                                   f"label=io.x-k8s.kind.cluster={cluster}", "--format", "{{.Actor.ID}}"],
                                  stdout=out, text=True)
        time.sleep(0.5)  # let the stream start before the run
        result = run()
        size, deadline = -1, time.monotonic() + 10
        while size != os.fstat(out.fileno()).st_size and time.monotonic() < deadline:  # until the events stop
            size = os.fstat(out.fileno()).st_size
            time.sleep(1)
        events.terminate()
        events.wait()
        out.seek(0)
        return result, len(out.read().split())


def measure(nodes: int) -> tuple[float, float, float, float, float]:
    """(first run, no-op re-run, bare fact run, docker execs per node in the first and no-op runs)."""
    with harness.KindLikeCluster() as cluster:
        cluster.add("control-plane")
        for _ in range(nodes - 1):
            cluster.add("worker")
        harness.set_max_map_count(cluster.nodes[0], 65530)
        first, first_execs = counting_execs(cluster.name, lambda: harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes"))
        rerun, execs = counting_execs(cluster.name, lambda: harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes"))
        bare = harness.run_pyinfra(cluster, "--limit", "kube_nodes", "fact", *BARE_FACTS, settings=SETTINGS)
        for run in (first, rerun, bare):
            if run.returncode != 0:
                raise SystemExit(run.stderr[-2000:])
        if rerun.changed_hosts():
            raise SystemExit(f"re-run changed something: {rerun.changed_hosts()}")
        return first.duration_s, rerun.duration_s, bare.duration_s, first_execs / nodes, execs / nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("nodes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    harness.ensure_node_image()
    print_medians([("first run (s)", ".2f"), ("no-op re-run (s)", ".2f"), ("bare fact run (s)", ".2f"),
                   ("docker execs per node (first)", ".1f"), ("docker execs per node (no-op)", ".1f")],
                  measure, args.nodes, args.repeat)


if __name__ == "__main__":
    main()
