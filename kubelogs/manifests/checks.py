"""Checks every rendered object must pass before anything is applied: the Kubernetes schemas of each
supported minor version (strict: unknown fields are errors), and the cross-object rules schemas miss."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import jsonschema
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from kubelogs import compatibility as compat
from kubelogs.manifests.common import Manifest
from kubelogs.manifests.metrics import OPERATOR_KINDS
from kubelogs.manifests.snapshot_repository import USER_SECRET_VOLUMES

WORKLOAD_KINDS = ("StatefulSet", "DaemonSet", "Deployment")


def _ref(m: Manifest) -> str:
    return f"{m['kind']}/{m['metadata']['name']}"


@functools.cache
def _definitions(schema_dir: str, version: str) -> Resource:
    return Resource.from_contents(kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version))


@functools.cache
def _validator(version: str, api_version: str, kind: str) -> jsonschema.Validator:
    """kubernetes_validate.validate(strict=True)'s schema for one kind and version, built once: that
    function reads and parses the large definitions file on every call (most of a deploy's check time)."""
    minor = kv_utils.major_minor(version)
    schema_version = [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) <= minor][-1]
    schema_dir = f"v{schema_version}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version)
    registry = _definitions(schema_dir, version) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def schema_problems(objects: Iterable[Manifest], versions: Iterable[str] = compat.KUBERNETES_VERSIONS) -> list[str]:
    problems = []
    # A kind a CRD defines (the Prometheus Operator's) has no Kubernetes schema: its few fields are tested
    # against the operator's API reference (tests/unit/test_metrics.py), and the API server validates it.
    for m in (o for o in objects if o["kind"] not in OPERATOR_KINDS):
        for version in versions:
            try:
                _validator(version, m["apiVersion"], m["kind"]).validate(m)
            except jsonschema.ValidationError as e:
                problems.append(f"{_ref(m)} (Kubernetes {version}): {e.message} at {'.'.join(map(str, e.path))}")
    return problems


def _pod_templates(objects: list[Manifest]) -> list[tuple[Manifest, dict]]:
    return [(m, m["spec"]["template"]) for m in objects if m["kind"] in WORKLOAD_KINDS]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def semantic_problems(objects: list[Manifest]) -> list[str]:
    problems = []
    by_kind_name = {(m["kind"], m["metadata"]["name"]) for m in objects}
    for m, template in _pod_templates(objects):
        pod_labels = template["metadata"].get("labels", {})
        if not _matches(m["spec"]["selector"]["matchLabels"], pod_labels):
            problems.append(f"{_ref(m)}: selector does not match its pod template's labels")
        if m["kind"] == "StatefulSet":
            service = next((s for s in objects if s["kind"] == "Service"
                            and s["metadata"]["name"] == m["spec"]["serviceName"]), None)
            if service is None or service["spec"].get("clusterIP") != "None":
                problems.append(f"{_ref(m)}: serviceName {m['spec']['serviceName']!r} is not a rendered headless Service")
        spec = template["spec"]
        if ("ServiceAccount", spec.get("serviceAccountName")) not in by_kind_name:
            problems.append(f"{_ref(m)}: service account {spec.get('serviceAccountName')!r} is not rendered")
        for container in spec["containers"]:
            ports = {p.get("name") for p in container.get("ports", [])} | {p["containerPort"] for p in container.get("ports", [])}
            for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(probe_name, {})
                for action in ("httpGet", "tcpSocket"):
                    if action in probe and probe[action]["port"] not in ports:
                        problems.append(f"{_ref(m)}: {probe_name} port {probe[action]['port']!r} is not declared")
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ("Secret", ref["name"]) not in by_kind_name:
                    problems.append(f"{_ref(m)}: env {env['name']} reads Secret {ref['name']!r}, which is not rendered")
        for volume in spec.get("volumes", []):
            if "secret" in volume and ("Secret", volume["secret"]["secretName"]) not in by_kind_name \
                    and volume["name"] not in USER_SECRET_VOLUMES:
                problems.append(f"{_ref(m)}: volume {volume['name']} reads Secret {volume['secret']['secretName']!r}, which is not rendered")
            if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in by_kind_name:
                problems.append(f"{_ref(m)}: volume {volume['name']} reads ConfigMap {volume['configMap']['name']!r}, which is not rendered")
    for service in (s for s in objects if s["kind"] == "Service"):
        targets = [(m, t) for m, t in _pod_templates(objects)
                   if _matches(service["spec"]["selector"], t["metadata"].get("labels", {}))]
        if not targets:
            problems.append(f"{_ref(service)}: selector matches no rendered pod template")
        for port in service["spec"]["ports"]:
            declared = {p.get("name") for _, t in targets for c in t["spec"]["containers"] for p in c.get("ports", [])}
            if isinstance(port["targetPort"], str) and port["targetPort"] not in declared:
                problems.append(f"{_ref(service)}: targetPort {port['targetPort']!r} is not a container port of its pods")
    return problems


def check(objects: list[Manifest]) -> list[str]:
    """Every problem of the rendered objects; empty means they may be applied."""
    return semantic_problems(objects) + schema_problems(objects)
