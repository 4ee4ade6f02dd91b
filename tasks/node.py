"""Node stage: make one Kubernetes node ready for Elasticsearch and its log agent.

One fact (``NodeState``) reads everything the stage needs to know about the node in one round trip
(``run.nodes``, shared with the later stages); every operation is decided from it (``kubelogs.node``)
and yields at most one command, only when something must change.
"""

from __future__ import annotations

from pyinfra import host, inventory, logger
from pyinfra.api import deploy

from kubelogs import compatibility as compat
from kubelogs.inventory import data_node_names
from kubelogs.node.decisions import (
    SYSCTL_FILE,
    agent_directories,
    boot_time_problem,
    data_directory,
    describe_disk,
    describe_runtime_limits,
    disk_headroom_problem,
    impossible_state,
    runtime_limits_problem,
    sysctl_content,
)
from kubelogs.node.operations import fail_host, numeric_directories, root_file, sysctl_live
from kubelogs.preflight import Run
from kubelogs.settings import Settings


@deploy("Prepare Kubernetes node")
def prepare_node(run: Run) -> None:
    """Check disk headroom, ensure vm.max_map_count and the hostPath directories this node needs."""
    settings = run.settings
    state = run.nodes.read(host, settings)
    runtime = run.nodes.runtime(host)  # as read with the state (no round trip)
    holds_data = host.name in data_node_names(inventory)
    agent = compat.agent_for_node(settings.agents.collector, runtime["runtime"], settings.elasticsearch.major)
    logger.info(
        f"{host.print_prefix}runtime {runtime['runtime']} ({runtime['evidence']}); "
        f"agent {agent.name if agent else 'none'}; {describe_disk(settings, state['disk'])}; "
        f"{describe_runtime_limits(state['runtime_nofile'])}"
    )
    # Where an Elasticsearch pod may run: a data node, or any node with PVC storage.
    may_run_es = holds_data or settings.elasticsearch.storage == "pvc"
    too_low = runtime_limits_problem(state["runtime_nofile"]) if may_run_es else None
    if too_low:
        logger.warning(f"{host.print_prefix}{too_low}")

    data_dir_op = data_directory(settings, holds_data)
    agent_dirs_op = agent_directories(agent)
    if agent is None:
        logger.warning(f"{host.print_prefix}no log agent can run here (runtime {runtime['runtime']})")

    # A state no operation can fix fails this node, with one line, before anything changes on it.
    problem = impossible_state(state, [op for op in (data_dir_op, agent_dirs_op) if op]) \
        or boot_time_problem(state, max(state["max_map_count"] or 0, settings.max_map_count), settings.max_map_count)
    if problem:
        fail_host(name=problem[0], message=problem[1])
        return
    low_disk = disk_headroom_problem(settings, state["disk"]) if holds_data else None
    if low_disk and settings.nodes.low_disk == "fail":
        _fail_disk_headroom(low_disk)
        return
    if low_disk:
        logger.warning(f"{host.print_prefix}{low_disk}")

    ensure_max_map_count(settings, state)
    # Separate call lines: pyinfra identifies an operation across hosts by where it is called.
    if data_dir_op:
        numeric_directories(name=data_dir_op.name, paths=data_dir_op.paths, uid=data_dir_op.uid,
                            gid=data_dir_op.gid, mode=data_dir_op.mode, current=state["paths"])
    if agent_dirs_op:
        numeric_directories(name=agent_dirs_op.name, paths=agent_dirs_op.paths, uid=agent_dirs_op.uid,
                            gid=agent_dirs_op.gid, mode=agent_dirs_op.mode, current=state["paths"])


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
