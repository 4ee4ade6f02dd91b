"""Verify stage: prove that logs arrive, from the control host, after the cluster stage."""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.operations import python

from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.inventory import CONTROL_HOST, KUBE_NODES
from kubelogs.settings import Settings
from kubelogs.verify import stage
from tasks.node import dead_letters_read, read_node_state

OPERATION_NAME = "Verify: Elasticsearch health, agents, a canary line per node"


@deploy("Verify")
def verify_logs(settings: Settings) -> None:
    """Always runs (it is a check); its canary and verifier pods are removed before it ends. On the nodes it
    reads their state (the node stage's one fact; cached when the node stage ran): their dead letters."""
    if KUBE_NODES in host.groups:
        read_node_state(settings)
    if CONTROL_HOST in host.groups:
        python.call(name=OPERATION_NAME, function=_verify, settings=settings)


def _verify(state: State, host: Host, settings: Settings) -> bool:
    # (state, host) signature: pyinfra uses the return value as the status, so a failed check fails
    # the operation (and the run's exit code) without a traceback.
    try:
        kube = Kube(load_client(settings))
    except ClusterError as e:
        logger.error(f"{host.print_prefix}verify: {e}")
        return False
    # Called at execution time: every node's state was read while the operations were prepared.
    report = stage.run(kube, settings, lambda line: logger.info(f"{host.print_prefix}{line}"), dead_letters_read())
    return report.ok
