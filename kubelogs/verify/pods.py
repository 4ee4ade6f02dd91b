"""The short-lived pods of the verify stage: one canary per node, and the verifier that searches for them."""

from __future__ import annotations

import datetime
from pathlib import Path

from kubelogs.manifests.common import (
    CREDENTIALS_SECRET,
    LOG_NAME_ANNOTATION,
    LOG_PILOT_ENV_PREFIX,
    PART_OF,
    Manifest,
    secret_env,
)
from kubelogs.manifests.elasticsearch import HTTP_PORT, service_host
from kubelogs.settings import Settings

CANARY_LOG_NAME = "kubelogs-canary"  # declared with the application contract, like any application
ROLE_LABEL = "kubelogs.io/verify"  # "canary" or "verifier"; these pods are not ApplySet members
SCRIPT = Path(__file__).resolve().parent.parent.parent / "files" / "verify-canaries.sh"
POLL_SECONDS = 2
_RESTRICTED = {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
               "capabilities": {"drop": ["ALL"]}}
_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}


def index_for(day: datetime.date) -> str:
    return f"{CANARY_LOG_NAME}-{day:%Y.%m.%d}"


def _pod(settings: Settings, name: str, role: str, container: dict, **spec: object) -> Manifest:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": PART_OF, ROLE_LABEL: role}},
        "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                 "containers": [{"image": settings.verify.image, "resources": _RESOURCES,
                                 "securityContext": _RESTRICTED, **container}], **spec}}


def canary(settings: Settings, name: str, node: str, token: str) -> Manifest:
    """A pod pinned to ``node`` that prints ``token`` once and stays up until the verify stage ends
    (log-pilot misses lines of containers that exit at once)."""
    pod = _pod(settings, name, "canary", {
        "name": "canary",
        "command": ["sh", "-c", f"echo 'kubelogs canary {token}'; sleep {settings.verify.timeout + 120}"],
        "env": [{"name": f"{LOG_PILOT_ENV_PREFIX}{CANARY_LOG_NAME}", "value": "stdout"}],
    }, nodeName=node, tolerations=[{"operator": "Exists"}])
    pod["metadata"]["annotations"] = {LOG_NAME_ANNOTATION: CANARY_LOG_NAME}
    return pod


def verifier(settings: Settings, name: str, tokens: dict[str, str], index: str) -> Manifest:
    """A pod that runs files/verify-canaries.sh inside the cluster: the credentials never leave it."""
    env = [
        {"name": "ES_URL", "value": f"http://{service_host(settings.namespace)}:{HTTP_PORT}"},
        {"name": "HEALTH_WAIT", "value": "yellow" if settings.elasticsearch.replicas == 1 else "green"},
        {"name": "INDEX", "value": index},
        {"name": "TOKENS", "value": " ".join(f"{node}={token}" for node, token in tokens.items())},
        {"name": "TIMEOUT", "value": str(settings.verify.timeout)},
        {"name": "INTERVAL", "value": str(POLL_SECONDS)},
    ]
    if settings.elasticsearch.security_enabled:
        env += [secret_env("ES_USER", CREDENTIALS_SECRET, "username"),
                secret_env("ES_PASSWORD", CREDENTIALS_SECRET, "password")]
    return _pod(settings, name, "verifier", {"name": "verifier", "command": ["sh", "-c", SCRIPT.read_text()], "env": env})
