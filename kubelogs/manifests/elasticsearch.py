"""Elasticsearch: configuration per major version, governing and client Services, StatefulSet, PDB."""

from __future__ import annotations

import yaml

from kubelogs import compatibility as compat
from kubelogs.manifests import snapshot_repository
from kubelogs.manifests.common import (
    CREDENTIALS_SECRET,
    ES_VERSION_ANNOTATION,
    HTTP_CERTS_SECRET,
    HTTP_TRUST_SECRET,
    NODE_ES_DATA_LABEL,
    RUNTIME_DEFAULT_SECCOMP,
    TRANSPORT_TLS_SECRET,
    TRUST_KEY,
    GeneratedSecrets,
    Manifest,
    obj,
    secret_env,
    selector,
    service_account,
    workload,
)
from kubelogs.settings import Settings

NAME = "elasticsearch"
DISCOVERY_SERVICE = "elasticsearch-discovery"  # the StatefulSet's governing (headless) Service
CONFIG_MAP = "elasticsearch-config"
HTTP_PORT, TRANSPORT_PORT = 9200, 9300
DATA_DIR = "/usr/share/elasticsearch/data"
CERTS_DIR = "/usr/share/elasticsearch/config/certs"  # transport
HTTP_CERTS_DIR = "/usr/share/elasticsearch/config/http-certs"  # HTTP: tls.crt, tls.key and the trust bundle
HTTP_TLS_VOLUME = "http-tls"  # a pod that mounts it serves HTTPS (restarts.protocol)


def service_host(namespace: str) -> str:
    """The client Service's in-cluster DNS name (agents and the verifier write/read through it)."""
    return f"{NAME}.{namespace}.svc"


def pod_names(settings: Settings) -> list[str]:
    return [f"{NAME}-{i}" for i in range(settings.elasticsearch.replicas)]


# Applied live through the cluster settings API when `replicas` changes (kubelogs/cluster/quorum.py), so
# the file's value only matters to a node's first start: a change to it restarts nothing.
LIVE_SETTINGS = ("discovery.zen.minimum_master_nodes",)


def elasticsearch_yml(settings: Settings, initial_masters: tuple[str, ...] | None = None) -> dict:
    """elasticsearch.yml for the version's discovery mechanism and security.

    ``initial_masters``: the bootstrap list of a cluster that already exists (read back from its
    ConfigMap; empty if it formed without one); None for a new installation, which gets every pod.
    """
    es = settings.elasticsearch
    config: dict = {
        "cluster.name": es.cluster_name,
        "node.name": "${HOSTNAME}",
        "network.host": "0.0.0.0",
        "path.data": DATA_DIR,
    }
    if es.major <= 6:
        # Zen discovery: a quorum of master-eligible nodes prevents split brain.
        config["discovery.zen.ping.unicast.hosts"] = DISCOVERY_SERVICE
        config["discovery.zen.minimum_master_nodes"] = es.replicas // 2 + 1
    else:
        # Never `discovery.type: single-node`: such a node cannot be joined later, so growing from one
        # replica would need a new cluster. The bootstrap list is written once and then kept: pods added
        # later are not on it, so they can only join the cluster that exists, never form a second one.
        config["discovery.seed_hosts"] = [DISCOVERY_SERVICE]
        masters = pod_names(settings) if initial_masters is None else list(initial_masters)
        if masters:
            config["cluster.initial_master_nodes"] = masters
    # Always explicit: 5.x images bundle X-Pack with security on, 8.x turns it on by default.
    config["xpack.security.enabled"] = es.security_enabled
    if es.security_enabled:
        config.update({
            "xpack.security.transport.ssl.enabled": True,
            "xpack.security.transport.ssl.verification_mode": "certificate",
            "xpack.security.transport.ssl.key": f"{CERTS_DIR}/tls.key",
            "xpack.security.transport.ssl.certificate": f"{CERTS_DIR}/tls.crt",
            "xpack.security.transport.ssl.certificate_authorities": [f"{CERTS_DIR}/ca.crt"],
            # HTTPS for every client (each verifies the certificate against the HTTP CA); the same keys
            # from 6.8 to 9.x. Elasticsearch reloads the files when they change; kubelogs restarts the pods
            # anyway, one at a time, so a renewal is never half-applied.
            "xpack.security.http.ssl.enabled": True,
            "xpack.security.http.ssl.key": f"{HTTP_CERTS_DIR}/tls.key",
            "xpack.security.http.ssl.certificate": f"{HTTP_CERTS_DIR}/tls.crt",
        })
    if es.major >= 8 and not es.security_enabled:
        config["xpack.security.enrollment.enabled"] = False
    config.update(snapshot_repository.elasticsearch_yml(settings))
    return config


def protocol(pod_spec: dict) -> tuple[bool, bool]:
    """(security, HTTPS) of the Elasticsearch a pod (spec) runs: only with security does it get the password,
    only with HTTPS its certificate. Nodes that differ in either cannot serve one cluster's clients together."""
    containers, volumes = pod_spec.get("containers") or [], pod_spec.get("volumes") or []
    return (any(e.get("name") == "ELASTIC_PASSWORD" for c in containers for e in c.get("env") or []),
            any(v.get("name") == HTTP_TLS_VOLUME for v in volumes))


# Raises the open-files soft limit to what Elasticsearch needs where the hard limit allows, else says why it
# cannot (rollout.KNOWN_CAUSES finds the line), then starts Elasticsearch as the image would.
OPEN_FILES_SCRIPT = f"""want={compat.ES_MIN_OPEN_FILES}
hard=$(ulimit -H -n)
soft=$(ulimit -S -n)
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
  if [ "$soft" != unlimited ] && [ "$soft" -lt "$want" ]; then ulimit -S -n "$want"; fi
else
  echo "kubelogs: the open-files hard limit here is $hard, below the $want Elasticsearch needs to start;" \
    "raise the container runtime's limit on this node (containerd: LimitNOFILE in its systemd unit)" >&2
fi
exec "$@"
"""


def start_args(settings: Settings) -> list[str] | None:
    """The container's args (the image's entrypoint stays): the S3 credentials into the keystore and the
    open-files limit first; None where the image's entrypoint cannot run another command (5.x)."""
    if compat.parse_version(settings.elasticsearch.version) < compat.ES_ENTRYPOINT_SCRIPT_FROM:
        return None
    return ["sh", "-c", snapshot_repository.keystore_script(settings) + OPEN_FILES_SCRIPT, "sh", compat.ES_ENTRYPOINT_SCRIPT,
            "eswrapper"]


def health_command(settings: Settings) -> list[str]:
    """Readiness: this node sees an elected master and answers cluster health (yellow is enough:
    waiting for green deadlocks single-replica clusters and rolling restarts)."""
    if settings.elasticsearch.security_enabled:  # the certificate names 127.0.0.1 too
        auth = f'-u "elastic:${{ELASTIC_PASSWORD}}" --cacert {HTTP_CERTS_DIR}/{TRUST_KEY} '
        url = f"https://127.0.0.1:{HTTP_PORT}/_cluster/health?local=true"
    else:
        auth, url = "", f"http://127.0.0.1:{HTTP_PORT}/_cluster/health?local=true"
    return ["sh", "-c", f"curl -fsS -o /dev/null {auth}'{url}'"]


def config_files(settings: Settings, initial_masters: tuple[str, ...] | None = None,
                 live: bool = True) -> dict[str, str]:
    """The ConfigMap's files; Elasticsearch reads them only at start. ``live=False`` leaves out the settings
    applied through the API (for the hash that decides restarts)."""
    config = elasticsearch_yml(settings, initial_masters)
    if not live:
        config = {k: v for k, v in config.items() if k not in LIVE_SETTINGS}
    return {"elasticsearch.yml": yaml.safe_dump(config, sort_keys=True)}


def initial_masters_of(config_map: dict | None) -> tuple[str, ...] | None:
    """The bootstrap list in a live ConfigMap (empty when it has none); None when there is no ConfigMap."""
    if config_map is None:
        return None
    config = yaml.safe_load(((config_map.get("data") or {}).get("elasticsearch.yml")) or "") or {}
    return tuple(config.get("cluster.initial_master_nodes") or ())


def render(settings: Settings, initial_masters: tuple[str, ...] | None = None,
           generated: GeneratedSecrets | None = None) -> list[Manifest]:
    ns = settings.namespace
    return [
        service_account(NAME, ns),
        obj("v1", "ConfigMap", CONFIG_MAP, NAME, ns, data=config_files(settings, initial_masters)),
        obj("v1", "Service", DISCOVERY_SERVICE, NAME, ns, spec={
            "clusterIP": "None",
            "publishNotReadyAddresses": True,  # nodes must find each other before they are ready
            "selector": selector(NAME),
            "ports": [{"name": "transport", "port": TRANSPORT_PORT, "targetPort": "transport"}],
        }),
        obj("v1", "Service", NAME, NAME, ns, spec={
            "selector": selector(NAME),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}],
        }),
        obj("policy/v1", "PodDisruptionBudget", NAME, NAME, ns, spec={
            "maxUnavailable": 1, "selector": {"matchLabels": selector(NAME)},
        }),
        statefulset(settings, initial_masters, generated),
    ]


def statefulset(settings: Settings, initial_masters: tuple[str, ...] | None = None,
                generated: GeneratedSecrets | None = None) -> Manifest:
    es, ns = settings.elasticsearch, settings.namespace
    env = [
        {"name": "ES_JAVA_OPTS", "value": f"-Xms{es.heap} -Xmx{es.heap}"},
    ]
    if es.security_enabled:
        env.append(secret_env("ELASTIC_PASSWORD", CREDENTIALS_SECRET, "password"))
    mounts = [
        {"name": "data", "mountPath": DATA_DIR},
        {"name": "config", "mountPath": "/usr/share/elasticsearch/config/elasticsearch.yml",
         "subPath": "elasticsearch.yml"},
    ]
    volumes: list[dict] = [{"name": "config", "configMap": {"name": CONFIG_MAP}}]
    if es.security_enabled:
        mounts.append({"name": "transport-tls", "mountPath": CERTS_DIR, "readOnly": True})
        volumes.append({"name": "transport-tls", "secret": {"secretName": TRANSPORT_TLS_SECRET}})
        mounts.append({"name": HTTP_TLS_VOLUME, "mountPath": HTTP_CERTS_DIR, "readOnly": True})
        volumes.append({"name": HTTP_TLS_VOLUME, "projected": {"sources": [
            {"secret": {"name": HTTP_CERTS_SECRET, "items": [{"key": k, "path": k} for k in ("tls.crt", "tls.key")]}},
            {"secret": {"name": HTTP_TRUST_SECRET, "items": [{"key": TRUST_KEY, "path": TRUST_KEY}]}}]}})
    extra_volumes, extra_mounts = snapshot_repository.volumes(settings)
    volumes += extra_volumes
    mounts += extra_mounts
    affinity: dict = {
        # Two Elasticsearch pods must never share a node (nor, with hostPath, a data directory).
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": selector(NAME)}, "topologyKey": "kubernetes.io/hostname"}]},
    }
    pod = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,
        "securityContext": {"runAsUser": compat.ES_UID, "runAsGroup": compat.ES_GID,
                            "fsGroup": compat.ES_GID, "runAsNonRoot": True, **RUNTIME_DEFAULT_SECCOMP},
        "affinity": affinity,
        "terminationGracePeriodSeconds": 120,
        "containers": [{
            "name": NAME,
            "image": es.image_ref,
            **({"args": start_args(settings)} if start_args(settings) else {}),
            "env": env,
            "ports": [{"name": "http", "containerPort": HTTP_PORT},
                      {"name": "transport", "containerPort": TRANSPORT_PORT}],
            "resources": {"requests": {"cpu": es.cpu, "memory": es.memory},
                          "limits": {"memory": es.memory}},
            "readinessProbe": {"exec": {"command": health_command(settings)},
                               "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5},
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    }
    extra: dict = {}
    if es.storage == "hostPath":
        # The node stage created the directory with the right owner on nodes it labelled.
        affinity["nodeAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": NODE_ES_DATA_LABEL, "operator": "In", "values": ["true"]}]}]}}
        volumes.append({"name": "data", "hostPath": {"path": es.data_path, "type": "Directory"}})
    else:
        claim: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": es.pvc_size}}}
        if es.storage_class:
            claim["storageClassName"] = es.storage_class
        extra["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": claim}]
    digests = generated.certificate_digest() if generated and es.security_enabled else {}
    sts = workload("StatefulSet", NAME, ns, pod, {**config_files(settings, initial_masters, live=False), **digests},
                   serviceName=DISCOVERY_SERVICE, replicas=es.replicas,
                   podManagementPolicy="Parallel",  # all masters must start together to elect one
                   **extra)
    # kubelogs restarts the pods itself, one at a time and only while Elasticsearch is healthy
    # (kubelogs/cluster/restarts.py): the controller's rolling update would follow readiness only.
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    sts["metadata"]["annotations"] = {ES_VERSION_ANNOTATION: es.version}
    return sts
