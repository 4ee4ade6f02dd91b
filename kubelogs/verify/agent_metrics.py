"""What a node's Fluent Bit says about delivery, from its Prometheus metrics (read through the API server's
pod proxy): batches retried, batches given up on (moved to the dead-letter queue, where the image has
one), records dropped. Counted since the agent started."""

from __future__ import annotations

from dataclasses import dataclass

from kubelogs.cluster.api import Kube
from kubelogs.manifests.fluent_bit import HEALTH_PORT

METRICS_PATH = "api/v2/metrics/prometheus"
# Fluent Bit's output counters (the same names in 3.2 and 5.1), summed over its outputs.
COUNTERS = {"retries": "fluentbit_output_retries_total", "given_up": "fluentbit_output_retries_failed_total",
            "dropped": "fluentbit_output_dropped_records_total"}


@dataclass(frozen=True)
class AgentCounters:
    retries: int = 0  # retries of batches Elasticsearch did not take
    given_up: int = 0  # batches that ran out of retries
    dropped: int = 0  # records in those batches (kept in the dead-letter queue where there is one)


def parse(text: str) -> AgentCounters:
    """The counters in a Prometheus text exposition (absent ones are 0)."""
    totals = dict.fromkeys(COUNTERS, 0)
    names = {metric: key for key, metric in COUNTERS.items()}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        metric, _, rest = line.partition("{")
        key = names.get(metric.strip())
        if key:
            value = rest.rpartition("}")[2].split()[0]
            totals[key] += int(float(value))
    return AgentCounters(**totals)


def read(kube: Kube, pod: str, namespace: str) -> AgentCounters:
    """The counters of one Fluent Bit pod; ClusterError when they cannot be read."""
    return parse(kube.pod_proxy(pod, namespace, HEALTH_PORT, METRICS_PATH))
