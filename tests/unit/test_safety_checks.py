"""Each safety check of the cluster stage alone, and that what it refuses or waits for names it.

Checks of the plan are pure functions of the settings and the live objects: each is given one input it
must refuse and one it must let through. Checks in the cluster are batches of files/es-admin.sh: each
runs for real (host ``sh`` and ``curl``) against the fake Elasticsearch in a state where it must wait (and,
after ``rollout_timeout``, fail naming the check) and in one where it passes and leaves the settings it
promises. The day-2 tests (tests/cluster/test_day2.py) show the same checks inside whole runs.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kubelogs.cluster import es_plan, layout, quorum, restarts, safety
from kubelogs.cluster.api import ClusterError
from kubelogs.cluster.es_calls import CallBatch, run
from kubelogs.cluster.plan import NodeTarget
from kubelogs.manifests import GeneratedSecrets, render_all
from kubelogs.manifests.common import ES_VERSION_ANNOTATION
from kubelogs.manifests.elasticsearch import node_count
from kubelogs.polling import Poll
from kubelogs.settings import Settings, validate_settings
from tests.support.es_requests import PodRunner
from tests.support.fake_elasticsearch import FakeElasticsearch


def statefulset(version: str, replicas: int, selector: str = "elasticsearch") -> dict:
    return {"kind": "StatefulSet", "metadata": {"name": "elasticsearch", "namespace": "logging",
                                                "annotations": {ES_VERSION_ANNOTATION: version}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": selector}}, "serviceName": "elasticsearch",
                     "template": {"spec": {"containers": [{"name": "elasticsearch",
                                                           "image": f"elasticsearch:{version}"}]}}}}


def unversioned(sts: dict) -> dict:
    sts["metadata"]["annotations"] = {}
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "mirror.example/elasticsearch@sha256:0123"
    return sts


# -- checked by the plan: (check, refused input, allowed input); each input calls the check's function --------
SETTINGS_7 = validate_settings({"elasticsearch": {"version": "7.17.26", "replicas": 3}})
PENDING = "StatefulSet elasticsearch: 1 pod(s) at an older revision (elasticsearch-2); restarted one at a time"
DOCKER_NODE = NodeTarget("h1", "n1", "docker", True)
PLAN_CASES: dict[safety.Check, tuple[Callable[[], str], Callable[[], str]]] = {
    safety.AGENT_ON_EVERY_NODE: (
        lambda: safety.agent_on_every_node(validate_settings({"elasticsearch": {"version": "5.6.16"}}),
                                           [NodeTarget("h2", "n2", "containerd", True)]),
        lambda: safety.agent_on_every_node(validate_settings({"elasticsearch": {"version": "5.6.16"}}), [DOCKER_NODE])),
    safety.IMMUTABLE_FIELDS: (
        lambda: safety.immutable_fields_unchanged(statefulset("7.17.26", 3), statefulset("7.17.26", 3, selector="es")),
        lambda: safety.immutable_fields_unchanged(statefulset("7.17.26", 3), statefulset("7.17.26", 5))),
    safety.SUPPORTED_VERSION_CHANGE: (
        lambda: safety.supported_version_change(statefulset("7.17.26", 3), statefulset("7.10.2", 3)),
        lambda: safety.supported_version_change(statefulset("7.17.26", 3), statefulset("8.19.2", 3))
        # a StatefulSet whose version cannot be told (no annotation, an image without a version tag): let through
        + safety.supported_version_change(unversioned(statefulset("7.17.26", 3)), statefulset("5.6.16", 3))),
    safety.MASTER_LAYOUT_CHANGE: (
        lambda: safety.master_layout_change_supported(0, 3, "6.8.23", []),  # no voting exclusions by name
        lambda: safety.master_layout_change_supported(0, 3, "7.17.26", [])  # on, off, another number, or unchanged
        + safety.master_layout_change_supported(3, 0, "9.5.7", []) + safety.master_layout_change_supported(3, 5, "8.19.2", [])
        + safety.master_layout_change_supported(3, 3, "6.8.23", [])),
    safety.LAYOUT_CHANGE_FINISHED_FIRST: (
        lambda: safety.layout_change_finished_first(0, 3),  # retiring under way, masters set again: refused
        lambda: safety.layout_change_finished_first(0, 0) + safety.layout_change_finished_first(None, 5)),
    safety.MAJOR_UPGRADE_ALONE: (
        lambda: safety.major_upgrade_alone(statefulset("6.8.23", 3), statefulset("7.17.26", 2)),
        lambda: safety.major_upgrade_alone(statefulset("7.17.20", 3), statefulset("7.17.26", 2))),
    safety.SCALE_DOWN_ALONE: (
        lambda: safety.scale_down_alone(statefulset("7.17.20", 3), statefulset("7.17.26", 2)),
        lambda: safety.scale_down_alone(statefulset("7.17.20", 3), statefulset("7.17.26", 4))  # up: allowed
        + safety.scale_down_alone(statefulset("7.17.26", 3), statefulset("7.17.26", 1))),  # down alone: allowed
    safety.RESTARTS_FINISHED_FIRST: (
        # a replicas change (the message returned), and a version change (refused too, or nothing is returned)
        lambda: safety.restarts_finished_first(PENDING, "7.17.26", 2, SETTINGS_7)
        if safety.restarts_finished_first(PENDING, "7.17.20", 3, SETTINGS_7) else "",
        lambda: safety.restarts_finished_first(PENDING, "7.17.26", 3, SETTINGS_7)  # no change: the run finishes them
        + safety.restarts_finished_first("", "7.17.20", 2, SETTINGS_7)),  # nothing pending: any change
    safety.SNAPSHOTS_READY_FIRST: (
        lambda: safety.snapshots_ready_first("the change from Elasticsearch 7.17.20 to 7.17.26", registered=False),
        lambda: safety.snapshots_ready_first("the change from Elasticsearch 7.17.20 to 7.17.26", registered=True)
        + safety.snapshots_ready_first("", registered=False)),  # no risky change: snapshots may be set up
}


def test_every_check_is_tested_here():
    in_cluster = {c for c in safety.CHECKS if c.where == "cluster"}
    assert set(PLAN_CASES) | set(CLUSTER_CASES) == set(safety.CHECKS)
    assert set(CLUSTER_CASES) == in_cluster and len({c.name for c in safety.CHECKS}) == len(safety.CHECKS)


@pytest.mark.parametrize("check", list(PLAN_CASES), ids=lambda c: c.name)
def test_a_plan_check_refuses_by_name_and_lets_the_safe_change_through(check):
    refused, allowed = PLAN_CASES[check]
    message = refused()
    assert message.endswith(f"[safety check: {check.name}]") and "othing was applied" in message
    assert allowed() == ""


def test_a_plan_check_names_the_way_out():
    assert "upgrade with the current replicas first, then change replicas in a second run" in \
        PLAN_CASES[safety.MAJOR_UPGRADE_ALONE][0]()
    assert "downgrades are refused" in PLAN_CASES[safety.SUPPORTED_VERSION_CHANGE][0]()
    assert "Keep kubelogs.elasticsearch.version = '7.17.26', replicas = 2 and masters as installed for one more run" in \
        PLAN_CASES[safety.RESTARTS_FINISHED_FIRST][0]()
    assert "--cascade=orphan" in PLAN_CASES[safety.IMMUTABLE_FIELDS][0]()
    # Zen discovery (5.x, 6.x) cannot move the master role safely; nor can a run that also moves the nodes.
    assert "Keep elasticsearch.masters = 0 as installed, or upgrade to 7.8+ first" in \
        PLAN_CASES[safety.MASTER_LAYOUT_CHANGE][0]()
    assert "changing the master layout and replicas (2 -> 3) in one run are refused" in \
        safety.master_layout_change_supported(0, 3, "8.19.2", ["replicas (2 -> 3)"])
    assert "wait to be adopted" in safety.master_layout_change_supported(3, 0, "8.19.2", [], adopted=True)


# -- checked in the cluster: (settings, batch, unsafe state, safe state, what the safe run leaves) ---------------
def _settings(version: str, replicas: int) -> Settings:
    return validate_settings({"elasticsearch": {"version": version, "replicas": replicas, "security": False},
                              "kubernetes": {"rollout_timeout": 1, "poll_interval": 0.2}})


S6, S7 = _settings("6.8.23", 3), _settings("7.17.26", 3)
S7_MASTERS = validate_settings({"elasticsearch": {"version": "7.17.26", "replicas": 2, "masters": 3, "security": False},
                                "kubernetes": {"rollout_timeout": 1, "poll_interval": 0.2}})


def _unhealthy(es: FakeElasticsearch) -> None:
    es.status = "yellow"


def _missing_nodes(es: FakeElasticsearch) -> None:
    es.number_of_nodes = 2


def _red(es: FakeElasticsearch) -> None:
    es.status = "red"


def _snapshot_never_ends(es: FakeElasticsearch) -> None:
    es.snapshots.in_progress_polls = 10**6


def _with_repository(es: FakeElasticsearch) -> None:
    es.snapshots.node_config = lambda: {"path.repo": ["/snapshots"]}
    es.snapshots.fs_root = Path(tempfile.mkdtemp(prefix="kubelogs-safety-repo-"))
    es.snapshots.repositories["kubelogs"] = {"type": "fs", "settings": {"location": "/snapshots"}}
    # Done at the first look: the check's 1 s budget is for waiting on an unsafe state, not on a loaded machine.
    es.snapshots.in_progress_polls = 0


def _admin_calls(es: FakeElasticsearch) -> list[str]:
    return [f"{m} {p.split('?')[0]}" for m, p in es.calls]


CLUSTER_CASES: dict[safety.Check, tuple] = {
    safety.HEALTH_BEFORE_RESTART: (
        S7, restarts.prepare_batch(S7, "to restart elasticsearch-2"), [_unhealthy, _missing_nodes],
        lambda es: es.cluster_settings.get("cluster.routing.allocation.enable") == "primaries"
        and _admin_calls(es) == ["PUT /_cluster/settings", "GET /_cluster/health", "PUT /_cluster/settings",
                                 "POST /_flush"]),
    safety.ALLOCATION_BACK_ON: (
        S7, restarts.reenable_batch(S7), [_unhealthy, _missing_nodes],
        lambda es: "cluster.routing.allocation.enable" not in es.cluster_settings),
    safety.QUORUM_BEFORE_SCALE_DOWN: (
        S7, quorum.before_scaling("7.17.26", 3, 1), [_unhealthy, _missing_nodes],
        lambda es: es.voting_exclusions == ["elasticsearch-1", "elasticsearch-2"]
        and es.cluster_settings.get("cluster.routing.allocation.exclude._name") == "elasticsearch-1,elasticsearch-2"),
    safety.MASTER_ROLE_HANDED_OVER: (  # adding masters: the data nodes out of voting once the masters joined
        S7_MASTERS, layout.take_over(S7_MASTERS, "7.17.26"), [_unhealthy, _missing_nodes],
        lambda es: es.voting_exclusions == ["elasticsearch-0", "elasticsearch-1"]),
    safety.QUORUM_AFTER_SCALE_UP: (
        S6, quorum.after_scaling("6.8.23", 1, 3), [_missing_nodes],
        lambda es: str(es.cluster_settings.get("discovery.zen.minimum_master_nodes")) == "2"),
    safety.SNAPSHOT_BEFORE_RISKY_CHANGE: (
        S7, es_plan.snapshot_batch("the change from Elasticsearch 7.17.20 to 7.17.26"), [_red, _snapshot_never_ends],
        lambda es: [s["snapshot"].rsplit("-", 2)[0] for s in es.answer("/_snapshot/kubelogs/_all", {}, None)[1]["snapshots"]]
        == ["kubelogs-before-change"]),
}


def _run_batch(settings: Settings, batch: CallBatch, es: FakeElasticsearch) -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kubelogs-safety-") as tmp:
        kube = PodRunner(es, Path(tmp))
        kube.load(render_all(settings, GeneratedSecrets(password="")))
        run(kube, settings, batch, lines.append, Poll(0.01))
    return lines


@pytest.mark.parametrize("check", list(CLUSTER_CASES), ids=lambda c: c.name)
def test_a_cluster_check_waits_then_fails_by_name(check):
    settings, batch, unsafe_states, _ = CLUSTER_CASES[check]
    assert batch.check == check.name
    for unsafe in unsafe_states:
        with FakeElasticsearch(major=settings.elasticsearch.major, number_of_nodes=node_count(settings)) as es:
            _with_repository(es)
            unsafe(es)
            before = copy.deepcopy(es.cluster_settings)
            with pytest.raises(ClusterError) as failed:
                _run_batch(settings, batch, es)
            message = str(failed.value)
            assert f"The safety check {check.name!r} is not met." in message, message
            assert "waited 1s for" in message and "Nothing after this step was done" in message
            # It changed nothing the check guards: no primaries-only allocation, no exclusion, no quorum.
            risky = {"cluster.routing.allocation.exclude._name", "discovery.zen.minimum_master_nodes"}
            assert {k: v for k, v in es.cluster_settings.items() if k in risky or v == "primaries"} == \
                {k: v for k, v in before.items() if k in risky or v == "primaries"}
            assert not es.voting_exclusions and ("POST", "/_flush") not in es.calls


@pytest.mark.parametrize("check", list(CLUSTER_CASES), ids=lambda c: c.name)
def test_a_cluster_check_passes_when_safe_and_its_log_names_it(check):
    settings, batch, _, leaves = CLUSTER_CASES[check]
    with FakeElasticsearch(major=settings.elasticsearch.major, number_of_nodes=node_count(settings)) as es:
        _with_repository(es)
        if check == safety.ALLOCATION_BACK_ON:
            es.cluster_settings["cluster.routing.allocation.enable"] = "primaries"  # as the restarts left it
        lines = _run_batch(settings, batch, es)
        assert leaves(es), es.cluster_settings
    assert lines == [f"elasticsearch: {batch.why} ({', '.join(batch.actions)}; safety check: {check.name})"]
