"""A test kubelet for the cluster tier (the API-server double, or a real control plane): it plays the nodes and
runs their pods.

Nothing can run an image here (no container registry, no container runtime), so this plays the part of
kubelet and runtime, through the API server:

- **Nodes:** Node objects named like the test's node containers (or plain directories), Ready, with
  capacity, nodeInfo and the kubelet endpoint the API server calls for ``pods/NAME/log``, served here
  over HTTPS.
- **Pods** bound to those nodes (by the scheduler or the DaemonSet controller) get their status from here:
  Running and Ready, or the reason they are not. Deleted pods are stopped and then confirmed (grace 0).
- **Fluent Bit pods** run the **real fluent-bit binary** of the image's version where one is given
  (``KUBELOGS_FLUENT_BIT_BIN``), with the pod's command, its rendered ConfigMap, env resolved as a kubelet
  does (Secret keys through the API), a service-account token from the TokenRequest API, and the node's
  ``/var/log``, ``/var/lib/docker/containers`` and ``/var/lib/fluent-bit`` as its hostPath volumes, in a
  sandbox (tests/support/pod_sandbox.py) where the Services resolve. Ready when its readiness probe answers.
  Without the binary it is **played** by its own configuration (tests/support/played_fluent_bit.py):
  ready, its health and metrics served on the pod's IP, and each canary line on its node routed by the
  configuration's Lua filter in LuaJIT and shipped as its es output says.
- **Canary pods:** their command runs here (``sleep`` made a no-op); what they print is written to the
  node's ``/var/log/pods/...`` and ``/var/log/containers/...`` in the format of the node's runtime (CRI for
  containerd, Docker's json-file for docker), as kubelet and runtime write it.
- **The verifier pod:** its script runs with the host's sh, curl and awk in a sandbox with its pod IP (it
  reaches the Fluent Bit pods' metrics there); its output is its log and its exit code its phase.
- **Elasticsearch pods:** Running; where a test serves the namespace's Elasticsearch (``coordinate``), each is a
  node of tests/support/fake_es_coordination.py started with the elasticsearch.yml its ``config`` volume holds at
  its start, and Ready as its readiness probe would answer (``_cluster/health?local=true``: once its HTTP is up;
  without ``local``: while it has joined a cluster with an elected master); its deletion is its node leaving.
  Elsewhere: Ready at once.
- **log-pilot pods** (its image cannot run here): Ready; each canary line on their node is written to the
  Elasticsearch their env names, in the index the application contract gives (env ``aliyun_logs_<name>``).
- **Elasticsearch exporter pods** (its image cannot run here): played from their args and env
  (tests/support/played_es_exporter.py) in a sandbox with the pod's IP, so Prometheus's path, the API
  server's pod proxy, reaches its /metrics, which asks the fake Elasticsearch as the real exporter does.
- **Kibana pods** (its image cannot run here): Ready, and a fake Kibana of the image's version
  (tests/support/fake_kibana.py) behind the namespace's ``kibana`` Service, logging in to the fake Elasticsearch
  with the credentials the pod's env resolves to.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import yaml

from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.resources import RESOURCES
from tests.support import played_fluent_bit
from tests.support.control_plane import die_with_parent
from tests.support.fake_es_coordination import Coordination
from tests.support.fake_kibana import FakeKibana
from tests.support.loopback import call, serve_tls
from tests.support.played_fluent_bit import PlayedConfig
from tests.support.pod_sandbox import Mount, Sandbox

REPO = Path(__file__).resolve().parents[2]

SYNC_SECONDS = 0.1
# A sync's LIST of every pod costs the API server and this process time that grows with the pods (at 1,000 nodes,
# about a second on two cores): the next sync waits this many times as long, so listing never takes more than
# a fraction of the machine from what it plays; a real kubelet watches instead.
SYNC_SHARE = 3
# Calls to the API server at once: pods start in threads of their own, and each call beyond the connection pool
# would open a TLS connection of its own (1,000 pods: 1,000 handshakes on the API server).
CONCURRENT_CALLS = 8
# Pod addresses in POD_CIDR, one per pod; 10.244.0.x is left to the host end (HOST_END). Test sessions that run
# at the same time on one machine share the host's routes: each address is claimed by a file naming the session's
# pid (a claim of a process that is gone is taken over), so two sessions never route the same address.
_pod_numbers = itertools.count(os.getpid() * 97)  # next() on it is atomic: pods start in threads
_CLAIMS = Path(tempfile.gettempdir()) / "kubelogs-pod-ips"


def _claimed(ip: str) -> bool:
    claim = _CLAIMS / ip
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = claim.read_text().strip() if claim.exists() else ""
            if owner == str(os.getpid()):
                return True  # ours already: a pod of this session released it by being deleted
            if owner.isdigit() and Path(f"/proc/{owner}").exists():
                return False
            claim.unlink(missing_ok=True)  # its session is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _next_pod_ip() -> str:
    _CLAIMS.mkdir(exist_ok=True)
    while True:
        n = next(_pod_numbers) % (250 * 250)
        ip = f"10.244.{n // 250 + 1}.{n % 250 + 2}"
        if _claimed(ip):
            return ip
READY_TIMEOUT = 30.0
LOG_PILOT_ENV_PREFIX = "aliyun_logs_"  # the application contract, spelled out here on purpose
ES_NODE_NAMES = ("elasticsearch", "elasticsearch-master")  # app.kubernetes.io/name of Elasticsearch's pods


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AdminApi(Kube):
    """The calls a kubelet makes that the deploy never needs; at most ``CONCURRENT_CALLS`` at once, over
    connections kept in the client's pool."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._calls = threading.BoundedSemaphore(CONCURRENT_CALLS)
        pool = self.api.rest_client.pool_manager
        pool.connection_pool_kw["maxsize"] = max(pool.connection_pool_kw.get("maxsize") or 1, CONCURRENT_CALLS)

    def _call(self, *args, **kwargs):
        with self._calls:
            return super()._call(*args, **kwargs)

    def create(self, manifest: dict) -> dict:
        meta = manifest["metadata"]
        return self._call("POST", RESOURCES[manifest["kind"]].path(meta.get("namespace")), body=manifest,
                          content_type="application/json")

    def patch_status(self, kind: str, name: str, namespace: str | None, status: dict, uid: str | None = None) -> dict:
        """Merge-patch the status; with ``uid``, only of that object (a replacement of the same name is left alone)."""
        body: dict = {"status": status}
        if uid:
            body["metadata"] = {"uid": uid}
        try:
            return self._call("PATCH", RESOURCES[kind].path(namespace, name) + "/status", body=body,
                              content_type="application/merge-patch+json")
        except ClusterError:
            if uid:  # gone, or replaced: nothing to report for it any more
                return {}
            raise

    def pod_proxy(self, name: str, namespace: str, port: int, path: str) -> str:
        """GET ``path`` on a pod's port through the API server's proxy, as a person or a scraper outside the cluster."""
        return self._call("GET", f"{RESOURCES['Pod'].path(namespace, name)}:{port}/proxy/{path.lstrip('/')}", text=True)

    def delete_now(self, kind: str, name: str, namespace: str | None, uid: str | None = None) -> None:
        body: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
        if uid:
            body["preconditions"] = {"uid": uid}
        with contextlib.suppress(ClusterError):
            self._call("DELETE", RESOURCES[kind].path(namespace, name), body=body, content_type="application/json")

    def token(self, namespace: str, service_account: str, pod: dict, audiences: list[str], seconds: int) -> str:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
            "audiences": audiences, "expirationSeconds": seconds,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod["metadata"]["name"],
                               "uid": pod["metadata"]["uid"]}}}
        path = RESOURCES["ServiceAccount"].path(namespace, service_account) + "/token"
        return self._call("POST", path, body=body, content_type="application/json")["status"]["token"]


@dataclass
class PlayedNode:
    name: str
    runtime: str  # containerd | docker | cri-o
    root: Path  # the node's filesystem, as reached from here (its container's overlay2 merged directory)


@dataclass
class PlayedPod:
    pod: dict
    node: PlayedNode
    log: str = ""
    process: subprocess.Popen | None = None
    sandbox: Sandbox | None = None
    log_file: Path | None = None
    server: FakeKibana | None = None  # what plays its container, for images that cannot run here
    agent: PlayedConfig | None = None  # a played Fluent Bit's configuration
    env: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    # One of a pod network like kind's (the endpoint controllers refuse loopback addresses). Services reach
    # pods through the sandbox's forwarders; Fluent Bit pods also get it on a veth, for the API server's proxy.
    ip: str = field(default_factory=_next_pod_ip)
    es_ready: bool | None = None  # an Elasticsearch node's readiness as last reported
    es_local_probe: bool = False  # its readiness probe asks _cluster/health?local=true

    @property
    def is_elasticsearch(self) -> bool:
        return (self.pod["metadata"].get("labels") or {}).get("app.kubernetes.io/name") in ES_NODE_NAMES

    @property
    def key(self) -> tuple[str, str]:
        return self.pod["metadata"]["namespace"], self.pod["metadata"]["name"]


@dataclass
class Kubelet:
    api: AdminApi
    apiserver: str  # "127.0.0.1:port" of the API server (the kubernetes Service's backend)
    workdir: Path
    fluent_bit_binary: Callable[[str], Path | None]  # the real binary of a version, or None: played
    pki: object  # tests.support.control_plane.Pki: signs the kubelet endpoint's certificate
    nodes: dict[str, PlayedNode] = field(default_factory=dict)
    backends: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)  # (ns, svc) -> port -> addr
    pull_failures: set[str] = field(default_factory=set)  # images that cannot be pulled
    quiet_nodes: set[str] = field(default_factory=set)  # log-pilot on these nodes ships nothing
    on_terminate: Callable[[dict], None] | None = None  # called with the metadata of each pod deleted
    unreachable: set[str] = field(default_factory=set)  # Service names pods cannot reach now (set_reachable)
    coordination: dict[str, Coordination] = field(default_factory=dict)  # namespace -> its Elasticsearch nodes

    def __post_init__(self) -> None:
        self.pods: dict[str, PlayedPod] = {}  # uid -> pod
        self.logs: dict[tuple[str, str], str] = {}  # (namespace, pod) -> log, kept after the pod is gone
        self._stop = threading.Event()
        self._terminating: set[str] = set()  # pods being stopped before their deletion is confirmed
        self._es_lock = threading.Lock()  # one coordination pass at a time (the sync and starting pods)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> Kubelet:
        self.pki.sign("kubelet", "kubelet", server=True, sans=["127.0.0.1", "localhost"])
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # /containerLogs/<ns>/<pod>/<container>
                parts = [unquote(p) for p in self.path.split("?")[0].split("/") if p]
                text = owner.logs.get((parts[1], parts[2])) if len(parts) >= 3 and parts[0] == "containerLogs" else None
                body = (text if text is not None else "not found").encode()
                self.send_response(200 if text is not None else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve_tls(Handler, self.pki.path("kubelet.crt"), self.pki.path("kubelet.key"))
        self.port = self._server.server_address[1]
        threading.Thread(target=self._sync_loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for played in list(self.pods.values()):
            self._stop_pod(played)
        self._server.shutdown()

    # -- nodes ------------------------------------------------------------------------------------------
    def add_node(self, name: str, runtime: str, root: Path, labels: dict[str, str] | None = None) -> PlayedNode:
        node = PlayedNode(name, runtime, root)
        self.nodes[name] = node
        self.api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            **(labels or {})}}})
        stamp = now()
        conditions = [{"type": kind, "status": "False", "reason": f"KubeletHas{reason}", "message": "played",
                       "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
                      for kind, reason in (("MemoryPressure", "SufficientMemory"), ("DiskPressure", "NoDiskPressure"),
                                           ("PIDPressure", "SufficientPID"))]
        conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                           "message": "kubelet is posting ready status (played by tests/support/kubelet.py)",
                           "lastHeartbeatTime": stamp, "lastTransitionTime": stamp})
        resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        version = {"docker": "docker://28.2.2", "cri-o": "cri-o://1.32.0"}.get(runtime, "containerd://2.0.0")
        self.api.patch_status("Node", name, None, {
            "conditions": conditions, "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {"kubeletVersion": "v1.32.0", "kubeProxyVersion": "", "containerRuntimeVersion": version,
                         "operatingSystem": "linux", "architecture": "amd64", "osImage": "Debian GNU/Linux 12",
                         "kernelVersion": os.uname().release, "machineID": uuid.uuid4().hex,
                         "systemUUID": str(uuid.uuid4()), "bootID": str(uuid.uuid4())}})
        return node

    def remove_node(self, name: str) -> None:
        for played in [p for p in self.pods.values() if p.node.name == name]:
            self._stop_pod(played)
        self.nodes.pop(name, None)
        with contextlib.suppress(ClusterError):
            self.api.delete("Node", name)

    def set_reachable(self, service: str, reachable: bool) -> None:
        """Make a Service (e.g. ``kubernetes.default.svc``) unreachable from every pod, open connections
        included, or reachable again: the API server down, as the nodes see it."""
        (self.unreachable.discard if reachable else self.unreachable.add)(service)
        for played in list(self.pods.values()):
            if played.sandbox is not None and not played.sandbox.closed:
                played.sandbox.cut()

    def resolve(self, host: str, port: int, namespace: str) -> str | None:
        """Where a pod in ``namespace`` reaching ``host:port`` (a Service name) lands on the host's loopback."""
        service, ns = (host.split(".") + [namespace])[:2]
        return self.backends.get((ns, service), {}).get(port)

    def coordinate(self, namespace: str, model: Coordination | None) -> None:
        """Elasticsearch pods of ``namespace`` become nodes of ``model`` (None: Ready at once again)."""
        if model is None:
            self.coordination.pop(namespace, None)
        else:
            self.coordination[namespace] = model

    def serve(self, namespace: str, service: str, ports: dict[int, str]) -> None:
        """Back a Service with addresses on the host's loopback (what its endpoints would be)."""
        self.backends[(namespace, service)] = ports

    # -- pods -------------------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._sync()
            except Exception as e:  # a transient API error must not end the kubelet
                print(f"test kubelet: sync failed: {e}")
            self._stop.wait(max(SYNC_SECONDS, SYNC_SHARE * (time.monotonic() - started)))

    def _sync(self) -> None:
        seen = set()
        for pod in self.api.list("Pod"):
            meta, spec = pod["metadata"], pod.get("spec") or {}
            node = self.nodes.get(spec.get("nodeName") or "")
            if node is None:
                continue
            uid = meta["uid"]
            seen.add(uid)
            played = self.pods.get(uid)
            if meta.get("deletionTimestamp"):
                if uid not in self._terminating:  # stop the containers, then confirm the deletion
                    self._terminating.add(uid)
                    threading.Thread(target=self._terminate, args=(self.pods.pop(uid, None), meta),
                                     daemon=True).start()
            elif played is None:
                played = self.pods[uid] = PlayedPod(pod, node)
                threading.Thread(target=self._run_pod, args=(played,), daemon=True).start()
        for uid in set(self.pods) - seen:
            threading.Thread(target=self._stop_pod, args=(self.pods.pop(uid),), daemon=True).start()
        for namespace in list(self.coordination):
            self._coordinate(namespace)

    def _coordinate(self, namespace: str) -> None:
        """Discovery and elections of the namespace's Elasticsearch nodes, then each pod's readiness patched where it
        changed. A settled cluster costs no request; until then the seed hosts' Services are read (DNS)."""
        model = self.coordination.get(namespace)
        if model is None:
            return
        with self._es_lock:
            if not model.settled():
                model.evaluate({name: self.api.get("Service", name, namespace) for name in sorted(model.seed_services())})
            for played in list(self.pods.values()):
                if played.key[0] != namespace or played.es_ready is None or played.stopped:
                    continue
                ready = model.ready(played.pod["metadata"]["uid"], played.es_local_probe)
                if ready != played.es_ready:
                    played.es_ready = ready
                    self._status(played, "Running", ready=ready)

    def _start_elasticsearch(self, played: PlayedPod) -> None:
        """A node of the namespace's model, with the elasticsearch.yml its config volume holds now (read once)."""
        pod = played.pod
        meta, ns = pod["metadata"], pod["metadata"]["namespace"]
        volume = next((v for v in pod["spec"].get("volumes") or [] if v.get("name") == "config" and "configMap" in v), {})
        config_map = self.api.get("ConfigMap", volume["configMap"]["name"], ns) if volume else None
        try:
            config = yaml.safe_load(((config_map or {}).get("data") or {}).get("elasticsearch.yml") or "") or {}
        except yaml.YAMLError as e:  # Elasticsearch refuses to start
            self._status(played, "Running", ready=False, waiting=("CrashLoopBackOff", f"exit code 1: {e}"[:500]))
            return
        probe = " ".join(str(a) for a in ((pod["spec"]["containers"][0].get("readinessProbe") or {}).get("exec") or {})
                         .get("command") or [])
        played.es_local_probe = "local=true" in probe
        tag = pod["spec"]["containers"][0]["image"].rsplit(":", 1)[-1].split(".")[0]
        self.coordination[ns].start(meta["uid"], meta["name"], meta.get("labels") or {}, config,
                                    int(tag) if tag.isdigit() else None)
        self._status(played, "Running", ready=False)
        played.es_ready = False
        self._coordinate(ns)

    def _terminate(self, played: PlayedPod | None, meta: dict) -> None:
        if self.on_terminate is not None:  # a test's timeline of pod restarts
            self.on_terminate(meta)
        try:
            if played is not None:
                self._stop_pod(played)
            self.api.delete_now("Pod", meta["name"], meta["namespace"], meta["uid"])
        finally:
            self._terminating.discard(meta["uid"])

    def _run_pod(self, played: PlayedPod) -> None:
        pod = played.pod
        container = pod["spec"]["containers"][0]
        role = (pod["metadata"].get("labels") or {}).get("kubelogs.io/verify")
        try:
            if container["image"] in self.pull_failures:
                self._status(played, "Pending", ready=False, waiting=("ImagePullBackOff",
                             f'Back-off pulling image "{container["image"]}"'))
            elif role == "canary":
                self._run_canary(played)
            elif role in ("verifier", "kibana") or (pod["metadata"].get("labels") or {}).get("kubelogs.io/task"):
                self._run_script(played)  # the verify scripts, the cluster stage's Elasticsearch calls, retention
            elif "fluent-bit" in container["image"].rsplit("/", 1)[-1]:
                self._run_fluent_bit(played)
            elif container["image"].rsplit("/", 1)[-1].startswith("kibana:"):
                self._run_kibana(played)
            elif container["image"].rsplit("/", 1)[-1].startswith("elasticsearch-exporter:"):
                self._run_es_exporter(played)
            elif played.is_elasticsearch and pod["metadata"]["namespace"] in self.coordination:
                self._start_elasticsearch(played)
            else:  # Elasticsearch not served by a test, log-pilot, anything else: a started, ready container
                self._status(played, "Running", ready=True)
        except BaseException as e:  # shown where kubectl would show it (pytest's outcomes included)
            with contextlib.suppress(Exception):
                self._status(played, "Pending", ready=False, waiting=("CreateContainerError", str(e)[:500]))
        finally:
            if played.stopped:  # stopped while starting: what started after the stop goes now
                self._stop_pod(played)

    def _status(self, played: PlayedPod, phase: str, ready: bool, waiting: tuple[str, str] | None = None,
                exit_code: int | None = None) -> None:
        if played.stopped:
            return
        pod, stamp = played.pod, now()
        statuses = []
        for c in pod["spec"]["containers"]:
            if waiting:
                state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
            elif exit_code is not None:
                state = {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                        "startedAt": stamp, "finishedAt": stamp}}
            else:
                state = {"running": {"startedAt": stamp}}
            statuses.append({"name": c["name"], "image": c["image"], "imageID": "", "ready": ready,
                             "restartCount": 0, "started": "running" in state, "state": state,
                             "containerID": f"{played.node.runtime}://{pod['metadata']['uid'].replace('-', '')}"})
        flag = "True" if ready else "False"
        self.api.patch_status("Pod", pod["metadata"]["name"], pod["metadata"]["namespace"], uid=pod["metadata"]["uid"], status={
            "phase": phase, "hostIP": "127.0.0.1", "podIP": played.ip, "podIPs": [{"ip": played.ip}], "startTime": stamp,
            "conditions": [{"type": t, "status": s, "lastTransitionTime": stamp} for t, s in (
                ("PodScheduled", "True"), ("Initialized", "True"), ("ContainersReady", flag), ("Ready", flag))],
            "containerStatuses": statuses})

    def _stop_pod(self, played: PlayedPod) -> None:
        """Stop the pod's process and sandbox (again, harmlessly, if its runner already did)."""
        played.stopped = True
        model = self.coordination.get(played.key[0]) if played.is_elasticsearch else None
        if model is not None:  # the node leaves its cluster
            model.stop(played.pod["metadata"]["uid"])
        if played.process and played.process.poll() is None:
            played.process.send_signal(signal.SIGTERM)
            try:
                played.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                played.process.kill()
                played.process.wait()
        if played.log_file and played.log_file.exists():
            self.logs[played.key] = played.log_file.read_text(errors="replace")
        if played.sandbox and not played.sandbox.closed:
            played.sandbox.close()
        if played.server is not None:
            server, played.server = played.server, None
            ns = played.pod["metadata"]["namespace"]
            if self.backends.get((ns, "kibana"), {}).get(5601) == server.address:
                self.backends.pop((ns, "kibana"))
            server.stop()

    # -- what a container needs: env, volumes, a sandbox ------------------------------------------------
    def _secret_value(self, namespace: str, name: str, key: str) -> str:
        secret = self.api.get("Secret", name, namespace) or {}
        return base64.b64decode((secret.get("data") or {})[key]).decode()

    def env(self, pod: dict, container: dict, sandbox: Sandbox | None = None) -> dict[str, str]:
        meta, ns = pod["metadata"], pod["metadata"]["namespace"]
        fields = {"metadata.name": meta["name"], "metadata.namespace": ns, "spec.nodeName": pod["spec"]["nodeName"],
                  "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
                  "status.hostIP": "127.0.0.1", "status.podIP": "10.244.0.2"}
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOSTNAME": meta["name"],
               "KUBERNETES_SERVICE_PORT": "443"}
        if sandbox is not None:  # what a kubelet injects for the kubernetes Service: its address in the pod
            env["KUBERNETES_SERVICE_HOST"] = sandbox.addresses["kubernetes.default.svc"]
        for e in container.get("env") or []:
            source = e.get("valueFrom") or {}
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                try:
                    env[e["name"]] = self._secret_value(ns, ref["name"], ref["key"])
                except KeyError:  # kubelet: a missing optional key leaves the variable out
                    if not ref.get("optional"):
                        raise
            elif "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                env[e["name"]] = ((self.api.get("ConfigMap", ref["name"], ns) or {}).get("data") or {})[ref["key"]]
            elif "fieldRef" in source:
                env[e["name"]] = fields[source["fieldRef"]["fieldPath"]]
            else:
                env[e["name"]] = e.get("value", "")
        return env

    def _services(self, namespace: str) -> list[tuple[list[str], dict[int, str]]]:
        """The Services a pod in ``namespace`` resolves, by name, and where each port's traffic goes
        (kube-proxy's job); the kubernetes Service first."""
        host, port = self.apiserver.rsplit(":", 1)
        backends = {("default", "kubernetes"): {443: f"{host}:{port}"}, **self.backends}
        return [([f"{svc}.{ns}.svc.cluster.local", f"{svc}.{ns}.svc", f"{svc}.{ns}", *([svc] if ns == namespace else [])],
                 ports) for (ns, svc), ports in backends.items()]

    def _volumes(self, played: PlayedPod, directory: Path, host_paths: bool = True) -> list[Mount]:
        """The container's mounts, the files of its configMap, secret and projected volumes written under
        ``directory`` (``host_paths=False``: those only)."""
        pod, node = played.pod, played.node
        ns = pod["metadata"]["namespace"]
        container = pod["spec"]["containers"][0]
        sources: dict[str, str] = {}
        for volume in pod["spec"].get("volumes") or []:
            name, target = volume["name"], directory / volume["name"]
            if "hostPath" in volume and not host_paths:
                continue
            if "hostPath" in volume:
                path = node.root / volume["hostPath"]["path"].lstrip("/")
                if not path.exists():  # containerd creates a missing hostPath source as a directory
                    path.mkdir(parents=True)
                sources[name] = str(path)
                continue
            target.mkdir(parents=True)
            files: dict[str, bytes] = {}
            if "configMap" in volume:
                data = (self.api.get("ConfigMap", volume["configMap"]["name"], ns) or {}).get("data") or {}
                files = {k: v.encode() for k, v in data.items()}
            elif "secret" in volume:
                data = (self.api.get("Secret", volume["secret"]["secretName"], ns) or {}).get("data") or {}
                files = {k: base64.b64decode(v) for k, v in data.items()}
            elif "projected" in volume:
                for source in volume["projected"]["sources"]:
                    if "serviceAccountToken" in source:
                        token = source["serviceAccountToken"]
                        files[token["path"]] = self.api.token(
                            ns, pod["spec"].get("serviceAccountName", "default"), pod,
                            [token["audience"]] if token.get("audience") else [],
                            token.get("expirationSeconds", 3607)).encode()
                    elif "configMap" in source:
                        data = (self.api.get("ConfigMap", source["configMap"]["name"], ns) or {}).get("data") or {}
                        for item in source["configMap"].get("items") or [{"key": k, "path": k} for k in data]:
                            files[item["path"]] = data[item["key"]].encode()
                    elif "secret" in source:  # a missing key of a present Secret fails the pod: not needed here
                        data = (self.api.get("Secret", source["secret"]["name"], ns) or {}).get("data") or {}
                        for item in source["secret"].get("items") or [{"key": k, "path": k} for k in data]:
                            if item["key"] in data:
                                files[item["path"]] = base64.b64decode(data[item["key"]])
                    elif "downwardAPI" in source:
                        for item in source["downwardAPI"]["items"]:
                            value = {"metadata.namespace": ns, "metadata.name": pod["metadata"]["name"]}
                            files[item["path"]] = value[item["fieldRef"]["fieldPath"]].encode()
            for path, content in files.items():
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                (target / path).write_bytes(content)
            sources[name] = str(target)
        return [Mount(str(Path(sources[m["name"]], m.get("subPath", ""))), m["mountPath"], bool(m.get("readOnly")))
                for m in container.get("volumeMounts") or [] if m["name"] in sources]

    def pod_file(self, played: PlayedPod, path: str) -> str | None:
        """The text of the file at ``path`` as the pod's container sees it (from its configMap, secret and
        projected volumes), or None: what a played program reads, such as the CA it trusts."""
        directory = Path(tempfile.mkdtemp(prefix="files-", dir=self.workdir))
        try:
            for mount in sorted(self._volumes(played, directory, host_paths=False), key=lambda m: -len(m.target)):
                if path == mount.target or path.startswith(mount.target.rstrip("/") + "/"):
                    file = Path(mount.source, path[len(mount.target):].lstrip("/"))
                    return file.read_text() if file.is_file() else None
            return None
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    # -- the pods this project runs -----------------------------------------------------------------------
    def _run_fluent_bit(self, played: PlayedPod) -> None:
        pod = played.pod
        container = pod["spec"]["containers"][0]
        version = container["image"].rsplit(":", 1)[-1]
        binary = self.fluent_bit_binary(version)
        if binary is None:
            self._play_fluent_bit(played)
            return
        directory = Path(tempfile.mkdtemp(prefix="pod-", dir=self.workdir))
        mounts = self._volumes(played, directory / "volumes")
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        # The image's binary is the real Fluent Bit of its version.
        mounts.insert(0, Mount(str(binary), argv[0], True))
        played.sandbox = Sandbox(directory / "sandbox", self._services(pod["metadata"]["namespace"]),
                                 pod_ip=played.ip, down=lambda names: bool(self.unreachable.intersection(names))).open()
        played.log_file = directory / "container.log"
        with open(played.log_file, "wb") as log:
            played.process = subprocess.Popen(played.sandbox.command(argv, mounts),
                                              env=self.env(pod, container, played.sandbox),
                                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              preexec_fn=die_with_parent)
        self._run_until_stopped(played, container)

    def _run_until_stopped(self, played: PlayedPod, container: dict) -> None:
        """Ready once its readiness probe answers 200 (on its port, in its sandbox); CrashLoopBackOff when its
        process exits, with the last lines of its log."""
        probe = container.get("readinessProbe", {}).get("httpGet")
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
        deadline = time.monotonic() + READY_TIMEOUT
        while not played.stopped:
            code = played.process.poll()
            if code is not None:
                output = played.log_file.read_text(errors="replace").splitlines()
                shown = [line for line in output if "[error]" in line][:3] or output[-5:]
                self._status(played, "Running", ready=False,
                             waiting=("CrashLoopBackOff", f"exit code {code}: " + " | ".join(shown)))
                self.logs[played.key] = played.log_file.read_text(errors="replace")
                return
            port = ports.get(probe["port"], probe["port"]) if probe else None
            if probe is None or played.sandbox.http_status(int(port), probe.get("path", "/")) == 200:
                self._status(played, "Running", ready=True)
                break
            if time.monotonic() > deadline:
                self._status(played, "Running", ready=False)
                break
            time.sleep(0.2)
        while not played.stopped and played.process.poll() is None:  # a crash later makes it not ready
            time.sleep(0.5)
        if not played.stopped:
            self._status(played, "Running", ready=False,
                         waiting=("CrashLoopBackOff", f"exit code {played.process.returncode}"))

    def _run_es_exporter(self, played: PlayedPod) -> None:
        """The Elasticsearch exporter, played (tests/support/played_es_exporter.py) in the pod's network: its args,
        its env resolved as a kubelet does, its volumes written out, the Services it may reach."""
        pod = played.pod
        container = pod["spec"]["containers"][0]
        directory = Path(tempfile.mkdtemp(prefix="pod-", dir=self.workdir))
        mounts = self._volumes(played, directory / "volumes", host_paths=False)
        played.sandbox = Sandbox(directory / "sandbox", self._services(pod["metadata"]["namespace"]),
                                 pod_ip=played.ip, down=lambda names: bool(self.unreachable.intersection(names))).open()
        env = {**self.env(pod, container, played.sandbox), "PYTHONPATH": str(REPO),
               "PLAYED_HOSTS": str(played.sandbox.dir / "hosts"),
               "PLAYED_MOUNTS": json.dumps([[m.source, m.target] for m in mounts])}
        played.log_file = directory / "container.log"
        with open(played.log_file, "wb") as log:
            played.process = subprocess.Popen(
                ["ip", "netns", "exec", played.sandbox.netns, sys.executable, "-m", "tests.support.played_es_exporter",
                 *(container.get("args") or [])], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self._run_until_stopped(played, container)

    def _play_fluent_bit(self, played: PlayedPod) -> None:
        """No binary of this version: the pod's own configuration drives a played agent (see module doc)."""
        pod = played.pod
        container = pod["spec"]["containers"][0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        mounted = {m["name"] for m in container.get("volumeMounts") or []}
        files: dict[str, str] = {}
        for volume in pod["spec"].get("volumes") or []:
            if "configMap" in volume and volume["name"] in mounted:
                files.update((self.api.get("ConfigMap", volume["configMap"]["name"], pod["metadata"]["namespace"])
                              or {}).get("data") or {})
        try:
            played.agent = played_fluent_bit.load(files, argv)
        except (ValueError, KeyError) as e:  # what the real binary would refuse to start with
            self._status(played, "Running", ready=False, waiting=("CrashLoopBackOff", f"exit code 1: {e}"))
            return
        played.env = self.env(pod, container)
        port = next((p["containerPort"] for p in container.get("ports") or []), 2020)
        directory = Path(tempfile.mkdtemp(prefix="pod-", dir=self.workdir))
        played.sandbox = Sandbox(directory / "sandbox", [], pod_ip=played.ip).open()
        played.process = subprocess.Popen(
            ["ip", "netns", "exec", played.sandbox.netns, sys.executable, "-m", "tests.support.played_fluent_bit",
             str(port)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + READY_TIMEOUT
        while not played.stopped and played.sandbox.http_status(port, "/api/v1/health") != 200:
            if time.monotonic() > deadline or played.process.poll() is not None:
                self._status(played, "Running", ready=False, waiting=("CrashLoopBackOff", "the played agent did not serve"))
                return
            time.sleep(0.1)
        self._status(played, "Running", ready=True)
        while not played.stopped and played.process.poll() is None:  # killed: the container crashed
            time.sleep(0.5)
        if not played.stopped:
            self._status(played, "Running", ready=False,
                         waiting=("CrashLoopBackOff", f"exit code {played.process.returncode}"))

    def _fluent_bit_ship(self, played: PlayedPod, container: dict, lines: list[str], log_file: Path) -> None:
        """A played Fluent Bit (ready, on this node) ships the canary's lines as its configuration says."""
        agent = next((p for p in self.pods.values() if p.node is played.node and not p.stopped and p.agent), None)
        if agent is None or played.node.name in self.quiet_nodes:
            return

        tag = "kube." + str(log_file).lstrip("/").replace("/", ".")
        namespace = agent.pod["metadata"]["namespace"]
        with contextlib.suppress(OSError):
            played_fluent_bit.ship(agent.agent, agent.env, played.node.name, played.pod, container, lines,
                                   lambda host, port: self.resolve(host, port, namespace), tag,
                                   lambda path: self.pod_file(agent, path))

    def _run_kibana(self, played: PlayedPod) -> None:
        pod, ns = played.pod, played.pod["metadata"]["namespace"]
        container = pod["spec"]["containers"][0]
        env = self.env(pod, container)
        major, minor = (int(p) for p in container["image"].rsplit(":", 1)[-1].split(".")[:2])
        url = env.get("ELASTICSEARCH_HOSTS") or env.get("ELASTICSEARCH_URL") or ""
        ca_file = env.get("ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES")
        host, _, port = url.split("://", 1)[-1].partition(":")
        played.server = FakeKibana(major, minor, self.resolve(host, int(port or 9200), ns) or "", url,
                                   ca=self.pod_file(played, ca_file) if ca_file else None,
                                   check_hostname=env.get("ELASTICSEARCH_SSL_VERIFICATIONMODE", "full") == "full",
                                   security="ELASTICSEARCH_PASSWORD" in env, username=env.get("ELASTICSEARCH_USERNAME", ""),
                                   password=env.get("ELASTICSEARCH_PASSWORD", "")).start()
        self.serve(ns, "kibana", {5601: played.server.address})
        self._status(played, "Running", ready=True)

    def _run_canary(self, played: PlayedPod) -> None:
        pod = played.pod
        container = pod["spec"]["containers"][0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        assert argv[:2] == ["sh", "-c"], argv
        # The canary prints, then sleeps until the verify stage removes it: the sleep is not played.
        result = subprocess.run(["sh", "-c", "sleep() { :; }; " + argv[2]], capture_output=True, text=True,
                                timeout=30, env=self.env(pod, container), preexec_fn=die_with_parent)
        self.logs[played.key] = result.stdout
        self._status(played, "Running", ready=True)
        lines = result.stdout.splitlines()
        link = write_container_log(played.node, pod, container["name"], lines)
        self._log_pilot_ship(played, container, lines)
        self._fluent_bit_ship(played, container, lines, link)

    def emit(self, pod: dict, container: str, lines: list[str]) -> Path:
        """An application container writes ``lines``: into its log on its node, where the real Fluent Bit tails
        them; a played one (and log-pilot) ships them as the canary's. The /var/log/containers link."""
        played = self.pods.get(pod["metadata"]["uid"])
        assert played is not None, f"pod {pod['metadata']['name']} is not on a node yet"
        spec = next(c for c in played.pod["spec"]["containers"] if c["name"] == container)
        link = write_container_log(played.node, played.pod, container, lines)
        self._log_pilot_ship(played, spec, lines)
        self._fluent_bit_ship(played, spec, lines, link)
        return link

    def _log_pilot_ship(self, played: PlayedPod, container: dict, lines: list[str]) -> None:
        """log-pilot (if it runs, ready, on this node) ships the lines of a container that declares a log."""
        names = [e["name"][len(LOG_PILOT_ENV_PREFIX):] for e in container.get("env") or []
                 if e["name"].startswith(LOG_PILOT_ENV_PREFIX) and e.get("value") == "stdout"]
        agent = next((p for p in self.pods.values() if p.node is played.node and not p.stopped
                      and "log-pilot" in p.pod["spec"]["containers"][0]["image"]), None)
        if not names or agent is None or played.node.name in self.quiet_nodes:
            return
        env = self.env(agent.pod, agent.pod["spec"]["containers"][0])
        host, _, port = env["ELASTICSEARCH_HOSTS"].split(",")[0].partition(":")
        backend = self.resolve(host, int(port or 9200), agent.pod["metadata"]["namespace"])
        if backend is None:
            return
        index = f"{names[0]}-{datetime.datetime.now(datetime.timezone.utc):%Y.%m.%d}"
        body = "".join(json.dumps(doc) + "\n" for line in lines for doc in (
            {"index": {"_index": index, "_type": "doc"}},  # Filebeat 6.1 writes typed requests
            {"message": line, "@timestamp": now(), "k8s_node_name": played.node.name}))
        headers = {"Content-Type": "application/x-ndjson"}
        if env.get("ELASTICSEARCH_USER"):
            token = base64.b64encode(f"{env['ELASTICSEARCH_USER']}:{env['ELASTICSEARCH_PASSWORD']}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        # Filebeat's `protocol` (ELASTICSEARCH_SCHEME); as a Go program it trusts the system bundle: the file
        # SSL_CERT_FILE names, else Go's first well-known path (verification_mode full: the name too).
        url = f"{env.get('ELASTICSEARCH_SCHEME') or 'http'}://{host}:{port or 9200}/_bulk"
        ca = self.pod_file(agent, env.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
        with contextlib.suppress(OSError):
            call(backend, "POST", url, body.encode(), headers, ca=ca or None)

    def _run_script(self, played: PlayedPod) -> None:
        pod = played.pod
        container = pod["spec"]["containers"][0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        directory = Path(tempfile.mkdtemp(prefix="pod-", dir=self.workdir))
        played.sandbox = Sandbox(directory / "sandbox", self._services(pod["metadata"]["namespace"]),
                                 pod_ip=played.ip).open()
        self._status(played, "Running", ready=True)
        # The pod's volumes (its /tmp emptyDir, its credentials as files), as the real kubelet mounts them.
        mounts = self._volumes(played, directory / "volumes")
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            if not any(m.target == "/tmp" for m in mounts):
                mounts.append(Mount(tmp, "/tmp"))
            env = self.env(pod, container, played.sandbox)
            played.process = subprocess.Popen(played.sandbox.command(argv, mounts), env=env, text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
            output = played.process.communicate()[0]
        self.logs[played.key] = output
        self._status(played, "Succeeded" if played.process.returncode == 0 else "Failed", ready=False,
                     exit_code=played.process.returncode)
        played.sandbox.close()
        shutil.rmtree(directory, ignore_errors=True)


def write_container_log(node: PlayedNode, pod: dict, container: str, lines: list[str]) -> Path:
    """Write a container's output where kubelet and the node's runtime put it; returns the
    /var/log/containers link (as a path on the node)."""
    meta = pod["metadata"]
    container_id = uuid.uuid4().hex + uuid.uuid4().hex
    pod_dir = f"/var/log/pods/{meta['namespace']}_{meta['name']}_{meta['uid']}/{container}"
    link = f"/var/log/containers/{meta['name']}_{meta['namespace']}_{container}-{container_id}.log"
    (node.root / pod_dir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    (node.root / "var/log/containers").mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc)
    if node.runtime == "docker":
        # Docker's json-file log; kubelet (through cri-dockerd) links the pod log to it.
        json_log = f"/var/lib/docker/containers/{container_id}/{container_id}-json.log"
        (node.root / json_log.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps({"log": line + "\n", "stream": "stdout",
                                   "time": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")}) + "\n" for line in lines)
        (node.root / json_log.lstrip("/")).write_text(text)
        os.symlink(json_log, node.root / f"{pod_dir}/0.log".lstrip("/"))
    else:
        # CRI: "<RFC3339Nano> <stream> <F|P> <line>", written by containerd.
        text = "".join(f"{stamp.strftime('%Y-%m-%dT%H:%M:%S.%f000Z')} stdout F {line}\n" for line in lines)
        (node.root / f"{pod_dir}/0.log".lstrip("/")).write_text(text)
    os.symlink(f"{pod_dir}/0.log", node.root / link.lstrip("/"))
    return Path(link)
