"""The Elasticsearch side of a plan: calls around scaling, pods to restart, and index settings to send.
Read-only, like the rest of the plan; ``phases.order`` places it among the phases."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubelogs.cluster import layout, quorum, restarts, safety, upgrades
from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.cluster.es_calls import CallBatch
from kubelogs.manifests import index_settings, security, snapshot_repository, snapshots
from kubelogs.manifests.common import (
    REQUESTS_KEY,
    Manifest,
    config_hash,
    requests_text,
    selector,
)
from kubelogs.manifests.elasticsearch import CONFIG_MAP, MASTER_NAME, NAME, data_only, node_count, protocol
from kubelogs.settings import Settings

if TYPE_CHECKING:
    from kubelogs.cluster.plan import Step

# The ConfigMaps of requests sent to Elasticsearch, in the order they are sent (the users before anything
# else, so the agents' writer exists as early as possible), and why.
REQUEST_CONFIG_MAPS: dict[str, str] = {
    security.NAME: "set up the agents' writer, the verifier's reader and Kibana's password",
    index_settings.NAME: "send the index settings (retention, replicas, mappings of the log indices)",
    snapshots.NAME: "register the snapshot repository and its daily schedule",
}
# On each of them, set (by a merge patch, under its own field manager, so server-side apply leaves it
# alone) once its requests reached Elasticsearch: the hash of what was sent.
APPLIED_ANNOTATION = "kubelogs.io/sent-to-elasticsearch"
APPLIED_FIELD_MANAGER = "kubelogs-elasticsearch"
# On the StatefulSet, the same way: Elasticsearch calls a run must still make (a quorum follow-up after
# scaling, allocation back on after a restart), recorded before the step that makes them necessary and
# removed when done, so a run that fails in between leaves them to the next run.
PENDING_ANNOTATION = "kubelogs.io/pending-elasticsearch-calls"


@dataclass
class ElasticsearchWork:
    snapshot: CallBatch | None = None  # before a risky change, before anything else
    before: list[CallBatch] = field(default_factory=list)  # before anything is applied
    after: list[CallBatch] = field(default_factory=list)  # after the rollout and the restarts
    restarts_pending: list[str] = field(default_factory=list)  # pods already outdated before this run
    send: list[str] = field(default_factory=list)  # REQUEST_CONFIG_MAPS to send, in order
    restarts: bool = False  # Elasticsearch pods restart in this run (outdated ones, or a template change)
    adopted: bool = False  # pods a re-created StatefulSet adopts (after --cascade=orphan): restarted if outdated
    # A master layout change (cluster/layout.py): the batch that hands the master role over, before the data nodes
    # restart (adding masters) or after (retiring them); the masters' objects retired; the files as they settle,
    # applied once the vote has moved (the plan's steps carry the transitional ones).
    layout_change: layout.LayoutChange | None = None
    take_over: CallBatch | None = None
    retire: CallBatch | None = None
    retired: list[Step] = field(default_factory=list)
    settled_configs: list[Manifest] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [*(f"  calls     elasticsearch: {t.why}" for t in [self.snapshot] if t),
                *(f"  calls     elasticsearch: {t.why}" for t in self.before),
                *(f"  waiting   {m}" for m in self.restarts_pending),
                *(f"  calls     elasticsearch: {t.why}" for t in [self.take_over, self.retire] if t),
                *(f"  retires   {s.ref} (once out of voting)" for s in self.retired),
                *(f"  calls     elasticsearch: {t.why}" for t in self.after),
                *(f"  calls     elasticsearch: {REQUEST_CONFIG_MAPS[name]}" for name in self.send)]

    @property
    def any(self) -> bool:
        return bool(self.snapshot or self.before or self.after or self.restarts_pending or self.send
                    or self.take_over or self.retire)


def pending_calls(live_statefulset: dict | None) -> list[CallBatch]:
    raw = (((live_statefulset or {}).get("metadata") or {}).get("annotations") or {}).get(PENDING_ANNOTATION)
    try:
        return [CallBatch.from_data(t) for t in json.loads(raw)] if raw else []
    except (ValueError, KeyError, TypeError):
        return []  # unreadable: written by someone else; nothing to resume


def record_pending(kube: Kube, namespace: str, batches: list[CallBatch]) -> None:
    value = json.dumps([b.as_data() for b in batches], sort_keys=True) if batches else None
    kube.merge_patch("StatefulSet", NAME, namespace, {"metadata": {"annotations": {PENDING_ANNOTATION: value}}},
                     APPLIED_FIELD_MANAGER)


def sent_hash(config_map: dict) -> str:
    return config_hash(config_map.get("data") or {})


def plan_elasticsearch(kube: Kube, settings: Settings, steps: list) -> ElasticsearchWork:
    """``steps``: the plan's steps (desired and live objects)."""
    work = ElasticsearchWork()
    by_ref = {(s.manifest["kind"], s.manifest["metadata"]["name"]): s for s in steps}
    refused = repository_moved(settings, by_ref.get(("ConfigMap", snapshots.NAME)))
    if refused:
        raise ClusterError(refused)
    sts = by_ref.get(("StatefulSet", NAME))
    if sts and sts.live:
        live, wanted = sts.live["spec"].get("replicas", 1), settings.elasticsearch.replicas
        running = upgrades.running_version(sts.live) or settings.elasticsearch.version
        masters_step = by_ref.get(("StatefulSet", MASTER_NAME))
        masters, adopted = _running_masters(kube, settings, masters_step, by_ref.get(("ConfigMap", CONFIG_MAP)))
        refused = safety.master_layout_change_supported(masters, settings.elasticsearch.masters, running,
                                                        _moving_nodes(running, live, sts, settings), adopted, live)
        if refused:
            raise ClusterError(refused)
        change = layout.LayoutChange(masters, settings.elasticsearch.masters)
        change = change if masters != settings.elasticsearch.masters else None
        work.adopted = adopted
        # The data nodes' pods, then the masters' (the order they restart in).
        sets = [(NAME, sts)] + ([(MASTER_NAME, masters_step)] if masters_step and masters_step.live else [])
        outdated_by_set = [(name, step, restarts.outdated(kube, settings.namespace, step.live, name)) for name, step in sets]
        outdated = [p for _, _, pods in outdated_by_set for p in pods]
        pending = "; ".join(restarts.pending_message(pods, name) for name, _, pods in outdated_by_set if pods)
        refused = safety.layout_change_finished_first(layout.under_way(pending_calls(sts.live)),
                                                      settings.elasticsearch.masters) \
            or safety.restarts_finished_first(pending, running, live, settings,
                                              bool(change and (change.scaling or sts.template_changed)))
        if refused:
            raise ClusterError(refused)
        work.snapshot = snapshot_before(settings, risky_change(running, sts.live, sts.manifest, settings, change),
                                        by_ref.get(("ConfigMap", snapshots.NAME)))
        work.after += pending_calls(sts.live)
        _plan_layout(work, settings, running, change, steps)
        work.before += [t for t in [quorum.before_scaling(running, live, wanted, masters)] if t]
        work.after += [t for t in [quorum.after_scaling(running, live, wanted, masters)] if t and t not in work.after]
        work.restarts_pending += [restarts.pending_message(pods, name) for name, step, pods in outdated_by_set
                                  if pods and step.action == "unchanged"]
        work.restarts = work.restarts or bool(outdated or any(step.template_changed for _, step in sets))
    elif sts and sts.action == "create" and by_ref[("Namespace", settings.namespace)].action != "create":
        # Pods left by a StatefulSet deleted with --cascade=orphan (as the immutable-fields refusal advises)
        # are adopted by the new one; those at an older revision are restarted, health-aware, in this run.
        work.adopted = bool(kube.list("Pod", settings.namespace, label_selector(sts.manifest["spec"]["selector"]["matchLabels"])))
        if work.adopted:  # a running cluster: its master layout stays as it is
            masters, _ = _running_masters(kube, settings, by_ref.get(("StatefulSet", MASTER_NAME)),
                                          by_ref.get(("ConfigMap", CONFIG_MAP)))
            refused = safety.master_layout_change_supported(masters, settings.elasticsearch.masters,
                                                            settings.elasticsearch.version, [], adopted=True)
            if refused:
                raise ClusterError(refused)
    for name in REQUEST_CONFIG_MAPS:
        config_map = by_ref.get(("ConfigMap", name))
        if config_map and config_map.action != "prune":
            live_cm = config_map.live or {}
            sent = (live_cm.get("metadata", {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
            if config_map.action != "unchanged" or sent != sent_hash(live_cm):
                work.send.append(name)
    return work


def _moving_nodes(running: str, live_replicas: int, sts: Step, settings: Settings) -> list[str]:
    """The changes of this run besides the master layout that move or restart every node (a layout change is
    refused with any of them)."""
    es, template = settings.elasticsearch, (sts.live.get("spec") or {}).get("template") or {}
    return [*([f"the version ({running} -> {es.version})"] if running != es.version else []),
            *([f"replicas ({live_replicas} -> {es.replicas})"] if live_replicas != es.replicas else []),
            *(["a security or HTTPS switch"] if protocol(template.get("spec") or {})
              != protocol(sts.manifest["spec"]["template"]["spec"]) else [])]


def _plan_layout(work: ElasticsearchWork, settings: Settings, running: str, change: layout.LayoutChange | None,
                 steps: list[Step]) -> None:
    """The calls and removals of a master layout change, or of one an earlier run left under way (adding masters:
    the exclusions' clearing still pending; retiring them: the masters still running)."""
    if change:
        work.layout_change = change
        work.after += [b for b in [layout.cleared(change)] if b and b not in work.after]
    if change and change.scaling:
        work.before += [layout.scaling_down(settings, running, change.running)] if change.wanted < change.running else []
    elif change and change.retiring:
        work.retire = layout.retire(settings, running, change.running)
        work.retired = [s for s in steps if s.action == "prune"
                        and (s.manifest["kind"], s.manifest["metadata"]["name"]) in layout.master_objects()]
    elif (change and change.adding) or layout.adding_under_way(work.after):
        # Also when no data node is at an older revision: one may run with the file it started with before.
        work.take_over = layout.take_over(settings, running)
        work.restarts = True


def _running_masters(kube: Kube, settings: Settings, step: Step | None,
                     data_config: Step | None = None) -> tuple[int, bool]:
    """The dedicated masters of the installed cluster, and whether a re-created StatefulSet adopts them: its
    replicas, or where it was deleted with --cascade=orphan (as the immutable-fields refusal advises), the
    master pods left waiting to be adopted, counted (never the wanted number: that would let a layout change
    through). ``data_config``: the data nodes' ConfigMap, whose roles tell whether masters run elsewhere."""
    if step and step.live:
        return step.live["spec"].get("replicas", 1), False
    if step is None and not data_only(data_config.live if data_config else None):
        return 0, False  # no masters wanted, none owned, none implied: no request (a no-op plan stays O(kinds))
    pods = kube.list("Pod", settings.namespace, label_selector(selector(MASTER_NAME)))
    return len(pods), bool(pods)


def risky_change(running: str, live: dict, desired: dict, settings: Settings,
                 change: layout.LayoutChange | None = None) -> str:
    """The change of this run a snapshot goes before ('' when none): a version change, a security switch or a
    master layout change."""
    changes = [change.describe()] if change else []
    if running != settings.elasticsearch.version:
        changes.append(f"the change from Elasticsearch {running} to {settings.elasticsearch.version}")
    template = (live.get("spec") or {}).get("template") or {}
    if protocol(template.get("spec") or {})[0] != protocol(desired["spec"]["template"]["spec"])[0]:
        changes.append(f"turning security {'on' if settings.elasticsearch.security_enabled else 'off'}")
    return " and ".join(changes)


def repository_moved(settings: Settings, requests_step: Step | None) -> str:
    """Why the run is refused when the repository's storage moved (another claim or S3 service) under a
    registered repository ('' when it did not): Elasticsearch would find another repository's contents, or
    none, where it keeps track of its snapshots, and mark the repository corrupted."""
    live = ((requests_step.live if requests_step else None) or {}).get("data") or {}
    if settings.elasticsearch.snapshots is None or snapshots.LOCATION_KEY not in live:
        return ""
    was, now = live[snapshots.LOCATION_KEY], snapshots.location(settings)
    if was == now:
        return ""
    return (f"kubelogs.elasticsearch.snapshots: the repository {snapshots.REPOSITORY!r} is registered on {was}; the "
            f"settings move it to {now}, which Elasticsearch cannot follow in place. Keep {was}, or unregister it "
            f"first (`DELETE _snapshot/{snapshots.REPOSITORY}`; its snapshots stay where they are) and delete the "
            f"ConfigMap {snapshots.NAME}, then re-run. Nothing was applied.")


def snapshot_before(settings: Settings, risky: str, requests_step: Step | None) -> CallBatch | None:
    """The snapshot before ``risky`` where snapshots are configured; ClusterError (the plan check) when the
    repository they configure was not registered by an earlier run (``requests_step``: the snapshots'
    requests ConfigMap; its other requests, such as the policy a major upgrade brings, may still change)."""
    snap = settings.elasticsearch.snapshots
    if not risky or snap is None or not snap.before_risky_changes:
        return None
    live = (requests_step.live if requests_step else None) or {}
    sent = (live.get("metadata", {}).get("annotations") or {}).get(APPLIED_ANNOTATION) == sent_hash(live)
    repository = requests_text(snapshots.requests(settings)[:1]).strip()
    refused = safety.snapshots_ready_first(risky, sent and repository in
                                           (live.get("data") or {}).get(REQUESTS_KEY, "").splitlines())
    if refused:
        raise ClusterError(refused)
    return snapshot_batch(risky)


def snapshot_batch(risky: str) -> CallBatch:
    # Yellow is enough: a snapshot copies the primaries.
    return CallBatch(f"take a snapshot before {risky} and wait for SUCCESS", ("health", "snapshot"),
                     {"HEALTH_WAIT": "yellow", **snapshots.before_change_env()},
                     check=safety.SNAPSHOT_BEFORE_RISKY_CHANGE.name)


def repository_problem(kube: Kube, settings: Settings, secrets: list[dict] | None) -> str:
    """Why the snapshot repository cannot work ('' when it can): the claim or the Secret it names is missing,
    or a claim that one node only can mount. ``secrets``: the namespace's Secrets where the run read them
    already (None: the Secret is read alone)."""
    snap, ns = settings.elasticsearch.snapshots, settings.namespace
    where = "kubelogs.elasticsearch.snapshots"
    if snap is None:
        return ""
    if snap.repository == "fs":
        claim = kube.get("PersistentVolumeClaim", snap.fs_claim, ns)
        if claim is None:
            return (f"{where}.fs_claim = {snap.fs_claim!r}: there is no PersistentVolumeClaim {ns}/{snap.fs_claim}. "
                    "Create it first, ReadWriteMany (a file system every Elasticsearch pod mounts: NFS, CephFS, EFS; "
                    "see docs/snapshots.md). Nothing was applied.")
        modes = (claim.get("spec") or {}).get("accessModes") or []
        if node_count(settings) > 1 and "ReadWriteMany" not in modes:
            return (f"{where}.fs_claim = {snap.fs_claim!r}: its access modes are {modes}, so only one node can mount "
                    f"it, and every one of the {node_count(settings)} Elasticsearch pods must. Use a "
                    "ReadWriteMany claim, or repository 's3'. Nothing was applied.")
    elif snap.s3_credentials_secret:
        secret = next((s for s in secrets if s["metadata"]["name"] == snap.s3_credentials_secret), None) \
            if secrets is not None else kube.get("Secret", snap.s3_credentials_secret, ns)
        missing = [k for k in snapshot_repository.S3_SECRET_KEYS if k not in ((secret or {}).get("data") or {})]
        if missing:
            found = "has no key " + " or ".join(missing) if secret else f"does not exist in namespace {ns}"
            return (f"{where}.s3_credentials_secret = {snap.s3_credentials_secret!r}: the Secret {found}. Create it "
                    "with `kubectl -n " + ns + f" create secret generic {snap.s3_credentials_secret} "
                    "--from-literal=access_key=... --from-literal=secret_key=...`. Nothing was applied.")
    return ""


def send_batch(config_map: str) -> CallBatch:
    # Yellow is enough: users, policies and templates need a master and the primaries, not every replica.
    return CallBatch(REQUEST_CONFIG_MAPS[config_map], ("health", "requests"), {"HEALTH_WAIT": "yellow"}, config_map)
