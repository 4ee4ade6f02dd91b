"""The short-lived pods of the verify stage: a canary per node canaried this run, and the verifier that
searches for their lines and reads every Fluent Bit's counters."""

from __future__ import annotations

import datetime

from kubelogs import compatibility as compat
from kubelogs.manifests import client_pods, kibana
from kubelogs.manifests.common import (
    CREDENTIALS_SECRET,
    LOG_NAME_ANNOTATION,
    LOG_PILOT_ENV_PREFIX,
    READER_SECRET,
    VERIFY_LABEL,
    Manifest,
)
from kubelogs.manifests.fluent_bit import UNROUTED_FIELD, UNROUTED_PREFIX
from kubelogs.manifests.index_settings import INDEX_PATTERN, POLICY_NAME
from kubelogs.settings import Settings
from kubelogs.verify import agent_metrics, dashboard

CANARY_LOG_NAME = "kubelogs-canary"  # declared with the application contract, like any application


def index_for(day: datetime.date) -> str:
    return f"{CANARY_LOG_NAME}-{day:%Y.%m.%d}"


def canary(settings: Settings, name: str, node: str, token: str) -> Manifest:
    """A pod pinned to ``node`` that prints ``token`` once and stays up until the verify stage ends
    (log-pilot misses lines of containers that exit at once)."""
    pod = client_pods.pod(settings, name, {VERIFY_LABEL: "canary"}, client_pods.container(
        settings, "canary",
        command=["sh", "-c", f"echo 'kubelogs canary {token}'; sleep {settings.verify.timeout + 120}"],
        env=[{"name": f"{LOG_PILOT_ENV_PREFIX}{CANARY_LOG_NAME}", "value": "stdout"}],
    ), nodeName=node, tolerations=[{"operator": "Exists"}])
    pod["metadata"]["annotations"][LOG_NAME_ANNOTATION] = CANARY_LOG_NAME
    return pod


def verifier(settings: Settings, name: str, tokens: dict[str, str], index: str, shippers: list[str] = (),
             agents: dict[str, str] | None = None) -> Manifest:
    """A pod that runs files/verify-canaries.sh inside the cluster: the credentials never leave it.
    ``shippers``: the nodes whose unrouted lines it counts (Fluent Bit's); ``agents``: {node: pod IP} of the
    ready Fluent Bit pods whose counters it reads."""
    es = settings.elasticsearch
    env = client_pods.es_env(settings) + [
        {"name": "HEALTH_WAIT", "value": "yellow" if settings.elasticsearch.replicas == 1 else "green"},
        {"name": "INDEX", "value": index},
        {"name": "TOKENS", "value": " ".join(f"{node}={token}" for node, token in tokens.items())},
        {"name": "TIMEOUT", "value": str(settings.verify.timeout)},
        {"name": "INTERVAL", "value": f"{settings.kubernetes.poll_interval:g}"},
        # The retention policy it reports (versions without ILM have a CronJob instead; see the stage).
        {"name": "POLICY", "value": POLICY_NAME if compat.has_ilm(es.version) else ""},
        {"name": "UNROUTED", "value": f"{UNROUTED_PREFIX}-*"},
        {"name": "UNROUTED_NODE_FIELD", "value": f"{UNROUTED_FIELD}.node"},
        {"name": "SHIPPERS", "value": " ".join(shippers)},
        {"name": "LOGS", "value": INDEX_PATTERN},
        {"name": "AGENTS", "value": " ".join(f"{node}={ip}" for node, ip in (agents or {}).items())},
        {"name": "AGENT_PORT", "value": str(agent_metrics.PORT)},
        {"name": "AGENT_PATH", "value": agent_metrics.METRICS_PATH},
        {"name": "AGENT_COUNTERS", "value": " ".join(agent_metrics.COUNTERS.values())},
        {"name": "AGENT_BATCH", "value": str(agent_metrics.BATCH)},
        {"name": "AGENT_PARALLEL", "value": str(agent_metrics.PARALLEL)},
        {"name": "AGENT_SECONDS", "value": str(agent_metrics.SECONDS)},
    ]
    return client_pods.pod(settings, name, {VERIFY_LABEL: "verifier"}, client_pods.container(
        settings, "verifier", command=client_pods.script_command("verify-canaries.sh"), env=env),
        credentials=READER_SECRET)  # read-only


def kibana_api(settings: Settings) -> str:
    """How index patterns are made in this Kibana version (files/kibana-views.sh's API)."""
    version = compat.parse_version(settings.elasticsearch.version)
    if version >= compat.KIBANA_DATA_VIEWS_API_FROM:
        return "data_views"
    return "saved_objects" if version >= compat.KIBANA_SAVED_OBJECTS_API_FROM else "none"


def kibana_views(settings: Settings, name: str, log_names: list[str]) -> Manifest:
    """A pod that checks Kibana's status and makes the missing index patterns, as `elastic` (writing Kibana's
    saved objects is an admin's job; the verifier itself only reads)."""
    env = client_pods.es_env(settings) + [
        {"name": "KIBANA_URL", "value": f"http://{kibana.NAME}.{settings.namespace}.svc:{kibana.PORT}"},
        {"name": "API", "value": kibana_api(settings)},
        {"name": "NAMES", "value": " ".join(log_names)},
        # The dashboard's saved objects, where Kibana can import them (kubelogs/verify/dashboard.py).
        {"name": "DASHBOARD", "value": dashboard.ndjson()
         if compat.parse_version(settings.elasticsearch.version) >= compat.KIBANA_IMPORT_API_FROM else ""},
        {"name": "TIMEOUT", "value": str(settings.verify.timeout)},
        {"name": "INTERVAL", "value": f"{settings.kubernetes.poll_interval:g}"},
    ]
    return client_pods.pod(settings, name, {VERIFY_LABEL: "kibana"}, client_pods.container(
        settings, "kibana-views", command=client_pods.script_command("kibana-views.sh"), env=env),
        credentials=CREDENTIALS_SECRET)
