"""Kibana, of the Elasticsearch version, to look at the logs: a Deployment and a ClusterIP Service in the
namespace (reached with ``kubectl port-forward``; a NetworkPolicy admits nothing else unless the settings
open it). With security on it logs in as its built-in system user, whose password the deploy generates."""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests import tls
from kubelogs.manifests.common import (
    KIBANA_SECRET,
    RUNTIME_DEFAULT_SECCOMP,
    GeneratedSecrets,
    Manifest,
    credential_digests,
    obj,
    secret_env,
    selector,
    service_account,
    workload,
)
from kubelogs.settings import Settings

NAME = "kibana"
PORT = 5601
UID = 1000  # the official image's user (5.x/6.x images name it, so runAsNonRoot needs the number)
STATUS_PATH = "/api/status"
# The overall status in /api/status: `state` green up to 7.x, `level` available from 8.0; yellow and
# degraded (a plugin in trouble) still serve the logs.
OVERALL_OK = r'"overall":\{[^}]*"(state|level)":"(green|yellow|available|degraded)"'


def system_user(settings: Settings) -> str:
    return compat.kibana_system_user(settings.elasticsearch.version)


def env(settings: Settings) -> list[dict]:
    """Kibana's settings, as the official image reads them from env (a fixed list of names per version)."""
    es, version = settings.elasticsearch, compat.parse_version(settings.elasticsearch.version)
    hosts = "ELASTICSEARCH_HOSTS" if version >= compat.KIBANA_HOSTS_SETTING_FROM else "ELASTICSEARCH_URL"
    values = [{"name": hosts, "value": tls.url(settings)}, {"name": "SERVER_HOST", "value": "0.0.0.0"},
              {"name": "SERVER_NAME", "value": NAME}]
    if es.major < 8:  # X-Pack's own switch, gone from Kibana 8 (it follows Elasticsearch there)
        values.append({"name": "XPACK_SECURITY_ENABLED", "value": str(es.security_enabled).lower()})
    if es.security_enabled:
        # elasticsearch.ssl.*: the certificate is checked against the generated CA, and its name (`full`).
        values += [{"name": "ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES", "value": tls.TRUST_FILE},
                   {"name": "ELASTICSEARCH_SSL_VERIFICATIONMODE", "value": "full"}]
        values += [secret_env("ELASTICSEARCH_USERNAME", KIBANA_SECRET, "username"),
                   secret_env("ELASTICSEARCH_PASSWORD", KIBANA_SECRET, "password"),
                   # Sessions (and, from 7.x, saved objects and reports) survive a restart with a fixed key.
                   secret_env("XPACK_SECURITY_ENCRYPTIONKEY", KIBANA_SECRET, "encryption-key")]
        if es.major >= 7:
            values += [secret_env("XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", KIBANA_SECRET, "encryption-key"),
                       secret_env("XPACK_REPORTING_ENCRYPTIONKEY", KIBANA_SECRET, "encryption-key")]
    return values


def readiness_probe(settings: Settings) -> dict:
    """An exec probe (network policies never stand between a pod and its own probe): from 8.9 Kibana answers
    /api/status without credentials, 503 until it is available; before, it wants them (5.x even redirects
    to its login page), so the probe logs in with the password from stdin (not argv) and reads the overall
    status from the answer."""
    timing = {"initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
    url = f"http://127.0.0.1:{PORT}{STATUS_PATH}"
    if compat.parse_version(settings.elasticsearch.version) >= compat.KIBANA_ANONYMOUS_STATUS_FROM:
        command = f"curl -sSf -m 4 -o /dev/null {url}"
    else:
        auth = ('printf \'user = "%s:%s"\\n\' "$ELASTICSEARCH_USERNAME" "$ELASTICSEARCH_PASSWORD" | '
                if settings.elasticsearch.security_enabled else ": | ")
        command = f"{auth}curl -sS -m 4 -K - {url} | grep -Eq '{OVERALL_OK}'"
    return {"exec": {"command": ["sh", "-c", command]}, **timing}


def render(settings: Settings, generated: GeneratedSecrets) -> list[Manifest]:
    if not settings.kibana.enabled:
        return []
    ns, kibana = settings.namespace, settings.kibana
    pod = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,  # it talks to Elasticsearch only
        "securityContext": {"runAsUser": UID, "runAsGroup": UID, "fsGroup": UID, "runAsNonRoot": True,
                            **RUNTIME_DEFAULT_SECCOMP},
        "containers": [{
            "name": NAME,
            "image": kibana.image_ref(settings.elasticsearch.version),
            "env": env(settings),
            "ports": [{"name": "http", "containerPort": PORT}],
            "resources": {"requests": {"cpu": kibana.cpu, "memory": kibana.memory}, "limits": {"memory": kibana.memory}},
            "readinessProbe": readiness_probe(settings),
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "data", "mountPath": "/usr/share/kibana/data"},
                             *([tls.mount()] if settings.elasticsearch.security_enabled else [])],
        }],
        "volumes": [{"name": "data", "emptyDir": {}},
                    *([tls.volume()] if settings.elasticsearch.security_enabled else [])],
    }
    return [
        service_account(NAME, ns),
        obj("v1", "Service", NAME, NAME, ns, spec={
            "selector": selector(NAME), "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]}),
        # Recreate: two Kibana versions must not run against one cluster at once (saved-object migrations).
        workload("Deployment", NAME, ns, pod, {**credential_digests(generated.kibana_password, generated.kibana_key),
                                               **generated.trust_digest()},
                 replicas=1, strategy={"type": "Recreate"}),
    ]
