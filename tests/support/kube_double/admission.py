"""Admission as the API server's default plugins do it, on the objects a write would store: the
ServiceAccount plugin (default account, token volume), Priority, DefaultTolerationSeconds,
TaintNodesByCondition, the namespace name label, Service cluster IPs, a Job's selector, and Pod
Security (refusal or warning)."""

from __future__ import annotations

import ipaddress
import random

from tests.support.kube_double import podsecurity
from tests.support.kube_double.errors import forbidden

SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
POD_NOT_READY_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def random_suffix(n: int = 5) -> str:
    """Names the API server generates: consonants and digits that spell no word (utilrand.String)."""
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def _tolerates(tolerations: list[dict], key: str) -> bool:
    """DefaultTolerationSeconds: a toleration of this key (or of every key) for NoExecute (or every effect)."""
    return any((t.get("key") == key or (t.get("operator") == "Exists" and not t.get("key")))
               and t.get("effect") in (None, "", "NoExecute") for t in tolerations)


def qos_class(spec: dict) -> str:
    containers = spec.get("containers") or []
    requests = [(c.get("resources") or {}).get("requests") or {} for c in containers]
    limits = [(c.get("resources") or {}).get("limits") or {} for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    guaranteed = all(lim.get(r) and (req.get(r) or lim.get(r)) == lim.get(r)
                     for req, lim in zip(requests, limits) for r in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def pod(store, obj: dict) -> None:
    """Mutations of a new pod: service account and its token volume, priority, default tolerations."""
    meta, spec = obj["metadata"], obj["spec"]
    ns = meta["namespace"]
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    sa = store.peek("ServiceAccount", ns, account)
    if sa is None:
        raise forbidden("pods", "", meta.get("name") or meta.get("generateName"),
                        f'error looking up service account {ns}/{account}: serviceaccount "{account}" not found')
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken", True)
    if automount is not False:
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        if not all(any(m.get("mountPath") == SA_MOUNT for m in c.get("volumeMounts") or []) for c in containers):
            name = f"kube-api-access-{random_suffix()}"
            spec.setdefault("volumes", []).append({"name": name, "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                                "fieldPath": "metadata.namespace"}}]}}],
                "defaultMode": 420}})
            for c in containers:
                if not any(m.get("mountPath") == SA_MOUNT for m in c.get("volumeMounts") or []):
                    c.setdefault("volumeMounts", []).append({"name": name, "readOnly": True, "mountPath": SA_MOUNT})
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("enableServiceLinks", True)
    tolerations = spec.get("tolerations") or []
    for toleration in POD_NOT_READY_TOLERATIONS:
        if not _tolerates(tolerations, toleration["key"]):
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations
    obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}


def node(obj: dict) -> None:
    taints = obj.setdefault("spec", {}).setdefault("taints", [])
    if not any(t.get("key") == NOT_READY_TAINT["key"] for t in taints):
        taints.append(dict(NOT_READY_TAINT))


def service(store, obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("type", "ClusterIP") in ("ClusterIP", "NodePort", "LoadBalancer") and not spec.get("clusterIP"):
        taken = store.service_ips()
        for n in range(10, SERVICE_CIDR.num_addresses - 1):
            ip = str(SERVICE_CIDR.network_address + n)
            if ip not in taken:
                spec["clusterIP"] = ip
                break
    if spec.get("clusterIP"):
        spec.setdefault("clusterIPs", [spec["clusterIP"]])


def job(obj: dict) -> None:
    uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
    spec = obj.setdefault("spec", {})
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {}).update(labels)


def pod_security(store, kind: str, obj: dict, warnings: list[str]) -> None:
    """Refuse a pod that violates its namespace's enforce level; warn for the warn level, and for
    workload templates at either level."""
    ns = obj["metadata"].get("namespace")
    enforce, warn = podsecurity.levels(store.peek("Namespace", None, ns))
    if kind == "Pod":
        spec = obj.get("spec") or {}
        found = podsecurity.violations(enforce, spec)
        if found:
            raise forbidden("pods", "", obj["metadata"].get("name"), "violates " + podsecurity.describe(enforce, found))
        found = podsecurity.violations(warn, spec)
        if found:
            warnings.append("would violate " + podsecurity.describe(warn, found))
        return
    spec = _template_spec(kind, obj)
    if spec is None:
        return
    for level in dict.fromkeys((enforce, warn)):
        found = podsecurity.violations(level, spec)
        if found:
            warnings.append("would violate " + podsecurity.describe(level, found))


def _template_spec(kind: str, obj: dict) -> dict | None:
    spec = obj.get("spec") or {}
    if kind in ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "Job"):
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return None


def name_of(obj: dict) -> str:
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + random_suffix()
    return meta.get("name", "")

