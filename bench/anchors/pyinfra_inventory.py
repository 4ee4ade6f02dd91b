"""Anchor inventory: the node containers of kind-labelled cluster $ANCHOR_CLUSTER, reached with pyinfra's
@docker connector (docker exec). The workers hold Elasticsearch's data, as in the kubelogs kind inventory."""

import os
import subprocess


def _containers(role: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=io.x-k8s.kind.cluster={os.environ['ANCHOR_CLUSTER']}",
         "--filter", f"label=io.x-k8s.kind.role={role}", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True).stdout.split()
    return [f"@docker/{name}" for name in sorted(out)]


_control_plane, _workers = _containers("control-plane"), _containers("worker")
kube_nodes = _control_plane + _workers
es_data_nodes = _workers or _control_plane
