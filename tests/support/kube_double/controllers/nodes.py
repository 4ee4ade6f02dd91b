"""Node lifecycle: the not-ready taint goes once a node reports Ready, and comes back when it stops; pods
bound to a node that no longer exists are removed (pod GC)."""

from __future__ import annotations

import copy
import time

from tests.support.kube_double.controllers.common import CONTROLLER_MANAGER, condition
from tests.support.kube_double.kinds import BY_KIND

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
ORPHAN_GRACE = 2.0  # seconds a pod's node must be gone before its pod is (a real pod GC waits 40 s)


class NodeLifecycle:
    def __init__(self) -> None:
        self._missing_since: dict[str, float] = {}

    def reconcile(self, store) -> None:
        for node in store.each("Node"):
            ready = condition(node, "Ready").get("status")
            taints = (node.get("spec") or {}).get("taints") or []
            wanted = [t for t in taints if t.get("key") not in (NOT_READY, UNREACHABLE)]
            if ready != "True":
                key = UNREACHABLE if ready == "Unknown" else NOT_READY
                wanted.append({"key": key, "effect": "NoSchedule"})
            if wanted != taints:
                new = copy.deepcopy(node)
                if wanted:
                    new["spec"]["taints"] = wanted
                else:
                    new["spec"].pop("taints", None)
                store.write(BY_KIND["Node"], new, CONTROLLER_MANAGER)
        nodes = {n["metadata"]["name"] for n in store.each("Node")}
        now = time.monotonic()
        for pod in store.each("Pod"):
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or node in nodes:
                self._missing_since.pop(pod["metadata"]["uid"], None)
                continue
            since = self._missing_since.setdefault(pod["metadata"]["uid"], now)
            if now - since >= ORPHAN_GRACE:
                store.remove_now(BY_KIND["Pod"], pod)
                self._missing_since.pop(pod["metadata"]["uid"], None)
