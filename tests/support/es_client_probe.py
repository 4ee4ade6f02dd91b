"""Runs inside one official Elasticsearch client's virtual environment (tests/support/es_clients.py): which
client method sends each request kubelogs sends, and whether that method sends it exactly as we do.

Standard library and the installed ``elasticsearch`` package only: it is run as a script by that venv's
Python, never imported by the project. Reads ``{"requests": [...]}`` as JSON on stdin (each request:
``key``, ``method``, ``path``, ``params`` as ``[name, value]`` pairs, ``body``: a JSON document, a list of
NDJSON lines for ``_bulk``, or null) and writes ``{"client", "generation", "endpoints", "results"}``.

The client's endpoints are read from the client itself, per generation:

- **typed** (8.x, 9.x): each API method is generated from Elastic's API specification with its path parts
  (``__path_parts``, ``__path``), query parameters (``__query["name"]``), body fields (``__body["name"]``,
  or one parameter taking the whole body) and HTTP method; its source is parsed (``ast``).
- **legacy** (5.x to 7.x): each API method lists its query parameters in ``@query_params(...)`` and builds
  its path in its ``perform_request`` call from its positional arguments; every method is called with
  placeholder arguments (each combination of its optional ones) against the recording transport, and the
  paths and HTTP methods it sends are read back.

Each request is then mapped by HTTP method and path template to a client method, and that method is called
with the request's path parts, query parameters and body (8.x/9.x: each top-level body key as its keyword
argument) against a recording transport (legacy: a ``Transport``; typed: a node class under the real
``elastic_transport`` pipeline), without any network. A result lists the problems: no method sends that
path, a method that sends another HTTP method, a query parameter or (typed) body key the method does not
take, or a call that sends something other than our request.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import importlib
import inspect
import itertools
import json
import os
import pkgutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import elasticsearch

MAJOR = int(elasticsearch.__version__[0])
VERSION = ".".join(str(p) for p in elasticsearch.__version__)
GENERATION = "typed" if MAJOR >= 8 else "legacy"
NEAREST = 3  # client methods named when a request maps to none
with open(__file__, "rb") as _source:  # an endpoint table kept by another version of this probe is made again
    PROBE_DIGEST = hashlib.sha256(_source.read()).hexdigest()


@dataclass
class Captured:
    """One request as the client handed it to its transport."""

    method: str
    path: str  # unquoted
    params: dict[str, str]
    body: Any  # JSON document, NDJSON lines, or None

    def as_data(self) -> dict:
        return {"method": self.method, "path": self.path, "params": self.params, "body": self.body}


CAPTURED: list[Captured] = []


def _decode(body: Any) -> Any:
    """A body as JSON: one document, or a list of NDJSON lines."""
    if body is None or isinstance(body, (dict, list)):
        return body
    text = body.decode() if isinstance(body, bytes) else str(body)
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _capture(method: str, target: str, params: dict | None, body: Any) -> None:
    split = urlsplit(target)
    query = {k: v for k, v in parse_qsl(split.query, keep_blank_values=True)}
    # The legacy clients hand their transport query values as bytes (their _escape).
    query.update({k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (params or {}).items()})
    CAPTURED.append(Captured(method, unquote(split.path), query, _decode(body)))


# -- the client, with a transport that records instead of sending --------------------------------------
def _legacy_client() -> Any:
    from elasticsearch.serializer import JSONSerializer

    class RecordingTransport:
        """Takes the place of elasticsearch.Transport: what each API method hands it is recorded."""

        def __init__(self, hosts: Any = None, **kwargs: Any) -> None:
            self.serializer = JSONSerializer()  # the bulk helpers serialize with it before the transport

        def perform_request(self, method: str, url: str, headers: Any = None, params: Any = None,
                            body: Any = None) -> Any:
            _capture(method, url, params, body)
            return {}

        def close(self) -> None:
            pass

    client = elasticsearch.Elasticsearch(transport_class=RecordingTransport)
    if not hasattr(client, "xpack"):  # 5.x ships its X-Pack client without attaching it
        try:
            client.xpack = importlib.import_module("elasticsearch.client.xpack").XPackClient(client)
        except ImportError:
            pass
    return client


def _typed_client() -> Any:
    from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders
    from elastic_transport._node import NodeApiResponse

    class RecordingNode(BaseNode):
        """A node of the real elastic_transport pipeline that records the serialized request."""

        def perform_request(self, method: str, target: str, body: bytes | None = None, headers: Any = None,
                            request_timeout: Any = None) -> NodeApiResponse:
            _capture(method, target, None, body)
            meta = ApiResponseMeta(status=200, http_version="1.1", duration=0.0, node=self.config,
                                   headers=HttpHeaders({"x-elastic-product": "Elasticsearch",
                                                        "content-type": "application/json"}))
            return NodeApiResponse(meta, b"" if method == "HEAD" else b"{}")

    return elasticsearch.Elasticsearch("http://127.0.0.1:9200", node_class=RecordingNode)


def _namespaces(client: Any) -> dict[str, Any]:
    """API name prefix -> client object: the client itself ('') and its namespaced clients, nested
    (5.x/6.x ``xpack.security``)."""
    utils = "elasticsearch._sync.client._base" if GENERATION == "typed" else "elasticsearch.client.utils"
    namespaced = importlib.import_module(utils).NamespacedClient
    found: dict[str, Any] = {"": client}
    pending = [("", client)]
    while pending:
        prefix, obj = pending.pop()
        for name, attr in sorted(vars(obj).items()):
            if isinstance(attr, namespaced) and not name.startswith("_"):
                found[prefix + name] = attr
                pending.append((prefix + name + ".", attr))
    return found


# -- what each client method sends --------------------------------------------------------------------
@dataclass
class Endpoint:
    api: str  # the API's name in Elastic's specification where the client says it (typed), else attr
    attr: str  # where the method is on the client: "indices.put_settings"
    function: Callable[..., Any]
    methods: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)  # "/{index}/_settings"
    path_args: dict[str, str] = field(default_factory=dict)  # path part -> Python argument
    query: dict[str, str] = field(default_factory=dict)  # query parameter -> Python argument
    body_fields: dict[str, str] | None = None  # typed: body key -> Python argument (None: no body fields)
    body_arg: str | None = None  # the argument that takes the whole body

    def describe(self) -> str:
        return f"{self.api} ({'|'.join(sorted(self.methods))} {' | '.join(sorted(self.paths))})"


SENTINEL = "zz{}zz"  # a placeholder path argument, read back from the path the client sends


def _legacy_endpoints(client: Any) -> list[Endpoint]:
    from elasticsearch.client.utils import GLOBAL_PARAMS

    endpoints = []
    for prefix, obj in _namespaces(client).items():
        for name, function in inspect.getmembers(obj, inspect.ismethod):
            if name.startswith("_"):
                continue
            code = function.__func__  # @query_params' wrapper: its closure holds the list and the method
            closure = dict(zip(code.__code__.co_freevars, (c.cell_contents for c in code.__closure__ or ())))
            if "es_query_params" not in closure:
                continue
            inner = inspect.signature(closure["func"]).parameters
            args = [p for p in inner.values() if p.name not in ("self", "params", "headers", "body")]
            attr = f"{prefix}.{name}".lstrip(".")
            endpoint = Endpoint(attr, attr, function, body_arg="body" if "body" in inner else None,
                                query={q: q for q in (*closure["es_query_params"], *GLOBAL_PARAMS)})
            endpoint.path_args = {a.name: a.name for a in args}
            required = [a.name for a in args if a.default is inspect.Parameter.empty]
            optional = [a.name for a in args if a.default is not inspect.Parameter.empty]
            bodies: list[Any] = [None]
            if "body" in inner:
                bodies = [{}] if inner["body"].default is inspect.Parameter.empty else [None, {}]
            for count in range(len(optional) + 1):
                for chosen, body in itertools.product(itertools.combinations(optional, count), bodies):
                    kwargs = {a: SENTINEL.format(a) for a in (*required, *chosen)}
                    if body is not None:
                        kwargs["body"] = body
                    sent = _call(function, kwargs)
                    if isinstance(sent, Captured):
                        endpoint.methods.add(sent.method)
                        path = sent.path
                        for a in kwargs:
                            path = path.replace(SENTINEL.format(a), "{%s}" % a)
                        endpoint.paths.add(path)
            if endpoint.paths:
                endpoints.append(endpoint)
    return endpoints


def _typed_endpoints(client: Any) -> list[Endpoint]:
    classes = {type(obj).__name__: (prefix, obj) for prefix, obj in _namespaces(client).items()}
    package = importlib.import_module("elasticsearch._sync.client")
    modules = [package, *(importlib.import_module(f"{package.__name__}.{m.name}")
                          for m in pkgutil.iter_modules(package.__path__))]
    endpoints = []
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in classes):
            prefix, obj = classes[cls.name]
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")):
                endpoint = _typed_endpoint(fn, f"{prefix}.{fn.name}".lstrip("."), getattr(obj, fn.name))
                if endpoint is not None:
                    endpoints.append(endpoint)
    return endpoints


def _typed_endpoint(fn: ast.FunctionDef, attr: str, function: Callable[..., Any]) -> Endpoint | None:
    """An endpoint from a generated method's source; None for a method that sends nothing itself."""
    endpoint = Endpoint(attr, attr, function)
    method_values: set[str] = set()
    calls = False
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "perform_request":
            calls = True
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant):
                endpoint.methods.add(first.value)
            for keyword in node.keywords:
                if keyword.arg == "endpoint_id" and isinstance(keyword.value, ast.Constant):
                    endpoint.api = keyword.value.value
        target, value = _assignment(node)
        if target is None:
            continue
        if target == "__method":
            method_values |= {c.value for c in ast.walk(value)
                              if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        elif target == "__path_parts" and isinstance(value, ast.Dict):
            for key, part in zip(value.keys, value.values):
                names = [n.id for n in ast.walk(part) if isinstance(n, ast.Name) and n.id != "_quote"]
                endpoint.path_args[key.value] = names[0]
        elif target == "__path":
            endpoint.paths.add(_template(value))
        elif target == "__body" and isinstance(value, ast.IfExp) and isinstance(value.body, ast.Name) \
                and value.body.id != "body":
            endpoint.body_arg = value.body.id  # the whole body is one parameter (settings, operations...)
        elif isinstance(target, tuple) and target[0] == "__query" and isinstance(value, ast.Name):
            endpoint.query[target[1]] = value.id
        elif isinstance(target, tuple) and target[0] == "__body" and isinstance(value, ast.Name):
            endpoint.body_fields = {**(endpoint.body_fields or {}), target[1]: value.id}
    if not calls or not endpoint.paths:
        return None
    endpoint.methods |= method_values & {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
    return endpoint


def _assignment(node: ast.AST) -> tuple[Any, Any]:
    """(target, value) of ``name = value`` / ``name: T = value`` / ``name["key"] = value``, else (None, None)."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value = node.target, node.value
    else:
        return None, None
    if isinstance(target, ast.Name):
        return target.id, value
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
            and isinstance(target.slice, ast.Constant):
        return (target.value.id, target.slice.value), value
    return None, None


def _template(value: ast.AST) -> str:
    """``f'/{__path_parts["index"]}/_settings'`` -> ``/{index}/_settings``."""
    if isinstance(value, ast.Constant):
        return value.value
    parts = []
    for piece in value.values:  # ast.JoinedStr
        if isinstance(piece, ast.Constant):
            parts.append(piece.value)
        else:
            parts.append("{%s}" % piece.value.slice.value)
    return "".join(parts)


def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Captured | Exception:
    """Call a client method; what it sent, or the exception it raised instead."""
    before = len(CAPTURED)
    try:
        function(**kwargs)
    except Exception as e:  # noqa: BLE001 - any refusal of the client is an answer
        return e
    if len(CAPTURED) != before + 1:
        return RuntimeError(f"the call sent {len(CAPTURED) - before} requests")
    return CAPTURED[-1]


# -- one request against the endpoints ----------------------------------------------------------------
def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _match(template: str, path: str) -> dict[str, str] | None:
    """The path parts when ``path`` fits ``template`` ({name} is one segment), else None. A segment that
    starts with ``_`` names an API, never an index, type, id or node (Elasticsearch refuses such names):
    it fills no {name}, or ``PUT /_ilm/policy/x`` would pass as indexing a document into index ``_ilm``."""
    want, have = _segments(template), _segments(path)
    if len(want) != len(have):
        return None
    parts = {}
    for w, h in zip(want, have):
        if w.startswith("{") and w.endswith("}"):
            if h.startswith("_"):
                return None
            parts[w[1:-1]] = h
        elif w != h:
            return None
    return parts


def _nearest(method: str, path: str, endpoints: list[Endpoint]) -> list[str]:
    """The client methods closest to a request none sends: most leading path segments in common, then the
    same HTTP method, then the most similar path."""
    have = _segments(path)

    def leading(template: str) -> int:
        count = 0
        for w, h in zip(_segments(template), have):
            if w != h and not (w.startswith("{") and not h.startswith("_")):
                break
            count += 1
        return count

    scored = sorted(((leading(t), method in e.methods, difflib.SequenceMatcher(None, path, t).ratio(), e.describe())
                     for e in endpoints for t in e.paths), reverse=True)
    return list(dict.fromkeys(d for *_, d in scored))[:NEAREST]


def check(request: dict, endpoints: list[Endpoint]) -> dict:
    """Which method sends ``request`` (``path_only``: whichever HTTP method and body, for the agents'
    requests, which are not ours beyond their path), and its problems."""
    method, path = request["method"], "/" + request["path"].lstrip("/")
    params = [tuple(p) for p in request["params"]]
    body = request["body"]
    fits = []  # (literal segments, endpoint, template, path parts)
    for endpoint in endpoints:
        for template in endpoint.paths:
            parts = _match(template, path)
            if parts is not None:
                literal = sum(1 for s in _segments(template) if not s.startswith("{"))
                fits.append((literal, endpoint, template, parts))
    fits.sort(key=lambda f: -f[0])
    if not fits:
        return {"key": request["key"], "api": None, "nearest": _nearest(method, path, endpoints),
                "problems": [f"no method of the {VERSION} client sends {method} {path}"]}
    path_only = bool(request.get("path_only"))
    same_method = fits if path_only else [f for f in fits if method in f[1].methods]
    if not same_method:
        others = "; ".join(dict.fromkeys(f"{f[1].api} sends {'|'.join(sorted(f[1].methods))} {f[2]}" for f in fits))
        return {"key": request["key"], "api": fits[0][1].api, "nearest": [f[1].describe() for f in fits][:NEAREST],
                "problems": [f"no method of the {VERSION} client sends {method} {path}: {others}"]}
    results = [_try(endpoint, template, parts, method, path, params, body, path_only)
               for _, endpoint, template, parts in same_method]
    best = next((r for r in results if not r["problems"]), results[0])
    return {"key": request["key"], "nearest": [], **best}


def _try(endpoint: Endpoint, template: str, parts: dict[str, str], method: str, path: str,
         params: list[tuple[str, str]], body: Any, path_only: bool = False) -> dict:
    """Call ``endpoint`` with the request's path parts, query parameters and body; its problems."""
    problems: list[str] = []
    kwargs: dict[str, Any] = {endpoint.path_args.get(k, k): v for k, v in parts.items()}
    taken = [(name, value) for name, value in params if name in endpoint.query]
    for name, _ in params:
        if name not in endpoint.query:
            problems.append(f"query parameter {name!r} is not one {endpoint.api} takes "
                            f"(it takes: {', '.join(sorted(endpoint.query)) or 'none'})")
    kwargs.update({endpoint.query[name]: value for name, value in taken})
    expected_body = body
    if body is not None:
        if endpoint.body_arg is not None:
            kwargs[endpoint.body_arg] = body
        elif endpoint.body_fields is not None and isinstance(body, dict):
            unknown = [key for key in body if key not in endpoint.body_fields]
            problems += [f"body key {key!r} is not a parameter of {endpoint.api} "
                         f"(its body fields: {', '.join(sorted(endpoint.body_fields))})" for key in unknown]
            expected_body = {k: v for k, v in body.items() if k not in unknown} or None
            kwargs.update({endpoint.body_fields[k]: v for k, v in body.items() if k not in unknown})
        else:
            problems.append(f"{endpoint.api} sends no body")
            expected_body = None
    sent = _call(endpoint.function, kwargs)
    if isinstance(sent, Exception):
        problems.append(f"{endpoint.api}({', '.join(f'{k}=...' for k in kwargs)}) raised "
                        f"{type(sent).__name__}: {sent}")
        return {"api": endpoint.api, "template": template, "problems": problems, "sent": None}
    # What the client sent for the accepted parts must be our request (the rest is named above).
    expected = Captured(method, "/" + path.strip("/"), dict(taken), expected_body)
    sent_path = "/" + sent.path.strip("/")
    for what, theirs, mine in (("method", sent.method, expected.method), ("path", sent_path, expected.path),
                               ("query", sent.params, expected.params), ("body", sent.body, expected.body)):
        if theirs != mine and not (path_only and what != "path"):
            problems.append(f"{endpoint.api} sends {what} {theirs!r} where we send {mine!r}")
    return {"api": endpoint.api, "template": template, "problems": problems, "sent": sent.as_data()}


def endpoints(cache: str | None = None) -> list[Endpoint]:
    """The client's endpoints; ``cache``: a file keeping them between runs (reading the client takes a
    second or two), made again for another client version."""
    client = _typed_client() if GENERATION == "typed" else _legacy_client()
    if cache:
        try:
            with open(cache) as f:
                kept = json.load(f)
            if kept["client"] == VERSION and kept["probe"] == PROBE_DIGEST:
                return [_bound(client, e) for e in kept["endpoints"]]
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    found = _typed_endpoints(client) if GENERATION == "typed" else _legacy_endpoints(client)
    if cache:
        table = [{**{k: v for k, v in vars(e).items() if k != "function"}, "methods": sorted(e.methods),
                  "paths": sorted(e.paths)} for e in found]
        scratch = f"{cache}.{os.getpid()}"
        with open(scratch, "w") as f:
            json.dump({"client": VERSION, "probe": PROBE_DIGEST, "endpoints": table}, f)
        os.replace(scratch, cache)
    return found


def _bound(client: Any, kept: dict) -> Endpoint:
    """An endpoint from the kept table, with its method of this client."""
    function = client
    for name in kept["attr"].split("."):
        function = getattr(function, name)
    return Endpoint(**{**kept, "methods": set(kept["methods"]), "paths": set(kept["paths"]), "function": function})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", help="a file to keep the client's endpoint table in between runs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the clients' deprecation warnings for the placeholder calls
    found = endpoints(args.cache)
    requests = json.load(sys.stdin)["requests"]
    CAPTURED.clear()
    results = [check(r, found) for r in requests]
    json.dump({"client": VERSION, "generation": GENERATION, "endpoints": len(found),
               "apis": sorted({e.api for e in found}), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
