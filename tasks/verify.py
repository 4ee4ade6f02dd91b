"""Verify stage: prove that logs arrive, from the control host, after the cluster stage."""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.operations import python

from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.inventory import CONTROL_HOST, KUBE_NODES
from kubelogs.preflight import Run
from kubelogs.verify import stage

OPERATION_NAME = "Verify: Elasticsearch health, agents, a canary line per node"


@deploy("Verify")
def verify_logs(run: Run) -> None:
    """Always runs (it is a check); its canary and verifier pods are removed before it ends. On the nodes it
    reads their state (the node stage's one fact; read once per run): their dead letters."""
    if KUBE_NODES in host.groups:
        run.nodes.read(host, run.settings)
    if CONTROL_HOST in host.groups:
        python.call(name=OPERATION_NAME, function=_verify, run=run)


def _verify(state: State, host: Host, run: Run) -> bool:
    # (state, host) signature: pyinfra uses the return value as the status, so a failed check fails
    # the operation (and the run's exit code) without a traceback.
    try:
        kube = Kube(load_client(run.settings))
    except ClusterError as e:
        logger.error(f"{host.print_prefix}verify: {e}")
        return False
    # Called at execution time: every node's state was read while the operations were prepared.
    report = stage.run(kube, run.settings, lambda line: logger.info(f"{host.print_prefix}{line}"),
                       run.nodes.dead_letters())
    return report.ok
