"""Elasticsearch cluster coordination for the test double: which started nodes form a cluster, its voting
configuration, its elected master; driven by the pods (tests/support/kubelet.py) and the elasticsearch.yml each
started with, so that a wrong discovery or bootstrap setting, or voting exclusions in the wrong order, fail here as
they would on real nodes. Node identity is the node name (``node.name: ${HOSTNAME}``, the pod name); a node's data
path, and so the cluster it belongs to, survives its pod (a StatefulSet's volume).

The rules, from elastic/elasticsearch (server/src/main/java/org/elasticsearch/...) and Elastic's reference:
- Roles: ``node.roles`` (7.9+), else ``node.master``/``node.data`` (to 7.8), absent: every role
  (DiscoveryNode.getRolesFromSettings). ``master`` makes a node master-eligible, a ``data*`` role a data node.
- Discovery (7.x+, discovery/PeerFinder.java, HandshakingTransportAddressConnector): each of
  ``discovery.seed_hosts`` (7.x also takes the old ``discovery.zen.ping.unicast.hosts``) resolved by DNS: a headless
  Service resolves to the pods its selector matches (ready or not with ``publishNotReadyAddresses``, else ready
  ones only). A peer that is not master-eligible is dropped ("non-master-eligible node found"); master-eligible
  peers tell each other whom they know, so discovery is transitive among them. Only a node without an elected
  master probes (PeerFinder is active only then; a node with one answers a probe with its master). A node joins
  the cluster whose elected master it discovers; otherwise it keeps looking.
- Bootstrap (coordination/ClusterBootstrapService.java): only a master-eligible node whose own name is in
  ``cluster.initial_master_nodes``, that has never joined a cluster (no cluster state on its data path), once it
  discovers a majority of the listed nodes (``matching * 2 > listed``); the first voting configuration is the listed
  nodes (placeholders for those not found). A node that belonged to a cluster never bootstraps or joins another
  (JoinHelper: "This node previously joined a cluster with UUID ..."). A bootstrap while a cluster already exists is a
  second cluster: recorded in ``second_clusters``, never counted as the first one's nodes.
- Election and quorum (coordination/CoordinationState.java, Coordinator.java): a master is elected while the live
  members of the voting configuration are a majority of it, and keeps publishing only while they are; an excluded
  node does not stand for election (Coordinator.localNodeMayWinElection) and an excluded master abdicates.
- Reconfiguration (coordination/Reconfigurator.java, auto_shrink on): candidates are the live master-eligible nodes
  and the configuration's other nodes, less the excluded ones and those back without the master role (which a
  join reconfigures out, elastic/elasticsearch#43688), ordered current master, live, in the configuration,
  then id; the target size is ``max(roundDownToOdd(live candidates), 1 if fewer than 3 candidates are in the
  current configuration else 3)``; the new configuration is kept only if the live nodes are a majority of it.
  So a two-node cluster votes with its master alone, and three or more never shrink below three by themselves.
  The configuration changes by a publication, not at once: nodes that leave before the next evaluation (a
  StatefulSet's scale-down removes its pods together) all count against the configuration they left.
- Voting configuration exclusions (action/admin/cluster/configuration/): POST ``?node_names=``/``?node_ids=``
  (7.8+) or ``/{node_filters}`` (7.0 to 7.x; deprecated 7.8, removed 8.0) add entries (at most
  ``cluster.max_voting_config_exclusions``, 10), then wait until the configuration leaves them out: where it cannot,
  real Elasticsearch answers ``timeout_exception`` after 30 s; here at once, the entries staying added. DELETE waits
  until every excluded node has left the cluster (``wait_for_removal``, default true) or clears at once.
- 5.x and 6.x (Zen discovery): a node joins while there is a master; a master is elected while the discoverable
  master-eligible nodes reach ``discovery.zen.minimum_master_nodes`` (the persistent cluster setting if set, else
  a node's file). Seeds of any role answer Zen pings.
- HTTP (node/Node.java, ``discovery.initial_state_timeout``, 30 s): a node opens HTTP once it has joined, or 30 s
  after its start without a master; ``GET _cluster/health?local=true`` then answers 200 (red without a master).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support.fake_es_mappings import flatten

INITIAL_STATE_TIMEOUT = 30.0
MAX_EXCLUSIONS = 10  # cluster.max_voting_config_exclusions
PLACEHOLDER = "{bootstrap-placeholder}-"
ABSENT = "_absent_"  # VotingConfigExclusion.MISSING_VALUE_MARKER


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _as_bool(value: object, default: bool = True) -> bool:
    return default if value is None else str(value).lower() == "true"


@dataclass
class Node:
    """A started Elasticsearch node, as its file made it (read once, at its start)."""
    uid: str
    name: str
    labels: dict[str, str]
    master: bool
    data: bool
    seeds: list[str]
    initial_masters: list[str]
    minimum_masters: int | None
    started: float
    http_up: bool = False
    ready: bool = False  # what the endpoints controller last saw (publishNotReadyAddresses off)


def node_from_config(uid: str, name: str, labels: dict[str, str], config: dict, major: int, started: float) -> Node:
    flat = {k: (v.replace("${HOSTNAME}", name) if isinstance(v, str) else v) for k, v in flatten(config or {}).items()}
    if "node.roles" in flat:
        roles = _as_list(flat["node.roles"])
        master, data = "master" in roles, any(r.startswith("data") for r in roles)
    else:
        master, data = _as_bool(flat.get("node.master")), _as_bool(flat.get("node.data"))
    seeds = _as_list(flat.get("discovery.seed_hosts")) if major >= 7 else []
    if not seeds and major <= 7:
        seeds = _as_list(flat.get("discovery.zen.ping.unicast.hosts"))
    initial = [n.replace("${HOSTNAME}", name) for n in _as_list(flat.get("cluster.initial_master_nodes"))]
    quorum = flat.get("discovery.zen.minimum_master_nodes")
    return Node(uid, name, dict(labels), master, data, seeds, initial if major >= 7 else [],
                int(quorum) if quorum is not None else None, started)


@dataclass
class Cluster:
    number: int
    config: set[str] = field(default_factory=set)  # the voting configuration (node names, or placeholders)
    members: set[str] = field(default_factory=set)  # names of the started nodes connected to it
    master: str | None = None
    exclusions: list[tuple[str, str]] = field(default_factory=list)  # (node id, node name); id = name here
    reconfigure_due: bool = False  # nodes left since the last reconfiguration (made at the next evaluation)

    def has_quorum(self, live: set[str]) -> bool:
        return 2 * len(self.config & live) > len(self.config)


def _round_down_to_odd(size: int) -> int:
    return size - (1 if size % 2 == 0 else 0)


def reconfigure(live: set[str], retired: set[str], master: str, config: set[str]) -> set[str]:
    """Reconfigurator.reconfigure with auto_shrink_voting_configuration on (its default)."""
    candidates = [(n, True, n == master, n in config) for n in live if n not in retired]
    candidates += [(n, False, False, True) for n in config if n not in live and n not in retired]
    candidates.sort(key=lambda c: (not c[2], not c[1], not c[3], c[0]))
    in_config = sum(1 for c in candidates if c[3])
    target = max(_round_down_to_odd(sum(1 for c in candidates if c[1])), 1 if in_config < 3 else 3)
    new = {c[0] for c in candidates[:target]}
    return new if 2 * len(new & live) > len(new) else config


class Coordination:
    """The nodes of one namespace's Elasticsearch and the clusters they form (see the module doc)."""

    def __init__(self, major: int | Callable[[], int], persistent_quorum: Callable[[], object] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._major = major  # the cluster's version (a callable: the fake's, which a test may upgrade)
        self.persistent_quorum = persistent_quorum  # discovery.zen.minimum_master_nodes, persistent (5.x, 6.x)
        self.clock = clock
        self.nodes: dict[str, Node] = {}  # uid -> started node
        self.history: dict[str, int] = {}  # node name -> the cluster its data path belongs to
        self.clusters: list[Cluster] = []
        self.second_clusters: list[list[str]] = []
        self.events: list[str] = []
        self._lock = threading.RLock()

    @property
    def major(self) -> int:
        return self._major() if callable(self._major) else self._major

    # -- what the kubelet tells ----------------------------------------------------------------------------
    def start(self, uid: str, name: str, labels: dict[str, str], config: dict, major: int | None = None) -> Node:
        """A node started with ``config`` (its elasticsearch.yml); ``major``: its own version (its image's)."""
        with self._lock:
            node = self.nodes[uid] = node_from_config(uid, name, labels, config, major or self.major, self.clock())
            self.events.append(f"started {name}")
            return node

    def stop(self, uid: str) -> None:
        """The pod is gone: its node leaves its cluster (a master it was leaves none behind until elected)."""
        with self._lock:
            node = self.nodes.pop(uid, None)
            if node is None:
                return
            self.events.append(f"stopped {node.name}")
            if self.major >= 7:
                self._from_zen()
            for cluster in self.clusters:
                if node.name not in cluster.members:
                    continue
                cluster.members.discard(node.name)
                self.events.append(f"{node.name} left")
                if cluster.master is None:
                    continue
                if cluster.master == node.name:
                    self._lose(cluster, f"{node.name} left")
                elif self.major >= 7 and not cluster.has_quorum(self._voters(cluster)):
                    self._lose(cluster, "no quorum")
                elif self.major >= 7:
                    # The master reconfigures by publishing a new cluster state, which takes a round trip: nodes
                    # that leave together (a StatefulSet's scale-down) all count against the old configuration.
                    cluster.reconfigure_due = True

    def seed_services(self) -> set[str]:
        """The Service names the started nodes' seeds name (what the kubelet looks up for ``evaluate``)."""
        with self._lock:
            return {service for n in self.nodes.values() for s in n.seeds for service, _ in self._hosts(s)}

    def settled(self) -> bool:
        """Every started node is in a cluster with a master, and no node waits for its HTTP: nothing to look up."""
        with self._lock:
            return all(self._joined(n) and n.http_up for n in self.nodes.values()) \
                and not any(c.reconfigure_due for c in self.clusters)

    def evaluate(self, services: dict[str, dict | None]) -> None:
        """Discovery, elections, joins, bootstrap and reconfiguration until nothing changes; ``services``: name ->
        the Service object (None: there is none)."""
        with self._lock:
            for _ in range(50):
                if not (self._step_zen(services) if self.major <= 6 else self._step(services)):
                    break
            now = self.clock()
            for node in self.nodes.values():
                node.http_up = node.http_up or self._joined(node) or now - node.started >= INITIAL_STATE_TIMEOUT

    def ready(self, uid: str, local_probe: bool) -> bool:
        """The readiness probe's answer: ``_cluster/health?local=true`` once HTTP is up; without ``local``, only with
        an elected master (503 master_not_discovered_exception otherwise)."""
        with self._lock:
            node = self.nodes.get(uid)
            if node is None:
                return False
            node.ready = node.http_up if local_probe else self._joined(node)
            return node.ready

    # -- what the fake Elasticsearch asks (the first cluster: the one the clients' Service reaches) ----------
    def first(self) -> Cluster | None:
        return self.clusters[0] if self.clusters else None

    def has_master(self) -> bool:
        with self._lock:
            return bool(self.clusters and self.clusters[0].master)

    def joined(self) -> list[str]:
        with self._lock:
            first = self.first()
            return sorted(first.members) if first and first.master else []

    def master_eligible(self) -> set[str]:
        """The joined nodes started with the master role."""
        with self._lock:
            eligible = {n.name for n in self.nodes.values() if n.master}
            return {n for n in self.joined() if n in eligible}

    def data_nodes(self) -> list[str]:
        with self._lock:
            data = {n.name for n in self.nodes.values() if n.data}
            return [n for n in self.joined() if n in data]

    def voting_config(self) -> set[str]:
        with self._lock:
            return set(self.clusters[0].config) if self.clusters else set()

    def exclusions(self) -> list[str]:
        with self._lock:
            return [name for _, name in self.clusters[0].exclusions] if self.clusters else []

    def add_exclusions(self, names: list[str], path_form: bool = False) -> tuple[int, object]:
        """POST _cluster/voting_config_exclusions: entries added, then the configuration must leave them out."""
        with self._lock:
            first = self.first()
            if first is None or first.master is None:
                return _error(503, "master_not_discovered_exception", None)
            masters = {n.name for n in self._members(first) if n.master}
            if path_form:  # node filters resolve to master-eligible nodes of the cluster
                matched = [n for n in names if n in masters]
                if not matched:
                    return _error(400, "illegal_argument_exception", f"add voting config exclusions request for "
                                  f"{names} matched no master-eligible nodes")
                names = matched
            known = {name for _, name in first.exclusions}
            new = [(n if n in first.members else ABSENT, n) for n in dict.fromkeys(names) if n not in known]
            if len(first.exclusions) + len(new) > MAX_EXCLUSIONS:
                return _error(400, "illegal_argument_exception", f"add voting config exclusions request for nodes "
                              f"named {names} would add [{len(new)}] exclusions to the existing "
                              f"[{len(first.exclusions)}] which would exceed the maximum of [{MAX_EXCLUSIONS}] set by "
                              "[cluster.max_voting_config_exclusions]")
            first.exclusions += new
            self.events.append(f"voting exclusions {[n for _, n in first.exclusions]}")
            self._reconfigure(first)
            if first.master is None:
                self._elect_among_members(first)
            waiting = [(i, n) for i, n in first.exclusions if n in names and n in first.config]
            if waiting:  # real Elasticsearch waits 30 s (the request's timeout) for it first
                listed = ", ".join(f"{{{i}}}{{{n}}}" for i, n in waiting)
                return _timeout(self.major, f"timed out waiting for voting config exclusions [{listed}] to take effect")
            return 200, ""

    def clear_exclusions(self, wait_for_removal: bool = True) -> tuple[int, object]:
        """DELETE _cluster/voting_config_exclusions."""
        with self._lock:
            first = self.first()
            if first is None or first.master is None:
                return _error(503, "master_not_discovered_exception", None)
            present = [(i, n) for i, n in first.exclusions if n in first.members]
            if wait_for_removal and present:
                hint = "set ?wait_for_removal=false" if self.major >= 8 else "set waitForRemoval to false"
                listed = ", ".join(f"{{{i}}}{{{n}}}" for i, n in first.exclusions)
                return _timeout(self.major, f"timed out waiting for removal of nodes; if nodes should not be removed, "
                                            f"{hint}. [{listed}]")
            first.exclusions.clear()
            self.events.append("voting exclusions cleared")
            self._reconfigure(first)
            return 200, ""

    # -- the rules -----------------------------------------------------------------------------------------
    @staticmethod
    def _hosts(seed: str) -> list[tuple[str, str]]:
        """The (Service, pod) a seed host may name: ``svc``, ``svc.ns[.svc[.cluster.local]]``, ``pod.svc[.ns...]``
        (``:port`` dropped); a two-label name may be either."""
        labels = seed.rsplit(":", 1)[0].split(".")
        if len(labels) == 1 or (len(labels) >= 3 and labels[2] == "svc"):
            return [(labels[0], "")]
        if len(labels) == 2:
            return [(labels[0], ""), (labels[1], labels[0])]
        return [(labels[1], labels[0])]

    def _resolve(self, node: Node, services: dict[str, dict | None]) -> list[Node]:
        """The started nodes the seeds' DNS names lead to (a headless Service's A records: the pods it selects)."""
        found: dict[str, Node] = {}
        for seed in node.seeds:
            for service_name, pod in self._hosts(seed):
                spec = (services.get(service_name) or {}).get("spec") or {}
                selector = spec.get("selector") or {}
                for peer in self.nodes.values():
                    if selector and all(peer.labels.get(k) == v for k, v in selector.items()) \
                            and (not pod or peer.name == pod) and (spec.get("publishNotReadyAddresses") or peer.ready):
                        found[peer.uid] = peer
        return list(found.values())

    def _by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes.values()}

    def _members(self, cluster: Cluster) -> list[Node]:
        names = self._by_name()
        return [names[m] for m in sorted(cluster.members) if m in names]

    def _voters(self, cluster: Cluster) -> set[str]:
        return {n.name for n in self._members(cluster) if n.master}

    def _cluster_of(self, node: Node) -> Cluster | None:
        return next((c for c in self.clusters if node.name in c.members), None)

    def _joined(self, node: Node) -> bool:
        cluster = self._cluster_of(node)
        return cluster is not None and cluster.master is not None

    def _lose(self, cluster: Cluster, why: str) -> None:
        self.events.append(f"master lost ({why})")
        cluster.master = None

    def _reconfigure(self, cluster: Cluster) -> None:
        if cluster.master is None or self.major <= 6:
            return
        # A node of the configuration that is back without the master role is reconfigured out, as excluded ones
        # are (Coordinator, elastic/elasticsearch#43688, 7.3+): its vote no longer counts.
        ineligible = {n.name for n in self.nodes.values() if not n.master and n.name in cluster.members}
        retired = {n for _, n in cluster.exclusions} | (ineligible & cluster.config)
        new = reconfigure(self._voters(cluster), retired, cluster.master, cluster.config)
        if new != cluster.config:
            cluster.config = new
            self.events.append(f"voting config {sorted(new)}")
        if cluster.master in retired and cluster.master not in cluster.config:
            self.events.append(f"{cluster.master} abdicated")
            cluster.master = None

    def _elect_among_members(self, cluster: Cluster) -> bool:
        """The connected members hold an election: won while they are a majority of the configuration."""
        voters = self._voters(cluster)
        if cluster.master is not None or not cluster.has_quorum(voters):
            return False
        retired = {n for _, n in cluster.exclusions}
        standing = sorted(voters - retired, key=lambda n: (n not in cluster.config, n))
        if not standing:
            return False
        cluster.master = standing[0]
        self.events.append(f"elected {cluster.master}")
        self._reconfigure(cluster)
        return True

    def _components(self, services: dict[str, dict | None]) -> dict[str, set[str]]:
        """Master-eligible started nodes -> the master-eligible nodes each discovers (seeds both ways, transitively;
        the members of one cluster stay connected). Only a node without an elected master probes its seeds (its
        PeerFinder is active only then); a probed node that is still searching learns of the prober too."""
        masters = {n.name: n for n in self.nodes.values() if n.master}
        links: dict[str, set[str]] = {name: {name} for name in masters}
        for node in masters.values():
            if self._joined(node):
                continue  # it follows its master and probes nobody: only searching nodes find it
            for peer in self._resolve(node, services):
                if peer.master:
                    links[node.name].add(peer.name)
                    links[peer.name].add(node.name)
        for cluster in self.clusters:
            connected = [m for m in cluster.members if m in masters]
            for m in connected:
                links[m].update(connected)
        component: dict[str, set[str]] = {}
        for name in masters:
            if name in component:
                continue
            seen, todo = set(), [name]
            while todo:
                current = todo.pop()
                if current not in seen:
                    seen.add(current)
                    todo.extend(links[current] - seen)
            for member in seen:
                component[member] = seen
        return component

    def _reach(self, node: Node, services: dict[str, dict | None], component: dict[str, set[str]]) -> set[str]:
        """The master-eligible nodes ``node`` discovers: those its seeds resolve to, and whom they know."""
        reached = set(component.get(node.name, ())) if node.master else set()
        for peer in self._resolve(node, services):
            if peer.master:
                reached |= component.get(peer.name, {peer.name})
        return reached

    def _from_zen(self) -> None:
        for cluster in self.clusters:
            if cluster.master is not None and not cluster.config:
                # Upgraded from Zen discovery (6.8 to 7.x): the master-eligible nodes of the running cluster vote
                # (Elasticsearch derives the first configuration from the Zen cluster's; simplified here).
                cluster.config = self._voters(cluster)
                self.events.append(f"voting config {sorted(cluster.config)} (from Zen discovery)")

    def _step(self, services: dict[str, dict | None]) -> bool:
        self._from_zen()
        component = self._components(services)
        for cluster in self.clusters:  # a connected majority of the configuration elects a master
            if self._elect_among_members(cluster):
                return True
            if cluster.master is not None and not cluster.has_quorum(self._voters(cluster)):
                self._lose(cluster, "no quorum")
                return True
            if cluster.reconfigure_due:
                cluster.reconfigure_due = False
                self._reconfigure(cluster)
                return True
        for node in sorted(self.nodes.values(), key=lambda n: n.name):
            if self._cluster_of(node) is not None:
                continue
            reached = self._reach(node, services, component)
            own = self.history.get(node.name)
            for cluster in self.clusters:
                if own is not None and own != cluster.number:
                    continue  # its data path belongs to another cluster: refused
                found = reached & cluster.members
                # A master-eligible node of this cluster reconnects to its peers even without a master (to elect one).
                if found and (cluster.master is not None or (own == cluster.number and node.master)):
                    cluster.members.add(node.name)
                    self.history[node.name] = cluster.number
                    self.events.append(f"{node.name} joined" + ("" if cluster.master else " (no master yet)"))
                    if cluster.master is not None:
                        self._reconfigure(cluster)
                    return True
            if own is None and self._bootstrap(node, reached):
                return True
        if self._elect_by_history(component):
            return True
        return False

    def _elect_by_history(self, component: dict[str, set[str]]) -> bool:
        """Restarted master-eligible nodes of a cluster none of whose nodes stayed connected find each other and
        elect: members again once a majority of its configuration discovers itself."""
        for cluster in self.clusters:
            if self._voters(cluster):
                continue  # restarted nodes find those through their seeds
            for name in sorted(component):
                group = {n for n in component[name] if self.history.get(n) == cluster.number}
                if group and cluster.has_quorum(group):
                    cluster.members |= group
                    self.events.append(f"{', '.join(sorted(group))} rejoined")
                    return True
        return False

    def _bootstrap(self, node: Node, reached: set[str]) -> bool:
        if not node.master or node.name not in node.initial_masters:
            return False
        fresh = {n for n in reached | {node.name} if n not in self.history}
        matching = fresh & set(node.initial_masters)
        if 2 * len(matching) <= len(node.initial_masters):
            return False
        cluster = Cluster(len(self.clusters), {n if n in matching else PLACEHOLDER + n for n in node.initial_masters},
                          set(fresh))
        for name in fresh:
            self.history[name] = cluster.number
        self.events.append(f"{node.name} bootstrapped a cluster: voting config {sorted(cluster.config)}")
        if self.clusters:
            self.second_clusters.append(sorted(fresh))
            self.events.append(f"second cluster {sorted(fresh)}")
        self.clusters.append(cluster)
        self._elect_among_members(cluster)
        return True

    def _step_zen(self, services: dict[str, dict | None]) -> bool:
        """5.x/6.x: one cluster; any started node a seed resolves to answers pings."""
        if not self.clusters:
            self.clusters.append(Cluster(0))
        cluster = self.clusters[0]
        found = [n for n in self.nodes.values() if self._resolve(n, services)]
        masters = sorted(n.name for n in found if n.master)
        persistent = self.persistent_quorum()
        quorums = [int(persistent)] if persistent is not None else \
            [n.minimum_masters or 1 for n in found if n.master]
        electable = bool(masters) and any(len(masters) >= q for q in quorums)
        if cluster.master is not None and (cluster.master not in masters or not electable):
            self._lose(cluster, "fewer master-eligible nodes than minimum_master_nodes")
            return True
        if cluster.master is None and electable:
            cluster.master = masters[0]
            self.events.append(f"elected {cluster.master}")
            return True
        if cluster.master is not None:
            new = {n.name for n in found} - cluster.members
            if new:
                cluster.members |= new
                self.history.update(dict.fromkeys(new, 0))
                self.events += [f"{n} joined" for n in sorted(new)]
                return True
        return False


def _error(status: int, kind: str, reason: str | None) -> tuple[int, dict]:
    cause = {"type": kind, "reason": reason}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


def _timeout(major: int, reason: str) -> tuple[int, dict]:
    # ElasticsearchTimeoutException: 500 (the default status) until it answered 429 ("request took longer than you
    # asked for"), as the 9.x source has it.
    return _error(429 if major >= 9 else 500, "timeout_exception", reason)
