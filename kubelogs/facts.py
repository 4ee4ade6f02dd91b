"""pyinfra facts the node stage reads, and that later stages read back from pyinfra's fact cache."""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

# Where kubelet's runtime endpoint is declared, most specific first: the running kubelet,
# kubeadm's flags file (Kubernetes < 1.27), the kubelet config file (1.27+).
_RUNTIME_SCRIPT = r"""
ep=$(ps -C kubelet -o args= 2>/dev/null | grep -o -- '--container-runtime-endpoint[= ][^ ]*' | head -n 1)
[ -n "$ep" ] || ep=$(grep -ho -- 'container-runtime-endpoint=[^ "]*' /var/lib/kubelet/kubeadm-flags.env 2>/dev/null | head -n 1)
[ -n "$ep" ] || ep=$(grep -h '^containerRuntimeEndpoint:' /var/lib/kubelet/config.yaml 2>/dev/null | head -n 1)
echo "endpoint=$ep"
for s in /run/cri-dockerd.sock /var/run/cri-dockerd.sock /run/containerd/containerd.sock /var/run/crio/crio.sock /var/run/docker.sock; do
  [ -S "$s" ] && echo "socket=$s"
done
true
"""

# (substring of kubelet's endpoint or of a socket path, runtime); first match wins.
_RUNTIME_MARKERS = (
    ("cri-dockerd", "docker"),
    ("dockershim", "docker"),
    ("containerd", "containerd"),
    ("crio", "cri-o"),
    ("docker.sock", "docker"),
)


def runtime_from(endpoint: str, sockets: list[str]) -> tuple[str, str]:
    """(runtime, evidence) from kubelet's runtime endpoint, else from the sockets present."""
    for candidate in ([endpoint] if endpoint else []) + sockets:
        for marker, runtime in _RUNTIME_MARKERS:
            if marker in candidate:
                return runtime, candidate
    return "unknown", "no kubelet runtime endpoint and no runtime socket found"


class ContainerRuntime(FactBase):
    """The container runtime kubelet uses on this node.

    .. code:: python

        {"runtime": "containerd", "evidence": "--container-runtime-endpoint=unix:///run/containerd/containerd.sock"}
    """

    def command(self) -> str:
        return _RUNTIME_SCRIPT

    @staticmethod
    def default() -> dict[str, str]:
        return {"runtime": "unknown", "evidence": "runtime probe printed nothing"}

    def process(self, output: list[str]) -> dict[str, str]:
        endpoint = ""
        sockets: list[str] = []
        for line in output:
            key, _, value = line.partition("=")
            if key == "endpoint":
                endpoint = value.strip()
            elif key == "socket":
                sockets.append(value.strip())
        runtime, evidence = runtime_from(endpoint, sockets)
        return {"runtime": runtime, "evidence": evidence}


class DiskUsage(FactBase):
    """Space on the filesystem that holds ``path`` (or would hold it: its nearest existing parent).

    .. code:: python

        {"filesystem": "/dev/vda", "type": "ext4", "size_kb": 263174212, "available_kb": 83886080,
         "used_percent": 68, "mountpoint": "/"}
    """

    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "p=", QuoteString(path), '; while [ ! -e "$p" ]; do p=$(dirname "$p"); done;',
            'df -PkT "$p" | tail -n 1',
            _separator="",
        )

    @staticmethod
    def default() -> dict[str, Any] | None:
        return None

    def process(self, output: list[str]) -> dict[str, Any]:
        filesystem, fstype, size, used, available, capacity, mountpoint = output[-1].split(None, 6)
        return {
            "filesystem": filesystem,
            "type": fstype,
            "size_kb": int(size),
            "available_kb": int(available),
            "used_percent": int(capacity.rstrip("%")),
            "mountpoint": mountpoint,
        }


class NumericPathStat(FactBase):
    """Type, numeric owner, group and mode of a path; None when it does not exist.

    Numeric on purpose: a uid with no passwd entry on the node (Elasticsearch's 1000) still compares.

    .. code:: python

        {"type": "directory", "uid": 1000, "gid": 1000, "mode": 0o750}
    """

    def command(self, path: str) -> StringCommand:
        return StringCommand("stat -c '%u %g %a %F'", QuoteString(path), "2>/dev/null || true")

    @staticmethod
    def default() -> dict[str, Any] | None:
        return None

    def process(self, output: list[str]) -> dict[str, Any]:
        uid, gid, mode, kind = output[0].split(" ", 3)
        return {"type": kind, "uid": int(uid), "gid": int(gid), "mode": int(mode, 8)}
