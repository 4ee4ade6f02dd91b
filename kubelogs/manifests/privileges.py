"""What each pod keeps that a hardening check would take away, and why: as data.

Every pod is hardened by default (RuntimeDefault seccomp, no privilege escalation, every capability dropped,
non-root and a read-only root filesystem where the image allows, no service-account token where nothing
calls the API). What remains is listed here, per component, under the id of the checkov check it fails,
with the reason. ``annotations`` puts the list on the objects as checkov's own skip annotations, so the
reason travels with the object; tests/unit/test_checkov.py runs checkov on the renders and requires 0 failed
and a reason for every skip; docs/security.md's table is ``markdown()``.
"""

from __future__ import annotations

# Shared by every pod of kubelogs.
IMAGE_DIGEST = ("its image is a setting, a version tag by default: set the image setting to name@sha256:… to pin "
                "a digest")
PULL_POLICY = ("images are version tags (or digests): IfNotPresent, the default, spares a registry round trip on "
               "every restart; a changed tag is a changed image reference and is pulled")
CPU_LIMIT = ("a CPU limit throttles by the CFS quota even on an idle node (JVM pauses, log bursts): CPU is "
             "requested, memory requested and limited, as ECK's defaults do")
EVERY_POD = {"CKV_K8S_43": IMAGE_DIGEST, "CKV_K8S_15": PULL_POLICY, "CKV_K8S_11": CPU_LIMIT}

ONE_SHOT = "a short-lived pod that runs one script and exits: nothing to probe"
UID_1000 = "the image's files belong to uid 1000, its own user: another uid cannot read them"
SYS_ADMIN = "CAP_SYS_ADMIN: log-pilot's entrypoint unmounts stale shm mounts under /host (the node's root)"

# app.kubernetes.io/name of the pods -> checkov check id -> why the pods keep what it asks to take away.
KEPT: dict[str, dict[str, str]] = {
    "elasticsearch": {
        **EVERY_POD,
        "CKV_K8S_22": ("the image writes config/elasticsearch.keystore and logs/ into its own tree at start; a "
                       "read-only root needs an init step that copies config/ into an emptyDir first (as ECK does "
                       "from 8.8), which no test machine of kubelogs can run against the images"),
        "CKV_K8S_40": UID_1000,
        "CKV_K8S_35": ("ELASTIC_PASSWORD: the image's entrypoint reads the bootstrap password from its environment "
                       "(a *_FILE form is documented from 7.x only), once, at the first start"),
        "CKV_K8S_8": ("no liveness probe: it would restart a node in a long GC or a recovery and turn a slow node "
                      "into an outage; the readiness probe (the node's view of cluster health) gates traffic, as "
                      "with ECK"),
    },
    "kibana": {
        **EVERY_POD,
        "CKV_K8S_22": "the image writes its data/ and optimize/ directories inside its own tree",
        "CKV_K8S_40": UID_1000,
        "CKV_K8S_35": ("ELASTICSEARCH_PASSWORD and the encryption key: the image maps environment variables to "
                       "kibana.yml settings; files would need its keystore, made by an init step at every start"),
        "CKV_K8S_8": ("no liveness probe: Kibana waits for Elasticsearch at start and while it restarts; a liveness "
                      "probe would restart it in a loop then. The readiness probe gates traffic"),
    },
    "fluent-bit": {
        **EVERY_POD,
        "CKV_K8S_23": ("root (uid 0) to read the node's container logs, owned by root with mode 0640, and its "
                       "position database on a hostPath; with every capability dropped, no privilege escalation "
                       "and a read-only root filesystem"),
        "CKV_K8S_40": "uid 0: the container logs it reads are root's, mode 0640 (no capability needed as their owner)",
        "CKV_K8S_38": ("its kubernetes filter reads pods and namespaces from the API (get, list and watch, nothing "
                       "else: its ClusterRole)"),
        "CKV_K8S_35": ("ES_USER and ES_PASSWORD: Fluent Bit's configuration reads ${VARIABLES} from its "
                       "environment; its es output cannot read a password from a file"),
    },
    "log-pilot": {
        **EVERY_POD,
        "CKV_K8S_27": ("the log-pilot recipe's design: log-pilot finds containers and the log names they declare "
                       "through the Docker API, over the node's Docker socket"),
        "CKV_K8S_23": "root: the Docker socket and the node's log files are root's",
        "CKV_K8S_40": "uid 0: the Docker socket and the node's log files are root's",
        "CKV_K8S_39": SYS_ADMIN,
        "CKV_K8S_25": SYS_ADMIN,
        "CKV_K8S_37": SYS_ADMIN,
        "CKV_K8S_20": ("the API server refuses allowPrivilegeEscalation: false beside CAP_SYS_ADMIN (a "
                       "capability that escalates by itself)"),
        "CKV_K8S_28": ("the image's other default capabilities (NET_RAW among them) are kept: which of them its "
                       "entrypoint and Filebeat use cannot be tried without the image"),
        "CKV_K8S_31": ("no seccomp profile: its mounts under the runtime's default profile cannot be tried without "
                       "the image"),
        "CKV_K8S_22": "it writes Filebeat's configuration into its own tree at start",
        "CKV_K8S_35": ("ELASTICSEARCH_USER and ELASTICSEARCH_PASSWORD: log-pilot hands Elasticsearch's "
                       "credentials to Filebeat from its environment only"),
        "CKV_K8S_9": "log-pilot serves no endpoint: its liveness probe runs the image's own health script",
    },
    "elasticsearch-exporter": {  # settings.metrics
        **EVERY_POD,
        "CKV_K8S_35": ("ES_USERNAME and ES_PASSWORD: the exporter reads Elasticsearch's credentials from its "
                       "environment or its --es.uri only (a URI would show them in the pod's args)"),
    },
    "client": {  # the verify stage's canaries and verifier, the cluster stage's Elasticsearch calls, retention
        **EVERY_POD,
        "CKV_K8S_8": ONE_SHOT,
        "CKV_K8S_9": ONE_SHOT,
    },
}


# The dedicated masters (elasticsearch.masters) run the same image and entrypoint: they keep the same.
KEPT["elasticsearch-master"] = KEPT["elasticsearch"]


def annotations(component: str) -> dict[str, str]:
    """checkov's skip annotations for the pods of ``component`` (none when it keeps nothing)."""
    return {f"checkov.io/skip{i}": f"{check}={why}" for i, (check, why) in enumerate(KEPT.get(component, {}).items(), 1)}


def markdown() -> str:
    """The table of docs/security.md: every privilege a pod keeps, and why."""
    rows = [f"| {component} | `{check}` | {why} |" for component, kept in KEPT.items()
            if component != "elasticsearch-master"  # the same list as elasticsearch's
            for check, why in kept.items() if why not in EVERY_POD.values()]
    shared = [f"| every pod | `{check}` | {why} |" for check, why in EVERY_POD.items()]
    return "\n".join(["| pods | check | what they keep, and why |", "|---|---|---|", *shared, *rows]) + "\n"
