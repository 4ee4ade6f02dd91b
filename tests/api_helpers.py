"""Helpers for tests of the cluster and verify stages against the fake API server."""

from __future__ import annotations

from kubelogs.cluster import stage
from kubelogs.cluster.api import Kube, load_client
from kubelogs.cluster.plan import NodeTarget
from kubelogs.settings import validate_settings
from tests.fake_kube import FakeKube

NODES = [NodeTarget("@docker/n1", "n1", "containerd", False),
         NodeTarget("@docker/n2", "n2", "containerd", True),
         NodeTarget("@docker/n3", "n3", "docker", True)]


def settings_for(api: FakeKube, **sections):
    raw = {"elasticsearch": {"replicas": 2}, **sections}
    raw["kubernetes"] = {"kubeconfig": str(api.kubeconfig), "rollout_timeout": 3, **raw.get("kubernetes", {})}
    return validate_settings(raw)


def deploy(api: FakeKube, settings, nodes=NODES, skip_hosts=frozenset()):
    kube = Kube(load_client(settings), retry_delays=(0.01, 0.01))
    plan = stage.plan(kube, settings, nodes)
    log: list[str] = []
    done = stage.execute(kube, plan, settings.kubernetes.rollout_timeout, log.append, skip_hosts)
    return plan, done, log
