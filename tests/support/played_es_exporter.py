"""prometheus-community's elasticsearch_exporter as the test kubelet plays it (its image cannot run here), from the
pod's own args and env, the way the real one (1.10+) reads and uses them:

- flags ``--es.uri`` (required: no default since 1.10), ``--es.ca``, ``--es.all``, ``--web.listen-address``,
  ``--web.telemetry-path``; an unknown flag stops it at start, as its flag parser does; credentials from
  ``ES_USERNAME``/``ES_PASSWORD`` (they win over any in the URI);
- on each scrape of the telemetry path it asks Elasticsearch for ``/_cluster/health`` and ``/_nodes/stats``
  (``/_nodes/_local/stats`` without ``--es.all``) with those credentials, over HTTPS verified against
  ``--es.ca`` with the host name checked (Go's default), and writes the metrics of its cluster-health and nodes
  collectors that it derives from them (names and labels as collector/cluster_health.go and nodes.go give
  them; a subset of the node metrics). A refused or failed request sets the collector's ``*_up`` to 0 and is
  logged, as the real one logs it. ``/healthz`` answers 200.

It runs in the pod's network namespace (``python -m tests.support.played_es_exporter ARGS``); without the pod's
mount namespace, two variables of the kubelet say where things are: ``PLAYED_HOSTS`` (the pod's /etc/hosts, for
the Service names) and ``PLAYED_MOUNTS`` (JSON [[host path, path in the pod], ...]: the pod's volumes).
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import ssl
import sys
import urllib.parse
from pathlib import Path

FLAGS = {"es.uri", "es.ca", "es.all", "web.listen-address", "web.telemetry-path"}
BOOLEAN = {"es.all"}
COLORS = ("green", "yellow", "red")


def parse(argv: list[str]) -> dict[str, str]:
    flags = {"web.listen-address": ":9114", "web.telemetry-path": "/metrics"}
    for arg in argv:
        name, _, value = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or name not in FLAGS:
            raise SystemExit(f"elasticsearch_exporter: error: unknown long flag '{arg}'")
        flags[name] = "true" if name in BOOLEAN and not value else value
    if not flags.get("es.uri"):
        raise SystemExit("elasticsearch_exporter: --es.uri is empty: only the /probe endpoint would serve")
    return flags


def in_pod(path: str) -> str:
    """Where a path of the pod's filesystem is on this machine (its volumes, PLAYED_MOUNTS)."""
    for source, target in sorted(json.loads(os.environ.get("PLAYED_MOUNTS", "[]")), key=lambda m: -len(m[1])):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return str(Path(source, path[len(target):].lstrip("/")))
    return path


def resolve(host: str) -> str:
    for line in Path(os.environ.get("PLAYED_HOSTS", "/etc/hosts")).read_text().splitlines():
        address, *names = line.split()
        if host in names:
            return address
    return host


class _Connection(http.client.HTTPConnection):
    """To the Service's address in the pod, TLS with the URI's host name (SNI and the certificate's check)."""

    def __init__(self, address: str, port: int, hostname: str, context: ssl.SSLContext | None):
        super().__init__(address, port, timeout=5)
        self.hostname, self.context = hostname, context

    def connect(self) -> None:
        super().connect()
        if self.context is not None:
            self.sock = self.context.wrap_socket(self.sock, server_hostname=self.hostname)


class Exporter:
    def __init__(self, flags: dict[str, str], env: dict[str, str]):
        self.flags, self.url = flags, urllib.parse.urlsplit(flags["es.uri"])
        user = env.get("ES_USERNAME") or urllib.parse.unquote(self.url.username or "")
        password = env.get("ES_PASSWORD") or urllib.parse.unquote(self.url.password or "")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        self.context = None
        if self.url.scheme == "https":
            self.context = ssl.create_default_context(cafile=in_pod(flags["es.ca"]) if flags.get("es.ca") else None)

    def get(self, path: str) -> dict:
        host = self.url.hostname or "localhost"
        connection = _Connection(resolve(host), self.url.port or (443 if self.context else 80), host, self.context)
        headers = {"Authorization": self.auth} if self.auth else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        if response.status != 200:
            raise OSError(f"HTTP Request failed with code {response.status}")
        return json.loads(body)

    def scrape(self) -> str:
        lines: list[str] = []
        try:
            health = self.get("/_cluster/health")
        except (OSError, ValueError, ssl.SSLError) as e:
            log(f'level=WARN msg="failed to fetch and decode cluster health" err="{e}"')
            lines.append("elasticsearch_cluster_health_up 0")
        else:
            cluster = health.get("cluster_name", "")
            lines.append("elasticsearch_cluster_health_up 1")
            lines.append(f'elasticsearch_cluster_health_number_of_nodes{{cluster="{cluster}"}} {health.get("number_of_nodes", 0)}')
            lines += [f'elasticsearch_cluster_health_status{{cluster="{cluster}",color="{c}"}} '
                      f'{1 if health.get("status") == c else 0}' for c in COLORS]
        path = "/_nodes/stats" if self.flags.get("es.all") == "true" else "/_nodes/_local/stats"
        try:
            stats = self.get(path)
        except (OSError, ValueError, ssl.SSLError) as e:
            log(f'level=WARN msg="failed to fetch and decode node stats" err="{e}"')
            lines.append("elasticsearch_node_stats_up 0")
        else:
            lines.append("elasticsearch_node_stats_up 1")
            for node in stats.get("nodes", {}).values():
                roles = node.get("roles") or []
                labels = (f'cluster="{stats.get("cluster_name", "")}",host="{node.get("host", "")}",'
                          f'name="{node.get("name", "")}",es_master_node="{str("master" in roles).lower()}",'
                          f'es_data_node="{str("data" in roles).lower()}",es_ingest_node="{str("ingest" in roles).lower()}",'
                          f'es_client_node="{str(not roles).lower()}"')
                mem = node.get("jvm", {}).get("mem", {})
                lines += [f'elasticsearch_indices_docs{{{labels}}} {node.get("indices", {}).get("docs", {}).get("count", 0)}',
                          f'elasticsearch_jvm_memory_used_bytes{{area="heap",{labels}}} {mem.get("heap_used_in_bytes", 0)}',
                          f'elasticsearch_jvm_memory_max_bytes{{area="heap",{labels}}} {mem.get("heap_max_in_bytes", 0)}']
        return "\n".join(lines) + "\n"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    flags = parse(argv)
    exporter = Exporter(flags, dict(os.environ))
    telemetry = flags["web.telemetry-path"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server interface)
            path = self.path.split("?")[0]
            if path == telemetry:
                status, body, kind = 200, exporter.scrape(), "text/plain; version=0.0.4; charset=utf-8"
            elif path == "/healthz":
                status, body, kind = 200, "OK\n", "text/plain; charset=utf-8"
            else:
                status, body, kind = 404, "404 page not found\n", "text/plain; charset=utf-8"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    host, _, port = flags["web.listen-address"].rpartition(":")
    server = http.server.ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    log(f'level=INFO msg="starting elasticsearch_exporter" addr={flags["web.listen-address"]}')
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
