"""Least privilege, rendered and checked without a cluster: the Elasticsearch roles kubelogs sends (run against
the fake Elasticsearch's role-based authorization, tests/support/fake_es_security.py), the NetworkPolicies (which
of the deploy's pods each admits), and Kibana's objects per Elasticsearch major."""

from __future__ import annotations

import base64
import json

import pytest

from kubelogs import compatibility as compat
from kubelogs.cluster import es_calls
from kubelogs.manifests import GeneratedSecrets, index_settings, kibana, render_all, security
from kubelogs.manifests.common import KIBANA_SECRET, requests_text
from kubelogs.settings import validate_settings
from kubelogs.verify import pods
from tests.support.fake_elasticsearch import FakeElasticsearch

ELASTIC = ("elastic", "elastic-password")
PASSWORDS = {"WRITER_PASSWORD": "writer-password", "READER_PASSWORD": "reader-password", "KIBANA_PASSWORD": "kibana-password"}
SECURED = ["6.8.23", "7.17.26", "8.19.26", "9.5.7"]  # a version of each major with security in its free licence
TODAY = "app-2026.12.01"


def call(es: FakeElasticsearch, user: tuple[str, str] | None, method: str, path: str, body: bytes = b""):
    auth = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode() if user else None
    route, _, query = path.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return es.answer(route, params, auth, method, body, "application/x-ndjson" if path.endswith("_bulk") else "application/json")


def secured_fake(settings) -> FakeElasticsearch:
    """A fake with security on, the kubelogs security requests sent as `elastic` with the passwords filled in."""
    es = FakeElasticsearch(major=settings.elasticsearch.major, credentials=lambda: ELASTIC)
    for method, path, body in security.requests(settings):
        text = json.dumps(body)
        for name, value in PASSWORDS.items():
            text = text.replace(f"@@{name}@@", value)
        status, answer = call(es, ELASTIC, method, f"/{path}", text.encode())
        assert status == 200, (path, answer)
    return es


def bulk(es, user, index: str, action: str = "create") -> dict:
    meta = {action: {"_index": index, **({"_type": "_doc"} if es.major < 8 else {})}}
    status, answer = call(es, user, "POST", "/_bulk", f"{json.dumps(meta)}\n{json.dumps({'log': 'x'})}\n".encode())
    assert status == 200, answer
    return answer["items"][0][action]


@pytest.mark.parametrize("version", SECURED)
def test_the_writer_may_write_the_log_indices_and_nothing_else(version):
    settings = validate_settings({"elasticsearch": {"version": version}, "agents": {"collector": "fluent-bit"}})
    es = secured_fake(settings)
    writer = ("kubelogs-writer", PASSWORDS["WRITER_PASSWORD"])
    assert bulk(es, writer, TODAY)["status"] == 201  # creates the daily index and writes
    assert bulk(es, writer, "kubelogs-unrouted-2026.12.01")["status"] == 201
    assert call(es, writer, "GET", "/")[0] == 200 and call(es, writer, "GET", "/_cluster/health")[0] == 200
    for index in (".kibana", ".security-7", "not-a-daily-index"):
        assert bulk(es, writer, index)["status"] == 403, index
    assert call(es, writer, "GET", f"/{TODAY}/_count")[0] == 403  # it cannot read what it wrote
    assert call(es, writer, "PUT", "/_index_template/x", b'{"index_patterns":["x"]}')[0] == 403
    assert call(es, writer, "DELETE", f"/{TODAY}")[0] == 403
    assert call(es, writer, "PUT", "/_security/user/x", b'{"password":"123456","roles":["superuser"]}')[0] == 403


def test_beside_log_pilot_the_writer_may_also_load_filebeats_template():
    settings = validate_settings({"elasticsearch": {"version": compat.LOG_PILOT_ES_VERSION}})
    es = secured_fake(settings)
    writer = ("kubelogs-writer", PASSWORDS["WRITER_PASSWORD"])
    assert call(es, writer, "PUT", "/_template/filebeat-6.1.1", b'{"index_patterns":["filebeat-*"]}')[0] == 200
    assert bulk(es, writer, "filebeat-6.1.1-2026.12.01", "index")["status"] == 201


@pytest.mark.parametrize("version", SECURED)
def test_the_reader_may_read_what_the_verifier_reads_and_write_nothing(version):
    settings = validate_settings({"elasticsearch": {"version": version}})
    es = secured_fake(settings)
    es.index(TODAY, {"log": "kubelogs canary token"})
    es.policies["kubelogs-logs"] = {"policy": {"phases": {}}}
    reader = ("kubelogs-reader", PASSWORDS["READER_PASSWORD"])
    assert call(es, reader, "GET", "/_cluster/health")[0] == 200
    assert call(es, reader, "GET", f"/{TODAY}/_count?q=token") == (200, {"count": 1})
    assert call(es, reader, "GET", "/kubelogs-unrouted-*/_count") == (200, {"count": 0})
    assert call(es, reader, "GET", "/_cat/indices/*-20*") == (200, f"{TODAY}\n")
    assert call(es, reader, "GET", "/_ilm/policy/kubelogs-logs")[0] == 200
    assert bulk(es, reader, TODAY)["status"] == 403
    assert call(es, reader, "GET", "/.security-7/_count")[0] == 403


@pytest.mark.parametrize("version", SECURED)
def test_kibanas_system_user_gets_its_password(version):
    settings = validate_settings({"elasticsearch": {"version": version}})
    es = secured_fake(settings)
    user = compat.kibana_system_user(version)
    assert user == ("kibana_system" if compat.parse_version(version) >= (7, 8, 0) else "kibana")
    assert call(es, (user, PASSWORDS["KIBANA_PASSWORD"]), "GET", "/_security/_authenticate" if es.major >= 7
                else "/_xpack/security/_authenticate")[0] == 200


# --- NetworkPolicies: which pods each admits (the cluster's network plugin enforces them) ---

def _selects(selector: dict, labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        listed = present and labels[expr["key"]] in expr.get("values", [])
        if {"In": not listed, "NotIn": listed, "Exists": not present, "DoesNotExist": present}[expr["operator"]]:
            return False
    return True


def admitted(policies: list[dict], target: dict[str, str], port: int, source: dict[str, str], source_ns: str,
             namespace: str) -> bool:
    """Whether a connection from a pod (labels, namespace) to ``target``'s ``port`` is allowed: pods no
    policy selects are open; selected ones take what some rule of some selecting policy allows."""
    selecting = [p for p in policies if _selects(p["spec"]["podSelector"], target)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            if not any(p["port"] == port for p in rule.get("ports") or []):
                continue
            if not rule.get("from"):  # empty or missing: every source (the API's rule)
                return True
            for peer in rule.get("from") or []:
                if "podSelector" in peer and source_ns == namespace and _selects(peer["podSelector"], source):
                    return True
                if "namespaceSelector" in peer and _selects(peer["namespaceSelector"],
                                                            {"kubernetes.io/metadata.name": source_ns}):
                    return True
    return False


def pod_labels(objects: list[dict], kind: str, name: str) -> dict[str, str]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)["spec"]["template"]["metadata"]["labels"]


def test_network_policies_admit_exactly_this_deploys_clients():
    settings = validate_settings({"elasticsearch": {"version": compat.LOG_PILOT_ES_VERSION, "client_namespaces": ["apps"]},
                                  "kibana": {"client_namespaces": ["dashboards"]}})
    objects = render_all(settings, GeneratedSecrets("p", "c", "t", "k", "w", "r", "kp", "kk"))
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    ns = settings.namespace
    es, kb = pod_labels(objects, "StatefulSet", "elasticsearch"), pod_labels(objects, "Deployment", "kibana")
    clients = {name: pod_labels(objects, kind, name) for kind, name in
               (("DaemonSet", "fluent-bit"), ("DaemonSet", "log-pilot"), ("Deployment", "kibana"))}
    clients["cluster stage's calls"] = es_calls.pod(settings, "x", es_calls.CallBatch("t", ("health",)))["metadata"]["labels"]
    cron = index_settings.retention_cronjob(settings)  # (rendered for versions without ILM)
    clients["retention job"] = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    clients["verifier"] = pods.verifier(settings, "v", {}, "i")["metadata"]["labels"]
    clients["kibana check"] = pods.kibana_views(settings, "k", [])["metadata"]["labels"]
    for name, labels in clients.items():
        assert admitted(policies, es, 9200, labels, ns, ns), name
    canary = pods.canary(settings, "c", "node", "token")["metadata"]["labels"]
    assert not admitted(policies, es, 9200, canary, ns, ns)  # prints a line; needs no Elasticsearch
    assert not admitted(policies, es, 9200, {"app": "other"}, "default", ns)
    assert admitted(policies, es, 9200, {"app": "other"}, "apps", ns)  # elasticsearch.client_namespaces
    assert admitted(policies, es, 9300, es, ns, ns)
    assert not any(admitted(policies, es, 9300, labels, ns, ns) for labels in clients.values())
    assert not admitted(policies, kb, 5601, clients["fluent-bit"], ns, ns)
    assert admitted(policies, kb, 5601, clients["kibana check"], ns, ns)
    assert admitted(policies, kb, 5601, {"app": "grafana"}, "dashboards", ns)  # kibana.client_namespaces
    assert not admitted(policies, kb, 5601, {"app": "other"}, "apps", ns)
    # Fluent Bit's metrics port: the verifier only (it reads every agent's counters inside the cluster).
    agent = clients["fluent-bit"]
    assert admitted(policies, agent, 2020, clients["verifier"], ns, ns)
    assert not any(admitted(policies, agent, 2020, clients[name], ns, ns) for name in clients if name != "verifier")
    assert not admitted(policies, agent, 2020, canary, ns, ns)
    assert not admitted(policies, agent, 2020, {"app": "other"}, "apps", ns)


# --- Kibana's objects per major ---

@pytest.mark.parametrize("version, hosts, user, logs_in", [
    ("5.6.16", "ELASTICSEARCH_URL", None, False),
    ("6.5.4", "ELASTICSEARCH_URL", None, False),
    ("6.8.23", "ELASTICSEARCH_HOSTS", "kibana", True),
    ("7.17.26", "ELASTICSEARCH_HOSTS", "kibana_system", True),
    ("8.8.2", "ELASTICSEARCH_HOSTS", "kibana_system", True),
    ("8.19.26", "ELASTICSEARCH_HOSTS", "kibana_system", False),  # 8.9+ answers /api/status without credentials
    ("9.5.7", "ELASTICSEARCH_HOSTS", "kibana_system", False),
])
def test_kibana_of_the_elasticsearch_version(version, hosts, user, logs_in):
    settings = validate_settings({"elasticsearch": {"version": version}, "agents": {"collector": "auto"}})
    objects = render_all(settings, GeneratedSecrets("p", "c", "t", "k", "w", "r", "kp", "kk"))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"docker.elastic.co/kibana/kibana:{version}"
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    env = {e["name"]: e for e in container["env"]}
    scheme = "https" if user else "http"  # HTTPS wherever security is on, the certificate verified (test_tls.py)
    assert env[hosts]["value"] == f"{scheme}://elasticsearch.{settings.namespace}.svc:9200"
    probe = container["readinessProbe"]["exec"]["command"][2]  # exec: no network policy in its way
    assert ("XPACK_SECURITY_ENABLED" in env) is (compat.parse_version(version)[0] < 8)
    secret = next((o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == KIBANA_SECRET), None)
    if user is None:  # no security in that version's free licence
        assert secret is None and "ELASTICSEARCH_PASSWORD" not in env
    else:
        assert base64.b64decode(secret["data"]["username"]).decode() == user
        assert env["ELASTICSEARCH_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": KIBANA_SECRET, "key": "password"}
    # Where the probe logs in, the password goes to curl on stdin, never on its command line.
    assert ("$ELASTICSEARCH_PASSWORD" in probe) is logs_in and ("-K -" in probe) is (not probe.startswith("curl -sSf"))
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == kibana.UID


def test_kibana_off_renders_no_kibana():
    objects = render_all(validate_settings({"kibana": {"enabled": False}}), GeneratedSecrets("p", "c", "t", "k", "w", "r"))
    assert not [o for o in objects if "kibana" in o["metadata"]["name"] and "fluent-bit" not in o["metadata"]["name"]]
    assert "KIBANA_PASSWORD" not in requests_text(security.requests(validate_settings({"kibana": {"enabled": False}})))
