"""Rendered Kubernetes objects: valid against the schemas of every supported minor, and what matters in them."""

from __future__ import annotations

import base64
import copy

import pytest
import yaml

from kubelogs import compatibility as compat
from kubelogs.manifests import GeneratedSecrets, elasticsearch, render_all
from kubelogs.manifests.checks import check, schema_problems, semantic_problems
from kubelogs.manifests.common import APPLYSET_PART_OF_LABEL, applyset_id
from kubelogs.settings import validate_settings
from tests.support.rendered import runtimes_of

SECRETS = GeneratedSecrets(password="generated", ca_crt="ca", tls_crt="crt", tls_key="key")

PROFILES = {
    "defaults (6.8, 3 replicas, hostPath, security)": {},
    "5.x single replica": {"elasticsearch": {"version": "5.6.16", "replicas": 1}},
    "6.x without security": {"elasticsearch": {"security": False}},
    "7.x three replicas pvc": {"elasticsearch": {"version": "7.17.25", "storage": "pvc", "storage_class": "standard"}},
    "7.x single replica": {"elasticsearch": {"version": "7.17.25", "replicas": 1}},
    "8.x three replicas": {"elasticsearch": {"version": "8.15.3"}},
    "8.16 pvc no security": {"elasticsearch": {"version": "8.16.1", "storage": "pvc", "security": False}},
    "9.x three replicas": {"elasticsearch": {"version": "9.5.7"}},
    "9.x single replica, no security": {"elasticsearch": {"version": "9.5.7", "replicas": 1, "security": False}},
}


# log-pilot writes only to 5.x/6.x: the recipe that keeps the seed's design (log-pilot on Docker nodes).
LOG_PILOT = {"elasticsearch": {"version": compat.LOG_PILOT_ES_VERSION}}


def _render(raw):
    return render_all(validate_settings(raw), SECRETS)


def _one(objects, kind, name=None):
    return next(o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def _es_yml(objects):
    return yaml.safe_load(_one(objects, "ConfigMap", "elasticsearch-config")["data"]["elasticsearch.yml"])


@pytest.mark.parametrize("raw", PROFILES.values(), ids=PROFILES.keys())
def test_every_profile_passes_schemas_and_semantic_checks(raw):
    assert check(_render(raw)) == []


def test_schemas_of_every_supported_minor_are_shipped():
    assert compat.KUBERNETES_VERSIONS == ("1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")
    assert schema_problems([_render({})[0]]) == []


def test_zen_discovery_quorum_for_5_and_6():
    config = _es_yml(_render({"elasticsearch": {"version": "6.8.23", "replicas": 3}}))
    assert config["discovery.zen.ping.unicast.hosts"] == "elasticsearch-discovery"
    assert config["discovery.zen.minimum_master_nodes"] == 2
    assert _es_yml(_render({"elasticsearch": {"version": "5.6.16", "replicas": 1}}))["discovery.zen.minimum_master_nodes"] == 1


def test_seed_hosts_and_initial_masters_for_7_and_8():
    config = _es_yml(_render({"elasticsearch": {"version": "8.15.3"}}))
    assert config["discovery.seed_hosts"] == ["elasticsearch-discovery"]
    assert config["cluster.initial_master_nodes"] == ["elasticsearch-0", "elasticsearch-1", "elasticsearch-2"]
    assert "discovery.zen.minimum_master_nodes" not in config
    # Never single-node discovery: a one-node cluster can grow later.
    single = _es_yml(_render({"elasticsearch": {"version": "7.17.25", "replicas": 1}}))
    assert "discovery.type" not in single and single["cluster.initial_master_nodes"] == ["elasticsearch-0"]


def test_an_existing_cluster_keeps_its_bootstrap_list():
    # Pods added later must never be able to bootstrap a second cluster: the list is the one it formed with.
    settings = validate_settings({"elasticsearch": {"version": "8.19.3", "replicas": 5}})
    grown = elasticsearch.elasticsearch_yml(settings, ("elasticsearch-0", "elasticsearch-1", "elasticsearch-2"))
    assert grown["cluster.initial_master_nodes"] == ["elasticsearch-0", "elasticsearch-1", "elasticsearch-2"]
    upgraded_from_6 = elasticsearch.elasticsearch_yml(settings, ())  # formed by zen1: no list at all
    assert "cluster.initial_master_nodes" not in upgraded_from_6


def test_minimum_master_nodes_does_not_restart_pods():
    # It is set through the cluster settings API on a replicas change; only new pods read the file's value.
    three, five = (_render({"elasticsearch": {"version": "6.8.23", "replicas": n}}) for n in (3, 5))
    sts = [next(o for o in objs if o["kind"] == "StatefulSet") for objs in (three, five)]
    hashes = [s["spec"]["template"]["metadata"]["annotations"]["kubelogs.io/config-hash"] for s in sts]
    assert hashes[0] == hashes[1] and _es_yml(three) != _es_yml(five)


def test_statefulset_is_governed_by_its_headless_service():
    objects = _render({})
    sts = _one(objects, "StatefulSet")
    governing = _one(objects, "Service", sts["spec"]["serviceName"])
    assert governing["spec"]["clusterIP"] == "None" and governing["spec"]["publishNotReadyAddresses"]
    assert _one(objects, "Service", "elasticsearch")["spec"]["ports"][0]["port"] == 9200


def test_hostpath_data_one_pod_per_prepared_node():
    pod = _one(_render({}), "StatefulSet")["spec"]["template"]["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["key"] == "kubelogs.io/es-data"
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data["hostPath"] == {"path": "/es-data", "type": "Directory"}
    assert not pod.get("initContainers"), "the node stage sets vm.max_map_count; no privileged init container"
    assert pod["securityContext"]["runAsUser"] == 1000


def test_pvc_storage_uses_claim_templates_not_hostpath():
    sts = _one(_render({"elasticsearch": {"storage": "pvc", "pvc_size": "20Gi"}}), "StatefulSet")
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert not any("hostPath" in v for v in sts["spec"]["template"]["spec"]["volumes"])
    assert "nodeAffinity" not in sts["spec"]["template"]["spec"]["affinity"]


def test_heap_memory_and_image_come_from_settings():
    sts = _one(_render({"elasticsearch": {"heap": "1g", "memory": "2Gi"}}), "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "ES_JAVA_OPTS", "value": "-Xms1g -Xmx1g"} in container["env"]
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert container["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{compat.DEFAULT_ES_VERSION}"


def test_security_uses_generated_secrets_and_transport_tls():
    objects = _render(LOG_PILOT)
    credentials = _one(objects, "Secret", "elasticsearch-credentials")
    assert {k: base64.b64decode(v).decode() for k, v in credentials["data"].items()} == {
        "username": "elastic", "password": "generated"}
    config = _es_yml(objects)
    assert config["xpack.security.enabled"] is True and config["xpack.security.transport.ssl.enabled"] is True
    agent_env = _one(objects, "DaemonSet", "log-pilot")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "ELASTICSEARCH_PASSWORD",  # the writer, never elastic
            "valueFrom": {"secretKeyRef": {"name": "elasticsearch-writer-credentials", "key": "password"}}} in agent_env


def test_without_security_no_secrets_and_security_off_explicitly():
    objects = _render({"elasticsearch": {"version": "5.6.16"}})  # 5.x images enable X-Pack security
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert _es_yml(objects)["xpack.security.enabled"] is False


def test_log_pilot_runs_only_on_docker_nodes_with_what_it_needs():
    ds = _one(_render(LOG_PILOT), "DaemonSet", "log-pilot")
    pod = ds["spec"]["template"]["spec"]
    assert runtimes_of(ds) == ["docker"]
    container = pod["containers"][0]
    assert container["securityContext"] == {"capabilities": {"add": ["SYS_ADMIN"]}}
    assert "privileged" not in str(ds)
    paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert paths == {"/var/run/docker.sock", "/", "/etc/localtime", "/var/lib/filebeat", "/var/log/filebeat"}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/host"]["readOnly"] is True
    # Its Filebeat trusts the generated CA, and only it, as the system bundle (log_pilot.SYSTEM_BUNDLE).
    assert mounts["/etc/ssl/certs/ca-certificates.crt"] == {"name": "elasticsearch-ca", "readOnly": True,
                                                            "mountPath": "/etc/ssl/certs/ca-certificates.crt",
                                                            "subPath": "ca.crt"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ELASTICSEARCH_SCHEME"] == "https" and env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert container["livenessProbe"]["exec"]["command"] == ["/pilot/healthz"]
    assert container["image"] == compat.AGENTS["log-pilot"].image
    assert container["resources"]["limits"]["memory"]


def test_log_pilot_not_rendered_where_it_cannot_write():
    kinds = [(o["kind"], o["metadata"]["name"]) for o in _render({"elasticsearch": {"version": "7.17.25"}})]
    assert ("DaemonSet", "log-pilot") not in kinds


def test_namespace_service_accounts_and_ownership_labels():
    objects = _render(LOG_PILOT)
    ns = objects[0]
    assert ns["kind"] == "Namespace" and ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    # Only the agent that reads the Kubernetes API (Fluent Bit's kubernetes filter) gets a token.
    assert {o["metadata"]["name"]: o["automountServiceAccountToken"] for o in objects if o["kind"] == "ServiceAccount"} == {
        "elasticsearch": False, "log-pilot": False, "fluent-bit": True, "kibana": False}
    owned = [o for o in objects if o["kind"] != "Namespace"]
    assert all(o["metadata"]["labels"][APPLYSET_PART_OF_LABEL] == applyset_id("logging") for o in owned)
    assert all(o["metadata"].get("namespace") == "logging" for o in owned if not o["kind"].startswith("Cluster"))
    assert "kubernetes-dashboard" not in str(objects)


def _broken(mutate):
    objects = copy.deepcopy(_render(LOG_PILOT))
    mutate(objects)
    return objects


@pytest.mark.parametrize(("mutate", "words"), [
    (lambda o: _one(o, "StatefulSet")["spec"]["selector"]["matchLabels"].update({"x": "y"}), "selector does not match"),
    (lambda o: _one(o, "StatefulSet")["spec"].update(serviceName="elasticsearch-headless"), "not a rendered headless Service"),
    (lambda o: o.remove(_one(o, "Secret", "elasticsearch-credentials")), "which is not rendered"),
    (lambda o: _one(o, "Service", "elasticsearch")["spec"]["ports"][0].update(targetPort="rest"), "targetPort 'rest'"),
    (lambda o: _one(o, "DaemonSet", "log-pilot")["spec"]["template"]["spec"]["containers"][0].update(
        livenessProbe={"httpGet": {"path": "/", "port": "health"}}), "livenessProbe port 'health'"),
    (lambda o: _one(o, "Service", "elasticsearch")["spec"].update(selector={"app": "nothing"}), "matches no rendered pod"),
])
def test_semantic_checks_catch_broken_objects(mutate, words):
    problems = semantic_problems(_broken(mutate))
    assert any(words in p for p in problems), problems


def test_schema_check_is_strict_about_unknown_fields():
    objects = _broken(lambda o: _one(o, "StatefulSet")["spec"].update(replica=3))
    problems = schema_problems([_one(objects, "StatefulSet")], versions=["1.37.0"])
    assert problems and "StatefulSet/elasticsearch (Kubernetes 1.37.0)" in problems[0]
