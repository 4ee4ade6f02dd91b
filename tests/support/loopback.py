"""A threaded HTTP server on 127.0.0.1 and an ephemeral port, for the test doubles."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve_tls(handler: type[BaseHTTPRequestHandler], cert: str, key: str) -> ThreadingHTTPServer:
    """An HTTPS server on 127.0.0.1 and an ephemeral port, serving in a daemon thread until shutdown()."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class LoopbackServer:
    """Mixin: ``start()`` serves ``handler_class`` (whose ``owner`` is this object) until ``stop()``."""

    handler_class: type[BaseHTTPRequestHandler]
    _server: ThreadingHTTPServer | None = None

    def start(self):
        owner = self

        class Handler(self.handler_class):  # type: ignore[valid-type, misc]
            pass

        Handler.owner = owner  # type: ignore[attr-defined]
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
