"""The Elasticsearch side of a plan: calls around scaling, pods to restart, and index settings to send.
Read-only, like the rest of the plan; ``phases.order`` places it among the phases."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kubelogs.cluster import quorum, restarts, safety, upgrades
from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.cluster.es_calls import CallBatch
from kubelogs.manifests import index_settings, security
from kubelogs.manifests.common import config_hash
from kubelogs.manifests.elasticsearch import NAME
from kubelogs.settings import Settings

# The ConfigMaps of requests sent to Elasticsearch, in the order they are sent (the users before anything
# else, so the agents' writer exists as early as possible), and why.
REQUEST_CONFIG_MAPS: dict[str, str] = {
    security.NAME: "set up the agents' writer, the verifier's reader and Kibana's password",
    index_settings.NAME: "send the index settings (retention, replicas, mappings of the log indices)",
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
    before: list[CallBatch] = field(default_factory=list)  # before anything is applied
    after: list[CallBatch] = field(default_factory=list)  # after the rollout and the restarts
    restarts_pending: list[str] = field(default_factory=list)  # pods already outdated before this run
    send: list[str] = field(default_factory=list)  # REQUEST_CONFIG_MAPS to send, in order
    restarts: bool = False  # Elasticsearch pods restart in this run (outdated ones, or a template change)
    adopted: bool = False  # pods a re-created StatefulSet adopts (after --cascade=orphan): restarted if outdated

    def lines(self) -> list[str]:
        return [*(f"  calls     elasticsearch: {t.why}" for t in self.before),
                *(f"  waiting   {m}" for m in self.restarts_pending),
                *(f"  calls     elasticsearch: {t.why}" for t in self.after),
                *(f"  calls     elasticsearch: {REQUEST_CONFIG_MAPS[name]}" for name in self.send)]

    @property
    def any(self) -> bool:
        return bool(self.before or self.after or self.restarts_pending or self.send)


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
    sts = by_ref.get(("StatefulSet", NAME))
    if sts and sts.live:
        live, wanted = sts.live["spec"].get("replicas", 1), settings.elasticsearch.replicas
        running = upgrades.running_version(sts.live) or settings.elasticsearch.version
        outdated = restarts.outdated(kube, settings.namespace, sts.live)
        pending = restarts.pending_message(outdated) if outdated else ""
        refused = safety.restarts_finished_first(pending, running, live, settings)
        if refused:
            raise ClusterError(refused)
        work.after += pending_calls(sts.live)
        work.before += [t for t in [quorum.before_scaling(running, live, wanted)] if t]
        work.after += [t for t in [quorum.after_scaling(running, live, wanted)] if t and t not in work.after]
        if sts.action == "unchanged" and outdated:
            work.restarts_pending.append(pending)
        work.restarts = bool(sts.template_changed or outdated)
    elif sts and sts.action == "create" and by_ref[("Namespace", settings.namespace)].action != "create":
        # Pods left by a StatefulSet deleted with --cascade=orphan (as the immutable-fields refusal advises)
        # are adopted by the new one; those at an older revision are restarted, health-aware, in this run.
        work.adopted = bool(kube.list("Pod", settings.namespace, label_selector(sts.manifest["spec"]["selector"]["matchLabels"])))
    for name in REQUEST_CONFIG_MAPS:
        config_map = by_ref.get(("ConfigMap", name))
        if config_map and config_map.action != "prune":
            live_cm = config_map.live or {}
            sent = (live_cm.get("metadata", {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
            if config_map.action != "unchanged" or sent != sent_hash(live_cm):
                work.send.append(name)
    return work


def send_batch(config_map: str) -> CallBatch:
    # Yellow is enough: users, policies and templates need a master and the primaries, not every replica.
    return CallBatch(REQUEST_CONFIG_MAPS[config_map], ("health", "requests"), {"HEALTH_WAIT": "yellow"}, config_map)
