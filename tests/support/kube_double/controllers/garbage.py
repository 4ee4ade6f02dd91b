"""The garbage collector: dependents of a deleted owner are deleted (background), orphaned (the owner's
``orphan`` finalizer) or deleted before their owner goes (``foregroundDeletion``)."""

from __future__ import annotations

import copy

from tests.support.kube_double.controllers.common import CONTROLLER_MANAGER
from tests.support.kube_double.errors import ApiFailure
from tests.support.kube_double.kinds import KINDS

GC = "generic-garbage-collector"


def reconcile(store) -> None:
    objects = [(kind, obj) for kind in KINDS for obj in store.each(kind.kind)]
    alive = {obj["metadata"]["uid"]: obj for _, obj in objects}
    for kind, obj in objects:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if refs:
            gone = [r for r in refs if r.get("uid") not in alive]
            if gone and len(gone) == len(refs):
                if not meta.get("deletionTimestamp"):
                    _delete(store, kind, obj, "Background")
            elif gone:
                updated = copy.deepcopy(obj)
                updated["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") in alive]
                store.write(kind, updated, GC)
        finalizers = meta.get("finalizers") or []
        if not meta.get("deletionTimestamp"):
            continue
        dependents = [(k, o) for k, o in objects if any(r.get("uid") == meta["uid"]
                                                        for r in o["metadata"].get("ownerReferences") or [])]
        if "orphan" in finalizers:
            for dep_kind, dep in dependents:
                updated = copy.deepcopy(dep)
                refs = [r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != meta["uid"]]
                if refs:
                    updated["metadata"]["ownerReferences"] = refs
                else:
                    updated["metadata"].pop("ownerReferences")
                store.write(dep_kind, updated, GC)
            store.remove_finalizer(kind, obj, "orphan", CONTROLLER_MANAGER)
        elif "foregroundDeletion" in finalizers:
            for dep_kind, dep in dependents:
                if not dep["metadata"].get("deletionTimestamp"):
                    _delete(store, dep_kind, dep, "Background" if dep_kind.kind == "Pod" else "Foreground")
            # The owner goes once no dependent that blocks its deletion exists any more.
            if not any(store.peek(k.kind, d["metadata"].get("namespace"), d["metadata"]["name"]) is not None
                       and any(r.get("uid") == meta["uid"] and r.get("blockOwnerDeletion")
                               for r in d["metadata"].get("ownerReferences") or []) for k, d in dependents):
                store.remove_finalizer(kind, obj, "foregroundDeletion", CONTROLLER_MANAGER)


def _delete(store, kind, obj: dict, policy: str) -> None:
    try:
        store.delete(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                     {"propagationPolicy": policy, "preconditions": {"uid": obj["metadata"]["uid"]}})
    except ApiFailure:
        pass

