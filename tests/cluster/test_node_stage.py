"""The main job end to end: the real `pyinfra inventories/kind.py deploy.py` on Debian containers labelled
as kind nodes, which are also the nodes of the cluster tier (tests/support/tier.py).

The cluster: a control plane and a worker on containerd, and a worker whose kubelet uses Docker
(cri-dockerd) with a 1 MiB tmpfs as its data filesystem. The containerd nodes' canary lines go through
Fluent Bit (the real one, tailing the node container's own /var/log, where its binary is given; else
played by its configuration) into the fake Elasticsearch; log-pilot is played on the Docker node. Tests
run in file order on one cluster.
"""

from __future__ import annotations

import re
import textwrap

import pytest
import testinfra

from kubelogs import compatibility as compat
from tests.support import harness

# The log-pilot recipe (docs/agents.md; the seed's design: log-pilot on the Docker node); two workers hold data.
SETTINGS = {"elasticsearch": {"replicas": 2, "version": compat.LOG_PILOT_ES_VERSION}}
SYSCTL_FILE = "/etc/sysctl.d/90-kubelogs-elasticsearch.conf"
OPS_PER_NODE = {"control-plane": 3, "worker1": 4, "worker2": 4}  # sysctl live+file, data dir, agent dirs (one op)


@pytest.fixture(scope="module")
def cluster(node_image, tier):
    with harness.KindLikeCluster(tier, es_major=6) as c:
        c.add("control-plane")
        c.add("worker")
        c.add("worker", runtime_endpoint=harness.DOCKER_ENDPOINT, tmpfs_data=True)
        yield c


@pytest.fixture(scope="module")
def first_run(cluster):
    harness.set_max_map_count(cluster.nodes[0], 65530)  # machine-wide: the "before" state is ours to set
    since = harness.docker_time()
    run = harness.run_deploy(cluster, SETTINGS)
    assert run.returncode == 0, run.stderr[-3000:]
    run.exec_events = harness.exec_events([n.name for n in cluster.nodes], since, harness.docker_time())
    return run



def _testinfra(node: harness.Node):
    return testinfra.get_host(f"docker://{node.name}")


def test_first_run_changes_every_node(cluster, first_run):
    changed = first_run.changed_hosts()
    live = next(hosts for name, hosts in changed.items() if name.endswith("(live)"))
    assert sorted(live) == sorted(f"@docker/{n.name}" for n in cluster.nodes)
    per_host = {n.name: sum(f"@docker/{n.name}" in hosts for hosts in changed.values()) for n in cluster.nodes}
    assert per_host == {cluster.node(suffix).name: count for suffix, count in OPS_PER_NODE.items()}
    assert first_run.verify_succeeded(), first_run.stderr[-3000:]
    # The run really went through docker exec into every node (the no-contact test relies on this).
    assert set(first_run.exec_events) == {n.name for n in cluster.nodes}


@pytest.mark.fluent_bit
def test_first_run_verifies_lines_shipped_by_the_real_agents(cluster, first_run):
    assert "verify: OK" in first_run.stderr
    [index] = [i for i in cluster.es.indices if i.startswith("kubelogs-canary-")]
    docs = cluster.es.indices[index]
    # Fluent Bit read the canary's CRI log file on each containerd node and added the pod's metadata.
    by_fluent_bit = {d["kubernetes"]["host"] for d in docs if "kubernetes" in d}
    assert by_fluent_bit == {cluster.node("control-plane").name, cluster.node("worker1").name}
    assert {d["k8s_node_name"] for d in docs if "k8s_node_name" in d} == {cluster.node("worker2").name}
    # Its position database is on the node, in the directory the node stage prepared.
    assert "tail.db" in cluster.node("worker1").exec("ls /var/lib/fluent-bit").split()


def test_runtime_fact_is_reported_per_node(cluster, first_run):
    lines = first_run.stderr.splitlines()
    for suffix, runtime, agent in (("control-plane", "containerd", "fluent-bit"),
                                   ("worker1", "containerd", "fluent-bit"),
                                   ("worker2", "docker", "log-pilot")):
        line = next(line for line in lines if cluster.node(suffix).name in line and "runtime " in line)
        assert f"runtime {runtime} " in line and f"agent {agent};" in line, line


def test_max_map_count_live_and_persisted(cluster, first_run):
    for node in cluster.nodes:
        host = _testinfra(node)
        assert host.sysctl("vm.max_map_count") == 262144
        persisted = host.file(SYSCTL_FILE)
        assert (persisted.uid, persisted.gid, persisted.mode) == (0, 0, 0o644)
        assert "\nvm.max_map_count = 262144\n" in persisted.content_string


def test_uid_1000_has_no_passwd_entry(cluster, first_run):
    # The condition that makes pyinfra's own files.directory re-chown on every run.
    for node in cluster.nodes:
        assert _testinfra(node).run("getent passwd 1000").rc != 0


def test_directories_have_numeric_owner_and_mode(cluster, first_run):
    expected = {
        "control-plane": {"/var/lib/fluent-bit": (0, 0, 0o755)},
        "worker1": {"/es-data": (1000, 1000, 0o750), "/var/lib/fluent-bit": (0, 0, 0o755)},
        "worker2": {"/es-data": (1000, 1000, 0o750), "/var/lib/filebeat": (0, 0, 0o755),
                    "/var/log/filebeat": (0, 0, 0o755)},
    }
    for suffix, directories in expected.items():
        host = _testinfra(cluster.node(suffix))
        for path, (uid, gid, mode) in directories.items():
            d = host.file(path)
            assert d.is_directory, (suffix, path)
            assert (d.uid, d.gid, d.mode) == (uid, gid, mode), (suffix, path)
    # The control plane holds no data when workers exist (kind taints it).
    assert not _testinfra(cluster.node("control-plane")).file("/es-data").exists


def test_first_run_labels_prepared_nodes(cluster, first_run):
    labels = {n.name: cluster.api.get("Node", n.name)["metadata"]["labels"] for n in cluster.nodes}
    assert {name: (l.get("kubelogs.io/runtime"), l.get("kubelogs.io/es-data")) for name, l in labels.items()} == {
        cluster.node("control-plane").name: ("containerd", None),
        cluster.node("worker1").name: ("containerd", "true"),
        cluster.node("worker2").name: ("docker", "true"),
    }
    # Each agent's DaemonSet selects the nodes of its runtimes (counted by the real DaemonSet controller).
    desired = {name: cluster.api.get("DaemonSet", name, "logging")["status"]["desiredNumberScheduled"]
               for name in ("log-pilot", "fluent-bit")}
    assert desired == {"log-pilot": 1, "fluent-bit": 2}


def test_second_run_changes_nothing(cluster, first_run):
    before, versions = len(cluster.api.requests), cluster.api.resource_versions()
    second = harness.run_deploy(cluster, SETTINGS)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.changed_hosts() == {}
    no_change = sum(len(op["no_change"]) for op in second.report["results"]["operations"])
    # every node operation, plus the cluster operation on each node and the control host
    assert no_change == sum(OPS_PER_NODE.values()) + len(cluster.nodes) + 1
    writes = [r for r in cluster.api.requests[before:] if r.method != "GET" and r.query.get("dryRun") != "All"]
    # The only writes are the verify stage's short-lived pods (canaries, verifier, Kibana check), created and
    # removed again.
    assert writes and all(re.search(r"/pods/kubelogs-(canary|verifier|kibana)-", r.path) for r in writes), writes
    assert {r.method for r in writes} == {"PATCH", "DELETE"} and len(writes) == 2 * len(cluster.nodes) + 4
    assert cluster.api.resource_versions() == versions  # nothing the deploy owns changed in the real API
    assert second.verify_succeeded()


def test_dry_run_prints_the_cluster_plan_and_changes_nothing(cluster, first_run):
    before = len(cluster.api.mutations())
    run = harness.run_deploy(cluster, {"elasticsearch": {**SETTINGS["elasticsearch"], "heap": "256m"}}, "--dry", json_report=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"cluster plan: 1 update, \d+ unchanged", run.stderr)
    assert "update    StatefulSet logging/elasticsearch" in run.stderr
    # The named phases, in the order a real run would take them: a new heap restarts Elasticsearch's pods.
    assert re.findall(r"phase +\d+  ([^:]+):", run.stderr) == [
        "apply", "wait for rollouts", "restart outdated Elasticsearch pods", "clear pending Elasticsearch calls",
        "wait for Kibana"]
    assert len(cluster.api.mutations()) == before
    assert any(r.query.get("dryRun") == "All" for r in cluster.api.requests)


def test_immutable_change_is_refused_before_any_host_changes(cluster, first_run):
    harness.set_max_map_count(cluster.nodes[0], 65530)
    before = len(cluster.api.mutations())
    run = harness.run_deploy(cluster, {"elasticsearch": {**SETTINGS["elasticsearch"], "storage": "pvc"}}, json_report=False)
    assert run.returncode != 0
    assert "spec.volumeClaimTemplates cannot change on an existing StatefulSet" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(cluster.api.mutations()) == before
    assert harness.max_map_count() == 65530  # the node stage did not run either
    harness.set_max_map_count(cluster.nodes[0], 262144)


def test_no_secret_in_any_output(cluster, first_run):
    password = cluster.api.secret_data("elasticsearch-credentials")["password"]
    dry = harness.run_deploy(cluster, {"elasticsearch": {**SETTINGS["elasticsearch"], "heap": "256m"}}, "--dry", json_report=False)
    bad = harness.run_deploy(cluster, {"elasticsearch": {**SETTINGS["elasticsearch"], "storage": "pvc"}}, json_report=False)
    for run in (first_run, dry, bad):
        assert password not in run.stdout + run.stderr


def test_node_already_higher_stays_higher(cluster, first_run):
    higher = 1048577
    harness.set_max_map_count(cluster.nodes[0], higher)
    run = harness.run_deploy(cluster, SETTINGS)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not any(name.endswith("(live)") for name in run.changed_hosts()), "must not lower it"
    for node in cluster.nodes:
        host = _testinfra(node)
        assert host.sysctl("vm.max_map_count") == higher
        assert f"\nvm.max_map_count = {higher}\n" in host.file(SYSCTL_FILE).content_string
    again = harness.run_deploy(cluster, SETTINGS)
    assert again.changed_hosts() == {}
    # Back to the minimum; the persisted file follows on the next run.
    harness.set_max_map_count(cluster.nodes[0], 262144)
    assert harness.run_deploy(cluster, SETTINGS).returncode == 0


def test_bad_settings_touch_no_host(cluster, first_run, tmp_path):
    (tmp_path / "all.py").write_text(textwrap.dedent("""
        kubelogs = {"elasticsearch": {"replicas": 2, "verison": "7.17.0"}, "agents": {"collector": "fluentd"}}
    """))
    harness.set_max_map_count(cluster.nodes[0], 65530)
    since, api_requests = harness.docker_time(), len(cluster.api.requests)
    run = harness.run_deploy(cluster, None, "--group-data", str(tmp_path), json_report=False)
    events = harness.exec_events([n.name for n in cluster.nodes], since, harness.docker_time())
    assert len(cluster.api.requests) == api_requests  # nor the API server
    assert run.returncode != 0
    assert "kubelogs.agents.collector = 'fluentd': must be one of 'auto', 'log-pilot' or 'fluent-bit'" in run.stderr
    assert "kubelogs.elasticsearch.verison = '7.17.0': unknown setting; did you mean 'version'?" in run.stderr
    assert "Traceback" not in run.stderr and "Connecting to hosts" not in run.stderr
    assert events == []
    assert harness.max_map_count() == 65530  # nothing was applied
    harness.set_max_map_count(cluster.nodes[0], 262144)


def test_group_data_settings_are_used(cluster, first_run, tmp_path):
    (tmp_path / "all.py").write_text(f'kubelogs = {{"elasticsearch": {{"replicas": 2, "data_mode": "0770", '
                                     f'"version": "{compat.LOG_PILOT_ES_VERSION}"}}}}\n')
    run = harness.run_deploy(cluster, None, "--group-data", str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(run.changed_hosts()) == ["Prepare Kubernetes node | Elasticsearch data directory /es-data"]
    assert _testinfra(cluster.node("worker1")).file("/es-data").mode == 0o770


def test_data_survives_settings_changes(cluster, first_run):
    worker = cluster.node("worker1")
    worker.exec("echo shard > /es-data/keep && chown 1000:1000 /es-data/keep")
    for mode in ("0700", "0750"):
        run = harness.run_deploy(cluster, {"elasticsearch": {**SETTINGS["elasticsearch"], "data_mode": mode}})
        assert run.returncode == 0, run.stderr[-3000:]
        assert _testinfra(worker).file("/es-data").mode == int(mode, 8)
        assert worker.exec("cat /es-data/keep") == "shard\n"


def test_low_disk_warns_or_fails_only_that_node(cluster, first_run):
    full = cluster.node("worker2")  # /es-data is a 1 MiB tmpfs there
    full.exec("dd if=/dev/zero of=/es-data/filler bs=1k count=1000 2>/dev/null; chown 1000:1000 /es-data/filler")
    try:
        warned = harness.run_deploy(cluster, SETTINGS)
        assert warned.returncode == 0, warned.stderr[-3000:]
        assert "flood-stage watermark (95%)" in warned.stderr
        # As if the node were new: no labels yet. A node that fails its node stage must not get them.
        cluster.api.admin.merge_patch("Node", full.name, None, {"metadata": {"labels": {
            "kubelogs.io/runtime": None, "kubelogs.io/es-data": None}}})
        failed = harness.run_deploy(cluster, {**SETTINGS, "nodes": {"low_disk": "fail"}})
        assert failed.returncode != 0
        labels = cluster.api.get("Node", full.name)["metadata"]["labels"]
        assert not any(key.startswith("kubelogs.io/") for key in labels)
        assert failed.changed_hosts()["Kubernetes cluster | Apply Kubernetes objects, wait for rollouts"] == ["@local"]
        failures = failed.failed_hosts()
        assert {host for hosts in failures.values() for host in hosts} == {f"@docker/{full.name}"}
        assert "Prepare Kubernetes node | Check disk headroom | Disk headroom for Elasticsearch" in failures
        assert "indices there would turn read-only" in failed.stderr
    finally:
        full.exec("rm -f /es-data/filler")


def test_verify_alone_reads_each_nodes_dead_letters(cluster, first_run):
    # A batch Fluent Bit gave up on, in its dead-letter queue on a node: `verify.py` reads every node's state
    # (the node stage's one fact, one docker exec per node, changing nothing) and fails naming the node.
    worker = cluster.node("worker1")
    queue = "/var/lib/fluent-bit/storage/rejected"
    worker.exec(f"mkdir -p {queue} && head -c 5000 /dev/zero > {queue}/kube.var.log.containers.a_ns_c-1.log_0_es.0_0x7f.flb")
    try:
        since = harness.docker_time()
        run = harness.run_pyinfra(cluster, "verify.py", "-y", "--json", settings=SETTINGS)
        execs = harness.exec_events([n.name for n in cluster.nodes], since, harness.docker_time())
        assert run.returncode != 0 and "verify: FAILED" in run.stderr
        assert f"- node {worker.name}: 1 batch file(s) (" in run.stderr
        assert f"KiB) in Fluent Bit's dead-letter queue {queue}" in run.stderr
        assert sorted(execs) == sorted(n.name for n in cluster.nodes)
        assert run.changed_hosts() == {}  # nothing changed anywhere (the verify operation is a check)
    finally:
        worker.exec(f"rm -rf {queue}")
