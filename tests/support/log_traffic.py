"""Application log lines on the cluster tier: pods that declare a log (the contract) on the test kubelet's
nodes, their container log files, and which of their lines reached the fake Elasticsearch. Shared by the
no-line-lost tests and the loss benchmark (bench/loss.py)."""

from __future__ import annotations

import datetime
import os
import subprocess
from pathlib import Path

from kubelogs import compatibility as compat
from kubelogs.manifests import fluent_bit
from kubelogs.manifests.common import LOG_NAME_ANNOTATION
from kubelogs.node.facts import DEAD_LETTERS_SCRIPT, NodeState

DEFAULT_MAJOR = compat.parse_version(compat.DEFAULT_ES_VERSION)[0]  # what the default settings deploy


def app_pod(api, name: str, node: str, log_name: str) -> dict:
    """An application pod that declares a log (the contract), played Running by the test kubelet."""
    return api.admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": api.namespace, "annotations": {LOG_NAME_ANNOTATION: log_name}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox:1.36",
                                                   "env": [{"name": f"aliyun_logs_{log_name}", "value": "stdout"}]}]}})


def index_of(log_name: str) -> str:
    return f"{log_name}-{datetime.datetime.now(datetime.timezone.utc):%Y.%m.%d}"


def messages(es, log_name: str) -> list[str]:
    return [d.get("log", "") for d in es.indices.get(index_of(log_name), [])]


def log_file(node, link) -> Path:
    """The file a /var/log/containers link (a path on the node) points to, as reached from here."""
    return node.root / os.readlink(node.root / str(link).lstrip("/")).lstrip("/")


def append_cri_line(path: Path, line: str) -> None:
    """One more line of a running container, in containerd's CRI format."""
    with path.open("a") as log:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        log.write(f"{now} stdout F {line}\n")


def wait_for_replacement(api, node: str, agent: dict) -> None:
    """Until the DaemonSet controller's new Fluent Bit pod on ``node`` is ready."""
    api.wait_for("a new Fluent Bit on the node", lambda: any(
        p["spec"].get("nodeName") == node and p["metadata"]["uid"] != agent["metadata"]["uid"]
        and p["status"].get("containerStatuses", [{}])[0].get("ready") for p in api.pods("fluent-bit")))


def unrouted_messages(es, pod_name: str) -> list[str]:
    """Lines kept in the unrouted index, of the pod whose log file names it."""
    return [d.get("log", "") for name, docs in es.indices.items() if name.startswith(f"{fluent_bit.UNROUTED_PREFIX}-")
            for d in docs if (d.get(fluent_bit.UNROUTED_FIELD) or {}).get("file", "").startswith(f"{pod_name}_")]


def dead_letters_probe(directory: Path) -> dict | None:
    """What the node stage's fact reads of a dead-letter directory: its probe (the same shell), run here."""
    out = subprocess.run(["sh", "-c", f"d={directory}\n{DEAD_LETTERS_SCRIPT}"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return NodeState().process(["endpoint=", *out])["dead_letters"]
