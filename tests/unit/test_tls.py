"""Every client of Elasticsearch in what kubelogs renders speaks HTTPS and verifies the certificate against the
generated CA, for every version with security × every collector; none turns verification off. And the
certificates themselves: names that cover the Services, renewal from the same CA, a CA replaced in two runs.
(On the cluster tier, tests/cluster/test_tls.py runs these clients against a double that refuses anything else.)"""

from __future__ import annotations

import datetime
import re

import pytest
import yaml

from kubelogs import compatibility as compat
from kubelogs.cluster import certificates, credentials, es_calls, es_plan
from kubelogs.manifests import GeneratedSecrets, render_all, security, tls
from kubelogs.manifests.common import HTTP_CA_SECRET, HTTP_CERTS_SECRET, HTTP_TRUST_SECRET
from kubelogs.manifests.elasticsearch import HTTP_CERTS_DIR, protocol
from kubelogs.manifests.log_pilot import SYSTEM_BUNDLE
from kubelogs.settings import validate_settings
from kubelogs.verify import pods

SECRETS = GeneratedSecrets(password="p", writer_password="w", reader_password="r", kibana_password="k",
                           kibana_key="k" * 32, http_trust="TRUST", http_crt="CRT", http_key="KEY")
# Each major with security, at the first version whose free licence has it and at the newest known here.
SECURED = ["6.8.23", "7.1.1", "7.17.28", "8.0.1", "8.19.0", "9.0.0", compat.DEFAULT_ES_VERSION]
# curl's and the agents' ways to turn verification off
INSECURE_FLAGS = re.compile(r"(^|\s)(-k|--insecure)(\s|$)|(?i:verify[_ ]?(mode|certs)?\W*(none|off|false))")


def collectors(version: str) -> list[str]:
    return [c for c in ("fluent-bit", "log-pilot", "auto") if compat.parse_version(version)[0] <= 6 or c == "fluent-bit"]


def run_time_pods(settings) -> list[dict]:
    """The pods the stages start at run time, each a client of Elasticsearch."""
    return [pods.verifier(settings, "verifier", {"n": "t"}, "i"), pods.kibana_views(settings, "views", ["app"]),
            es_calls.pod(settings, "es-admin", es_plan.send_batch(security.NAME))]


def containers_and_volumes(o: dict) -> tuple[list[dict], list[dict]]:
    spec = o.get("spec") or {}
    spec = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template", {}).get("spec") or spec
    return spec.get("containers") or [], spec.get("volumes") or []


def mounted(o: dict, path: str) -> dict | None:
    """The volume behind ``path`` in the object's first container, if something is mounted there."""
    (container, *_), volumes = containers_and_volumes(o)
    for m in container.get("volumeMounts") or []:
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/"):
            return next(v for v in volumes if v["name"] == m["name"])
    return None


def trusts_the_ca(volume: dict | None) -> bool:
    sources = [volume.get("secret", {}).get("secretName"),
               *(s.get("secret", {}).get("name") for s in volume.get("projected", {}).get("sources", []))] if volume else []
    return HTTP_TRUST_SECRET in sources


@pytest.mark.parametrize("version, collector", [(v, c) for v in SECURED for c in collectors(v)])
def test_every_client_verifies_the_certificate_against_the_generated_ca(version, collector):
    settings = validate_settings({"elasticsearch": {"version": version}, "agents": {"collector": collector}})
    objects = render_all(settings, SECRETS) + run_time_pods(settings)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    clients = 0
    # Elasticsearch serves HTTPS with its certificate; its own readiness probe verifies it too.
    es = by_name[("StatefulSet", "elasticsearch")]
    config = yaml.safe_load(by_name[("ConfigMap", "elasticsearch-config")]["data"]["elasticsearch.yml"])
    assert config["xpack.security.http.ssl.enabled"] is True
    assert config["xpack.security.http.ssl.certificate"] == f"{HTTP_CERTS_DIR}/tls.crt"
    assert protocol(es["spec"]["template"]["spec"]) == (True, True)
    probe = es["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"][2]
    assert "https://127.0.0.1:9200" in probe and f"--cacert {HTTP_CERTS_DIR}/ca.crt" in probe
    assert trusts_the_ca(mounted(es, f"{HTTP_CERTS_DIR}/ca.crt"))
    for o in objects:
        assert not INSECURE_FLAGS.search(str(o).replace("tls.verify_hostname", "")), o["metadata"]["name"]
        name = o["metadata"]["name"]
        for c in containers_and_volumes(o)[0]:
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            if "ES_URL" in env:  # kubelogs' own pods: curl with the bundle as its only CA (files/es-auth.sh)
                assert env["ES_URL"].startswith("https://") and env["ES_CA"] == tls.TRUST_FILE, name
                assert trusts_the_ca(mounted(o, env["ES_CA"])), name
                clients += 1
            if "ELASTICSEARCH_HOSTS" in env and "LOGGING_OUTPUT" in env:  # log-pilot: Filebeat, a Go program
                assert env["ELASTICSEARCH_SCHEME"] == "https" and env["SSL_CERT_FILE"] == SYSTEM_BUNDLE, name
                assert trusts_the_ca(mounted(o, SYSTEM_BUNDLE)), name
                clients += 1
            elif "SERVER_NAME" in env:  # Kibana
                hosts = env.get("ELASTICSEARCH_HOSTS") or env["ELASTICSEARCH_URL"]
                assert hosts.startswith("https://") and env["ELASTICSEARCH_SSL_VERIFICATIONMODE"] == "full", name
                assert trusts_the_ca(mounted(o, env["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"])), name
                clients += 1
        if o["kind"] == "ConfigMap" and "fluent-bit.conf" in o.get("data", {}):
            output = o["data"]["fluent-bit.conf"].split("[OUTPUT]")[1]
            keys = dict(line.split(None, 1) for line in output.strip().splitlines() if line.strip())
            assert (keys["tls"], keys["tls.verify"], keys["tls.verify_hostname"]) == ("On", "On", "On")
            assert trusts_the_ca(mounted(by_name[("DaemonSet", "fluent-bit")], keys["tls.ca_file"]))
            clients += 1
    agents = {"fluent-bit": 1, "log-pilot": 1, "auto": 2}[collector]
    retention = sum(o["kind"] == "CronJob" for o in objects)  # before ILM
    assert clients == agents + 1 + 3 + retention  # the agents, Kibana, the run-time pods, retention


@pytest.mark.parametrize("version", ["5.6.16", "6.5.4"])
def test_versions_without_security_speak_plain_http_to_nothing_else(version):
    settings = validate_settings({"elasticsearch": {"version": version}, "agents": {"collector": "auto"}})
    objects = render_all(settings, GeneratedSecrets(password="")) + run_time_pods(settings)
    assert "https://" not in str(objects) and "tls.ca_file" not in str(objects)
    # Only kubelogs' own pods mount the bundle, optionally: one kept from before a switch turned security off.
    trusting = {o["metadata"]["name"]: v for o in objects for v in containers_and_volumes(o)[1] if trusts_the_ca(v)}
    assert set(trusting) == {o["metadata"]["name"] for o in objects for c in containers_and_volumes(o)[0]
                             if any(e["name"] == "ES_URL" for e in c.get("env") or [])}
    assert len(trusting) >= 3 and all(v["secret"]["optional"] for v in trusting.values())


def test_the_calls_speak_what_the_running_pods_serve_while_a_restart_switches_it():
    settings = validate_settings({})
    batch = es_plan.send_batch(security.NAME)
    env = {h: {e["name"]: e.get("value") for e in es_calls.pod(settings, "p", batch, h)["spec"]["containers"][0]["env"]}
           for h in (True, False, None)}
    assert env[True]["ES_URL"].startswith("https://") and env[None]["ES_URL"].startswith("https://")
    assert env[False]["ES_URL"].startswith("http://")


# -- certificates -------------------------------------------------------------------------------------------
NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)


class Secrets:
    """The namespace's Secrets as credentials.existing_or_new reads them (one LIST), fed back each run."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        assert kind == "Secret"
        return list(self.items.values())

    def run(self, settings, now: datetime.datetime) -> credentials.Generated:
        generated = credentials.existing_or_new(self, settings, now)
        for o in render_all(settings, generated.values):
            if o["kind"] == "Secret":
                self.items[o["metadata"]["name"]] = o
        return generated


def test_the_http_certificate_names_the_services_and_is_kept_until_it_is_due():
    settings, secrets = validate_settings({}), Secrets()
    first = secrets.run(settings, NOW)
    assert {HTTP_CA_SECRET, HTTP_CERTS_SECRET, HTTP_TRUST_SECRET} <= set(first.secrets)
    leaf = first.values.http_crt
    assert set(certificates.names(leaf)) >= {"elasticsearch.logging.svc", "elasticsearch", "127.0.0.1"}
    assert certificates.signed_by(leaf, first.values.http_ca_crt) and first.values.http_trust == first.values.http_ca_crt
    again = secrets.run(settings, NOW + datetime.timedelta(days=100))
    assert again.secrets == [] and again.values == first.values
    assert any(line.startswith("HTTP certificate: expires") for line in again.certificates)


def test_a_certificate_within_the_renewal_window_is_renewed_from_the_same_ca():
    settings, secrets = validate_settings({"elasticsearch": {"certificate_renew_days": 30}}), Secrets()
    first = secrets.run(settings, NOW)
    expiry = certificates.not_after(first.values.http_crt)
    kept = secrets.run(settings, expiry - datetime.timedelta(days=31))
    assert kept.values.http_crt == first.values.http_crt
    due = expiry - datetime.timedelta(days=29)
    renewed = secrets.run(settings, due)
    assert renewed.secrets == [HTTP_CERTS_SECRET, HTTP_TRUST_SECRET] and renewed.values.http_crt != first.values.http_crt
    assert certificates.signed_by(renewed.values.http_crt, first.values.http_ca_crt)
    assert renewed.values.http_trust == first.values.http_trust  # the clients need not restart
    assert certificates.not_after(renewed.values.http_crt) > due + datetime.timedelta(days=300)
    assert any("within 30 days" in line for line in renewed.certificates), renewed.certificates
    # Elasticsearch's pods restart (their template's hash), the agents do not (theirs is the trust bundle's).
    before = {o["metadata"]["name"]: o for o in render_all(settings, first.values) if o["kind"] in ("StatefulSet", "DaemonSet")}
    after = {o["metadata"]["name"]: o for o in render_all(settings, renewed.values) if o["kind"] in ("StatefulSet", "DaemonSet")}
    assert before["elasticsearch"]["spec"]["template"] != after["elasticsearch"]["spec"]["template"]
    assert before["fluent-bit"]["spec"]["template"] == after["fluent-bit"]["spec"]["template"]


def test_the_ca_is_replaced_in_two_runs_and_both_are_trusted_meanwhile():
    settings, secrets = validate_settings({}), Secrets()
    first = secrets.run(settings, NOW)
    old_ca = first.values.http_ca_crt
    late = certificates.not_after(old_ca) - certificates.HTTP_VALIDITY  # a year before the CA expires
    published = secrets.run(settings, late)
    new_ca = published.values.http_ca_crt
    # First run: the new CA is published beside the old one; Elasticsearch's certificate is still the old CA's.
    assert new_ca != old_ca and published.values.http_trust == new_ca + old_ca
    assert certificates.signed_by(published.values.http_crt, old_ca)
    assert any("HTTP CA: replaced" in line for line in published.certificates)
    # Next run: the clients trust both, so the certificate comes from the new CA; the old CA stays trusted.
    switched = secrets.run(settings, late + datetime.timedelta(hours=1))
    assert certificates.signed_by(switched.values.http_crt, new_ca)
    assert switched.values.http_trust == new_ca + old_ca and switched.values.http_ca_crt == new_ca
    # Once the old CA has expired it is no longer trusted.
    after = secrets.run(settings, certificates.not_after(old_ca) + datetime.timedelta(days=1))
    assert after.values.http_trust == new_ca and certificates.signed_by(after.values.http_crt, new_ca)


def test_a_certificate_from_another_ca_or_without_the_names_is_replaced():
    settings, secrets = validate_settings({}), Secrets()
    first = secrets.run(settings, NOW)
    stranger = certificates.new_ca("someone else", certificates.HTTP_CA_VALIDITY)
    foreign = certificates.issue(stranger, certificates.names(first.values.http_crt), certificates.HTTP_VALIDITY)
    narrow = certificates.issue(certificates.Issued(first.values.http_ca_crt, first.values.http_ca_key),
                                ["elasticsearch"], certificates.HTTP_VALIDITY)
    for planted, why in ((foreign, "not signed by the CA"), (narrow, "do not cover the Services")):
        secrets.items[HTTP_CERTS_SECRET] = render_secret(settings, first.values, planted)
        fixed = secrets.run(settings, NOW)
        assert fixed.secrets == [HTTP_CERTS_SECRET, HTTP_TRUST_SECRET] and any(why in line for line in fixed.certificates)
        assert certificates.signed_by(fixed.values.http_crt, first.values.http_ca_crt)


def render_secret(settings, values: GeneratedSecrets, leaf: certificates.Issued) -> dict:
    from dataclasses import replace
    return next(o for o in render_all(settings, replace(values, http_crt=leaf.crt, http_key=leaf.key))
                if o["metadata"]["name"] == HTTP_CERTS_SECRET)


def test_without_security_nothing_is_generated():
    generated = credentials.existing_or_new(Secrets(), validate_settings({"elasticsearch": {"security": False}}))
    assert generated.secrets == [] and generated.certificates == [] and generated.values.http_trust == ""
