"""Metrics for Prometheus (``settings.metrics``, off by default): Fluent Bit's own endpoint and an Elasticsearch
exporter, found by the ``prometheus.io/*`` pod annotations and, where the cluster serves the Prometheus Operator's
``monitoring.coreos.com/v1``, by a PodMonitor each.

The exporter is prometheus-community's elasticsearch_exporter (compatibility.ES_EXPORTER_IMAGE). It logs in as a
user that may only monitor (security.monitor_role), verifies Elasticsearch's certificate against the generated CA,
and asks, per scrape, for the cluster's health and every node's stats (``--es.all``: one exporter for the cluster,
whichever node the Service picks). No index statistics: they need index privileges and grow with the indices.
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests import fluent_bit, tls
from kubelogs.manifests.common import (
    MONITOR_SECRET,
    RUNTIME_DEFAULT_SECCOMP,
    GeneratedSecrets,
    Manifest,
    credential_digests,
    labels,
    scrape_annotations,
    secret_env,
    selector,
    service_account,
    workload,
)
from kubelogs.settings import Settings

NAME = "elasticsearch-exporter"
PORT = 9114  # the exporter's registered port (its --web.listen-address default)
PATH = "/metrics"  # its --web.telemetry-path default
HEALTH_PATH = "/healthz"  # 200 once it serves (since 1.1.0)
UID = 65534  # nobody: the image runs as it; any uid can run its one static binary
POD_MONITOR = "PodMonitor"
OPERATOR_KINDS = (POD_MONITOR,)  # kinds a CRD defines: no Kubernetes schema, rendered only where served


def exporter_args(settings: Settings) -> list[str]:
    """The exporter's flags: Elasticsearch's client Service (HTTPS, verified against the CA, where security is
    on), every node's stats, its port and path spelled out (its defaults, kept if they ever change)."""
    args = [f"--es.uri={tls.url(settings)}", "--es.all", f"--web.listen-address=:{PORT}", f"--web.telemetry-path={PATH}"]
    if settings.elasticsearch.security_enabled:
        args.append(f"--es.ca={tls.TRUST_FILE}")
    return args


def exporter(settings: Settings, generated: GeneratedSecrets) -> list[Manifest]:
    ns, secure = settings.namespace, settings.elasticsearch.security_enabled
    # ES_USERNAME/ES_PASSWORD: the exporter reads credentials from its environment or its URI, nowhere else.
    env = [secret_env("ES_USERNAME", MONITOR_SECRET, "username"),
           secret_env("ES_PASSWORD", MONITOR_SECRET, "password")] if secure else []
    pod = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,  # it talks to Elasticsearch only
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, **RUNTIME_DEFAULT_SECCOMP},
        "containers": [{
            "name": NAME,
            "image": settings.metrics.exporter_image,
            "args": exporter_args(settings),
            "env": env,
            "ports": [{"name": "metrics", "containerPort": PORT}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": HEALTH_PATH, "port": "metrics"}, "periodSeconds": 10},
            "livenessProbe": {"httpGet": {"path": HEALTH_PATH, "port": "metrics"}, "initialDelaySeconds": 10,
                              "periodSeconds": 20},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [tls.mount()] if secure else [],
        }],
        "volumes": [tls.volume()] if secure else [],
    }
    # It reads its credentials and the trust bundle at start: a new one restarts it.
    return [service_account(NAME, ns),
            workload("Deployment", NAME, ns, pod, {**credential_digests(generated.monitor_password),
                                                   **generated.trust_digest()},
                     pod_annotations=scrape_annotations(PORT, PATH), replicas=1)]


def pod_monitor(settings: Settings, component: str, port: str, path: str) -> Manifest:
    """The Prometheus Operator's PodMonitor for ``component``'s pods (in its own namespace, the operator's
    default), carrying ``metrics.monitor_labels`` for the Prometheus resource's selector."""
    ns = settings.namespace
    return {"apiVersion": compat.PROMETHEUS_OPERATOR_API, "kind": POD_MONITOR,
            "metadata": {"name": component, "namespace": ns,
                         "labels": {**settings.metrics.monitor_labels, **labels(component, ns)}},
            "spec": {"selector": {"matchLabels": selector(component)},
                     "podMetricsEndpoints": [{"port": port, "path": path}]}}


def render(settings: Settings, generated: GeneratedSecrets, pod_monitors: bool, fluent_bit_runs: bool) -> list[Manifest]:
    """The exporter, and the PodMonitors where the cluster serves them (``pod_monitors``)."""
    if not settings.metrics.enabled:
        return []
    objects = exporter(settings, generated)
    if pod_monitors:
        objects.append(pod_monitor(settings, NAME, "metrics", PATH))
        if fluent_bit_runs:
            objects.append(pod_monitor(settings, fluent_bit.NAME, "http", fluent_bit.METRICS_PATH))
    return objects
