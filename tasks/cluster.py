"""Cluster stage: apply Elasticsearch and the log agents from the control host, after the node stage."""

from __future__ import annotations

from pyinfra import host, inventory, logger
from pyinfra.api import deploy
from pyinfra.api.host import Host
from pyinfra.api.state import State

from kubelogs.cluster import stage
from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.cluster.plan import NodeTarget, Plan
from kubelogs.inventory import CONTROL_HOST, KUBE_NODES, data_node_names
from kubelogs.operations import run_after_node_stage
from kubelogs.settings import Settings
from tasks.node import node_runtime


@deploy("Kubernetes cluster")
def apply_cluster(settings: Settings) -> None:
    """On the control host: plan at deploy time (so --dry shows it), apply only what the plan changes.
    On every other host: an empty operation that orders the apply after that host's node stage."""
    function, kwargs = None, {}
    if CONTROL_HOST in host.groups:
        kube, plan = plan_cluster(settings)
        if plan.has_work:
            function = _execute
            kwargs = {"kube": kube, "plan": plan, "settings": settings}
    run_after_node_stage(name="Apply Kubernetes objects, wait for rollouts", function=function, **kwargs)


def plan_cluster(settings: Settings) -> tuple[Kube, Plan]:
    """Read the cluster and log what applying the settings would do."""
    kube = Kube(load_client(settings))
    plan = stage.plan(kube, settings, node_targets())
    for line in plan.lines():
        logger.info(f"{host.print_prefix}{line}")
    return kube, plan


def node_targets() -> list[NodeTarget]:
    """Every reachable Kubernetes node of the inventory, with its runtime and data role."""
    data_nodes = set(data_node_names(inventory))
    active = set(inventory.get_active_hosts())
    targets = []
    for node in inventory.get_group(KUBE_NODES):
        if node not in active:
            logger.warning(f"{host.print_prefix}{node.name} is unreachable: its Kubernetes node is not labelled")
            continue
        targets.append(NodeTarget(node.name, node.data.get("kube_node_name") or node.name,
                                  node_runtime(node)["runtime"], node.name in data_nodes))
    return targets


def _execute(state: State, host: Host, kube: Kube, plan: Plan, settings: Settings) -> bool:
    # Called by pyinfra with (state, host) at execution time, after every node-stage operation; the
    # return value is the operation's status, so a cluster error fails it without a traceback.
    failed = frozenset(h.name for h in state.failed_hosts)
    try:
        done = stage.execute(kube, plan, settings, lambda line: logger.info(f"{host.print_prefix}{line}"),
                             skip_hosts=failed)
    except ClusterError as e:
        logger.error(f"{host.print_prefix}cluster stage failed: {e}")
        return False
    logger.info(f"{host.print_prefix}cluster stage done: " + ", ".join(f"{n} {k}" for k, n in done.items() if n))
    return True
