"""The main job end to end on a real kind cluster (run in CI where a container registry is reachable).

Tests run in file order on one cluster: deploy, no-op re-run, a settings change, a collector switch.
"""

from __future__ import annotations

import pytest

from tests.e2e.artifacts import save

pytestmark = pytest.mark.e2e

SETTINGS = {"elasticsearch": {"replicas": 3}, "kubernetes": {"rollout_timeout": 900}, "verify": {"timeout": 300}}


def test_main_job_deploys_and_every_canary_is_found(kind_cluster):
    run = kind_cluster.deploy(SETTINGS)
    save("first", run)
    assert run.returncode == 0, run.stderr[-5000:]
    assert run.verify_succeeded()
    assert "verify: OK" in run.stderr


def test_second_run_changes_nothing(kind_cluster):
    run = kind_cluster.deploy(SETTINGS)
    save("second", run)
    assert run.returncode == 0, run.stderr[-5000:]
    assert run.changed_hosts() == {}  # zero node changes, zero cluster changes
    assert "cluster plan: " in run.stderr and " update" not in run.stderr.split("cluster plan: ", 1)[1].splitlines()[0]
    assert run.verify_succeeded()


def test_heap_change_rolls_out_and_verifies_again(kind_cluster):
    run = kind_cluster.deploy({**SETTINGS, "elasticsearch": {"replicas": 3, "heap": "256m"}})
    save("heap", run)
    assert run.returncode == 0, run.stderr[-5000:]
    assert "update    StatefulSet logging/elasticsearch" in run.stderr
    assert run.verify_succeeded()


def test_collector_switch_prunes_the_old_agent(kind_cluster):
    kube = kind_cluster.kube()
    nodes = kube.list("Node", label_selector="kubelogs.io/runtime")
    if not any(n["metadata"]["labels"]["kubelogs.io/runtime"] == "docker" for n in nodes):
        pytest.skip("kind nodes run containerd: with Elasticsearch 6.8, collector 'auto' already runs Fluent Bit "
                    "everywhere, so there is no second agent to switch from (needs a Docker-runtime cluster)")
    run = kind_cluster.deploy({**SETTINGS, "agents": {"collector": "fluent-bit"}})
    save("switch", run)
    assert run.returncode == 0, run.stderr[-5000:]
    assert "prune     DaemonSet logging/log-pilot" in run.stderr
    assert kube.get("DaemonSet", "log-pilot", "logging") is None
