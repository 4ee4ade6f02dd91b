"""Namespaces: a new one gets its ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap (the
service-account and root-CA-publisher controllers); a deleted one is emptied, then removed (the
namespace controller)."""

from __future__ import annotations

from tests.support.kube_double.errors import ApiFailure
from tests.support.kube_double.kinds import BY_KIND, KINDS

CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
                  "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
                  "distributions of Kubernetes clusters.")


def reconcile(store, ca_pem: str) -> None:
    for ns in store.each("Namespace"):
        name = ns["metadata"]["name"]
        if ns["metadata"].get("deletionTimestamp"):
            _empty(store, ns)
            continue
        try:
            if store.peek("ServiceAccount", name, "default") is None:
                store.create(BY_KIND["ServiceAccount"], name, {"metadata": {"name": "default"}},
                             "kube-controller-manager")
            if store.peek("ConfigMap", name, "kube-root-ca.crt") is None:
                store.create(BY_KIND["ConfigMap"], name, {"metadata": {
                    "name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": CA_DESCRIPTION}},
                    "data": {"ca.crt": ca_pem}}, "kube-controller-manager")
        except ApiFailure:
            pass


def _empty(store, ns: dict) -> None:
    name, left = ns["metadata"]["name"], False
    for kind in KINDS:
        if not kind.namespaced:
            continue
        for obj in store.each(kind.kind, name):
            left = True
            if not obj["metadata"].get("deletionTimestamp"):
                try:
                    store.delete(kind, name, obj["metadata"]["name"], {"propagationPolicy": "Background"})
                except ApiFailure:
                    pass
    if not left:
        store.remove_now(BY_KIND["Namespace"], ns)
