"""Node stage: make one Kubernetes node ready for Elasticsearch and its log agent."""

from __future__ import annotations

from pathlib import Path

from pyinfra import host, inventory, logger
from pyinfra.api import OperationError, deploy
from pyinfra.api.host import Host
from pyinfra.facts.server import Sysctl
from pyinfra.operations import files, python

from kubelogs import compatibility as compat
from kubelogs.facts import ContainerRuntime, DiskUsage
from kubelogs.inventory import data_node_names
from kubelogs.operations import numeric_directory, sysctl_live
from kubelogs.settings import Settings

SYSCTL_FILE = "/etc/sysctl.d/90-kubelogs-elasticsearch.conf"
SYSCTL_TEMPLATE = Path(__file__).resolve().parent.parent / "files" / "sysctl-elasticsearch.conf.j2"


_runtimes: dict[str, dict] = {}


def node_runtime(node: Host) -> dict:
    """The ContainerRuntime fact of a node, gathered once per run (both stages need it)."""
    if node.name not in _runtimes:
        _runtimes[node.name] = node.get_fact(ContainerRuntime)
    return _runtimes[node.name]


@deploy("Prepare Kubernetes node")
def prepare_node(settings: Settings) -> None:
    """Check disk headroom, ensure vm.max_map_count and the hostPath directories this node needs."""
    runtime = node_runtime(host)
    disk = host.get_fact(DiskUsage, path=settings.elasticsearch.data_path)
    holds_data = host.name in data_node_names(inventory)
    agent = compat.agent_for_node(settings.agents.collector, runtime["runtime"], settings.elasticsearch.major)
    logger.info(
        f"{host.print_prefix}runtime {runtime['runtime']} ({runtime['evidence']}); "
        f"agent {agent.name if agent else 'none'}; {describe_disk(settings, disk)}"
    )

    if holds_data:
        check_disk_headroom(settings, disk)
    ensure_max_map_count(settings)
    if holds_data and settings.elasticsearch.storage == "hostPath":
        es = settings.elasticsearch
        numeric_directory(
            name=f"Elasticsearch data directory {es.data_path}",
            path=es.data_path, uid=compat.ES_UID, gid=compat.ES_GID, mode=int(es.data_mode, 8),
        )
    if agent is None:
        logger.warning(f"{host.print_prefix}no log agent can run here (runtime {runtime['runtime']})")
    else:
        for path in agent.state_dirs:
            numeric_directory(name=f"{agent.name} state directory {path}", path=path, uid=0, gid=0, mode=0o755)


def describe_disk(settings: Settings, disk: dict | None) -> str:
    if disk is None:
        return f"free space of {settings.elasticsearch.data_path} unknown"
    free_gib = disk["available_kb"] / 2**20
    return (f"{settings.elasticsearch.data_path} on {disk['type']} {disk['filesystem']}: "
            f"{free_gib:.1f} GiB free, {disk['used_percent']}% used")


@deploy("Check disk headroom")
def check_disk_headroom(settings: Settings, disk: dict | None) -> None:
    """Warn, or fail this node, when its data filesystem (the DiskUsage fact) is past Elasticsearch's flood stage."""
    limit = settings.nodes.flood_stage_percent
    if disk is None or disk["used_percent"] < limit:
        return
    message = (f"{settings.elasticsearch.data_path} is on a filesystem {disk['used_percent']}% full, at or past "
               f"Elasticsearch's flood-stage watermark ({limit}%): indices there would turn read-only. "
               "Free space, or set kubelogs.nodes.low_disk / flood_stage_percent.")
    if settings.nodes.low_disk == "fail":
        python.raise_exception(OperationError, message, name="Disk headroom for Elasticsearch")
    else:
        logger.warning(f"{host.print_prefix}{message}")


@deploy("Ensure vm.max_map_count")
def ensure_max_map_count(settings: Settings) -> None:
    """Raise vm.max_map_count live to what Elasticsearch needs (never lower it) and persist it."""
    key = "vm.max_map_count"
    live = host.get_fact(Sysctl, keys=[key]).get(key)
    value = max(live if isinstance(live, int) else 0, settings.max_map_count)
    sysctl_live(name=f"{key} >= {settings.max_map_count} (live)", key=key, value=value,
                live=live if isinstance(live, int) else None)
    files.template(
        name=f"{key} >= {settings.max_map_count} (persisted in {SYSCTL_FILE})",
        src=str(SYSCTL_TEMPLATE), dest=SYSCTL_FILE, user="root", group="root", mode="644",
        required=settings.max_map_count, value=value,
    )
