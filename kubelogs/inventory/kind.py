"""Find the node containers of a local kind cluster by the Docker labels kind puts on them."""

from __future__ import annotations

from kubelogs.inventory.containers import NodeContainers, docker_ps, require_running

CLUSTER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"
DEFAULT_CLUSTER = "kind"  # kind's own default cluster name
NODE_ROLES = ("control-plane", "worker")  # "external-load-balancer" is not a Kubernetes node


def discover(cluster: str) -> NodeContainers:
    """The running node containers of kind cluster ``cluster``, by role, sorted by name."""
    nodes, stopped = NodeContainers(cluster), []
    for name, state, role in docker_ps("kind", f"{CLUSTER_LABEL}={cluster}", ROLE_LABEL):
        if role not in NODE_ROLES:
            continue
        if state != "running":
            stopped.append(f"{name} ({state})")
        (nodes.control_plane if role == "control-plane" else nodes.workers).append(name)
    return require_running("kind", nodes, stopped, (
        f"Docker label {CLUSTER_LABEL}={cluster}); create it with `kind create cluster --name {cluster} "
        "--config files/kind-cluster.yaml`, or set KIND_CLUSTER_NAME to the cluster's name"))
