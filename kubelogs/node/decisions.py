"""What the node stage decides from a node's state (``NodeState``), before any operation: which paths and
files it manages, what no operation can fix, how full the data filesystem may be. No pyinfra context
here: the ``@deploy`` in tasks/node.py turns these decisions into operations and log lines."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import NamedTuple

from pyinfra.api.util import get_template

from kubelogs import compatibility as compat
from kubelogs.settings import Settings

SYSCTL_FILE = "/etc/sysctl.d/90-kubelogs-elasticsearch.conf"
SYSCTL_TEMPLATE = Path(__file__).resolve().parents[2] / "files" / "sysctl-elasticsearch.conf.j2"
# Every directory the stage may manage; all are read by the one fact, before the agent is known.
CANDIDATE_AGENT_DIRS = tuple(dict.fromkeys(d for agent in compat.AGENTS.values() for d in agent.state_dirs))


class DirectoryOp(NamedTuple):
    """One ``numeric_directories`` operation the node needs: its name, and the directories' owner and mode."""

    name: str
    paths: list[str]
    uid: int
    gid: int
    mode: int


def data_directory(settings: Settings, holds_data: bool) -> DirectoryOp | None:
    """The Elasticsearch hostPath data directory (and the dedicated masters' beside it), on a node that holds
    data with hostPath storage."""
    es = settings.elasticsearch
    if not (holds_data and es.storage == "hostPath"):
        return None
    return DirectoryOp(f"Elasticsearch data directory {' and '.join(es.data_paths)}", es.data_paths,
                       compat.ES_UID, compat.ES_GID, int(es.data_mode, 8))


def agent_directories(agent: compat.Agent | None) -> DirectoryOp | None:
    """The state directories of the node's log agent (None: no agent can run there)."""
    if agent is None:
        return None
    dirs = "directory" if len(agent.state_dirs) == 1 else "directories"
    return DirectoryOp(f"{agent.name} state {dirs} {', '.join(agent.state_dirs)}", list(agent.state_dirs), 0, 0, 0o755)


def impossible_state(state: dict, directory_ops: list[DirectoryOp]) -> tuple[str, str] | None:
    """(operation name, one-line reason) when a path the stage manages is in the way, else None."""
    for name, paths, *_ in directory_ops:
        for path in paths:
            stat = state["paths"].get(path)
            if stat is not None and stat["type"] != "directory":
                return f"Check {name}", f"{path} exists but is a {stat['type']}, not a directory; move it away"
    persisted = state["sysctl_file"]
    if persisted is not None and persisted["type"] not in ("regular file", "regular empty file"):
        return (f"Check {SYSCTL_FILE}",
                f"{SYSCTL_FILE} exists but is a {persisted['type']}, not a file; move it away")
    return None


def boot_value(persisted: list[tuple[str, int]]) -> tuple[int, str] | None:
    """(value, file) of vm.max_map_count as a boot applies the files: each file name once (the first of
    ``facts.SYSCTL_PLACES`` that holds it masks the others), in lexical order of the names, the last line of
    the last file winning; /etc/sysctl.conf after them all (procps' ``sysctl --system``). None: none sets it."""
    first: dict[str, str] = {}  # file name -> the path that wins it
    for path, _ in persisted:
        name = PurePosixPath(path).name
        if path != "/etc/sysctl.conf" and name not in first:
            first[name] = path
    applied = [(path, value) for name in sorted(first) for path, value in persisted if path == first[name]]
    applied += [(path, value) for path, value in persisted if path == "/etc/sysctl.conf"]
    return (applied[-1][1], applied[-1][0]) if applied else None


def boot_time_problem(state: dict, value: int, required: int) -> tuple[str, str] | None:
    """(operation name, one-line reason) when, with SYSCTL_FILE set to ``value``, the next boot would leave
    vm.max_map_count below ``required`` (another file read after ours sets less), else None."""
    persisted = [(p, v) for p, v in state.get("persisted") or [] if p != SYSCTL_FILE] + [(SYSCTL_FILE, value)]
    effective, winner = boot_value(persisted) or (value, SYSCTL_FILE)
    if effective >= required:
        return None
    return ("Check the files that set vm.max_map_count at boot",
            f"{winner} sets vm.max_map_count = {effective} and is read after {SYSCTL_FILE} at boot (sysctl files "
            f"apply in the lexical order of their names, /etc/sysctl.conf last): the next boot would undo "
            f"Elasticsearch's {required}. Raise it there to at least {required}, or remove that line")


def describe_disk(settings: Settings, disk: dict | None) -> str:
    """The data filesystem in a few words, for the node's log line."""
    if disk is None:
        return f"free space of {settings.elasticsearch.data_path} unknown"
    free_gib = disk["available_kb"] / 2**20
    return (f"{settings.elasticsearch.data_path} on {disk['type']} {disk['filesystem']}: "
            f"{free_gib:.1f} GiB free, {disk['used_percent']}% used")


def describe_runtime_limits(limits: dict | None) -> str:
    """The runtime's open-files limits as the node stage reports them, and whether Elasticsearch can start."""
    if limits is None:
        return "runtime open files: not readable here"
    shown = {k: "unlimited" if limits[k] is None else str(limits[k]) for k in ("soft", "hard")}
    return f"{limits['process']} open files {shown['soft']}/{shown['hard']} (soft/hard)"


def runtime_limits_problem(limits: dict | None) -> str | None:
    """Why an Elasticsearch pod on this node cannot start: the runtime's open-files hard limit is below what
    Elasticsearch's bootstrap check needs (the container raises its soft limit itself up to the hard one)."""
    if limits is None or limits["hard"] is None or limits["hard"] >= compat.ES_MIN_OPEN_FILES:
        return None
    return (f"{limits['process']}'s open-files hard limit is {limits['hard']}, below the {compat.ES_MIN_OPEN_FILES} "
            "Elasticsearch needs: an Elasticsearch pod here will not start. Raise it (LimitNOFILE=1048576 in a "
            f"drop-in for {limits['process']}.service, then restart it)")


def disk_headroom_problem(settings: Settings, disk: dict | None) -> str | None:
    """Why the data filesystem is too full for Elasticsearch (at or past its flood stage), else None.
    ``settings.nodes.low_disk`` says whether that warns or fails the node."""
    limit = settings.nodes.flood_stage_percent
    if disk is None or disk["used_percent"] < limit:
        return None
    return (f"{settings.elasticsearch.data_path} is on a filesystem {disk['used_percent']}% full, at or past "
            f"Elasticsearch's flood-stage watermark ({limit}%): indices there would turn read-only. "
            "Free space, or set kubelogs.nodes.low_disk / flood_stage_percent.")


def sysctl_content(settings: Settings, value: int) -> str:
    """The persisted sysctl file, exactly as the template renders it."""
    return get_template(str(SYSCTL_TEMPLATE)).render(required=settings.max_map_count, value=value)
