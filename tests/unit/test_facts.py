"""How the runtime fact reads kubelet's configuration (the shell part runs in test_node_stage)."""

from __future__ import annotations

import pytest

from kubelogs.node.decisions import boot_time_problem, boot_value, describe_runtime_limits, runtime_limits_problem
from kubelogs.node.facts import ContainerRuntime, NodeState, runtime_from, runtime_limits_from


@pytest.mark.parametrize(("endpoint", "sockets", "runtime"), [
    ("--container-runtime-endpoint=unix:///run/containerd/containerd.sock", [], "containerd"),
    ("containerRuntimeEndpoint: unix:///var/run/cri-dockerd.sock", ["/run/containerd/containerd.sock"], "docker"),
    ("--container-runtime-endpoint=unix:///var/run/crio/crio.sock", [], "cri-o"),
    # kubelet says containerd although Docker is installed too: pods are containerd's, not Docker's
    ("containerRuntimeEndpoint: unix:///run/containerd/containerd.sock", ["/var/run/docker.sock"], "containerd"),
    ("", ["/run/cri-dockerd.sock", "/run/containerd/containerd.sock"], "docker"),
    ("", ["/run/containerd/containerd.sock"], "containerd"),
    ("", [], "unknown"),
])
def test_runtime_from_kubelet_endpoint_then_sockets(endpoint, sockets, runtime):
    assert runtime_from(endpoint, sockets)[0] == runtime


def test_runtime_fact_parses_probe_output():
    output = ["endpoint=", "socket=/run/containerd/containerd.sock", "socket=/var/run/docker.sock"]
    assert ContainerRuntime().process(output) == {"runtime": "containerd", "evidence": "/run/containerd/containerd.sock"}


OURS = "/etc/sysctl.d/90-kubelogs-elasticsearch.conf"


@pytest.mark.parametrize(("persisted", "effective"), [
    # Lexical order of the file names, whatever their directory: 99-* after ours wins, 10-* before does not.
    ([(OURS, 262144), ("/etc/sysctl.d/99-tuning.conf", 65530)], (65530, "/etc/sysctl.d/99-tuning.conf")),
    ([("/usr/lib/sysctl.d/10-low.conf", 65530), (OURS, 262144)], (262144, OURS)),
    ([(OURS, 262144), ("/usr/lib/sysctl.d/95-vendor.conf", 65530)], (65530, "/usr/lib/sysctl.d/95-vendor.conf")),
    # The same name in /etc masks the one in /usr/lib: the vendor's file does not apply at all.
    ([(OURS, 262144), ("/etc/sysctl.d/95-vendor.conf", 300000), ("/usr/lib/sysctl.d/95-vendor.conf", 65530)],
     (300000, "/etc/sysctl.d/95-vendor.conf")),
    # Within one file the last line wins; /etc/sysctl.conf comes after every file (procps' sysctl --system).
    ([(OURS, 262144), ("/etc/sysctl.conf", 65530)], (65530, "/etc/sysctl.conf")),
    ([("/etc/sysctl.d/99-a.conf", 65530), ("/etc/sysctl.d/99-a.conf", 270000), (OURS, 262144)],
     (270000, "/etc/sysctl.d/99-a.conf")),
    ([], None),
])
def test_boot_value_applies_the_files_as_a_boot_does(persisted, effective):
    assert boot_value(persisted) == effective


def test_a_later_file_setting_less_fails_the_node_naming_it():
    state = {"persisted": [("/etc/sysctl.d/99-tuning.conf", 65530), (OURS, 65530)]}
    name, reason = boot_time_problem(state, 262144, 262144)
    assert reason.startswith("/etc/sysctl.d/99-tuning.conf sets vm.max_map_count = 65530 and is read after " + OURS)
    assert "Raise it there to at least 262144, or remove that line" in reason
    # Ours as it will be written is what counts (its old value 65530 above is replaced), and a later file
    # that sets at least ours is fine.
    assert boot_time_problem({"persisted": [(OURS, 65530)]}, 262144, 262144) is None
    assert boot_time_problem({"persisted": [("/etc/sysctl.d/99-big.conf", 1048576)]}, 262144, 262144) is None


def test_node_state_reads_every_persisted_setting():
    state = NodeState().process(["persisted=/etc/sysctl.d/99-tuning.conf\t65530", "persisted=/etc/sysctl.conf\tx"])
    assert state["persisted"] == [("/etc/sysctl.d/99-tuning.conf", 65530)]


@pytest.mark.parametrize(("line", "limits"), [
    ("containerd 1024 524288", {"process": "containerd", "soft": 1024, "hard": 524288}),
    ("dockerd unlimited unlimited", {"process": "dockerd", "soft": None, "hard": None}),
    ("crio 1048576", None), ("containerd soft hard", None),
])
def test_runtime_limits_from_the_probe_line(line, limits):
    assert runtime_limits_from(line) == limits


@pytest.mark.parametrize(("limits", "warns"), [
    ({"process": "containerd", "soft": 1024, "hard": 4096}, True),
    ({"process": "containerd", "soft": 1024, "hard": 524288}, False),  # the container raises its soft limit
    ({"process": "dockerd", "soft": None, "hard": None}, False), (None, False),
])
def test_a_runtime_hard_limit_below_what_elasticsearch_needs_is_named(limits, warns):
    problem = runtime_limits_problem(limits)
    assert (problem is not None) is warns
    if warns:
        assert "hard limit is 4096, below the 65535" in problem and "LimitNOFILE" in problem
    assert describe_runtime_limits(limits).startswith("runtime open files: not readable" if limits is None else limits["process"])
