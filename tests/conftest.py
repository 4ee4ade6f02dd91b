"""Shared fixtures: a Docker engine, the node image, the machine-wide vm.max_map_count, a fake API server."""

from __future__ import annotations

import pytest

from tests import harness
from tests.api_helpers import NODES
from tests.fake_kube import FakeKube


@pytest.fixture(scope="session")
def node_image(restore_max_map_count) -> str:
    reason = harness.docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        return harness.ensure_node_image()
    except Exception as e:  # no debootstrap, no Debian mirror: cannot build real hosts here
        pytest.skip(f"cannot build the Debian node image: {e}")


@pytest.fixture(scope="session")
def restore_max_map_count():
    """Tests on node containers change the machine's vm.max_map_count (it is not namespaced); put it back
    afterwards. Only those tests use it: a test run without containers leaves the value alone."""
    before = harness.max_map_count()
    yield
    if harness.max_map_count() != before:
        try:
            with open("/proc/sys/vm/max_map_count", "w") as f:
                f.write(str(before))
        except OSError:
            pass


@pytest.fixture
def api(tmp_path):
    """A fake API server that knows the nodes of ``api_helpers.NODES``, and a kubeconfig for it."""
    with FakeKube() as fake:
        for node in NODES:
            fake.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.node, "labels": {}}})
        fake.kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        yield fake
