"""What Fluent Bit collects, through the rendered route.lua (in LuaJIT with the played agent, for real with
KUBELOGS_FLUENT_BIT_BIN): every pod by default, into its namespace's index unless it declares a log name;
not a pod that opts out; not an excluded namespace; with ``collect: declared``, declared pods only. A
change of these settings rolls the agents like any configuration change."""

from __future__ import annotations

from kubelogs.manifests.fluent_bit import COLLECT_ANNOTATION, LOG_NAME_FIELD
from tests.support.cluster_helpers import deploy, settings_for
from tests.support.log_traffic import app_pod, index_of


def plain_pod(api, name: str, node: str, annotations: dict | None = None) -> dict:
    """A pod that declares no log name."""
    return api.admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": api.namespace, "annotations": annotations or {}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox:1.36"}]}})


def lines_in(es, index: str) -> list[str]:
    return [d.get("log", "") for d in es.indices.get(index, [])]


def running(api, *pods: dict) -> None:
    kubelet = api.tier.kubelet
    api.wait_for("the pods on their nodes", lambda: all(p["metadata"]["uid"] in kubelet.pods for p in pods))


def test_every_pod_is_collected_into_its_namespace_unless_it_opts_out(api):
    deploy(api, settings_for(api))  # the defaults: collect all
    es, node = api.elasticsearch[api.namespace], api.nodes[0].node  # a containerd node: Fluent Bit
    plain, out = plain_pod(api, "plain", node), plain_pod(api, "opted-out", node, {COLLECT_ANNOTATION: "false"})
    declared = app_pod(api, "declared", node, "shop")
    running(api, plain, out, declared)
    kubelet = api.tier.kubelet
    kubelet.emit(out, "app", ["a line of a pod that opted out"])
    kubelet.emit(plain, "app", ["a line nobody declared"])
    kubelet.emit(declared, "app", ["a line of the shop"])
    namespace_index = index_of(api.namespace)
    api.wait_for("the shop's line", lambda: "a line of the shop" in lines_in(es, index_of("shop")))
    api.wait_for("the undeclared line", lambda: "a line nobody declared" in lines_in(es, namespace_index))
    [document] = [d for d in es.indices[namespace_index] if d["log"] == "a line nobody declared"]
    assert document[LOG_NAME_FIELD] == api.namespace and document["kubernetes"]["pod_name"] == "plain"
    assert es.indices[index_of("shop")][0][LOG_NAME_FIELD] == "shop"
    assert not any("opted out" in line for index in es.indices for line in lines_in(es, index))


def test_an_excluded_namespace_and_collect_declared_leave_undeclared_pods_out(api):
    es, node = None, api.nodes[0].node
    for agents in ({"exclude_namespaces": [api.namespace]}, {"collect": "declared"}):
        plan, _, _ = deploy(api, settings_for(api, agents=agents))
        if es is not None:  # the second run: a day-2 change, Fluent Bit rolls with its new configuration
            assert f"ConfigMap {api.namespace}/fluent-bit-config" in [s.ref for s in plan.steps if s.action == "update"]
        es = api.elasticsearch[api.namespace]
        suffix = len(es.indices)
        plain, declared = plain_pod(api, f"plain-{suffix}", node), app_pod(api, f"declared-{suffix}", node, "shop")
        running(api, plain, declared)
        api.tier.kubelet.emit(plain, "app", [f"undeclared {agents}"])
        api.tier.kubelet.emit(declared, "app", [f"declared {agents}"])
        api.wait_for("the declared line", lambda: f"declared {agents}" in lines_in(es, index_of("shop")))
        assert not any(f"undeclared {agents}" in line for index in es.indices for line in lines_in(es, index))
