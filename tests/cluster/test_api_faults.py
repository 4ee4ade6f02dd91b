"""An unreachable, failing or slow API server: retries where safe, clear errors, nothing half-done, and a
re-run after an interrupted cluster stage converges. The API server, behind the recording proxy that
injects the faults a healthy server cannot produce on demand (tests/support/api_proxy.py)."""

from __future__ import annotations

import pytest

from kubelogs.cluster import stage
from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.manifests.common import CREDENTIALS_SECRET
from tests.support.cluster_helpers import deploy, log_pilot_settings_for, settings_for


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_transient_statuses_are_retried(api, status):
    api.fail_next("PATCH", "/daemonsets/fluent-bit", status, times=2)
    plan, done, _ = deploy(api, settings_for(api))
    assert done["created"] == plan.counts()["create"]
    patches = [r for r in api.requests if r.method == "PATCH" and r.path.endswith("/daemonsets/fluent-bit")]
    assert len(patches) == 3  # two failures, then success


def test_errors_that_retrying_cannot_fix_are_not_retried(api):
    api.fail_next("PATCH", "/statefulsets/elasticsearch", 403, times=1)
    with pytest.raises(ClusterError, match="403 InjectedFault: injected fault 403"):
        deploy(api, settings_for(api))
    assert len([r for r in api.requests if r.path.endswith("/statefulsets/elasticsearch") and r.method == "PATCH"]) == 1


def test_slow_answers_within_the_timeout_succeed(api):
    api.set_delay(0.05)
    plan, done, _ = deploy(api, settings_for(api))
    assert done["created"] == plan.counts()["create"]


def test_answers_slower_than_the_timeout_give_a_clear_error(api):
    settings = settings_for(api)
    api.set_delay(1.0)
    kube = Kube(load_client(settings), retry_delays=(0.01,), request_timeout=(1, 0.2))
    with pytest.raises(ClusterError, match=r"cannot reach the Kubernetes API at .*ReadTimeoutError.*gave up after 2 attempts"):
        stage.plan(kube, settings, api.nodes)


def test_interrupted_cluster_stage_converges_on_rerun_with_the_same_credentials(api):
    settings = settings_for(api)
    api.fail_next("PATCH", "/statefulsets/elasticsearch", 503, times=100)  # the API server keeps failing
    with pytest.raises(ClusterError, match="503"):
        deploy(api, settings)
    assert api.get("StatefulSet", "elasticsearch", api.namespace) is None
    password = api.get("Secret", CREDENTIALS_SECRET, api.namespace)["data"]["password"]  # applied before it
    api.tier.proxy.clear_faults()
    plan, done, _ = deploy(api, settings)
    assert [s.ref for s in plan.steps if s.action == "create"][0] == f"StatefulSet {api.namespace}/elasticsearch"
    assert api.get("Secret", CREDENTIALS_SECRET, api.namespace)["data"]["password"] == password
    again, _, _ = deploy(api, settings)
    assert again.changes == []


def test_failed_prune_leaves_no_half_deleted_state_and_converges(api):
    deploy(api, log_pilot_settings_for(api))
    switch = log_pilot_settings_for(api, agents={"collector": "fluent-bit"})
    api.fail_next("DELETE", "/daemonsets/log-pilot", 500, times=100)
    with pytest.raises(ClusterError, match="500"):
        deploy(api, switch)
    # Applies happened, the failing delete did not: the agent is whole, not partly removed.
    assert api.get("DaemonSet", "log-pilot", api.namespace) is not None
    api.tier.proxy.clear_faults()
    plan, done, _ = deploy(api, switch)
    assert api.get("DaemonSet", "log-pilot", api.namespace) is None and done["pruned"] >= 1
    again, _, _ = deploy(api, switch)
    assert again.changes == []
