"""The log-pilot recipe end to end on a real minikube cluster whose nodes run Docker (CI starts it with
`minikube start --driver=docker --container-runtime=docker`): log-pilot is the agent there, and the run
must end with its canary found. The same two commands as the kind path, with inventories/minikube.py."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from kubelogs import compatibility as compat
from tests.support import harness
from tests.e2e.artifacts import save

pytestmark = pytest.mark.e2e

PROFILE = os.environ.get("MINIKUBE_PROFILE", "minikube")
# The log-pilot recipe (docs/agents.md), one Elasticsearch node (minikube starts one node).
SETTINGS = {"elasticsearch": {"version": compat.LOG_PILOT_ES_VERSION, "replicas": 1},
            "kubernetes": {"rollout_timeout": 900}, "verify": {"timeout": 300}}


@pytest.fixture(scope="module")
def minikube():
    if shutil.which("minikube") is None:
        pytest.skip("the minikube binary is not on PATH (it is in none of the package registries this machine "
                    "reaches; CI installs it from minikube's releases and starts the cluster)")
    status = subprocess.run(["minikube", "status", "-p", PROFILE], capture_output=True, text=True)
    if status.returncode != 0:
        pytest.skip(f"minikube profile {PROFILE!r} is not running: {status.stdout.strip()[:300]}")
    return PROFILE


def deploy(profile: str) -> harness.DeployRun:
    return harness.run_pyinfra(profile, "deploy.py", "-y", "--json", settings=SETTINGS,
                               inventory="inventories/minikube.py", timeout=1800)


def test_log_pilot_ships_the_canary_on_a_docker_runtime_node(minikube):
    run = deploy(minikube)
    save("minikube-first", run)
    assert run.returncode == 0, run.stderr[-5000:]
    assert "verify: OK" in run.stderr
    row = next(line for line in run.stderr.splitlines() if f"{minikube} " in line and " | " in line)
    assert "log-pilot" in row and "| yes" in row, row


def test_second_run_changes_nothing(minikube):
    run = deploy(minikube)
    save("minikube-second", run)
    assert run.returncode == 0, run.stderr[-5000:]
    assert run.changed_hosts() == {}
