"""Master quorum when `replicas` changes on a running cluster: the Elasticsearch calls around the
StatefulSet's scaling, in the order that never leaves the cluster without a safe majority.

- 6.x (Zen): `discovery.zen.minimum_master_nodes` must be a majority of the master nodes. Lowered before
  scaling down (so the nodes left can still elect); raised after scaling up, once the new nodes have
  joined (6.x refuses a value above the nodes it has). New pods read the new value from their file.
- 7.x+: the voting configuration shrinks by itself only when nodes leave one at a time; the StatefulSet
  removes them together, so they are excluded from voting before, and the exclusions cleared after.
- With dedicated masters (``elasticsearch.masters``) `replicas` counts data nodes, which are not
  master-eligible: neither of the above, only the drain below.
- Every version: the leaving nodes' shards are moved away first (allocation exclusion by name, then a wait
  until they hold none), as Elastic's "decommission a node" describes; the exclusion is cleared after.
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.cluster.es_calls import CallBatch
from kubelogs.cluster.safety import QUORUM_AFTER_SCALE_UP, QUORUM_BEFORE_SCALE_DOWN
from kubelogs.manifests.elasticsearch import NAME


def quorum(replicas: int) -> int:
    return replicas // 2 + 1


def voting_exclusions(version: str, names: list[str]) -> str:
    """The paths that exclude ``names`` from the voting configuration (7.x+; es-admin.sh's VOTING_EXCLUSIONS)."""
    if compat.parse_version(version) >= compat.VOTING_EXCLUSIONS_BY_QUERY_FROM:
        return f"_cluster/voting_config_exclusions?node_names={','.join(names)}"
    return " ".join(f"_cluster/voting_config_exclusions/{n}" for n in names)


def before_scaling(version: str, live: int, wanted: int, masters: int = 0) -> CallBatch | None:
    """``live``, ``wanted``: the replicas of the ``elasticsearch`` StatefulSet; ``masters``: dedicated masters."""
    if wanted >= live:
        return None
    leaving = [f"{NAME}-{i}" for i in range(wanted, live)]
    # Health of the cluster as it is now (green from two nodes on), then its shards off the leaving nodes.
    env = {"HEALTH_WAIT": "green" if live > 1 else "yellow", "NODES_WAIT": f">={live + masters}",
           "LEAVING": ",".join(leaving)}
    drain = ("health", "allocation_exclude", "drained")
    if masters:  # data nodes only leave: the masters' quorum is untouched
        return CallBatch(f"move the shards off {', '.join(leaving)} before scaling the data nodes down to {wanted}",
                         drain, env, check=QUORUM_BEFORE_SCALE_DOWN.name)
    if compat.parse_version(version)[0] <= 6:
        return CallBatch(f"move the shards off {', '.join(leaving)} and lower minimum_master_nodes to {quorum(wanted)} "
                         f"before scaling down to {wanted}", (*drain, "minimum_masters"),
                         {**env, "MINIMUM_MASTER_NODES": str(quorum(wanted))}, check=QUORUM_BEFORE_SCALE_DOWN.name)
    return CallBatch(f"move the shards off {', '.join(leaving)} and exclude them from voting before scaling down to {wanted}",
                     (*drain, "exclude_voting"), {**env, "VOTING_EXCLUSIONS": voting_exclusions(version, leaving)},
                     check=QUORUM_BEFORE_SCALE_DOWN.name)


def after_scaling(version: str, live: int, wanted: int, masters: int = 0) -> CallBatch | None:
    if wanted == live:
        return None
    if masters:
        return CallBatch("clear the allocation exclusion of the removed nodes", ("allocation_exclude_clear",)) \
            if wanted < live else None
    if compat.parse_version(version)[0] <= 6:
        if wanted < live:
            return CallBatch("clear the allocation exclusion of the removed nodes", ("allocation_exclude_clear",))
        return CallBatch(f"raise minimum_master_nodes to {quorum(wanted)} once {wanted} nodes have joined",
                         ("health", "minimum_masters"),
                         {"MINIMUM_MASTER_NODES": str(quorum(wanted)), "NODES_WAIT": f">={wanted}"},
                         check=QUORUM_AFTER_SCALE_UP.name)
    if wanted < live:
        return CallBatch("clear the allocation and voting exclusions of the removed nodes",
                         ("allocation_exclude_clear", "clear_voting"))
    return None
