"""Run the verification: canaries on the nodes of this run's rotation (verify/rotation.py), the in-cluster
verifier (the canary lines, and every Fluent Bit's counters), cleanup, report.

The control machine's requests do not grow with the nodes beyond the canaries' (at most
``verify.canary_nodes``): one LIST of the nodes, one of each agent's pods, the verifier's log."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import time
from collections.abc import Callable, Mapping

from kubelogs import compatibility as compat
from kubelogs.cluster import certificates, es_calls, rollout
from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.manifests import fluent_bit
from kubelogs.manifests.common import HTTP_TRUST_SECRET, NODE_RUNTIME_LABEL, TRUST_KEY
from kubelogs.manifests.index_settings import POLICY_NAME, RETENTION_JOB
from kubelogs.polling import Poll
from kubelogs.settings import Settings
from kubelogs.verify import agent_metrics, dashboard, pods, rotation
from kubelogs.verify.report import NodeResult, Report

SINGLE_REPLICA_NOTE = ("yellow is expected: with one Elasticsearch node, replica shards cannot be assigned, "
                       "so green is impossible")


def run(kube: Kube, settings: Settings, log: Callable[[str], None],
        dead_letters: Mapping[str, dict | None] | None = None, poll: Poll | None = None) -> Report:
    """Verify and always remove the pods it created, also on failure. ``dead_letters``: per Kubernetes node
    whose state this run read, its agent's dead-letter files (``NodeState``); nodes not in it are not judged."""
    ns, run_id = settings.namespace, secrets.token_hex(4)
    poll = poll or Poll(settings.kubernetes.poll_interval)
    report = Report(replicas=settings.elasticsearch.replicas, masters=settings.elasticsearch.masters)
    created: list[str] = []
    try:
        if not compat.has_ilm(settings.elasticsearch.version):
            retention_without_ilm(kube, settings, report)
        if settings.elasticsearch.security_enabled:
            certificate_expiry(kube, settings, report)
        report.nodes = agent_coverage(kube, settings)
        for r in report.nodes:
            if r.agent == fluent_bit.NAME and dead_letters is not None and r.node in dead_letters:
                r.dead_letters, r.dead_letters_read = dead_letters[r.node], True
            if r.agent == "none":
                report.problems.append(f"node {r.node}: no log agent can run there (runtime {r.note})")
            elif not r.agent_ready:
                report.problems.append(f"node {r.node}: should run {r.agent}, but no ready {r.agent} pod is there")
        candidates = [r.node for r in report.nodes if r.agent != "none"]
        rotating = len(candidates) > settings.verify.canary_nodes
        chosen = rotation.sample(candidates, settings.verify.canary_nodes,
                                 rotation.read_cursor(kube, ns) if rotating else "")
        picked = set(chosen)
        for r in report.nodes:
            r.canaried = r.node in picked
        targets = [r for r in report.nodes if r.canaried]
        tokens = {r.node: secrets.token_hex(16) for r in targets}
        started: dict[str, float] = {}
        for i, r in enumerate(targets):
            name = f"kubelogs-canary-{run_id}-{i}"
            kube.apply(pods.canary(settings, name, r.node, tokens[r.node]))
            created.append(name)
        for name, r in zip(created, targets):
            started[r.node] = wait_running(kube, ns, name, settings.verify.timeout, poll, r)
        running = {n: t for n, t in tokens.items() if n in started}
        verifier = f"kubelogs-verifier-{run_id}"
        index = pods.index_for(datetime.datetime.now(datetime.timezone.utc).date())
        shippers = [r.node for r in report.nodes if r.agent == fluent_bit.NAME]
        agent_ips = {r.node: r.agent_ip for r in report.nodes if r.agent == fluent_bit.NAME and r.agent_ip}
        kube.apply(pods.verifier(settings, verifier, running, index, shippers, agent_ips))
        created.append(verifier)
        # The canaries' wait, the calls after it, and every agent's counters even where none answers.
        allowed = settings.verify.timeout + 90 + agent_metrics.reading_seconds(len(agent_ips))
        _, output = es_calls.wait_finished(kube, ns, verifier, allowed, poll)
        read_output(output, report, started, index)
        delivery(settings, report)
        if rotating:  # the canaries were looked for: the next run starts after this one's last node
            report.canary_sample = f"canaries on {len(chosen)} of {len(candidates)} nodes this run (verify.canary_nodes)"
            note = rotation.save_cursor(kube, ns, chosen[-1])
            if note:
                report.notes.append(note)
        if settings.kibana.enabled:
            name = f"kubelogs-kibana-{run_id}"
            kube.apply(pods.kibana_views(settings, name, report.log_names))
            created.append(name)
            _, output = es_calls.wait_finished(kube, ns, name, settings.verify.timeout + 90, poll)
            read_kibana(output, report)
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


def certificate_expiry(kube: Kube, settings: Settings, report: Report,
                       now: datetime.datetime | None = None) -> None:
    """The earliest expiry of the HTTP certificate and its CA, from the public Secret (no key is read)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    secret = kube.get("Secret", HTTP_TRUST_SECRET, settings.namespace) or {}
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    if not data.get("tls.crt") or not data.get(TRUST_KEY):
        report.problems.append(f"Secret {HTTP_TRUST_SECRET} has no certificate: run the deploy to make it")
        return
    which, when = min((("the HTTP certificate", certificates.not_after(data["tls.crt"])),
                       ("its CA", certificates.not_after(data[TRUST_KEY]))), key=lambda pair: pair[1])
    days, renew = (when - now).days, settings.elasticsearch.certificate_renew_days
    report.tls = f"HTTPS; earliest expiry {when:%Y-%m-%d} ({which}, {days} days)"
    if when <= now:
        report.problems.append(f"{which} expired on {when:%Y-%m-%d}: clients refuse Elasticsearch; run the deploy, "
                               "which renews it")
    elif days < renew:
        report.tls += f"; within {renew} days: the next run renews it"


def delivery(settings: Settings, report: Report) -> None:
    """What each Fluent Bit's counters (as the verifier read them), its dead letters and the unrouted lines say."""
    keeps = compat.fluent_bit_has_dead_letters(settings.agents.fluent_bit_image)
    for r in report.nodes:
        if r.agent != fluent_bit.NAME:
            continue
        if r.agent_pod and r.counters is None:  # a node whose agent is not ready has none; its dead letters count
            report.notes.append(f"node {r.node}: Fluent Bit's counters could not be read (the verifier had no answer "
                                f"from {r.agent_pod} at {r.agent_ip or '?'}:{agent_metrics.PORT}/{agent_metrics.METRICS_PATH})")
        files = (r.dead_letters or {}).get("files", 0)
        given_up = r.counters.given_up if r.counters else 0
        where = f"its log says why: kubectl -n {settings.namespace} logs {r.agent_pod or f'<the {fluent_bit.NAME} pod on {r.node}>'}"
        if files:
            report.problems.append(
                f"node {r.node}: {files} batch file(s) ({r.dead_letters['kib']} KiB) in Fluent Bit's dead-letter queue "
                f"{fluent_bit.DEAD_LETTERS_DIR}: lines Elasticsearch refused {settings.agents.retry_limit + 1} times, "
                f"kept on the node; {where} (docs/agents.md: no line dropped without a trace)")
        elif given_up:
            kept = (f"kept in its dead-letter queue {fluent_bit.DEAD_LETTERS_DIR}" if keeps
                    else "dropped: this Fluent Bit image has no dead-letter queue")
            report.problems.append(f"node {r.node}: Fluent Bit gave up on {given_up} batch(es) ({r.counters.dropped} "
                                   f"lines) since it started, {kept}; {where}")
        if r.unrouted:
            report.notes.append(
                f"node {r.node}: {r.unrouted} line(s) without pod metadata in {fluent_bit.UNROUTED_PREFIX}-* (Fluent Bit "
                f"could not read their pod from the Kubernetes API; {fluent_bit.UNROUTED_FIELD}.file names their log)")


def agent_coverage(kube: Kube, settings: Settings) -> list[NodeResult]:
    """Every node the cluster stage labelled, the agent it should run, and whether that agent is ready: one
    LIST of the nodes, and one of each agent's pods (not a request per node)."""
    results, ready_pods = [], {}
    for node in kube.list("Node", label_selector=NODE_RUNTIME_LABEL):
        name, runtime = node["metadata"]["name"], node["metadata"]["labels"][NODE_RUNTIME_LABEL]
        agent = compat.agent_for_node(settings.agents.collector, runtime, settings.elasticsearch.major)
        if agent is None:
            results.append(NodeResult(name, "none", False, note=runtime))
            continue
        if agent.name not in ready_pods:  # {node: (pod, IP)} of its ready pods
            ready_pods[agent.name] = {}
            for p in kube.list("Pod", settings.namespace, f"app.kubernetes.io/name={agent.name}"):
                on = (p.get("spec") or {}).get("nodeName")
                if on and on not in ready_pods[agent.name] and not rollout.pod_problem(p):
                    ready_pods[agent.name][on] = (p["metadata"]["name"], (p.get("status") or {}).get("podIP", ""))
        pod, ip = ready_pods[agent.name].get(name, ("", ""))
        results.append(NodeResult(name, agent.name, bool(pod), pod, agent_ip=ip))
    return sorted(results, key=lambda r: r.node)


def wait_running(kube: Kube, ns: str, name: str, timeout: float, poll: Poll, result: NodeResult) -> float:
    """Epoch seconds the canary started; raises ClusterError if it does not run in time."""
    last: dict = {}

    def running() -> float | None:
        last["pod"] = kube.get("Pod", name, ns) or {}
        status = last["pod"].get("status") or {}
        if status.get("phase") not in ("Running", "Succeeded"):
            return None
        started = status.get("startTime")
        return _epoch(started) if started else time.time()

    def timed_out() -> ClusterError:
        result.note = rollout.pod_problem(last["pod"]) or "did not start"
        return ClusterError(f"canary {name} on {result.node} did not start within {timeout:g} s: {result.note}")

    return poll.until(running, timeout, timed_out)


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
        elif word == "logs":
            report.log_names = rest.split()
        elif word == "unrouted":
            node, count = rest.split()
            if node in by_node and count.isdigit():
                by_node[node].unrouted = int(count)
        elif word == "agent":
            node, _, values = rest.partition(" ")
            if node in by_node:
                by_node[node].counters = agent_metrics.parse_line(values)


def read_kibana(output: str, report: Report) -> None:
    """Kibana's status, index patterns and dashboard, from files/kibana-views.sh's lines."""
    status, views, failed, board = "", [], [], ""
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word == "status":
            status = rest
        elif word == "unavailable":
            report.problems.append(f"Kibana is not available: {rest[:300]}")
        elif word == "view":
            title, _, outcome = rest.partition(" ")
            views.append((title, outcome.split(" ", 1)[0]))
            if outcome.startswith("failed"):
                failed.append(f"{title}: {outcome[len('failed '):][:300]}")
        elif word == "dashboard":
            board = rest.split(" ", 1)[0]
            if board == "failed":
                report.problems.append(f"Kibana dashboard {dashboard.TITLE!r}: {rest[len('failed '):][:300]}")
        elif word == "failed":
            report.problems.append(f"Kibana: {rest[:300]}")
    report.problems += [f"Kibana index pattern {f}" for f in failed]
    if status:
        created = sum(outcome == "created" for _, outcome in views)
        if any(outcome == "unsupported" for _, outcome in views):
            patterns = "index patterns not made (this version has no API for them: make them in Kibana)"
        else:
            patterns = f"index patterns {', '.join(t for t, _ in views) or 'none'}" + (f" ({created} new)" if created else "")
        boards = {"created": f"dashboard {dashboard.TITLE!r} (new)", "exists": f"dashboard {dashboard.TITLE!r}",
                  "unsupported": "no dashboard (this version has no import API)"}
        report.kibana = f"{status}; {patterns}" + (f"; {boards[board]}" if board in boards else "")
    elif not any(p.startswith("Kibana") for p in report.problems):
        report.problems.append(f"Kibana: no answer from the check ({output.strip()[-300:]})")


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
    if report.es_nodes != report.expected_nodes:
        counted = f"{report.replicas} replicas + {report.masters} masters" if report.masters else "replicas"
        report.problems.append(f"Elasticsearch has {report.es_nodes} nodes, expected {report.expected_nodes} ({counted})")


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
