"""Benchmark what the snapshot before a risky change adds to an upgrade: the same rolling upgrade
(6.8.20 -> 6.8.23, the log-pilot recipe's nodes, played by the test kubelet) with and without
``elasticsearch.snapshots``, each in a namespace of its own; wall seconds and Kubernetes requests of the
upgrade run (plan and execute), and the Elasticsearch calls it made.

Usage (from the repository root): python -m bench.snapshot_step --nodes 2 --docs 1000 --repeat 3
On the API-server double, the time is the run's own: an in-cluster pod for the snapshot batch, its calls and
one poll interval while the fake Elasticsearch answers IN_PROGRESS once. A real snapshot also takes the time
to copy the data changed since the previous snapshot (incremental), which only a real cluster can tell.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyinfra_cli  # noqa: F401, I001  (gevent patches ssl first, as in the tests)

from bench.cluster_stage import docker_nodes
from kubelogs.cluster import stage
from kubelogs.cluster.api import Kube, load_client
from kubelogs.settings import validate_settings
from tests.support.tier import ClusterView, Tier, start_tier

FROM, TO = "6.8.20", "6.8.23"


def measure(tier: Tier, nodes: int, docs: int, snapshots: bool) -> tuple[float, int, int]:
    """(seconds, Kubernetes requests, Elasticsearch calls) of the upgrade run."""
    view = ClusterView(tier)
    try:
        targets = docker_nodes(view, nodes)
        direct = tier.kubeconfig(view.kubeconfig.with_name("direct-kubeconfig"), direct=True)
        es_settings: dict = {"replicas": nodes, "version": FROM}
        repository = Path(tempfile.mkdtemp(prefix="kubelogs-bench-repo-"))
        if snapshots:
            tier.admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": view.namespace}})
            tier.admin.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                               "metadata": {"name": "es-snapshots", "namespace": view.namespace},
                               "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}})
            tier.admin.patch_status("PersistentVolumeClaim", "es-snapshots", view.namespace, {"phase": "Bound"})
            es_settings["snapshots"] = {"repository": "fs", "fs_claim": "es-snapshots"}

        def settings_of(version: str):
            return validate_settings({"namespace": view.namespace, "elasticsearch": {**es_settings, "version": version},
                                      "kubernetes": {"kubeconfig": str(direct), "poll_interval": 0.3}})

        kube = Kube(load_client(settings_of(FROM)))
        es = view.serve_elasticsearch(6)
        es.snapshots.fs_root = repository
        stage.execute(kube, stage.plan(kube, settings_of(FROM), targets), settings_of(FROM), lambda line: None)
        for i in range(docs):
            es.index("app-2026.12.03", {"log": f"line {i}"})
        kube.requests, calls = 0, len(es.calls)
        started = time.perf_counter()
        plan = stage.plan(kube, settings_of(TO), targets)
        assert ("snapshot before a risky change" in [p.name for p in plan.phases]) == snapshots, plan.lines()
        stage.execute(kube, plan, settings_of(TO), lambda line: None)
        return time.perf_counter() - started, kube.requests, len(es.calls) - calls
    finally:
        view.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubelogs-bench-") as workdir:
        tier = start_tier(Path(workdir))
        try:
            rows = {False: [], True: []}
            for _ in range(args.repeat):  # interleaved, so that noise hits both alike
                for snapshots in (False, True):
                    rows[snapshots].append(measure(tier, args.nodes, args.docs, snapshots))
        finally:
            tier.stop()
    print(f"upgrade {FROM} -> {TO}, {args.nodes} Elasticsearch nodes, {args.docs} documents, median of {args.repeat}")
    print("| snapshots | upgrade run (s) | Kubernetes requests | Elasticsearch calls |")
    print("|---|---|---|---|")
    for snapshots, runs in rows.items():
        print(f"| {'on' if snapshots else 'off'} | {statistics.median(r[0] for r in runs):.2f} | "
              f"{statistics.median(r[1] for r in runs):.0f} | {statistics.median(r[2] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
