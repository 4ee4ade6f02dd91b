"""Every bad input of the corpus through the real command: one clear error, exit 1, and not one command
on any node nor one request to the API server."""

from __future__ import annotations

import pytest

from tests.support import harness
from tests.support.bad_inputs import BAD_INPUTS


@pytest.fixture(scope="module")
def cluster(node_image, tier):
    with harness.KindLikeCluster(tier) as c:
        c.add("control-plane")
        for _ in range(3):  # three data nodes: the default 3 replicas fit
            c.add("worker")
        c.since = harness.docker_time()
        yield c


# Plus what only an inventory can make wrong: more replicas than hostPath data nodes.
CASES = [*BAD_INPUTS, ({"elasticsearch": {"replicas": 5}}, "kubelogs.elasticsearch.replicas", "only 3 data node(s)")]


@pytest.mark.parametrize(("raw", "field", "words"), CASES, ids=[f"{i:02}-{c[1]}" for i, c in enumerate(CASES)])
def test_bad_input_stops_the_real_command_before_any_contact(cluster, raw, field, words):
    run = harness.run_deploy(cluster, raw, json_report=False)
    assert run.returncode == 1
    assert "--> pyinfra error: invalid settings (1 problem); nothing was changed:" in run.stderr, run.stderr[-2000:]
    assert f"  - {field}" in run.stderr and words in run.stderr
    assert "Traceback" not in run.stderr and "Connecting to hosts" not in run.stderr
    assert cluster.api.requests == []


def test_no_bad_input_reached_a_node(cluster):
    # Runs after the parametrized cases (file order): not one docker exec into any node since they began.
    assert harness.exec_events([n.name for n in cluster.nodes], cluster.since, harness.docker_time()) == []
