"""What the node stage read on each node, shared with the later stages of the same run.

pyinfra 3 caches no fact, and each round trip to a node costs: the node stage reads ``NodeState`` once per
node and keeps it here; the cluster stage takes each node's runtime from here (waiting for the node
stage's read, which runs in parallel on the nodes), the verify stage each node's dead letters. One
``NodeStates`` per run, created and handed out by ``kubelogs.preflight``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gevent.event

from kubelogs.inventory import KUBE_NODES, kube_node_name
from kubelogs.manifests import fluent_bit
from kubelogs.node.decisions import CANDIDATE_AGENT_DIRS, SYSCTL_FILE
from kubelogs.node.facts import ContainerRuntime, NodeState
from kubelogs.settings import Settings

if TYPE_CHECKING:
    from pyinfra.api.host import Host

RUNTIME_WAIT_S = 120


class NodeStates:
    """The nodes' state as this run read it, keyed by inventory host name (dead letters: by Kubernetes node)."""

    def __init__(self) -> None:
        self._states: dict[str, dict] = {}  # inventory host name -> its NodeState
        self._runtimes: dict[str, dict] = {}  # inventory host name -> {"runtime": ..., "evidence": ...}
        self._dead_letters: dict[str, dict | None] = {}  # Kubernetes node name -> NodeState's dead_letters
        self._gathered: dict[str, gevent.event.Event] = {}  # set once a node's read is over (or failed)

    def _gathered_event(self, name: str) -> gevent.event.Event:
        return self._gathered.setdefault(name, gevent.event.Event())

    def read(self, host: Host, settings: Settings) -> dict:
        """``host``'s ``NodeState``, read once per run (one round trip); the node and verify stages call this."""
        if host.name in self._states:
            return self._states[host.name]
        es = settings.elasticsearch
        try:
            state = self._states[host.name] = host.get_fact(
                NodeState, data_path=es.data_path, sysctl_file=SYSCTL_FILE,
                directories=[*es.data_paths, *CANDIDATE_AGENT_DIRS], dead_letters=fluent_bit.DEAD_LETTERS_DIR)
            self._runtimes.setdefault(host.name, {"runtime": state["runtime"], "evidence": state["evidence"]})
            self._dead_letters[kube_node_name(host)] = state["dead_letters"]
        finally:
            self._gathered_event(host.name).set()  # a waiting runtime() asks the node itself on failure
        return state

    def runtime(self, node: Host) -> dict:
        """``{"runtime": ..., "evidence": ...}`` of a node, read once per run (both stages need it).

        The node stage reads it with the node's state; the cluster stage, planned on the control host while
        the nodes load in parallel, waits for that instead of reading it again. A node that does not run
        the node stage in this run (e.g. not active) is asked directly.
        """
        if node.name not in self._runtimes and KUBE_NODES in node.groups and node in node.inventory.get_active_hosts():
            self._gathered_event(node.name).wait(RUNTIME_WAIT_S)
        if node.name not in self._runtimes:
            self._runtimes[node.name] = node.get_fact(ContainerRuntime)
        return self._runtimes[node.name]

    def dead_letters(self) -> dict[str, dict | None]:
        """Per Kubernetes node whose state this run read: its agent's dead letters (None: no such directory)."""
        return dict(self._dead_letters)
