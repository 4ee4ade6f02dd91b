"""Least privilege and Kibana on the cluster tier: the API server takes the objects (Pod Security admission,
RBAC, NetworkPolicy, the Kibana Deployment its controllers roll out), Fluent Bit (real, or played by its
configuration) writes with the writer user its env resolves to, the verifier reads with the reader user,
the fake Elasticsearch records the security calls and decides every request by the roles they made
(tests/support/fake_es_security.py), and the verify stage's Kibana checks run against the fake Kibana the test
kubelet plays behind the Service (tests/support/fake_kibana.py)."""

from __future__ import annotations

from kubelogs.manifests.common import CREDENTIALS_SECRET, KIBANA_SECRET, READER_SECRET, WRITER_SECRET
from kubelogs.verify import stage as verify_stage
from tests.support.cluster_helpers import deploy, kube, log_pilot_settings_for, settings_for
from tests.support.log_traffic import DEFAULT_MAJOR


# The verify stage's Kibana line ends with the overview dashboard (tests/cluster/test_dashboard.py), or that 6.x has none.
BOARD, NO_BOARD = "; dashboard 'kubelogs overview' (new)", "; no dashboard (this version has no import API)"


def secret_refs(pod: dict) -> set[str]:
    return {e["valueFrom"]["secretKeyRef"]["name"] for c in pod["spec"]["containers"] for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}


def security_calls(es) -> list[tuple[str, str]]:
    return [(m, p) for m, p in es.calls if p.startswith(("/_security", "/_xpack/security"))]


def verify(api, settings) -> tuple[verify_stage.Report, list[str]]:
    lines: list[str] = []
    return verify_stage.run(kube(settings), settings, lines.append), lines


def test_agents_write_as_the_writer_the_verifier_reads_as_the_reader_and_kibana_has_the_views(api):
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    settings = settings_for(api, verify={"timeout": 20})
    plan, _, log = deploy(api, settings)
    ns = api.namespace
    # The users and roles, made once, as `elastic`, from an in-cluster pod.
    assert security_calls(es) == [
        ("PUT", "/_security/role/kubelogs_writer"), ("PUT", "/_security/user/kubelogs-writer"),
        ("PUT", "/_security/user/kubelogs-writer/_password"),
        ("PUT", "/_security/role/kubelogs_reader"), ("PUT", "/_security/user/kubelogs-reader"),
        ("PUT", "/_security/user/kubelogs-reader/_password"),
        ("PUT", "/_security/user/kibana_system/_password")]
    assert {u for u, m, p in es.calls_by if p.startswith("/_security")} == {"elastic"}
    for secret, user in ((WRITER_SECRET, "kubelogs-writer"), (READER_SECRET, "kubelogs-reader"),
                         (KIBANA_SECRET, "kibana_system")):
        data = api.secret_data(secret)
        assert data["username"] == user and es.security.password_of(user) == data["password"]
    elastic = api.secret_data(CREDENTIALS_SECRET)["password"]
    assert elastic not in "\n".join(plan.lines() + log)
    # Every agent pod reads the writer's Secret, none the superuser's; Kibana its own.
    agents = api.pods("fluent-bit")
    assert agents and all(secret_refs(p) == {WRITER_SECRET} for p in agents)
    [kibana] = api.pods("kibana")
    assert secret_refs(kibana) == {KIBANA_SECRET}
    assert api.get("Deployment", "kibana", ns)["status"]["availableReplicas"] == 1
    # Every pod kubelogs runs is selected by one: who may reach it, or (the short-lived pods) no one.
    assert {p["metadata"]["name"] for p in api.objects("NetworkPolicy")} == {
        "elasticsearch-transport", "elasticsearch-http", "kibana", "fluent-bit", "kubelogs-calls", "kubelogs-verify"}

    report, lines = verify(api, settings)
    assert report.ok, lines
    assert f"Kibana: available; index patterns kubelogs-canary-* (1 new){BOARD}" in lines
    kibana_server = api.tier.kubelet.backends[(ns, "kibana")][5601]
    assert kibana_server  # the fake Kibana that logged in to Elasticsearch as kibana_system
    writes = {u for u, m, p in es.calls_by if p.endswith("/_bulk")}
    reads = {u for u, m, p in es.calls_by if "/_count" in p or p.startswith("/_cat/indices")}
    assert writes == {"kubelogs-writer"} and reads == {"kubelogs-reader"}

    # A re-run changes nothing and keeps every password; a second verify finds the index pattern there.
    calls = len(security_calls(es))
    again, _, _ = deploy(api, settings)
    assert not again.has_work and len(security_calls(es)) == calls
    for secret in (WRITER_SECRET, READER_SECRET, KIBANA_SECRET, CREDENTIALS_SECRET):
        assert api.secret_data(secret)["password"] == (elastic if secret == CREDENTIALS_SECRET else
                                                       es.security.password_of(api.secret_data(secret)["username"]))
    report, lines = verify(api, settings)
    assert report.ok and "Kibana: available; index patterns kubelogs-canary-*; dashboard 'kubelogs overview'" in lines, lines


def test_a_deleted_writer_secret_is_made_again_and_sent_again(api):
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    settings = settings_for(api)
    deploy(api, settings)
    old = api.secret_data(WRITER_SECRET)["password"]
    api.admin.delete("Secret", WRITER_SECRET, api.namespace)
    plan, _, _ = deploy(api, settings)
    assert f"  create    Secret {api.namespace}/{WRITER_SECRET} (generated)" in plan.lines()
    assert "  calls     elasticsearch: set up the agents' writer, the verifier's reader and Kibana's password" in plan.lines()
    new = api.secret_data(WRITER_SECRET)["password"]
    assert new != old and es.security.password_of("kubelogs-writer") == new
    # The agents read it at start: their pods were replaced, and they ship with it.
    assert f"  update    DaemonSet {api.namespace}/fluent-bit" in plan.lines()
    report, lines = verify(api, settings_for(api, verify={"timeout": 20}))
    assert report.ok, lines


def test_the_log_pilot_recipe_with_kibana_6(api):
    # 6.8: the security API under _xpack, Kibana's user `kibana`, index patterns through the saved objects API;
    # played log-pilot writes with the writer's credentials too.
    es = api.serve_elasticsearch(major=6)
    settings = log_pilot_settings_for(api, verify={"timeout": 20})
    deploy(api, settings)
    assert ("PUT", "/_xpack/security/user/kibana/_password") in security_calls(es)
    assert all(secret_refs(p) == {WRITER_SECRET} for p in api.pods("log-pilot") + api.pods("fluent-bit"))
    report, lines = verify(api, settings)
    assert report.ok, lines
    assert f"Kibana: green; index patterns kubelogs-canary-* (1 new){NO_BOARD}" in lines  # 6.x: `state`, not `level`
    shippers = {u for u, m, p in es.calls_by if p.endswith("/_bulk")}
    assert shippers == {"kubelogs-writer"}  # Fluent Bit and (played) log-pilot


def test_without_security_kibana_runs_open_and_no_user_is_made(api):
    es = api.serve_elasticsearch(major=8)
    settings = settings_for(api, elasticsearch={"version": "8.19.26", "security": False}, verify={"timeout": 20})
    deploy(api, settings)
    assert security_calls(es) == [] and api.get("Secret", WRITER_SECRET, api.namespace) is None
    report, lines = verify(api, settings)
    assert report.ok, lines
    assert f"Kibana: available; index patterns kubelogs-canary-* (1 new){BOARD}" in lines


def test_kibana_that_cannot_log_in_fails_verify(api):
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    settings = settings_for(api, verify={"timeout": 10})
    deploy(api, settings)
    es.security.users["kibana_system"]["password"] = "changed-behind-our-back"
    report, lines = verify(api, settings)
    assert any(p.startswith("Kibana is not available: 503") for p in report.problems), lines
