"""Elasticsearch version changes, checked before anything is applied: the running version (recorded on the
live StatefulSet) against the settings, by the rules in ``compatibility.UPGRADE_FROM``."""

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


def refusal(live: dict, desired: dict) -> str:
    """Why the desired Elasticsearch StatefulSet may not replace the live one ('' when it may)."""
    running = running_version(live)
    wanted = desired["metadata"]["annotations"][ES_VERSION_ANNOTATION]
    problem = compat.version_change_problem(running, wanted) if running else ""
    replicas = (live["spec"].get("replicas", 1), desired["spec"]["replicas"])
    if not problem and running and compat.parse_version(running)[0] != compat.parse_version(wanted)[0] \
            and replicas[0] != replicas[1]:
        # The quorum calls around scaling are made in one version's terms (zen1 or voting exclusions).
        problem = (f"a major upgrade and a replicas change ({replicas[0]} -> {replicas[1]}) in one run are refused: "
                   "upgrade with the current replicas first, then change replicas in a second run")
    if not problem:
        return ""
    meta = desired["metadata"]
    return (f"StatefulSet {meta['namespace']}/{meta['name']} runs Elasticsearch {running}; "
            f"kubelogs.elasticsearch.version = {wanted!r}: {problem}. Nothing was applied.")
