"""The Kubernetes resources the deploy reads or writes, as data: REST path, scope, prune rule."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    api_version: str  # "v1" or "group/version"
    kind: str
    plural: str
    namespaced: bool
    optional: bool = False  # a CRD defines it: the cluster may not serve it (a LIST is then a 404)

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def group_kind(self) -> str:
        """``Kind.group`` as ApplySet annotations spell it (core kinds have no group)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """REST path of one object, or of a collection (all namespaces when ``namespace`` is None)."""
        base = f"/api/{self.api_version}" if not self.group else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


RESOURCES: dict[str, Resource] = {r.kind: r for r in (
    Resource("v1", "Namespace", "namespaces", False),
    Resource("v1", "Node", "nodes", False),
    Resource("v1", "Secret", "secrets", True),
    Resource("v1", "ConfigMap", "configmaps", True),
    Resource("v1", "ServiceAccount", "serviceaccounts", True),
    Resource("v1", "Service", "services", True),
    Resource("v1", "Pod", "pods", True),
    Resource("v1", "Event", "events", True),
    Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    Resource("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    Resource("apps/v1", "StatefulSet", "statefulsets", True),
    Resource("apps/v1", "DaemonSet", "daemonsets", True),
    Resource("apps/v1", "Deployment", "deployments", True),
    Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
    Resource("batch/v1", "CronJob", "cronjobs", True),
    Resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("monitoring.coreos.com/v1", "PodMonitor", "podmonitors", True, optional=True),  # settings.metrics
)}

# Never deleted by pruning, whatever their labels say: Elasticsearch's data and the generated
# credentials and certificates must survive any settings change.
NEVER_PRUNE: frozenset[str] = frozenset({"Namespace", "Node", "Secret", "PersistentVolumeClaim"})

# Kinds whose rollout the stage waits for.
WORKLOADS: tuple[str, ...] = ("StatefulSet", "DaemonSet", "Deployment")


def resource_of(manifest: dict) -> Resource:
    return RESOURCES[manifest["kind"]]
