"""Validation answers the deploy depends on: the 422s for fields that cannot change, in the API server's
words (pkg/apis/apps/validation, pkg/apis/core/validation, v1.32), and the few checks of what a write
must hold."""

from __future__ import annotations

import json

from tests.support.kube_double.errors import ApiFailure, invalid
from tests.support.kube_double.kinds import Kind

STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                       "minReadySeconds")


def _go_selector(selector: dict) -> str:
    """A LabelSelector as Go's %#v prints it in "Invalid value" messages."""
    labels = selector.get("matchLabels")
    labels_text = "map[string]string(nil)" if labels is None else (
        "map[string]string{" + ", ".join(f'{json.dumps(k)}:{json.dumps(v)}' for k, v in sorted(labels.items())) + "}")
    return (f"v1.LabelSelector{{MatchLabels:{labels_text}, "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}")


def validate_update(kind: Kind, old: dict, new: dict) -> None:
    name = new["metadata"]["name"]
    if new["metadata"].get("uid") and new["metadata"]["uid"] != old["metadata"]["uid"]:
        raise invalid(kind.kind, kind.group, name, [("metadata.uid", "FieldValueInvalid",
                                                       f'Invalid value: "{new["metadata"]["uid"]}": field is immutable')])
    spec_old, spec_new = old.get("spec") or {}, new.get("spec") or {}
    if kind.kind == "StatefulSet":
        rest_old = {k: v for k, v in spec_old.items() if k not in STATEFULSET_MUTABLE}
        rest_new = {k: v for k, v in spec_new.items() if k not in STATEFULSET_MUTABLE}
        if rest_old != rest_new:
            raise invalid(kind.kind, kind.group, name, [("spec", "FieldValueForbidden", (
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))])
    if kind.kind in ("DaemonSet", "Deployment", "ReplicaSet") and spec_old.get("selector") != spec_new.get("selector"):
        raise invalid(kind.kind, kind.group, name, [("spec.selector", "FieldValueInvalid",
                                                       f"Invalid value: {_go_selector(spec_new.get('selector') or {})}: "
                                                       "field is immutable")])
    if kind.kind == "Job":
        if spec_old.get("selector") != spec_new.get("selector") or spec_old.get("template") != spec_new.get("template"):
            raise invalid(kind.kind, kind.group, name, [("spec.template", "FieldValueInvalid", "field is immutable")])
    if kind.kind == "Service":
        old_ips, new_ips = spec_old.get("clusterIPs"), list(spec_new.get("clusterIPs") or [])
        if spec_new.get("clusterIP") != spec_old.get("clusterIP") and new_ips == old_ips and new_ips:
            new_ips[0] = spec_new.get("clusterIP")  # the strategy carries a changed clusterIP into clusterIPs
        if new_ips and old_ips and new_ips[0] != old_ips[0]:
            shown = "[]string{" + ", ".join(json.dumps(ip) for ip in new_ips) + "}"
            raise invalid(kind.kind, kind.group, name, [("spec.clusterIPs[0]", "FieldValueInvalid",
                                                           f"Invalid value: {shown}: may not change once set")])
    if kind.kind in ("Secret", "ConfigMap") and old.get("immutable"):
        if old.get("data") != new.get("data"):
            raise invalid(kind.kind, kind.group, name, [("data", "FieldValueForbidden",
                                                           "Forbidden: field is immutable when `immutable` is set")])
    if kind.kind == "Pod":
        _pod_update(kind, old, new)


def _pod_update(kind: Kind, old: dict, new: dict) -> None:
    spec_old, spec_new = dict(old.get("spec") or {}), dict(new.get("spec") or {})
    # What may change on a running pod: images, activeDeadlineSeconds, tolerations (additions), and the
    # node binding once; everything else is forbidden.
    for spec in (spec_old, spec_new):
        spec["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get("containers") or []]
        spec["initContainers"] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get("initContainers") or []]
        for key in ("activeDeadlineSeconds", "tolerations"):
            spec.pop(key, None)
    if not old["spec"].get("nodeName"):
        spec_old.pop("nodeName", None)
        spec_new.pop("nodeName", None)
    if spec_old != spec_new:
        raise invalid(kind.kind, kind.group, new["metadata"]["name"], [("spec", "FieldValueForbidden", (
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
            "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
            "previously negative)"))])


def validate(kind: Kind, obj: dict) -> None:
    """What any write must hold (the subset the tests can reach)."""
    name = obj["metadata"].get("name", "")
    spec = obj.get("spec") or {}
    if kind.kind in ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"):
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        from tests.support.kube_double.selectors import match_label_selector
        if not selector:
            raise invalid(kind.kind, kind.group, name, [("spec.selector", "FieldValueRequired", "Required value")])
        if not match_label_selector(selector, labels):
            raise invalid(kind.kind, kind.group, name, [("spec.template.metadata.labels", "FieldValueInvalid",
                                                           "Invalid value: `selector` does not match template `labels`")])
    if kind.kind == "StatefulSet":
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete" and strategy.get("rollingUpdate") is not None:
            raise invalid(kind.kind, kind.group, name, [("spec.updateStrategy.rollingUpdate", "FieldValueInvalid",
                                                           "Invalid value: only allowed for updateStrategy 'RollingUpdate'")])
    if kind.kind == "Deployment":
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate") is not None:
            raise invalid(kind.kind, kind.group, name, [("spec.strategy.rollingUpdate", "FieldValueForbidden",
                                                           "Forbidden: may not be specified when strategy `type` is "
                                                           "'Recreate'")])
    if kind.kind == "Job":
        policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            raise invalid(kind.kind, kind.group, name, [("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                                                           f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"')])
    if kind.kind == "Pod" and not spec.get("containers"):
        raise invalid(kind.kind, kind.group, name, [("spec.containers", "FieldValueRequired", "Required value")])


def reject_status_only_kind(kind: Kind) -> None:
    if not kind.status:
        raise ApiFailure(404, "NotFound", "the server could not find the requested resource")
