"""Find the node containers of a local kind cluster by the Docker labels kind puts on them."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from kubelogs.errors import UserError

CLUSTER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"
DEFAULT_CLUSTER = "kind"  # kind's own default cluster name
NODE_ROLES = ("control-plane", "worker")  # "external-load-balancer" is not a Kubernetes node


@dataclass
class KindNodes:
    cluster: str
    control_plane: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return self.control_plane + self.workers

    @property
    def data_nodes(self) -> list[str]:
        # kind taints the control plane NoSchedule when there are workers; alone it takes pods.
        return self.workers or self.control_plane


def _docker_ps(cluster: str) -> list[str]:
    command = ["docker", "ps", "--all", "--filter", f"label={CLUSTER_LABEL}={cluster}",
               "--format", '{{.Names}}\t{{.State}}\t{{.Label "' + ROLE_LABEL + '"}}']
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise UserError("kind inventory: the docker command is not installed on this machine") from None
    except subprocess.TimeoutExpired:
        raise UserError("kind inventory: docker did not answer within 30 s") from None
    if result.returncode != 0:
        raise UserError(f"kind inventory: cannot list containers: {result.stderr.strip()}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def discover(cluster: str) -> KindNodes:
    """The running node containers of kind cluster ``cluster``, by role, sorted by name."""
    nodes = KindNodes(cluster)
    stopped = []
    for line in sorted(_docker_ps(cluster)):
        name, state, role = (line.split("\t") + ["", ""])[:3]
        if role not in NODE_ROLES:
            continue
        if state != "running":
            stopped.append(f"{name} ({state})")
        (nodes.control_plane if role == "control-plane" else nodes.workers).append(name)
    if stopped:
        # pyinfra's docker connector would start a stopped container and remove it afterwards.
        raise UserError(
            f"kind inventory: node containers of cluster {cluster!r} are not running: {', '.join(stopped)}; "
            "start them (docker start NAME) and run again"
        )
    if not nodes.all:
        raise UserError(
            f"kind inventory: no node containers of kind cluster {cluster!r} (Docker label "
            f"{CLUSTER_LABEL}={cluster}); create it with `kind create cluster --name {cluster} "
            "--config files/kind-cluster.yaml`, or set KIND_CLUSTER_NAME to the cluster's name"
        )
    return nodes
