"""Benchmark the cluster stage against the real control plane of the tests: requests and wall time for the
first apply (with the rollout wait, pods played ready by the test kubelet) and for a no-op re-run (plan
only: a no-op plan adds no operation), by number of Kubernetes nodes.

Usage (from the repository root, $KUBELOGS_K8S_BIN and $KUBELOGS_FLUENT_BIT_BIN set as .ci/run sets them):
    python -m bench.cluster_stage 1 5 10 20 50 --repeat 3
One control plane serves every measurement; each gets a namespace and nodes of its own.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyinfra_cli  # noqa: F401, I001  (gevent patches ssl first, as in the tests)

from bench.table import print_medians
from kubelogs import compatibility as compat
from kubelogs.cluster import stage
from kubelogs.cluster.api import Kube, load_client
from kubelogs.cluster.plan import NodeTarget
from kubelogs.settings import validate_settings
from tests.support.tier import ClusterView, Tier, start_tier


def docker_nodes(view: ClusterView, nodes: int) -> list[NodeTarget]:
    """``nodes`` Docker-runtime nodes of the view's own, each holding data."""
    targets = []
    for i in range(nodes):
        name = f"{view.namespace}-node-{i}"
        view.add_node(name, "docker")
        targets.append(NodeTarget(f"h{i}", name, "docker", True))
    return targets


def measure(tier: Tier, nodes: int) -> tuple[int, float, int, float, int, float]:
    """(requests, seconds) of the first plan+apply, of the no-op re-plan, and of a one-setting change
    (``retention_days``: one ConfigMap, and the pod that sends it to Elasticsearch)."""
    view = ClusterView(tier)
    try:
        # Log-pilot's pods are only played, so the run measures the stage, not Fluent Bit's start-up.
        targets = docker_nodes(view, nodes)
        # Straight to the API server: the tests' recording proxy would add its own TLS handshakes.
        direct = tier.kubeconfig(view.kubeconfig.with_name("direct-kubeconfig"), direct=True)
        # The log-pilot recipe's version: on Docker nodes its agent is log-pilot, which the test kubelet plays
        # ready without a process (Fluent Bit, the 9.x default's agent, would be a process per node).
        settings = validate_settings({"namespace": view.namespace,
                                      "elasticsearch": {"replicas": 1, "version": compat.LOG_PILOT_ES_VERSION},
                                      "kubernetes": {"kubeconfig": str(direct), "poll_interval": 0.3}})
        kube = Kube(load_client(settings))
        view.serve_elasticsearch(settings.elasticsearch.major)  # the first apply sends the index settings
        started = time.perf_counter()
        plan = stage.plan(kube, settings, targets)
        stage.execute(kube, plan, settings, lambda line: None)
        first = (kube.requests, time.perf_counter() - started)
        kube.requests = 0
        started = time.perf_counter()
        again = stage.plan(kube, settings, targets)
        assert not again.has_work
        noop = (kube.requests, time.perf_counter() - started)
        changed = settings.model_copy(update={"elasticsearch": settings.elasticsearch.model_copy(
            update={"retention_days": settings.elasticsearch.retention_days + 1})})
        kube.requests = 0
        started = time.perf_counter()
        plan = stage.plan(kube, changed, targets)
        assert [s.ref for s in plan.changes] == [f"ConfigMap {view.namespace}/elasticsearch-index-settings"], plan.lines()
        stage.execute(kube, plan, changed, lambda line: None)
        return (*first, *noop, kube.requests, time.perf_counter() - started)
    finally:
        view.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("nodes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubelogs-bench-") as workdir:
        tier = start_tier(Path(workdir))
        try:
            print_medians([("first apply: requests", ".0f"), ("first apply (s)", ".2f"),
                           ("no-op re-run: requests", ".0f"), ("no-op re-run (s)", ".2f"),
                           ("one-setting change: requests", ".0f"), ("one-setting change (s)", ".2f")],
                          lambda n: measure(tier, n), args.nodes, args.repeat)
        finally:
            tier.stop()


if __name__ == "__main__":
    main()
