"""The sandbox a played pod runs in (tests/support/kubelet.py): what a container runtime and kube-proxy give a pod.

- **Network:** a network namespace of its own (``ip netns``), with loopback. Service names resolve
  (its ``/etc/hosts``) to addresses in 127.0.0.0/8 there, where a forwarder per Service port relays each
  connection to the Service's backend on the host's loopback: the fake Elasticsearch, the API server.
  A pod's own listening ports (Fluent Bit's 2020) cannot collide with another pod's. With ``pod_ip``, a
  veth pair also gives the pod that address, as a CNI plugin would: the host routes it to the pod (so the
  API server's ``pods/NAME:PORT/proxy`` reaches the pod's port), and the pod reaches through it the host
  end, ``HOST_END``, and the other pods' addresses (``POD_CIDR``, forwarded by the host: the flat pod network
  of Kubernetes' network model, as the verifier reading each Fluent Bit's metrics needs). No default route:
  its traffic stays on this machine.
- **Filesystem:** a private mount namespace whose root is a tmpfs holding the host's /usr, /lib, /etc
  (read-only, so the binaries and libraries run) and the pod's volumes mounted at the pod spec's paths:
  hostPath volumes from the played node's filesystem, configMap/secret/token volumes from files the
  kubelet wrote. The process is then ``chroot``-ed there with the pod's command.

Nothing here touches the host's own /var/log or /etc: every mount lives in the pod's mount namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
NETNS_PREFIX = "kubelogs-pod-"  # then the test process's pid: sweep_stale() knows whose they are
POD_CIDR = "10.244.0.0/16"  # pod addresses, as kind's; routed per pod (/32) to its veth, never further
HOST_END = "10.244.0.1"  # the host end of every pod's veth (the source the API server's proxy uses)


def sweep_stale() -> None:
    """Delete the network namespaces of sandboxes whose test process is gone (a killed test run)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in (line.split()[0] for line in listing.splitlines() if line.startswith(NETNS_PREFIX)):
        pid = name[len(NETNS_PREFIX):].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            subprocess.run(["ip", "netns", "delete", name], capture_output=True)


@contextlib.contextmanager
def _in_netns(name: str):
    """Run the block with this OS thread in network namespace ``name``. The block must not yield to
    another greenlet (pytest runs under gevent: every "thread" shares this OS thread)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
        try:
            yield
        finally:
            if _libc.setns(own, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the host network namespace")
    finally:
        os.close(target)
        os.close(own)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@dataclass
class Mount:
    source: str  # a path on the host (a node container's filesystem: its overlay2 merged directory)
    target: str  # the path inside the pod
    read_only: bool = False


class Sandbox:
    """``services``: (the names a Service resolves by, {port: "127.0.0.1:backend_port"}); each Service gets
    an address of its own in the pod's 127.0.0.0/8 (its "cluster IP"), listed in ``addresses``."""

    def __init__(self, workdir: Path, services: list[tuple[list[str], dict[int, str]]], pod_ip: str | None = None,
                 down: Callable[[list[str]], bool] = lambda names: False):
        self.netns = f"{NETNS_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.dir = workdir
        self.services = services
        self.pod_ip = pod_ip
        self.down = down  # given a Service's names: whether it has no backend now (connections are refused)
        self._open: list[tuple[list[str], socket.socket, socket.socket]] = []
        self._listeners: list[socket.socket] = []
        self.closed = False

    def open(self) -> Sandbox:
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        try:
            self._plumb()
        except BaseException:
            self.close()
            raise
        return self

    def _plumb(self) -> None:
        def ip(*args: str) -> None:
            subprocess.run(["ip", *args], check=True, capture_output=True)

        ip("-n", self.netns, "link", "set", "lo", "up")
        if self.pod_ip:
            # Deleting the namespace deletes the pair, and the host route with it.
            host_end = f"klp{uuid.uuid4().hex[:10]}"
            ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
            ip("addr", "add", f"{HOST_END}/32", "dev", host_end)
            ip("link", "set", host_end, "up")
            ip("route", "add", f"{self.pod_ip}/32", "dev", host_end, "src", HOST_END)
            ip("-n", self.netns, "addr", "add", f"{self.pod_ip}/32", "dev", "eth0")
            ip("-n", self.netns, "link", "set", "eth0", "up")
            ip("-n", self.netns, "route", "add", f"{HOST_END}/32", "dev", "eth0")
            ip("-n", self.netns, "route", "add", POD_CIDR, "via", HOST_END, "dev", "eth0")
        self.addresses: dict[str, str] = {}
        hosts = ["127.0.0.1 localhost"]
        for i, (names, ports) in enumerate(self.services):
            address = f"127.0.1.{i + 1}"
            hosts.append(f"{address} {' '.join(names)}")
            self.addresses.update(dict.fromkeys(names, address))
            for port, backend in ports.items():
                self._forward(address, port, backend, names)
        (self.dir / "hosts").write_text("\n".join(hosts) + "\n")

    def _forward(self, address: str, port: int, backend: str, names: list[str]) -> None:
        with _in_netns(self.netns):
            listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(64)
        self._listeners.append(listener)
        host, backend_port = backend.rsplit(":", 1)

        def serve() -> None:
            while not self.closed:
                try:
                    inside, _ = listener.accept()
                except OSError:
                    return
                try:
                    if self.down(names):
                        raise ConnectionRefusedError(names[0])
                    outside = socket.create_connection((host, int(backend_port)), timeout=5)
                    outside.settimeout(None)
                except OSError:
                    inside.close()  # the backend is down: the pod sees a reset, as through kube-proxy
                    continue
                self._open.append((names, inside, outside))
                threading.Thread(target=_pump, args=(inside, outside), daemon=True).start()
                threading.Thread(target=_pump, args=(outside, inside), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()

    def connect(self, port: int, timeout: float = 2.0) -> socket.socket:
        """A connection to the pod's own 127.0.0.1:port (how the kubelet probes it)."""
        with _in_netns(self.netns):
            s = socket.socket()
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        return s

    def http_status(self, port: int, path: str) -> int | None:
        """The status of GET path on the pod's port, or None when nothing answers (a kubelet httpGet probe)."""
        try:
            with self.connect(port) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
                head = s.recv(64).decode(errors="replace")
        except OSError:
            return None
        parts = head.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    def command(self, argv: list[str], mounts: list[Mount], workdir: str = "/") -> list[str]:
        """The command line that runs ``argv`` as the pod's container: in the network namespace, a private
        mount namespace, chroot-ed into the assembled root."""
        root = str(self.dir / "root")
        lines = [
            "set -e",
            f"R={shlex.quote(root)}",
            'mkdir -p "$R" && mount -t tmpfs -o mode=755 pod-root "$R"',
            # The image's userland: the host's, read-only.
            'for d in usr lib lib32 lib64 bin sbin etc; do',
            '  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d"',
            '  elif [ -d "/$d" ]; then mkdir "$R/$d" && mount --rbind "/$d" "$R/$d" && mount -o remount,bind,ro "$R/$d"; fi',
            'done',
            'mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/run"',
            'mount --rbind /dev "$R/dev" && mount -t proc proc "$R/proc" && mount -t tmpfs tmpfs "$R/tmp"',
            f'mount --bind {shlex.quote(str(self.dir / "hosts"))} "$R/etc/hosts"',
        ]
        for m in mounts:
            source, target = shlex.quote(m.source), shlex.quote(m.target)
            lines.append(f'if [ -d {source} ]; then mkdir -p "$R"{target}; '
                         f'else mkdir -p "$(dirname "$R"{target})" && touch "$R"{target}; fi')
            lines.append(f'mount --bind {source} "$R"{target}')
            if m.read_only:
                lines.append(f'mount -o remount,bind,ro "$R"{target}')
        lines.append(f'cd "$R"{shlex.quote(workdir)} && exec chroot "$R" "$@"')
        return ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--propagation", "private",
                "sh", "-c", "\n".join(lines), "pod-sandbox", *argv]

    def cut(self) -> None:
        """Close the open connections to Services that are down now (their backend went away)."""
        for names, inside, outside in list(self._open):
            if self.down(names):
                for sock in (inside, outside):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                        sock.close()
                self._open.remove((names, inside, outside))

    def close(self) -> None:
        self.closed = True
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.close()
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
