"""Snapshots of the whole Elasticsearch cluster (``elasticsearch.snapshots``): the repository and the daily
schedule (what the pods need to reach the repository is ``snapshot_repository``'s).

The repository and (from 7.5) its snapshot lifecycle policy are requests in a ConfigMap, sent by the cluster
stage like the index settings; before 7.5 a CronJob takes the daily snapshot and deletes expired ones
(files/es-admin.sh, actions ``snapshot`` and ``expire_snapshots``). The snapshot a run takes before a risky
change is ``es_plan``'s (the same ``snapshot`` action).
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests import client_pods
from kubelogs.manifests.common import CREDENTIALS_SECRET, REQUESTS_KEY, TASK_LABEL, Manifest, obj, requests_text
from kubelogs.manifests.snapshot_repository import MOUNT, S3_CLIENT
from kubelogs.settings import Settings, SnapshotSettings

NAME = "elasticsearch-snapshots"  # the requests ConfigMap and, before 7.5, the CronJob
REPOSITORY = "kubelogs"
POLICY = "kubelogs-daily"
SCHEDULED_PREFIX = "kubelogs-daily"  # scheduled snapshots: <prefix>-<date>, lower case as Elasticsearch wants
BEFORE_CHANGE_PREFIX = "kubelogs-before-change"  # the snapshot a run takes before a risky change
KEEP_AT_LEAST = 5  # the newest scheduled snapshots kept whatever their age
LOCATION_KEY = "location"  # in the ConfigMap beside the requests: where the repository's storage is


def repository(snap: SnapshotSettings) -> dict:
    """The body of ``PUT _snapshot/kubelogs``."""
    if snap.repository == "fs":
        return {"type": "fs", "settings": {"location": MOUNT, "compress": True}}
    return {"type": "s3", "settings": {"bucket": snap.s3_bucket, "client": S3_CLIENT, "base_path": snap.s3_base_path,
                                       "compress": True}}


def slm_policy(snap: SnapshotSettings) -> dict:
    """The daily policy (Elasticsearch's cron has seconds first; the time is UTC, as SLM's)."""
    hours, minutes = (int(x) for x in snap.time.split(":"))
    return {"schedule": f"0 {minutes} {hours} * * ?", "name": f"<{SCHEDULED_PREFIX}-{{now/d}}>",
            "repository": REPOSITORY, "config": {"include_global_state": True},
            "retention": {"expire_after": f"{snap.keep_days}d", "min_count": KEEP_AT_LEAST}}


def requests(settings: Settings) -> list[tuple[str, str, dict]]:
    snap = settings.elasticsearch.snapshots
    assert snap is not None
    calls = [("PUT", f"_snapshot/{REPOSITORY}", repository(snap))]
    if compat.has_slm(settings.elasticsearch.version):
        calls.append(("PUT", f"_slm/policy/{POLICY}", slm_policy(snap)))
    return calls


def location(settings: Settings) -> str:
    """Where the repository's storage is, beyond what the repository's own settings say (those reach Elasticsearch
    in the request): the claim, or the S3 service. Elasticsearch cannot tell that it changed underneath."""
    snap = settings.elasticsearch.snapshots
    assert snap is not None
    if snap.repository == "fs":
        return f"fs claim {snap.fs_claim}"
    return f"s3 {snap.s3_protocol}://{snap.s3_endpoint or 's3.amazonaws.com'}"


def render(settings: Settings) -> list[Manifest]:
    if settings.elasticsearch.snapshots is None:
        return []
    objects = [obj("v1", "ConfigMap", NAME, "elasticsearch", settings.namespace,
                   data={REQUESTS_KEY: requests_text(requests(settings)), LOCATION_KEY: location(settings)})]
    if not compat.has_slm(settings.elasticsearch.version):
        objects.append(cronjob(settings))
    return objects


def cronjob(settings: Settings) -> Manifest:
    """Before SLM: the daily snapshot, then the scheduled ones older than ``keep_days`` deleted (the newest
    ``KEEP_AT_LEAST`` kept), by files/es-admin.sh as the cluster stage's own calls."""
    snap = settings.elasticsearch.snapshots
    assert snap is not None
    hours, minutes = (int(x) for x in snap.time.split(":"))
    env = [*client_pods.es_env(settings), *({"name": k, "value": v} for k, v in {
        "ACTIONS": "snapshot expire_snapshots", "REPOSITORY": REPOSITORY, "SNAPSHOT_PREFIX": SCHEDULED_PREFIX,
        "KEEP_DAYS": str(snap.keep_days), "KEEP_AT_LEAST": str(KEEP_AT_LEAST),
        "TIMEOUT": str(settings.kubernetes.rollout_timeout), "INTERVAL": "10"}.items())]
    pod = client_pods.pod(settings, NAME, {TASK_LABEL: "snapshots"}, client_pods.container(
        settings, "snapshots", command=client_pods.script_command("es-admin.sh"), env=env),
        credentials=CREDENTIALS_SECRET)
    return client_pods.cronjob(settings, NAME, pod, f"{minutes} {hours} * * *", timeZone="Etc/UTC")


def before_change_env() -> dict[str, str]:
    """What the ``snapshot`` action reads for the snapshot before a risky change."""
    return {"REPOSITORY": REPOSITORY, "SNAPSHOT_PREFIX": BEFORE_CHANGE_PREFIX}
