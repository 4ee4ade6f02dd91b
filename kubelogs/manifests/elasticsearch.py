"""Elasticsearch: configuration per major version, governing and client Services, StatefulSet, PDB.

With ``elasticsearch.masters`` set, a second set of the same objects (``elasticsearch-master``) runs the
dedicated masters; the ``elasticsearch`` StatefulSet then runs data nodes only, and they alone serve clients.
"""

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
# The dedicated masters' StatefulSet, its governing Service (the seed hosts of every node) and its file.
MASTER_NAME = "elasticsearch-master"
MASTER_DISCOVERY_SERVICE = "elasticsearch-master-discovery"
MASTER_CONFIG_MAP = "elasticsearch-master-config"
HTTP_PORT, TRANSPORT_PORT = 9200, 9300
DATA_DIR = "/usr/share/elasticsearch/data"
CERTS_DIR = "/usr/share/elasticsearch/config/certs"  # transport
HTTP_CERTS_DIR = "/usr/share/elasticsearch/config/http-certs"  # HTTP: tls.crt, tls.key and the trust bundle
HTTP_TLS_VOLUME = "http-tls"  # a pod that mounts it serves HTTPS (restarts.protocol)


def service_host(namespace: str) -> str:
    """The client Service's in-cluster DNS name (agents and the verifier write/read through it)."""
    return f"{NAME}.{namespace}.svc"


def statefulset_names(settings: Settings) -> list[str]:
    """The Elasticsearch StatefulSets, in the order their pods restart: data nodes first, the masters last
    (Elastic's rolling upgrade order: a newer node can always join an older master, not the reverse)."""
    return [NAME, *([MASTER_NAME] if settings.elasticsearch.masters else [])]


def pod_names(settings: Settings) -> list[str]:
    """The master-eligible pods: the dedicated masters, else every pod."""
    es = settings.elasticsearch
    name, count = (MASTER_NAME, es.masters) if es.masters else (NAME, es.replicas)
    return [f"{name}-{i}" for i in range(count)]


def node_count(settings: Settings) -> int:
    """The nodes of a complete cluster (what the calls wait to see joined): data nodes and masters."""
    return settings.elasticsearch.replicas + settings.elasticsearch.masters


def bootstrap_config_map(settings: Settings) -> str:
    """The ConfigMap that holds the bootstrap list (the master-eligible nodes' file)."""
    return MASTER_CONFIG_MAP if settings.elasticsearch.masters else CONFIG_MAP


def node_roles(settings: Settings, master: bool) -> dict:
    """A dedicated master's or data node's role settings; none without dedicated masters (every role)."""
    es = settings.elasticsearch
    if not es.masters:
        return {}
    if compat.parse_version(es.version) >= compat.NODE_ROLES_FROM:
        return {"node.roles": list(compat.MASTER_ROLES if master else compat.DATA_ROLES)}
    return {"node.master": master, "node.data": not master, "node.ingest": not master}


# Applied live through the cluster settings API when `replicas` changes (kubelogs/cluster/quorum.py), so
# the file's value only matters to a node's first start: a change to it restarts nothing.
LIVE_SETTINGS = ("discovery.zen.minimum_master_nodes",)


def elasticsearch_yml(settings: Settings, initial_masters: tuple[str, ...] | None = None,
                      master: bool = False, transitional: bool = False) -> dict:
    """elasticsearch.yml for the version's discovery mechanism and security.

    ``initial_masters``: the bootstrap list of a cluster that already exists (read back from its
    ConfigMap; empty if it formed without one); None for a new installation, which gets every
    master-eligible pod. ``master``: the file of the dedicated masters (with ``elasticsearch.masters``).
    ``transitional``: the file while the master layout changes (cluster/layout.py): the data nodes stay
    master-eligible until the dedicated masters have taken the vote over (adding them) or become master-eligible
    while the masters still run (retiring them), and every node seeks both sets' Services.
    """
    es = settings.elasticsearch
    config: dict = {
        "cluster.name": es.cluster_name,
        "node.name": "${HOSTNAME}",
        "network.host": "0.0.0.0",
        "path.data": DATA_DIR,
        **(node_roles(settings, master) if master or not transitional else {}),
    }
    # Every node finds the cluster through the master-eligible pods (7.x+ asks no other: "non-master-eligible
    # node found"); while the layout changes, those may be in either set.
    seeds = MASTER_DISCOVERY_SERVICE if es.masters else DISCOVERY_SERVICE
    if es.major <= 6:
        # Zen discovery: a quorum of master-eligible nodes prevents split brain (on every node).
        config["discovery.zen.ping.unicast.hosts"] = seeds
        config["discovery.zen.minimum_master_nodes"] = len(pod_names(settings)) // 2 + 1
    else:
        # Never `discovery.type: single-node`: such a node cannot be joined later, so growing from one
        # replica would need a new cluster. The bootstrap list is written once and then kept: pods added
        # later are not on it, so they can only join the cluster that exists, never form a second one.
        other = DISCOVERY_SERVICE if seeds == MASTER_DISCOVERY_SERVICE else MASTER_DISCOVERY_SERVICE
        config["discovery.seed_hosts"] = [seeds, *([other] if transitional else [])]
        masters = pod_names(settings) if initial_masters is None else list(initial_masters)
        if masters and (master or not es.masters):  # master-eligible nodes only: the others ignore it
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
    """Readiness: this node answers cluster health, from its own state (`local=true`: any status, so waiting for
    green cannot deadlock single-replica clusters and rolling restarts). Its HTTP port opens once it has joined a
    cluster, or 30 s after its start without one (`discovery.initial_state_timeout`), so Ready alone does not
    prove a node joined: every wait of the cluster stage also counts the joined nodes (NODES_WAIT)."""
    if settings.elasticsearch.security_enabled:  # the certificate names 127.0.0.1 too
        auth = f'-u "elastic:${{ELASTIC_PASSWORD}}" --cacert {HTTP_CERTS_DIR}/{TRUST_KEY} '
        url = f"https://127.0.0.1:{HTTP_PORT}/_cluster/health?local=true"
    else:
        auth, url = "", f"http://127.0.0.1:{HTTP_PORT}/_cluster/health?local=true"
    return ["sh", "-c", f"curl -fsS -o /dev/null {auth}'{url}'"]


def config_files(settings: Settings, initial_masters: tuple[str, ...] | None = None,
                 live: bool = True, master: bool = False, transitional: bool = False) -> dict[str, str]:
    """The ConfigMap's files; Elasticsearch reads them only at start. ``live=False`` leaves out the settings
    applied through the API (for the hash that decides restarts), and is the file as the layout settles: a
    transitional file (``elasticsearch_yml``) comes and goes without restarting anything."""
    config = elasticsearch_yml(settings, initial_masters, master, transitional and live)
    if not live:
        config = {k: v for k, v in config.items() if k not in LIVE_SETTINGS}
    return {"elasticsearch.yml": yaml.safe_dump(config, sort_keys=True)}


def initial_masters_of(config_map: dict | None) -> tuple[str, ...] | None:
    """The bootstrap list in a live ConfigMap (empty when it has none); None when there is no ConfigMap."""
    if config_map is None:
        return None
    config = yaml.safe_load(((config_map.get("data") or {}).get("elasticsearch.yml")) or "") or {}
    return tuple(config.get("cluster.initial_master_nodes") or ())


def _governing_service(service: str, name: str, ns: str) -> Manifest:
    """The headless Service of StatefulSet ``name``: its pods' DNS names, and the transport port to find them."""
    return obj("v1", "Service", service, name, ns, spec={
        "clusterIP": "None",
        "publishNotReadyAddresses": True,  # nodes must find each other before they are ready (to elect a master)
        "selector": selector(name),
        "ports": [{"name": "transport", "port": TRANSPORT_PORT, "targetPort": "transport"}],
    })


def _budget(name: str, ns: str) -> Manifest:
    # One pod of the set down at a time (for the masters: a majority of an odd number stays).
    return obj("policy/v1", "PodDisruptionBudget", name, name, ns, spec={
        "maxUnavailable": 1, "selector": {"matchLabels": selector(name)},
    })


def config_map(settings: Settings, initial_masters: tuple[str, ...] | None = None, master: bool = False,
               transitional: bool = False) -> Manifest:
    """The data nodes' ConfigMap (every node's without dedicated masters), or with ``master`` the masters'; see
    ``elasticsearch_yml``."""
    name, component = (MASTER_CONFIG_MAP, MASTER_NAME) if master else (CONFIG_MAP, NAME)
    return obj("v1", "ConfigMap", name, component, settings.namespace,
               data=config_files(settings, initial_masters, master=master, transitional=transitional))


def data_only(config_map: dict | None) -> bool:
    """Whether a live ConfigMap's nodes are data-only nodes (so dedicated masters run beside them)."""
    config = yaml.safe_load(((config_map or {}).get("data") or {}).get("elasticsearch.yml") or "") or {}
    roles = config.get("node.roles")
    return config.get("node.master") is False or (roles is not None and "master" not in roles)


def render(settings: Settings, initial_masters: tuple[str, ...] | None = None,
           generated: GeneratedSecrets | None = None) -> list[Manifest]:
    ns = settings.namespace
    objects = [
        service_account(NAME, ns),
        config_map(settings, initial_masters),
        _governing_service(DISCOVERY_SERVICE, NAME, ns),
        obj("v1", "Service", NAME, NAME, ns, spec={  # the clients': data nodes only (dedicated masters serve none)
            "selector": selector(NAME),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}],
        }),
        _budget(NAME, ns),
        statefulset(settings, initial_masters, generated),
    ]
    if settings.elasticsearch.masters:
        objects += [
            config_map(settings, initial_masters, master=True),
            _governing_service(MASTER_DISCOVERY_SERVICE, MASTER_NAME, ns),
            _budget(MASTER_NAME, ns),
            statefulset(settings, initial_masters, generated, master=True),
        ]
    return objects


def statefulset(settings: Settings, initial_masters: tuple[str, ...] | None = None,
                generated: GeneratedSecrets | None = None, master: bool = False) -> Manifest:
    """The data nodes' StatefulSet (every node's without dedicated masters), or with ``master`` the masters'."""
    es, ns = settings.elasticsearch, settings.namespace
    name = MASTER_NAME if master else NAME
    heap, memory, cpu = (es.master_heap, es.master_memory, es.master_cpu) if master else (es.heap, es.memory, es.cpu)
    env = [
        {"name": "ES_JAVA_OPTS", "value": f"-Xms{heap} -Xmx{heap}"},
    ]
    if es.security_enabled:
        env.append(secret_env("ELASTIC_PASSWORD", CREDENTIALS_SECRET, "password"))
    mounts = [
        {"name": "data", "mountPath": DATA_DIR},
        {"name": "config", "mountPath": "/usr/share/elasticsearch/config/elasticsearch.yml",
         "subPath": "elasticsearch.yml"},
    ]
    volumes: list[dict] = [{"name": "config", "configMap": {"name": MASTER_CONFIG_MAP if master else CONFIG_MAP}}]
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
        # Two pods of a set must never share a node (nor, with hostPath, a data directory); a master and a data
        # node may: each has its own directory (data_path and master_data_path).
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": selector(name)}, "topologyKey": "kubernetes.io/hostname"}]},
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
            "resources": {"requests": {"cpu": cpu, "memory": memory},
                          "limits": {"memory": memory}},
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
        volumes.append({"name": "data", "hostPath": {"path": es.master_data_path if master else es.data_path,
                                                     "type": "Directory"}})
    else:
        claim: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": es.pvc_size}}}
        if es.storage_class:
            claim["storageClassName"] = es.storage_class
        extra["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": claim}]
    digests = generated.certificate_digest() if generated and es.security_enabled else {}
    sts = workload("StatefulSet", name, ns, pod,
                   {**config_files(settings, initial_masters, live=False, master=master), **digests},
                   serviceName=MASTER_DISCOVERY_SERVICE if master else DISCOVERY_SERVICE,
                   replicas=es.masters if master else es.replicas,
                   podManagementPolicy="Parallel",  # all masters must start together to elect one
                   **extra)
    # kubelogs restarts the pods itself, one at a time and only while Elasticsearch is healthy
    # (kubelogs/cluster/restarts.py): the controller's rolling update would follow readiness only.
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    sts["metadata"]["annotations"] = {ES_VERSION_ANNOTATION: es.version}
    return sts
