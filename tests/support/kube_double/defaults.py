"""Defaults the API server (v1.32) fills in, per kind, and the fields Go always writes out.

Applied after every write, so a dry run and the stored object agree, as on a real server. Pod specs and
templates go through a Go round trip (podtemplate.py's type tables): non-pointer structs are never omitted
(``resources: {}``, a template's ``creationTimestamp: null``), quantities come back canonical, and a v1
PodSpec mirrors ``serviceAccountName`` into ``serviceAccount``.
"""

from __future__ import annotations

import base64

from tests.support.kube_double import podtemplate


def _mirror_service_account(spec: dict) -> None:
    """v1's deprecated ``serviceAccount`` always carries ``serviceAccountName`` (the conversion does it)."""
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]


def pod_spec(spec: dict) -> dict:
    """A PodSpec as the server stores it (podtemplate.default_pod_template: the one place pod defaults live)."""
    _mirror_service_account(spec)
    return podtemplate.default_pod_template({"spec": spec})["spec"]


def template(tpl: dict) -> None:
    _mirror_service_account(tpl.get("spec") or {})
    defaulted = podtemplate.default_pod_template(tpl)
    tpl.clear()
    tpl.update(defaulted)


def _rolling(strategy: dict, defaults: dict) -> None:
    if strategy.setdefault("type", "RollingUpdate") == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        for key, value in defaults.items():
            rolling.setdefault(key, value)


def namespace(obj: dict) -> None:
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])


def service(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def secret(obj: dict) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode()).decode()


def claim(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    for kind in ("requests", "limits"):  # quantities come back canonical: 2048Mi is stored as 2Gi
        amounts = (spec.get("resources") or {}).get(kind) or {}
        for name, value in amounts.items():
            amounts[name] = podtemplate.canonical_quantity(value)
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def statefulset(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):  # only an unset type brings a rollingUpdate block (SetDefaults_StatefulSet)
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and "rollingUpdate" in strategy:
        strategy["rollingUpdate"].setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    template(spec.setdefault("template", {}))
    for vct in spec.get("volumeClaimTemplates") or []:
        vct.setdefault("apiVersion", "v1")
        vct.setdefault("kind", "PersistentVolumeClaim")
        vct.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        claim(vct)
    status = obj.setdefault("status", {})
    status.setdefault("replicas", 0)
    status.setdefault("availableReplicas", 0)


def daemonset(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    _rolling(spec.setdefault("updateStrategy", {}), {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    template(spec.setdefault("template", {}))
    status = obj.setdefault("status", {})
    for key in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"):
        status.setdefault(key, 0)


def deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _rolling(spec.setdefault("strategy", {}), {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    template(spec.setdefault("template", {}))


def replicaset(obj: dict) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    template(obj["spec"].setdefault("template", {}))
    obj.setdefault("status", {}).setdefault("replicas", 0)


def job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    for key, value in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6), ("completionMode", "NonIndexed"),
                       ("suspend", False), ("podReplacementPolicy", "TerminatingOrFailed"), ("manualSelector", None)):
        if value is not None:
            spec.setdefault(key, value)
    template(spec.setdefault("template", {}))


def cronjob(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    for key, value in (("concurrencyPolicy", "Allow"), ("suspend", False), ("successfulJobsHistoryLimit", 3),
                       ("failedJobsHistoryLimit", 1)):
        spec.setdefault(key, value)
    job_template = spec.setdefault("jobTemplate", {})
    job_template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    template(job_template.setdefault("spec", {}).setdefault("template", {}))


def network_policy(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
        for port in rule.get("ports") or []:
            port.setdefault("protocol", "TCP")


def pdb(obj: dict) -> None:
    status = obj.setdefault("status", {})
    for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        status.setdefault(key, 0)


def pod(obj: dict) -> None:
    obj["spec"] = pod_spec(obj.get("spec") or {})


BY_KIND = {
    "Namespace": namespace, "Service": service, "Secret": secret, "PersistentVolumeClaim": claim,
    "StatefulSet": statefulset, "DaemonSet": daemonset, "Deployment": deployment, "ReplicaSet": replicaset,
    "Job": job, "CronJob": cronjob, "NetworkPolicy": network_policy, "PodDisruptionBudget": pdb, "Pod": pod,
}


def apply_defaults(kind: str, obj: dict) -> None:
    if kind in BY_KIND:
        BY_KIND[kind](obj)
