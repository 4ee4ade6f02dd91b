"""The resources the double serves, as data: group, version, plural, scope, and what the server keeps for
them (a status subresource; a generation that counts spec changes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    status: bool = False  # writes to the object keep its status; /status writes keep everything else
    generation: bool = False  # metadata.generation starts at 1 and grows with each spec change

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def base(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", False, status=True),
    Kind("", "v1", "Node", "nodes", False, status=True),
    Kind("", "v1", "Pod", "pods", True, status=True),
    Kind("", "v1", "Service", "services", True, status=True),
    Kind("", "v1", "ConfigMap", "configmaps", True),
    Kind("", "v1", "Secret", "secrets", True),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", True),
    Kind("", "v1", "Event", "events", True),
    Kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, status=True),
    Kind("", "v1", "Endpoints", "endpoints", True),
    Kind("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    Kind("apps", "v1", "StatefulSet", "statefulsets", True, status=True, generation=True),
    Kind("apps", "v1", "DaemonSet", "daemonsets", True, status=True, generation=True),
    Kind("apps", "v1", "Deployment", "deployments", True, status=True, generation=True),
    Kind("apps", "v1", "ReplicaSet", "replicasets", True, status=True, generation=True),
    Kind("batch", "v1", "Job", "jobs", True, status=True, generation=True),
    Kind("batch", "v1", "CronJob", "cronjobs", True, status=True, generation=True),
    Kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, status=True, generation=True),
    Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, generation=True),
    Kind("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Kind("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
)

BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}
BY_PATH: dict[tuple[str, str, str], Kind] = {(k.group, k.version, k.plural): k for k in KINDS}
