"""How the runtime fact reads kubelet's configuration (the shell part runs in test_node_stage)."""

from __future__ import annotations

import pytest

from kubelogs.node.facts import ContainerRuntime, runtime_from


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
