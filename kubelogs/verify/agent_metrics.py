"""What each node's Fluent Bit says about delivery, from its Prometheus metrics: batches retried, batches given
up on (moved to the dead-letter queue, where the image has one), records dropped. Counted since the agent
started.

The verifier pod gathers them inside the cluster (files/verify-canaries.sh: every agent's
``http://<pod IP>:2020/api/v2/metrics/prometheus``, summed per agent by awk), so the control machine makes
no request per node: it reads one line per agent from the verifier's log.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelogs.manifests.fluent_bit import HEALTH_PORT

METRICS_PATH = "api/v2/metrics/prometheus"
PORT = HEALTH_PORT
# Fluent Bit's output counters (the same names in 3.2 and 5.1), summed over its outputs; the script prints
# them in this order.
COUNTERS = {"retries": "fluentbit_output_retries_total", "given_up": "fluentbit_output_retries_failed_total",
            "dropped": "fluentbit_output_dropped_records_total"}
# How the verifier reads them: BATCH agents per curl, PARALLEL transfers at once, each at most SECONDS.
BATCH, PARALLEL, SECONDS = 50, 25, 20


def reading_seconds(agents: int) -> int:
    """The longest the verifier may spend reading ``agents`` agents (every one of them not answering)."""
    batches = -(-agents // BATCH)
    return batches * -(-min(agents, BATCH) // PARALLEL) * SECONDS


@dataclass(frozen=True)
class AgentCounters:
    retries: int = 0  # retries of batches Elasticsearch did not take
    given_up: int = 0  # batches that ran out of retries
    dropped: int = 0  # records in those batches (kept in the dead-letter queue where there is one)


def parse_line(values: str) -> AgentCounters | None:
    """The counters of one ``agent <node> <values>`` line (the values in ``COUNTERS`` order), or None where
    the verifier could not read them (``unreadable``)."""
    numbers = values.split()
    if len(numbers) != len(COUNTERS) or not all(n.isdigit() for n in numbers):
        return None
    return AgentCounters(**dict(zip(COUNTERS, map(int, numbers))))
