"""The verifier's reading of every agent's counters (files/verify-canaries.sh, ``agents``), run by the real
``sh``, ``curl`` and ``awk`` against local servers standing in for Fluent Bit's metrics endpoint; and the time
the stage allows it."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubelogs.manifests.client_pods import FILES
from kubelogs.verify import agent_metrics

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

# Counters past 2^31 (a long-running agent's retries): %d would wrap in some awks.
METRICS = """# HELP fluentbit_output_retries_total Number of output retries.
# TYPE fluentbit_output_retries_total counter
fluentbit_output_retries_total{name="es.0"} 3000000000 1733300000000
fluentbit_output_retries_total{name="es.1"} 1.5e+02
fluentbit_output_retries_failed_total{name="es.0"} 2
fluentbit_output_dropped_records_total{name="es.0"} 7
fluentbit_input_records_total{name="tail.0"} 99
"""


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = METRICS.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _agents_function() -> str:
    script = (FILES / "verify-canaries.sh").read_text()
    start = script.index("agents() {")
    return script[start:script.index("\n}\n", start) + 3]


def test_every_agent_is_summed_or_said_unreadable(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "AGENT_PORT": str(port),
               "AGENT_PATH": agent_metrics.METRICS_PATH, "AGENT_COUNTERS": " ".join(agent_metrics.COUNTERS.values()),
               "AGENT_PARALLEL": str(agent_metrics.PARALLEL), "AGENT_SECONDS": "5"}
        # node-b's address answers nothing (a port no one listens on is refused at once).
        done = subprocess.run(["sh", "-c", _agents_function() + 'agents node-a=127.0.0.1 "node-b=127.0.0.2"'],
                              env={**env, "AGENT_PORT": str(port)}, capture_output=True, text=True, timeout=30)
    finally:
        server.shutdown()
    lines = sorted(done.stdout.splitlines())
    assert lines == ["agent node-a 3000000150 2 7", "agent node-b unreadable"], (done.stdout, done.stderr)


@pytest.mark.parametrize("agents, seconds", [(0, 0), (10, 20), (50, 40), (1000, 800)])
def test_the_stage_allows_the_reading_of_agents_that_do_not_answer(agents, seconds):
    assert agent_metrics.reading_seconds(agents) == seconds
