"""The Elasticsearch side of a plan: calls around scaling, pods to restart, and index settings to send.
Read-only, like the rest of the plan; ``stage.execute`` carries it out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kubelogs.cluster import quorum, restarts, upgrades
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.es_tasks import Task
from kubelogs.manifests import index_settings
from kubelogs.manifests.common import config_hash
from kubelogs.manifests.elasticsearch import NAME
from kubelogs.settings import Settings

# On the index-settings ConfigMap, set (by a merge patch, under its own field manager, so server-side
# apply leaves it alone) once its requests reached Elasticsearch: the hash of what was sent.
APPLIED_ANNOTATION = "kubelogs.io/sent-to-elasticsearch"
APPLIED_FIELD_MANAGER = "kubelogs-elasticsearch"
# On the StatefulSet, the same way: Elasticsearch calls a run must still make (a quorum follow-up after
# scaling, allocation back on after a restart), recorded before the step that makes them necessary and
# removed when done, so a run that fails in between leaves them to the next run.
PENDING_ANNOTATION = "kubelogs.io/pending-elasticsearch-calls"


@dataclass
class ElasticsearchWork:
    before: list[Task] = field(default_factory=list)  # before anything is applied
    after: list[Task] = field(default_factory=list)  # after the rollout and the restarts
    restarts_pending: list[str] = field(default_factory=list)  # pods already outdated before this run
    send_index_settings: bool = False

    def lines(self) -> list[str]:
        return [*(f"  calls     elasticsearch: {t.why}" for t in self.before),
                *(f"  waiting   {m}" for m in self.restarts_pending),
                *(f"  calls     elasticsearch: {t.why}" for t in self.after),
                *(["  calls     elasticsearch: send the index settings (retention, replicas)"]
                  if self.send_index_settings else [])]

    @property
    def any(self) -> bool:
        return bool(self.before or self.after or self.restarts_pending or self.send_index_settings)


def pending_tasks(live_statefulset: dict | None) -> list[Task]:
    raw = (((live_statefulset or {}).get("metadata") or {}).get("annotations") or {}).get(PENDING_ANNOTATION)
    try:
        return [Task.from_data(t) for t in json.loads(raw)] if raw else []
    except (ValueError, KeyError, TypeError):
        return []  # unreadable: written by someone else; nothing to resume


def record_pending(kube: Kube, namespace: str, tasks: list[Task]) -> None:
    value = json.dumps([t.as_data() for t in tasks], sort_keys=True) if tasks else None
    kube.merge_patch("StatefulSet", NAME, namespace, {"metadata": {"annotations": {PENDING_ANNOTATION: value}}},
                     APPLIED_FIELD_MANAGER)


def sent_hash(config_map: dict) -> str:
    return config_hash(config_map.get("data") or {})


def plan_elasticsearch(kube: Kube, settings: Settings, steps: list) -> ElasticsearchWork:
    """``steps``: the plan's steps (desired and live objects)."""
    work = ElasticsearchWork()
    by_ref = {(s.manifest["kind"], s.manifest["metadata"]["name"]): s for s in steps}
    sts = by_ref.get(("StatefulSet", NAME))
    if sts and sts.live:
        live, wanted = sts.live["spec"].get("replicas", 1), settings.elasticsearch.replicas
        running = upgrades.running_version(sts.live) or settings.elasticsearch.version
        outdated = restarts.outdated(kube, settings.namespace)
        if outdated and (live != wanted or running != settings.elasticsearch.version):
            # The recorded version is the template's: the pods still at the older revision may run another.
            raise ClusterError(
                f"refusing to apply: {restarts.pending_message(outdated)}, not finished by an earlier run. Keep "
                f"kubelogs.elasticsearch.version = {running!r} and replicas = {live} for one more run, which "
                "finishes those restarts, then change them. Nothing was applied.")
        work.after += pending_tasks(sts.live)
        work.before += [t for t in [quorum.before_scaling(running, live, wanted)] if t]
        work.after += [t for t in [quorum.after_scaling(running, live, wanted)] if t and t not in work.after]
        if sts.action == "unchanged" and outdated:
            work.restarts_pending.append(restarts.pending_message(outdated))
    config_map = by_ref.get(("ConfigMap", index_settings.NAME))
    if config_map:
        live_cm = config_map.live or {}
        sent = (live_cm.get("metadata", {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
        work.send_index_settings = config_map.action != "unchanged" or sent != sent_hash(live_cm)
    return work


def send_task() -> Task:
    # Yellow is enough: the policy and templates need a master and the primaries, not every replica.
    return Task("send the index settings (retention, replicas of the log indices)", ("health", "index_settings"),
                {"HEALTH_WAIT": "yellow"})
