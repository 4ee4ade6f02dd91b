"""HTTPS on the cluster tier: the fake Elasticsearch serves the generated certificate while its pods mount it and
then refuses plain HTTP (tests/support/loopback.py); every client kubelogs deploys or runs reaches it over HTTPS
with the CA it mounts: the agents (the real Fluent Bit, or played by its configuration's tls.* keys; log-pilot's
Filebeat by its system bundle), Kibana, the verifier, the Kibana check and the Elasticsearch calls (curl in a
pod sandbox, through the Service's name). A client with another CA, or the wrong name, is refused. A certificate
near its expiry is renewed from the same CA and Elasticsearch's pods restart one at a time, with no line lost."""

from __future__ import annotations

import base64
import ssl

import pytest

from kubelogs.cluster import certificates
from kubelogs.manifests.common import HTTP_CA_SECRET, HTTP_CERTS_SECRET, HTTP_TRUST_SECRET
from kubelogs.verify import stage as verify_stage
from tests.support.cluster_helpers import deploy, kube, log_pilot_settings_for, settings_for
from tests.support.log_traffic import app_pod, index_of
from tests.support.loopback import call


def verify(settings) -> tuple[verify_stage.Report, list[str]]:
    lines: list[str] = []
    return verify_stage.run(kube(settings), settings, lines.append), lines


def messages(es, index: str) -> list[str]:
    return [d.get("log") or d.get("message", "") for d in es.indices.get(index, [])]


def refusals(api, es) -> None:
    """Nothing was refused, and Elasticsearch serves HTTPS: plain HTTP, another CA, another name all fail."""
    assert es.refused == [], es.refused  # no client of this run spoke plain HTTP or failed the handshake
    assert es.certificate() is not None
    ca = api.secret_data(HTTP_CA_SECRET)["ca.crt"]
    service = f"elasticsearch.{api.namespace}.svc"
    status, _ = call(es.address, "GET", f"https://{service}:9200/_cluster/health", ca=ca)
    assert status == 401  # TLS verified (name and CA); the request itself has no credentials
    with pytest.raises(OSError):  # closed unanswered, as Elasticsearch closes a plaintext connection
        call(es.address, "GET", f"http://{service}:9200/")
    assert es.refused[-1] == "plain HTTP on HTTPS"
    stranger = certificates.new_ca("not kubelogs", certificates.HTTP_CA_VALIDITY).crt
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        call(es.address, "GET", f"https://{service}:9200/", ca=stranger)
    with pytest.raises(ssl.SSLCertVerificationError, match="match|mismatch"):
        call(es.address, "GET", "https://elasticsearch.elsewhere.svc:9200/", ca=ca)


def test_every_client_speaks_https_verified_and_plain_http_is_refused(api):
    settings = settings_for(api, verify={"timeout": 20})
    plan, _, log = deploy(api, settings)
    es = api.elasticsearch[api.namespace]
    assert any(line.startswith("  tls       HTTP certificate: expires") for line in plan.lines()), plan.lines()
    report, lines = verify(settings)  # canaries through the agents, the verifier, Kibana and its check
    assert report.ok, lines
    assert any(line.startswith("TLS: HTTPS; earliest expiry ") for line in lines), lines
    assert "Kibana: available" in "\n".join(lines)
    assert {u for u, m, p in es.calls_by if p.endswith("/_bulk")} == {"kubelogs-writer"}
    refusals(api, es)


def test_log_pilot_writes_over_https_with_the_ca_as_its_system_bundle(api):
    # The log-pilot recipe (6.8.23) on every runtime: log-pilot on the Docker node, Fluent Bit elsewhere.
    settings = log_pilot_settings_for(api, agents={"collector": "auto"}, verify={"timeout": 20})
    deploy(api, settings)
    es = api.elasticsearch[api.namespace]
    report, lines = verify(settings)
    assert report.ok, lines
    assert {r.agent for r in report.nodes if r.found} == {"log-pilot", "fluent-bit"}, lines
    refusals(api, es)


def test_a_certificate_near_expiry_is_renewed_and_elasticsearch_restarts_in_order_with_no_line_lost(api):
    settings = settings_for(api)
    deploy(api, settings)
    es, ns = api.elasticsearch[api.namespace], api.namespace
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in api.pods("elasticsearch")}
    agents = {p["metadata"]["uid"] for p in api.pods("fluent-bit")}
    # The certificate as a run a year ago left it: ten days to go, from the same CA.
    ca = api.secret_data(HTTP_CA_SECRET)
    short = certificates.issue(certificates.Issued(ca["ca.crt"], ca["ca.key"]),
                               certificates.http_names(ns, "elasticsearch", "elasticsearch-discovery"),
                               certificates.HTTP_VALIDITY / 36.5)
    kube(settings).merge_patch("Secret", HTTP_CERTS_SECRET, ns, {"data": {
        "tls.crt": base64.b64encode(short.crt.encode()).decode(),
        "tls.key": base64.b64encode(short.key.encode()).decode()}}, "a-year-ago")
    assert es.certificate() == (short.crt, short.key)  # Elasticsearch reloads it; clients still trust it
    node = api.nodes[0].node
    app = app_pod(api, "app", node, "shop")
    api.wait_for("the app on its node", lambda: app["metadata"]["uid"] in api.tier.kubelet.pods)
    kubelet, restarted = api.tier.kubelet, []

    def each_restart(meta: dict) -> None:  # a line written while each pod restarts
        if meta["name"].startswith("elasticsearch-"):
            restarted.append(meta["name"])
            kubelet.emit(app, "app", [f"during the restart of {meta['name']}"])
    kubelet.on_terminate = each_restart
    kubelet.emit(app, "app", ["before the renewal"])
    try:
        plan, done, log = deploy(api, settings)
    finally:
        kubelet.on_terminate = None
    kubelet.emit(app, "app", ["after the renewal"])
    renewal = [line for line in plan.lines() if "HTTP certificate" in line]
    assert renewal and "renewed" in renewal[0] and "within 30 days" in renewal[0], plan.lines()
    leaf = api.secret_data(HTTP_CERTS_SECRET)["tls.crt"]
    assert leaf != short.crt and certificates.signed_by(leaf, ca["ca.crt"])
    assert api.secret_data(HTTP_TRUST_SECRET)["ca.crt"] == ca["ca.crt"]  # same CA: the clients need nothing
    # Every reader of the certificate (Elasticsearch's pods) restarted, one at a time, highest first; the
    # agents did not.
    assert restarted == sorted(before, reverse=True) and done["restarted"] == len(before)
    assert all(before[p["metadata"]["name"]] != p["metadata"]["uid"] for p in api.pods("elasticsearch"))
    assert {p["metadata"]["uid"] for p in api.pods("fluent-bit")} == agents
    assert es.certificate()[0] == leaf and es.refused == []
    expected = ["before the renewal", *(f"during the restart of {n}" for n in restarted), "after the renewal"]
    api.wait_for("every line", lambda: sorted(messages(es, index_of("shop"))) == sorted(expected))


def test_turning_security_on_switches_every_pod_to_https_together(api):
    es = api.serve_elasticsearch(9)
    deploy(api, settings_for(api, elasticsearch={"security": False}))
    assert es.certificate() is None and es.refused == []
    restarts: list[str] = []
    api.tier.kubelet.on_terminate = lambda meta: restarts.append(meta["name"])
    try:
        plan, done, log = deploy(api, settings_for(api, elasticsearch={"security": True}))
    finally:
        api.tier.kubelet.on_terminate = None
    # The calls before the restart spoke plain HTTP (what the pods served), those after it HTTPS.
    assert any("a full cluster restart (security or HTTPS changes)" in line for line in log), log
    assert done["restarted"] == 2 and es.refused == [], es.refused
    report, lines = verify(settings_for(api, elasticsearch={"security": True}, verify={"timeout": 20}))
    assert report.ok, lines
    refusals(api, es)
