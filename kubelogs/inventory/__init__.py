"""How the deploy reads a pyinfra inventory: its group names, its hosts' Kubernetes node names and its one
set of settings. The submodules find the inventory of a local cluster: the node containers of kind
(``kind``) or minikube (``minikube``), by the Docker labels their tool puts on them (``containers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyinfra.api.exceptions import NoGroupError

from kubelogs.settings import DATA_KEY, Problem, Settings, SettingsError, validate_settings

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.inventory import Inventory

# Every Kubernetes node the node stage prepares.
KUBE_NODES = "kube_nodes"
# Nodes that may hold an Elasticsearch hostPath data directory (defaults to all kube_nodes).
ES_DATA_NODES = "es_data_nodes"
# The machine that talks to the Kubernetes API (normally @local); runs the cluster stage.
CONTROL_HOST = "control_host"


def group_names(inventory: Inventory, group: str) -> list[str]:
    try:
        return [host.name for host in inventory.get_group(group)]
    except NoGroupError:  # the inventory does not define this group
        return []


def kube_node_name(host: Host) -> str:
    """The Kubernetes node name of an inventory host: its ``kube_node_name`` data, else its inventory name."""
    return host.data.get("kube_node_name") or host.name


def data_node_names(inventory: Inventory) -> list[str]:
    return group_names(inventory, ES_DATA_NODES) or group_names(inventory, KUBE_NODES)


def settings_from_inventory(inventory: Inventory) -> Settings:
    """The validated settings of a whole inventory; they must be the same on every host."""
    if not group_names(inventory, KUBE_NODES):
        raise SettingsError([Problem("", None, (
            f"the inventory has no hosts in group {KUBE_NODES!r}: put every Kubernetes node there "
            "(see inventories/production/inventory.py)"))])
    raw_by_host = {host.name: host.data.get(DATA_KEY) for host in inventory}
    first_name, first_raw = next(iter(raw_by_host.items()))
    for name, raw in raw_by_host.items():
        if raw != first_raw:
            raise SettingsError([Problem("", raw, (
                f"differs between hosts {first_name!r} and {name!r}; the settings describe one "
                "cluster, so set them once, in group_data/all.py or the inventory's data for all hosts"))])
    return validate_settings(first_raw, eligible_data_nodes=len(data_node_names(inventory)))
