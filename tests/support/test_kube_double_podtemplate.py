"""tests/support/kube_double/podtemplate.py against hashes a real kube-apiserver v1.32 recorded.

The recorded values are read from the API contract corpus (shared/kube-contract/corpus), the
templates from the requests in the same files: nothing here restates a recorded hash.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterator

import pytest

from tests.support.kube_double import podtemplate
from tests.support.shared import shared

def _steps(scenario: str) -> dict[str, dict[str, Any]]:
    doc = json.loads((shared("kube-contract", "corpus") / f"{scenario}.json").read_text())
    return {step["id"]: step for step in doc["steps"]}


def _template(step: dict[str, Any]) -> dict[str, Any]:
    return step["request"]["body"]["spec"]["template"]


def test_daemonset_pods_controller_revision_hash_matches_the_recording() -> None:
    steps = _steps("daemonset-nodes")
    recorded = steps["pods-revision"]["recorded"]['items[*].metadata.labels["controller-revision-hash"]']
    assert len(set(recorded)) == 1
    template = podtemplate.default_pod_template(_template(steps["create"]))
    # DaemonSet.status.collisionCount is unset on a fresh DaemonSet
    assert podtemplate.compute_hash(template) == recorded[0]


@pytest.mark.parametrize("name", ["bg", "fg", "orphan"])
def test_deployment_pod_template_hash_matches_the_recording(name: str) -> None:
    steps = _steps("delete-propagation")
    (labels,) = steps[f"{name}-rs"]["recorded"]["items[*].metadata.labels"]
    template = podtemplate.default_pod_template(_template(steps[f"{name}-create"]))
    assert podtemplate.compute_hash(template) == labels["pod-template-hash"]


def test_template_defaults_match_what_the_server_returned() -> None:
    step = _steps("ssa-create")["create-statefulset"]
    spec = podtemplate.default_pod_template(_template(step))["spec"]
    recorded = step["recorded"]
    assert spec["restartPolicy"] == recorded["spec.template.spec.restartPolicy"]
    assert spec["dnsPolicy"] == recorded["spec.template.spec.dnsPolicy"]
    assert spec["schedulerName"] == recorded["spec.template.spec.schedulerName"]
    container = spec["containers"][0]
    assert container["terminationMessagePath"] == recorded["spec.template.spec.containers[0].terminationMessagePath"]
    assert container["imagePullPolicy"] == recorded["spec.template.spec.containers[0].imagePullPolicy"]
    assert "enableServiceLinks" not in spec  # SetDefaults_Pod only, not templates


# Kubernetes' own StatefulSet compatibility fixture (pkg/controller/statefulset/testdata/
# compatibility_{set,revision}_1.33.0.json): the set's template and the revision it produced.
UPSTREAM_STS_TEMPLATE = {
    "metadata": {"annotations": {"test": "value"}, "creationTimestamp": None, "labels": {"app": "foo"}},
    "spec": {
        "containers": [{
            "image": "test", "imagePullPolicy": "Always", "name": "test", "resources": {},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        }],
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
        "securityContext": {}, "terminationGracePeriodSeconds": 30,
    },
}
UPSTREAM_REVISION_DATA = (
    b'{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},'
    b'"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test",'
    b'"imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":'
    b'"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst",'
    b'"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},'
    b'"terminationGracePeriodSeconds":30}}}}'
)


def test_statefulset_revision_matches_the_upstream_fixture() -> None:
    sts = {"metadata": {"name": "test"}, "spec": {"template": UPSTREAM_STS_TEMPLATE}}
    raw = podtemplate.statefulset_patch(sts)
    assert raw == UPSTREAM_REVISION_DATA
    # the StatefulSet controller passes &collisionCount (0), so "0" is hashed too
    name = podtemplate.controller_revision_name("test", podtemplate.hash_controller_revision(raw, 0))
    assert name == "test-c77f6d978"
    # the same template, defaulted from its minimal form, gives the same bytes
    minimal = {"metadata": {"annotations": {"test": "value"}, "labels": {"app": "foo"}},
               "spec": {"containers": [{"image": "test", "name": "test"}]}}
    assert podtemplate.statefulset_patch({"spec": {"template": podtemplate.default_pod_template(minimal)}}) == raw


RICH_TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "fluent-bit", "tier": "logs"}, "annotations": {"kubelogs.io/config-hash": "2"}},
    "spec": {
        "serviceAccountName": "fluent-bit",
        "priorityClassName": "system-node-critical",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "imagePullSecrets": [{"name": "pull"}],
        "tolerations": [
            {"operator": "Exists", "effect": "NoSchedule"},
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 60},
        ],
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 10, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                  "labelSelector": {"matchLabels": {"app": "fluent-bit"}}}}]},
        },
        "securityContext": {"runAsNonRoot": True, "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
        "containers": [{
            "name": "fluent-bit",
            "image": "cr.fluentbit.io/fluent/fluent-bit:3.1",
            "args": ["-c", "/fluent-bit/etc/fluent-bit.conf"],
            "ports": [{"name": "http", "containerPort": 2020}],
            "env": [
                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "es", "key": "password"}}},
                {"name": "HOST", "valueFrom": {"configMapKeyRef": {"name": "es", "key": "host", "optional": True}}},
                {"name": "PLAIN", "value": "1"},
            ],
            "envFrom": [{"configMapRef": {"name": "extra"}}],
            "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log", "readOnly": True},
                             {"name": "config", "mountPath": "/fluent-bit/etc/"}],
            "livenessProbe": {"httpGet": {"path": "/", "port": 2020}, "initialDelaySeconds": 5},
            "readinessProbe": {"httpGet": {"path": "/api/v1/health", "port": "http"}},
            "startupProbe": {"tcpSocket": {"port": 2020}},
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
            "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }],
        "volumes": [
            {"name": "varlog", "hostPath": {"path": "/var/log"}},
            {"name": "buffer", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "config", "configMap": {"name": "fluent-bit", "items": [{"key": "a", "path": "a.conf"}]}},
            {"name": "certs", "secret": {"secretName": "es-ca", "optional": False}},
            {"name": "token", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "audience": "es"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ]}},
        ],
        "terminationGracePeriodSeconds": 30,
    },
}


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _mutated(path: tuple[Any, ...], value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if path[-2:-1] in (("limits",), ("requests",)) or path[-1] in ("sizeLimit", "divisor"):
        return "7"  # still a quantity, another value
    return value + "x"


def test_changing_any_template_field_changes_the_hash() -> None:
    template = podtemplate.default_pod_template(RICH_TEMPLATE)
    base_text, base_hash = podtemplate.spew_template(template), podtemplate.compute_hash(template)
    leaves = [(path, value) for path, value in _leaves(template)
              if value is not None]  # metadata.creationTimestamp: only the zero time is supported
    assert len(leaves) > 80
    hashes = set()
    for n, (path, value) in enumerate(leaves):
        parent = template
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = _mutated(path, value)  # mutate in place, restore below: no deep copies
        try:
            # every field reaches the text FNV hashes; FNV itself is pinned by the recorded hashes,
            # so hashing a sample keeps this test fast (pure-Python FNV is ~5 ms per template)
            assert podtemplate.spew_template(template) != base_text, f"{'.'.join(map(str, path))} not hashed"
            if n % 10 == 0:
                hashes.add(podtemplate.compute_hash(template))
        finally:
            parent[path[-1]] = value
    assert base_hash not in hashes and len(hashes) == len(range(0, len(leaves), 10))
    # map keys are printed too
    relabeled = copy.deepcopy(template)
    relabeled["metadata"]["labels"]["tierx"] = relabeled["metadata"]["labels"].pop("tier")
    assert podtemplate.compute_hash(relabeled) != base_hash


def test_collision_count_changes_the_hashes() -> None:
    template = podtemplate.default_pod_template(RICH_TEMPLATE)
    hashes = {podtemplate.compute_hash(template, count) for count in (None, 0, 1, 2, -1)}
    assert len(hashes) == 5
    raw = podtemplate.daemonset_patch({"spec": {"template": template}})
    assert len({podtemplate.hash_controller_revision(raw, count) for count in (None, 0, 1)}) == 3


def _reversed(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _reversed(node[key]) for key in reversed(list(node))}
    if isinstance(node, list):
        return [_reversed(item) for item in node]
    return node


def test_key_order_of_the_input_does_not_matter() -> None:
    template = podtemplate.default_pod_template(RICH_TEMPLATE)
    backwards = _reversed(template)
    assert list(backwards["spec"]) != list(template["spec"])
    assert podtemplate.compute_hash(backwards) == podtemplate.compute_hash(template)
    assert podtemplate.default_pod_template(_reversed(RICH_TEMPLATE)) == template
    for patch in (podtemplate.daemonset_patch, podtemplate.statefulset_patch):
        assert patch({"spec": {"template": backwards}}) == patch({"spec": {"template": template}})


def test_quantities_are_printed_as_the_controller_holds_them() -> None:
    printed = podtemplate.spew_template(podtemplate.default_pod_template(RICH_TEMPLATE))
    # ParseQuantity keeps the string only when it is canonical: "100m" yes, "128Mi" no (128 % 8 == 0)
    no_dec = "d:(resource.infDecAmount){Dec:(*inf.Dec)<nil>}"
    assert ("cpu:{i:(resource.int64Amount){value:(int64)100 scale:(resource.Scale)-3} "
            f"{no_dec} s:(string)100m Format:(resource.Format)DecimalSI}}") in printed
    assert ("memory:{i:(resource.int64Amount){value:(int64)134217728 scale:(resource.Scale)0} "
            f"{no_dec} s:(string) Format:(resource.Format)BinarySI}}") in printed
    # an unset divisor reaches the controller as "0"
    env = [{"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]
    defaulted = podtemplate.default_pod_template({"spec": {"containers": [{"name": "c", "env": env}]}})
    assert defaulted["spec"]["containers"][0]["env"][0]["valueFrom"]["resourceFieldRef"]["divisor"] == "0"
    assert ("Divisor:(resource.Quantity){i:(resource.int64Amount){value:(int64)0 scale:(resource.Scale)0} "
            f"{no_dec} s:(string)0 Format:(resource.Format)DecimalSI}}") in podtemplate.spew_template(defaulted)


def test_defaults_round_resource_lists_up_to_milli() -> None:
    resources = {"requests": {"cpu": "0.5m", "memory": "1.5Gi"}}
    spec = podtemplate.default_pod_template(
        {"spec": {"containers": [{"name": "c", "image": "app", "resources": resources}]}})["spec"]
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "1m", "memory": "1536Mi"}
    assert spec["containers"][0]["imagePullPolicy"] == "Always"  # no tag means :latest


def test_patches_follow_go_json() -> None:
    template = podtemplate.default_pod_template(
        {"metadata": {"annotations": {"a": "<b&c>\u2028"}},
         "spec": {"containers": [{"name": "c", "image": "app:1"}],
                  "securityContext": {"runAsUser": 9007199254740993}}})
    ds = podtemplate.daemonset_patch({"spec": {"template": template}})
    sts = podtemplate.statefulset_patch({"spec": {"template": template}})
    assert ds.startswith(b'{"spec":{"template":{"$patch":"replace","metadata":'
                         b'{"annotations":{"a":"\\u003cb\\u0026c\\u003e\\u2028"}')
    assert b'"runAsUser":9007199254740993' in ds  # util/json keeps int64
    assert b'"runAsUser":9007199254740992' in sts  # encoding/json goes through float64


def test_untranscribed_types_and_unknown_fields_are_refused() -> None:
    with pytest.raises(podtemplate.UnsupportedTemplate, match="GCEPersistentDiskVolumeSource"):
        podtemplate.compute_hash({"spec": {"containers": [{"name": "c"}], "volumes": [
            {"name": "d", "gcePersistentDisk": {"pdName": "x"}}]}})
    with pytest.raises(podtemplate.UnsupportedTemplate, match="hostnameOverride"):
        podtemplate.compute_hash({"spec": {"containers": [{"name": "c"}], "hostnameOverride": "h"}})
