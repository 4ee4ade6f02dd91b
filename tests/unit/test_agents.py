"""Node log agents: which agent runs on which runtime, Fluent Bit's objects, the application contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kubelogs import compatibility as compat
from kubelogs.cluster.plan import NodeTarget
from kubelogs.cluster.safety import agent_on_every_node
from kubelogs.manifests import GeneratedSecrets, render_all
from kubelogs.manifests.checks import check
from kubelogs.manifests.common import CREDENTIALS_SECRET, LOG_NAME_ANNOTATION, LOG_PILOT_ENV_PREFIX, WRITER_SECRET
from kubelogs.settings import validate_settings
from tests.support.rendered import runtimes_of

AGENTS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "agents.md"  # the application contract
SECRETS = GeneratedSecrets(password="generated", ca_crt="ca", tls_crt="crt", tls_key="key")
MODES = [(collector, version) for collector in compat.COLLECTOR_CHOICES
         for version in ("5.6.16", "6.8.23", "7.17.25", "8.15.3", "8.19.26", "9.5.7")
         if collector == "auto" or compat.parse_version(version)[0] in compat.AGENTS[collector].es_majors]


def render(collector: str, version: str = "6.8.23") -> list[dict]:
    return render_all(validate_settings({"agents": {"collector": collector},
                                         "elasticsearch": {"version": version}}), SECRETS)


def agents(objects: list[dict]) -> dict[str, list[str]]:
    """DaemonSet name -> runtimes it selects."""
    return {o["metadata"]["name"]: runtimes_of(o) for o in objects if o["kind"] == "DaemonSet"}


def fluent_bit_conf(objects: list[dict]) -> str:
    return next(o for o in objects if o["metadata"]["name"] == "fluent-bit-config")["data"]["fluent-bit.conf"]


@pytest.mark.parametrize("collector, version", MODES, ids=[f"{c}-es{v}" for c, v in MODES])
def test_every_collector_mode_renders_valid_objects_and_one_agent_per_runtime(collector, version):
    objects = render(collector, version)
    assert check(objects) == []
    selected = [r for runtimes in agents(objects).values() for r in runtimes]
    assert len(selected) == len(set(selected)), "a runtime selected by two agents would collect twice"


@pytest.mark.parametrize("collector, version", MODES, ids=[f"{c}-es{v}" for c, v in MODES])
def test_no_agent_or_kibana_container_reads_the_elastic_password(collector, version):
    objects = render(collector, version)
    readers = {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in ("DaemonSet", "Deployment", "StatefulSet")
               for c in o["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])
               if (e.get("valueFrom", {}).get("secretKeyRef") or {}).get("name") == CREDENTIALS_SECRET}
    assert readers <= {("StatefulSet", "elasticsearch")}  # Elasticsearch's own readiness probe only
    for ds in (o for o in objects if o["kind"] == "DaemonSet"):
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for c in ds["spec"]["template"]["spec"]["containers"]
                for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
        assert refs == ({WRITER_SECRET} if compat.free_security_available(version) else set()), ds["metadata"]["name"]


@pytest.mark.parametrize("collector, version, expected", [
    ("auto", "6.8.23", {"log-pilot": ["docker"], "fluent-bit": ["containerd", "cri-o"]}),
    ("auto", "5.6.16", {"log-pilot": ["docker"]}),
    ("auto", "8.15.3", {"fluent-bit": ["docker", "containerd", "cri-o"]}),  # log-pilot cannot write to 8.x
    ("log-pilot", "6.8.23", {"log-pilot": ["docker"]}),
    ("fluent-bit", "6.8.23", {"fluent-bit": ["docker", "containerd", "cri-o"]}),
])
def test_each_daemonset_selects_the_runtimes_of_its_agent(collector, version, expected):
    assert agents(render(collector, version)) == expected


def test_fluent_bit_reads_both_log_formats_and_writes_named_daily_indices():
    conf = fluent_bit_conf(render("auto"))
    assert "Path /var/log/containers/*.log" in conf and "multiline.parser docker, cri" in conf
    assert "Logstash_Prefix_Key $log_name" in conf  # route.lua sets it: the declared log name, else the namespace
    assert "Logstash_Format On" in conf and "Logstash_DateFormat %Y.%m.%d" in conf
    assert "Logstash_Prefix kubelogs-unrouted" in conf  # lines without pod metadata: kept, not dropped
    assert "script /fluent-bit/etc/kubelogs/route.lua" in conf and "call route" in conf
    assert "Replace_Dots On" in conf
    assert "HTTP_User ${ES_USER}" in conf and "HTTP_Passwd ${ES_PASSWORD}" in conf
    assert "Host elasticsearch.logging.svc" in conf


@pytest.mark.parametrize("version, present, absent", [
    ("9.5.7", "Suppress_Type_Name On", "    Type "),
    ("8.15.3", "Suppress_Type_Name On", "    Type "),
    ("7.17.25", None, "Suppress_Type_Name"),
    ("6.8.23", "Type doc\n", "Suppress_Type_Name"),  # log-pilot's Filebeat 6 type: one type per 6.x index
])
def test_fluent_bit_type_handling_per_elasticsearch_major(version, present, absent):
    conf = fluent_bit_conf(render("fluent-bit", version))
    if present:
        assert present in conf
    assert absent not in conf


def test_fluent_bit_daemonset_least_privilege():
    objects = render("fluent-bit")
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]}]
    binding = next(o for o in objects if o["kind"] == "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fluent-bit", "namespace": "logging"}]
    pod = next(o for o in objects if o["metadata"]["name"] == "fluent-bit" and o["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["readOnly"] for m in container["volumeMounts"]}
    assert mounts == {"/fluent-bit/etc/kubelogs": True, "/var/log": True, "/var/lib/docker/containers": True,
                      "/var/lib/fluent-bit": False, "/var/run/secrets/kubelogs/elasticsearch-ca": True}
    assert container["image"] == compat.AGENTS["fluent-bit"].image
    assert container["livenessProbe"]["httpGet"]["port"] == "http" and container["resources"]["limits"]["memory"]
    env = {e["name"] for e in container["env"]}
    assert {"ES_USER", "ES_PASSWORD"} <= env
    assert "privileged" not in str(pod)


@pytest.mark.parametrize("image, retry_limit, dead_letters", [
    (compat.AGENTS["fluent-bit"].image, "60", True),
    ("mirror.example/fluent-bit:4.2.0", "60", True),
    ("mirror.example/fluent-bit@sha256:" + "a" * 64, "60", True),  # unknown version: as the default image
    ("mirror.example/fluent-bit:3.2.10", "False", False),  # no dead-letter queue: a finite retry would drop
])
def test_fluent_bit_retries_are_finite_only_where_a_dead_letter_queue_keeps_what_fails(image, retry_limit, dead_letters):
    conf = fluent_bit_conf(render_all(validate_settings({"agents": {"fluent_bit_image": image}}), SECRETS))
    assert f"Retry_Limit {retry_limit}\n" in conf
    assert ("storage.keep.rejected On" in conf) is dead_letters
    assert ("storage.rejected.path rejected" in conf) is dead_letters


def test_fluent_bit_image_is_configurable():
    objects = render_all(validate_settings({"agents": {"fluent_bit_image": "mirror.example/fluent-bit:3.2.10"}}), SECRETS)
    ds = next(o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "fluent-bit")
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "mirror.example/fluent-bit:3.2.10"


def test_nodes_no_agent_can_serve_stop_the_plan():
    nodes = [NodeTarget("h1", "n1", "docker", True), NodeTarget("h2", "n2", "containerd", True),
             NodeTarget("h3", "n3", "unknown", False)]
    message = agent_on_every_node(validate_settings({"elasticsearch": {"version": "5.6.16"}}), nodes)
    assert message.startswith("with kubelogs.agents.collector 'auto' and Elasticsearch 5.6.16, no log agent can collect on: n2 (containerd)")
    assert "fluent-bit reads docker/containerd/cri-o nodes and writes to Elasticsearch 6.x/7.x/8.x" in message
    assert message.endswith("[safety check: an agent for every node]")
    assert agent_on_every_node(validate_settings({}), nodes) == ""


def test_docs_pod_example_declares_one_name_both_ways():
    readme = AGENTS_PAGE.read_text()
    block = re.search(r"<!-- contract-example:begin -->\s*```yaml\n(.*?)```", readme, re.S).group(1)
    pod = yaml.safe_load(block)
    name = pod["metadata"]["annotations"][LOG_NAME_ANNOTATION]
    for container in pod["spec"]["containers"]:
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        assert env == {f"{LOG_PILOT_ENV_PREFIX}{name}": "stdout"}
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name)
