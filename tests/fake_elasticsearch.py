"""A fake Elasticsearch HTTP endpoint on loopback that keeps documents: enough for the real Fluent Bit.

Elasticsearch cannot run on the test machines, so this speaks the parts of its REST protocol the project's
clients use, shaped by ``major`` (6, 7, 8 or 9) the way that version answers:
- ``GET /_cluster/health?wait_for_status=...`` (HTTP 408 with ``timed_out`` when the colour is not reached)
  and ``GET /<index>/_count?q="<token>"`` (404 ``index_not_found_exception``): the verify stage's script;
- ``POST /_bulk`` and ``POST /<index>/_bulk`` (NDJSON, ``create``/``index``): what Fluent Bit's ``es``
  output sends. 8.x/9.x reject ``_type`` in a metadata line, 6.x requires it, 7.x takes both;
- ``GET /`` and ``HEAD /``: the version document some clients probe first.

Faults for tests: ``bulk_status`` fails every bulk request as a whole, ``reject`` fails single documents
(a partial reject, ``errors: true``). ``calls`` records each request once its answer is decided, so a test
that sees a call also sees the state that call left.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback import JsonHandler, LoopbackServer

_RANK = {"red": 0, "yellow": 1, "green": 2}

# major -> (version number, Lucene version, minimum wire compatibility, minimum index compatibility)
_VERSIONS = {6: ("6.8.23", "7.7.3", "5.6.0", "5.0.0"),
             7: ("7.17.28", "8.11.3", "6.8.0", "6.0.0-beta1"),
             8: ("8.19.0", "9.12.2", "7.17.0", "7.0.0"),
             9: ("9.1.0", "10.2.2", "8.19.0", "8.0.0")}

# The error bodies Elasticsearch sends when a whole bulk request fails with one of these statuses.
_BULK_FAULTS = {
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation "
          "[coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, "
          "max_coordinating_and_primary_bytes=0]"),
    503: ("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];"),
    403: ("cluster_block_exception", "index [logs] blocked by: [FORBIDDEN/12/index read-only / allow delete (api)];"),
    500: ("exception", "internal error"),
}

# Metadata line keys the bulk parser accepts (``_type`` depends on the version).
_ITEM_PARAMS = frozenset({"_index", "_id", "routing", "pipeline", "require_alias", "dynamic_templates",
                          "version", "version_type", "if_seq_no", "if_primary_term"})
_BAD_INDEX_CHARS = set('\\/*?"<>| ,#:')


def error(status: int, kind: str, reason: str, **details: object) -> tuple[int, dict]:
    """An error answer in Elasticsearch's shape (6.x and later): the cause repeated as ``root_cause``."""
    cause = {"type": kind, "reason": reason, **details}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


class _BadBulk(Exception):
    def __init__(self, answer: tuple[int, dict]) -> None:
        self.answer = answer


def _illegal(reason: str) -> _BadBulk:
    return _BadBulk(error(400, "illegal_argument_exception", reason))


def _token(value: object) -> str:
    """The JSON token name Elasticsearch's parser reports for a value it did not expect."""
    if isinstance(value, dict):
        return "START_OBJECT" if value else "END_OBJECT"
    return {str: "VALUE_STRING", list: "START_ARRAY", bool: "VALUE_BOOLEAN", type(None): "VALUE_NULL"}.get(
        type(value), "VALUE_NUMBER")


@dataclass
class _Op:
    action: str
    index: str | None
    type: str | None
    id: str | None
    source: bytes


def _parse_bulk(body: bytes, default_index: str | None, major: int) -> list[_Op]:
    """The operations of an NDJSON bulk body, or _BadBulk with the answer Elasticsearch gives the whole request."""
    lines = body.split(b"\n")
    if lines[-1].strip():  # the last line has no newline
        if major >= 7:
            raise _illegal("The bulk request must be terminated by a newline [\\n]")
        lines[-1] = b""  # 6.x silently ignores it
    ops: list[_Op] = []
    number = 0
    while number < len(lines) - 1:  # the element after the final newline is always empty
        line, number = lines[number], number + 1
        if not line.strip():
            continue
        try:
            meta = json.loads(line)
        except ValueError as exc:
            reason = f"[1:{getattr(exc, 'colno', 1)}] {getattr(exc, 'msg', exc)}"  # [line:column] in that line
            raise _BadBulk(error(400, "x_content_parse_exception", reason))
        where = f"Malformed action/metadata line [{number}]"
        if not isinstance(meta, dict):
            raise _illegal(f"{where}, expected START_OBJECT but found [{_token(meta)}]")
        if not meta:
            raise _illegal(f"{where}, expected FIELD_NAME but found [END_OBJECT]")
        (action, params), *extra = meta.items()
        if action in ("update", "delete"):
            raise _BadBulk((400, {"error": f"not implemented by the fake: bulk {action}"}))
        if action not in ("create", "index"):
            raise _illegal(f"{where}, expected field [create], [delete], [index] or [update] but found [{action}]")
        if not isinstance(params, dict):
            raise _illegal(f"{where}, expected START_OBJECT or END_OBJECT but found [{_token(params)}]")
        if extra:
            raise _illegal(f"{where}, expected END_OBJECT but found [FIELD_NAME]")
        for key in params:
            if key not in _ITEM_PARAMS and not (key == "_type" and major < 8):
                raise _illegal(f"Action/metadata line [{number}] contains an unknown parameter [{key}]")
        if number >= len(lines) - 1:
            break  # an action without a source line is dropped, as Elasticsearch's parser does
        source, number = lines[number], number + 1
        ops.append(_Op(action, params.get("_index", default_index), params.get("_type"), params.get("_id"), source))
    # The request's validation: all problems of all items at once, before anything is written.
    problems = []
    for op in ops:
        problems += ["index is missing"] * (op.index is None) + ["type is missing"] * (major == 6 and op.type is None) \
            + ["source is missing"] * (not op.source.strip())
    if not ops:
        problems.append("no requests added")
    if problems:
        reason = "Validation Failed: " + "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
        raise _BadBulk(error(400, "action_request_validation_exception", reason))
    return ops


@dataclass
class FakeElasticsearch(LoopbackServer):
    status: str = "green"
    number_of_nodes: int | Callable[[], int] = 1  # a callable follows e.g. the pods that exist
    credentials: Callable[[], tuple[str, str] | None] = lambda: None
    indices: dict[str, list[dict]] = field(default_factory=dict)  # index -> document sources, in order
    major: int = 8  # the Elasticsearch major version whose answers and rules the fake follows
    bulk_status: int | None = None  # every bulk request fails with this HTTP status (e.g. 429, 503)
    reject: Callable[[dict], str | None] | None = None  # a reason fails that document (400 mapper_parsing)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path with query), answered ones

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, dict[str, tuple[int, int]]] = {}  # index -> _id -> (position in indices, _version)
        self._seq_no: dict[str, int] = {}

    def index(self, name: str, doc: dict) -> None:
        with self._lock:
            self.indices.setdefault(name, []).append(doc)

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.calls.append((method, path))

    def answer(self, path: str, query: dict[str, str], authorization: str | None, method: str = "GET",
               body: bytes = b"", content_type: str | None = None) -> tuple[int, dict]:
        expected = self.credentials()
        if expected is not None:
            token = base64.b64encode(f"{expected[0]}:{expected[1]}".encode()).decode()
            if authorization != f"Basic {token}":
                return 401, {"error": {"type": "security_exception", "reason": "unable to authenticate user"}, "status": 401}
        parts = [p for p in path.split("/") if p]
        if method in ("GET", "HEAD") and not parts:
            return 200, self._root()
        if method == "GET" and parts == ["_cluster", "health"]:
            wanted = query.get("wait_for_status", "red")
            timed_out = _RANK[self.status] < _RANK[wanted]
            nodes = self.number_of_nodes() if callable(self.number_of_nodes) else self.number_of_nodes
            return (408 if timed_out else 200), {"cluster_name": "kubelogs", "status": self.status,
                                                 "timed_out": timed_out, "number_of_nodes": nodes}
        if method == "GET" and len(parts) == 2 and parts[1] == "_count":
            with self._lock:
                docs = self.indices.get(parts[0])
                if docs is None:
                    return error(404, "index_not_found_exception", f"no such index [{parts[0]}]",
                                 **{"resource.type": "index_or_alias", "resource.id": parts[0]},
                                 index_uuid="_na_", index=parts[0])
                phrase = query.get("q", "").strip('"')
                return 200, {"count": sum(phrase in json.dumps(d) for d in docs)}
        if method in ("POST", "PUT") and parts[-1:] == ["_bulk"] and len(parts) <= 2:
            return self._bulk(parts[0] if len(parts) == 2 else None, body, content_type)
        return 400, {"error": f"not implemented by the fake: {method} {path}"}

    def _root(self) -> dict:
        number, lucene, wire, index = _VERSIONS[self.major]
        return {"name": "elasticsearch-0", "cluster_name": "kubelogs", "cluster_uuid": "kU6bXq9yQ7uO3VUfM0kLxg",
                "version": {"number": number, "build_flavor": "default", "build_type": "docker",
                            "build_hash": "0" * 40, "build_date": "2025-01-01T00:00:00.000000000Z",
                            "build_snapshot": False, "lucene_version": lucene,
                            "minimum_wire_compatibility_version": wire, "minimum_index_compatibility_version": index},
                "tagline": "You Know, for Search"}

    def _bulk(self, default_index: str | None, body: bytes, content_type: str | None) -> tuple[int, dict]:
        started = time.monotonic()
        if self.bulk_status is not None:
            kind, reason = _BULK_FAULTS.get(self.bulk_status, ("exception", f"HTTP {self.bulk_status}"))
            return error(self.bulk_status, kind, reason)
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in ("application/x-ndjson", "application/json"):  # Elasticsearch parses only these
            return 406, {"error": f"Content-Type header [{content_type or ''}] is not supported", "status": 406}
        try:
            ops = _parse_bulk(body, default_index, self.major)
        except _BadBulk as bad:
            return bad.answer
        with self._lock:
            items = [{op.action: self._write(op)} for op in ops]
        return 200, {"took": int((time.monotonic() - started) * 1000),
                     "errors": any("error" in item[op.action] for item, op in zip(items, ops)), "items": items}

    def _write(self, op: _Op) -> dict:
        """Store one document (under the lock); its item of the bulk answer."""
        name, doc_id = str(op.index), op.id or base64.urlsafe_b64encode(os.urandom(15)).decode()
        item: dict = {"_index": name, **({"_type": op.type or "_doc"} if self.major < 8 else {}), "_id": doc_id}

        def failed(status: int, kind: str, reason: str) -> dict:
            return {**item, "status": status, "error": {"type": kind, "reason": reason, "index": name}}

        if not name or name != name.lower() or name[0] in "_-+" or _BAD_INDEX_CHARS & set(name):
            return failed(400, "invalid_index_name_exception", f"Invalid index name [{name}], must be lowercase"
                          if name != name.lower() else f"Invalid index name [{name}]")
        try:
            doc = json.loads(op.source)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return failed(400, "mapper_parsing_exception", "failed to parse")
        reason = self.reject(doc) if self.reject else None  # called under the lock: must not call the fake
        if reason:
            return failed(400, "mapper_parsing_exception", reason)
        docs, ids = self.indices.setdefault(name, []), self._ids.setdefault(name, {})
        if doc_id in ids and op.action == "create":
            return failed(409, "version_conflict_engine_exception",
                          f"[{doc_id}]: version conflict, document already exists (current version [{ids[doc_id][1]}])")
        if doc_id in ids:  # "index" overwrites
            position, version = ids[doc_id][0], ids[doc_id][1] + 1
            docs[position] = doc
        else:
            position, version = len(docs), 1
            docs.append(doc)
        ids[doc_id] = (position, version)
        self._seq_no[name] = seq_no = self._seq_no.get(name, -1) + 1
        return {**item, "_version": version, "result": "created" if version == 1 else "updated",
                "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": seq_no, "_primary_term": 1,
                "status": 201 if version == 1 else 200}


class _Handler(JsonHandler):
    owner: FakeElasticsearch

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_GET

    def _serve(self) -> None:
        split = urlsplit(self.path)
        query = {k: unquote(v[-1]) for k, v in parse_qs(split.query).items()}
        # Always read the body: an unread one would be taken for the next request on a kept-alive connection.
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":  # Fluent Bit's `Compress gzip`
            body = gzip.decompress(body)
        status, payload = self.owner.answer(split.path, query, self.headers.get("Authorization"), self.command,
                                            body, self.headers.get("Content-Type"))
        self.owner.record(self.command, self.path)
        if self.command != "HEAD":
            self.reply(status, payload)
            return
        self.send_response(status)  # headers as for GET, no body
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(json.dumps(payload, separators=(",", ":")))))
        self.end_headers()

    def end_headers(self) -> None:
        if self.owner.major >= 7:  # since 7.14; the official clients refuse a server without it
            self.send_header("X-elastic-product", "Elasticsearch")
        super().end_headers()


FakeElasticsearch.handler_class = _Handler
