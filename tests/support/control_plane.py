"""A real Kubernetes control plane on loopback for the tests: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler from ``$KUBELOGS_K8S_BIN``, no kubelet (tests/support/kubelet.py plays the nodes).

The flags follow the reference launcher in ../shared/tools/kubernetes/control-plane.sh; certificates are
made here with ``cryptography`` (a dependency of the deploy already). Everything listens on 127.0.0.1
only, on free ports; ``stop()`` ends every process it started.
"""

from __future__ import annotations

import base64
import ctypes
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_CIDR = "10.96.0.0/12"
# Without a kubelet there are no heartbeats; the node-lifecycle controller would mark the played nodes
# Unknown after its grace period, so that period is made very long (as the reference launcher does).
NODE_GRACE = "87600h"
READY_TIMEOUT = 120.0


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even killed (no orphan servers)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Pki:
    """A cluster CA, a front-proxy CA, and the certificates the components need (EC P-256: fast to make)."""

    def __init__(self, directory: Path):
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_key, self.ca = self._ca("kubelogs-test-ca", "ca")
        self.proxy_key, self.proxy_ca = self._ca("kubelogs-test-front-proxy-ca", "front-proxy-ca")
        self.sign("apiserver", "kube-apiserver", server=True, sans=[
            "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", "127.0.0.1", "10.96.0.1"])
        self.sign("admin", "kubernetes-admin", organization="system:masters")
        self.sign("controller-manager", "system:kube-controller-manager")
        self.sign("scheduler", "system:kube-scheduler")
        self.sign("front-proxy-client", "front-proxy-client", ca=(self.proxy_key, self.proxy_ca))
        sa_key = ec.generate_private_key(ec.SECP256R1())
        self._write("sa.key", sa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        self._write("sa.pub", sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo))

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def _write(self, name: str, data: bytes) -> None:
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o600)

    def _save(self, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self._write(f"{name}.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        self._write(f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM))

    def _ca(self, common_name: str, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                .sign(key, hashes.SHA256()))
        self._save(name, key, cert)
        return key, cert

    def sign(self, name: str, common_name: str, organization: str | None = None, server: bool = False,
             sans: list[str] = (), ca: tuple | None = None) -> None:
        ca_key, ca_cert = ca or (self.ca_key, self.ca)
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(x509.Name(attributes)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(
                       [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if sans:
            names: list[x509.GeneralName] = []
            for san in sans:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(san)))
                except ValueError:
                    names.append(x509.DNSName(san))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        self._save(name, key, builder.sign(ca_key, hashes.SHA256()))


def write_kubeconfig(path: Path, server: str, pki: Pki, cert: str) -> None:
    """A kubeconfig for ``server`` that trusts the cluster CA and logs in with client certificate ``cert``."""
    def b64(name: str) -> str:
        return base64.b64encode(Path(pki.path(name)).read_bytes()).decode()

    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: local\n  cluster:\n    server: {server}\n"
        f"    certificate-authority-data: {b64('ca.crt')}\n"
        f"users:\n- name: {cert}\n  user:\n    client-certificate-data: {b64(cert + '.crt')}\n"
        f"    client-key-data: {b64(cert + '.key')}\n"
        f"contexts:\n- name: {cert}@local\n  context: {{cluster: local, user: {cert}}}\n"
        f"current-context: {cert}@local\n")
    path.chmod(0o600)


class ControlPlane:
    """Start with ``start()``; ``kubeconfig`` is an admin kubeconfig (client certificate, system:masters)."""

    def __init__(self, bin_dir: Path, workdir: Path):
        self.bin, self.dir = bin_dir, workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.kubeconfig = workdir / "admin.kubeconfig"
        self.server = ""

    def start(self) -> ControlPlane:
        started = time.monotonic()
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        self.pki = Pki(self.dir / "pki")
        etcd_port, peer_port, api_port, kcm_port, sched_port = free_ports(5)
        self.server = f"https://127.0.0.1:{api_port}"
        for user, cert in (("admin", "admin"), ("controller-manager", "controller-manager"), ("scheduler", "scheduler")):
            self._kubeconfig(self.dir / f"{user}.kubeconfig", cert)
        try:
            self._launch("etcd", self.bin / "etcd", "--name", "test", "--data-dir", str(self.dir / "etcd-data"),
                         "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                         "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                         "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                         "--initial-cluster", f"test=http://127.0.0.1:{peer_port}",
                         "--unsafe-no-fsync",  # a test cluster: durability across power loss is not needed
                         "--logger", "zap", "--log-outputs", "stderr")
            self._wait("etcd", lambda: urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=2))
            p = self.pki.path
            self._launch("kube-apiserver", self.bin / "kube-apiserver",
                         "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
                         "--endpoint-reconciler-type=none", f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                         f"--tls-cert-file={p('apiserver.crt')}", f"--tls-private-key-file={p('apiserver.key')}",
                         f"--client-ca-file={p('ca.crt')}",
                         f"--requestheader-client-ca-file={p('front-proxy-ca.crt')}",
                         "--requestheader-allowed-names=front-proxy-client",
                         "--requestheader-username-headers=X-Remote-User",
                         "--requestheader-group-headers=X-Remote-Group",
                         "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                         f"--proxy-client-cert-file={p('front-proxy-client.crt')}",
                         f"--proxy-client-key-file={p('front-proxy-client.key')}",
                         "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
                         "--allow-privileged=true", f"--service-cluster-ip-range={SERVICE_CIDR}",
                         "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                         f"--service-account-key-file={p('sa.pub')}",
                         f"--service-account-signing-key-file={p('sa.key')}",
                         "--kubelet-preferred-address-types=InternalIP", "--profiling=false")
            self._wait("kube-apiserver", lambda: self.request("/readyz"))
            common = ["--bind-address=127.0.0.1", "--leader-elect=false", "--profiling=false"]
            self._launch("kube-controller-manager", self.bin / "kube-controller-manager", *common,
                         f"--secure-port={kcm_port}", *self._component_auth("controller-manager"),
                         "--use-service-account-credentials=true",
                         f"--service-account-private-key-file={p('sa.key')}", f"--root-ca-file={p('ca.crt')}",
                         f"--cluster-signing-cert-file={p('ca.crt')}", f"--cluster-signing-key-file={p('ca.key')}",
                         f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*",
                         f"--node-monitor-grace-period={NODE_GRACE}", f"--node-startup-grace-period={NODE_GRACE}")
            self._launch("kube-scheduler", self.bin / "kube-scheduler", *common, f"--secure-port={sched_port}",
                         *self._component_auth("scheduler"))
            insecure = ssl.create_default_context()
            insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
            self._wait("kube-controller-manager", lambda: urllib.request.urlopen(
                f"https://127.0.0.1:{kcm_port}/healthz", context=insecure, timeout=2))
            self._wait("kube-scheduler", lambda: urllib.request.urlopen(
                f"https://127.0.0.1:{sched_port}/readyz", context=insecure, timeout=2))
            # The controllers really work once the service-account controller made default/default.
            self._wait("the default ServiceAccount", lambda: self.request(
                "/api/v1/namespaces/default/serviceaccounts/default"))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _component_auth(self, user: str) -> list[str]:
        config = self.dir / f"{user}.kubeconfig"
        return [f"--kubeconfig={config}", f"--authentication-kubeconfig={config}", f"--authorization-kubeconfig={config}"]

    def _kubeconfig(self, path: Path, cert: str) -> None:
        write_kubeconfig(path, self.server, self.pki, cert)

    def _launch(self, name: str, binary: Path, *args: str) -> None:
        log = open(self.dir / "logs" / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen([str(binary), *args], stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True,
                                                preexec_fn=die_with_parent)
        log.close()

    def _wait(self, what: str, probe) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}) while waiting for {what}:\n{self.log_tail(name)}")
            try:
                probe()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out after {READY_TIMEOUT:g} s waiting for {what}") from None
                time.sleep(0.2)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        context.load_cert_chain(self.pki.path("admin.crt"), self.pki.path("admin.key"))
        return context

    def request(self, path: str) -> bytes:
        with urllib.request.urlopen(self.server + path, context=self.ssl_context(), timeout=5) as response:
            return response.read()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.dir / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM in reverse start order, SIGKILL after 15 s; no process is left behind."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.processes.clear()
