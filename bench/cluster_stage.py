"""Benchmark the cluster stage and the verify stage against the tests' control plane (the real one where
$KUBELOGS_K8S_BIN is set, else the API-server double), pods played by the test kubelet: requests and wall time
of the first apply (with the rollout wait), a no-op re-run (plan only: a no-op plan adds no operation), a
one-setting change, and a verify run (every node's agent checked; canaries on ``verify.canary_nodes`` of them),
by number of Kubernetes nodes.

Usage (from the repository root):
    python -m bench.cluster_stage 10 100 1000 --repeat 1
One control plane serves every measurement; each gets a namespace and nodes of its own. Each measurement
also prints its figures and the load average to stderr as it finishes.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
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
from kubelogs.verify import stage as verify_stage
from tests.support.tier import ClusterView, Tier, start_tier


class CountingKube(Kube):
    """Also counts the polls among its requests: GETs of one pod (a pod the run started, until it runs or ends)."""
    polls = 0
    _one_pod = re.compile(r"/api/v1/namespaces/[^/]+/pods/[^/]+")

    def _call(self, method: str, path: str, *args, **kwargs):
        if method == "GET" and self._one_pod.fullmatch(path):
            self.polls += 1
        return super()._call(method, path, *args, **kwargs)


def docker_nodes(view: ClusterView, nodes: int) -> list[NodeTarget]:
    """``nodes`` Docker-runtime nodes of the view's own, each holding data."""
    targets = []
    for i in range(nodes):
        name = f"{view.namespace}-node-{i}"
        view.add_node(name, "docker")
        targets.append(NodeTarget(f"h{i}", name, "docker", True))
    return targets


def measure(tier: Tier, nodes: int) -> tuple[float, ...]:
    """(requests, seconds) of the first plan+apply, of the no-op re-plan, of a one-setting change
    (``retention_days``: one ConfigMap, and the pod that sends it to Elasticsearch), and of a verify run
    that must pass with every node's agent checked."""
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
                                      "verify": {"timeout": 60},
                                      # A played rollout of 1,000 pods on a shared 2-core machine takes minutes.
                                      "kubernetes": {"kubeconfig": str(direct), "poll_interval": 0.3,
                                                     "rollout_timeout": 1800}})
        kube = CountingKube(load_client(settings))
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
        change = (kube.requests, time.perf_counter() - started)
        kube.requests = kube.polls = 0
        started = time.perf_counter()
        lines: list[str] = []
        report = verify_stage.run(kube, changed, lines.append)
        verify = (kube.requests, kube.polls, time.perf_counter() - started)
        checked = [r for r in report.nodes if r.agent_ready]
        assert report.ok and len(checked) == nodes, "\n".join(lines)
        figures = (*first, *noop, *change, *verify)
        print(f"{nodes} nodes: {figures}, {sum(r.canaried for r in report.nodes)} canaried, "
              f"{len(lines)} lines printed, load average {os.getloadavg()}", file=sys.stderr, flush=True)
        return figures
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
                           ("one-setting change: requests", ".0f"), ("one-setting change (s)", ".2f"),
                           ("verify: requests", ".0f"), ("of which polls of its pods", ".0f"), ("verify (s)", ".2f")],
                          lambda n: measure(tier, n), args.nodes, args.repeat)
        finally:
            tier.stop()


if __name__ == "__main__":
    main()
