"""A fake Kibana on loopback, as the verify stage's in-cluster pod sees it (Kibana's image cannot run here).

It speaks the parts of Kibana's HTTP API the verify stage uses, shaped by ``major`` the way that version
answers, and keeps state:
- ``GET /api/status``: ``status.overall.state`` (green/red) up to 7.x, ``status.overall.level``
  (available/unavailable) from 8.x. Kibana is available only while it can log in to Elasticsearch with
  the credentials its pod was given (it asks the fake Elasticsearch behind the Service, ``GET /`` as that
  user, over HTTPS verified against the CA its pod mounts where its URL says https), as the real one is. With security on, a caller must log in too: Kibana checks the caller's
  credentials with Elasticsearch (``GET /_security/_authenticate``); 8.9+ answers a caller without
  credentials with the overall level only.
- Index patterns: the saved objects API (``/api/saved_objects/index-pattern/<id>``, 6.x and 7.x) and the
  data views API (``/api/data_views``, ``/api/data_views/data_view``, 8.x and 9.x): a duplicate title is
  refused (400 ``Duplicate data view``), a write without the ``kbn-xsrf`` header too. Only a superuser may
  write them here (Kibana's admin privileges).
- ``POST /api/saved_objects/_import`` (7.2+; multipart/form-data, the NDJSON in the part named ``file``): per
  object, a ``conflict`` error when it exists and ``overwrite`` is not true, ``missing_references`` when it
  refers to an object neither there nor in the file, ``unsupported_type`` for a type Kibana does not know;
  the others are saved. The answer: ``success``, ``successCount``, ``errors`` (the import API's documented
  body). An imported index pattern is a data view too.
"""

from __future__ import annotations

import base64
import email
import json
import uuid
from dataclasses import dataclass, field

from tests.support.loopback import JsonHandler, LoopbackServer, call


@dataclass
class FakeKibana(LoopbackServer):
    major: int
    minor: int = 0
    elasticsearch: str = ""  # "127.0.0.1:port" where the Elasticsearch its pod is configured with resolves
    url: str = ""  # elasticsearch.hosts: its scheme and the name the certificate must carry
    ca: str | None = None  # elasticsearch.ssl.certificateAuthorities (PEM); None: the system's
    check_hostname: bool = True  # elasticsearch.ssl.verificationMode full (certificate: False)
    security: bool = False
    username: str = ""  # what its pod logs in to Elasticsearch as
    password: str = ""
    index_patterns: dict[str, dict] = field(default_factory=dict)  # id -> {"title", "timeFieldName", "name"}
    saved_objects: dict[tuple[str, str], dict] = field(default_factory=dict)  # (type, id) -> the imported object
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _es(self, path: str, authorization: str | None) -> tuple[int, dict]:
        try:
            status, data = call(self.elasticsearch, "GET", (self.url or f"http://{self.elasticsearch}").rstrip("/") + path,
                                headers={"Authorization": authorization} if authorization else {}, ca=self.ca,
                                check_hostname=self.check_hostname, timeout=5)
        except OSError:  # unreachable, or its certificate does not verify: Kibana cannot log in
            return 0, {}
        try:
            return status, json.loads(data or b"{}") if status == 200 else {}
        except ValueError:
            return status, {}

    def available(self) -> bool:
        """Whether Kibana can log in to Elasticsearch with its own credentials."""
        auth = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode() if self.security else None
        return self._es("/", auth)[0] == 200

    def caller(self, authorization: str | None) -> dict | None:
        """The caller's user as Elasticsearch knows it, or None when it does not log in."""
        if not self.security:
            return {"username": "anonymous", "roles": ["superuser"]}
        if not authorization:
            return None
        status, user = self._es("/_security/_authenticate", authorization)
        return user if status == 200 else None

    def status(self, authenticated: bool) -> tuple[int, dict]:
        up = self.available()
        version = {"number": f"{self.major}.{self.minor}.0", "build_number": 1}
        if self.major >= 8:
            level = "available" if up else "unavailable"
            overall = {"level": level, "summary": "All services and plugins are available" if up else "core unavailable"}
            body = {"status": {"overall": overall}}
            if authenticated:
                body = {"name": "kibana", "uuid": str(uuid.uuid4()), "version": version,
                        "status": {"overall": overall, "core": {}, "plugins": {}}, "metrics": {}}
            return (200 if up else 503), body
        state = "green" if up else "red"
        return 200, {"name": "kibana", "version": version, "status": {
            "overall": {"state": state, "title": state.capitalize(), "nickname": "Looking good" if up else "Danger"},
            "statuses": []}}

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        user = self.caller(headers.get("authorization"))
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts == ["api", "status"] and method == "GET":
            if user is None and (self.major, self.minor) < (8, 9):
                return 401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
            return self.status(user is not None)
        if user is None:
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
        if method != "GET" and "kbn-xsrf" not in headers:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}
        if method != "GET" and "superuser" not in (user.get("roles") or []):
            return 403, {"statusCode": 403, "error": "Forbidden", "message": "Forbidden"}
        try:
            doc = json.loads(body) if body.strip() and parts[-1:] != ["_import"] else {}
        except ValueError:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "invalid JSON"}
        if parts == ["api", "saved_objects", "_import"] and method == "POST" and (self.major, self.minor) >= (7, 2):
            return self.import_objects(headers.get("content-type", ""), body, "overwrite=true" in path)
        if self.major >= 8:
            if parts == ["api", "data_views"] and method == "GET":
                return 200, {"data_view": [{"id": i, "title": p["title"], "name": p.get("name", p["title"])}
                                           for i, p in self.index_patterns.items()]}
            if parts == ["api", "data_views", "data_view"] and method == "POST":
                view = doc.get("data_view") or {}
                if any(p["title"] == view.get("title") for p in self.index_patterns.values()):
                    return 400, {"statusCode": 400, "error": "Bad Request", "message": f"Duplicate data view: {view.get('title')}"}
                view_id = view.get("id") or str(uuid.uuid4())
                self.index_patterns[view_id] = {k: view[k] for k in ("title", "name", "timeFieldName") if k in view}
                return 200, {"data_view": {"id": view_id, **self.index_patterns[view_id]}}
        elif parts[:3] == ["api", "saved_objects", "index-pattern"] and len(parts) == 4:
            object_id = parts[3]
            if method == "GET":
                found = self.index_patterns.get(object_id)
                return (200, {"id": object_id, "type": "index-pattern", "attributes": found}) if found else (
                    404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [index-pattern/{object_id}] not found"})
            if method == "POST":
                if object_id in self.index_patterns and "overwrite=true" not in path:
                    return 409, {"statusCode": 409, "error": "Conflict", "message": "version conflict, document already exists"}
                self.index_patterns[object_id] = dict(doc.get("attributes") or {})
                return 200, {"id": object_id, "type": "index-pattern", "attributes": self.index_patterns[object_id]}
        return 404, {"statusCode": 404, "error": "Not Found", "message": f"not implemented by the fake: {method} {path}"}


    TYPES = ("index-pattern", "visualization", "search", "dashboard", "config", "lens", "map", "tag")

    def import_objects(self, content_type: str, body: bytes, overwrite: bool) -> tuple[int, dict]:
        if not content_type.startswith("multipart/form-data"):
            return 415, {"statusCode": 415, "error": "Unsupported Media Type", "message": "Unsupported Media Type"}
        message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        files = [part for part in message.walk() if part.get_param("name", header="content-disposition") == "file"]
        if len(files) != 1:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "[request body.file]: expected value of type [Stream]"}
        objects = [json.loads(line) for line in files[0].get_payload(decode=True).decode().splitlines() if line.strip()]
        present = {(o.get("type"), o.get("id")) for o in objects} | set(self.saved_objects)
        errors, saved = [], 0
        for o in objects:
            key = (o.get("type"), o.get("id"))
            meta = {"id": o.get("id"), "type": o.get("type"), "title": (o.get("attributes") or {}).get("title"),
                    "meta": {"title": (o.get("attributes") or {}).get("title")}}
            missing = [{"type": r["type"], "id": r["id"]} for r in o.get("references") or []
                       if (r.get("type"), r.get("id")) not in present]
            if o.get("type") not in self.TYPES:
                errors.append({**meta, "error": {"type": "unsupported_type"}})
            elif key in self.saved_objects and not overwrite:
                errors.append({**meta, "error": {"type": "conflict"}})
            elif missing:
                errors.append({**meta, "error": {"type": "missing_references", "references": missing}})
            else:
                self.saved_objects[key] = o
                if o["type"] == "index-pattern":
                    self.index_patterns[o["id"]] = {k: v for k, v in o["attributes"].items()
                                                    if k in ("title", "timeFieldName", "name")}
                saved += 1
        return 200, {"success": not errors, "successCount": saved, **({"errors": errors} if errors else {})}


class _Handler(JsonHandler):
    owner: FakeKibana

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = self.owner.answer(self.command, self.path, headers, body)
        self.owner.calls.append((self.command, self.path))
        self.reply(status, payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


FakeKibana.handler_class = _Handler
