"""Master quorum when `replicas` changes on a running cluster: the Elasticsearch calls around the
StatefulSet's scaling, in the order that never leaves the cluster without a safe majority.

- 6.x (Zen): `discovery.zen.minimum_master_nodes` must be a majority of the master nodes. Lowered before
  scaling down (so the nodes left can still elect); raised after scaling up, once the new nodes have
  joined (6.x refuses a value above the nodes it has). New pods read the new value from their file.
- 7.x+: the voting configuration shrinks by itself only when nodes leave one at a time; the StatefulSet
  removes them together, so they are excluded from voting before, and the exclusions cleared after.
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.cluster.es_tasks import Task
from kubelogs.manifests.elasticsearch import NAME


def quorum(replicas: int) -> int:
    return replicas // 2 + 1


def before_scaling(version: str, live: int, wanted: int) -> Task | None:
    if wanted >= live:
        return None
    if compat.parse_version(version)[0] <= 6:
        return Task(f"lower minimum_master_nodes to {quorum(wanted)} before scaling down to {wanted}",
                    ("health", "minimum_masters"), {"MINIMUM_MASTER_NODES": str(quorum(wanted))})
    leaving = [f"{NAME}-{i}" for i in range(wanted, live)]
    if compat.parse_version(version) >= compat.VOTING_EXCLUSIONS_BY_QUERY_FROM:
        paths = [f"_cluster/voting_config_exclusions?node_names={','.join(leaving)}"]
    else:
        paths = [f"_cluster/voting_config_exclusions/{n}" for n in leaving]
    return Task(f"exclude {', '.join(leaving)} from voting before scaling down to {wanted}",
                ("health", "exclude_voting"), {"VOTING_EXCLUSIONS": " ".join(paths)})


def after_scaling(version: str, live: int, wanted: int) -> Task | None:
    if wanted == live:
        return None
    if compat.parse_version(version)[0] <= 6:
        if wanted < live:
            return None
        return Task(f"raise minimum_master_nodes to {quorum(wanted)} once {wanted} nodes have joined",
                    ("health", "minimum_masters"),
                    {"MINIMUM_MASTER_NODES": str(quorum(wanted)), "NODES_WAIT": f">={wanted}"})
    if wanted < live:
        return Task("clear the voting exclusions of the removed nodes", ("clear_voting",))
    return None
