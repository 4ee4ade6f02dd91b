"""Every Kubernetes object the deploy owns, rendered from the settings (one source of truth)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from kubelogs import compatibility as compat
from kubelogs.manifests import (
    elasticsearch,
    fluent_bit,
    index_settings,
    kibana,
    log_pilot,
    metrics,
    network_policies,
    privileges,
    security,
    snapshots,
)
from kubelogs.manifests.common import (
    CREDENTIALS_SECRET,
    HTTP_CA_SECRET,
    HTTP_CERTS_SECRET,
    HTTP_TRUST_SECRET,
    KIBANA_SECRET,
    MONITOR_SECRET,
    MONITOR_USER,
    PART_OF,
    READER_SECRET,
    READER_USER,
    TRANSPORT_TLS_SECRET,
    TRUST_KEY,
    WRITER_SECRET,
    WRITER_USER,
    GeneratedSecrets,
    Manifest,
    obj,
)
from kubelogs.settings import Settings


def namespace(settings: Settings) -> Manifest:
    # hostPath volumes and SYS_ADMIN (log-pilot) are only allowed at the "privileged" Pod Security
    # level; baseline is audited and warned about so anything else that lands here is noticed.
    # Not an ApplySet member: its parent lives inside it, and a namespace is never pruned.
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.namespace, "labels": {
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": PART_OF,
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "baseline",
        "pod-security.kubernetes.io/warn": "baseline",
    }}}


def secrets(settings: Settings, generated: GeneratedSecrets) -> list[Manifest]:
    if not settings.elasticsearch.security_enabled:
        return []
    ns = settings.namespace
    # `data`, not `stringData`: the API server stores only `data`, so re-applying stays a no-op.
    values = {
        CREDENTIALS_SECRET: {"username": "elastic", "password": generated.password},
        TRANSPORT_TLS_SECRET: {"ca.crt": generated.ca_crt, "tls.crt": generated.tls_crt, "tls.key": generated.tls_key},
        WRITER_SECRET: {"username": WRITER_USER, "password": generated.writer_password},
        READER_SECRET: {"username": READER_USER, "password": generated.reader_password},
        # No pod mounts the CA's key: it only signs Elasticsearch's HTTP certificate, in the cluster stage.
        HTTP_CA_SECRET: {"ca.crt": generated.http_ca_crt, "ca.key": generated.http_ca_key,
                         **({"previous-ca.crt": generated.http_previous_ca_crt,
                             "previous-ca.key": generated.http_previous_ca_key} if generated.http_previous_ca_crt else {})},
        HTTP_CERTS_SECRET: {"tls.crt": generated.http_crt, "tls.key": generated.http_key},
        # Public: the CAs clients trust and the certificate Elasticsearch serves (its expiry, for the verify stage).
        HTTP_TRUST_SECRET: {TRUST_KEY: generated.http_trust, "tls.crt": generated.http_crt},
    }
    if settings.kibana.enabled:
        values[KIBANA_SECRET] = {"username": kibana.system_user(settings), "password": generated.kibana_password,
                                 "encryption-key": generated.kibana_key}
    if settings.metrics.enabled:
        values[MONITOR_SECRET] = {"username": MONITOR_USER, "password": generated.monitor_password}
    owner = {KIBANA_SECRET: kibana.NAME, MONITOR_SECRET: metrics.NAME}
    return [obj("v1", "Secret", name, owner.get(name, elasticsearch.NAME), ns,
                type="Opaque", data=_base64(data)) for name, data in values.items()]


def _base64(values: dict[str, str]) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}


WORKLOADS = ("StatefulSet", "DaemonSet", "Deployment")  # the CronJob's annotations come from its pods

AGENT_BUILDERS: dict[str, Callable[[Settings, tuple[str, ...], GeneratedSecrets], list[Manifest]]] = {
    "log-pilot": log_pilot.render,
    "fluent-bit": fluent_bit.render,
}


def render_all(settings: Settings, generated: GeneratedSecrets,
               initial_masters: tuple[str, ...] | None = None, pod_monitors: bool = False) -> list[Manifest]:
    """Namespace and Secrets first, then workloads: the order they must be applied in.
    ``initial_masters``: see ``elasticsearch.elasticsearch_yml`` (None for a new installation). ``pod_monitors``:
    the cluster serves the Prometheus Operator's PodMonitor (metrics.render)."""
    objects = [namespace(settings), *secrets(settings, generated), *network_policies.render(settings),
               *elasticsearch.render(settings, initial_masters, generated), *security.render(settings, generated),
               *index_settings.render(settings), *snapshots.render(settings)]
    for agent, builder in AGENT_BUILDERS.items():
        runtimes = compat.runtimes_for(agent, settings.agents.collector, settings.elasticsearch.major)
        if runtimes:  # each DaemonSet selects the nodes whose runtime label maps to its agent
            objects += builder(settings, runtimes, generated)
    objects += kibana.render(settings, generated)
    objects += metrics.render(settings, generated, pod_monitors, bool(
        compat.runtimes_for(fluent_bit.NAME, settings.agents.collector, settings.elasticsearch.major)))
    for o in objects:
        if o["kind"] in WORKLOADS:  # what their pods keep, and why, as checkov's skip annotations
            o["metadata"].setdefault("annotations", {}).update(
                privileges.annotations(o["metadata"]["labels"]["app.kubernetes.io/name"]))
    return objects
