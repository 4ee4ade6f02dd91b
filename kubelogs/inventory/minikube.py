"""Find the node containers of a minikube cluster started with the Docker driver, by the labels minikube
puts on them. The first node's container (and Kubernetes node) is named after the profile; the nodes
added later are <profile>-m02, <profile>-m03, ..."""

from __future__ import annotations

from kubelogs.inventory.containers import NodeContainers, docker_ps, require_running

PROFILE_LABEL = "name.minikube.sigs.k8s.io"
CREATED_BY_LABEL = "created_by.minikube.sigs.k8s.io"
DEFAULT_PROFILE = "minikube"  # minikube's own default profile


def discover(profile: str) -> NodeContainers:
    """The running node containers of minikube profile ``profile``: the first is the control plane."""
    nodes, stopped = NodeContainers(profile), []
    for name, state, _ in docker_ps("minikube", f"{PROFILE_LABEL}={profile}"):
        if state != "running":
            stopped.append(f"{name} ({state})")
        (nodes.control_plane if name == profile else nodes.workers).append(name)
    return require_running("minikube", nodes, stopped, (
        f"Docker label {PROFILE_LABEL}={profile}); start it with `minikube start -p {profile} --driver=docker "
        "--container-runtime=docker`, or set MINIKUBE_PROFILE to the profile's name"))
