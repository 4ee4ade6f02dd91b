"""The real test tier put together: one control plane for the test session, its test kubelet, and the
recording proxy the deploy talks through; and ``ClusterView``, one test's share of it (its namespace,
its nodes) with what the tests read: objects, resource versions, requests, faults.
"""

from __future__ import annotations

import base64
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubelogs.cluster.api import ApiError, load_client
from kubelogs.cluster.plan import NodeTarget
from kubelogs.cluster.resources import RESOURCES
from kubelogs.manifests.common import APPLYSET_PART_OF_LABEL, CREDENTIALS_SECRET, HTTP_CERTS_SECRET, applyset_id
from kubelogs.settings import validate_settings
from tests.support import binaries
from tests.support.api_proxy import ApiProxy
from tests.support.control_plane import ControlPlane
from tests.support.double_control_plane import DoubleControlPlane
from tests.support.fake_elasticsearch import FakeElasticsearch
from tests.support.fake_es_coordination import Coordination
from tests.support.kubelet import AdminApi, Kubelet
from tests.support.pod_sandbox import sweep_stale

# Kinds whose resourceVersion a no-op re-run must not change (everything the deploy writes).
# Elasticsearch's nodes: the pods of both StatefulSets (data nodes and, with elasticsearch.masters, the dedicated
# masters: they join the cluster as nodes too, and `_cluster/health` counts them).
ES_NODES = "app.kubernetes.io/name in (elasticsearch,elasticsearch-master)"
TRACKED_KINDS = ("Secret", "ConfigMap", "ServiceAccount", "Service", "PodDisruptionBudget", "StatefulSet",
                 "DaemonSet")


@dataclass
class Tier:
    control_plane: ControlPlane | DoubleControlPlane
    admin: AdminApi
    kubelet: Kubelet
    proxy: ApiProxy
    workdir: Path

    def kubeconfig(self, path: Path, direct: bool = False) -> Path:
        """An admin kubeconfig for the proxy (default) or the API server itself."""
        text = self.control_plane.kubeconfig.read_text()
        if not direct:
            text = text.replace(self.control_plane.server, f"https://{self.proxy.address}")
        path.write_text(text)
        path.chmod(0o600)
        return path

    def stop(self) -> None:
        try:
            self.kubelet.stop()
            self.proxy.stop()
        finally:
            self.control_plane.stop()


def start_tier(workdir: Path) -> Tier:
    """The real control plane where its binaries are given (KUBELOGS_K8S_BIN), else the API-server double."""
    sweep_stale()
    if binaries.k8s_backend() == "real":
        control_plane = ControlPlane(binaries.k8s_bin_dir(), workdir / "control-plane").start()
    else:
        control_plane = DoubleControlPlane(workdir / "control-plane").start()
    try:
        settings = validate_settings({"kubernetes": {"kubeconfig": str(control_plane.kubeconfig)}})
        admin = AdminApi(load_client(settings), retry_delays=(0.2, 0.5, 1.0))
        (workdir / "pods").mkdir(parents=True, exist_ok=True)
        kubelet = Kubelet(admin, control_plane.server.removeprefix("https://"), workdir / "pods",
                          binaries.fluent_bit_binary_if_any, control_plane.pki).start()
        proxy = ApiProxy(control_plane.server.removeprefix("https://"), control_plane.pki).start()
    except BaseException:
        control_plane.stop()
        raise
    return Tier(control_plane, admin, kubelet, proxy, workdir)


@dataclass
class ClusterView:
    """One test's cluster: a namespace of its own, nodes of its own, the proxy's record from its start."""

    tier: Tier
    namespace: str = field(default_factory=lambda: f"kl-{uuid.uuid4().hex[:8]}")
    node_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tier.proxy.requests.clear()
        self.tier.proxy.clear_faults()
        self.tier.kubelet.on_terminate = None
        self._dir = tempfile.TemporaryDirectory(prefix="kubelogs-view-", dir=self.tier.workdir)
        self.kubeconfig = self.tier.kubeconfig(Path(self._dir.name) / "kubeconfig")
        self._servers: list[FakeElasticsearch] = []
        self.elasticsearch: dict[str, FakeElasticsearch] = {}  # namespace -> the fake behind its Service

    # -- nodes --------------------------------------------------------------------------------------------
    def add_node(self, name: str, runtime: str, root: Path | None = None, labels: dict[str, str] | None = None) -> None:
        if root is None:  # a node without a container: its filesystem is a directory
            root = Path(self._dir.name) / "nodes" / name
            root.mkdir(parents=True)
        self.tier.kubelet.add_node(name, runtime, root, labels)
        self.node_names.append(name)

    def serve_elasticsearch(self, major: int, namespace: str | None = None) -> FakeElasticsearch:
        """A fake Elasticsearch behind the namespace's ``elasticsearch`` Service: its nodes are those the
        Elasticsearch pods' coordination joined (tests/support/fake_es_coordination.py, played by the kubelet from
        the file each pod started with), its credentials those of the generated Secret (if any)."""
        ns = namespace or self.namespace

        def running() -> list[dict]:
            return [p for p in self.admin.list("Pod", ns, ES_NODES)
                    if not p["metadata"].get("deletionTimestamp")]

        def credentials() -> tuple[str, str] | None:
            # Security as the running Elasticsearch pods have it: a pod started with security gets the
            # password (ELASTIC_PASSWORD); a changed setting reaches them only when they restart (a full
            # cluster restart turns it on or off for every node at once).
            secured = any(e.get("name") == "ELASTIC_PASSWORD" for p in running()
                          for c in p["spec"]["containers"] for e in c.get("env") or [])
            data = self.secret_data(CREDENTIALS_SECRET, ns)
            return (data["username"], data["password"]) if data and secured else None

        def https() -> tuple[str, str] | None:
            # HTTPS as the running pods serve it: a pod that mounts the HTTP certificate's Secret serves it
            # (Elasticsearch reloads the files when the Secret changes: the current one is served).
            mounted = any(HTTP_CERTS_SECRET in (v.get("secret", {}).get("secretName"),
                                                *(s.get("secret", {}).get("name") for s in v.get("projected", {}).get("sources", [])))
                          for p in running() for v in p["spec"].get("volumes") or [])
            data = self.secret_data(HTTP_CERTS_SECRET, ns)
            return (data["tls.crt"], data["tls.key"]) if mounted and data else None

        started_with: dict = {}

        def node_config() -> dict:
            # elasticsearch.yml as every running node started with it: the ConfigMap's, once every pod runs the
            # StatefulSet's update revision (a changed file changes the template, so the pods restart to read it).
            sts = self.get("StatefulSet", "elasticsearch", ns) or {}
            revision = (sts.get("status") or {}).get("updateRevision")
            pods = [p for p in running() if p["metadata"]["labels"].get("app.kubernetes.io/name") == "elasticsearch"]
            if pods and revision and all(p["metadata"].get("labels", {}).get("controller-revision-hash") == revision
                                         for p in pods):
                config_map = self.get("ConfigMap", "elasticsearch-config", ns) or {}
                started_with["config"] = yaml.safe_load((config_map.get("data") or {}).get("elasticsearch.yml") or "{}")
            return started_with.get("config") or {}

        def keystore() -> dict[str, str]:
            # The S3 keys the pods' start read into the keystore (snapshot_repository.keystore_script), from the
            # Secret they mount.
            names = {v["secret"]["secretName"] for p in running() for v in p["spec"].get("volumes") or []
                     if v.get("name") == "s3-credentials" and "secret" in v}
            data = self.secret_data(names.pop(), ns) if len(names) == 1 else None
            return {f"s3.client.kubelogs.{k}": v for k, v in (data or {}).items()}

        # Its nodes: those the coordination joined; the shards go to those with the data role.
        model = Coordination(lambda: es.major, persistent_quorum=lambda: es.cluster_settings.get("discovery.zen.minimum_master_nodes"))
        es = FakeElasticsearch(major=major, credentials=credentials, https=https, coordination=model)
        es.snapshots.node_config, es.snapshots.keystore = node_config, keystore
        es.start()
        self.tier.kubelet.serve(ns, "elasticsearch", {9200: es.address})
        self.tier.kubelet.coordinate(ns, model)
        self._servers.append(es)
        self.elasticsearch[ns] = es
        return es

    # -- reading the cluster --------------------------------------------------------------------------------
    @property
    def admin(self) -> AdminApi:
        return self.tier.admin

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.admin.get(kind, name, namespace if RESOURCES[kind].namespaced else None)

    def objects(self, kind: str, namespace: str | None = None) -> list[dict]:
        if RESOURCES[kind].namespaced:
            return self.admin.list(kind, namespace or self.namespace)
        return self.admin.list(kind)

    def resource_versions(self) -> dict[tuple[str, str], str]:
        versions = {(kind, o["metadata"]["name"]): o["metadata"]["resourceVersion"]
                    for kind in TRACKED_KINDS for o in self.objects(kind)}
        for name in self.node_names:
            versions[("Node", name)] = self.get("Node", name)["metadata"]["resourceVersion"]
        return versions

    def secret_data(self, name: str, namespace: str | None = None) -> dict[str, str] | None:
        secret = self.get("Secret", name, namespace or self.namespace)
        return None if secret is None else {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    def pods(self, component: str) -> list[dict]:
        return self.admin.list("Pod", self.namespace, f"app.kubernetes.io/name={component}")

    # -- the proxy's record and faults ----------------------------------------------------------------------
    @property
    def requests(self):
        return self.tier.proxy.requests

    def mutations(self):
        return self.tier.proxy.mutations()

    def fail_next(self, method: str, path_contains: str, status: int, times: int = 1) -> None:
        self.tier.proxy.fail_next(method, path_contains, status, times)

    def set_delay(self, seconds: float) -> None:
        self.tier.proxy.delay = seconds

    # -- waiting ------------------------------------------------------------------------------------------
    def wait_for(self, what: str, condition: Callable[[], object], timeout: float = 60.0) -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.1)

    # -- cleanup ------------------------------------------------------------------------------------------
    def cleanup(self, namespaces: list[str] | None = None, wait_for_namespaces: bool = False) -> None:
        """Delete this test's namespaces, cluster objects and nodes. The namespace controller deletes the
        pods and the kubelet confirms; the namespaces themselves finish in the background unless the
        next user needs the same name (``wait_for_namespaces``)."""
        self.tier.proxy.clear_faults()
        namespaces = namespaces or [self.namespace]
        for ns in namespaces:
            try:
                self.admin.delete("Namespace", ns)
            except ApiError:
                pass
            for kind in ("ClusterRole", "ClusterRoleBinding"):
                for obj in self.admin.list(kind, label_selector=f"{APPLYSET_PART_OF_LABEL}={applyset_id(ns)}"):
                    self.admin.delete(kind, obj["metadata"]["name"])
        for ns in namespaces:  # no need to wait for the namespace controller to get to them
            for pod in self.admin.list("Pod", ns):
                self.admin.delete_now("Pod", pod["metadata"]["name"], ns)
        try:
            self.wait_for("the test's pods to be deleted",
                          lambda: not any(self.admin.list("Pod", ns) for ns in namespaces), timeout=90)
            if wait_for_namespaces:
                self.wait_for("the test's namespaces to be deleted",
                              lambda: all(self.admin.get("Namespace", ns) is None for ns in namespaces), timeout=120)
        finally:  # whatever happened, no node of this test may take the next test's pods
            for name in self.node_names:
                self.tier.kubelet.remove_node(name)
            for server in self._servers:
                server.stop()
            for ns in namespaces:
                self.tier.kubelet.backends.pop((ns, "elasticsearch"), None)
                self.tier.kubelet.coordinate(ns, None)
            self._dir.cleanup()


def node_targets(view: ClusterView, specs: list[tuple[str, str, bool]]) -> list[NodeTarget]:
    """Nodes (suffix, runtime, holds data) added to ``view``, as the cluster stage sees them."""
    targets = []
    for suffix, runtime, holds_data in specs:
        name = f"{view.namespace}-{suffix}"
        view.add_node(name, runtime)
        targets.append(NodeTarget(f"@docker/{name}", name, runtime, holds_data))
    return targets
