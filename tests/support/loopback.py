"""A threaded HTTP server on 127.0.0.1 and an ephemeral port, for the test doubles; and the HTTP(S) client
the played pods use to reach one through a Service name, verifying its certificate as a pod's client would."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TLS_RECORD = 0x16  # the first byte of a TLS handshake (a ClientHello)


def serve_tls(handler: type[BaseHTTPRequestHandler], cert: str, key: str) -> ThreadingHTTPServer:
    """An HTTPS server on 127.0.0.1 and an ephemeral port, serving in a daemon thread until shutdown()."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class _SwitchingServer(ThreadingHTTPServer):
    """Serves HTTP, or HTTPS while ``certificate()`` gives a (certificate, key) in PEM, decided per connection
    as a server whose configuration just changed would: the other protocol is refused, as Elasticsearch
    refuses it (plain HTTP on an HTTPS channel: the connection is closed without an answer; a TLS handshake
    on an HTTP channel: not HTTP, closed). Each refusal is recorded in ``refused``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], certificate: Callable[[], tuple[str, str] | None],
                 refused: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.certificate, self.refused = certificate, refused
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}

    def _context(self, pem: tuple[str, str]) -> ssl.SSLContext:
        if pem not in self._contexts:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain reads files only
                Path(tmp, "tls.crt").write_text(pem[0])
                Path(tmp, "tls.key").write_text(pem[1])
                context.load_cert_chain(Path(tmp, "tls.crt"), Path(tmp, "tls.key"))
            self._contexts[pem] = context
        return self._contexts[pem]

    def finish_request(self, request: Any, client_address: Any) -> None:
        pem = self.certificate()
        request.settimeout(10)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        handshake = first[:1] == bytes([TLS_RECORD])
        if pem is None and handshake:
            self.refused.append("a TLS handshake on plain HTTP")
            return
        if pem is not None and not handshake:
            self.refused.append("plain HTTP on HTTPS")
            return
        if pem is not None:
            try:
                request = self._context(pem).wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:  # the client did not trust the certificate, say
                self.refused.append(f"TLS handshake failed: {e}")
                return
        request.settimeout(None)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if pem is not None:
                request.close()


class LoopbackServer:
    """Mixin: ``start()`` serves ``handler_class`` (whose ``owner`` is this object) until ``stop()``; HTTPS
    while the ``certificate`` method gives one (``_SwitchingServer``)."""

    handler_class: type[BaseHTTPRequestHandler]
    _server: ThreadingHTTPServer | None = None

    def certificate(self) -> tuple[str, str] | None:
        return None

    def start(self):
        owner = self

        class Handler(self.handler_class):  # type: ignore[valid-type, misc]
            pass

        Handler.owner = owner  # type: ignore[attr-defined]
        self.refused: list[str] = []
        self._server = _SwitchingServer(Handler, self.certificate, self.refused)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        assert self._server, "start() first"
        return f"127.0.0.1:{self._server.server_address[1]}"


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer (headers and body in separate small writes meet 40 ms delayed ACKs).
    wbufsize = -1
    disable_nagle_algorithm = True

    def reply(self, status: int, payload: Any) -> None:
        """JSON (compact, as Kubernetes and Elasticsearch answer), or text for a str payload."""
        text = isinstance(payload, str)
        data = payload.encode() if text else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


def call(backend: str, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         ca: str | None = None, verify: bool = True, check_hostname: bool = True,
         timeout: float = 10) -> tuple[int, bytes]:
    """``method url`` sent to ``backend`` (host:port on loopback, where the URL's host, a Service name,
    resolves). With https, the certificate is verified as a pod's client verifies it: against the CA
    certificates ``ca`` (PEM; None: the system's), and its names against the URL's host, unless the client
    is configured not to (``verify``, ``check_hostname``). An ssl.SSLError (an OSError) when it does not
    verify."""
    parts = urlsplit(url)
    address, port = backend.rsplit(":", 1)
    sock: socket.socket = socket.create_connection((address, int(port)), timeout=timeout)
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context(cadata=ca) if ca else ssl.create_default_context()
            context.check_hostname = check_hostname and verify
            if not verify:
                context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        connection = http.client.HTTPConnection(parts.hostname or address, timeout=timeout)
        connection.sock = sock
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        sock.close()
