"""What a new cluster holds before anyone writes to it: the system namespaces and the ``kubernetes``
Service in ``default`` (with no endpoints, as the real test control plane runs it)."""

from __future__ import annotations

from tests.support.kube_double.kinds import BY_KIND

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def bootstrap(store) -> None:
    for name in SYSTEM_NAMESPACES:
        store.create(BY_KIND["Namespace"], None, {"metadata": {"name": name}}, "kube-apiserver")
    store.create(BY_KIND["Service"], "default", {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}},
        "kube-apiserver")
