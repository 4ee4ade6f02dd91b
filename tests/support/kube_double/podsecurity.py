"""Pod Security admission (k8s.io/pod-security-admission, "latest"): the baseline and restricted checks,
named and worded as its checks name them, evaluated at a namespace's ``enforce`` level (a pod that
violates it is refused) and ``warn`` level (a Warning header). Pod templates of workloads only warn;
their controllers' pods are refused later (FailedCreate)."""

from __future__ import annotations

from collections.abc import Callable

BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
RESTRICTED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret")
LEVELS = ("privileged", "baseline", "restricted")


def _containers(spec: dict) -> list[dict]:
    return (spec.get("initContainers") or []) + (spec.get("containers") or []) + (spec.get("ephemeralContainers") or [])


def _names(kind: str, names: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{kind}{'s' if len(names) > 1 else ''} {quoted}"


def _sc(c: dict) -> dict:
    return c.get("securityContext") or {}


def host_namespaces(spec: dict) -> str | None:
    used = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return f"host namespaces ({', '.join(used)})" if used else None


def privileged(spec: dict) -> str | None:
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("privileged")]
    return f"privileged ({_names('container', bad)} must not set securityContext.privileged=true)" if bad else None


def capabilities_baseline(spec: dict) -> str | None:
    bad, caps = [], []
    for c in _containers(spec):
        added = [a for a in (_sc(c).get("capabilities") or {}).get("add") or [] if a not in BASELINE_CAPABILITIES]
        if added:
            bad.append(c["name"])
            caps.extend(a for a in added if a not in caps)
    if not bad:
        return None
    return (f"non-default capabilities ({_names('container', bad)} must not include "
            + ", ".join(f'"{c}"' for c in caps) + " in securityContext.capabilities.add)")


def host_path_volumes(spec: dict) -> str | None:
    bad = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    return f"hostPath volumes ({_names('volume', bad)})" if bad else None


def host_ports(spec: dict) -> str | None:
    bad, ports = [], []
    for c in _containers(spec):
        used = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if used:
            bad.append(c["name"])
            ports.extend(used)
    return f"hostPort ({_names('container', bad)} uses hostPort{'s' if len(ports) > 1 else ''} {', '.join(ports)})" \
        if bad else None


def seccomp_baseline(spec: dict) -> str | None:
    if ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined":
        return 'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'
    bad = [c["name"] for c in _containers(spec) if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    return (f'seccompProfile ({_names("container", bad)} must not set securityContext.seccompProfile.type to '
            '"Unconfined")') if bad else None


def restricted_volumes(spec: dict) -> str | None:
    bad = []
    for v in spec.get("volumes") or []:
        types = [k for k in v if k != "name"]
        if types and types[0] not in RESTRICTED_VOLUMES:
            bad.append((v["name"], types[0]))
    if not bad:
        return None
    kinds = sorted({t for _, t in bad})
    return (f"restricted volume types ({_names('volume', [n for n, _ in bad])} use"
            f"{'s' if len(bad) == 1 else ''} restricted volume type{'s' if len(kinds) > 1 else ''} "
            + ", ".join(f'"{k}"' for k in kinds) + ")")


def allow_privilege_escalation(spec: dict) -> str | None:
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return (f"allowPrivilegeEscalation != false ({_names('container', bad)} must set "
            "securityContext.allowPrivilegeEscalation=false)") if bad else None


def capabilities_restricted(spec: dict) -> str | None:
    bad = []
    for c in _containers(spec):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or any(a != "NET_BIND_SERVICE" for a in caps.get("add") or []):
            bad.append(c["name"])
    return f'unrestricted capabilities ({_names("container", bad)} must set securityContext.capabilities.drop=["ALL"])' \
        if bad else None


def run_as_non_root(spec: dict) -> str | None:
    pod_level = (spec.get("securityContext") or {}).get("runAsNonRoot")
    bad = [c["name"] for c in _containers(spec)
           if _sc(c).get("runAsNonRoot") is False or (_sc(c).get("runAsNonRoot") is None and pod_level is not True)]
    return (f"runAsNonRoot != true (pod or {_names('container', bad)} must set securityContext.runAsNonRoot=true)"
            if bad else None)


def run_as_user(spec: dict) -> str | None:
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        return "runAsUser=0 (pod must not set runAsUser=0)"
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    return f"runAsUser=0 ({_names('container', bad)} must not set runAsUser=0)" if bad else None


def seccomp_restricted(spec: dict) -> str | None:
    pod_type = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    bad = [c["name"] for c in _containers(spec)
           if ((_sc(c).get("seccompProfile") or {}).get("type") or pod_type) not in ("RuntimeDefault", "Localhost")]
    return (f'seccompProfile (pod or {_names("container", bad)} must set securityContext.seccompProfile.type to '
            '"RuntimeDefault" or "Localhost")') if bad else None


# (check ID, lowest level it applies to, check): the admission plugin reports violations in ID order.
CHECKS: list[tuple[str, str, Callable[[dict], str | None]]] = sorted([
    ("hostNamespaces", "baseline", host_namespaces), ("privileged", "baseline", privileged),
    ("capabilities_baseline", "baseline", capabilities_baseline), ("hostPathVolumes", "baseline", host_path_volumes),
    ("hostPorts", "baseline", host_ports), ("seccompProfile_baseline", "baseline", seccomp_baseline),
    ("restrictedVolumes", "restricted", restricted_volumes),
    ("allowPrivilegeEscalation", "restricted", allow_privilege_escalation),
    ("capabilities_restricted", "restricted", capabilities_restricted),
    ("runAsNonRoot", "restricted", run_as_non_root), ("runAsUser", "restricted", run_as_user),
    ("seccompProfile_restricted", "restricted", seccomp_restricted),
], key=lambda check: check[0].lower())


def violations(level: str, spec: dict) -> list[str]:
    if level not in LEVELS or level == "privileged":
        return []
    rank = LEVELS.index(level)
    return [text for _, applies, check in CHECKS if LEVELS.index(applies) <= rank and (text := check(spec))]


def levels(namespace: dict | None) -> tuple[str, str]:
    """(enforce, warn) of a namespace's labels; unlabelled means privileged."""
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    return (labels.get("pod-security.kubernetes.io/enforce", "privileged"),
            labels.get("pod-security.kubernetes.io/warn", "privileged"))


def describe(level: str, found: list[str]) -> str:
    return f'PodSecurity "{level}:latest": ' + ", ".join(found)
