"""The double's HTTP(S) front: REST paths and verbs as kube-apiserver serves them, authentication (client
certificates, ServiceAccount tokens; on the plain-http port a request without credentials is the cluster
admin, as ``../shared/kube-contract`` expects of a fake), RBAC, and the answers' shape (Status bodies,
Warning headers, 201 for creations). ``pods/log`` and ``pods/proxy`` go to the node's kubelet endpoint and
to the pod's IP, as the real server sends them."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from tests.support.kube_double.auth import ADMIN_USER, ANONYMOUS, Attributes, Tokens, User, authorize
from tests.support.kube_double.errors import (ApiFailure, bad_request, method_not_allowed, unsupported_media_type)
from tests.support.kube_double.kinds import BY_PATH, KINDS, Kind
from tests.support.kube_double.store import Store

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubelogs-double", "platform": "linux/amd64"}
NOT_FOUND = ApiFailure(404, "NotFound", "the server could not find the requested resource")


class Request:
    """One parsed request: which resource, which object, which subresource."""

    def __init__(self, method: str, target: str):
        split = urllib.parse.urlsplit(target)
        self.method, self.path = method, split.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        self.kind: Kind | None = None
        self.namespace: str | None = None
        self.name: str | None = None
        self.sub: list[str] = []
        parts = [urllib.parse.unquote(p) for p in self.path.strip("/").split("/")] if self.path.strip("/") else []
        self.parts = parts
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return
        self.group_version = (group, version)
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in BY_PATH:
            self.namespace, rest = rest[1], rest[2:]
        if rest:
            self.kind = BY_PATH.get((group, version, rest[0]))
            self.name = rest[1] if len(rest) > 1 else None
            self.sub = rest[2:]

    @property
    def subresource(self) -> str:
        return self.sub[0] if self.sub else ""


class ApiServer:
    """Serves ``store`` until ``stop()``; ``http_port`` (no TLS) and, with a certificate, ``https_port``."""

    def __init__(self, store: Store, cert: str | None = None, key: str | None = None, client_ca: str | None = None):
        self.store, self.tokens = store, Tokens()
        self._servers: list[ThreadingHTTPServer] = []
        self.cert, self.key, self.client_ca = cert, key, client_ca

    def start(self, http_port: int = 0, https_port: int | None = None) -> ApiServer:
        self.http_port = self._listen(http_port, tls=False)
        self.https_port = self._listen(https_port, tls=True) if https_port is not None and self.cert else None
        return self

    def _listen(self, port: int, tls: bool) -> int:
        owner = self

        class Handler(_Handler):
            api = owner
            secure = tls

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, self.key)
            if self.client_ca:
                context.load_verify_locations(self.client_ca)
                context.verify_mode = ssl.CERT_OPTIONAL
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._servers.append(server)
        return server.server_address[1]

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


class _Handler(BaseHTTPRequestHandler):
    api: ApiServer
    secure: bool
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    # -- answers ------------------------------------------------------------------------------------------
    def _send(self, status: int, body: Any, warnings: list[str] = (), content_type: str = "application/json") -> None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
        for text in warnings:
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{escaped}"')
        self.send_header("Content-Length", str(len(data) if status != 204 else 0))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def _fail(self, failure: ApiFailure) -> None:
        self._send(failure.code, failure.body())

    # -- who ----------------------------------------------------------------------------------------------
    def _user(self) -> User:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return self.api.tokens.authenticate(self.api.store, header[7:].strip())
        if not self.secure:
            return ADMIN_USER  # the plain-http port: no credentials means the cluster admin (a fake's contract)
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            subject = [dict(rdn) for rdn in cert.get("subject", ())]
            name = next((d["commonName"] for d in subject if "commonName" in d), "")
            groups = tuple(d["organizationName"] for d in subject if "organizationName" in d)
            return User(name, groups + ("system:authenticated",))
        return ANONYMOUS

    # -- dispatch -----------------------------------------------------------------------------------------
    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path)
        try:
            user = self._user()
            self._route(request, user, raw)
        except ApiFailure as failure:
            self._fail(failure)
        except Exception as e:  # a bug in the double: say so as a real server says an internal error
            self._fail(ApiFailure(500, "InternalError", f"Internal error occurred: {type(e).__name__}: {e}"))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _route(self, request: Request, user: User, raw: bytes) -> None:
        if request.kind is None:
            self._non_resource(request, user)
            return
        kind = request.kind
        if kind.namespaced and request.namespace is None and request.name is not None:
            raise NOT_FOUND
        if not kind.namespaced and request.namespace is not None:
            raise NOT_FOUND
        sub = request.subresource
        verb = self._verb(request)
        resource = kind.plural + (f"/{sub}" if sub else "")
        name = request.name.split(":")[0] if request.name and sub == "proxy" else request.name
        authorize(self.api.store, user, Attributes(verb, kind.group, resource, request.namespace, name, request.path))
        if sub == "log" and kind.kind == "Pod" and request.method == "GET":
            self._pod_log(request)
        elif sub == "proxy" and kind.kind == "Pod":
            self._pod_proxy(request, raw)
        elif sub == "token" and kind.kind == "ServiceAccount" and request.method == "POST":
            body = self._json(raw)
            self.api.store.lock.acquire()
            try:
                answer = self.api.tokens.issue(self.api.store, request.namespace, request.name, body)
            finally:
                self.api.store.lock.release()
            self._send(201, answer)
        elif sub and sub != "status":
            raise NOT_FOUND
        elif sub == "status" and not kind.status:
            raise NOT_FOUND
        else:
            self._crud(request, user, raw)

    def _verb(self, request: Request) -> str:
        method, named = request.method, request.name is not None
        if method == "GET":
            return "get" if named else ("watch" if request.query.get("watch") in ("true", "1") else "list")
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if named else "deletecollection"}.get(method, method.lower())

    def _manager(self, request: Request) -> str:
        return request.query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw) if raw else {}
        except ValueError as e:
            raise bad_request(f"error decoding body: {e}") from None

    def _crud(self, request: Request, user: User, raw: bytes) -> None:
        store, kind, ns, name = self.api.store, request.kind, request.namespace, request.name
        dry_run = request.query.get("dryRun") == "All"
        warnings: list[str] = []
        method = request.method
        if method == "GET":
            if request.query.get("watch") in ("true", "1"):
                raise method_not_allowed("watch")
            if name is None:
                self._send(200, store.list(kind, ns, request.query.get("labelSelector"), request.query.get("fieldSelector")))
            else:
                self._send(200, store.get(kind, ns, name))
        elif method == "POST":
            if name is not None:
                raise method_not_allowed(method)
            obj = store.create(kind, ns, self._json(raw), self._manager(request), dry_run, warnings)
            self._send(201, obj, warnings)
        elif method == "PATCH":
            if name is None:
                raise method_not_allowed(method)
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type == APPLY:
                manager = request.query.get("fieldManager")
                if not manager:
                    raise ApiFailure(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                                     "value: is required for apply patch", {"group": "meta.k8s.io", "kind": "PatchOptions",
                                     "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required "
                                                 "for apply patch", "field": "fieldManager"}]})
                try:
                    body = yaml.safe_load(raw.decode() or "{}")
                except yaml.YAMLError as e:
                    raise bad_request(f"error decoding YAML: {e}") from None
                force = request.query.get("force") in ("true", "1")
                obj, created = store.apply(kind, ns, name, body, manager, force, dry_run, warnings)
                self._send(201 if created else 200, obj, warnings)
            elif content_type == MERGE:
                try:
                    patch = json.loads(raw or b"{}")
                except ValueError as e:
                    raise bad_request(f"error decoding patch: {e}") from None
                obj = store.patch(kind, ns, name, patch, self._manager(request), request.subresource, dry_run, warnings)
                self._send(200, obj, warnings)
            elif content_type in (STRATEGIC, JSON_PATCH):  # real servers take them; nothing here sends them
                raise ApiFailure(415, "UnsupportedMediaType", f"415: {content_type} is not implemented by the "
                                 "API-server double (tests/support/kube_double): use apply or a merge patch")
            else:
                raise unsupported_media_type()
        elif method == "PUT":
            if name is None:
                raise method_not_allowed(method)
            obj = store.replace(kind, ns, name, self._json(raw), self._manager(request), request.subresource, dry_run,
                                warnings)
            self._send(200, obj, warnings)
        elif method == "DELETE":
            options = self._json(raw) if raw else {}
            for key in ("gracePeriodSeconds", "propagationPolicy"):
                if key in request.query:
                    options[key] = int(request.query[key]) if key == "gracePeriodSeconds" else request.query[key]
            if name is None:
                listed = store.list(kind, ns, request.query.get("labelSelector"), request.query.get("fieldSelector"))
                for item in listed["items"]:
                    try:
                        store.delete(kind, item["metadata"].get("namespace"), item["metadata"]["name"], options, dry_run)
                    except ApiFailure:
                        pass
                self._send(200, listed)
            else:
                self._send(200, store.delete(kind, ns, name, options, dry_run))
        else:
            raise method_not_allowed(method)

    # -- non-resource paths ---------------------------------------------------------------------------------
    def _non_resource(self, request: Request, user: User) -> None:
        if request.method != "GET":
            raise NOT_FOUND
        authorize(self.api.store, user, Attributes("get", "", None, None, None, request.path))
        path = request.path.rstrip("/") or "/"
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, "ok", content_type="text/plain")
        elif path == "/version":
            self._send(200, VERSION)
        elif path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        elif path == "/apis":
            groups = sorted({(k.group, k.version) for k in KINDS if k.group})
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in groups]})
        elif re.fullmatch(r"/api/v1|/apis/[^/]+/[^/]+", path):
            group, version = ("", "v1") if path == "/api/v1" else tuple(path.split("/")[2:4])
            kinds = [k for k in KINDS if (k.group, k.version) == (group, version)]
            if not kinds:
                raise NOT_FOUND
            self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": f"{group}/{version}" if group else version, "resources": [
                                 {"name": k.plural, "singularName": k.kind.lower(), "namespaced": k.namespaced,
                                  "kind": k.kind, "verbs": ["create", "delete", "deletecollection", "get", "list",
                                                            "patch", "update"]} for k in kinds]})
        else:
            raise NOT_FOUND

    # -- through to nodes and pods --------------------------------------------------------------------------
    def _pod_log(self, request: Request) -> None:
        store = self.api.store
        with store.lock:
            pod = store.get(request.kind, request.namespace, request.name)
            node = store.peek("Node", None, pod["spec"].get("nodeName") or "")
        if not pod["spec"].get("nodeName"):
            self._send(204, b"")  # what a real server answers for a pod no node runs yet
            return
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = request.query.get("container")
        if not container:
            if len(containers) != 1:
                raise bad_request(f"a container name must be specified for pod {request.name}, choose one of: "
                                  f"[{' '.join(containers)}]")
            container = containers[0]
        if container not in containers:
            raise bad_request(f"container {container} is not valid for pod {request.name}")
        if node is None:
            raise ApiFailure(500, "InternalError", f'nodes "{pod["spec"]["nodeName"]}" not found')
        address = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                        if a.get("type") == "InternalIP"), None)
        port = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint", {}).get("Port")
        if not address or not port:
            raise ApiFailure(500, "InternalError", f"no kubelet endpoint on node {pod['spec']['nodeName']}")
        query = {k: v for k, v in request.query.items() if k in ("tailLines", "timestamps", "sinceSeconds", "previous")}
        path = (f"/containerLogs/{request.namespace}/{request.name}/{container}"
                + (f"?{urllib.parse.urlencode(query)}" if query else ""))
        # As kube-apiserver without --kubelet-certificate-authority: TLS, the kubelet's certificate not checked.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            connection = http.client.HTTPSConnection(address, int(port), context=context, timeout=30)
            connection.request("GET", path)
            response = connection.getresponse()
            data = response.read()
            connection.close()
        except OSError as e:
            raise ApiFailure(500, "InternalError", f"Get \"https://{address}:{port}{path}\": {e}") from None
        if response.status >= 400:
            raise bad_request(data.decode(errors="replace").strip() or f"kubelet answered {response.status}")
        self._send(200, data, content_type="text/plain")

    def _pod_proxy(self, request: Request, raw: bytes) -> None:
        store = self.api.store
        scheme, pod_name, port = "http", request.name, ""
        parts = request.name.split(":")
        if len(parts) == 3:
            scheme, pod_name, port = parts
        elif len(parts) == 2:
            pod_name, port = parts
        with store.lock:
            pod = store.get(request.kind, request.namespace, pod_name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise ApiFailure(503, "ServiceUnavailable", f"pod {pod_name} has no IP address yet")
        if not port:
            ports = [p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports") or []]
            port = str(ports[0]) if ports else "80"
        elif not port.isdigit():
            port = next((str(p["containerPort"]) for c in pod["spec"]["containers"] for p in c.get("ports") or []
                         if p.get("name") == port), port)
        path = "/" + "/".join(request.sub[1:])
        query = urllib.parse.urlsplit(self.path).query
        target = path + (f"?{query}" if query else "")
        try:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            kwargs = {"context": ssl._create_unverified_context()} if scheme == "https" else {}
            connection = cls(ip, int(port), timeout=30, **kwargs)
            connection.request(request.method, target, body=raw or None)
            response = connection.getresponse()
            data = response.read()
            connection.close()
        except OSError as e:
            raise ApiFailure(503, "ServiceUnavailable", f"error trying to reach service: dial tcp {ip}:{port}: {e}") from None
        self._send(response.status, data, content_type=response.getheader("Content-Type") or "text/plain")
