"""Changing the master layout of a running cluster: `elasticsearch.masters` from 0 to 3, 5 or 7 (adding dedicated
masters), back to 0 (retiring them), or to another number, on 7.x+, in the order that never leaves the cluster without an elected
master. Elastic's way of moving master-eligibility between nodes: the nodes that take over join first, then
the others are excluded from the voting configuration (which moves it, and the elected master, to the
newcomers), and only then do they stop being master-eligible.

Adding dedicated masters, in one run (``phases.MASTERS_TAKE_OVER``):
1. the masters' StatefulSet is created; the masters join the running cluster: their seed hosts reach the data
   nodes, master-eligible until now, and they have no bootstrap list (one could let them form a second cluster);
   the data nodes' file keeps them master-eligible (``elasticsearch_yml``'s transitional file) until step 3;
2. once they have joined, the data nodes are excluded from voting;
3. the data nodes' file turns data-only, and they restart one at a time, health-aware (``restarts``): those at an
   older revision, and any still master-eligible (started before that file, e.g. evicted meanwhile);
4. the exclusions are cleared without waiting for those nodes to leave: they stay, as data nodes.

Retiring them, in one run (``phases.RETIRE_MASTERS``):
1. the data nodes restart one at a time as master-eligible data nodes; their file names the masters' Service
   among its seed hosts while the masters run (``transitional_seeds``), so they find the elected master;
2. the masters are excluded from voting;
3. the masters' objects are removed (their data stays: PVCs, or `<data_path>-master` on the nodes);
4. the data nodes' file loses the masters' seed hosts (read at a node's next start, so nothing restarts);
5. the exclusions are cleared once the masters have left.

Another number of masters (3 -> 5 or back): more join with no call (they find the cluster through its seed hosts,
and the voting configuration grows by itself); fewer are excluded from voting before their StatefulSet shrinks
(``scaling_down``, in the phase of the calls before applying), the exclusions cleared after.

A run that stops part-way is resumed by the next: the exclusions' clearing is recorded on the StatefulSet before
anything changes (``es_plan.PENDING_ANNOTATION``), and while it is pending, restarts of data nodes are preceded
by the exclusion again.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelogs.cluster.es_calls import CallBatch
from kubelogs.cluster.quorum import voting_exclusions
from kubelogs.cluster.safety import MASTER_ROLE_HANDED_OVER, QUORUM_BEFORE_SCALE_DOWN
from kubelogs.manifests.elasticsearch import (
    MASTER_CONFIG_MAP,
    MASTER_DISCOVERY_SERVICE,
    MASTER_NAME,
    NAME,
)
from kubelogs.manifests.network_policies import transport_policy
from kubelogs.settings import Settings


@dataclass(frozen=True)
class LayoutChange:
    running: int  # dedicated masters of the running cluster (0: every node master-eligible)
    wanted: int  # elasticsearch.masters

    @property
    def adding(self) -> bool:
        return not self.running and bool(self.wanted)

    @property
    def retiring(self) -> bool:
        return bool(self.running) and not self.wanted

    @property
    def scaling(self) -> bool:
        """Another number of dedicated masters (3 -> 5, 5 -> 3)."""
        return bool(self.running) and bool(self.wanted) and self.running != self.wanted

    def describe(self) -> str:
        if self.adding:
            return f"adding {self.wanted} dedicated masters"
        if self.retiring:
            return f"retiring the {self.running} dedicated masters"
        return f"changing the dedicated masters from {self.running} to {self.wanted}"


# The exclusions' clearing is recorded as a pending call, with the number of masters the change goes to
# (MASTERS_AFTER; es-admin.sh reads nothing of it): while it is pending, the change is under way.
MASTERS_AFTER = "MASTERS_AFTER"
KEPT_NODES = ("clear_voting_kept",)  # the clearing after adding masters: the excluded data nodes stay


def under_way(pending: list[CallBatch]) -> int | None:
    """The number of masters an unfinished layout change goes to, from the calls an earlier run left (None: none)."""
    for batch in pending:
        if str(batch.env.get(MASTERS_AFTER, "")).isdigit():
            return int(batch.env[MASTERS_AFTER])
    return None


def adding_under_way(pending: list[CallBatch]) -> bool:
    return any(b.actions == KEPT_NODES and MASTERS_AFTER in b.env for b in pending)


def _names(name: str, stop: int, start: int = 0) -> list[str]:
    """The pods of StatefulSet ``name`` with ordinals ``start`` to ``stop`` - 1."""
    return [f"{name}-{i}" for i in range(start, stop)]


def take_over(settings: Settings, version: str) -> CallBatch:
    """Adding masters: once they have all joined, the data nodes out of the voting configuration."""
    es = settings.elasticsearch
    data = _names(NAME, es.replicas)
    return CallBatch(f"exclude {', '.join(data)} from voting once the {es.masters} dedicated masters have joined, "
                     "so that they take over the master role", ("health", "exclude_voting"),
                     {"NODES_WAIT": f">={es.replicas + es.masters}", "VOTING_EXCLUSIONS": voting_exclusions(version, data)},
                     check=MASTER_ROLE_HANDED_OVER.name)


def eligible_data_nodes(settings: Settings) -> CallBatch:
    """Adding masters, once the data-only file is applied: the data nodes that still run with the master role, or
    are not in the cluster to tell (``ELIGIBLE`` lines), to be restarted even at the StatefulSet's update revision:
    they started with the transitional file (evicted while the masters joined, say)."""
    data = _names(NAME, settings.elasticsearch.replicas)
    return CallBatch("find the data nodes still master-eligible", ("master_eligible",), {"LEAVING": ",".join(data)})


ELIGIBLE = "master-eligible "  # es-admin.sh's master_eligible output: one line per node


def still_eligible(output: str) -> frozenset[str]:
    """The data nodes the take-over found still running with the master role."""
    return frozenset(line[len(ELIGIBLE):].strip() for line in output.splitlines() if line.startswith(ELIGIBLE))


def retire(settings: Settings, version: str, running: int) -> CallBatch:
    """Retiring masters: once every data node has joined as master-eligible, the masters out of the voting
    configuration."""
    masters = _names(MASTER_NAME, running)
    return CallBatch(f"exclude {', '.join(masters)} from voting once the data nodes have joined as master-eligible, "
                     "so that they take over the master role", ("health", "exclude_voting"),
                     {"NODES_WAIT": f">={settings.elasticsearch.replicas + running}",
                      "VOTING_EXCLUSIONS": voting_exclusions(version, masters)},
                     check=MASTER_ROLE_HANDED_OVER.name)


def scaling_down(settings: Settings, version: str, running: int) -> CallBatch:
    """Fewer dedicated masters: the leaving ones out of the voting configuration before their StatefulSet removes
    them together (it shrinks by itself only one node at a time); they hold no shard, so nothing to drain."""
    leaving = _names(MASTER_NAME, running, settings.elasticsearch.masters)
    return CallBatch(f"exclude {', '.join(leaving)} from voting before scaling the dedicated masters down to "
                     f"{settings.elasticsearch.masters}", ("health", "exclude_voting"),
                     # The nodes that stay: masters that never started can still be scaled away (by name, absent).
                     {"NODES_WAIT": f">={settings.elasticsearch.replicas + settings.elasticsearch.masters}",
                      "VOTING_EXCLUSIONS": voting_exclusions(version, leaving)}, check=QUORUM_BEFORE_SCALE_DOWN.name)


def cleared(change: LayoutChange) -> CallBatch | None:
    """The exclusions' clearing after the change (none after adding masters to a set: nothing was excluded)."""
    after = {MASTERS_AFTER: str(change.wanted)}
    if change.adding:
        return CallBatch("clear the voting exclusions of the data nodes (they stay, as data nodes)", KEPT_NODES, after)
    if change.retiring or change.wanted < change.running:
        return CallBatch("clear the voting exclusions of the removed masters", ("clear_voting",), after)
    return None


def master_objects() -> set[tuple[str, str]]:
    """(kind, name) of the objects that exist for the dedicated masters only (removed last when they retire)."""
    return {("StatefulSet", MASTER_NAME), ("ConfigMap", MASTER_CONFIG_MAP), ("Service", MASTER_DISCOVERY_SERVICE),
            ("PodDisruptionBudget", MASTER_NAME), ("NetworkPolicy", transport_policy(MASTER_NAME))}
