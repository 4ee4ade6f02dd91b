"""Fluent Bit as the test kubelet plays it where its binary cannot run (set KUBELOGS_FLUENT_BIT_BIN to run the
real one instead): driven by the pod's own rendered configuration, so what it ships follows what the
deploy configured.

- **Routing** runs the configuration's Lua filter (route.lua) in a real LuaJIT, on the record Fluent Bit's
  kubernetes filter makes (pod name, namespace, labels and annotations as its ``Labels``/``Annotations``
  keys say, host, container; with ``Merge_Log``, a line that is a JSON object parsed into the record, or
  under ``Merge_Log_Key``, the line kept unless ``Keep_Log`` is off, as its documentation says).
- **Delivery** follows the ``[OUTPUT] es`` section: Host and Port (a Service the kubelet resolves), HTTPS
  with ``tls``, the certificate verified as ``tls.verify``, ``tls.verify_hostname`` and ``tls.ca_file`` (a
  file of the pod's volumes) say, as the real agent's TLS does, the index from ``Logstash_Prefix_Key`` (else ``Logstash_Prefix``) and ``Logstash_DateFormat``,
  ``Replace_Dots``, ``Type``/``Suppress_Type_Name``, ``HTTP_User``/``HTTP_Passwd`` with the pod's env.
- **Its HTTP server** (``python -m tests.support.played_fluent_bit PORT`` in the pod's network namespace)
  answers the health check and the Prometheus metrics the verifier pod reads at the pod's IP:
  a played agent never retries, so its counters are 0.

- **Stack traces** go through the configuration's ``multiline`` filter first, its parsers file's rules run
  by a port of Fluent Bit's engine (tests/support/played_multiline.py).

What it does not do, and only the real binary proves: tailing, the runtime's CRI and json-file parsing, buffering,
retries and dead letters, the configuration's other keys (tests/support/fluent_bit_schema.py checks them
against the real schema).
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tests.support import lua, played_multiline
from tests.support.fluent_bit_schema import Section, read_config
from tests.support.loopback import call

_ACCESSOR = re.compile(r"\[['\"]([^'\"]+)['\"]\]")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ON = ("on", "true", "yes", "1")


@dataclass
class PlayedConfig:
    output: Section
    kubernetes: Section | None
    lua_script: str | None
    lua_call: str | None
    multiline: list[played_multiline.Parser] | None = None  # the multiline filter's parsers, in order

    def on(self, section: Section | None, key: str, default: bool) -> bool:
        value = section.get(key) if section else None
        return default if value is None else value.strip().lower() in ON


def load(files: Mapping[str, str], argv: list[str]) -> PlayedConfig:
    """The configuration the pod's command names (``-c <path>``), from its ConfigMap's files."""
    main = argv[argv.index("-c") + 1].rsplit("/", 1)[-1] if "-c" in argv else "fluent-bit.conf"
    sections, problems = read_config(files, main)
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    plugins = [(s, (s.get("name") or "").lower()) for s in sections]
    output = next((s for s, name in plugins if s.name == "OUTPUT" and name == "es"), None)
    if output is None:
        raise ValueError("no [OUTPUT] es section: the played agent ships only to Elasticsearch")
    kubernetes = next((s for s, name in plugins if s.name == "FILTER" and name == "kubernetes"), None)
    lua_filter = next((s for s, name in plugins if s.name == "FILTER" and name == "lua"), None)
    script = files[lua_filter.get("script").rsplit("/", 1)[-1]] if lua_filter else None
    multiline_filter = next((s for s, name in plugins if s.name == "FILTER" and name == "multiline"), None)
    chain = None
    if multiline_filter is not None:
        if (multiline_filter.get("multiline.key_content") or "").lower() != "log":
            raise ValueError("the played multiline filter joins the `log` key only")
        service = next((s for s in sections if s.name == "SERVICE"), None)
        parsers_file = (service.get("parsers_file") if service else None) or ""
        names = [n.strip() for n in (multiline_filter.get("multiline.parser") or "").split(",") if n.strip()]
        chain = played_multiline.parsers(files, parsers_file.rsplit("/", 1)[-1], names)
    return PlayedConfig(output, kubernetes, script, lua_filter.get("call") if lua_filter else None, chain)


def _accessor(record: dict, expression: str) -> object:
    """A record accessor such as ``$kubernetes['annotations']['kubelogs.io/log-name']``."""
    head = expression.lstrip("$").split("[", 1)[0]
    value: object = record.get(head)
    for key in _ACCESSOR.findall(expression):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _replace_dots(value: object) -> object:
    if isinstance(value, dict):
        return {k.replace(".", "_"): _replace_dots(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_dots(v) for v in value]
    return value


def record_for(config: PlayedConfig, node: str, pod: dict, container: dict, line: str, stamp: str) -> dict:
    """The record after the kubernetes filter, as Fluent Bit has it for a line of this container."""
    meta = pod["metadata"]
    k8s = {"pod_name": meta["name"], "namespace_name": meta["namespace"], "pod_id": meta["uid"], "host": node,
           "container_name": container["name"], "container_image": container["image"]}
    if config.on(config.kubernetes, "Labels", True) and meta.get("labels"):
        k8s["labels"] = dict(meta["labels"])
    if config.on(config.kubernetes, "Annotations", True) and meta.get("annotations"):
        k8s["annotations"] = dict(meta["annotations"])
    record: dict = {"time": stamp, "stream": "stdout", "_p": "F", "log": line, "kubernetes": k8s}
    if config.on(config.kubernetes, "Merge_Log", False):
        try:
            parsed = json.loads(line.strip() if config.on(config.kubernetes, "Merge_Log_Trim", True) else line)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):  # only a JSON object (a map) is merged
            key = config.kubernetes.get("Merge_Log_Key") if config.kubernetes else None
            if key:
                record[key] = parsed
            else:
                record.update(parsed)
            if not config.on(config.kubernetes, "Keep_Log", True):
                record.pop("log", None)
    return record


def ship(config: PlayedConfig, env: Mapping[str, str], node: str, pod: dict, container: dict, lines: list[str],
         resolve: Callable[[str, int], str | None], tag: str,
         read_file: Callable[[str], str | None] = lambda path: None) -> int:
    """Route and send ``lines`` as the configuration says; the number of documents Elasticsearch took.
    ``read_file``: a file of the agent's pod (its CA file). An OSError when Elasticsearch cannot be reached
    or its certificate does not verify."""
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if config.multiline:  # the multiline filter runs first, on the runtime's lines
        lines = played_multiline.join(config.multiline, lines)
    records = [record_for(config, node, pod, container, line, stamp) for line in lines]
    if config.lua_script and config.lua_call:
        results = lua.call_filter(config.lua_script, config.lua_call,
                                  [(tag, now.timestamp(), r) for r in records], {"NODE_NAME": node})
        kept = [r.record if r.code in (1, 2) else original
                for r, original in zip(results, records) if r.code != -1]
        # A record returned as a list of records (the lua filter's split) is each of them.
        records = [item for r in kept for item in (r if isinstance(r, list) else [r])]
    out = config.output

    def value(key: str, default: str | None = None) -> str | None:
        raw = out.get(key)
        return default if raw is None else _VARIABLE.sub(lambda m: env.get(m.group(1), ""), raw)

    host, port = value("Host", "127.0.0.1"), int(value("Port", "9200"))
    backend = resolve(host, port)
    if backend is None or not records:
        return 0
    date_format = value("Logstash_DateFormat", "%Y.%m.%d")
    prefix_key, prefix = value("Logstash_Prefix_Key"), value("Logstash_Prefix", "logstash")
    operation = (value("Write_Operation", "create") or "create").lower()
    body = ""
    for record in records:
        name = _accessor(record, prefix_key) if prefix_key else None
        action: dict = {"_index": f"{name if isinstance(name, str) and name else prefix}-{now.strftime(date_format)}"}
        if not config.on(out, "Suppress_Type_Name", False):
            action["_type"] = value("Type", "_doc")
        document = {"@timestamp": stamp, **record}
        if config.on(out, "Replace_Dots", False):
            document = _replace_dots(document)
        body += json.dumps({operation: action}) + "\n" + json.dumps(document) + "\n"
    headers = {"Content-Type": "application/x-ndjson"}
    if value("HTTP_User"):
        token = base64.b64encode(f"{value('HTTP_User')}:{value('HTTP_Passwd', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    # Fluent Bit's TLS defaults: verify the chain (tls.verify On), not the name (tls.verify_hostname Off).
    tls = config.on(out, "tls", False)
    ca_file = value("tls.ca_file")
    ca = read_file(ca_file) if tls and ca_file else None
    if tls and ca_file and ca is None:
        raise OSError(f"tls.ca_file {ca_file} cannot be read")  # the real agent fails its TLS setup
    status, data = call(backend, "POST", f"{'https' if tls else 'http'}://{host}:{port}{value('Path', '')}/_bulk",
                        body.encode(), headers, ca=ca, verify=config.on(out, "tls.verify", True),
                        check_hostname=config.on(out, "tls.verify_hostname", False))
    if status >= 300:
        raise OSError(f"Elasticsearch answered {status}: {data[:200]!r}")
    answer = json.loads(data or b"{}")
    return sum(1 for item in answer.get("items") or [] if 200 <= next(iter(item.values())).get("status", 500) < 300)


METRICS = ("fluentbit_output_retries_total", "fluentbit_output_retries_failed_total",
           "fluentbit_output_dropped_records_total", "fluentbit_output_proc_records_total")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server interface)
        path = self.path.split("?")[0]
        if path in ("/", "/api/v1/health"):
            body, kind = b"ok\n", "text/plain"
        elif path in ("/api/v1/metrics/prometheus", "/api/v2/metrics/prometheus"):
            body = "".join(f'# TYPE {m} counter\n{m}{{name="es.0"}} 0\n' for m in METRICS).encode()
            kind = "text/plain; version=0.0.4"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main(argv: list[str]) -> None:
    """Serve the health and metrics endpoints on all addresses of this network namespace."""
    http.server.ThreadingHTTPServer(("0.0.0.0", int(argv[0])), _Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
