"""The fake Elasticsearch's security: users, roles and the privileges each request needs, as Elasticsearch's
native realm and role-based authorization decide them, so a least-privilege user can be shown to work and
to be refused what it was not granted.

- Users: ``elastic`` (password from the generated Secret, the fake's ``credentials``), the reserved
  ``kibana`` / ``kibana_system`` (no password until ``_password`` sets one), and native users made with the
  user API. Authentication is HTTP Basic; a wrong or unknown one is 401.
- Roles: ``superuser`` (everything) and roles made with the role API: cluster privileges and index
  privileges on names (wildcards, or ``/regular expressions/``, as Elasticsearch matches them).
- APIs: ``_security/...`` from 7.0, ``_xpack/security/...`` before (both in 6.6+): role and user PUT, user
  ``_password``, ``_authenticate``. Only a superuser may call them here (``manage_security``).
- Authorization: ``required(...)`` names what a request needs; a refused request is 403 with
  ``security_exception``; a bulk item on an index the user may not write is a 403 item (the other items go on).
"""

from __future__ import annotations

import base64
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field

RESERVED = ("kibana", "kibana_system")  # built-in users whose password starts unset
# Built-in roles besides superuser (the part of Elasticsearch's definitions the fake needs).
BUILTIN_ROLES = {"kibana_system": {"cluster": ["monitor", "manage_index_templates", "manage_ilm"],
                                   "indices": [{"names": [".kibana*"], "privileges": ["all"]}]}}
# Cluster privileges, and the ones each implies (Elasticsearch's named privileges, as far as the fake needs).
CLUSTER_IMPLIES = {"all": {"all", "manage", "monitor", "manage_index_templates", "manage_ilm", "read_ilm",
                           "manage_security"},
                   "manage": {"manage", "monitor", "manage_index_templates", "manage_ilm", "read_ilm"},
                   "manage_ilm": {"manage_ilm", "read_ilm"}}
# Index privileges, and the ones each implies.
INDEX_IMPLIES = {"all": {"all", "manage", "read", "view_index_metadata", "monitor", "write", "index", "create",
                         "create_doc", "create_index", "auto_configure", "delete"},
                 "manage": {"manage", "view_index_metadata", "monitor", "create_index", "auto_configure"},
                 "write": {"write", "index", "create", "create_doc", "delete"},
                 "index": {"index", "create", "create_doc"}, "create": {"create", "create_doc"}}


def _implied(table: dict[str, set[str]], privileges: list[str]) -> set[str]:
    return set().union(*(table.get(p, {p}) for p in privileges)) if privileges else set()


def _name_matches(pattern: str, index: str) -> bool:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        return re.fullmatch(pattern[1:-1], index) is not None  # Lucene regexp; this subset reads the same
    return fnmatch.fnmatchcase(index, pattern)


def security_exception(status: int, reason: str) -> tuple[int, dict]:
    cause = {"type": "security_exception", "reason": reason}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


@dataclass
class Security:
    major: int
    credentials: Callable[[], tuple[str, str] | None]  # ("elastic", password) while security is on, else None
    users: dict[str, dict] = field(default_factory=dict)  # name -> {"password", "roles", "full_name"}
    roles: dict[str, dict] = field(default_factory=dict)  # name -> {"cluster": [...], "indices": [...]}

    @property
    def enabled(self) -> bool:
        return self.credentials() is not None

    def password_of(self, user: str) -> str | None:
        if user == "elastic":
            return (self.credentials() or ("", None))[1]
        return (self.users.get(user) or {}).get("password")

    def roles_of(self, user: str) -> list[str]:
        return ["superuser"] if user == "elastic" else list((self.users.get(user) or {}).get("roles") or [])

    def authenticate(self, authorization: str | None) -> str | None:
        """The user of a Basic authorization header, or None."""
        if not authorization or not authorization.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self.password_of(user)
        return user if expected is not None and password == expected else None

    # -- what a user may do ---------------------------------------------------------------------------
    def cluster_privileges(self, user: str) -> set[str]:
        roles = self.roles_of(user)
        if "superuser" in roles:
            return CLUSTER_IMPLIES["all"]
        return _implied(CLUSTER_IMPLIES, [p for r in roles
                                          for p in (self.roles.get(r) or BUILTIN_ROLES.get(r) or {}).get("cluster", [])])

    def index_privileges(self, user: str, index: str) -> set[str]:
        roles = self.roles_of(user)
        if "superuser" in roles:
            return INDEX_IMPLIES["all"]
        granted = [p for r in roles for entry in (self.roles.get(r) or BUILTIN_ROLES.get(r) or {}).get("indices", [])
                   if any(_name_matches(n, index) for n in entry.get("names", [])) for p in entry.get("privileges", [])]
        return _implied(INDEX_IMPLIES, granted)

    def may(self, user: str, cluster: set[str] = frozenset(), index: tuple[str, set[str]] | None = None) -> bool:
        """Whether ``user`` holds one of ``cluster``, or one of ``index[1]`` on the index ``index[0]``."""
        if cluster and self.cluster_privileges(user) & cluster:
            return True
        return bool(index and self.index_privileges(user, index[0]) & index[1])

    def refused(self, user: str, action: str, indices: list[str] = ()) -> tuple[int, dict]:
        on = f" on indices [{', '.join(indices)}]" if indices else ""
        return security_exception(403, f"action [{action}] is unauthorized for user [{user}] with effective roles "
                                       f"[{','.join(self.roles_of(user))}]{on}")

    # -- the security APIs ----------------------------------------------------------------------------
    def api(self, user: str, method: str, parts: list[str], doc: dict) -> tuple[int, object] | None:
        """Answer a security API call, or None when ``parts`` is not one."""
        prefix = 2 if parts[:2] == ["_xpack", "security"] else 1 if parts[:1] == ["_security"] else 0
        if not prefix or (prefix == 1 and self.major < 6) or (prefix == 2 and self.major >= 8):
            return None
        rest = parts[prefix:]
        if rest == ["_authenticate"] and method == "GET":
            return 200, {"username": user, "roles": self.roles_of(user), "enabled": True}
        if "manage_security" not in self.cluster_privileges(user):
            return self.refused(user, "cluster:admin/xpack/security/" + "/".join(rest[:1]))
        if len(rest) == 2 and rest[0] == "role" and method in ("PUT", "POST"):
            created = rest[1] not in self.roles
            self.roles[rest[1]] = {"cluster": list(doc.get("cluster") or []), "indices": list(doc.get("indices") or [])}
            return 200, {"role": {"created": created}}
        if len(rest) == 2 and rest[0] == "user" and method in ("PUT", "POST"):
            name, existing = rest[1], self.users.get(rest[1])
            if name in ("elastic", *RESERVED):
                return security_exception(400, f"user [{name}] is reserved and only the password can be changed")
            if "password" not in doc and existing is None:
                return 400, {"error": "password must be specified unless you are updating an existing user"}
            self.users[name] = {"password": doc.get("password", (existing or {}).get("password")),
                                "roles": list(doc.get("roles") or []), "full_name": doc.get("full_name")}
            created = {"created": existing is None}
            return 200, {**created, "user": created} if self.major == 6 else created if self.major >= 7 else {"user": created}
        if len(rest) == 3 and rest[0] == "user" and rest[2] == "_password" and method in ("PUT", "POST"):
            name, password = rest[1], doc.get("password")
            if not isinstance(password, str) or len(password) < 6:
                return 400, {"error": "passwords must be at least [6] characters long"}
            if name == "elastic":
                return security_exception(400, "the fake keeps elastic's password in its Secret")
            if name in RESERVED:
                self.users.setdefault(name, {"roles": ["kibana_system"], "full_name": None})["password"] = password
                return 200, {}
            if name not in self.users:
                return 404, {"error": f"user [{name}] does not exist"}
            self.users[name]["password"] = password
            return 200, {}
        return 400, {"error": f"not implemented by the fake: {method} /{'/'.join(parts)}"}


def required(method: str, parts: list[str]) -> tuple[str, set[str]]:
    """("cluster", privileges) or ("index", privileges): what a request that is not a bulk request or a
    security API call needs (one of the privileges). Requests the fake knows only a superuser makes need
    ``manage``."""
    if method in ("GET", "HEAD") and not parts:
        return "cluster", {"monitor"}  # cluster:monitor/main
    if parts[:1] == ["_cluster"] and parts[1:2] == ["health"]:
        return "cluster", {"monitor"}
    if method == "GET" and parts[:1] == ["_nodes"] and parts[-1:] == ["stats"]:
        return "cluster", {"monitor"}  # cluster:monitor/nodes/stats
    if parts[:2] == ["_cat", "indices"]:
        return "cluster", {"monitor"}  # and, per index, monitor (the answer lists only those)
    if len(parts) == 2 and parts[1] == "_count":
        return "index", {"read"}
    if parts[:2] == ["_ilm", "policy"]:
        return "cluster", {"read_ilm"} if method == "GET" else {"manage_ilm"}
    if parts[:1] in (["_template"], ["_index_template"]):
        return "cluster", {"manage_index_templates"}
    return "cluster", {"manage"}
