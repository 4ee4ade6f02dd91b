"""Changes the API server cannot make in place, found before anything is applied.

The usual "fix" (delete and recreate) can cost Elasticsearch its pods and data, so kubelogs refuses
and says what a person can do deliberately instead.
"""

from __future__ import annotations

from typing import Any

from kubelogs.settings import quantity_bytes

# kind -> fields (paths under the object) that cannot change once it exists.
IMMUTABLE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "StatefulSet": (("spec", "selector"), ("spec", "serviceName"), ("spec", "volumeClaimTemplates"),
                    ("spec", "podManagementPolicy")),
    "DaemonSet": (("spec", "selector"),),
    "Deployment": (("spec", "selector"),),
    "Service": (("spec", "clusterIP"),),
}
# What the API server stores when the field is left out.
SERVER_DEFAULTS: dict[tuple[str, ...], Any] = {
    ("spec", "volumeClaimTemplates"): [],
    ("spec", "podManagementPolicy"): "OrderedReady",
}

GUIDANCE = {
    "StatefulSet": (
        "Nothing was applied. Revert the setting, or change it deliberately: "
        "`kubectl -n {ns} delete statefulset {name} --cascade=orphan` keeps the pods, PVCs and hostPath data; "
        "the next run recreates the StatefulSet, which adopts the pods (delete them one at a time to roll "
        "them onto the new spec)."
    ),
    "DaemonSet": "Nothing was applied. Delete it with `kubectl -n {ns} delete daemonset {name}`, then re-run.",
    "Deployment": "Nothing was applied. Delete it with `kubectl -n {ns} delete deployment {name}`, then re-run.",
    "Service": "Nothing was applied. Delete it with `kubectl -n {ns} delete service {name}`, then re-run.",
}


def _at(obj: dict, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def covers(live: Any, desired: Any) -> bool:
    """Whether ``live`` already has every value ``desired`` sets (server defaults may add more). Quantities
    compare by amount: the server stores them canonical (``pvc_size: 2048Mi`` comes back as ``2Gi``)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(covers(live.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(map(covers, live, desired))
    return live == desired or _same_quantity(live, desired)


def _same_quantity(live: Any, desired: Any) -> bool:
    if not (isinstance(live, str) and isinstance(desired, str)):
        return False
    try:
        return quantity_bytes(live) == quantity_bytes(desired)
    except ValueError:
        return False


def changed_fields(live: dict, desired: dict) -> list[str]:
    """Dotted paths of immutable fields whose desired value differs from the live object."""
    changed = []
    for path in IMMUTABLE_FIELDS.get(desired["kind"], ()):
        want, have = _at(desired, path), _at(live, path)
        if want is None:
            # Left out: the server keeps or allocates it, except where its default differs.
            if path in SERVER_DEFAULTS and have not in (None, SERVER_DEFAULTS[path]):
                changed.append(".".join(path))
            elif path == ("spec", "clusterIP") and have == "None":
                changed.append(".".join(path))
            continue
        if not covers(SERVER_DEFAULTS.get(path) if have is None else have, want):
            changed.append(".".join(path))
    return changed


def refusal(live: dict, desired: dict, fields: list[str]) -> str:
    kind, name, ns = desired["kind"], desired["metadata"]["name"], desired["metadata"].get("namespace", "")
    return (f"{kind} {ns}/{name}: {', '.join(fields)} cannot change on an existing {kind}, and the settings "
            f"change {'them' if len(fields) > 1 else 'it'}. " + GUIDANCE[kind].format(ns=ns, name=name))
