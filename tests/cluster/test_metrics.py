"""Metrics for Prometheus on the cluster tier: turned on, the Elasticsearch exporter rolls out, logs in as its own
user over verified HTTPS and serves /metrics, scraped the way Prometheus's pod discovery reaches it (the pod's IP;
here through the API server's pod proxy); a re-run writes nothing; turned off, its objects are pruned and its
credentials kept. The Prometheus Operator's group is absent from the API-server double, as from a cluster without
the operator: its discovery is one request per plan (a 404), and a PodMonitor recorded by an earlier run does not
break pruning. The double does not model CRD-defined kinds, so PodMonitors being applied where the group exists is
covered by rendering only (tests/unit/test_metrics.py)."""

from __future__ import annotations

from kubelogs.cluster import applyset, stage
from kubelogs.manifests import metrics
from kubelogs.manifests.common import APPLYSET_PARENT_NAME, MONITOR_SECRET
from tests.support.cluster_helpers import deploy, kube, settings_for

ON = {"enabled": True, "scraper_namespaces": ["monitoring"]}
DISCOVERY = "/apis/monitoring.coreos.com/v1"


def discoveries(api) -> list[str]:
    return [r.path for r in api.requests if r.path.startswith(DISCOVERY)]


def scrape(api) -> str:
    pod = api.pods(metrics.NAME)[0]["metadata"]["name"]
    return api.admin.pod_proxy(pod, api.namespace, metrics.PORT, metrics.PATH)


def test_metrics_on_the_exporter_rolls_out_and_scrapes_as_its_own_user(api):
    settings = settings_for(api, metrics=ON)
    assert settings.elasticsearch.security_enabled  # the default version: HTTPS and users
    api.requests.clear()
    plan, done, _ = deploy(api, settings)
    assert discoveries(api) == [DISCOVERY]  # one discovery request; the group is absent: a 404
    assert not [s for s in plan.steps if s.manifest["kind"] == "PodMonitor"]
    exporter = api.pods(metrics.NAME)
    assert len(exporter) == 1 and all(c["ready"] for c in exporter[0]["status"]["containerStatuses"])
    text = scrape(api)
    assert "elasticsearch_cluster_health_up 1" in text and "elasticsearch_node_stats_up 1" in text, text
    assert 'elasticsearch_cluster_health_status{cluster="kubelogs",color="green"} 1' in text
    assert text.count("elasticsearch_jvm_memory_used_bytes{") == 2  # --es.all: both Elasticsearch nodes
    es = api.elasticsearch[api.namespace]
    asked = {(method, path.split("?")[0]) for user, method, path in es.calls_by if user == "kubelogs-monitor"}
    assert asked == {("GET", "/_cluster/health"), ("GET", "/_nodes/stats")}
    fluent_bit = api.get("DaemonSet", "fluent-bit", api.namespace)["spec"]["template"]["metadata"]["annotations"]
    assert fluent_bit["prometheus.io/port"] == "2020" and fluent_bit["prometheus.io/scrape"] == "true"

    # A re-run: still one discovery, nothing written.
    api.requests.clear()
    plan, done, _ = deploy(api, settings)
    assert not plan.has_work and discoveries(api) == [DISCOVERY]
    assert api.mutations() == []


def test_metrics_off_again_prunes_the_exporter_and_keeps_its_credentials(api):
    deploy(api, settings_for(api, metrics=ON))
    password = api.secret_data(MONITOR_SECRET, api.namespace)["password"]
    api.requests.clear()
    plan, done, _ = deploy(api, settings_for(api))
    assert discoveries(api) == []  # metrics off: no discovery at all
    pruned = {s.ref for s in plan.steps if s.action == "prune"}
    ns = api.namespace
    assert pruned == {f"Deployment {ns}/{metrics.NAME}", f"ServiceAccount {ns}/{metrics.NAME}",
                      f"NetworkPolicy {ns}/{metrics.NAME}"}
    api.wait_for("the exporter's pod to go", lambda: not api.pods(metrics.NAME))
    assert api.secret_data(MONITOR_SECRET, ns)["password"] == password  # never deleted


def test_a_pod_monitor_recorded_earlier_does_not_break_pruning_without_its_group(api):
    # An earlier run in a cluster with the operator recorded PodMonitors in the ApplySet parent; the operator
    # (its CRDs) is gone now: the LIST of PodMonitors is a 404, which means none is left to prune.
    settings = settings_for(api, metrics=ON)
    deploy(api, settings)
    parent = api.get("Secret", APPLYSET_PARENT_NAME, api.namespace)
    kinds = parent["metadata"]["annotations"][applyset.CONTAINS_ANNOTATION]
    api.admin.merge_patch("Secret", APPLYSET_PARENT_NAME, api.namespace, {"metadata": {"annotations": {
        applyset.CONTAINS_ANNOTATION: ",".join(sorted([*kinds.split(","), "PodMonitor.monitoring.coreos.com"]))}}},
        "kubelogs")
    api.requests.clear()
    plan = stage.plan(kube(settings), settings, api.nodes)
    podmonitor_lists = [r.path for r in api.requests if r.path.endswith("/podmonitors")]
    assert podmonitor_lists == [f"{DISCOVERY}/namespaces/{api.namespace}/podmonitors"]
    assert not [s for s in plan.steps if s.action == "prune"]
    stage.execute(kube(settings), plan, settings, lambda line: None)
    recorded = api.get("Secret", APPLYSET_PARENT_NAME, api.namespace)["metadata"]["annotations"]
    assert "PodMonitor" not in recorded[applyset.CONTAINS_ANNOTATION]  # the parent lists only what is owned
