"""The safety rules of the cluster stage, each a named check (as ECK's upgrade predicates are).

Two kinds:
- checked by the plan, before anything is applied: a check that fails refuses the whole run, and the
  refusal names it; each is a pure function of the settings and the live objects, tested alone;
- checked in the cluster, by the Elasticsearch call batch that precedes the risky step (``es_calls``): the
  step waits until the check holds, up to ``kubernetes.rollout_timeout``; the batch's log line and its
  failure name the check, and nothing after it is done.

``CHECKS`` lists them all, in the order a run meets them; the docs' table is generated from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubelogs import compatibility as compat
from kubelogs.cluster import immutable, upgrades
from kubelogs.settings import Settings

if TYPE_CHECKING:
    from kubelogs.cluster.plan import NodeTarget


@dataclass(frozen=True)
class Check:
    name: str
    where: str  # "plan" (refuses before anything is applied) or "cluster" (waited for before the step)
    rule: str  # what it guarantees, for the docs


AGENT_ON_EVERY_NODE = Check("an agent for every node", "plan",
    "every node of a known runtime has a log agent that can write to the chosen Elasticsearch version")
IMMUTABLE_FIELDS = Check("immutable fields unchanged", "plan",
    "no change the API server cannot make in place (the usual delete-and-recreate can cost pods and data)")
SUPPORTED_VERSION_CHANGE = Check("a supported version change", "plan",
    "no downgrade, no skipped major, and each major only from the minor Elastic upgrades it from")
MASTER_LAYOUT_CHANGE = Check("a supported master layout change", "plan",
    "elasticsearch.masters changes (0 to 3, 5 or 7, back to 0, or another number) on Elasticsearch 7.8+ and alone "
    "(the same version, replicas and security in that run); before 7.8 (no voting exclusions by node name; none at "
    "all on zen discovery) it is refused")
LAYOUT_CHANGE_FINISHED_FIRST = Check("a layout change finished first", "plan",
    "while an earlier run's change of elasticsearch.masters is under way (its voting exclusions still to clear), "
    "the settings keep its target: turning back half-way would take the vote from the nodes that hold it")
MAJOR_UPGRADE_ALONE = Check("a major upgrade alone", "plan",
    "a major upgrade keeps the number of replicas: the quorum calls are made in one version's terms")
SCALE_DOWN_ALONE = Check("a scale-down alone", "plan",
    "fewer replicas and another version are two runs: the index settings go to the running version before the "
    "drain, in that version's terms")
RESTARTS_FINISHED_FIRST = Check("restarts finished first", "plan",
    "a version, replicas or master layout change waits until the pod restarts of an earlier run are done")
SNAPSHOTS_READY_FIRST = Check("snapshots ready first", "plan",
    "with elasticsearch.snapshots set, a version change, a security switch or a master layout change waits until the repository is "
    "registered (the run that configures snapshots), so the snapshot before it has a place to go")
SNAPSHOT_BEFORE_RISKY_CHANGE = Check("a snapshot before a risky change", "cluster",
    "with elasticsearch.snapshots set, before a version change, a security switch or a master layout change: a snapshot of the whole "
    "cluster, and its state SUCCESS; a failed snapshot stops the run before anything is applied")
MASTER_ROLE_HANDED_OVER = Check("the master role handed over", "cluster",
    "a master layout change: the nodes that stop being master-eligible are excluded from voting only once the "
    "nodes taking over have joined and the cluster is green, so the voting configuration and the elected master "
    "move to them before the others restart as data-only nodes (adding masters) or are removed (retiring them)")
QUORUM_BEFORE_SCALE_DOWN = Check("quorum before a scale-down", "cluster",
    "before the StatefulSet scales down: the cluster healthy with every node joined, the leaving nodes "
    "drained of shards, and out of the voting configuration (7.x+) or minimum_master_nodes lowered to the "
    "new majority (6.x); with dedicated masters the leaving data nodes are only drained (they are not "
    "master-eligible), and leaving masters only excluded from voting (they hold no shard)")
HEALTH_BEFORE_RESTART = Check("health before a restart", "cluster",
    "no Elasticsearch pod restarts until the cluster is green (yellow with one node) with every node joined; "
    "then replica allocation is limited to primaries and the indices are flushed")
ALLOCATION_BACK_ON = Check("allocation back on", "cluster",
    "after the restarts, shard allocation goes back to all and the run waits for green (yellow with one "
    "node) with every node joined; a run stopped before is resumed by the next")
QUORUM_AFTER_SCALE_UP = Check("quorum after a scale-up", "cluster",
    "6.x: minimum_master_nodes is raised to the new majority once the new nodes have joined")

CHECKS: tuple[Check, ...] = (AGENT_ON_EVERY_NODE, IMMUTABLE_FIELDS, SUPPORTED_VERSION_CHANGE, MASTER_LAYOUT_CHANGE,
                             LAYOUT_CHANGE_FINISHED_FIRST, MAJOR_UPGRADE_ALONE, SCALE_DOWN_ALONE, RESTARTS_FINISHED_FIRST, SNAPSHOTS_READY_FIRST,
                             SNAPSHOT_BEFORE_RISKY_CHANGE, QUORUM_BEFORE_SCALE_DOWN, HEALTH_BEFORE_RESTART,
                             MASTER_ROLE_HANDED_OVER, ALLOCATION_BACK_ON, QUORUM_AFTER_SCALE_UP)


def named(check: Check, problem: str) -> str:
    """A refusal or a failure, with the check that made it."""
    return f"{problem} [safety check: {check.name}]" if problem else ""


# -- checked by the plan: each returns why the run is refused ('' when it may go on) ----------------------

def agent_on_every_node(settings: Settings, nodes: Iterable[NodeTarget]) -> str:
    collector, es = settings.agents.collector, settings.elasticsearch
    missing = [f"{n.node} ({n.runtime})" for n in nodes
               if n.runtime in compat.RUNTIMES and compat.agent_for_node(collector, n.runtime, es.major) is None]
    if not missing:
        return ""
    rules = "; ".join(f"{a.name} reads {'/'.join(a.runtimes)} nodes and writes to Elasticsearch "
                      f"{'/'.join(f'{m}.x' for m in a.es_majors)}" for a in compat.AGENTS.values())
    return named(AGENT_ON_EVERY_NODE, (
        f"with kubelogs.agents.collector {collector!r} and Elasticsearch {es.version}, no log agent can "
        f"collect on: {', '.join(missing)} ({rules}). Choose another collector or Elasticsearch version; "
        "nothing was applied."))


def immutable_fields_unchanged(live: dict, desired: dict) -> str:
    fields = immutable.changed_fields(live, desired)
    return named(IMMUTABLE_FIELDS, immutable.refusal(live, desired, fields)) if fields else ""


def _version_refusal(live: dict, desired: dict, problem: str) -> str:
    meta = desired["metadata"]
    return (f"StatefulSet {meta['namespace']}/{meta['name']} runs Elasticsearch {upgrades.running_version(live)}; "
            f"kubelogs.elasticsearch.version = {upgrades.wanted_version(desired)!r}: {problem}. Nothing was applied.")


def supported_version_change(live: dict, desired: dict) -> str:
    running, wanted = upgrades.running_version(live), upgrades.wanted_version(desired)
    problem = compat.version_change_problem(running, wanted) if running else ""
    return named(SUPPORTED_VERSION_CHANGE, _version_refusal(live, desired, problem)) if problem else ""


def master_layout_change_supported(running: int, wanted: int, version: str, others: list[str],
                                   adopted: bool = False, data_nodes: int = 0) -> str:
    """``running``: the dedicated masters of the installed cluster (0: every node is master-eligible); ``wanted``:
    elasticsearch.masters; ``version``: the running Elasticsearch; ``others``: the other changes of this run that
    move nodes (a version change, a replicas change, a security switch); ``adopted``: the masters' pods wait to be
    adopted by a re-created StatefulSet."""
    if running == wanted:
        return ""
    keep = f"Keep elasticsearch.masters = {running} as installed"
    if adopted:
        problem = (f"the running cluster's {running} dedicated master pod(s) wait to be adopted by their re-created "
                   f"StatefulSet. {keep} for one run, which adopts them, then change it")
    elif compat.parse_version(version) < compat.MASTER_LAYOUT_CHANGE_FROM:
        first = ".".join(map(str, compat.MASTER_LAYOUT_CHANGE_FROM[:2]))
        problem = (f"Elasticsearch {version} has no voting exclusions by node name (zen discovery before 7.0 none at "
                   f"all), so the master role cannot be moved safely and resumably. {keep}, or upgrade to {first}+ "
                   "first")
    elif not running and data_nodes > compat.ES_MAX_VOTING_EXCLUSIONS:
        problem = (f"adding masters excludes every data node from voting at once, and Elasticsearch takes at most "
                   f"{compat.ES_MAX_VOTING_EXCLUSIONS} exclusions (cluster.max_voting_config_exclusions); with {data_nodes} data "
                   f"nodes the hand-over would be refused. {keep}, or scale the data nodes to "
                   f"{compat.ES_MAX_VOTING_EXCLUSIONS} or fewer first")
    elif others:
        problem = (f"changing the master layout and {' and '.join(others)} in one run are refused: the master role "
                   f"moves in one version's terms, with the nodes as they are. {keep}, change the rest first, then "
                   "the layout in a run of its own")
    else:
        return ""
    return named(MASTER_LAYOUT_CHANGE, f"kubelogs.elasticsearch.masters = {wanted}, but the running cluster has "
                 f"{running or 'no'} dedicated master(s): {problem}. Nothing was applied.")


def layout_change_finished_first(under_way: int | None, wanted: int) -> str:
    """``under_way``: the number of dedicated masters an earlier run's unfinished layout change goes to (None: no
    change under way); ``wanted``: elasticsearch.masters."""
    if under_way is None or under_way == wanted:
        return ""
    return named(LAYOUT_CHANGE_FINISHED_FIRST, (
        f"kubelogs.elasticsearch.masters = {wanted}, but an earlier run's change to {under_way} dedicated master(s) "
        f"is under way: turning back half-way would take the vote from the nodes that hold it. Keep "
        f"elasticsearch.masters = {under_way} for one more run, which finishes the change, then change it. Nothing "
        "was applied."))


def major_upgrade_alone(live: dict, desired: dict) -> str:
    running, wanted = upgrades.running_version(live), upgrades.wanted_version(desired)
    replicas = (live["spec"].get("replicas", 1), desired["spec"]["replicas"])
    if not running or compat.parse_version(running)[0] == compat.parse_version(wanted)[0] or replicas[0] == replicas[1]:
        return ""
    return named(MAJOR_UPGRADE_ALONE, _version_refusal(live, desired, (
        f"a major upgrade and a replicas change ({replicas[0]} -> {replicas[1]}) in one run are refused: "
        "upgrade with the current replicas first, then change replicas in a second run")))


def scale_down_alone(live: dict, desired: dict) -> str:
    running, wanted = upgrades.running_version(live), upgrades.wanted_version(desired)
    replicas = (live["spec"].get("replicas", 1), desired["spec"]["replicas"])
    if not running or running == wanted or replicas[1] >= replicas[0]:
        return ""
    return named(SCALE_DOWN_ALONE, _version_refusal(live, desired, (
        f"a version change and fewer replicas ({replicas[0]} -> {replicas[1]}) in one run are refused: scale down "
        "with the running version first, then change the version in a second run")))


def restarts_finished_first(pending: str, running: str, live_replicas: int, settings: Settings,
                            new_layout: bool = False) -> str:
    """``pending``: the restarts an earlier run left (``restarts.pending_message``; '' when none); ``new_layout``:
    this run starts a master layout change."""
    es = settings.elasticsearch
    if not pending or (live_replicas == es.replicas and running == es.version and not new_layout):
        return ""
    # The recorded version is the template's: the pods still at the older revision may run another.
    return named(RESTARTS_FINISHED_FIRST, (
        f"refusing to apply: {pending}, not finished by an earlier run. Keep kubelogs.elasticsearch.version = "
        f"{running!r}, replicas = {live_replicas} and masters as installed for one more run, which finishes those "
        "restarts, then change them. Nothing was applied."))


def snapshots_ready_first(risky: str, registered: bool) -> str:
    """``risky``: the risky change of this run ('' when none); ``registered``: the snapshot repository, as
    configured now, was sent to Elasticsearch by an earlier run."""
    if not risky or registered:
        return ""
    return named(SNAPSHOTS_READY_FIRST, (
        f"refusing {risky} in the run that sets up or changes elasticsearch.snapshots: the snapshot taken before it "
        "needs the repository registered first. Run once with the current version and security and the new "
        "snapshots settings, then make the change. Nothing was applied."))


def markdown() -> str:
    """The safety-check table of the docs (docs/day-2.md, between its safety-checks markers)."""
    where = {"plan": "the plan: refuses the run, nothing applied", "cluster": "the cluster: waited for before the step"}
    rows = [f"| {c.name} | {where[c.where]} | {c.rule} |" for c in CHECKS]
    return "\n".join(["| check | checked by | rule |", "|---|---|---|", *rows]) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
