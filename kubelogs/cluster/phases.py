"""The cluster stage's phases: what a run does, in which order, and why. The ordering rules live here only.

``ORDER`` is the order; ``order(plan)`` keeps the phases a plan needs (each with why, for this plan) and
``stage.execute`` runs them in one loop. A phase is idempotent and stops the run with ClusterError; the
next run plans again from what the cluster then holds, so a run that stops anywhere is resumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from kubelogs.cluster import es_calls, layout, restarts, rollout
from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.cluster.es_calls import CallBatch
from kubelogs.cluster.es_plan import (
    APPLIED_ANNOTATION,
    APPLIED_FIELD_MANAGER,
    REQUEST_CONFIG_MAPS,
    record_pending,
    send_batch,
)
from kubelogs.cluster.plan import Plan, Step
from kubelogs.manifests import index_settings
from kubelogs.manifests.common import config_hash, selector
from kubelogs.manifests.elasticsearch import MASTER_NAME
from kubelogs.polling import Poll
from kubelogs.settings import Settings

USERS_OF_CREDENTIALS = ("DaemonSet", "Deployment")  # the agents and Kibana log in as users the run sends
LAST_ROLLOUTS = ("Deployment",)  # Kibana: ready only once its password is set and every node runs its version


@dataclass(frozen=True)
class Kind:
    """A kind of phase: its name, and the rule that puts it in a plan (for the docs)."""

    name: str
    when: str


SNAPSHOT = Kind("snapshot before a risky change",
    "snapshots are configured and the run changes the Elasticsearch version, turns security on or off, or changes "
    "the master layout: the "
    "safety check *a snapshot before a risky change*, first, so a failed snapshot leaves everything as it was")
RECORD_PENDING = Kind("record pending Elasticsearch calls",
    "calls are due after the rollout (a replicas change, a master layout change's clearing of voting exclusions, "
    "with the number of masters it goes to, or calls an earlier run left): they are recorded on the "
    "StatefulSet before anything makes them necessary, so a run that stops half-way leaves them to the next")
SETTINGS_BEFORE_DRAIN = Kind("send the index settings before the drain",
    "replicas go down and the log indices keep fewer replicas: applied and sent first, so that the copies on the "
    "leaving nodes are dropped instead of waiting for a node that may take them (a replica never shares a node "
    "with its primary, and an excluded node receives nothing)")
CALLS_BEFORE = Kind("Elasticsearch calls before applying",
    "replicas or dedicated masters go down: the safety check *quorum before a scale-down*, before the StatefulSet "
    "shrinks")
APPLY = Kind("apply",
    "objects to create or update, by server-side apply: the namespace, the ApplySet parent, the node labels, then "
    "the rendered objects in order (the agents and Kibana wait for their users when those are sent first)")
WAIT_ELASTICSEARCH = Kind("wait for Elasticsearch",
    "users or index settings to send and no Elasticsearch pod restarts in this run (no change to its pod template, "
    "no pod at an older revision): the running cluster takes them")
SEND = Kind("send users and index settings",
    "before the agents and Kibana: they log in as those users, and their first lines make indices from the template")
APPLY_USERS = Kind("apply the agents and Kibana", "held back until their users exist (the phase before)")
PRUNE = Kind("prune", "objects kubelogs owns (ApplySet members) that are no longer wanted, once the rest is applied")
APPLYSET_PARENT = Kind("update the ApplySet parent", "pruning is done: the parent lists only the kinds still owned")
WAIT_ROLLOUTS = Kind("wait for rollouts", "every workload but Kibana rolled out, as `kubectl rollout status` decides")
MASTERS_TAKE_OVER = Kind("dedicated masters take over",
    "elasticsearch.masters goes from 0 to 3, 5 or 7: once the masters have joined (the rollouts before), the "
    "safety check *the master role handed over* (the data nodes excluded from voting); only then do the data nodes' "
    "file turn data-only (until then it keeps them master-eligible), and they restart next")
RESTART = Kind("restart outdated Elasticsearch pods",
    "the StatefulSet's pod template changed, pods are at an older revision, a re-created StatefulSet adopts "
    "pods, or the masters' take-over found data nodes still master-eligible: one at a time, the data nodes before the dedicated masters (Elastic's rolling upgrade order), highest "
    "ordinal first in each StatefulSet (all together when security is turned on or off), each after "
    "*health before a restart*, then *allocation back on* (recorded as a pending call before allocation is "
    "limited, so a run that stops mid-way re-enables it next time)")
RETIRE_MASTERS = Kind("retire the dedicated masters",
    "elasticsearch.masters goes to 0: once the data nodes have restarted as master-eligible, the safety check *the "
    "master role handed over* (the masters excluded from voting), then the masters' objects are removed (their data "
    "stays) and the data nodes' file loses their seed hosts (no restart)")
CALLS_AFTER = Kind("Elasticsearch calls after the rollout",
    "the follow-ups of a replicas change (*quorum after a scale-up*, exclusions cleared), and calls an earlier run left")
CLEAR_PENDING = Kind("clear pending Elasticsearch calls",
    "calls were due, or pods restart: whatever this run recorded is made, so the record is removed")
SEND_AFTER_RESTARTS = Kind("send users and index settings after the restarts",
    "Elasticsearch pods restart in this run (a new version, security on or off, any pod template change): sent in "
    "the form the restarted pods take")
WAIT_KIBANA = Kind("wait for Kibana", "last: Kibana is ready only once its password is set and every node runs its version")

ORDER: tuple[Kind, ...] = (SNAPSHOT, RECORD_PENDING, SETTINGS_BEFORE_DRAIN, CALLS_BEFORE, APPLY, WAIT_ELASTICSEARCH, SEND, APPLY_USERS, PRUNE,
                           APPLYSET_PARENT, WAIT_ROLLOUTS, MASTERS_TAKE_OVER, RESTART, RETIRE_MASTERS, CALLS_AFTER,
                           CLEAR_PENDING, SEND_AFTER_RESTARTS, WAIT_KIBANA)


@dataclass
class Execution:
    """What the phases of one run share."""

    kube: Kube
    plan: Plan
    settings: Settings
    log: Callable[[str], None]
    poll: Poll
    skip_hosts: frozenset[str] = frozenset()  # nodes whose node stage failed: left unlabelled
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("created", "updated", "pruned", "skipped", "restarted"), 0))
    recorded: bool = False  # pending Elasticsearch calls are recorded on the StatefulSet
    still_eligible: frozenset[str] = frozenset()  # data nodes the take-over found master-eligible: restarted


@dataclass(frozen=True)
class Phase:
    kind: Kind
    why: str  # for this plan
    run: Callable[[Execution], None]

    @property
    def name(self) -> str:
        return self.kind.name


def order(plan: Plan) -> list[Phase]:
    """The phases this plan needs, in ``ORDER``; none when it has no work."""
    if not plan.has_work:
        return []
    work = plan.elasticsearch
    # Fewer replicas per index before a drain (work.before: a scale-down), else the drain waits in vain.
    drains = any("drained" in b.actions for b in work.before)  # data nodes leave (not masters: they hold no shard)
    before_drain = [n for n in work.send if drains and n == index_settings.NAME]
    drain_steps = [s for s in plan.steps if before_drain and s.manifest["kind"] == "ConfigMap"
                   and s.manifest["metadata"]["name"] in before_drain]
    sends = [n for n in work.send if n not in before_drain]
    # Pods that restart in this run take the users and settings in their new form only afterwards.
    early = [] if work.restarts else sends
    applies = [s for s in plan.steps if s.action != "prune" and s not in drain_steps]
    held = [s for s in applies if early and s.manifest["kind"] in USERS_OF_CREDENTIALS]
    first = [s for s in applies if s not in held]
    prunes = [s for s in plan.steps if s.action == "prune" and s not in work.retired]  # the masters go last
    rest = [w for w in plan.workloads if w[0] not in LAST_ROLLOUTS]
    last = [w for w in plan.workloads if w[0] in LAST_ROLLOUTS]
    late = [n for n in sends if n not in early]
    # Whether each kind is needed, and its phases for this plan; ORDER alone says in which order they run.
    candidates: dict[Kind, tuple[bool, Callable[[], list[Phase]]]] = {
        SNAPSHOT: (bool(work.snapshot), lambda: [Phase(SNAPSHOT, work.snapshot.why, partial(_call, work.snapshot))]),
        RECORD_PENDING: (bool(work.after), lambda: [Phase(RECORD_PENDING, _whys(work.after), _record_pending)]),
        SETTINGS_BEFORE_DRAIN: (bool(before_drain), lambda: [Phase(
            SETTINGS_BEFORE_DRAIN, _sends(before_drain), partial(_apply_and_send, drain_steps, before_drain))]),
        CALLS_BEFORE: (bool(work.before), lambda: [Phase(CALLS_BEFORE, b.why, partial(_call, b)) for b in work.before]),
        APPLY: (_changes(first), lambda: [Phase(APPLY, _summary(first), partial(_apply, first))]),
        WAIT_ELASTICSEARCH: (bool(early), lambda: [Phase(WAIT_ELASTICSEARCH, "the StatefulSet ready", _wait_elasticsearch)]),
        SEND: (bool(early), lambda: [Phase(SEND, _sends(early), partial(_send, early))]),
        APPLY_USERS: (_changes(held), lambda: [Phase(APPLY_USERS, _summary(held), partial(_apply, held))]),
        PRUNE: (bool(prunes), lambda: [Phase(PRUNE, _summary(prunes), partial(_apply, prunes))]),
        APPLYSET_PARENT: (plan.searched_parent != plan.final_parent,
                          lambda: [Phase(APPLYSET_PARENT, "kinds no longer owned", _applyset_parent)]),
        WAIT_ROLLOUTS: (bool(rest), lambda: [Phase(WAIT_ROLLOUTS, _refs(rest), partial(_wait, rest))]),
        MASTERS_TAKE_OVER: (bool(work.take_over), lambda: [Phase(MASTERS_TAKE_OVER, work.take_over.why, _take_over)]),
        RESTART: (work.restarts or work.adopted,
                  lambda: [Phase(RESTART, "StatefulSet pods not at its update revision", _restart)]),
        RETIRE_MASTERS: (bool(work.retire), lambda: [Phase(RETIRE_MASTERS, work.retire.why, _retire_masters)]),
        CALLS_AFTER: (bool(work.after), lambda: [Phase(CALLS_AFTER, b.why, partial(_call, b)) for b in work.after]),
        CLEAR_PENDING: (bool(work.after) or work.restarts or work.adopted,
                        lambda: [Phase(CLEAR_PENDING, "once they are made", _clear_pending)]),
        SEND_AFTER_RESTARTS: (bool(late), lambda: [Phase(SEND_AFTER_RESTARTS, _sends(late), partial(_send, late))]),
        WAIT_KIBANA: (bool(last), lambda: [Phase(WAIT_KIBANA, _refs(last), partial(_wait, last))]),
    }
    return [phase for kind in ORDER if candidates[kind][0] for phase in candidates[kind][1]()]


def _changes(steps: list[Step]) -> bool:
    return any(s.action != "unchanged" for s in steps)


def _summary(steps: list[Step]) -> str:
    changed = [s for s in steps if s.action != "unchanged"]
    counts = {a: sum(s.action == a for s in changed) for a in ("create", "update", "prune")}
    return ", ".join(f"{n} {a}" for a, n in counts.items() if n)


def _whys(batches: list[CallBatch]) -> str:
    return "; ".join(b.why for b in batches)


def _sends(names: list[str]) -> str:
    return "; ".join(REQUEST_CONFIG_MAPS[n] for n in names)


def _refs(workloads: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{kind} {name}" for kind, _, name in workloads)


# -- what each phase does ------------------------------------------------------------------------------------

def _record_pending(run: Execution) -> None:
    # The StatefulSet exists (follow-ups come from a live one): record them before they are due.
    record_pending(run.kube, run.settings.namespace, run.plan.elasticsearch.after)
    run.recorded = True


def _call(batch: CallBatch, run: Execution) -> None:
    es_calls.run(run.kube, run.settings, batch, run.log, run.poll)


def _apply(steps: list[Step], run: Execution) -> None:
    for step in steps:
        if step.action == "unchanged":
            continue
        if step.host in run.skip_hosts:
            run.log(f"skipped   {step.ref}: the node stage failed on {step.host}, so it is not labelled")
            run.done["skipped"] += 1
            continue
        if step.action == "prune":
            meta = step.manifest["metadata"]
            run.kube.delete(step.manifest["kind"], meta["name"], meta.get("namespace"))
            run.done["pruned"] += 1
        else:
            run.kube.apply(step.manifest)
            run.done["created" if step.action == "create" else "updated"] += 1
        run.log(step.describe())


def _wait(workloads: list[tuple[str, str, str]], run: Execution) -> None:
    rollout.wait(run.kube, workloads, run.settings.kubernetes.rollout_timeout, run.poll, run.log)


def _wait_elasticsearch(run: Execution) -> None:
    try:
        _wait([w for w in run.plan.workloads if w[0] == "StatefulSet"], run)
    except ClusterError as e:
        raise ClusterError(f"{e}\nThe log agents and Kibana are applied once Elasticsearch is up and their "
                           "users exist (the next run).") from None


def _send(names: list[str], run: Execution) -> None:
    """Send these requests ConfigMaps to Elasticsearch, each then marked as sent."""
    for name in names:
        es_calls.run(run.kube, run.settings, send_batch(name), run.log, run.poll)
        sent = next(s.manifest for s in run.plan.steps if s.manifest["kind"] == "ConfigMap"
                    and s.manifest["metadata"]["name"] == name)
        run.kube.merge_patch("ConfigMap", name, run.settings.namespace,
                             {"metadata": {"annotations": {APPLIED_ANNOTATION: config_hash(sent["data"])}}},
                             APPLIED_FIELD_MANAGER)


def _apply_and_send(steps: list[Step], names: list[str], run: Execution) -> None:
    _apply(steps, run)
    _send(names, run)


def _applyset_parent(run: Execution) -> None:
    run.kube.apply(run.plan.final_parent)


def _restart(run: Execution) -> None:
    def before_limiting(undo: CallBatch) -> None:
        record_pending(run.kube, run.settings.namespace, [*run.plan.elasticsearch.after, undo])
        run.recorded = True

    change = run.plan.elasticsearch.layout_change
    run.done["restarted"] = restarts.restart_outdated(run.kube, run.settings, run.log, before_limiting, run.poll,
                                                      change.running if change and change.retiring else 0,
                                                      run.still_eligible)


def _retire_masters(run: Execution) -> None:
    work, ns = run.plan.elasticsearch, run.settings.namespace
    es_calls.run(run.kube, run.settings, work.retire, run.log, run.poll)
    _apply(work.retired, run)
    timeout = run.settings.kubernetes.rollout_timeout
    run.poll.until(lambda: not run.kube.list("Pod", ns, label_selector(selector(MASTER_NAME))) or None, timeout,
                   lambda: ClusterError(f"the pods of StatefulSet {MASTER_NAME} were not gone after {timeout:g} s "
                                        "(kubelogs.kubernetes.rollout_timeout); the next run resumes from here."))
    _apply_settled(run)


def _take_over(run: Execution) -> None:
    es_calls.run(run.kube, run.settings, run.plan.elasticsearch.take_over, run.log, run.poll)
    _apply_settled(run)
    # Asked only now: a data node that starts from here on reads the data-only file.
    output = es_calls.run(run.kube, run.settings, layout.eligible_data_nodes(run.settings), run.log, run.poll)
    run.still_eligible = layout.still_eligible(output)


def _apply_settled(run: Execution) -> None:
    """The files as the layout settles, once the vote has moved: read at each node's next start (the data nodes'
    restart, in an adding run, comes next)."""
    for manifest in run.plan.elasticsearch.settled_configs:
        run.kube.apply(manifest)
        run.done["updated"] += 1
        run.log(f"updated   ConfigMap {run.settings.namespace}/{manifest['metadata']['name']} (as the master layout "
                "settles; read at each node's next start)")


def _clear_pending(run: Execution) -> None:
    if run.recorded:
        record_pending(run.kube, run.settings.namespace, [])


def markdown() -> str:
    """The phase table of the docs (docs/stages.md, between its phases markers)."""
    rows = [f"| {i} | {kind.name} | {kind.when} |" for i, kind in enumerate(ORDER, 1)]
    return "\n".join(["| # | phase | when it runs, and why |", "|---|---|---|", *rows]) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
