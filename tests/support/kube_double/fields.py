"""Server-side apply and field ownership, after structured-merge-diff (the library the API server uses).

An object's fields are a set of paths: ``f:<name>`` for a struct or map field, ``k:{...}`` for an item of a
list keyed by some of its fields (containers by name, ports by port and protocol), ``v:<value>`` for an
item of a set-like list (finalizers). Any other list, and the few atomic structs and maps (label
selectors, ``nodeSelector``), is one leaf. Each field manager owns a set of paths:

- **apply** merges the applied configuration into the live object, removes what the manager applied
  before and no longer does (unless another manager owns it too), and fails with a conflict for a
  field another manager owns with a different value, unless ``force`` takes it over;
- **update** (create, merge patch, a controller's write) gives the writer the fields it changed and takes
  them from everyone else; a removed field leaves every set.

``managed_fields`` renders the sets as ``metadata.managedFields`` (FieldsV1), as the API server lists them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MISSING = object()

# Lists keyed by item fields (x-kubernetes-list-type: map), by the list's field name.
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "volumes": ("name",), "env": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
    "hostAliases": ("ip",), "imagePullSecrets": ("name",), "resizePolicy": ("resourceName",),
    "resourceClaims": ("name",), "schedulingGates": ("name",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "ownerReferences": ("uid",), "conditions": ("type",),
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
SET_LISTS = frozenset({"finalizers"})
# Structs and maps owned as a whole (+structType=atomic / +mapType=atomic).
ATOMIC = frozenset({"selector", "nodeSelector", "podSelector", "namespaceSelector", "labelSelector", "managedFields"})
KEY_DEFAULTS = {"protocol": "TCP"}  # a key field the server defaults identifies the item with its default

Path = tuple[str, ...]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _list_keys(names: tuple[str, ...]) -> tuple[str, ...] | str | None:
    """"set", the key fields of an associative list, or None (atomic)."""
    last = names[-1] if names else ""
    if last in SET_LISTS:
        return "set"
    if last == "ports" and len(names) >= 2:
        if names[-2] in _CONTAINER_LISTS:
            return ("containerPort", "protocol")
        if names[:2] == ("spec", "ports"):  # a Service's ports
            return ("port", "protocol")
        return None
    return LIST_KEYS.get(last)


def _atomic(names: tuple[str, ...]) -> bool:
    return bool(names) and names[-1] in ATOMIC


def _key(item: dict, keys: tuple[str, ...]) -> dict:
    return {k: item.get(k, KEY_DEFAULTS.get(k)) for k in keys if k in item or k in KEY_DEFAULTS}


def fields_of(value: Any) -> set[Path]:
    out: set[Path] = set()
    _collect(value, (), (), out)
    return out


def _collect(value: Any, path: Path, names: tuple[str, ...], out: set[Path]) -> None:
    if isinstance(value, dict) and value and not _atomic(names):
        for k, v in value.items():
            _collect(v, path + (f"f:{k}",), names + (k,), out)
        return
    if isinstance(value, list) and value:
        keys = _list_keys(names)
        if keys == "set":
            out.update(path + (f"v:{_json(item)}",) for item in value)
            return
        if keys and all(isinstance(item, dict) for item in value):
            for item in value:
                item_path = path + (f"k:{_json(_key(item, keys))}",)
                out.add(item_path)
                for k, v in item.items():
                    _collect(v, item_path + (f"f:{k}",), names + (k,), out)
            return
    if path:
        out.add(path)


def _find(items: list, element: str) -> int | None:
    kind, _, text = element.partition(":")
    wanted = json.loads(text)
    for i, item in enumerate(items):
        if kind == "v" and item == wanted:
            return i
        if kind == "k" and isinstance(item, dict) and all(item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in wanted.items()):
            return i
    return None


def value_at(obj: Any, path: Path) -> Any:
    for element in path:
        if element.startswith("f:"):
            if not isinstance(obj, dict) or element[2:] not in obj:
                return MISSING
            obj = obj[element[2:]]
        else:
            if not isinstance(obj, list):
                return MISSING
            i = _find(obj, element)
            if i is None:
                return MISSING
            obj = obj[i]
    return obj


def remove_at(obj: Any, path: Path) -> None:
    """Remove the field or item; containers it leaves empty go too (Go omits empty maps and lists)."""
    chain = [obj]
    for element in path[:-1]:
        nxt = value_at(chain[-1], (element,))
        if nxt is MISSING:
            return
        chain.append(nxt)
    for depth in range(len(path) - 1, -1, -1):
        parent, element = chain[depth], path[depth]
        if element.startswith("f:"):
            if isinstance(parent, dict):
                parent.pop(element[2:], None)
        elif isinstance(parent, list):
            i = _find(parent, element)
            if i is not None:
                parent.pop(i)
        if depth == 0 or parent:  # stop at the first container that keeps something
            break


def merge(live: Any, applied: Any, names: tuple[str, ...] = ()) -> Any:
    """``applied`` merged into ``live``: maps field by field, keyed lists item by item, the rest replaced."""
    if isinstance(applied, dict) and isinstance(live, dict) and not _atomic(names):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge(live[k], v, names + (k,)) if k in live else copy.deepcopy(v)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        keys = _list_keys(names)
        if keys == "set":
            return copy.deepcopy(live) + [copy.deepcopy(x) for x in applied if x not in live]
        if keys and all(isinstance(x, dict) for x in applied + live):
            out = copy.deepcopy(live)
            for item in applied:
                i = _find(out, f"k:{_json(_key(item, keys))}")
                if i is None:
                    out.append(copy.deepcopy(item))
                else:
                    out[i] = merge(out[i], item, names)
            return out
    return copy.deepcopy(applied)


ManagerKey = tuple[str, str, str]  # (manager, operation, subresource or "")


class Conflict(Exception):
    """Fields another manager owns with another value: (path, that manager's key) each."""

    def __init__(self, conflicts: list[tuple[Path, ManagerKey]]):
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def dotted(path: Path) -> str:
    """How conflict messages name a field: ``.data.a``, ``.spec.containers[name="c"].image``."""
    out = ""
    for element in path:
        kind, _, text = element.partition(":")
        if kind == "f":
            out += f".{text}"
        elif kind == "k":
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(text).items()) + "]"
        else:
            out += f"[={text}]"
    return out


def _is_item_key(path: Path) -> bool:
    """Whether the last element is a key field of the list item it is in (``k:{"name":..}`` then ``f:name``)."""
    if len(path) < 2 or not path[-2].startswith("k:") or not path[-1].startswith("f:"):
        return False
    return path[-1][2:] in json.loads(path[-2][2:])


def _is_leaf(value: Any) -> bool:
    return not (isinstance(value, dict) and value)


def apply(live: dict, applied: dict, manager: str, force: bool,
          managers: dict[ManagerKey, set[Path]]) -> tuple[dict, dict[ManagerKey, set[Path]]]:
    """(merged object, new ownership) for ``manager`` applying ``applied`` (both stripped of server fields)."""
    mine: ManagerKey = (manager, "Apply", "")
    applied_fields = fields_of(applied)
    others = {k: set(v) for k, v in managers.items() if k != mine}
    conflicts = []
    for path in sorted(applied_fields):
        if path[-1].startswith(("k:", "v:")):
            continue  # an item's presence never conflicts; its fields do
        new, old = value_at(applied, path), value_at(live, path)
        if old is MISSING or new == old or not _is_leaf(new):
            continue
        conflicts.extend((path, key) for key, owned in others.items() if path in owned)
    if conflicts and not force:
        raise Conflict(conflicts)
    for path, _ in conflicts:
        for owned in others.values():
            owned.discard(path)
    taken_by_others = set().union(*others.values()) if others else set()
    result = copy.deepcopy(live)
    removed: list[Path] = []
    for path in sorted(managers.get(mine, set()) - applied_fields, key=len):
        if any(path[:len(r)] == r for r in removed) or _is_item_key(path):
            continue  # gone with its item already; or a key field, which goes only with its item
        if path in taken_by_others or any(p[:len(path)] == path for p in taken_by_others):
            continue
        remove_at(result, path)
        removed.append(path)
    result = merge(result, applied)
    owners = {k: v for k, v in others.items() if v}
    if applied_fields:
        owners[mine] = applied_fields
    return result, owners


def _changed(old: Any, new: Any, path: Path) -> bool:
    before = value_at(old, path)
    if path[-1].startswith(("k:", "v:")):
        return before is MISSING
    return before is MISSING or before != value_at(new, path)


def update(old: dict, new: dict, manager: str, subresource: str,
           managers: dict[ManagerKey, set[Path]]) -> dict[ManagerKey, set[Path]]:
    """Ownership after ``manager`` wrote ``new`` over ``old`` (both stripped to what the write may touch)."""
    new_fields, old_fields = fields_of(new), fields_of(old)
    changed = {p for p in new_fields if _changed(old, new, p)}
    removed = old_fields - new_fields
    owners: dict[ManagerKey, set[Path]] = {}
    for key, owned in managers.items():
        kept = {p for p in owned if p not in changed and not any(p[:len(r)] == r for r in removed)}
        if kept:
            owners[key] = kept
    if changed:
        mine: ManagerKey = (manager, "Update", subresource)
        owners[mine] = owners.get(mine, set()) | changed
    return owners


def fields_v1(paths: set[Path]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        if path[-1].startswith(("k:", "v:")):
            node.setdefault(".", {})
    return tree


def managed_fields(owners: dict[ManagerKey, set[Path]], api_version: str, times: dict[ManagerKey, str]) -> list[dict]:
    out = []
    for key, paths in owners.items():
        manager, operation, subresource = key
        entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": times[key],
                 "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}
        if subresource:
            entry["subresource"] = subresource
        out.append(entry)
    return out
