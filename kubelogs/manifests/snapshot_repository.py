"""What the Elasticsearch pods need to reach the snapshot repository (``elasticsearch.snapshots``): the
elasticsearch.yml keys, the shared volume (``fs``) and the S3 credentials read into the keystore at start (``s3``).
Read at start only, so a change restarts the pods; the repository itself is registered by ``snapshots``."""

from __future__ import annotations

from kubelogs.settings import Settings

MOUNT = "/usr/share/elasticsearch/snapshots"  # fs: the shared claim, listed in path.repo
VOLUME = "snapshots"
S3_CLIENT = "kubelogs"  # s3.client.<name>.* in elasticsearch.yml and the keystore
S3_SECRET_DIR = "/mnt/kubelogs/s3-credentials"  # access_key, secret_key: read into the keystore at start
S3_SECRET_KEYS = ("access_key", "secret_key")
# Volumes of Secrets the user makes (the plan checks they exist, es_plan.repository_problem), not rendered here.
USER_SECRET_VOLUMES = frozenset({"s3-credentials"})


def elasticsearch_yml(settings: Settings) -> dict:
    """What elasticsearch.yml needs to reach the repository (read at start: a change restarts the pods)."""
    snap = settings.elasticsearch.snapshots
    if snap is None:
        return {}
    if snap.repository == "fs":
        return {"path.repo": [MOUNT]}
    client = f"s3.client.{S3_CLIENT}."
    return {**({client + "endpoint": snap.s3_endpoint} if snap.s3_endpoint else {}),
            client + "protocol": snap.s3_protocol,
            **({client + "path_style_access": True} if snap.s3_path_style else {})}


def volumes(settings: Settings) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts) of the Elasticsearch pod."""
    snap = settings.elasticsearch.snapshots
    if snap is None:
        return [], []
    if snap.repository == "fs":
        return ([{"name": VOLUME, "persistentVolumeClaim": {"claimName": snap.fs_claim}}],
                [{"name": VOLUME, "mountPath": MOUNT}])
    if snap.s3_credentials_secret is None:  # the node's own credentials (an instance profile, IRSA)
        return [], []
    return ([{"name": "s3-credentials", "secret": {"secretName": snap.s3_credentials_secret, "defaultMode": 0o440,
                                                   "items": [{"key": k, "path": k} for k in S3_SECRET_KEYS]}}],
            [{"name": "s3-credentials", "mountPath": S3_SECRET_DIR, "readOnly": True}])


def keystore_script(settings: Settings) -> str:
    """Shell run at the container's start, before Elasticsearch: the S3 credentials into the keystore (secure
    settings cannot be in elasticsearch.yml). Empty without S3 credentials."""
    snap = settings.elasticsearch.snapshots
    if snap is None or snap.repository != "s3" or snap.s3_credentials_secret is None:
        return ""
    adds = "".join(f"bin/elasticsearch-keystore add --stdin --force s3.client.{S3_CLIENT}.{key} "
                   f"< {S3_SECRET_DIR}/{key} || exit 1\n" for key in S3_SECRET_KEYS)
    return f"[ -f config/elasticsearch.keystore ] || bin/elasticsearch-keystore create || exit 1\n{adds}"
