"""A stateful fake Kubernetes API server on loopback: real HTTP, real REST paths, kept state.

No kind cluster can run here (no container registry), so the cluster stage is tested against this,
through the real ``kubernetes`` client. It implements what that stage and its tests use, the way the
API server does it:

- GET of an object or a collection (``labelSelector`` with =, ==, !=, exists, !exists), all namespaces;
- server-side apply (PATCH ``application/apply-patch+yaml``, ``fieldManager`` required) as create or
  update, with per-manager ownership of top-level fields, labels and annotations (a field a manager
  stops applying is removed unless another manager owns it), ``dryRun=All``, no-op applies that keep
  ``resourceVersion``, ``generation`` bumped on spec changes, a little defaulting (Service clusterIP,
  StatefulSet podManagementPolicy / claim volumeMode), and the API server's immutability errors (422);
- namespaced objects need their namespace (404 otherwise); DELETE; bearer-token authentication;
- tests set status (``set_status``) or leave ``auto_rollout`` on: a "controller" completes the rollout
  of a StatefulSet / DaemonSet with ready pods (a DaemonSet's on the nodes its nodeSelector / required node
  affinity matches, re-evaluated when node labels change), and deleting one removes its pods; ``pod_hooks`` see each new Pod (a "kubelet", see
  tests/fake_cluster.py) and ``pod_logs`` answers ``GET .../pods/<name>/log``;
- faults for resilience tests: ``fail_next`` answers with an error status, ``delay`` slows answers.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback import JsonHandler, LoopbackServer

TOKEN = "fake-token"

# (path prefix, plural) -> (apiVersion, kind, namespaced): the server's own table.
TYPES: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("/api/v1", "namespaces"): ("v1", "Namespace", False),
    ("/api/v1", "nodes"): ("v1", "Node", False),
    ("/api/v1", "secrets"): ("v1", "Secret", True),
    ("/api/v1", "configmaps"): ("v1", "ConfigMap", True),
    ("/api/v1", "serviceaccounts"): ("v1", "ServiceAccount", True),
    ("/api/v1", "services"): ("v1", "Service", True),
    ("/api/v1", "pods"): ("v1", "Pod", True),
    ("/api/v1", "events"): ("v1", "Event", True),
    ("/api/v1", "persistentvolumeclaims"): ("v1", "PersistentVolumeClaim", True),
    ("/apis/policy/v1", "poddisruptionbudgets"): ("policy/v1", "PodDisruptionBudget", True),
    ("/apis/apps/v1", "statefulsets"): ("apps/v1", "StatefulSet", True),
    ("/apis/apps/v1", "daemonsets"): ("apps/v1", "DaemonSet", True),
    ("/apis/apps/v1", "deployments"): ("apps/v1", "Deployment", True),
    ("/apis/rbac.authorization.k8s.io/v1", "clusterroles"): ("rbac.authorization.k8s.io/v1", "ClusterRole", False),
    ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"): ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False),
    ("/apis/rbac.authorization.k8s.io/v1", "roles"): ("rbac.authorization.k8s.io/v1", "Role", True),
    ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"): ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
}
KIND_INFO = {kind: (prefix, plural, api_version, namespaced)
             for (prefix, plural), (api_version, kind, namespaced) in TYPES.items()}
# StatefulSet spec fields the API server lets an update change (everything else is forbidden).
STATEFULSET_MUTABLE = {"replicas", "ordinals", "template", "updateStrategy",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}
GENERATION_KINDS = {"StatefulSet", "DaemonSet", "Deployment", "PodDisruptionBudget"}


class HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str = ""


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int
    times: int


@dataclass
class FakeKube(LoopbackServer):
    auto_rollout: bool = True
    delay: float = 0.0  # seconds added to every answer ("slow API server")
    requests: list[Request] = field(default_factory=list)
    pod_hooks: list[Callable[[dict], None]] = field(default_factory=list)  # called with each new Pod
    pod_logs: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, pod) -> log text

    def __post_init__(self) -> None:
        self._objects: dict[tuple[str, str, str], dict] = {}  # (kind, namespace, name) -> object
        self._owners: dict[tuple[str, str, str], dict[str, set[tuple[str, ...]]]] = {}
        self._rv = itertools.count(1)
        self._ips = itertools.count(10)
        self._lock = threading.RLock()
        self._faults: list[Fault] = []

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path

    # -- test API --------------------------------------------------------------------------------
    def put(self, obj: dict) -> dict:
        """Store an object as a controller or kubelet would create it (nodes, pods, events)."""
        with self._lock:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta["resourceVersion"] = str(next(self._rv))
            self._objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
            return copy.deepcopy(obj)

    def get(self, kind: str, name: str, namespace: str = "") -> dict | None:
        with self._lock:
            obj = self._objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def objects(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(o) for (k, _, _), o in sorted(self._objects.items()) if kind in (None, k)]

    def resource_versions(self) -> dict[tuple[str, str, str], str]:
        with self._lock:
            return {key: o["metadata"]["resourceVersion"] for key, o in self._objects.items()}

    def set_status(self, kind: str, name: str, namespace: str, status: dict) -> None:
        with self._lock:
            obj = self._objects[(kind, namespace, name)]
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def fail_next(self, method: str, path_contains: str, status: int, times: int = 1) -> None:
        with self._lock:
            self._faults.append(Fault(method, path_contains, status, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def mutations(self) -> list[Request]:
        """Requests that could change state (dry runs excluded)."""
        return [r for r in self.requests if r.method in ("PATCH", "PUT", "POST", "DELETE") and r.query.get("dryRun") != "All"]

    # -- request handling --------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, dict | str]:
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        self.requests.append(Request(method, split.path, query, headers.get("Content-Type", "")))
        if self.delay:
            time.sleep(self.delay)
        try:
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                raise HttpError(401, "Unauthorized", "Unauthorized")
            self._inject_fault(method, split.path)
            return self._route(method, split.path, query, headers, body)
        except HttpError as e:
            return e.code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": e.message, "reason": e.reason, "code": e.code}

    def _inject_fault(self, method: str, path: str) -> None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method == method and fault.path_contains in path:
                    fault.times -= 1
                    raise HttpError(fault.status, _REASONS.get(fault.status, "Error"), f"injected fault {fault.status}")

    def _route(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> tuple[int, dict | str]:
        api_version, kind, namespace, name, sub = _parse_path(path)
        if method == "GET" and sub == "log":
            with self._lock:
                if (kind, namespace, name) not in self._objects:
                    raise HttpError(404, "NotFound", f'pods "{name}" not found')
                return 200, self.pod_logs.get((namespace, name), "")
        if method == "GET" and name:
            obj = self.get(kind, name, namespace)
            if obj is None:
                raise HttpError(404, "NotFound", f'{_plural_group(kind)} "{name}" not found')
            return 200, obj
        if method == "GET":
            with self._lock:
                items = [o for (k, ns, _), o in sorted(self._objects.items())
                         if k == kind and (not namespace or ns == namespace)
                         and _selects(query.get("labelSelector", ""), o["metadata"].get("labels") or {})]
            return 200, {"apiVersion": api_version, "kind": f"{kind}List",
                         "metadata": {"resourceVersion": str(next(self._rv))}, "items": copy.deepcopy(items)}
        if method == "PATCH" and name:
            if headers.get("Content-Type", "").split(";")[0] != "application/apply-patch+yaml":
                raise HttpError(415, "UnsupportedMediaType", "this fake implements only server-side apply patches")
            if not query.get("fieldManager"):
                raise HttpError(422, "Invalid", "PATCH, fieldManager: Required value: is required for apply patch")
            return 200, self._apply(api_version, kind, namespace, name, json.loads(body), query["fieldManager"],
                                    dry_run=query.get("dryRun") == "All")
        if method == "DELETE" and name:
            with self._lock:
                gone = self._objects.pop((kind, namespace, name), None)
                if gone is None:
                    raise HttpError(404, "NotFound", f'{_plural_group(kind)} "{name}" not found')
                self._owners.pop((kind, namespace, name), None)
                if kind in ("StatefulSet", "DaemonSet"):  # the garbage collector removes their pods
                    for key in [k for k in self._objects if k[0] == "Pod" and k[1] == namespace
                                and self._objects[k]["metadata"].get("ownerReferences", [{}])[0].get("name") == name]:
                        del self._objects[key]
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
        raise HttpError(405, "MethodNotAllowed", f"{method} {path} is not implemented by the fake")

    def _apply(self, api_version: str, kind: str, namespace: str, name: str, body: dict, manager: str,
               dry_run: bool) -> dict:
        if body.get("kind") != kind or body.get("apiVersion") != api_version:
            raise HttpError(400, "BadRequest", f"body is {body.get('apiVersion')}/{body.get('kind')}, path is {api_version}/{kind}")
        if (body.get("metadata") or {}).get("name") != name:
            raise HttpError(400, "BadRequest", "the name of the object does not match the name in the URL")
        key = (kind, namespace, name)
        with self._lock:
            if namespace and ("Namespace", "", namespace) not in self._objects:
                raise HttpError(404, "NotFound", f'namespaces "{namespace}" not found')
            existing = self._objects.get(key)
            new = copy.deepcopy(existing) if existing else {
                "apiVersion": api_version, "kind": kind,
                "metadata": {"name": name, **({"namespace": namespace} if namespace else {}),
                             "uid": str(uuid.uuid4()), "creationTimestamp": _now()}}
            owners = copy.deepcopy(self._owners.get(key, {}))
            applied = _field_paths(body)
            others = set().union(*(paths for m, paths in owners.items() if m != manager)) if owners else set()
            for path in owners.get(manager, set()) - applied - others:
                _delete(new, path)
            for path in applied:
                _set(new, path, copy.deepcopy(_get(body, path)))
            owners[manager] = applied
            self._default(new, existing)
            if existing:
                _check_immutable(existing, new)
            changed = existing is None or _comparable(new) != _comparable(existing)
            if changed:
                new["metadata"]["resourceVersion"] = str(next(self._rv))
                if kind in GENERATION_KINDS and (existing is None or new.get("spec") != existing.get("spec")):
                    new["metadata"]["generation"] = (existing or {}).get("metadata", {}).get("generation", 0) + 1
            new["metadata"]["managedFields"] = [{"manager": m, "operation": "Apply", "fieldsType": "FieldsV1"}
                                                for m in sorted(owners)]
            if dry_run:
                return copy.deepcopy(new)
            self._objects[key], self._owners[key] = new, owners
            if changed and self.auto_rollout and kind in ("StatefulSet", "DaemonSet"):
                self._complete_rollout(new)
            if changed and self.auto_rollout and kind == "Node":  # the DaemonSet controller follows node labels
                for ds in [o for (k, _, _), o in self._objects.items() if k == "DaemonSet"]:
                    self._complete_rollout(ds)
            created = copy.deepcopy(new)
        if kind == "Pod" and existing is None:
            for hook in self.pod_hooks:  # a "kubelet": runs what the pod would run
                hook(created)
        return created

    def _default(self, new: dict, existing: dict | None) -> None:
        spec = new.get("spec")
        if new["kind"] == "Service" and isinstance(spec, dict) and "clusterIP" not in spec:
            old = ((existing or {}).get("spec") or {}).get("clusterIP")
            spec["clusterIP"] = old or f"10.96.0.{next(self._ips)}"
        if new["kind"] == "StatefulSet" and isinstance(spec, dict):
            spec.setdefault("podManagementPolicy", "OrderedReady")
            for template in spec.get("volumeClaimTemplates", []):
                template.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")

    def _complete_rollout(self, obj: dict) -> None:
        """What the controllers and kubelets would do: ready pods, and the status that reports them."""
        generation = obj["metadata"]["generation"]
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        for key in [k for k, o in self._objects.items() if k[0] == "Pod" and k[1] == ns
                    and o["metadata"].get("ownerReferences", [{}])[0].get("name") == name]:
            del self._objects[key]
        if obj["kind"] == "StatefulSet":
            n = obj["spec"].get("replicas", 1)
            for i in range(n):
                self._ready_pod(obj, f"{name}-{i}", None)
            revision = f"{obj['metadata']['name']}-{generation}"
            obj["status"] = {"observedGeneration": generation, "replicas": n, "readyReplicas": n,
                             "currentReplicas": n, "updatedReplicas": n, "availableReplicas": n,
                             "currentRevision": revision, "updateRevision": revision}
        else:
            pod = obj["spec"]["template"]["spec"]
            nodes = [node["metadata"]["name"] for (k, _, _), node in sorted(self._objects.items())
                     if k == "Node" and _schedulable(pod, node["metadata"].get("labels") or {})]
            for node in nodes:
                self._ready_pod(obj, f"{name}-{node}", node)
            n = len(nodes)
            obj["status"] = {"observedGeneration": generation, "desiredNumberScheduled": n,
                             "currentNumberScheduled": n, "updatedNumberScheduled": n, "numberReady": n,
                             "numberAvailable": n, "numberMisscheduled": 0}
        obj["metadata"]["resourceVersion"] = str(next(self._rv))


    def _ready_pod(self, owner: dict, name: str, node: str | None) -> None:
        template = owner["spec"]["template"]
        meta = owner["metadata"]
        self.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": meta["namespace"], "labels": dict(template["metadata"].get("labels") or {}),
            "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"]}]},
            "spec": {**template["spec"], "nodeName": node or "node-of-" + name},
            "status": {"phase": "Running", "startTime": _now(), "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0,
                                              "state": {"running": {"startedAt": _now()}}}
                                             for c in template["spec"]["containers"]]}})


class _Handler(JsonHandler):
    owner: FakeKube

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.reply(*self.owner.handle(self.command, self.path, self.headers, self.rfile.read(length)))

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _serve


_REASONS = {409: "Conflict", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _plural_group(kind: str) -> str:
    prefix, plural, api_version, _ = KIND_INFO[kind]
    group = api_version.split("/")[0] if "/" in api_version else ""
    return f"{plural}.{group}" if group else plural


def _parse_path(path: str) -> tuple[str, str, str, str, str]:
    """(apiVersion, kind, namespace, name, subresource) of a REST path; HttpError 404 for anything unknown."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        prefix, rest = "/api/v1", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        prefix, rest = "/" + "/".join(parts[:3]), parts[3:]
    else:
        raise HttpError(404, "NotFound", f"the server could not find the requested resource ({path})")
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or (prefix, rest[0]) not in TYPES or len(rest) > 3 or (len(rest) == 3 and rest[2] != "log"):
        raise HttpError(404, "NotFound", f"the server could not find the requested resource ({path})")
    api_version, kind, namespaced = TYPES[(prefix, rest[0])]
    if namespace and not namespaced:
        raise HttpError(404, "NotFound", f"{kind} is not namespaced ({path})")
    return api_version, kind, namespace, rest[1] if len(rest) >= 2 else "", rest[2] if len(rest) == 3 else ""


def _selects(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _schedulable(pod: dict, labels: dict[str, str]) -> bool:
    """Whether a node with these labels meets the pod's nodeSelector and required node affinity (In/Exists)."""
    if any(labels.get(k) != v for k, v in (pod.get("nodeSelector") or {}).items()):
        return False
    required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    return any(all((e["operator"] == "In" and labels.get(e["key"]) in e["values"])
                   or (e["operator"] == "Exists" and e["key"] in labels)
                   for e in term.get("matchExpressions", []))
               for term in required["nodeSelectorTerms"])


def _field_paths(body: dict) -> set[tuple[str, ...]]:
    """Fields an apply sets: top-level fields, and each label and annotation key."""
    paths: set[tuple[str, ...]] = set()
    for key in body:
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            for sub in ("labels", "annotations"):
                paths |= {("metadata", sub, k) for k in (body["metadata"].get(sub) or {})}
        else:
            paths.add((key,))
    return paths


def _get(obj: dict, path: tuple[str, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def _set(obj: dict, path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        obj = obj.setdefault(part, {})
    obj[path[-1]] = value


def _delete(obj: dict, path: tuple[str, ...]) -> None:
    for part in path[:-1]:
        obj = obj.get(part) or {}
    obj.pop(path[-1], None)


def _comparable(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    for key in ("resourceVersion", "generation", "managedFields"):
        obj["metadata"].pop(key, None)
    return obj


def _check_immutable(old: dict, new: dict) -> None:
    kind, name = new["kind"], new["metadata"]["name"]
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if kind == "StatefulSet":
        changed = {k for k in set(old_spec) | set(new_spec) if old_spec.get(k) != new_spec.get(k)}
        if changed - STATEFULSET_MUTABLE:
            raise HttpError(422, "Invalid", (
                f'StatefulSet.apps "{name}" is invalid: spec: Forbidden: updates to statefulset spec for fields '
                "other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    if kind == "DaemonSet" and old_spec.get("selector") != new_spec.get("selector"):
        raise HttpError(422, "Invalid", f'DaemonSet.apps "{name}" is invalid: spec.selector: Invalid value: field is immutable')
    if kind == "Service" and old_spec.get("clusterIP") != new_spec.get("clusterIP"):
        raise HttpError(422, "Invalid", f'Service "{name}" is invalid: spec.clusterIP: Invalid value: field is immutable')
    if kind == "Secret" and old.get("immutable") and old.get("data") != new.get("data"):
        raise HttpError(422, "Invalid", f'Secret "{name}" is invalid: data: Forbidden: field is immutable when `immutable` is set')



FakeKube.handler_class = _Handler
