"""Helpers for tests of the cluster and verify stages on the cluster tier (the ``api`` fixture)."""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.cluster import stage
from kubelogs.cluster.api import Kube, load_client
from kubelogs.settings import validate_settings
from tests.support.tier import ClusterView

# How often the stages look at the cluster in tests (users' runs: every 2 s); the test kubelet is as quick.
TEST_POLL = 0.1

# (node name suffix, runtime, holds data): two containerd nodes and a Docker one, as on the node containers.
NODE_SPECS = [("n1", "containerd", False), ("n2", "containerd", True), ("n3", "docker", True)]


# The log-pilot recipe (docs/agents.md): the newest Elasticsearch log-pilot writes to, so the Docker node runs it.
LOG_PILOT_RECIPE = {"version": compat.LOG_PILOT_ES_VERSION}


def settings_for(api: ClusterView, **sections):
    """Validated settings for the test's namespace: two Elasticsearch replicas, otherwise the defaults;
    ``elasticsearch`` keys are merged into that."""
    es = {"replicas": 2, **sections.pop("elasticsearch", {})}
    raw = {"namespace": api.namespace, "elasticsearch": es, **sections}
    raw["kubernetes"] = {"kubeconfig": str(api.kubeconfig), "rollout_timeout": 30, "poll_interval": TEST_POLL,
                         **raw.get("kubernetes", {})}
    return validate_settings(raw)


def log_pilot_settings_for(api: ClusterView, **sections):
    """``settings_for``, starting from the log-pilot recipe (an explicit ``version`` wins)."""
    return settings_for(api, **{**sections, "elasticsearch": {**LOG_PILOT_RECIPE, **sections.get("elasticsearch", {})}})


def kube(settings) -> Kube:
    return Kube(load_client(settings), retry_delays=(0.01, 0.01))


def deploy(api: ClusterView, settings, nodes=None, skip_hosts=frozenset()):
    """Plan and execute, as the pyinfra run does; Elasticsearch is the fake of the settings' major unless the
    test served one."""
    if settings.namespace not in api.elasticsearch:
        api.serve_elasticsearch(settings.elasticsearch.major, settings.namespace)
    client = kube(settings)
    plan = stage.plan(client, settings, api.nodes if nodes is None else nodes)
    log: list[str] = []
    done = stage.execute(client, plan, settings, log.append, skip_hosts)
    return plan, done, log
