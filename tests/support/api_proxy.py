"""A recording, fault-injecting HTTPS proxy in front of the API server (the double or a real one).

The deploy talks to it as to any API server (TLS with the cluster CA, its admin client certificate is
accepted); every request is recorded and forwarded with the proxy's own admin certificate, except that a
test can make the next matching requests fail with a status (409, 429, 5xx, 403) or answer slowly:
cases a healthy API server does not produce on demand. Everything else the server answers.
"""

from __future__ import annotations

import http.client
import http.server
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import serve_tls


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
class ApiProxy:
    upstream: str  # "127.0.0.1:port" of the API server
    pki: object  # tests.support.control_plane.Pki
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    delay: float = 0.0

    def start(self) -> ApiProxy:
        self.pki.sign("api-proxy", "kube-apiserver", server=True, sans=["127.0.0.1", "localhost"])
        upstream_context = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        upstream_context.load_cert_chain(self.pki.path("admin.crt"), self.pki.path("admin.key"))
        owner, lock = self, threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per answer: headers and body in separate small writes meet 40 ms delayed ACKs.
            wbufsize = -1
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                split = urlsplit(self.path)
                request = Request(self.command, split.path, {k: v[-1] for k, v in parse_qs(split.query).items()},
                                  self.headers.get("Content-Type", ""))
                with lock:
                    owner.requests.append(request)
                    fault = next((f for f in owner.faults if f.times > 0 and f.method == self.command
                                  and f.path_contains in split.path), None)
                    if fault:
                        fault.times -= 1
                if owner.delay:
                    time.sleep(owner.delay)
                if fault:
                    status, headers, data = fault.status, {"Content-Type": "application/json"}, json.dumps({
                        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": fault.status,
                        "reason": "InjectedFault", "message": f"injected fault {fault.status}"}).encode()
                else:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
                    status, headers, data = owner._forward(self.command, self.path, body, forwarded)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._upstream_context, self._idle = upstream_context, []
        self._server = serve_tls(Handler, self.pki.path("api-proxy.crt"), self.pki.path("api-proxy.key"))
        return self

    def _forward(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
        """One request to the real server, on a kept-alive connection (a TLS handshake per request
        would cost the tests more than the requests do)."""
        for attempt in (1, 2):
            try:
                connection = self._idle.pop()
            except IndexError:
                host, port = self.upstream.rsplit(":", 1)
                connection = http.client.HTTPSConnection(host, int(port), context=self._upstream_context, timeout=60)
            try:
                connection.request(method, path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                if attempt == 2:  # a fresh connection failed too: the server is down
                    raise
                continue  # an idle connection the server had closed: once more on a new one
            self._idle.append(connection)
            return response.status, {"Content-Type": response.getheader("Content-Type", "application/json")}, data
        raise AssertionError("unreachable")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, method: str, path_contains: str, status: int, times: int = 1) -> None:
        self.faults.append(Fault(method, path_contains, status, times))

    def clear_faults(self) -> None:
        self.faults.clear()
        self.delay = 0.0

    def mutations(self) -> list[Request]:
        """Writes that reached the server (dry runs and reads excluded)."""
        return [r for r in self.requests if r.method != "GET" and r.query.get("dryRun") != "All"]
