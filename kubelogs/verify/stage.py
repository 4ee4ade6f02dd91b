"""Run the verification: canaries on every prepared node, the in-cluster verifier, cleanup, report."""

from __future__ import annotations

import datetime
import json
import secrets
import time
from collections.abc import Callable

from kubelogs import compatibility as compat
from kubelogs.cluster import es_tasks, rollout
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.manifests.common import NODE_RUNTIME_LABEL
from kubelogs.manifests.index_settings import POLICY_NAME, RETENTION_JOB
from kubelogs.settings import Settings
from kubelogs.verify import pods
from kubelogs.verify.report import NodeResult, Report

SINGLE_REPLICA_NOTE = ("yellow is expected: with one Elasticsearch node, replica shards cannot be assigned, "
                       "so green is impossible")


def run(kube: Kube, settings: Settings, log: Callable[[str], None],
        clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> Report:
    """Verify and always remove the pods it created, also on failure."""
    ns, run_id = settings.namespace, secrets.token_hex(4)
    report = Report(replicas=settings.elasticsearch.replicas)
    created: list[str] = []
    try:
        if not compat.has_ilm(settings.elasticsearch.version):
            retention_without_ilm(kube, settings, report)
        report.nodes = agent_coverage(kube, settings)
        for r in report.nodes:
            if r.agent == "none":
                report.problems.append(f"node {r.node}: no log agent can run there (runtime {r.note})")
            elif not r.agent_ready:
                report.problems.append(f"node {r.node}: should run {r.agent}, but no ready {r.agent} pod is there")
        targets = [r for r in report.nodes if r.agent != "none"]
        tokens = {r.node: secrets.token_hex(16) for r in targets}
        started: dict[str, float] = {}
        for i, r in enumerate(targets):
            name = f"kubelogs-canary-{run_id}-{i}"
            kube.apply(pods.canary(settings, name, r.node, tokens[r.node]))
            created.append(name)
        for name, r in zip(created, targets):
            started[r.node] = wait_running(kube, ns, name, settings.verify.timeout, clock, sleep, r)
        running = {n: t for n, t in tokens.items() if n in started}
        verifier = f"kubelogs-verifier-{run_id}"
        index = pods.index_for(datetime.datetime.now(datetime.timezone.utc).date())
        kube.apply(pods.verifier(settings, verifier, running, index))
        created.append(verifier)
        _, output = es_tasks.wait_finished(kube, ns, verifier, settings.verify.timeout + 90, clock, sleep)
        read_output(output, report, started, index)
    except ClusterError as e:
        report.problems.append(str(e))
    finally:
        for name in created:
            try:
                kube.delete("Pod", name, ns)
            except ClusterError as e:
                report.problems.append(f"could not remove pod {name}: {e}")
    for line in report.lines():
        log(line)
    return report


def agent_coverage(kube: Kube, settings: Settings) -> list[NodeResult]:
    """Every node the cluster stage labelled, the agent it should run, and whether that agent is ready."""
    results = []
    for node in kube.list("Node", label_selector=NODE_RUNTIME_LABEL):
        name, runtime = node["metadata"]["name"], node["metadata"]["labels"][NODE_RUNTIME_LABEL]
        agent = compat.agent_for_node(settings.agents.collector, runtime, settings.elasticsearch.major)
        if agent is None:
            results.append(NodeResult(name, "none", False, note=runtime))
            continue
        agent_pods = kube.list("Pod", settings.namespace, f"app.kubernetes.io/name={agent.name}")
        ready = any(p.get("spec", {}).get("nodeName") == name and not rollout.pod_problem(p) for p in agent_pods)
        results.append(NodeResult(name, agent.name, ready))
    return sorted(results, key=lambda r: r.node)


def wait_running(kube: Kube, ns: str, name: str, timeout: float, clock: Callable[[], float],
                 sleep: Callable[[float], None], result: NodeResult) -> float:
    """Epoch seconds the canary started; raises ClusterError if it does not run in time."""
    deadline = clock() + timeout
    while True:
        pod = kube.get("Pod", name, ns) or {}
        status = pod.get("status") or {}
        if status.get("phase") in ("Running", "Succeeded"):
            started = status.get("startTime")
            return _epoch(started) if started else clock()
        if clock() >= deadline:
            result.note = rollout.pod_problem(pod) or "did not start"
            raise ClusterError(f"canary {name} on {result.node} did not start within {timeout:g} s: {result.note}")
        sleep(pods.POLL_SECONDS)


def read_output(output: str, report: Report, started: dict[str, float], index: str) -> None:
    """Fill the report from the verifier's lines (see files/verify-canaries.sh)."""
    by_node = {r.node: r for r in report.nodes}
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word == "unreachable":
            report.problems.append(f"Elasticsearch did not answer the verifier: {rest[:300]}")
        elif word == "health":
            read_health(rest, report)
        elif word == "policy":
            read_policy(rest, report)
        elif word == "found":
            node, epoch = rest.split()
            by_node[node].found = True
            by_node[node].seconds = max(0.0, float(epoch) - started[node])
        elif word == "missing":
            by_node[rest].note = f"not in {index}"
            report.problems.append(f"node {rest}: canary line not found in index {index}")


def read_health(text: str, report: Report) -> None:
    try:
        health = json.loads(text)
    except ValueError:
        report.problems.append(f"Elasticsearch health is not JSON: {text[:200]}")
        return
    report.health = str(health.get("status", "unknown"))
    report.es_nodes = health.get("number_of_nodes")
    if report.health == "yellow" and report.replicas == 1:
        report.notes.append(SINGLE_REPLICA_NOTE)
    elif report.health != "green":
        report.problems.append(f"Elasticsearch health is {report.health}"
                               + (" (timed out waiting for green)" if health.get("timed_out") else ""))
    if report.es_nodes != report.replicas:
        report.problems.append(f"Elasticsearch has {report.es_nodes} nodes, expected {report.replicas} (replicas)")


def read_policy(text: str, report: Report) -> None:
    """The retention the ILM policy sets, as the verifier read it from Elasticsearch."""
    try:
        found = json.loads(text).get(POLICY_NAME)
    except (ValueError, AttributeError):
        found = None
    if not isinstance(found, dict):
        report.retention = "no policy"
        report.problems.append(f"ILM policy {POLICY_NAME} not found in Elasticsearch ({text[:200]}); the cluster "
                               "stage sends it after the rollout: re-run the deploy")
        return
    delete = ((found.get("policy") or {}).get("phases") or {}).get("delete")
    report.retention = (f"indices deleted after {delete.get('min_age', '?')} (ILM policy {POLICY_NAME})" if delete
                        else f"indices kept forever (ILM policy {POLICY_NAME})")


def retention_without_ilm(kube: Kube, settings: Settings, report: Report) -> None:
    """Versions without ILM: the CronJob that deletes old indices, if the settings want one."""
    days = settings.elasticsearch.retention_days
    if not days:
        report.retention = "indices kept forever"
    elif kube.get("CronJob", RETENTION_JOB, settings.namespace):
        report.retention = f"indices older than {days} days deleted daily (CronJob {RETENTION_JOB})"
    else:
        report.retention = "none"
        report.problems.append(f"CronJob {RETENTION_JOB} is missing; re-run the deploy to create it")


def _epoch(timestamp: str) -> float:
    return datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
