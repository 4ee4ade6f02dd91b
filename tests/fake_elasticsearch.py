"""A fake Elasticsearch HTTP endpoint on loopback: cluster health, document count by query, basic auth.

Just what the verify stage's in-cluster script asks: ``GET /_cluster/health?wait_for_status=...``
(HTTP 408 with ``timed_out`` when the colour is not reached, as Elasticsearch answers) and
``GET /<index>/_count?q="<token>"`` (404 ``index_not_found_exception`` for a missing index).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback import JsonHandler, LoopbackServer

_RANK = {"red": 0, "yellow": 1, "green": 2}


@dataclass
class FakeElasticsearch(LoopbackServer):
    status: str = "green"
    number_of_nodes: int | Callable[[], int] = 1  # a callable follows e.g. the pods that exist
    credentials: Callable[[], tuple[str, str] | None] = lambda: None
    indices: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def index(self, name: str, doc: dict) -> None:
        with self._lock:
            self.indices.setdefault(name, []).append(doc)

    def answer(self, path: str, query: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        expected = self.credentials()
        if expected is not None:
            token = base64.b64encode(f"{expected[0]}:{expected[1]}".encode()).decode()
            if authorization != f"Basic {token}":
                return 401, {"error": {"type": "security_exception", "reason": "unable to authenticate user"}, "status": 401}
        parts = [p for p in path.split("/") if p]
        if parts == ["_cluster", "health"]:
            wanted = query.get("wait_for_status", "red")
            timed_out = _RANK[self.status] < _RANK[wanted]
            nodes = self.number_of_nodes() if callable(self.number_of_nodes) else self.number_of_nodes
            return (408 if timed_out else 200), {"cluster_name": "kubelogs", "status": self.status,
                                                 "timed_out": timed_out, "number_of_nodes": nodes}
        if len(parts) == 2 and parts[1] == "_count":
            with self._lock:
                docs = self.indices.get(parts[0])
                if docs is None:
                    return 404, {"error": {"type": "index_not_found_exception", "index": parts[0]}, "status": 404}
                phrase = query.get("q", "").strip('"')
                return 200, {"count": sum(phrase in json.dumps(d) for d in docs)}
        return 400, {"error": f"not implemented by the fake: {path}"}


class _Handler(JsonHandler):
    owner: FakeElasticsearch

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {k: unquote(v[-1]) for k, v in parse_qs(split.query).items()}
        self.reply(*self.owner.answer(split.path, query, self.headers.get("Authorization")))


FakeElasticsearch.handler_class = _Handler
