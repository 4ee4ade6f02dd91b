"""The API-server double held to a real kube-apiserver's recorded answers (../shared/kube-contract): every
scenario replayed, every answer compared, none skipped. With KUBELOGS_K8S_BIN the same check runs on that
real control plane when it is the minor the corpus was recorded from (another minor answers some things
differently by design, e.g. hashes over a grown PodSpec: that is drift to read, not a failure here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import binaries
from tests.support.control_plane import ControlPlane
from tests.support.double_control_plane import DoubleControlPlane
from tests.support.shared import shared


def test_every_recorded_answer_is_given_again(tmp_path: Path) -> None:
    contract = shared("kube-contract")
    scenarios = sorted(json.loads(f.read_text())["scenario"] for f in (contract / "corpus").glob("*.json"))
    recorded = {json.loads(f.read_text())["recorded_from"] for f in (contract / "corpus").glob("*.json")}
    if binaries.k8s_backend() == "real":
        plane = ControlPlane(binaries.k8s_bin_dir(), tmp_path / "control-plane").start()
        version = json.loads(plane.request("/version"))["gitVersion"]
        if {_minor(v) for v in recorded} != {_minor(version)}:
            plane.stop()
            pytest.skip(f"the corpus was recorded from {', '.join(sorted(recorded))} and this control plane is "
                        f"{version}: run contract.py check by hand and read the differences")
        target = ["--kubeconfig", str(plane.kubeconfig)]
    else:
        plane = DoubleControlPlane(tmp_path / "control-plane").start()
        target = ["--server", plane.http_url]
    try:
        run = subprocess.run([sys.executable, str(contract / "contract.py"), "check", *target,
                              "--corpus", str(contract / "corpus")], capture_output=True, text=True, timeout=900)
    finally:
        plane.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    passed = re.findall(r"^(\S+): ok \(", run.stdout, re.MULTILINE)
    assert sorted(passed) == scenarios, run.stdout  # every scenario ran and passed: none left out
    if isinstance(plane, DoubleControlPlane):  # and none of its controllers failed on the way
        log = plane.log_tail(lines=10_000)
        assert "Traceback" not in log, f"a controller of the double failed:\n{log}"


def _minor(version: str) -> str:
    """"v1.32" of "v1.32.0-beta.0+cd13ec4a"."""
    return ".".join(version.lstrip("v").split(".")[:2])
