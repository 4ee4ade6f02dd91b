"""Shared fixtures: a Docker engine, the node image, the machine-wide vm.max_map_count, and the cluster
tier (a session-wide control plane -- the API-server double, or the real one with KUBELOGS_K8S_BIN --,
test kubelet and recording proxy; one namespace and set of nodes per test)."""

# pyinfra's CLI package monkey-patches ssl with gevent when imported (kubelogs.errors imports it). It
# must come before anything imports ssl, or TLS to the API server recurses in SSLContext.
import pyinfra_cli  # noqa: F401, I001

import tempfile
from pathlib import Path

import pytest

from tests.support import harness
from tests.support.tier import ClusterView, start_tier


@pytest.fixture(autouse=True)
def real_fluent_bit(request):
    """Tests of Fluent Bit's own behaviour need its real binary (of the default image): skip without it."""
    if request.node.get_closest_marker("fluent_bit"):
        from kubelogs import compatibility as compat
        from tests.support import binaries

        binaries.fluent_bit_binary(compat.AGENTS["fluent-bit"].image.rsplit(":", 1)[-1])


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


@pytest.fixture(scope="session")
def tier():
    """The control plane (real with KUBELOGS_K8S_BIN, else the API-server double), its test kubelet and the
    recording proxy, for the whole session."""
    with tempfile.TemporaryDirectory(prefix="kubelogs-tier-") as workdir:
        started = start_tier(Path(workdir))
        yield started
        started.stop()


@pytest.fixture
def api(tier):
    """One test's share of the cluster: its own namespace and the nodes of ``cluster_helpers.NODE_SPECS``."""
    from tests.support.cluster_helpers import NODE_SPECS
    from tests.support.tier import node_targets

    view = ClusterView(tier)
    view.nodes = node_targets(view, NODE_SPECS)
    yield view
    view.cleanup()
