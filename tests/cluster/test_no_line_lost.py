"""No log line lost between a container and Elasticsearch, with the real Fluent Bit on the cluster tier: lines
written before the agent's first start, an agent restarted (SIGTERM or SIGKILL) while Elasticsearch
refuses every bulk request, a log rotated kubelet-style while written at 500 lines/s, and the Kubernetes
API forbidden to the agent for 30 s: every line arrives, once."""

from __future__ import annotations

import datetime
import os
import signal
import time

import pytest

from kubelogs.manifests import fluent_bit
from kubelogs.verify import stage as verify_stage
from tests.support.cluster_helpers import deploy, kube, settings_for
from tests.support.kubelet import write_container_log
from tests.support.log_traffic import (
    DEFAULT_MAJOR,
    app_pod,
    append_cri_line,
    log_file,
    messages,
    unrouted_messages,
    wait_for_replacement,
)

pytestmark = pytest.mark.fluent_bit


def test_lines_written_before_the_agents_first_start_arrive_once(api):
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    api.admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": api.namespace}})
    node = api.tier.kubelet.nodes[api.nodes[0].node]
    pod = app_pod(api, "early", node.name, "early-app")
    lines = [f"early line {i}" for i in range(5)]
    write_container_log(node, pod, "app", lines)
    deploy(api, settings_for(api))  # Fluent Bit starts only now
    api.wait_for("the early lines", lambda: len(messages(es, "early-app")) >= len(lines), timeout=40)
    # A restart of the agent reads its position database: nothing is sent twice.
    agent = next(p for p in api.pods("fluent-bit") if p["spec"]["nodeName"] == node.name)
    api.admin.delete("Pod", agent["metadata"]["name"], api.namespace)
    wait_for_replacement(api, node.name, agent)
    write_container_log(node, pod, "app", ["after the restart"])  # a marker: the new agent is shipping
    api.wait_for("the marker line", lambda: "after the restart" in messages(es, "early-app"), timeout=40)
    assert sorted(messages(es, "early-app")) == sorted([*lines, "after the restart"])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_agent_restarted_during_an_elasticsearch_outage_loses_nothing(api, stop):
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    deploy(api, settings_for(api))
    node = api.tier.kubelet.nodes[api.nodes[0].node]
    pod = app_pod(api, "during-outage", node.name, "outage-app")
    es.bulk_status = 503  # Elasticsearch refuses every bulk request
    calls = len(es.calls)
    lines = [f"outage line {i}" for i in range(20)]
    write_container_log(node, pod, "app", lines)
    api.wait_for("Fluent Bit to try and fail", lambda: any(
        method == "POST" for method, _ in es.calls[calls:]), timeout=40)
    played = next(p for p in api.tier.kubelet.pods.values()
                  if p.node is node and p.process is not None and not p.stopped)
    if stop == signal.SIGKILL:
        played.process.kill()  # no chance to flush anything
    agent = next(p for p in api.pods("fluent-bit") if p["spec"]["nodeName"] == node.name)
    api.admin.delete("Pod", agent["metadata"]["name"], api.namespace)  # SIGTERM, if still running
    wait_for_replacement(api, node.name, agent)
    es.bulk_status = None  # Elasticsearch is back
    api.wait_for("every line", lambda: len(messages(es, "outage-app")) >= len(lines), timeout=90)
    # A marker written now arrives after anything still buffered: duplicates would show up before it.
    write_container_log(node, pod, "app", ["after the outage"])
    api.wait_for("the marker line", lambda: "after the outage" in messages(es, "outage-app"), timeout=60)
    assert sorted(messages(es, "outage-app")) == sorted([*lines, "after the outage"])  # each once


def test_kubelet_style_rotation_at_500_lines_per_second_loses_nothing(api):
    # The kubelet rotates a container's log by renaming 0.log to 0.log.<timestamp> and having the runtime
    # reopen 0.log; the /var/log/containers link keeps pointing at the name. Rotated twice while writing.
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    deploy(api, settings_for(api))
    node = api.tier.kubelet.nodes[api.nodes[0].node]
    pod = app_pod(api, "rotating", node.name, "rotating-app")
    current = log_file(node, write_container_log(node, pod, "app", ["rotation line 0"]))
    # The agent has found the file (its scan runs every Refresh_Interval, 5 s). A file rotated away before
    # that is never read: the limit is a container writing the kubelet's containerLogMaxSize (10Mi) in 5 s.
    api.wait_for("the first line", lambda: messages(es, "rotating-app") == ["rotation line 0"], timeout=40)
    total, per_second, rotate_every = 3000, 500, 1000
    started = time.monotonic()
    for i in range(1, total):
        if i % rotate_every == 0:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
            os.rename(current, current.with_name(f"0.log.{stamp}-{i}"))  # kubelet's rename, then a new file
        append_cri_line(current, f"rotation line {i}")
        time.sleep(max(0.0, started + i / per_second - time.monotonic()))  # 500 lines per second
    rotated = sorted(p.name for p in current.parent.iterdir())
    assert len(rotated) == 3 and rotated[0] == "0.log"
    api.wait_for("every line", lambda: len(messages(es, "rotating-app")) >= total, timeout=90)
    got = messages(es, "rotating-app")
    assert sorted(got) == sorted(f"rotation line {i}" for i in range(total))  # all of them, each once


def test_kubernetes_api_forbidden_for_30_seconds_loses_no_line(api):
    # Fluent Bit's token loses its RBAC for 30 s (its ClusterRoleBinding deleted: the API server answers
    # 403), then a re-run of the deploy puts it back. A pod it has seen keeps its cached metadata; a pod it
    # has not seen yet cannot be looked up: its lines are kept in the unrouted index, counted per node.
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    settings = settings_for(api)
    deploy(api, settings)
    node = api.tier.kubelet.nodes[api.nodes[0].node]
    known = app_pod(api, "known", node.name, "known-app")
    known_log = log_file(node, write_container_log(node, known, "app", ["known line 0"]))
    api.wait_for("the known pod's first line", lambda: messages(es, "known-app") == ["known line 0"], timeout=40)
    api.admin.delete("ClusterRoleBinding", fluent_bit.cluster_role_name(api.namespace))
    new = app_pod(api, "new", node.name, "new-app")
    new_log = log_file(node, write_container_log(node, new, "app", ["new line 0"]))
    known_lines, new_lines = ["known line 0"], ["new line 0"]
    started = time.monotonic()
    while time.monotonic() - started < 30:  # a line of each pod per second
        known_lines.append(f"known line {len(known_lines)}")
        new_lines.append(f"new line {len(new_lines)}")
        append_cri_line(known_log, known_lines[-1])
        append_cri_line(new_log, new_lines[-1])
        time.sleep(1)
    deploy(api, settings)  # the fix: the re-run creates the binding again
    new_lines.append("new line after")
    append_cri_line(new_log, new_lines[-1])
    api.wait_for("every line", lambda: len(messages(es, "known-app")) >= len(known_lines)
                 and len(messages(es, "new-app")) + len(unrouted_messages(es, "new")) >= len(new_lines), timeout=90)
    assert sorted(messages(es, "known-app")) == sorted(known_lines)  # cached metadata: all routed, once
    routed, unrouted = messages(es, "new-app"), unrouted_messages(es, "new")
    assert sorted(routed + unrouted) == sorted(new_lines)  # each line once, none dropped
    assert unrouted and "new line after" in routed  # kept while forbidden; routed again once allowed
    lines: list[str] = []
    report = verify_stage.run(kube(settings), settings, lines.append)
    assert f"node {node.name}: {len(unrouted)} line(s) without pod metadata in kubelogs-unrouted-*" in "\n".join(lines)
    assert report.ok, lines  # the lines are not lost: a note, not a failure


def test_turning_security_and_https_on_loses_nothing(api):
    # A full cluster restart switches Elasticsearch to HTTPS while the agents still speak plain HTTP (refused),
    # until they roll with the CA; what they read meanwhile stays buffered on the node and arrives once.
    es = api.serve_elasticsearch(major=DEFAULT_MAJOR)
    deploy(api, settings_for(api, elasticsearch={"security": False}))
    node = api.tier.kubelet.nodes[api.nodes[0].node]
    pod = app_pod(api, "switching", node.name, "switch-app")
    before = [f"before the switch {i}" for i in range(5)]
    write_container_log(node, pod, "app", before)
    api.wait_for("the lines before", lambda: len(messages(es, "switch-app")) >= len(before), timeout=40)
    kubelet, written = api.tier.kubelet, []

    def each_restart(meta: dict) -> None:  # written while Elasticsearch restarts into HTTPS
        if meta["name"].startswith("elasticsearch-"):
            written.append(f"during the restart of {meta['name']}")
            write_container_log(node, pod, "app", [written[-1]])
    kubelet.on_terminate = each_restart
    try:
        deploy(api, settings_for(api, elasticsearch={"security": True}))
    finally:
        kubelet.on_terminate = None
    assert es.certificate() is not None and written
    write_container_log(node, pod, "app", ["after the switch"])
    expected = sorted([*before, *written, "after the switch"])
    api.wait_for("every line, once", lambda: sorted(messages(es, "switch-app")) == expected, timeout=90)
