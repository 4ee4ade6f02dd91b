"""A fake Elasticsearch HTTP endpoint on loopback that keeps documents: enough for the real Fluent Bit.

Elasticsearch cannot run on the test machines, so this speaks the parts of its REST protocol the project's
clients use, shaped by ``major`` (6, 7, 8 or 9) the way that version answers:
- ``GET /_cluster/health?wait_for_status=...`` (HTTP 408 with ``timed_out`` when the colour is not reached)
  and ``GET /<index or pattern>/_count?q=...`` (404 ``index_not_found_exception`` for a missing index): the
  verify stage's script;
- ``POST /_bulk`` and ``POST /<index>/_bulk`` (NDJSON, ``create``/``index``): what Fluent Bit's ``es``
  output sends. 8.x/9.x reject ``_type`` in a metadata line, 6.x requires it, 7.x takes both; each document
  is mapped as Elasticsearch maps it (tests/support/fake_es_mappings.py: dynamic mapping, the template's mappings,
  conflicts rejected, one mapping type per 6.x index);
- ``GET /`` and ``HEAD /``: the version document some clients probe first; ``GET /_nodes/stats`` (a few
  fields per node: what the metrics exporter reads);
- what the cluster stage's in-cluster pods call (``files/es-admin.sh``, ``files/es-retention.sh``): cluster
  settings (6.x refuses a ``minimum_master_nodes`` above its node count, as Zen discovery does), ``_flush``,
  voting configuration exclusions (7.x+), ILM policies (6.6+), index templates (legacy ``_template`` with
  5.x's ``template`` key or ``index_patterns``; composable ``_index_template``), ``_cat/indices`` and index
  deletion. A template's ``number_of_replicas`` reaches the indices created after it. Snapshot repositories,
  snapshots, restores and SLM policies: tests/support/fake_es_snapshots.py.
- shard allocation by Elasticsearch's rules (``allocation``): each index one primary shard and its replicas,
  every copy on its own node (a replica never beside its primary); a node excluded by name
  (``cluster.routing.allocation.exclude._name``) receives nothing and keeps a copy only while no other node
  can take it; what fits nowhere is unassigned. ``_cat/allocation`` reports it as Elasticsearch does, with
  the ``UNASSIGNED`` row even when asked for one node, and with ``status=None`` the health follows it
  (yellow while a replica is unassigned, red without nodes).

HTTPS as Elasticsearch serves it with ``xpack.security.http.ssl``: while ``https`` gives a certificate,
a plain HTTP connection is closed unanswered (``refused`` records it), as is a TLS handshake without it.

With ``coordination`` (tests/support/fake_es_coordination.py: the nodes the pods run, their voting configuration
and elected master) the nodes are the first cluster's joined ones; without a master, cluster health and the
administration calls answer 503 ``master_not_discovered_exception`` (``_cluster/health?local=true``: 200, red), and
voting configuration exclusions follow Elasticsearch's rules.

Faults for tests: ``bulk_status`` fails every bulk request as a whole, ``reject`` fails single documents
(a partial reject, ``errors: true``). ``calls`` records each request once its answer is decided, so a test
that sees a call also sees the state that call left.
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.fake_es_coordination import Coordination
from tests.support.fake_es_mappings import Mapping, Rejected, flatten
from tests.support.fake_es_security import Security, required, security_exception
from tests.support.fake_es_snapshots import Snapshots
from tests.support.loopback import JsonHandler, LoopbackServer

_RANK = {"red": 0, "yellow": 1, "green": 2}

# major -> (version number, Lucene version, minimum wire compatibility, minimum index compatibility)
_VERSIONS = {5: ("5.6.16", "6.6.1", "5.0.0", "2.0.0"),
             6: ("6.8.23", "7.7.3", "5.6.0", "5.0.0"),
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


def error(status: int, kind: str, reason: str | None, **details: object) -> tuple[int, dict]:
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
        problems += ["index is missing"] * (op.index is None) + ["type is missing"] * (major <= 6 and op.type is None) \
            + ["source is missing"] * (not op.source.strip())
    if not ops:
        problems.append("no requests added")
    if problems:
        reason = "Validation Failed: " + "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
        raise _BadBulk(error(400, "action_request_validation_exception", reason))
    return ops


EXCLUDE_BY_NAME = "cluster.routing.allocation.exclude._name"


@dataclass
class FakeElasticsearch(LoopbackServer):
    status: str | None = "green"  # None: derived from the indices' replicas and the node count
    number_of_nodes: int | Callable[[], int] = 1  # a callable follows e.g. the pods that exist
    node_names: Callable[[], list[str]] | None = None  # default: elasticsearch-0 … -<number_of_nodes - 1>
    # The nodes with the data role (default: every node); dedicated masters hold no shard.
    data_node_names: Callable[[], list[str]] | None = None
    credentials: Callable[[], tuple[str, str] | None] = lambda: None
    # HTTPS while this gives (certificate, key) in PEM (tests/support/loopback.py); plain HTTP is then refused.
    https: Callable[[], tuple[str, str] | None] = lambda: None
    indices: dict[str, list[dict]] = field(default_factory=dict)  # index -> document sources, in order
    major: int = 8  # the Elasticsearch major version whose answers and rules the fake follows
    bulk_status: int | None = None  # every bulk request fails with this HTTP status (e.g. 429, 503)
    reject: Callable[[dict], str | None] | None = None  # a reason fails that document (400 mapper_parsing)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path with query), answered ones
    calls_by: list[tuple[str | None, str, str]] = field(default_factory=list)  # the same, with the user (security on)
    cluster_settings: dict[str, object] = field(default_factory=dict)  # persistent, flat keys
    policies: dict[str, dict] = field(default_factory=dict)  # ILM policy name -> {"policy": ...}
    templates: dict[str, dict] = field(default_factory=dict)  # template name -> body (legacy or composable)
    voting_exclusions: list[str] = field(default_factory=list)
    index_replicas: dict[str, int] = field(default_factory=dict)  # index -> number_of_replicas at creation
    mappings: dict[str, Mapping] = field(default_factory=dict)  # index -> its mapping (tests/support/fake_es_mappings.py)
    bulk_indices: list[frozenset[str]] = field(default_factory=list)  # the indices of each bulk request taken
    ignored_fields: dict[str, int] = field(default_factory=dict)  # index -> documents with a field ignored as malformed
    not_indexed: dict[str, dict[int, list[str]]] = field(default_factory=dict)  # index -> position -> fields left out
    snapshots: Snapshots = field(default_factory=Snapshots)  # repositories, snapshots, SLM (fake_es_snapshots.py)
    # The nodes' cluster coordination (tests/support/fake_es_coordination.py): without a master, cluster health and
    # the administration calls answer 503; voting exclusions follow its rules. None: always a master.
    coordination: Coordination | None = None

    def __post_init__(self) -> None:
        # Users and roles (tests/support/fake_es_security.py); ``credentials`` may be replaced later.
        self.security = Security(self.major, lambda: self.credentials())
        self._lock = threading.Lock()
        self._ids: dict[str, dict[str, tuple[int, int]]] = {}  # index -> _id -> (position in indices, _version)
        self._seq_no: dict[str, int] = {}
        if self.coordination is not None:  # the joined nodes; shards on those with the data role
            self.node_names, self.data_node_names = self.coordination.joined, self.coordination.data_nodes
            self.number_of_nodes = lambda: len(self.coordination.joined())

    def certificate(self) -> tuple[str, str] | None:
        return self.https()

    def index(self, name: str, doc: dict) -> None:
        """A document put in directly (by a test), mapped as a bulk request maps it (Rejected if it does not fit)."""
        with self._lock:
            if name not in self.indices:
                self._create_index(name)
            self.not_indexed.setdefault(name, {})[len(self.indices[name])] = self.mappings[name].accept(doc, None)
            self.indices[name].append(doc)

    def record(self, method: str, path: str, authorization: str | None = None) -> None:
        user = self.security.authenticate(authorization) if self.security.enabled else None
        with self._lock:
            self.calls.append((method, path))
            self.calls_by.append((user, method, path))

    def answer(self, path: str, query: dict[str, str], authorization: str | None, method: str = "GET",
               body: bytes = b"", content_type: str | None = None) -> tuple[int, dict]:
        parts = [p for p in path.split("/") if p]
        user = None
        if self.security.enabled:
            user = self.security.authenticate(authorization)
            if user is None:
                return security_exception(401, "unable to authenticate user")
            refused = self._refused(user, method, parts, body)
            if refused:
                return refused
        if method in ("GET", "HEAD") and not parts:
            return 200, self._root()
        if method == "GET" and parts == ["_cluster", "health"] and not self._has_master():
            if query.get("local") == "true":  # the node's own view: no master, red
                return 200, {"cluster_name": "kubelogs", "status": "red", "timed_out": False, "number_of_nodes": 0}
            return _no_master()
        if method == "GET" and parts == ["_cluster", "health"]:
            nodes, status = self.nodes(), self.health()
            timed_out = _RANK[status] < _RANK[query.get("wait_for_status", "red")] \
                or not _nodes_match(query.get("wait_for_nodes", ""), nodes)
            return (408 if timed_out else 200), {"cluster_name": "kubelogs", "status": status,
                                                 "timed_out": timed_out, "number_of_nodes": nodes}
        if method == "GET" and parts[:1] == ["_nodes"] and parts[-1:] == ["stats"] and len(parts) <= 3:
            return 200, self._nodes_stats(parts[1] if len(parts) == 3 else "_all")
        if method == "GET" and len(parts) == 2 and parts[1] == "_count":
            with self._lock:
                names = [n for n in self.indices if fnmatch.fnmatchcase(n, parts[0])
                         and (user is None or self.security.may(user, index=(n, {"read"})))]
                if not names and "*" not in parts[0]:  # a wildcard that matches nothing counts 0
                    return error(404, "index_not_found_exception", f"no such index [{parts[0]}]",
                                 **{"resource.type": "index_or_alias", "resource.id": parts[0]},
                                 index_uuid="_na_", index=parts[0])
                matches = _query_string(query.get("q", ""))
                return 200, {"count": sum(matches(d, self.mappings.get(n), self.not_indexed.get(n, {}).get(i, []))
                                          for n in names for i, d in enumerate(self.indices[n]))}
        if method in ("POST", "PUT") and parts[-1:] == ["_bulk"] and len(parts) <= 2:
            return self._bulk(parts[0] if len(parts) == 2 else None, body, content_type, user)
        if not self._has_master():  # master node actions: real Elasticsearch fails them after master_timeout (30 s)
            return _no_master()
        with self._lock:
            answer = self._admin(method, parts, query, body, user)
        return answer or (400, {"error": f"not implemented by the fake: {method} {path}"})

    def _refused(self, user: str, method: str, parts: list[str], body: bytes) -> tuple[int, dict] | None:
        """Security API calls are answered here; other requests are checked for the privileges they need
        (a bulk request item by item, as it is written)."""
        if parts[:1] in (["_security"], ["_xpack"]):
            try:
                doc = json.loads(body) if body.strip() else {}
            except ValueError as exc:
                return error(400, "x_content_parse_exception", str(exc))
            with self._lock:
                return self.security.api(user, method, parts, doc)
        if parts[-1:] == ["_bulk"]:
            return None
        kind, privileges = required(method, parts)
        if kind == "cluster" and not self.security.may(user, cluster=privileges):
            return self.security.refused(user, f"cluster ({'|'.join(sorted(privileges))})")
        if kind == "index" and "*" not in parts[0] and not self.security.may(user, index=(parts[0], privileges)):
            return self.security.refused(user, f"indices ({'|'.join(sorted(privileges))})", [parts[0]])
        return None

    def _has_master(self) -> bool:
        return self.coordination is None or self.coordination.has_master()

    def nodes(self) -> int:
        return self.number_of_nodes() if callable(self.number_of_nodes) else self.number_of_nodes

    def names(self) -> list[str]:
        return sorted(self.node_names()) if self.node_names else [f"elasticsearch-{i}" for i in range(self.nodes())]

    def data_names(self) -> list[str]:
        return sorted(self.data_node_names()) if self.data_node_names else self.names()

    def allocation(self) -> tuple[dict[str, int], int]:
        """(shard copies per data node, copies unassigned). Copies go to nodes not excluded first; a copy stays on
        an excluded node only when no other node can take it (Elasticsearch's filter decider says it cannot
        remain, but it moves only to a node that can have it); two copies of a shard never share a node."""
        nodes = self.data_names()
        excluded = set(filter(None, str(self.cluster_settings.get(EXCLUDE_BY_NAME) or "").split(",")))
        order = [n for n in nodes if n not in excluded] + [n for n in nodes if n in excluded]
        shards, unassigned = dict.fromkeys(nodes, 0), 0
        for replicas in self.index_replicas.values():
            placed = order[:1 + replicas]
            for node in placed:
                shards[node] += 1
            unassigned += 1 + replicas - len(placed)
        return shards, unassigned

    def health(self) -> str:
        if self.status is not None:
            return self.status
        if not self.names():
            return "red"
        return "yellow" if self.allocation()[1] else "green"

    def _admin(self, method: str, parts: list[str], query: dict[str, str], body: bytes,
               user: str | None = None) -> tuple[int, object] | None:
        """Cluster administration calls (under the lock); None for a call the fake does not know."""
        try:
            doc = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return error(400, "x_content_parse_exception", str(exc))
        if parts[:1] in (["_snapshot"], ["_slm"]) or parts[:2] == ["_cat", "snapshots"]:
            return self.snapshots.api(self, method, parts, query, doc)
        if parts == ["_cluster", "settings"]:
            if method == "GET":
                return 200, {"persistent": dict(self.cluster_settings), "transient": {}}
            if method == "PUT":
                return self._put_settings(doc.get("persistent") or {})
        if parts == ["_flush"] and method == "POST":
            total = sum(1 + r for r in self.index_replicas.values())
            return 200, {"_shards": {"total": total, "successful": total, "failed": 0}}
        if parts[:2] == ["_cluster", "voting_config_exclusions"] and self.major >= 7:
            return self._voting_exclusions(method, parts, query)
        if parts[:2] == ["_ilm", "policy"] and len(parts) == 3 and self.major >= 6:
            name = parts[2]
            if method == "PUT":
                if set(doc) != {"policy"} or "phases" not in doc["policy"]:
                    return error(400, "parse_exception", "policy must have phases")
                self.policies[name] = doc
                return 200, {"acknowledged": True}
            if method == "GET":
                if name not in self.policies:
                    return error(404, "resource_not_found_exception", f"Lifecycle policy not found: {name}")
                return 200, {name: {"version": 1, "modified_date": "2026-01-01T00:00:00.000Z", **self.policies[name]}}
        if parts[:1] in (["_template"], ["_index_template"]) and len(parts) == 2:
            legacy, name = parts[0] == "_template", parts[1]
            if method == "PUT":
                key = "template" if legacy and self.major == 5 else "index_patterns"
                if key not in doc or (not legacy and self.major < 7):
                    return error(400, "action_request_validation_exception", f"Validation Failed: 1: {key} is missing;")
                self.templates[name] = doc
                return 200, {"acknowledged": True}
            if method == "GET" and name in self.templates:
                return 200, {name: self.templates[name]}
            if method == "GET":
                return 404, {}
        if len(parts) == 2 and parts[1] == "_settings" and method == "PUT":
            replicas = flatten(doc).get("index.number_of_replicas")
            matched = [n for n in self.indices if fnmatch.fnmatchcase(n, parts[0])]
            if not matched and query.get("allow_no_indices") != "true":  # the default is false here
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            for name in matched:
                if replicas is not None:
                    self.index_replicas[name] = int(replicas)
            return 200, {"acknowledged": True}
        if parts[:2] == ["_cat", "allocation"] and len(parts) in (2, 3) and method == "GET":
            # Relocation is instant here; where copies may go is not (``allocation``).
            shards, unassigned = self.allocation()
            rows = [(n, shards[n]) for n in (parts[2].split(",") if len(parts) == 3 else shards) if n in shards]
            rows += [("UNASSIGNED", unassigned)] if unassigned else []
            columns = query.get("h", "shards,node").split(",")
            return 200, "".join(" ".join(str({"node": n, "shards": c}.get(col, "")) for col in columns) + "\n"
                                for n, c in rows)
        if parts == ["_cat", "nodes"] and method == "GET":
            # Each joined node's roles, in _cat's letters (m: master-eligible, d: data, i: ingest; 7.x+ lists more).
            eligible = self.coordination.master_eligible() if self.coordination else set(self.names())
            data = set(self.data_names())
            columns = query.get("h", "name,node.role").split(",")
            rows = [{"name": n, "node.role": ("d" if n in data else "") + ("i" if n in data else "")
                     + ("m" if n in eligible else "") or "-"} for n in self.names()]
            return 200, "".join(" ".join(str(r.get(c, "")) for c in columns) + "\n" for r in rows)
        if parts[:2] == ["_cat", "indices"] and len(parts) <= 3 and method == "GET":
            pattern = parts[2] if len(parts) == 3 else "*"
            return 200, "".join(f"{name}\n" for name in sorted(self.indices) if fnmatch.fnmatchcase(name, pattern)
                                and (user is None or self.security.may(user, index=(name, {"monitor"}))))
        if len(parts) == 1 and not parts[0].startswith("_") and method == "DELETE":
            if parts[0] not in self.indices:
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            del self.indices[parts[0]]
            self._ids.pop(parts[0], None)
            self.mappings.pop(parts[0], None)
            self.index_replicas.pop(parts[0], None)
            return 200, {"acknowledged": True}
        return None

    def _voting_exclusions(self, method: str, parts: list[str], query: dict[str, str]) -> tuple[int, object] | None:
        """POST ``?node_names=``/``?node_ids=`` (7.8+) or ``/{names}`` (7.0 to 7.x, removed in 8.0); DELETE
        (``wait_for_removal``); checked by the coordination model where there is one."""
        if method == "POST" and len(parts) == 2:
            given = [key for key in ("node_names", "node_ids") if key in query]
            if len(given) != 1:
                return error(400, "illegal_argument_exception", "Please set node identifiers correctly. One and only one "
                             "of [node_name], [node_names] and [node_ids] has to be set")
            names, path_form = [n for n in query[given[0]].split(",") if n], False
        elif method == "POST" and len(parts) == 3 and self.major == 7:
            names, path_form = [n for n in parts[2].split(",") if n], True
        elif method == "DELETE" and len(parts) == 2:
            if self.coordination is None:
                self.voting_exclusions.clear()
                return 200, ""
            answer = self.coordination.clear_exclusions(query.get("wait_for_removal", "true") != "false")
            self.voting_exclusions[:] = self.coordination.exclusions()
            return answer
        else:
            return None
        if self.coordination is None:
            self.voting_exclusions += [n for n in names if n not in self.voting_exclusions]
            return 200, ""
        answer = self.coordination.add_exclusions(names, path_form)
        self.voting_exclusions[:] = self.coordination.exclusions()
        return answer

    def _put_settings(self, persistent: dict) -> tuple[int, object]:
        flat = flatten(persistent)
        quorum = flat.get("discovery.zen.minimum_master_nodes")
        if quorum is not None and self.major <= 6 and int(quorum) > self.nodes():
            return error(400, "illegal_argument_exception", "illegal value can't update "
                         f"[discovery.zen.minimum_master_nodes] from [{self.cluster_settings.get('discovery.zen.minimum_master_nodes', 1)}] "
                         f"to [{quorum}]", caused_by={"type": "illegal_argument_exception", "reason": (
                             f"cannot set discovery.zen.minimum_master_nodes to more than the current master nodes count [{self.nodes()}]")})
        if quorum is not None and self.major >= 7:
            return error(400, "illegal_argument_exception", "persistent setting [discovery.zen.minimum_master_nodes], not recognized")
        for key, value in flat.items():
            if value is None:
                self.cluster_settings.pop(key, None)
            else:
                self.cluster_settings[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return 200, {"acknowledged": True, "persistent": persistent, "transient": {}}

    def _template_for(self, index: str) -> dict | None:
        """The body of the matching template of highest priority (composable) or order (legacy; Elasticsearch
        merges legacy ones, kubelogs sends one), which a new index is created from."""
        best: tuple[int, dict] | None = None
        for body in self.templates.values():
            patterns = body.get("index_patterns") or body.get("template")
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if not isinstance(patterns, list) or not any(fnmatch.fnmatchcase(index, p) for p in patterns):
                continue
            rank = int(body.get("priority", body.get("order", 0)))
            if best is None or rank >= best[0]:
                best = (rank, body)
        return None if best is None else best[1]

    def _create_index(self, name: str) -> None:
        """A new index (under the lock): its replicas and mapping from the template that applies."""
        template = self._template_for(name)
        settings = flatten(((template or {}).get("template") if isinstance((template or {}).get("template"), dict)
                            else template or {}).get("settings") or {})
        self.index_replicas[name] = int(settings.get("number_of_replicas", settings.get("index.number_of_replicas", 1)))
        self.mappings[name] = Mapping.from_template(self.major, template)
        self.indices[name] = []

    def _root(self) -> dict:
        number, lucene, wire, index = _VERSIONS[self.major]
        return {"name": "elasticsearch-0", "cluster_name": "kubelogs", "cluster_uuid": "kU6bXq9yQ7uO3VUfM0kLxg",
                "version": {"number": number, "build_flavor": "default", "build_type": "docker",
                            "build_hash": "0" * 40, "build_date": "2025-01-01T00:00:00.000000000Z",
                            "build_snapshot": False, "lucene_version": lucene,
                            "minimum_wire_compatibility_version": wire, "minimum_index_compatibility_version": index},
                "tagline": "You Know, for Search"}

    def _nodes_stats(self, which: str) -> dict:
        """``GET /_nodes/stats`` (``_local``: the node that answers): the parts of each node's stats the
        metrics exporter reads first (name, roles, documents, heap), in Elasticsearch's shape."""
        names = self.names()[:1] if which == "_local" else self.names()
        with self._lock:
            docs = sum(len(d) for d in self.indices.values())
        nodes = {f"node-{n}": {"name": n, "host": f"10.244.0.{10 + i}", "ip": f"10.244.0.{10 + i}:9300",
                               "roles": ["data", "ingest", "master"],
                               "indices": {"docs": {"count": docs if i == 0 else 0, "deleted": 0}},
                               "jvm": {"mem": {"heap_used_in_bytes": 200 * 2**20, "heap_max_in_bytes": 512 * 2**20}}}
                 for i, n in enumerate(names)}
        return {"_nodes": {"total": len(nodes), "successful": len(nodes), "failed": 0},
                "cluster_name": "kubelogs", "nodes": nodes}

    def _bulk(self, default_index: str | None, body: bytes, content_type: str | None,
              user: str | None = None) -> tuple[int, dict]:
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
            items = [{op.action: self._write(op, user)} for op in ops]
            self.bulk_indices.append(frozenset(str(op.index) for op in ops))
        return 200, {"took": int((time.monotonic() - started) * 1000),
                     "errors": any("error" in item[op.action] for item, op in zip(items, ops)), "items": items}

    def _write(self, op: _Op, user: str | None = None) -> dict:
        """Store one document (under the lock) if ``user`` may; its item of the bulk answer."""
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
        if user is not None:
            wanted = {"create": {"create_doc", "create", "index", "write"}, "index": {"index", "write"}}[op.action]
            may_create = name in self.indices or self.security.may(user, index=(name, {"create_index", "auto_configure"}))
            if not (may_create and self.security.may(user, index=(name, wanted))):
                _, answer = self.security.refused(user, "indices:data/write/bulk[s]", [name])
                return {**item, "status": 403, "error": answer["error"]}
        reason = self.reject(doc) if self.reject else None  # called under the lock: must not call the fake
        if reason:
            return failed(400, "mapper_parsing_exception", reason)
        if name not in self.indices:
            self._create_index(name)
        try:
            ignored = self.mappings[name].accept(doc, op.type)
        except Rejected as rejected:
            return failed(400, rejected.kind, rejected.reason)
        if ignored:
            self.ignored_fields[name] = self.ignored_fields.get(name, 0) + 1
        docs, ids = self.indices[name], self._ids.setdefault(name, {})
        self.not_indexed.setdefault(name, {})[ids[doc_id][0] if doc_id in ids else len(docs)] = ignored
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


def _as_term(value: object) -> str:
    """A value as a keyword field indexes it (numbers and booleans as their JSON text)."""
    return json.dumps(value) if isinstance(value, (bool, int, float)) else str(value)


def _query_string(q: str) -> Callable[[dict, Mapping | None, list[str]], bool]:
    """The two query_string forms the stages and tests send: ``"phrase"`` (anywhere in the document) and
    ``field.path:"value"``: the field is indexed (mapped, or under a ``flattened`` field; not left out as
    malformed) and its value, as a keyword term (a ``text`` field: containing it), is the value."""
    field_path, colon, value = q.partition(":")
    if colon and not field_path.startswith('"'):
        wanted, parts = value.strip('"'), field_path.split(".")

        def field_equals(doc: dict, mapping: Mapping | None, ignored: list[str]) -> bool:
            node: object = doc
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
            if node is None or field_path in ignored:
                return False
            kind = "keyword" if mapping is None else mapping.fields.get(field_path)
            if mapping is not None and any(mapping.fields.get(".".join(parts[:i])) == "flattened"
                                           for i in range(1, len(parts))):
                kind = "keyword"  # a key of a flattened field: its values are keywords
            values = node if isinstance(node, list) else [node]
            if kind == "text":
                return any(wanted in _as_term(v) for v in values)
            return kind not in (None, "object") and any(_as_term(v) == wanted for v in values)

        return field_equals
    phrase = q.strip('"')
    return lambda doc, mapping, ignored: phrase in json.dumps(doc)


def _no_master() -> tuple[int, dict]:
    """What a master node action answers once its master_timeout passes without a master."""
    return error(503, "master_not_discovered_exception", None)


def _nodes_match(condition: str, nodes: int) -> bool:
    """``wait_for_nodes``: N, >=N, <=N, >N or <N (empty: any)."""
    if not condition:
        return True
    for op, test in ((">=", int.__ge__), ("<=", int.__le__), (">", int.__gt__), ("<", int.__lt__)):
        if condition.startswith(op):
            return test(nodes, int(condition[len(op):]))
    return nodes == int(condition)


class _Handler(JsonHandler):
    owner: FakeElasticsearch

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _serve(self) -> None:
        split = urlsplit(self.path)
        query = {k: unquote(v[-1]) for k, v in parse_qs(split.query).items()}
        # Always read the body: an unread one would be taken for the next request on a kept-alive connection.
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":  # Fluent Bit's `Compress gzip`
            body = gzip.decompress(body)
        status, payload = self.owner.answer(split.path, query, self.headers.get("Authorization"), self.command,
                                            body, self.headers.get("Content-Type"))
        self.owner.record(self.command, self.path, self.headers.get("Authorization"))
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
