"""Short-lived pods that call Elasticsearch from inside the cluster (verifier, cluster-stage tasks, the
retention job): the credentials reach them as env from the Secret and never leave the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelogs.manifests.common import CREDENTIALS_SECRET, PART_OF, Manifest, secret_env
from kubelogs.manifests.elasticsearch import HTTP_PORT, service_host
from kubelogs.settings import Settings

RESTRICTED = {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
              "capabilities": {"drop": ["ALL"]}}
RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
FILES = Path(__file__).resolve().parent.parent.parent / "files"


def script_command(name: str) -> list[str]:
    """``sh -c`` with files/<name>, after files/es-auth.sh (the credentials' curl config)."""
    return ["sh", "-c", (FILES / "es-auth.sh").read_text() + (FILES / name).read_text()]


def es_env(settings: Settings, secret: str = CREDENTIALS_SECRET) -> list[dict[str, Any]]:
    """ES_URL, and ES_USER / ES_PASSWORD from a generated Secret (the `elastic` superuser's unless told
    otherwise) when security is on. With security off, from the Secret if one was kept: a cluster still
    running with security while a restart turns it off needs them, and Elasticsearch without security
    ignores them."""
    env: list[dict[str, Any]] = [{"name": "ES_URL", "value": f"http://{service_host(settings.namespace)}:{HTTP_PORT}"}]
    optional = not settings.elasticsearch.security_enabled
    for name, key in (("ES_USER", "username"), ("ES_PASSWORD", "password")):
        ref = secret_env(name, secret, key)
        if optional:
            ref["valueFrom"]["secretKeyRef"]["optional"] = True
        env.append(ref)
    return env


def container(settings: Settings, name: str, **fields: Any) -> dict[str, Any]:
    """A container of the verify image (sh and curl), restricted and small."""
    return {"name": name, "image": settings.verify.image, "resources": RESOURCES, "securityContext": RESTRICTED,
            **fields}


def pod(settings: Settings, name: str, labels: dict[str, str], main: dict[str, Any], **spec: Any) -> Manifest:
    """A pod that runs once (not an ApplySet member: it is removed by whoever created it)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": PART_OF, **labels}},
        "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [main], **spec}}
