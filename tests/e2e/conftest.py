"""A real kind cluster for the end-to-end tests: created (or reused), and skipped with the reason when
Docker, kind or the node image is not available (this machine has no container registry)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kubelogs.cluster.api import Kube, load_client
from kubelogs.settings import validate_settings
from tests.e2e.artifacts import ARTIFACTS
from tests.support import harness

CLUSTER = os.environ.get("KUBELOGS_E2E_CLUSTER", "kubelogs-e2e")
# Pinned; CI's matrix sets KIND_NODE_IMAGE per Kubernetes minor.
NODE_IMAGE = os.environ.get("KIND_NODE_IMAGE", "kindest/node:v1.31.9")


def unavailable_reason() -> str | None:
    reason = harness.docker_unavailable_reason()
    if reason:
        return reason
    if shutil.which("kind") is None:
        return ("the kind binary is not on PATH (it is in none of the package registries this machine reaches; "
                "CI installs it from kind's releases)")
    if subprocess.run(["docker", "image", "inspect", NODE_IMAGE], capture_output=True).returncode != 0:
        pull = subprocess.run(["docker", "pull", NODE_IMAGE], capture_output=True, text=True, timeout=600)
        if pull.returncode != 0:
            return f"cannot pull the kind node image {NODE_IMAGE}: {pull.stderr.strip()[:300]}"
    return None


class KindCluster:
    """A kind cluster and its kubeconfig."""

    def __init__(self, name: str, kubeconfig: Path):
        self.name, self.kubeconfig = name, kubeconfig

    def deploy(self, settings: dict, *extra: str) -> harness.DeployRun:
        """The main job, as a user runs it (with -y and --json so the test can read the results)."""
        return harness.run_pyinfra(self.name, "deploy.py", "-y", "--json", *extra, settings=settings,
                                   env={"KUBECONFIG": str(self.kubeconfig)}, timeout=1800)

    def kube(self) -> Kube:
        return Kube(load_client(validate_settings({"kubernetes": {"kubeconfig": str(self.kubeconfig)}})))


@pytest.fixture(scope="session")
def kind_cluster():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    existing = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()
    created = CLUSTER not in existing
    if created:
        subprocess.run(["kind", "create", "cluster", "--name", CLUSTER, "--image", NODE_IMAGE,
                        "--config", str(harness.REPO / "files" / "kind-cluster.yaml"), "--wait", "180s"],
                       check=True, timeout=900)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kubeconfig = ARTIFACTS / "kubeconfig"
    kubeconfig.write_text(subprocess.run(["kind", "get", "kubeconfig", "--name", CLUSTER],
                                         capture_output=True, text=True, check=True).stdout)
    yield KindCluster(CLUSTER, kubeconfig)
    if created and not os.environ.get("KUBELOGS_E2E_KEEP"):
        subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], timeout=300)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and "kind_cluster" in item.fixturenames:
        collect_diagnostics(item.funcargs["kind_cluster"], item.name)
    return report


def collect_diagnostics(cluster: KindCluster, test: str, namespace: str = "logging") -> None:
    """Pod states, pod logs and events of the namespace, for CI to upload."""
    out = ARTIFACTS / "failures" / test
    out.mkdir(parents=True, exist_ok=True)
    kube = cluster.kube()
    pods = kube.list("Pod", namespace)
    (out / "pods.txt").write_text("\n".join(
        f"{p['metadata']['name']} {p.get('spec', {}).get('nodeName')} {p.get('status', {}).get('phase')}" for p in pods))
    for p in pods:
        try:
            (out / f"{p['metadata']['name']}.log").write_text(kube.pod_log(p["metadata"]["name"], namespace))
        except Exception as e:  # a pod that never started has no log
            (out / f"{p['metadata']['name']}.log").write_text(f"(no log: {e})")
    events = kube.list("Event", namespace)
    (out / "events.txt").write_text("\n".join(
        f"{e.get('lastTimestamp')} {e.get('type')} {e['involvedObject'].get('name')}: {e.get('reason')}: {e.get('message')}"
        for e in events))
