"""Which Elasticsearch version a StatefulSet runs and which one it is rendered for: what the version rules
(``safety.supported_version_change``, ``compatibility.UPGRADE_FROM``) compare."""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests.common import ES_VERSION_ANNOTATION


def running_version(live_statefulset: dict) -> str | None:
    """The version the live StatefulSet runs: its annotation, else its image's tag (installations from
    before the annotation), else unknown."""
    annotated = (live_statefulset["metadata"].get("annotations") or {}).get(ES_VERSION_ANNOTATION)
    if annotated:
        return annotated
    image = live_statefulset["spec"]["template"]["spec"]["containers"][0]["image"]
    tag = image.rsplit("@", 1)[0].rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    try:
        compat.parse_version(tag)
    except ValueError:
        return None
    return tag


def wanted_version(desired_statefulset: dict) -> str:
    """The version a rendered StatefulSet is for (its annotation)."""
    return desired_statefulset["metadata"]["annotations"][ES_VERSION_ANNOTATION]
