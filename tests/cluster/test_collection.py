"""What Fluent Bit collects, through the rendered route.lua (in LuaJIT with the played agent, for real with
KUBELOGS_FLUENT_BIT_BIN): every pod by default, into its namespace's index unless it declares a log name;
not a pod that opts out; not an excluded namespace; with ``collect: declared``, declared pods only. A
change of these settings rolls the agents like any configuration change. A JSON line's fields are
searchable under ``json``, and two applications' conflicting types both arrive. A stack trace of each
language is one document, unless its pod opts out."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kubelogs import compatibility as compat
from kubelogs.manifests.common import CREDENTIALS_SECRET
from kubelogs.manifests.fluent_bit import COLLECT_ANNOTATION, JSON_FIELD, LOG_NAME_FIELD, MULTILINE_ANNOTATION
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


TRACES = Path(__file__).resolve().parents[1] / "support" / "data" / "traces"


def test_a_stack_trace_is_one_document_unless_its_pod_opts_out(api):
    deploy(api, settings_for(api))
    es, node = api.elasticsearch[api.namespace], api.nodes[0].node  # a containerd node: Fluent Bit
    joined, apart = plain_pod(api, "joined", node), plain_pod(api, "apart", node, {MULTILINE_ANNOTATION: "false"})
    running(api, joined, apart)
    traces = {language: (TRACES / f"{language}.txt").read_text().splitlines() for language in ("java", "python", "go")}
    lines = ["starting", *traces["java"], "between", *traces["python"], *traces["go"], "done"]
    assert len(traces["java"]) == 40
    api.tier.kubelet.emit(joined, "app", lines)
    api.tier.kubelet.emit(apart, "app", traces["java"])
    index = index_of(api.namespace)

    def of(pod: str) -> list[str]:
        return [d["log"].rstrip("\n") for d in es.indices.get(index, []) if d["kubernetes"]["pod_name"] == pod]
    api.wait_for("the joined pod's documents", lambda: len(of("joined")) >= 6, timeout=30)
    api.wait_for("the other pod's lines", lambda: len(of("apart")) >= 40, timeout=30)
    assert sorted(of("joined")) == sorted(["starting", "\n".join(traces["java"]), "between",
                                           "\n".join(traces["python"]), "\n".join(traces["go"]), "done"])
    assert of("apart") == traces["java"]  # one document per line, in order


def count(api, es, index: str, query: str) -> int:
    """``GET <index>/_count?q=<query>`` as the elastic user (what a person searching in Kibana would find)."""
    data = api.secret_data(CREDENTIALS_SECRET)
    auth = "Basic " + base64.b64encode(f"{data['username']}:{data['password']}".encode()).decode() if data else None
    status, answer = es.answer(f"/{index}/_count", {"q": query}, auth)
    assert status == 200, answer
    return answer["count"]


@pytest.mark.parametrize("version", [compat.DEFAULT_ES_VERSION, compat.LOG_PILOT_ES_VERSION])
def test_json_fields_are_searchable_and_conflicting_types_never_cost_a_line(api, version):
    # Two applications in one namespace (one index) log "status" as a number and as a string. From 7.3 the
    # fields are one flattened field; before, route.lua makes them strings: both documents arrive, whole.
    deploy(api, settings_for(api, elasticsearch={"version": version}))
    es, node = api.elasticsearch[api.namespace], api.nodes[0].node  # a containerd node: Fluent Bit
    billing, shop = plain_pod(api, "billing", node), plain_pod(api, "shop", node)
    running(api, billing, shop)
    lines = {"billing": ['{"status": 200, "level": "error", "user": {"id": 42}}', "a plain line"],
             "shop": ['{"status": "ok", "level": "info", "user": "guest"}']}
    api.tier.kubelet.emit(billing, "app", lines["billing"])
    api.tier.kubelet.emit(shop, "app", lines["shop"])
    index = index_of(api.namespace)
    api.wait_for("the three lines", lambda: len(lines_in(es, index)) == 3)
    assert sorted(lines_in(es, index)) == sorted(lines["billing"] + lines["shop"])  # the line stays in `log`
    assert es.ignored_fields.get(index, 0) == 0  # no field left out as malformed either
    assert count(api, es, index, 'json.level:"error"') == 1 and count(api, es, index, 'json.level:"info"') == 1
    assert count(api, es, index, 'json.status:"200"') == 1 and count(api, es, index, 'json.status:"ok"') == 1
    nested = 'json.user.id:"42"' if compat.parse_version(version) >= compat.FLATTENED_FROM else 'json.user_id:"42"'
    assert count(api, es, index, nested) == 1
    [plain] = [d for d in es.indices[index] if d["log"] == "a plain line"]
    assert JSON_FIELD not in plain  # a line that is not JSON is unchanged
    assert json.loads(lines["billing"][0])["status"] == 200
