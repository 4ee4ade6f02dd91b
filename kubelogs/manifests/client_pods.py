"""Short-lived pods that call Elasticsearch from inside the cluster (verifier, cluster-stage calls, the
retention job) and the verify stage's canaries: the credentials reach them as files from the Secret and
never leave the cluster. Restricted: a non-root user, no capability, a read-only root (the scripts write under
/tmp only, an emptyDir), the runtime's default seccomp profile, no service-account token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelogs.manifests import privileges, tls
from kubelogs.manifests.common import PART_OF, RUNTIME_DEFAULT_SECCOMP, Manifest, obj
from kubelogs.settings import Settings

NOBODY = 65534
RESTRICTED = {"runAsNonRoot": True, "runAsUser": NOBODY, "allowPrivilegeEscalation": False,
              "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
COMPONENT = "client"  # in privileges.KEPT
# Credentials as files, never env: a pod's env shows in `kubectl describe` and to whoever can read the pod.
CREDENTIALS_DIR = "/var/run/secrets/kubelogs/credentials"  # username, password (files/es-auth.sh)
PASSWORDS_DIR = "/var/run/secrets/kubelogs/passwords"  # a file per placeholder (files/es-admin.sh, requests)
RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
FILES = Path(__file__).resolve().parent.parent.parent / "files"


def script_command(name: str) -> list[str]:
    """``sh -c`` with files/<name>, after files/es-auth.sh (the credentials' curl config)."""
    return ["sh", "-c", (FILES / "es-auth.sh").read_text() + (FILES / name).read_text()]


def es_env(settings: Settings, https: bool | None = None) -> list[dict[str, Any]]:
    """ES_URL, and where files/es-auth.sh finds the credentials and the trust bundle ``pod`` mounts
    (``https``: see ``tls.url``)."""
    return [{"name": "ES_URL", "value": tls.url(settings, https)},
            {"name": "ES_CREDENTIALS", "value": CREDENTIALS_DIR}, {"name": "ES_CA", "value": tls.TRUST_FILE}]


def container(settings: Settings, name: str, **fields: Any) -> dict[str, Any]:
    """A container of the verify image (sh and curl), restricted and small."""
    return {"name": name, "image": settings.verify.image, "resources": RESOURCES, "securityContext": RESTRICTED,
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}], **fields}


def pod(settings: Settings, name: str, labels: dict[str, str], main: dict[str, Any],
        credentials: str | None = None, passwords: dict[str, tuple[str, str]] | None = None, **spec: Any) -> Manifest:
    """A pod that runs once (not an ApplySet member: it is removed by whoever created it).

    ``credentials``: the generated Secret (username, password) it calls Elasticsearch as, mounted as files
    (``es_env``) with the trust bundle it verifies Elasticsearch's certificate against. With security off,
    mounted if they were kept: a cluster still running with security while a restart turns it off needs them,
    and Elasticsearch without security ignores them. ``passwords``: the
    files ``PASSWORDS_DIR/<NAME>`` the requests' @@NAME@@ placeholders are filled in from (Secret, key).
    """
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    if credentials:
        volumes.append({"name": "credentials", "secret": {
            "secretName": credentials, "defaultMode": 0o440, "optional": not settings.elasticsearch.security_enabled}})
        main["volumeMounts"].append({"name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True})
        volumes.append(tls.volume(optional=not settings.elasticsearch.security_enabled))
        main["volumeMounts"].append(tls.mount())
    if passwords:
        volumes.append({"name": "passwords", "projected": {"defaultMode": 0o440, "sources": [
            {"secret": {"name": secret, "items": [{"key": key, "path": placeholder}]}}
            for placeholder, (secret, key) in passwords.items()]}})
        main["volumeMounts"].append({"name": "passwords", "mountPath": PASSWORDS_DIR, "readOnly": True})
        main["env"] = [*main.get("env", []), {"name": "PASSWORDS_DIR", "value": PASSWORDS_DIR}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": PART_OF, **labels},
        "annotations": privileges.annotations(COMPONENT)},
        "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                 # fsGroup: the mounted credentials are the group's to read (mode 0440), no one else's.
                 "securityContext": {"runAsNonRoot": True, "runAsUser": NOBODY, "runAsGroup": NOBODY,
                                     "fsGroup": NOBODY, **RUNTIME_DEFAULT_SECCOMP},
                 "containers": [main], "volumes": volumes, **spec}}


def cronjob(settings: Settings, name: str, pod: Manifest, schedule: str, **spec: Any) -> Manifest:
    """A CronJob of the elasticsearch component running ``pod`` (from ``pod()``) on ``schedule``: one at a time,
    two retries, the last run kept (three failed ones); ``spec``: more CronJob fields (e.g. ``timeZone``)."""
    job = obj("batch/v1", "CronJob", name, "elasticsearch", settings.namespace, spec={
        "schedule": schedule, **spec,
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"spec": {"backoffLimit": 2, "template": {
            "metadata": {"labels": pod["metadata"]["labels"]}, "spec": pod["spec"]}}},
    })
    job["metadata"]["annotations"] = pod["metadata"]["annotations"]  # what its pods keep, and why
    return job
