"""The ApplySet parent (KEP-3659): a Secret that records which kinds kubelogs owns in the namespace.

Members carry ``applyset.kubernetes.io/part-of=<id>`` (see manifests/common.py); the parent carries
the id and the group-kinds to search when pruning, so ``kubectl`` and kubelogs see the same set.
"""

from __future__ import annotations

from kubelogs.cluster.resources import RESOURCES
from kubelogs.manifests.common import APPLYSET_PARENT_NAME, APPLYSET_PART_OF_LABEL, PART_OF, Manifest, applyset_id

ID_LABEL = "applyset.kubernetes.io/id"
CONTAINS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
TOOLING = f"{PART_OF}/v1"


def parent(namespace: str, kinds: set[str]) -> Manifest:
    group_kinds = ",".join(sorted(RESOURCES[kind].group_kind for kind in kinds))
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {
        "name": APPLYSET_PARENT_NAME, "namespace": namespace,
        "labels": {ID_LABEL: applyset_id(namespace), "app.kubernetes.io/managed-by": PART_OF},
        "annotations": {TOOLING_ANNOTATION: TOOLING, CONTAINS_ANNOTATION: group_kinds},
    }}


def recorded_kinds(live_parent: dict | None) -> set[str]:
    """Kinds the parent says members may have (from an earlier run); unknown group-kinds are ignored."""
    annotation = ((live_parent or {}).get("metadata", {}).get("annotations") or {}).get(CONTAINS_ANNOTATION, "")
    by_group_kind = {r.group_kind: kind for kind, r in RESOURCES.items()}
    return {by_group_kind[gk] for gk in annotation.split(",") if gk in by_group_kind}


def member_selector(namespace: str) -> str:
    return f"{APPLYSET_PART_OF_LABEL}={applyset_id(namespace)}"


def is_member(obj: dict, namespace: str) -> bool:
    return (obj.get("metadata", {}).get("labels") or {}).get(APPLYSET_PART_OF_LABEL) == applyset_id(namespace)
