"""Benchmark the cluster stage against the fake API server: requests and wall time for the first apply
and for a no-op re-run (plan only: a no-op plan adds no operation), by number of Kubernetes nodes.

Usage (from the repository root): python -m bench.cluster_stage 1 5 10 20 50 --repeat 5
The fake answers on loopback at once, so the times are the client side's own cost (rendering, schema
checks, HTTP round trips through the kubernetes client); a real API server adds its latency per request.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.table import print_medians
from kubelogs.cluster import stage
from kubelogs.cluster.api import Kube, load_client
from kubelogs.cluster.plan import NodeTarget
from kubelogs.settings import validate_settings
from tests.fake_kube import FakeKube


def measure(nodes: int) -> tuple[int, float, int, float]:
    """(requests, seconds) of the first plan+apply, then of the no-op re-plan."""
    with FakeKube() as api, tempfile.TemporaryDirectory() as tmp:
        targets = [NodeTarget(f"h{i}", f"node-{i}", "containerd" if i % 2 else "docker", True) for i in range(nodes)]
        for t in targets:
            api.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": t.node, "labels": {}}})
        kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        settings = validate_settings({"elasticsearch": {"replicas": 1},
                                      "kubernetes": {"kubeconfig": str(kubeconfig)}})
        kube = Kube(load_client(settings))
        started = time.perf_counter()
        plan = stage.plan(kube, settings, targets)
        stage.execute(kube, plan, 60, lambda line: None)
        first = (kube.requests, time.perf_counter() - started)
        kube.requests = 0
        started = time.perf_counter()
        again = stage.plan(kube, settings, targets)
        assert not again.changes and not again.pending_rollouts
        return (*first, kube.requests, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("nodes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print_medians([("first apply: requests", ".0f"), ("first apply (s)", ".2f"),
                   ("no-op re-run: requests", ".0f"), ("no-op re-run (s)", ".2f")], measure, args.nodes, args.repeat)


if __name__ == "__main__":
    main()
