"""Metrics for Prometheus (settings.metrics), rendered and checked without a cluster: off by default and then
absent from every object; on, the scrape annotations, the exporter's args per Elasticsearch major, the
PodMonitors only where the cluster serves them, the NetworkPolicy peers, and the exporter's Elasticsearch user
(run against the fake Elasticsearch's role-based authorization)."""

from __future__ import annotations

import json

import pytest

from kubelogs import compatibility as compat
from kubelogs.manifests import GeneratedSecrets, metrics, render_all, security
from kubelogs.manifests.checks import check
from kubelogs.manifests.common import MONITOR_SECRET
from kubelogs.settings import SettingsError, validate_settings
from tests.unit.test_least_privilege import ELASTIC, PASSWORDS, admitted, bulk, call, pod_labels, secured_fake

SECRETS = GeneratedSecrets(password="generated", ca_crt="ca", tls_crt="crt", tls_key="key", writer_password="w",
                           reader_password="r", kibana_password="k", kibana_key="kk", http_trust="trust",
                           monitor_password="m")
ON = {"enabled": True, "scraper_namespaces": ["monitoring"]}
# A version of each major the templates configure, security as its free licence has it by default.
VERSIONS = ["5.6.16", "6.8.23", "7.17.26", "8.19.26", compat.DEFAULT_ES_VERSION]


def render(raw: dict, pod_monitors: bool = False) -> list[dict]:
    return render_all(validate_settings(raw), SECRETS, pod_monitors=pod_monitors)


def one(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_off_by_default_and_then_nowhere_in_the_render():
    text = json.dumps(render({}, pod_monitors=True))  # even where the operator's CRDs exist
    for word in ("prometheus.io", metrics.NAME, MONITOR_SECRET, security.MONITOR_ROLE, "PodMonitor"):
        assert word not in text, word
    assert render({}) == render({"metrics": {"enabled": False}})


@pytest.mark.parametrize("version", VERSIONS)
def test_on_every_major_the_render_passes_the_schemas_and_checks(version):
    objects = render({"elasticsearch": {"version": version}, "metrics": ON}, pod_monitors=True)
    assert check(objects) == []


def test_the_scrape_annotations_name_each_metrics_port_and_path():
    objects = render({"metrics": ON})
    for kind, name, port, path in (("DaemonSet", "fluent-bit", 2020, "/api/v2/metrics/prometheus"),
                                   ("Deployment", metrics.NAME, 9114, "/metrics")):
        template = one(objects, kind, name)["spec"]["template"]
        assert {k: v for k, v in template["metadata"]["annotations"].items() if k.startswith("prometheus.io/")} == {
            "prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}
        declared = {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        assert port in declared


@pytest.mark.parametrize("version", VERSIONS)
def test_the_exporter_verifies_the_ca_and_logs_in_only_where_security_is_on(version):
    settings = validate_settings({"elasticsearch": {"version": version}, "metrics": ON})
    deployment = one(render_all(settings, SECRETS), "Deployment", metrics.NAME)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    secure = settings.elasticsearch.security_enabled
    assert secure == compat.free_security_available(version)
    scheme = "https" if secure else "http"
    assert container["args"] == [f"--es.uri={scheme}://elasticsearch.logging.svc:9200", "--es.all",
                                 "--web.listen-address=:9114", "--web.telemetry-path=/metrics",
                                 *(["--es.ca=/var/run/secrets/kubelogs/elasticsearch-ca/ca.crt"] if secure else [])]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env == ({"ES_USERNAME": {"name": MONITOR_SECRET, "key": "username"},
                    "ES_PASSWORD": {"name": MONITOR_SECRET, "key": "password"}} if secure else {})
    assert bool(container["volumeMounts"]) == secure


def test_the_exporter_pod_is_hardened_and_small():
    spec = one(render({"metrics": ON}), "Deployment", metrics.NAME)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["image"] == compat.ES_EXPORTER_IMAGE and container["resources"]["limits"] == {"memory": "128Mi"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_pod_monitors_only_where_the_operator_serves_them_and_for_what_runs():
    raw = {"metrics": {**ON, "monitor_labels": {"release": "kube-prometheus-stack"}}}
    assert [o for o in render(raw) if o["kind"] == "PodMonitor"] == []
    monitors = {o["metadata"]["name"]: o for o in render(raw, pod_monitors=True) if o["kind"] == "PodMonitor"}
    assert set(monitors) == {metrics.NAME, "fluent-bit"}
    for name, port, path in ((metrics.NAME, "metrics", "/metrics"), ("fluent-bit", "http", "/api/v2/metrics/prometheus")):
        monitor = monitors[name]
        # The fields of monitoring.coreos.com/v1 PodMonitor (the operator's API reference) it relies on.
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"] == {"selector": {"matchLabels": {"app.kubernetes.io/name": name,
                                                                "app.kubernetes.io/part-of": "kubelogs"}},
                                   "podMetricsEndpoints": [{"port": port, "path": path}]}
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["metadata"]["labels"]["app.kubernetes.io/name"] == name
    # The log-pilot recipe on 5.x: no Fluent Bit anywhere, so no PodMonitor for it.
    five = render({"elasticsearch": {"version": "5.6.16"}, "metrics": ON}, pod_monitors=True)
    assert [o["metadata"]["name"] for o in five if o["kind"] == "PodMonitor"] == [metrics.NAME]


def test_network_policies_admit_the_scrapers_to_the_metrics_ports_only():
    objects = render({"metrics": {**ON, "scraper_namespaces": ["monitoring", "observability"]}})
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    ns = "logging"
    exporter, es = pod_labels(objects, "Deployment", metrics.NAME), pod_labels(objects, "StatefulSet", "elasticsearch")
    fluent_bit = pod_labels(objects, "DaemonSet", "fluent-bit")
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    for scrapers in ("monitoring", "observability"):
        assert admitted(policies, exporter, 9114, prometheus, scrapers, ns)
        assert admitted(policies, fluent_bit, 2020, prometheus, scrapers, ns)
        assert not admitted(policies, es, 9200, prometheus, scrapers, ns)  # the exporter asks, not Prometheus
        assert not admitted(policies, exporter, 9200, prometheus, scrapers, ns)
    assert not admitted(policies, exporter, 9114, prometheus, "default", ns)
    assert not admitted(policies, exporter, 9114, fluent_bit, ns, ns)
    assert admitted(policies, es, 9200, exporter, ns, ns)  # the exporter is one of 9200's clients
    # Off: the exporter is no client of 9200 (a pod that takes its labels is not admitted).
    off = [o for o in render({}) if o["kind"] == "NetworkPolicy"]
    assert not admitted(off, es, 9200, exporter, ns, ns)


@pytest.mark.parametrize("version", ["6.8.23", "7.17.26", "8.19.26", "9.5.7"])
def test_the_exporter_user_may_monitor_and_nothing_else(version):
    settings = validate_settings({"elasticsearch": {"version": version}, "metrics": ON})
    user = next(body for _, path, body in security.requests(settings) if path.endswith("/user/kubelogs-monitor"))
    assert user["roles"] == [security.MONITOR_ROLE] and user["password"] == "@@MONITOR_PASSWORD@@"
    PASSWORDS["MONITOR_PASSWORD"] = "monitor-password"
    try:
        es = secured_fake(settings)
    finally:
        del PASSWORDS["MONITOR_PASSWORD"]
    es.index("app-2026.12.01", {"log": "x"})
    monitor = ("kubelogs-monitor", "monitor-password")
    # What the exporter asks on each scrape (and its cluster-info collector at start).
    for path in ("/", "/_cluster/health", "/_nodes/stats", "/_nodes/_local/stats"):
        assert call(es, monitor, "GET", path)[0] == 200, path
    assert call(es, monitor, "GET", "/app-2026.12.01/_count")[0] == 403  # no index privilege: no log is read
    assert bulk(es, monitor, "app-2026.12.01")["status"] == 403  # nor written
    assert call(es, monitor, "PUT", "/_cluster/settings", b'{"persistent":{}}')[0] == 403
    assert call(es, ELASTIC, "GET", "/_nodes/stats")[1]["nodes"]


def test_security_requests_make_the_monitor_user_only_when_metrics_are_on():
    off = validate_settings({})
    on = validate_settings({"metrics": ON})
    assert "kubelogs-monitor" not in json.dumps(security.requests(off))
    assert "MONITOR_PASSWORD" not in security.placeholders(off)
    assert security.placeholders(on)["MONITOR_PASSWORD"] == (MONITOR_SECRET, "password")
    role = next(body for method, path, body in security.requests(on) if path.endswith(f"/role/{security.MONITOR_ROLE}"))
    assert role == {"cluster": ["monitor"], "indices": []}


@pytest.mark.parametrize("raw, field, fragment", [
    ({"enabled": True}, "metrics.scraper_namespaces", "list the namespace of your Prometheus"),
    ({"enabled": "yes"}, "metrics.enabled", "must be True or False"),
    ({**ON, "scraper_namespaces": ["Monitoring"]}, "metrics.scraper_namespaces.0", "DNS-1123 label"),
    ({**ON, "exporter_image": "quay.io/prometheuscommunity/elasticsearch-exporter"}, "metrics.exporter_image", "pinned"),
    ({**ON, "monitor_labels": {"release": "kube prometheus"}}, "metrics.monitor_labels", "at most 63"),
    ({**ON, "monitor_labels": {"bad key!": "x"}}, "metrics.monitor_labels", "not a Kubernetes label key"),
    ({**ON, "scrapers": ["monitoring"]}, "metrics.scrapers", "did you mean 'scraper_namespaces'"),
    ({**ON, "monitor_labels": ["release"]}, "metrics.monitor_labels", "must be a dict"),
])
def test_bad_metrics_settings_name_field_value_and_fix(raw, field, fragment):
    with pytest.raises(SettingsError) as error:
        validate_settings({"metrics": raw})
    problems = [p for p in error.value.problems if p.field == field]
    assert problems, [str(p) for p in error.value.problems]
    assert fragment in problems[0].message, str(problems[0])
    assert f"kubelogs.{field} = " in str(error.value)
