"""inventories/kind.py: discovery of kind node containers by their Docker labels."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support import harness


def _pyinfra(cluster: str, *args: str) -> harness.DeployRun:
    return harness.run_pyinfra(cluster, *args, settings={"elasticsearch": {"replicas": 2}})


@pytest.fixture(scope="module")
def cluster(node_image):
    with harness.KindLikeCluster() as c:
        c.add("control-plane")
        c.add("worker")
        c.add("worker")
        # kind's HA load balancer carries the cluster label but is not a Kubernetes node.
        c.add("external-load-balancer")
        yield c


def test_groups_by_role(cluster):
    result = _pyinfra(cluster.name, "debug-inventory", "--json")
    assert result.returncode == 0, result.stderr
    groups: dict[str, set[str]] = {}
    for host in json.loads(result.stdout):
        for group in host["groups"]:
            groups.setdefault(group, set()).add(host["name"])
    docker = {n.name.rsplit("-", 1)[-1]: f"@docker/{n.name}" for n in cluster.nodes if n.role != "external-load-balancer"}
    assert groups["control_plane"] == {docker["plane"]}
    assert groups["workers"] == {docker["worker1"], docker["worker2"]}
    assert groups["kube_nodes"] == set(docker.values())
    assert groups["es_data_nodes"] == {docker["worker1"], docker["worker2"]}
    assert groups["control_host"] == {"@local"}


def test_cluster_without_containers_is_a_clear_error(node_image):
    result = _pyinfra("no-such-cluster", "deploy.py", "-y")
    assert result.returncode != 0
    assert "no node containers of kind cluster 'no-such-cluster'" in result.stderr
    assert "Traceback" not in result.stderr


def test_stopped_node_is_refused_not_started(cluster):
    # pyinfra's docker connector would start a stopped container, then commit and remove it.
    extra = cluster.add("worker")
    harness.docker("stop", "-t", "0", extra.name)
    try:
        result = _pyinfra(cluster.name, "deploy.py", "-y")
        assert result.returncode != 0
        assert f"not running: {extra.name} (exited)" in result.stderr
        state = harness.docker("inspect", "-f", "{{.State.Status}}", extra.name).strip()
        assert state == "exited"
    finally:
        harness.docker("rm", "-f", extra.name, check=False)
        cluster.nodes.remove(extra)


def test_minikube_inventory_finds_its_docker_driver_containers(node_image):
    # Containers labelled as minikube's Docker driver labels its nodes: the first is named after the profile.
    profile = f"kubelogs-mk-{uuid.uuid4().hex[:6]}"
    names = [profile, f"{profile}-m02"]
    try:
        for name in names:
            harness.docker("run", "-d", "--name", name, "--label", "created_by.minikube.sigs.k8s.io=true",
                           "--label", f"name.minikube.sigs.k8s.io={profile}", harness.NODE_IMAGE, "sleep", "600")
        result = harness.run_pyinfra(profile, "debug-inventory", "--json", inventory="inventories/minikube.py",
                                     settings={"elasticsearch": {"replicas": 2}})
        assert result.returncode == 0, result.stderr
        groups: dict[str, set[str]] = {}
        for host in json.loads(result.stdout):
            for group in host["groups"]:
                groups.setdefault(group, set()).add(host["name"])
        assert groups["control_plane"] == {f"@docker/{profile}"}
        assert groups["workers"] == {f"@docker/{profile}-m02"}
        assert groups["es_data_nodes"] == groups["kube_nodes"] == {f"@docker/{n}" for n in names}
        missing = harness.run_pyinfra("no-such-profile", "deploy.py", "-y", inventory="inventories/minikube.py")
        assert missing.returncode != 0 and "no node containers of minikube cluster 'no-such-profile'" in missing.stderr
        assert "Traceback" not in missing.stderr
    finally:
        for name in names:
            harness.docker("rm", "-f", name, check=False)
