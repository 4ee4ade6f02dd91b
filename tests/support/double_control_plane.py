"""The API-server double (tests/support/kube_double) as a control plane for the tests: the same interface
as tests/support/control_plane.py's real one (``start``, ``stop``, ``server``, ``kubeconfig``, ``pki``), run as a
process of its own on loopback, serving HTTPS with the same PKI (client certificates, ServiceAccount
tokens) and plain http for the contract check (``http_url``)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.control_plane import Pki, die_with_parent, write_kubeconfig

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0


class DoubleControlPlane:
    kind = "double"

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.kubeconfig = workdir / "admin.kubeconfig"
        self.server = self.http_url = ""
        self.process: subprocess.Popen | None = None

    def start(self) -> DoubleControlPlane:
        started = time.monotonic()
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        self.pki = Pki(self.dir / "pki")
        self._log = self.dir / "logs" / "kube-double.log"
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.kube_double", "--pki", str(self.dir / "pki")],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=log,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)
        ready, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise RuntimeError(f"the API-server double did not start within {READY_TIMEOUT:g} s:\n{self.log_tail()}")
        ports = json.loads(line)
        self.server = f"https://127.0.0.1:{ports['https']}"
        self.http_url = f"http://127.0.0.1:{ports['http']}"
        write_kubeconfig(self.kubeconfig, self.server, self.pki, "admin")
        self.startup_seconds = time.monotonic() - started
        return self

    def log_tail(self, name: str = "kube-double", lines: int = 30) -> str:
        path = self.dir / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
