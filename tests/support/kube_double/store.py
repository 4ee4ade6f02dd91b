"""The double's storage and its one write path: every create, apply, merge patch, status write and delete
(from a client or a controller) goes through admission, defaulting, validation, field ownership and
resource versions here, under one lock, as a real API server's registry does in front of etcd.

Objects are stored as the API server returns them (JSON dicts). ``changed`` wakes the controllers.
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from tests.support.kube_double import admission, defaults, fields, podtemplate
from tests.support.kube_double.errors import (ApiFailure, already_exists, bad_request, forbidden, invalid,
                                              modified, not_found, precondition_uid)
from tests.support.kube_double.kinds import BY_KIND, Kind
from tests.support.kube_double.selectors import fields_match, labels_match, parse_fields, parse_labels
from tests.support.kube_double.validation import validate, validate_update

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
# Metadata the server keeps: a write cannot set it, ownership never covers it.
SERVER_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink")


def now(offset_seconds: float = 0) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def _strip(kind: Kind, obj: dict | None, subresource: str = "") -> dict:
    """What field ownership covers: the status alone for /status, else everything but server fields."""
    if obj is None:
        return {}
    if subresource == "status":
        return {"status": copy.deepcopy(obj.get("status"))} if obj.get("status") is not None else {}
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")
           and not (k == "status" and kind.status)}
    meta = {k: copy.deepcopy(v) for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    if meta:
        out["metadata"] = meta
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[str, dict[tuple[str, str], dict]] = {k: {} for k in BY_KIND}
        self._owners: dict[str, dict[fields.ManagerKey, set[fields.Path]]] = {}  # uid -> manager -> fields
        self._times: dict[str, dict[fields.ManagerKey, str]] = {}
        self._rv = 1000
        self.writes = 0  # successful writes: the controllers' wake-up counter

    # -- reading ------------------------------------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def peek(self, kind: str, namespace: str | None, name: str) -> dict | None:
        """The stored object itself (no copy): for the server's own code, under the lock."""
        return self._objects[kind].get((namespace or "", name))

    def each(self, kind: str, namespace: str | None = None) -> Iterator[dict]:
        """Stored objects of a kind (no copies; a snapshot of the list, so writes may follow)."""
        for (ns, _), obj in list(self._objects[kind].items()):
            if namespace is None or ns == namespace:
                yield obj

    def get(self, kind: Kind, namespace: str | None, name: str) -> dict:
        with self.lock:
            obj = self.peek(kind.kind, namespace, name)
            if obj is None:
                raise not_found(kind.plural, kind.group, name)
            return copy.deepcopy(obj)

    def list(self, kind: Kind, namespace: str | None, label_selector: str | None,
             field_selector: str | None) -> dict:
        requirements = parse_labels(label_selector)
        terms = parse_fields(kind.kind, field_selector)
        with self.lock:
            items = []
            for obj in sorted(self.each(kind.kind, namespace), key=lambda o: (o["metadata"].get("namespace", ""),
                                                                             o["metadata"]["name"])):
                if labels_match(requirements, obj["metadata"].get("labels")) and fields_match(terms, obj):
                    item = copy.deepcopy(obj)
                    item.pop("apiVersion", None)  # a real LIST's items carry neither
                    item.pop("kind", None)
                    items.append(item)
            return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
                    "metadata": {"resourceVersion": self.resource_version}, "items": items}

    def service_ips(self) -> set[str]:
        return {ip for svc in self.each("Service") for ip in (svc.get("spec") or {}).get("clusterIPs") or []}

    # -- the write path -----------------------------------------------------------------------------------
    def _namespace_ready(self, kind: Kind, namespace: str | None, name: str) -> None:
        if not kind.namespaced:
            return
        ns = self.peek("Namespace", None, namespace or "")
        if ns is None:
            raise not_found("namespaces", "", namespace or "")
        if ns["metadata"].get("deletionTimestamp"):
            raise forbidden(kind.plural, kind.group, name, f"unable to create new content in namespace {namespace} "
                            "because it is being terminated")

    def _check_body(self, kind: Kind, namespace: str | None, name: str | None, body: Any) -> dict:
        if not isinstance(body, dict):
            raise bad_request(f"error decoding body: expected an object, got {type(body).__name__}")
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        if body.get("kind") and body["kind"] != kind.kind:
            raise bad_request(f"the kind of the provided object ({body['kind']}) does not match the resource "
                              f"({kind.kind})")
        if name is not None and meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if kind.namespaced and meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        return body

    def _finish(self, kind: Kind, old: dict | None, new: dict, owners: dict, manager_keys: set[fields.ManagerKey],
                dry_run: bool, warnings: list[str], subresource: str = "") -> dict:
        """Defaults, admission, validation, generation, ownership bookkeeping, and the write itself."""
        meta = new["metadata"]
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        if old is not None:
            for key in SERVER_METADATA:
                if key in old["metadata"]:
                    meta[key] = copy.deepcopy(old["metadata"][key])
                else:
                    meta.pop(key, None)
            if kind.status and subresource != "status":
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if subresource == "status":  # a status write changes the status and nothing else
                annotations = meta.get("annotations")
                new = {**copy.deepcopy(old), "status": new.get("status")}
                if new["status"] is None:
                    new.pop("status")
                meta = new["metadata"]
                if kind.kind == "Deployment":  # its status strategy keeps spec and labels, not annotations
                    if annotations:
                        meta["annotations"] = copy.deepcopy(annotations)
                    else:
                        meta.pop("annotations", None)
        if subresource != "status":  # a status write leaves the rest as stored
            try:
                defaults.apply_defaults(kind.kind, new)
            except podtemplate.UnsupportedTemplate as e:  # what a strict decoder refuses
                raise bad_request(f"strict decoding error: {e}") from None
        if old is None:
            self._admit_new(kind, new, warnings)
        else:
            validate_update(kind, old, new)
            if subresource != "status" and kind.kind != "Pod":
                admission.pod_security(self, kind.kind, new, warnings)
        validate(kind, new)
        if kind.generation:
            if old is None:
                meta["generation"] = 1
            elif subresource != "status" and self._spec_changed(kind, old, new):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
        if kind.kind == "DaemonSet" and subresource != "status":
            # apps/v1 keeps the internal spec.templateGeneration in an annotation: it grows with the template.
            before = int(((old or {}).get("metadata", {}).get("annotations") or {}).get(TEMPLATE_GENERATION, "0"))
            changed = old is None or old["spec"].get("template") != new["spec"].get("template")
            meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = str(before + 1 if changed else before)
        uid = meta["uid"]
        stamp = now()
        times = dict(self._times.get(uid, {}))
        previous = self._owners.get(uid, {})
        for key in owners:
            if key in manager_keys and owners[key] != previous.get(key):
                times[key] = stamp
            times.setdefault(key, stamp)
        if old is not None and self._same(old, new) and owners == previous:
            return copy.deepcopy(old)
        meta["managedFields"] = fields.managed_fields(owners, kind.api_version, times)
        if not meta["managedFields"]:
            del meta["managedFields"]
        if dry_run:
            result = copy.deepcopy(new)
            if old is None:
                result["metadata"].pop("resourceVersion", None)
            return result
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self._owners[uid], self._times[uid] = owners, {k: times[k] for k in owners}
        ns = meta.get("namespace") or ""
        self._objects[kind.kind][(ns, meta["name"])] = new
        self._wrote()
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                (kind.kind != "Pod" or meta.get("deletionGracePeriodSeconds") == 0):
            self._remove(kind, new)
        return copy.deepcopy(new)

    @staticmethod
    def _same(old: dict, new: dict) -> bool:
        def bare(obj: dict) -> dict:
            out = dict(obj)
            out["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
            return out
        return bare(old) == bare(new)

    @staticmethod
    def _spec_changed(kind: Kind, old: dict, new: dict) -> bool:
        """Whether the generation grows: any change outside metadata and status (v1.32 strategies), and for
        a Deployment a change of its annotations too (copied to its ReplicaSets); its controller writes the
        revision annotation through the status, which keeps the generation."""
        def spec(obj: dict) -> dict:
            return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
        if spec(old) != spec(new):
            return True
        return kind.kind == "Deployment" and old["metadata"].get("annotations") != new["metadata"].get("annotations")

    def _admit_new(self, kind: Kind, obj: dict, warnings: list[str]) -> None:
        if kind.kind == "Pod":
            admission.pod(self, obj)
        elif kind.kind == "Node":
            admission.node(obj)
        elif kind.kind == "Service":
            admission.service(self, obj)
        elif kind.kind == "Job":
            admission.job(obj)
        elif kind.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        admission.pod_security(self, kind.kind, obj, warnings)

    def _new_metadata(self, kind: Kind, namespace: str | None, body: dict) -> dict:
        meta = body["metadata"]
        name = admission.name_of(body)
        if not name:
            raise invalid(kind.kind, kind.group, "", [("metadata.name", "FieldValueRequired",
                                                       "Required value: name or generateName is required")])
        if kind.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        for key in ("uid", "resourceVersion", "generation", "managedFields", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        return meta

    # -- operations -----------------------------------------------------------------------------------------
    def create(self, kind: Kind, namespace: str | None, body: Any, manager: str, dry_run: bool = False,
               warnings: list[str] | None = None) -> dict:
        warnings = [] if warnings is None else warnings
        with self.lock:
            body = copy.deepcopy(self._check_body(kind, namespace, None, body))
            meta = self._new_metadata(kind, namespace, body)
            self._namespace_ready(kind, meta.get("namespace"), meta["name"])
            if self.peek(kind.kind, meta.get("namespace"), meta["name"]) is not None:
                raise already_exists(kind.plural, kind.group, meta["name"])
            if kind.status and kind.kind != "Node":
                body.pop("status", None)
            owners = fields.update({}, _strip(kind, body), manager, "", {})
            return self._finish(kind, None, body, owners, set(owners), dry_run, warnings)

    def apply(self, kind: Kind, namespace: str | None, name: str, body: Any, manager: str, force: bool,
              dry_run: bool = False, warnings: list[str] | None = None) -> tuple[dict, bool]:
        """(object, created) after server-side apply of ``body`` by ``manager``."""
        warnings = [] if warnings is None else warnings
        with self.lock:
            body = copy.deepcopy(self._check_body(kind, namespace, name, body))
            if not body.get("apiVersion") or not body.get("kind"):
                raise bad_request("apiVersion and kind must be set in an applied configuration")
            body["metadata"]["name"] = name
            applied = _strip(kind, body)
            live = self.peek(kind.kind, namespace, name)
            if live is None:
                self._new_metadata(kind, namespace, body)
                self._namespace_ready(kind, body["metadata"].get("namespace"), name)
                new = {**applied, "metadata": {**applied.get("metadata", {}), **{
                    k: v for k, v in body["metadata"].items() if k in SERVER_METADATA}}}
                owners = {(manager, "Apply", ""): fields.fields_of(applied)} if applied else {}
                return self._finish(kind, None, new, owners, set(owners), dry_run, warnings), True
            owners = self._owners.get(live["metadata"]["uid"], {})
            try:
                merged, new_owners = fields.apply(_strip(kind, live), applied, manager, force, owners)
            except fields.Conflict as e:
                raise self._conflict(e, live["metadata"]["uid"]) from None
            new = {**merged, "metadata": merged.get("metadata", {})}
            if "status" in live and kind.status:
                new["status"] = copy.deepcopy(live["status"])
            return self._finish(kind, live, new, new_owners, {(manager, "Apply", "")}, dry_run, warnings), False

    def _conflict(self, error: fields.Conflict, uid: str) -> ApiFailure:
        times = self._times.get(uid, {})

        def who(key: fields.ManagerKey) -> str:
            text = json.dumps(key[0])
            if key[2]:
                text += f' with subresource "{key[2]}"'
            if key[1] == "Update":
                text += f" using v1 at {times.get(key, now())}"
            return text
        conflicts = error.conflicts
        if len(conflicts) == 1:
            text = f"conflict with {who(conflicts[0][1])}: {fields.dotted(conflicts[0][0])}"
        else:
            by_manager: dict[str, list[str]] = {}
            for path, key in conflicts:
                by_manager.setdefault(who(key), []).append(fields.dotted(path))
            text = "\n".join(f"conflicts with {m}:\n" + "\n".join(f"- {p}" for p in paths)
                             for m, paths in sorted(by_manager.items()))
        plural = "conflict" if len(conflicts) == 1 else "conflicts"
        return ApiFailure(409, "Conflict", f"Apply failed with {len(conflicts)} {plural}: {text}", {"causes": [
            {"reason": "FieldManagerConflict", "message": f"conflict with {who(key)}", "field": fields.dotted(path)}
            for path, key in conflicts]})

    def patch(self, kind: Kind, namespace: str | None, name: str, patch: Any, manager: str, subresource: str = "",
              dry_run: bool = False, warnings: list[str] | None = None) -> dict:
        """A JSON merge patch (RFC 7386), with the resourceVersion and uid preconditions it may carry."""
        warnings = [] if warnings is None else warnings
        if not isinstance(patch, dict):
            go_type = {str: "string", list: "array", int: "number", float: "number", bool: "bool"}.get(type(patch), "value")
            raise bad_request(f"error decoding patch: json: cannot unmarshal {go_type} into Go value of type "
                              "map[string]interface {}")
        with self.lock:
            live = self.peek(kind.kind, namespace, name)
            if live is None:
                raise not_found(kind.plural, kind.group, name)
            wanted = (patch.get("metadata") or {}) if isinstance(patch.get("metadata"), dict) else {}
            if wanted.get("resourceVersion") and wanted["resourceVersion"] != live["metadata"]["resourceVersion"]:
                raise modified(kind.plural, kind.group, name)
            if wanted.get("uid") and wanted["uid"] != live["metadata"]["uid"]:
                raise invalid(kind.kind, kind.group, name, [("metadata.uid", "FieldValueInvalid",
                                                             f'Invalid value: "{wanted["uid"]}": field is immutable')])
            new = merge_patch(live, patch)
            new.setdefault("metadata", {})
            owners = fields.update(_strip(kind, live, subresource), _strip(kind, new, subresource), manager, subresource,
                                   self._owners.get(live["metadata"]["uid"], {}))
            return self._finish(kind, live, new, owners, {(manager, "Update", subresource)}, dry_run, warnings,
                                subresource)

    def replace(self, kind: Kind, namespace: str | None, name: str, body: Any, manager: str, subresource: str = "",
                dry_run: bool = False, warnings: list[str] | None = None) -> dict:
        """PUT: the whole object, with its resourceVersion as the precondition."""
        warnings = [] if warnings is None else warnings
        with self.lock:
            body = copy.deepcopy(self._check_body(kind, namespace, name, body))
            live = self.peek(kind.kind, namespace, name)
            if live is None:
                raise not_found(kind.plural, kind.group, name)
            rv = body["metadata"].get("resourceVersion")
            if rv and rv != live["metadata"]["resourceVersion"]:
                raise modified(kind.plural, kind.group, name)
            owners = fields.update(_strip(kind, live, subresource), _strip(kind, body, subresource), manager,
                                   subresource, self._owners.get(live["metadata"]["uid"], {}))
            return self._finish(kind, live, body, owners, {(manager, "Update", subresource)}, dry_run, warnings,
                                subresource)

    def write_status(self, kind: Kind, obj: dict, status: dict, manager: str,
                     annotations: dict | None = None) -> dict | None:
        """A controller's status write (an Update of the status subresource, with new annotations where the
        kind's status strategy keeps them: Deployments); None if the object is gone."""
        with self.lock:
            live = self.peek(kind.kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if live is None or live["metadata"]["uid"] != obj["metadata"]["uid"]:
                return live
            if live.get("status") == status and (annotations is None or
                                                 live["metadata"].get("annotations") == annotations):
                return live
            new = {**live, "status": status}
            if annotations is not None:
                new["metadata"] = {**live["metadata"], "annotations": annotations}
            owners = fields.update(_strip(kind, live, "status"), _strip(kind, new, "status"), manager, "status",
                                   self._owners.get(live["metadata"]["uid"], {}))
            return self._finish(kind, live, new, owners, {(manager, "Update", "status")}, False, [], "status")

    def write(self, kind: Kind, obj: dict, manager: str) -> dict | None:
        """A controller's update of the main resource (labels, owner references, spec); None if gone."""
        with self.lock:
            live = self.peek(kind.kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if live is None or live["metadata"]["uid"] != obj["metadata"]["uid"]:
                return None
            owners = fields.update(_strip(kind, live), _strip(kind, obj), manager, "",
                                   self._owners.get(live["metadata"]["uid"], {}))
            return self._finish(kind, live, copy.deepcopy(obj), owners, {(manager, "Update", "")}, False, [])

    def delete(self, kind: Kind, namespace: str | None, name: str, options: dict | None = None,
               dry_run: bool = False) -> dict:
        """What DELETE answers: the object while it is going (grace period, finalizers), else a Status."""
        options = options or {}
        with self.lock:
            live = self.peek(kind.kind, namespace, name)
            if live is None:
                raise not_found(kind.plural, kind.group, name)
            meta = live["metadata"]
            wanted_uid = (options.get("preconditions") or {}).get("uid")
            if wanted_uid and wanted_uid != meta["uid"]:
                raise precondition_uid(kind.plural, kind.group, name, wanted_uid, meta["uid"])
            wanted_rv = (options.get("preconditions") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != meta["resourceVersion"]:
                raise modified(kind.plural, kind.group, name)
            if dry_run:
                return copy.deepcopy(live)
            new = copy.deepcopy(live)
            nmeta = new["metadata"]
            policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
            if kind.kind == "Namespace":
                if not nmeta.get("deletionTimestamp"):
                    nmeta["deletionTimestamp"], nmeta["deletionGracePeriodSeconds"] = now(), 0
                    new["status"] = {"phase": "Terminating"}
                    self._store(kind, new)
                return copy.deepcopy(new)
            finalizers = list(nmeta.get("finalizers") or [])
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            elif policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            if kind.kind == "Pod":
                grace = options.get("gracePeriodSeconds")
                if grace is None:
                    grace = (live.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                if not (live.get("spec") or {}).get("nodeName") or \
                        (live.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    grace = 0  # nothing runs it: gone at once
                current = nmeta.get("deletionGracePeriodSeconds")
                if current is not None and grace >= current:
                    return copy.deepcopy(live)  # already going, no sooner
                nmeta["deletionGracePeriodSeconds"] = int(grace)
                nmeta["deletionTimestamp"] = now(grace)
                if finalizers:
                    nmeta["finalizers"] = finalizers
                self._store(kind, new)
                if grace == 0 and not finalizers:
                    self._remove(kind, new)
                return copy.deepcopy(new)
            if finalizers:
                nmeta["finalizers"] = finalizers
                if not nmeta.get("deletionTimestamp"):
                    nmeta["deletionTimestamp"], nmeta["deletionGracePeriodSeconds"] = now(), 0
                self._store(kind, new)
                return copy.deepcopy(new)
            self._remove(kind, live)
            details: dict[str, Any] = {"name": name}
            if kind.group:
                details["group"] = kind.group
            details.update({"kind": kind.plural, "uid": meta["uid"]})
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def remove_finalizer(self, kind: Kind, obj: dict, finalizer: str, manager: str) -> None:
        with self.lock:
            live = self.peek(kind.kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if live is None or finalizer not in (live["metadata"].get("finalizers") or []):
                return
            new = copy.deepcopy(live)
            new["metadata"]["finalizers"] = [f for f in live["metadata"]["finalizers"] if f != finalizer]
            if not new["metadata"]["finalizers"]:
                del new["metadata"]["finalizers"]
            self.write(kind, new, manager)

    def _store(self, kind: Kind, obj: dict) -> None:
        """Keep a server-side change (deletion marks) with a new resourceVersion."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[kind.kind][(obj["metadata"].get("namespace") or "", obj["metadata"]["name"])] = obj
        self._wrote()

    def _remove(self, kind: Kind, obj: dict) -> None:
        key = (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
        if self._objects[kind.kind].get(key, {}).get("metadata", {}).get("uid") == obj["metadata"]["uid"]:
            del self._objects[kind.kind][key]
            self._owners.pop(obj["metadata"]["uid"], None)
            self._times.pop(obj["metadata"]["uid"], None)
            self._rv += 1
            self._wrote()

    def remove_now(self, kind: Kind, obj: dict) -> None:
        """The namespace controller's last step, a node's pods after it is gone: removal without a request."""
        with self.lock:
            self._remove(kind, obj)

    def _wrote(self) -> None:
        self.writes += 1
        self.changed.notify_all()

    # -- events ---------------------------------------------------------------------------------------------
    def event(self, involved: dict, type_: str, reason: str, message: str, component: str,
              action: str | None = None) -> None:
        """Record an Event as controllers do (one per object, reason and message, repeats counted). With
        ``action`` it has the shape of the events.k8s.io/v1 recorder (the scheduler's) read through core v1:
        ``eventTime`` set, no first/last timestamps, repeats in ``series``."""
        meta = involved["metadata"]
        ns = meta.get("namespace") or "default"
        micro = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.lock:
            for e in self.each("Event", ns):
                ref = e["involvedObject"]
                if ref.get("uid") == meta.get("uid") and e.get("reason") == reason and e.get("message") == message:
                    e = copy.deepcopy(e)
                    if action:
                        series = e.get("series") or {"count": 1}
                        e["series"] = {"count": series["count"] + 1, "lastObservedTime": micro}
                    else:
                        e["count"] = e.get("count", 1) + 1
                        e["lastTimestamp"] = now()
                    self._store(BY_KIND["Event"], e)
                    return
            stamp = now()
            body = {"metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": ns},
                    "involvedObject": {"kind": involved["kind"], "namespace": meta.get("namespace"),
                                       "name": meta["name"], "uid": meta.get("uid"),
                                       "apiVersion": involved["apiVersion"],
                                       "resourceVersion": meta.get("resourceVersion")},
                    "reason": reason, "message": message, "source": {"component": component},
                    "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
                    "eventTime": None, "reportingComponent": component, "reportingInstance": ""}
            if action:
                body.update({"source": {}, "firstTimestamp": None, "lastTimestamp": None, "eventTime": micro,
                             "action": action, "reportingInstance": f"{component}-double"})
                body.pop("count")
            if not meta.get("namespace"):
                body["involvedObject"].pop("namespace")
            try:
                self.create(BY_KIND["Event"], ns, body, component)
            except ApiFailure:
                pass  # the namespace is going: an event about it is lost, as on a real server
