"""Test harness: Debian node containers that look like a kind cluster, and the real deploy run on them.

Containers get no network (``--network none``) and are reached with ``docker exec``, as pyinfra's
``@docker`` connector and testinfra's ``docker://`` backend both do. Given the real test tier, each
container is also a Kubernetes node of the cluster tier, played by the test kubelet on the
container's own filesystem (its /var/log, /var/lib/fluent-bit, ...), with a fake Elasticsearch behind the
``elasticsearch`` Service; without it (the node-stage benchmark), the deploy is limited to the nodes.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelogs import compatibility as compat
from tests.support.cluster_helpers import TEST_POLL
from tests.support.fake_elasticsearch import FakeElasticsearch
from tests.support.tier import ClusterView, Tier

REPO = Path(__file__).resolve().parents[2]
VERIFY_PREFIX = "Verify | "  # pyinfra prefixes operation names with their @deploy's name
NODE_IMAGE = "kubelogs-test-node:bookworm"
CONTAINERD_ENDPOINT = "unix:///run/containerd/containerd.sock"
DOCKER_ENDPOINT = "unix:///run/cri-dockerd.sock"  # Kubernetes >= 1.24 on Docker goes through cri-dockerd


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not (for pytest.skip)."""
    if shutil.which("docker") is None:
        return "no docker client on PATH (.ci/run installs docker.io)"
    result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if result.returncode != 0:
        return f"no Docker engine answers (start dockerd; .ci/run does): {result.stderr.strip()[:200]}"
    return None


def ensure_node_image() -> str:
    """Build the node image once (debootstrap Debian 12 minbase, docker import); return its tag."""
    if subprocess.run(["docker", "image", "inspect", NODE_IMAGE], capture_output=True).returncode == 0:
        return NODE_IMAGE
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (.ci/run installs it)")
    with tempfile.TemporaryDirectory(prefix="kubelogs-rootfs-") as rootfs:
        subprocess.run(["debootstrap", "--variant=minbase", "--include=procps,iproute2", "bookworm", rootfs],
                       check=True, capture_output=True, timeout=900)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", NODE_IMAGE], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()
    return NODE_IMAGE


@dataclass
class Node:
    name: str
    role: str  # "control-plane" | "worker"
    runtime_endpoint: str = CONTAINERD_ENDPOINT
    tmpfs_data: bool = False  # a 1 MiB tmpfs at /es-data, to be filled by disk tests

    def exec(self, command: str, check: bool = True) -> str:
        return docker("exec", self.name, "sh", "-c", command, check=check)


def container_root(name: str) -> Path:
    """A container's root filesystem as the host sees it. Not /proc/<pid>/root: a path in another mount
    namespace cannot be bind-mounted into a pod sandbox; overlay2's merged directory can."""
    merged = docker("inspect", "--format", "{{.GraphDriver.Data.MergedDir}}", name).strip()
    if not merged or merged == "<no value>":
        raise RuntimeError(f"Docker's storage driver gives no merged directory for {name} (overlay2 needed)")
    return Path(merged)


@dataclass
class KindLikeCluster:
    """Node containers labelled exactly as kind labels its nodes; with ``tier``, also the Kubernetes nodes
    of the cluster tier, in namespace ``namespace``. The deploy finds the API through $KUBECONFIG,
    as it would find a kind cluster's."""

    tier: Tier | None = None
    namespace: str = "logging"  # the deploy's default
    es_major: int = compat.parse_version(compat.DEFAULT_ES_VERSION)[0]  # of the settings' Elasticsearch version
    name: str = field(default_factory=lambda: f"kubelogs-test-{uuid.uuid4().hex[:8]}")
    nodes: list[Node] = field(default_factory=list)

    def __enter__(self) -> KindLikeCluster:
        self.api: ClusterView | None = None
        self.es: FakeElasticsearch | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="kubelogs-kubeconfig-")
        self.kubeconfig = Path(self._dir.name) / "no-cluster"  # node stage only: nothing to talk to
        if self.tier is not None:
            self.api = ClusterView(self.tier, namespace=self.namespace)
            self.es = self.api.serve_elasticsearch(self.es_major)
            self.kubeconfig = self.api.kubeconfig
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.api is not None:  # first: its pods use the containers' filesystems
                self.api.cleanup(wait_for_namespaces=True)  # the next cluster uses the same namespace
        finally:
            self.remove()
            self._dir.cleanup()

    def add(self, role: str, runtime_endpoint: str = CONTAINERD_ENDPOINT, tmpfs_data: bool = False) -> Node:
        """Start a container with kind's labels; role "worker" is numbered like kind numbers them."""
        suffix = f"worker{sum(n.role == 'worker' for n in self.nodes) + 1}" if role == "worker" else role
        node = Node(f"{self.name}-{suffix}", role, runtime_endpoint, tmpfs_data)
        args = ["run", "-d", "--name", node.name, "--hostname", node.name, "--network", "none",
                # vm.max_map_count is written by the node stage: needs these, not --privileged (see notes)
                "--cap-add", "SYS_ADMIN", "--security-opt", "systempaths=unconfined",
                "--label", f"io.x-k8s.kind.cluster={self.name}", "--label", f"io.x-k8s.kind.role={role}"]
        if tmpfs_data:
            args += ["--tmpfs", "/es-data:size=1m,mode=0755"]
        docker(*args, NODE_IMAGE, "sleep", "infinity")
        # What kubelet's config says on a real node; the runtime fact reads it.
        node.exec(f"mkdir -p /var/lib/kubelet && echo 'containerRuntimeEndpoint: {runtime_endpoint}'"
                  " > /var/lib/kubelet/config.yaml")
        self.nodes.append(node)
        if self.api is not None and role != "external-load-balancer":  # kind's load balancer is no node
            runtime = "docker" if runtime_endpoint == DOCKER_ENDPOINT else "containerd"
            self.api.add_node(node.name, runtime, container_root(node.name))
        return node

    def node(self, suffix: str) -> Node:
        return next(n for n in self.nodes if n.name.endswith(suffix))

    def remove(self) -> None:
        names = [n.name for n in self.nodes]
        if names:
            docker("rm", "-f", *names, check=False)


def set_max_map_count(node: Node, value: int) -> None:
    """Set the machine-wide vm.max_map_count (it is not namespaced) through a node container."""
    node.exec(f"sysctl -w vm.max_map_count={value} >/dev/null")


def max_map_count() -> int:
    return int(Path("/proc/sys/vm/max_map_count").read_text())


@dataclass
class DeployRun:
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def report(self) -> dict[str, Any]:
        """pyinfra's --json report (plan and results)."""
        return json.loads(self.stdout)

    def changed_hosts(self) -> dict[str, list[str]]:
        """Operation name -> hosts where it changed something (pyinfra's "success" list). The verify
        stage's check runs on every run by design and leaves nothing behind, so it is not a change."""
        return {op["name"]: op["success"] for op in self.report["results"]["operations"]
                if op["success"] and not op["name"].startswith(VERIFY_PREFIX)}

    def verify_succeeded(self) -> bool:
        ops = [op for op in self.report["results"]["operations"] if op["name"].startswith(VERIFY_PREFIX)]
        return len(ops) == 1 and ops[0]["success"] == ["@local"] and not ops[0]["error"]

    def failed_hosts(self) -> dict[str, list[str]]:
        return {op["name"]: op["error"] for op in self.report["results"]["operations"] if op["error"]}


def run_deploy(cluster: KindLikeCluster | str, settings: dict[str, Any] | None = None, *extra: str,
               json_report: bool = True) -> DeployRun:
    """Run the real `pyinfra inventories/kind.py deploy.py -y` as a user would."""
    return run_pyinfra(cluster, "deploy.py", "-y", *(["--json"] if json_report else []), *extra, settings=settings)


def run_pyinfra(cluster: KindLikeCluster | str, *args: str, settings: dict[str, Any] | None = None,
                timeout: float = 600, env: dict[str, str] | None = None,
                inventory: str = "inventories/kind.py") -> DeployRun:
    """`pyinfra inventories/kind.py ARGS` from the repository root, for kind cluster ``cluster``
    (a KindLikeCluster, whose API server the run talks to, or just a cluster name)."""
    started = time.monotonic()
    process = start_pyinfra(cluster, *args, settings=settings, env=env, inventory=inventory)
    stdout, stderr = process.communicate(timeout=timeout)
    return DeployRun(process.returncode, stdout, stderr, time.monotonic() - started)


def start_pyinfra(cluster: KindLikeCluster | str, *args: str, settings: dict[str, Any] | None = None,
                  env: dict[str, str] | None = None, inventory: str = "inventories/kind.py") -> subprocess.Popen:
    """The same, started in the background (for tests that act on the nodes while it runs)."""
    command = [sys.executable, "-m", "pyinfra", inventory, *args]
    if settings is not None:
        command += ["--data", f"kubelogs={json.dumps(_test_pace(settings))}"]
    name = cluster if isinstance(cluster, str) else cluster.name
    env = {**os.environ, "KIND_CLUSTER_NAME": name, "MINIKUBE_PROFILE": name, **(env or {})}
    if not isinstance(cluster, str):
        env["KUBECONFIG"] = str(cluster.kubeconfig)
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _test_pace(settings: Any) -> Any:
    """The settings a run gets: the test's, polling the cluster every 0.1 s unless the test says otherwise
    (the pace only: a user's run looks every 2 s; what it waits for is the same)."""
    if isinstance(settings, dict) and isinstance(settings.get("kubernetes", {}), dict):
        return {**settings, "kubernetes": {"poll_interval": TEST_POLL, **settings.get("kubernetes", {})}}
    return settings


def docker_time() -> str:
    """Now, in the form `docker events --since/--until` take."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def exec_events(containers: list[str], since: str, until: str) -> list[str]:
    """Names of the containers (one per `docker exec`) that got exec calls between two timestamps."""
    args = ["events", "--since", since, "--until", until, "--format", "{{json .}}",
            "--filter", "type=container", "--filter", "event=exec_create"]
    for name in containers:
        args += ["--filter", f"container={name}"]
    events = [json.loads(line) for line in docker(*args).splitlines() if line.strip()]
    return [event["Actor"]["Attributes"]["name"] for event in events]
