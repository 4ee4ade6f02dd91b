"""log-pilot DaemonSet (the original design's agent), for Docker-runtime nodes only."""

from __future__ import annotations

from kubelogs.manifests import tls
from kubelogs.manifests.common import (
    TRUST_KEY,
    WRITER_SECRET,
    GeneratedSecrets,
    Manifest,
    agent_placement,
    credential_digests,
    secret_env,
    service_account,
    workload,
)
from kubelogs.manifests.elasticsearch import HTTP_PORT, service_host
from kubelogs.settings import Settings

NAME = "log-pilot"
# Its Filebeat has no CA option (its config script writes `protocol` only): a Go program trusts the system's
# bundle, read from SSL_CERT_FILE (Go 1.9+) or else the first of Go's well-known paths, this one first. The
# generated CA is mounted there and named by SSL_CERT_FILE: it trusts that CA and no other, and verifies the
# certificate and its name as Filebeat's default `verification_mode: full` does.
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def render(settings: Settings, runtimes: tuple[str, ...], generated: GeneratedSecrets) -> list[Manifest]:
    """ServiceAccount and DaemonSet on nodes with these runtimes (Docker only: it reads docker.sock)."""
    ns = settings.namespace
    env = [
        {"name": "PILOT_TYPE", "value": "filebeat"},
        {"name": "LOGGING_OUTPUT", "value": "elasticsearch"},
        {"name": "ELASTICSEARCH_HOSTS", "value": f"{service_host(ns)}:{HTTP_PORT}"},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    secured = settings.elasticsearch.security_enabled
    if secured:
        env += [secret_env("ELASTICSEARCH_USER", WRITER_SECRET, "username"),  # writes the log indices, nothing else
                secret_env("ELASTICSEARCH_PASSWORD", WRITER_SECRET, "password"),
                {"name": "ELASTICSEARCH_SCHEME", "value": "https"}, {"name": "SSL_CERT_FILE", "value": SYSTEM_BUNDLE}]
    host_paths = {  # volume name -> (host path, mount path, read-only)
        "docker-sock": ("/var/run/docker.sock", "/var/run/docker.sock", False),
        "root": ("/", "/host", True),
        "localtime": ("/etc/localtime", "/etc/localtime", True),
        "registry": ("/var/lib/filebeat", "/var/lib/filebeat", False),
        "filebeat-logs": ("/var/log/filebeat", "/var/log/filebeat", False),
    }
    pod = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,  # it reads Docker, never the Kubernetes API
        "securityContext": {"runAsUser": 0},  # as its image runs: the Docker socket is root's (privileges.KEPT)
        **agent_placement(runtimes),
        "containers": [{
            "name": NAME,
            "image": settings.agents.log_pilot_image,
            "env": env,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"memory": "512Mi"}},
            # The image's own health script (also its Docker HEALTHCHECK).
            "livenessProbe": {"exec": {"command": ["/pilot/healthz"]},
                              "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 2},
            # SYS_ADMIN: its entrypoint unmounts stale shm mounts under /host.
            "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}},
            "volumeMounts": [*({"name": v, "mountPath": mount, "readOnly": ro} for v, (_, mount, ro) in host_paths.items()),
                             *([{"name": tls.VOLUME, "mountPath": SYSTEM_BUNDLE, "subPath": TRUST_KEY, "readOnly": True}]
                               if secured else [])],
        }],
        "volumes": [*({"name": v, "hostPath": {"path": path}} for v, (path, _, _) in host_paths.items()),
                    *([tls.volume()] if secured else [])],
    }
    # Configured by env only (in the template already): its credentials and trust bundle to hash.
    return [service_account(NAME, ns), workload("DaemonSet", NAME, ns, pod, {
        **credential_digests(generated.writer_password), **generated.trust_digest()})]
