"""Run the double as a process: ``python -m tests.support.kube_double [--pki DIR] [--http-port N]
[--https-port N]``. It prints ``{"http": port, "https": port}`` on one line once it serves, and runs
until SIGTERM or SIGINT. With ``--pki`` (a directory holding ca.crt, apiserver.crt and apiserver.key)
it also serves HTTPS and accepts client certificates signed by that CA."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from tests.support.kube_double import boot
from tests.support.kube_double.controllers import ControllerManager
from tests.support.kube_double.server import ApiServer
from tests.support.kube_double.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.kube_double", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pki", type=Path)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--https-port", type=int, default=0)
    args = parser.parse_args(argv)
    store = Store()
    ca_pem, cert, key = "", None, None
    if args.pki:
        ca_pem = (args.pki / "ca.crt").read_text()
        cert, key = str(args.pki / "apiserver.crt"), str(args.pki / "apiserver.key")
    boot.bootstrap(store)
    server = ApiServer(store, cert, key, str(args.pki / "ca.crt") if args.pki else None)
    server.start(args.http_port, args.https_port if args.pki else None)
    controllers = ControllerManager(store, ca_pem).start()
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    print(json.dumps({"http": server.http_port, "https": server.https_port}), flush=True)
    stopped.wait()
    controllers.stop()
    server.stop()
    for error in controllers.errors:
        print(error, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
