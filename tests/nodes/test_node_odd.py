"""The node stage on odd nodes: no procps, a data path that is a regular file, a read-only or full
/etc/sysctl.d. Each odd node fails alone, with one line and no traceback, or works; re-runs change
nothing and cost one `docker exec` per node. Node stage only (`--limit kube_nodes`): no Kubernetes API.

Tests run in file order on one module cluster, like tests/test_node_stage.py.
"""

from __future__ import annotations

import pytest

from kubelogs import compatibility as compat
from kubelogs.node.decisions import SYSCTL_FILE
from kubelogs.node.facts import NodeState
from tests.support import harness
from tests.support.log_traffic import dead_letters_probe

SETTINGS = {"elasticsearch": {"replicas": 1}}
REQUIRED = compat.required_max_map_count(compat.DEFAULT_ES_VERSION)  # what the default version needs
NOT_A_DIRECTORY = "/es-data exists but is a regular file, not a directory; move it away"


def test_node_state_fact_parses_its_probe():
    output = ["endpoint=containerRuntimeEndpoint: unix:///run/containerd/containerd.sock",
              "socket=/run/containerd/containerd.sock",
              "df=overlay        overlay 263174212 179288132 83886080  69% /",
              "live=262144",
              "file=0123abcd 0 0 644 regular file",
              "stat=/es-data\t1000 1000 750 directory",
              "stat=/var/lib/fluent-bit\t",
              "dead_letters=2 12",
              "persisted=/etc/sysctl.d/90-kubelogs-elasticsearch.conf\t262144", "persisted=/etc/sysctl.conf\t65530",
              "nofile=containerd 1024 524288"]
    assert NodeState().process(output) == {
        "runtime": "containerd", "evidence": "containerRuntimeEndpoint: unix:///run/containerd/containerd.sock",
        "disk": {"filesystem": "overlay", "type": "overlay", "size_kb": 263174212, "available_kb": 83886080,
                 "used_percent": 69, "mountpoint": "/"},
        "max_map_count": 262144,
        "sysctl_file": {"type": "regular file", "uid": 0, "gid": 0, "mode": 0o644, "sha1": "0123abcd"},
        "persisted": [("/etc/sysctl.d/90-kubelogs-elasticsearch.conf", 262144), ("/etc/sysctl.conf", 65530)],
        "paths": {"/es-data": {"type": "directory", "uid": 1000, "gid": 1000, "mode": 0o750},
                  "/var/lib/fluent-bit": None},
        "dead_letters": {"files": 2, "kib": 12},
        "runtime_nofile": {"process": "containerd", "soft": 1024, "hard": 524288},
    }
    # no sysctl file, no /proc/sys, df unreadable
    state = NodeState().process(["endpoint=", "df=", "live=", "file="])
    assert (state["runtime"], state["disk"], state["max_map_count"], state["sysctl_file"]) == (
        "unknown", None, None, None)


def test_dead_letter_probe_counts_chunk_files_without_an_argument_list(tmp_path):
    probe = dead_letters_probe
    assert probe(tmp_path / "missing") is None  # no Fluent Bit on that node (yet)
    assert probe(tmp_path)["files"] == 0
    (tmp_path / "kube.var.log.containers.a_ns_c-1.log_0_es.0_0x7f.flb").write_bytes(b"x" * 5000)
    (tmp_path / "kube.var.log.containers.b_ns_c-2.log_0_es.0_0x7e.flb").write_bytes(b"x" * 100)
    (tmp_path / "notes.txt").write_text("not a chunk")
    found = probe(tmp_path)
    assert found["files"] == 2 and found["kib"] >= 5
    for i in range(40000):  # more than a command line takes (ARG_MAX, 2 MiB), were the files globbed onto one
        (tmp_path / f"kube.var.log.containers.pod-{i:05d}_ns_c-{i}.log_0_es.0_0x7f{i:x}.flb").touch()
    assert probe(tmp_path)["files"] == 40002


def _name(node: harness.Node) -> str:
    return f"@docker/{node.name}"


def _failed(run: harness.DeployRun) -> set[str]:
    return {h for hosts in run.failed_hosts().values() for h in hosts}


def _all_output(run: harness.DeployRun) -> str:
    return run.stdout + run.stderr


@pytest.fixture(scope="module")
def cluster(node_image):
    """A control plane; worker1 without procps (no sysctl, no ps, no /etc/sysctl.d); worker2 whose
    /es-data is a regular file."""
    with harness.KindLikeCluster() as c:
        c.add("control-plane")
        c.add("worker").exec("rm -rf /sbin/sysctl /usr/sbin/sysctl /bin/ps /usr/bin/ps /etc/sysctl.d")
        c.add("worker").exec("echo 'not elasticsearch data' > /es-data")
        yield c


@pytest.fixture(scope="module")
def first_run(cluster):
    harness.set_max_map_count(cluster.nodes[0], 65530)  # machine-wide: the "before" state is ours to set
    return harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")


def test_data_path_as_a_file_fails_that_node_alone_with_one_line(cluster, first_run):
    bad = cluster.node("worker2")
    assert first_run.returncode != 0
    assert _failed(first_run) == {_name(bad)}
    assert _all_output(first_run).count(NOT_A_DIRECTORY) == 1, first_run.stderr[-3000:]
    assert "Traceback" not in _all_output(first_run)
    # Nothing was changed on it: the file is intact, nothing persisted.
    assert bad.exec("cat /es-data") == "not elasticsearch data\n"
    assert bad.exec(f"test -e {SYSCTL_FILE} && echo yes || echo no") == "no\n"


def test_node_without_procps_is_prepared(cluster, first_run):
    node = cluster.node("worker1")
    assert node.exec("command -v sysctl ps || echo none") == "none\n"
    assert harness.max_map_count() == REQUIRED
    assert node.exec(f"stat -c '%u %g %a' {SYSCTL_FILE}") == "0 0 644\n"
    assert f"\nvm.max_map_count = {REQUIRED}\n" in node.exec(f"cat {SYSCTL_FILE}")
    assert node.exec("stat -c '%u %g %a %F' /es-data /var/lib/fluent-bit") == (
        "1000 1000 750 directory\n0 0 755 directory\n")
    assert _name(node) in first_run.changed_hosts()["Prepare Kubernetes node | Ensure vm.max_map_count | "
                                                    f"vm.max_map_count >= {REQUIRED} (live)"]


def test_dry_run_on_the_odd_nodes_prints_no_traceback(cluster, first_run):
    run = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes", "--dry", json_report=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in _all_output(run)


def test_second_run_changes_nothing_in_one_round_trip_per_node(cluster, first_run):
    names = [n.name for n in cluster.nodes]
    since = harness.docker_time()
    second = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
    execs = harness.exec_events(names, since, harness.docker_time())
    assert second.changed_hosts() == {}
    assert _failed(second) == {_name(cluster.node("worker2"))}  # still in the way; still one line
    assert _all_output(second).count(NOT_A_DIRECTORY) == 1 and "Traceback" not in _all_output(second)
    assert sorted(execs) == sorted(names)  # one docker exec per node, the failing one included

    # Moved away: only that node changes, then nothing does, still in one round trip per node.
    cluster.node("worker2").exec("mv /es-data /es-data.moved")
    fixed = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert {h for hosts in fixed.changed_hosts().values() for h in hosts} == {_name(cluster.node("worker2"))}
    since = harness.docker_time()
    final = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
    execs = harness.exec_events(names, since, harness.docker_time())
    assert final.returncode == 0 and final.changed_hosts() == {}, final.stderr[-3000:]
    assert sorted(execs) == sorted(names)


@pytest.mark.parametrize(("mount", "reason"), [
    ("mount --bind /etc/sysctl.d /etc/sysctl.d && mount -o remount,ro,bind /etc/sysctl.d", "Read-only file system"),
    ("mount -t tmpfs -o size=4k tmpfs /etc/sysctl.d && dd if=/dev/zero of=/etc/sysctl.d/filler bs=4k count=1 "
     "2>/dev/null", "No space left on device"),
])
def test_unwritable_sysctl_directory_fails_that_node_alone_with_one_line(node_image, mount, reason):
    with harness.KindLikeCluster() as cluster:
        good = cluster.add("control-plane")
        bad = cluster.add("worker")
        mounted = bad.exec(f"{mount} && echo mounted", check=False)
        if mounted != "mounted\n":
            pytest.skip(f"cannot mount inside the node container here: {mount}")
        harness.set_max_map_count(good, 65530)
        run = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
        assert run.returncode != 0
        assert _failed(run) == {_name(bad)}
        line = f"kubelogs: cannot write {SYSCTL_FILE}: {reason}"
        assert _all_output(run).count(line) == 1, run.stderr[-3000:]
        assert "Traceback" not in _all_output(run)
        assert f"vm.max_map_count = {REQUIRED}" in good.exec(f"cat {SYSCTL_FILE}")
        assert bad.exec(f"ls {SYSCTL_FILE}* 2>/dev/null || true") == ""  # no temporary file left behind


def test_a_sysctl_file_read_after_ours_fails_that_node_naming_it_and_a_boot_keeps_ours(node_image,
                                                                                        restore_max_map_count):
    with harness.KindLikeCluster() as cluster:
        good = cluster.add("control-plane")
        bad = cluster.add("worker")
        # Both carry a vendor file that sets less but sorts before ours (harmless); the bad node also one that
        # sorts after ours (the next boot would undo ours). Nothing else sets any key: `sysctl --system` below
        # writes machine-wide settings.
        for node in (good, bad):
            node.exec("rm -f /etc/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf /lib/sysctl.d/*.conf && : > /etc/sysctl.conf"
                      " && mkdir -p /usr/lib/sysctl.d && echo 'vm.max_map_count = 65530' > /usr/lib/sysctl.d/10-low.conf")
        bad.exec("echo 'vm.max_map_count = 65530' > /etc/sysctl.d/99-tuning.conf")
        harness.set_max_map_count(good, 65530)
        run = harness.run_deploy(cluster, SETTINGS, "--limit", "kube_nodes")
        assert run.returncode != 0 and _failed(run) == {_name(bad)}
        reason = f"/etc/sysctl.d/99-tuning.conf sets vm.max_map_count = 65530 and is read after {SYSCTL_FILE} at boot"
        assert _all_output(run).count(reason) == 1, run.stderr[-3000:]
        assert "Traceback" not in _all_output(run)
        assert bad.exec(f"test -e {SYSCTL_FILE} && echo yes || echo no") == "no\n"  # nothing changed on it
        # A boot on the good node: every file applied in order, as systemd-sysctl and procps do. Ours wins.
        harness.set_max_map_count(good, 65530)
        good.exec("sysctl --system >/dev/null")
        assert harness.max_map_count() == REQUIRED
        # The same boot on the bad node would have undone it: the check is not a guess.
        bad.exec(f"cat > {SYSCTL_FILE} <<'X'\nvm.max_map_count = {REQUIRED}\nX\n"
                 "sysctl --system >/dev/null")
        assert harness.max_map_count() == 65530


def test_a_runtime_whose_open_files_hard_limit_is_too_low_is_reported(node_image, restore_max_map_count):
    # The node's runtime, as the probe finds it in /proc: a process named containerd with a low hard limit.
    with harness.KindLikeCluster() as cluster:
        # Both below 65,535: a container here cannot be given more than this machine's own hard limit (20,000).
        low = cluster.add("control-plane")
        lower = cluster.add("worker")
        for node, limits in ((low, "1024:16384"), (lower, "1024:4096")):
            node.exec("cp /bin/sleep /usr/local/bin/containerd && "
                      f"(prlimit --nofile={limits} /usr/local/bin/containerd infinity >/dev/null 2>&1 &)")
        run = harness.run_deploy(cluster, {**SETTINGS, "elasticsearch": {"storage": "pvc"}}, "--limit", "kube_nodes")
        out = _all_output(run)
        assert "containerd open files 1024/4096 (soft/hard)" in out and "containerd open files 1024/16384" in out, out[-3000:]
        warned = [line for line in out.splitlines() if "open-files hard limit is" in line]
        assert len(warned) == 2 and all("below the 65535" in line for line in warned), warned
        assert any(_name(lower) in line and "is 4096," in line for line in warned)
        assert any(_name(low) in line and "is 16384," in line for line in warned)
        assert run.returncode == 0  # a warning: the node stage cannot change the runtime's limits
