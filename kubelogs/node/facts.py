"""pyinfra facts the node stage reads: all it needs to know about a node in one command (``NodeState``).
Later stages do not ask the node again: they get what was read from ``kubelogs.node.state``."""

from __future__ import annotations

from collections.abc import Sequence
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


_STAT = "'%u %g %a %F'"  # numeric owner, group, octal mode, type


def disk_from(df_line: str) -> dict[str, Any] | None:
    """A ``df -PkT`` data line as a dict; None for an empty or unreadable line."""
    try:
        filesystem, fstype, size, _used, available, capacity, mountpoint = df_line.split(None, 6)
        return {
            "filesystem": filesystem,
            "type": fstype,
            "size_kb": int(size),
            "available_kb": int(available),
            "used_percent": int(capacity.rstrip("%")),
            "mountpoint": mountpoint,
        }
    except ValueError:
        return None


def stat_from(text: str) -> dict[str, Any] | None:
    """``stat -c '%u %g %a %F'`` output as a dict; None when the path does not exist (empty output)."""
    if not text.strip():
        return None
    uid, gid, mode, kind = text.split(" ", 3)
    return {"type": kind, "uid": int(uid), "gid": int(gid), "mode": int(mode, 8)}


# The chunk files in the dead-letter directory $d, and the directory's size in KiB (coreutils only; no
# glob on the command line: a queue can hold more files than an argument list takes).
DEAD_LETTERS_SCRIPT = r"""if [ -d "$d" ]; then
  echo "dead_letters=$(ls -1 "$d" | grep -c '\.flb$') $(du -sk "$d" | cut -f 1)"
fi
"""


# Every persisted vm.max_map_count in the places systemd-sysctl and `sysctl --system` read at boot, in
# their precedence order (decisions.boot_value orders them as they apply); /etc/sysctl.conf is procps' last.
SYSCTL_PLACES = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
PERSISTED_SCRIPT = r"""for f in """ + " ".join(f"{d}/*.conf" for d in SYSCTL_PLACES) + r""" /etc/sysctl.conf; do
  [ -f "$f" ] || continue
  sed -n 's/^[[:space:]]*-\{0,1\}vm[./]max_map_count[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$f" |
    while read -r v; do printf 'persisted=%s\t%s\n' "$f" "$v"; done
done
"""


def dead_letters_from(text: str) -> dict[str, int] | None:
    files, _, kib = text.strip().partition(" ")
    return {"files": int(files), "kib": int(kib)} if files.isdigit() and kib.isdigit() else None


# The container runtime daemon's open-files limits (containers inherit them, unless the runtime's own
# configuration sets others): the first of these processes found in /proc, "<name> <soft> <hard>".
RUNTIME_LIMITS_SCRIPT = r"""for p in /proc/[0-9]*; do
  n=$(cat "$p/comm" 2>/dev/null)
  case "$n" in containerd|dockerd|crio)
    echo "nofile=$n $(sed -n 's/^Max open files *\([^ ]*\) *\([^ ]*\).*/\1 \2/p' "$p/limits" 2>/dev/null)"; break ;;
  esac
done
"""


def runtime_limits_from(value: str) -> dict[str, Any] | None:
    """{"process", "soft", "hard"} (None for "unlimited") from the script's line, or None."""
    parts = value.split()
    if len(parts) != 3:
        return None
    limit = {"unlimited": None}
    try:
        soft, hard = (limit[v] if v in limit else int(v) for v in parts[1:])
    except ValueError:
        return None
    return {"process": parts[0], "soft": soft, "hard": hard}


class NodeState(FactBase):
    """Everything the node stage needs to know about a node, in one command (one round trip).

    + data_path: the Elasticsearch data path; ``disk`` is the filesystem that holds it (or would hold
      it: its nearest existing parent)
    + sysctl_file: the persisted sysctl file; ``sysctl_file`` is its numeric stat and sha1, or None;
      ``persisted`` is every (file, value) that sets vm.max_map_count where the boot reads them
    + directories: paths whose numeric stat to read (a list; on the command line, comma-separated)
    + dead_letters: the log agent's dead-letter directory; ``dead_letters`` is its chunk files' count and
      size, or None when the directory does not exist

    ``runtime_nofile`` is the container runtime daemon's open-files limits (containerd, dockerd or crio, as
    found in /proc), or None when none runs where the probe can see it.

    Numeric stat on purpose: a uid with no passwd entry on the node (Elasticsearch's 1000) still
    compares. Needs only sh and coreutils (no procps: ``ps`` is optional, ``sysctl`` is not used).

    .. code:: python

        {"runtime": "containerd", "evidence": "containerRuntimeEndpoint: unix:///run/containerd/containerd.sock",
         "disk": {"filesystem": "/dev/vda", "type": "ext4", "size_kb": 263174212, "available_kb": 83886080,
                  "used_percent": 68, "mountpoint": "/"},
         "max_map_count": 262144,
         "sysctl_file": {"type": "regular file", "uid": 0, "gid": 0, "mode": 0o644, "sha1": "3f7..."},
         "persisted": [("/etc/sysctl.d/90-kubelogs-elasticsearch.conf", 262144)],
         "paths": {"/es-data": {"type": "directory", "uid": 1000, "gid": 1000, "mode": 0o750},
                   "/var/lib/fluent-bit": None},
         "dead_letters": {"files": 2, "kib": 12},
         "runtime_nofile": {"process": "containerd", "soft": 1024, "hard": 524288}}
    """

    def command(self, data_path: str, sysctl_file: str, directories: Sequence[str] | str = (),
                dead_letters: str = "") -> StringCommand:
        if isinstance(directories, str):
            directories = [d for d in directories.split(",") if d]
        parts: list[Any] = [
            _RUNTIME_SCRIPT,
            "p=", QuoteString(data_path), '; while [ ! -e "$p" ]; do p=$(dirname "$p"); done\n',
            'echo "df=$(df -PkT "$p" 2>/dev/null | tail -n 1)"\n',
            'echo "live=$(cat /proc/sys/vm/max_map_count 2>/dev/null)"\n',
            "f=", QuoteString(sysctl_file), "\n",
            'if [ -e "$f" ]; then echo "file=$(sha1sum < "$f" 2>/dev/null | cut -d " " -f 1) $(stat -c ', _STAT,
            ' "$f")"; else echo "file="; fi\n',
            PERSISTED_SCRIPT,
            RUNTIME_LIMITS_SCRIPT,
        ]
        for path in directories:
            parts += ["p=", QuoteString(path), '; printf "stat=%s\\t%s\\n" "$p" "$(stat -c ', _STAT,
                      ' "$p" 2>/dev/null)"\n']
        if dead_letters:
            parts += ["d=", QuoteString(dead_letters), "\n", DEAD_LETTERS_SCRIPT]
        parts.append("true")
        return StringCommand(*parts, _separator="")

    @staticmethod
    def default() -> dict[str, Any]:
        return {"runtime": "unknown", "evidence": "node state probe printed nothing", "disk": None,
                "max_map_count": None, "sysctl_file": None, "persisted": [], "paths": {}, "dead_letters": None,
                "runtime_nofile": None}

    def process(self, output: list[str]) -> dict[str, Any]:
        state = self.default()
        state.update(ContainerRuntime().process([line for line in output if line.startswith(("endpoint=", "socket="))]))
        for line in output:
            key, _, value = line.partition("=")
            if key == "df":
                state["disk"] = disk_from(value)
            elif key == "live":
                state["max_map_count"] = int(value) if value.strip().isdigit() else None
            elif key == "file" and value.strip():
                sha1, _, stat = value.partition(" ")
                state["sysctl_file"] = stat_from(stat)
                if state["sysctl_file"] is not None:
                    state["sysctl_file"]["sha1"] = sha1
            elif key == "stat":
                path, _, stat = value.partition("\t")
                state["paths"][path] = stat_from(stat)
            elif key == "dead_letters":
                state["dead_letters"] = dead_letters_from(value)
            elif key == "nofile":
                state["runtime_nofile"] = runtime_limits_from(value)
            elif key == "persisted":
                path, _, number = value.partition("\t")
                if number.strip().isdigit():
                    state["persisted"].append((path, int(number)))
        return state
