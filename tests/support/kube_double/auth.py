"""Who a request is and what it may do: ServiceAccount tokens from the TokenRequest API (audience, expiry,
bound pod), and RBAC over Roles, ClusterRoles and their bindings, with the API server's 401/403 words."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field

from tests.support.kube_double.errors import forbidden, not_found, unauthorized

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"  # --service-account-issuer; --api-audiences default
ADMIN = "system:admin"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def admin(self) -> bool:
        return "system:masters" in self.groups


ADMIN_USER = User("kubernetes-admin", ("system:masters", "system:authenticated"))
ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


@dataclass
class Token:
    namespace: str
    service_account: str
    uid: str
    audiences: list[str]
    expires: datetime.datetime
    pod_uid: str | None = None


@dataclass
class Tokens:
    issued: dict[str, Token] = field(default_factory=dict)

    def issue(self, store, namespace: str, name: str, request: dict) -> dict:
        sa = store.peek("ServiceAccount", namespace, name)
        if sa is None:
            raise not_found("serviceaccounts", "", name)
        spec = dict(request.get("spec") or {})
        spec["audiences"] = spec.get("audiences") or [API_AUDIENCE]
        seconds = int(spec.get("expirationSeconds") or 3600)
        spec["expirationSeconds"] = seconds
        bound = spec.get("boundObjectRef") or {}
        pod_uid = None
        if bound.get("kind") == "Pod":
            pod = store.peek("Pod", namespace, bound.get("name", ""))
            if pod is None or (bound.get("uid") and pod["metadata"]["uid"] != bound["uid"]):
                raise not_found("pods", "", bound.get("name", ""))
            pod_uid = pod["metadata"]["uid"]
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
        token = "kd." + secrets.token_urlsafe(32)
        self.issued[token] = Token(namespace, name, sa["metadata"]["uid"], spec["audiences"], expires, pod_uid)
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
                "spec": spec, "status": {"token": token,
                                         "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}

    def authenticate(self, store, token: str) -> User:
        found = self.issued.get(token)
        if found is None or API_AUDIENCE not in found.audiences or \
                found.expires < datetime.datetime.now(datetime.timezone.utc):
            raise unauthorized()
        sa = store.peek("ServiceAccount", found.namespace, found.service_account)
        if sa is None or sa["metadata"]["uid"] != found.uid:
            raise unauthorized()
        if found.pod_uid and not any(p["metadata"]["uid"] == found.pod_uid for p in store.each("Pod", found.namespace)):
            raise unauthorized()
        return User(f"system:serviceaccount:{found.namespace}:{found.service_account}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{found.namespace}", "system:authenticated"))


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str  # plural, with "/subresource" where there is one
    namespace: str | None
    name: str | None
    path: str


def _subject_matches(subject: dict, user: User, binding_namespace: str | None) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{ns}:{subject.get('name')}"
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    return False


def _rule_allows(rule: dict, a: Attributes) -> bool:
    if not any(v in ("*", a.verb) for v in rule.get("verbs") or []):
        return False
    if a.resource is None:  # a non-resource URL
        return any(u == a.path or (u.endswith("*") and a.path.startswith(u[:-1])) for u in rule.get("nonResourceURLs") or [])
    if not any(g in ("*", a.group) for g in rule.get("apiGroups") or []):
        return False
    if not any(r in ("*", a.resource) or (r.endswith("/*") and a.resource.startswith(r[:-1]))
               for r in rule.get("resources") or []):
        return False
    names = rule.get("resourceNames")
    return not names or a.name in names


# What every authenticated user may do on a cluster from kubeadm (system:discovery, system:basic-user).
DISCOVERY = {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                   "/readyz", "/version", "/version/", "/openapi", "/openapi/*"]}


def authorize(store, user: User, a: Attributes) -> None:
    """Nothing, or the 403 a real RBAC authorizer gives."""
    if user.admin:
        return
    if "system:authenticated" in user.groups and a.resource is None and _rule_allows(DISCOVERY, a):
        return
    for binding in store.each("ClusterRoleBinding"):
        if any(_subject_matches(s, user, None) for s in binding.get("subjects") or []):
            role = store.peek("ClusterRole", None, binding["roleRef"]["name"])
            if role and any(_rule_allows(r, a) for r in role.get("rules") or []):
                return
    if a.namespace:
        for binding in store.each("RoleBinding", a.namespace):
            if any(_subject_matches(s, user, a.namespace) for s in binding.get("subjects") or []):
                ref = binding["roleRef"]
                role = store.peek(ref["kind"], a.namespace if ref["kind"] == "Role" else None, ref["name"])
                if role and any(_rule_allows(r, a) for r in role.get("rules") or []):
                    return
    if a.resource is None:
        raise forbidden_path(user, a)
    plural, _, sub = a.resource.partition("/")
    where = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    what = f'resource "{plural}"' + (f' in API group "{a.group}"') if not sub else \
        f'resource "{plural}/{sub}" in API group "{a.group}"'
    raise forbidden(plural, a.group, a.name, f'User "{user.name}" cannot {a.verb} {what}{where}')


def forbidden_path(user: User, a: Attributes):
    from tests.support.kube_double.errors import ApiFailure
    return ApiFailure(403, "Forbidden", f'forbidden: User "{user.name}" cannot {a.verb} path "{a.path}"',
                      {})
