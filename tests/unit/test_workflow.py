"""The CI workflow for places with a container registry: valid against GitHub's workflow schema, and
running what the README says on a matrix of Kubernetes minors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


def test_workflow_validates_against_the_github_workflow_schema():
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is in requirements.txt"
    result = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_e2e_matrix_covers_three_minors_with_pinned_node_images():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    images = jobs["kind-e2e"]["strategy"]["matrix"]["node-image"]
    minors = {re.fullmatch(r"kindest/node:v1\.(\d+)\.\d+(@sha256:[0-9a-f]{64})?", image).group(1) for image in images}
    assert len(minors) >= 3
    steps = jobs["kind-e2e"]["steps"]
    assert any("pytest -m e2e tests/e2e" in step.get("run", "") for step in steps)
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert any(".ci/run" in step.get("run", "") for step in jobs["fast"]["steps"])


def test_minikube_job_runs_the_log_pilot_recipe_on_docker_nodes():
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["minikube-docker-runtime"]
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "--container-runtime=docker" in runs and "--driver=docker" in runs
    assert "pytest -m e2e tests/e2e/test_minikube.py" in runs and "sha256sum -c" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") and step["if"] == "always()"
               for step in job["steps"])
