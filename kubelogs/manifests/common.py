"""Names, labels and small builders shared by every rendered Kubernetes object."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

PART_OF = "kubelogs"
# Labels the deploy puts on Kubernetes nodes after the node stage prepared them.
NODE_ES_DATA_LABEL = "kubelogs.io/es-data"
NODE_RUNTIME_LABEL = "kubelogs.io/runtime"

# ApplySet (KEP-3659) parent: a Secret in the namespace, so kubectl can see what kubelogs owns.
APPLYSET_PARENT_NAME = "kubelogs-applyset"
APPLYSET_PART_OF_LABEL = "applyset.kubernetes.io/part-of"

# The application contract: a pod declares a log <name> from its stdout with both of these; its lines go
# to the index <name>-YYYY.MM.DD whichever agent runs on its node.
LOG_NAME_ANNOTATION = "kubelogs.io/log-name"  # read by the CRI agent (Fluent Bit)
LOG_PILOT_ENV_PREFIX = "aliyun_logs_"  # log-pilot's convention: aliyun_logs_<name>=stdout

# Pod template annotation: a hash of the configuration files a workload reads only when it starts, so a
# change to them rolls the pods (an unchanged configuration leaves the template, and the pods, alone).
CONFIG_HASH_ANNOTATION = "kubelogs.io/config-hash"

# The Elasticsearch version a StatefulSet runs, for the version-change rules of the next run.
ES_VERSION_ANNOTATION = "kubelogs.io/elasticsearch-version"

# Credentials, each generated once (kubelogs/cluster/credentials.py): the `elastic` superuser (the cluster
# stage's Elasticsearch calls, retention), the log agents' writer, the verifier's reader, Kibana's system user.
CREDENTIALS_SECRET = "elasticsearch-credentials"
WRITER_SECRET = "elasticsearch-writer-credentials"
READER_SECRET = "elasticsearch-reader-credentials"
KIBANA_SECRET = "kibana-credentials"
MONITOR_SECRET = "elasticsearch-monitor-credentials"  # the metrics exporter's (settings.metrics)
TRANSPORT_TLS_SECRET = "elasticsearch-transport-tls"
# HTTP TLS (kubelogs/cluster/certificates.py), named as ECK names its own: the CA with its key (no pod mounts
# it), Elasticsearch's certificate and key (its pods only), and the public trust bundle every client mounts.
HTTP_CA_SECRET = "elasticsearch-http-ca-internal"
HTTP_CERTS_SECRET = "elasticsearch-http-certs-internal"
HTTP_TRUST_SECRET = "elasticsearch-http-certs-public"
TRUST_KEY = "ca.crt"
WRITER_USER, READER_USER = "kubelogs-writer", "kubelogs-reader"
MONITOR_USER = "kubelogs-monitor"

# Labels of the short-lived pods kubelogs runs (not ApplySet members; removed by whoever created them):
TASK_LABEL = "kubelogs.io/task"  # "es-admin" (the cluster stage's Elasticsearch calls) or "retention"
VERIFY_LABEL = "kubelogs.io/verify"  # "canary", "verifier" or "kibana" (the verify stage)


@dataclass(frozen=True)
class GeneratedSecrets:
    """Values the deploy generates once and keeps in Secrets (the cluster stage reads them back)."""

    password: str  # the elastic superuser's
    ca_crt: str = ""
    tls_crt: str = ""
    tls_key: str = ""
    writer_password: str = ""
    reader_password: str = ""
    kibana_password: str = ""
    kibana_key: str = ""  # Kibana's encryption key (sessions, saved objects, reports)
    http_ca_crt: str = ""
    http_ca_key: str = ""
    http_previous_ca_crt: str = ""  # the CA being replaced, trusted until it expires (credentials.http_tls)
    http_previous_ca_key: str = ""
    http_crt: str = ""  # Elasticsearch's HTTP certificate, signed by the HTTP CA
    http_key: str = ""
    http_trust: str = ""  # the CA certificates clients trust (one, or two while a CA is replaced)
    monitor_password: str = ""  # the metrics exporter's user (only while metrics are enabled)

    def trust_digest(self) -> dict[str, str]:
        """For the hash of a client's pod template: it reads the trust bundle at start."""
        return {"trust": hashlib.sha256(self.http_trust.encode()).hexdigest()[:16]} if self.http_trust else {}

    def certificate_digest(self) -> dict[str, str]:
        """For the hash of Elasticsearch's pod template: a renewed HTTP certificate restarts its pods."""
        return {"http-certificate": hashlib.sha256(self.http_crt.encode()).hexdigest()[:16]} if self.http_crt else {}


def applyset_id(namespace: str) -> str:
    """The ApplySet id of the parent Secret, as KEP-3659 defines it (name.namespace.kind.group)."""
    digest = hashlib.sha256(f"{APPLYSET_PARENT_NAME}.{namespace}.Secret.".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def labels(component: str, namespace: str) -> dict[str, str]:
    """Labels of every owned object: recommended app labels plus the ApplySet membership label."""
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": PART_OF,
        APPLYSET_PART_OF_LABEL: applyset_id(namespace),
    }


def selector(component: str) -> dict[str, str]:
    """Pod selector labels: a stable subset of ``labels`` (selectors are immutable)."""
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


# In every pod's securityContext: the runtime's default seccomp profile (Pod Security "restricted" asks for it).
RUNTIME_DEFAULT_SECCOMP = {"seccompProfile": {"type": "RuntimeDefault"}}


def obj(api_version: str, kind: str, name: str, component: str, namespace: str, **body: Any) -> Manifest:
    """A namespaced object owned by kubelogs."""
    metadata = {"name": name, "namespace": namespace, "labels": labels(component, namespace)}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def config_hash(files: dict[str, str]) -> str:
    """A short, stable digest of configuration files (name -> content)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\0".encode())
    return digest.hexdigest()[:16]


def credential_digests(*values: str) -> dict[str, str]:
    """For a pod template's hash (``workload``'s ``config``): a digest of each credential its pods read from env
    at start, so that a credential generated again (its Secret was deleted) restarts them. A digest of a
    random 24-byte token gives nothing away; empty values (security off) are left out."""
    return {f"credential-{i}": hashlib.sha256(v.encode()).hexdigest()[:16] for i, v in enumerate(values) if v}


def workload(kind: str, name: str, namespace: str, pod_spec: dict[str, Any], config: dict[str, str] | None = None,
             pod_annotations: dict[str, str] | None = None, **spec: Any) -> Manifest:
    """A StatefulSet, DaemonSet or Deployment whose pods carry exactly the (immutable) selector labels, the
    hash of the ``config`` files they read at start (if any) and ``pod_annotations``; rolling updates unless
    ``spec`` says otherwise."""
    template_meta: dict[str, Any] = {"labels": selector(name)}
    annotations = {**(pod_annotations or {}), **({CONFIG_HASH_ANNOTATION: config_hash(config)} if config else {})}
    if annotations:
        template_meta["annotations"] = annotations
    strategy = "strategy" if kind == "Deployment" else "updateStrategy"
    return obj("apps/v1", kind, name, name, namespace, spec={
        strategy: {"type": "RollingUpdate"},
        **spec,
        "selector": {"matchLabels": selector(name)},
        "template": {"metadata": template_meta, "spec": pod_spec},
    })


def scrape_annotations(port: int, path: str) -> dict[str, str]:
    """The ``prometheus.io/*`` pod annotations Prometheus's common ``kubernetes-pods`` job reads."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


def cluster_obj(api_version: str, kind: str, name: str, component: str, namespace: str, **body: Any) -> Manifest:
    """A cluster-scoped object owned by the kubelogs installation in ``namespace``."""
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "labels": labels(component, namespace)}, **body}


def service_account(name: str, namespace: str, token: bool = False) -> Manifest:
    # A token is mounted only for an agent that reads the Kubernetes API.
    return obj("v1", "ServiceAccount", name, name, namespace, automountServiceAccountToken=token)


def agent_placement(runtimes: tuple[str, ...]) -> dict[str, Any]:
    """Pod spec fields that put a node agent on every node labelled with one of these runtimes."""
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": NODE_RUNTIME_LABEL, "operator": "In", "values": list(runtimes)}]}]}}},
        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],  # control-plane nodes too
    }


# ConfigMaps of requests the cluster stage sends to Elasticsearch (index settings, security), under this key.
REQUESTS_KEY = "requests"


def requests_text(calls: list[tuple[str, str, dict]]) -> str:
    """(method, path, body) calls, one per line as files/es-admin.sh reads them: ``METHOD PATH BODY``."""
    return "".join(f"{m} {p} {json.dumps(b, separators=(',', ':'), sort_keys=True)}\n" for m, p, b in calls)


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
