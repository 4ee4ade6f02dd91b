"""Cluster stage: apply Elasticsearch and the log agents from the control host, after the node stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, deploy, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State

from kubelogs.cluster import stage
from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.cluster.plan import NodeTarget, Plan
from kubelogs.inventory import CONTROL_HOST, KUBE_NODES, data_node_names, kube_node_name
from kubelogs.preflight import Run
from kubelogs.settings import Settings


@deploy("Kubernetes cluster")
def apply_cluster(run: Run) -> None:
    """On the control host: plan at deploy time (so --dry shows it), apply only what the plan changes.
    On every other host: an empty operation that orders the apply after that host's node stage."""
    function, kwargs = None, {}
    if CONTROL_HOST in host.groups:
        kube = Kube(load_client(run.settings))
        # Every reachable Kubernetes node, with its runtime (as its node stage read it) and data role. Built
        # here, not in kubelogs.node: NodeTarget (the labels a node should carry) is the cluster stage's.
        data_nodes, active = set(data_node_names(inventory)), set(inventory.get_active_hosts())
        targets = []
        for node in inventory.get_group(KUBE_NODES):
            if node not in active:
                logger.warning(f"{host.print_prefix}{node.name} is unreachable: its Kubernetes node is not labelled")
                continue
            targets.append(NodeTarget(node.name, kube_node_name(node), run.nodes.runtime(node)["runtime"],
                                      node.name in data_nodes))
        plan = stage.plan(kube, run.settings, targets)
        for line in plan.lines():
            logger.info(f"{host.print_prefix}{line}")
        if plan.has_work:
            function = _execute
            kwargs = {"kube": kube, "plan": plan, "settings": run.settings}
    run_after_node_stage(name="Apply Kubernetes objects, wait for rollouts", function=function, **kwargs)


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


# Beside the one @deploy that uses it, not in kubelogs.node.operations: it changes nothing on a node. It is
# the cluster stage's python.call, one that runs on every host (a no-op where there is no function).
@operation(is_idempotent=False, _set_in_op=False)
def run_after_node_stage(function: Callable | None = None, **kwargs: Any):
    """Run ``function(state, host, **kwargs)`` at execution time; without a function, change nothing.

    + function: the callback; its return value is the operation's status (False fails it)

    deploy.py calls this for every host from one place after the node stage, so pyinfra orders it
    after each node's operations (it orders operations per host, not by line across hosts). Only the
    control host passes a function.
    """
    if function is not None:
        yield FunctionCommand(function, (), kwargs)
