"""Kubernetes nodes that are Docker containers on this machine (kind, minikube's Docker driver), found by
the labels their tool puts on them, and checked to be running."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from kubelogs.errors import UserError


@dataclass
class NodeContainers:
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


def docker_ps(tool: str, label: str, role_label: str = "") -> list[tuple[str, str, str]]:
    """(name, state, role) of every container with ``label`` (key=value), sorted by name."""
    role = '{{.Label "' + role_label + '"}}' if role_label else ""
    command = ["docker", "ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}\t{{.State}}\t" + role]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise UserError(f"{tool} inventory: the docker command is not installed on this machine") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{tool} inventory: docker did not answer within 30 s") from None
    if result.returncode != 0:
        raise UserError(f"{tool} inventory: cannot list containers: {result.stderr.strip()}")
    rows = [(line.split("\t") + ["", ""])[:3] for line in result.stdout.splitlines() if line.strip()]
    return sorted((name, state, role) for name, state, role in rows)


def require_running(tool: str, nodes: NodeContainers, stopped: list[str], create_hint: str) -> NodeContainers:
    if stopped:
        # pyinfra's docker connector would start a stopped container and remove it afterwards.
        raise UserError(
            f"{tool} inventory: node containers of cluster {nodes.cluster!r} are not running: {', '.join(stopped)}; "
            "start them and run again"
        )
    if not nodes.all:
        raise UserError(f"{tool} inventory: no node containers of {tool} cluster {nodes.cluster!r} ({create_hint}")
    return nodes
