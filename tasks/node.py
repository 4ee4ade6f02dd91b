"""Node stage: make one Kubernetes node ready for Elasticsearch and its log agent.

One fact (``NodeState``) reads everything the stage needs to know about the node in one round trip;
every operation is decided from it and yields at most one command, only when something must change.
"""

from __future__ import annotations

from pathlib import Path

import gevent.event
from pyinfra import host, inventory, logger
from pyinfra.api import deploy
from pyinfra.api.host import Host
from pyinfra.api.util import get_template

from kubelogs import compatibility as compat
from kubelogs.facts import ContainerRuntime, NodeState
from kubelogs.inventory import KUBE_NODES, data_node_names
from kubelogs.manifests import fluent_bit
from kubelogs.operations import fail_host, numeric_directories, root_file, sysctl_live
from kubelogs.settings import Settings

SYSCTL_FILE = "/etc/sysctl.d/90-kubelogs-elasticsearch.conf"
SYSCTL_TEMPLATE = Path(__file__).resolve().parent.parent / "files" / "sysctl-elasticsearch.conf.j2"
# Every directory the stage may manage; all are read by the one fact, before the agent is known.
CANDIDATE_AGENT_DIRS = tuple(dict.fromkeys(d for agent in compat.AGENTS.values() for d in agent.state_dirs))
RUNTIME_WAIT_S = 120

_runtimes: dict[str, dict] = {}
_states: dict[str, dict] = {}  # inventory host name -> its NodeState, this run
_dead_letters: dict[str, dict | None] = {}  # Kubernetes node name -> NodeState's dead_letters, read this run
_gathered: dict[str, gevent.event.Event] = {}


def _gathered_event(name: str) -> gevent.event.Event:
    return _gathered.setdefault(name, gevent.event.Event())


def node_runtime(node: Host) -> dict:
    """``{"runtime": ..., "evidence": ...}`` of a node, read once per run (both stages need it).

    The node stage reads it with the node's state; the cluster stage, planned on the control host while
    the nodes load in parallel, waits for that instead of reading it again. A node that does not run
    the node stage in this run (e.g. not active) is asked directly.
    """
    if node.name not in _runtimes and KUBE_NODES in node.groups and node in inventory.get_active_hosts():
        _gathered_event(node.name).wait(RUNTIME_WAIT_S)
    if node.name not in _runtimes:
        _runtimes[node.name] = node.get_fact(ContainerRuntime)
    return _runtimes[node.name]


def read_node_state(settings: Settings) -> dict:
    """This node's ``NodeState``, read once per run (one round trip: pyinfra 3 caches no fact); the verify
    stage reads its dead letters from here too."""
    if host.name in _states:
        return _states[host.name]
    es = settings.elasticsearch
    try:
        state = _states[host.name] = host.get_fact(NodeState, data_path=es.data_path, sysctl_file=SYSCTL_FILE,
                              directories=[es.data_path, *CANDIDATE_AGENT_DIRS], dead_letters=fluent_bit.DEAD_LETTERS_DIR)
        _runtimes.setdefault(host.name, {"runtime": state["runtime"], "evidence": state["evidence"]})
        _dead_letters[host.data.get("kube_node_name") or host.name] = state["dead_letters"]
    finally:
        _gathered_event(host.name).set()
    return state


def dead_letters_read() -> dict[str, dict | None]:
    """Per Kubernetes node whose state this run read: its agent's dead letters (None: no such directory)."""
    return dict(_dead_letters)


def sysctl_content(settings: Settings, value: int) -> str:
    """The persisted sysctl file, exactly as the template renders it."""
    return get_template(str(SYSCTL_TEMPLATE)).render(required=settings.max_map_count, value=value)


@deploy("Prepare Kubernetes node")
def prepare_node(settings: Settings) -> None:
    """Check disk headroom, ensure vm.max_map_count and the hostPath directories this node needs."""
    es = settings.elasticsearch
    state = read_node_state(settings)
    runtime = _runtimes[host.name]
    holds_data = host.name in data_node_names(inventory)
    data_dir = holds_data and es.storage == "hostPath"
    agent = compat.agent_for_node(settings.agents.collector, runtime["runtime"], es.major)
    logger.info(
        f"{host.print_prefix}runtime {runtime['runtime']} ({runtime['evidence']}); "
        f"agent {agent.name if agent else 'none'}; {describe_disk(settings, state['disk'])}"
    )

    data_dir_op = agent_dirs_op = None  # (operation name, paths, uid, gid, mode)
    if data_dir:
        data_dir_op = (f"Elasticsearch data directory {es.data_path}", [es.data_path],
                       compat.ES_UID, compat.ES_GID, int(es.data_mode, 8))
    if agent is None:
        logger.warning(f"{host.print_prefix}no log agent can run here (runtime {runtime['runtime']})")
    else:
        dirs = "directory" if len(agent.state_dirs) == 1 else "directories"
        agent_dirs_op = (f"{agent.name} state {dirs} {', '.join(agent.state_dirs)}", list(agent.state_dirs),
                         0, 0, 0o755)

    # A state no operation can fix fails this node, with one line, before anything changes on it.
    problem = impossible_state(state, [op for op in (data_dir_op, agent_dirs_op) if op])
    if problem:
        fail_host(name=problem[0], message=problem[1])
        return
    if holds_data and not check_disk_headroom(settings, state["disk"]):
        return

    ensure_max_map_count(settings, state)
    # Separate call lines: pyinfra identifies an operation across hosts by where it is called.
    if data_dir_op:
        name, paths, uid, gid, mode = data_dir_op
        numeric_directories(name=name, paths=paths, uid=uid, gid=gid, mode=mode, current=state["paths"])
    if agent_dirs_op:
        name, paths, uid, gid, mode = agent_dirs_op
        numeric_directories(name=name, paths=paths, uid=uid, gid=gid, mode=mode, current=state["paths"])


def impossible_state(state: dict, directory_ops: list[tuple]) -> tuple[str, str] | None:
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


def describe_disk(settings: Settings, disk: dict | None) -> str:
    if disk is None:
        return f"free space of {settings.elasticsearch.data_path} unknown"
    free_gib = disk["available_kb"] / 2**20
    return (f"{settings.elasticsearch.data_path} on {disk['type']} {disk['filesystem']}: "
            f"{free_gib:.1f} GiB free, {disk['used_percent']}% used")


def check_disk_headroom(settings: Settings, disk: dict | None) -> bool:
    """Warn, or fail this node, when its data filesystem is past Elasticsearch's flood stage.
    False when the node fails (nothing more is to be done on it)."""
    limit = settings.nodes.flood_stage_percent
    if disk is None or disk["used_percent"] < limit:
        return True
    message = (f"{settings.elasticsearch.data_path} is on a filesystem {disk['used_percent']}% full, at or past "
               f"Elasticsearch's flood-stage watermark ({limit}%): indices there would turn read-only. "
               "Free space, or set kubelogs.nodes.low_disk / flood_stage_percent.")
    if settings.nodes.low_disk == "fail":
        _fail_disk_headroom(message)
        return False
    logger.warning(f"{host.print_prefix}{message}")
    return True


@deploy("Check disk headroom")
def _fail_disk_headroom(message: str) -> None:
    fail_host(name="Disk headroom for Elasticsearch", message=message)


@deploy("Ensure vm.max_map_count")
def ensure_max_map_count(settings: Settings, state: dict) -> None:
    """Raise vm.max_map_count live to what Elasticsearch needs (never lower it) and persist it."""
    key, live = "vm.max_map_count", state["max_map_count"]
    value = max(live or 0, settings.max_map_count)
    sysctl_live(name=f"{key} >= {settings.max_map_count} (live)", key=key, value=value, live=live)
    root_file(name=f"{key} >= {settings.max_map_count} (persisted in {SYSCTL_FILE})",
              path=SYSCTL_FILE, content=sysctl_content(settings, value), current=state["sysctl_file"])
