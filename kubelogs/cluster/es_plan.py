"""The Elasticsearch side of a plan: calls around scaling, pods to restart, and index settings to send.
Read-only, like the rest of the plan; ``stage.execute`` carries it out."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelogs.cluster import quorum, restarts, upgrades
from kubelogs.cluster.api import Kube
from kubelogs.cluster.es_tasks import Task
from kubelogs.manifests import index_settings
from kubelogs.manifests.common import config_hash
from kubelogs.manifests.elasticsearch import NAME
from kubelogs.settings import Settings

# On the index-settings ConfigMap, set (by a merge patch, under its own field manager, so server-side
# apply leaves it alone) once its requests reached Elasticsearch: the hash of what was sent.
APPLIED_ANNOTATION = "kubelogs.io/sent-to-elasticsearch"
APPLIED_FIELD_MANAGER = "kubelogs-elasticsearch"


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
        work.before += [t for t in [quorum.before_scaling(running, live, wanted)] if t]
        work.after += [t for t in [quorum.after_scaling(running, live, wanted)] if t]
        if sts.action == "unchanged":
            outdated = restarts.outdated(kube, settings.namespace)
            if outdated:
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
