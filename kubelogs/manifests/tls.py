"""How a client reaches Elasticsearch's HTTP layer: HTTPS wherever security is on, the certificate verified
against the generated CA, whose trust bundle each client mounts from a Secret of public certificates
(``HTTP_TRUST_SECRET``; kubelogs/cluster/credentials.py makes and renews it)."""

from __future__ import annotations

from typing import Any

from kubelogs.manifests.common import HTTP_TRUST_SECRET, TRUST_KEY
from kubelogs.manifests.elasticsearch import HTTP_PORT, service_host
from kubelogs.settings import Settings

TRUST_DIR = "/var/run/secrets/kubelogs/elasticsearch-ca"
TRUST_FILE = f"{TRUST_DIR}/{TRUST_KEY}"
VOLUME = "elasticsearch-ca"


def scheme(settings: Settings) -> str:
    return "https" if settings.elasticsearch.security_enabled else "http"


def url(settings: Settings, https: bool | None = None) -> str:
    """The client Service's URL; ``https`` overrides the settings' scheme (a cluster still serving the
    other one while a restart switches it)."""
    use = settings.elasticsearch.security_enabled if https is None else https
    return f"{'https' if use else 'http'}://{service_host(settings.namespace)}:{HTTP_PORT}"


def volume(optional: bool = False) -> dict[str, Any]:
    """The trust bundle, world-readable (public certificates); ``optional`` for a pod that may run before
    it exists or after security was turned off."""
    return {"name": VOLUME, "secret": {"secretName": HTTP_TRUST_SECRET, "defaultMode": 0o444,
                                       "items": [{"key": TRUST_KEY, "path": TRUST_KEY}],
                                       **({"optional": True} if optional else {})}}


def mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": TRUST_DIR, "readOnly": True}
