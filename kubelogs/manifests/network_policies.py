"""Who may talk to Elasticsearch and Kibana inside the cluster (enforced by the cluster's network plugin, if
it enforces NetworkPolicy; kind's default one does not).

- 9300 (transport): only between Elasticsearch pods (the data nodes' and the dedicated masters', which take
  nothing else: no client calls a master). Both sets' in every layout, so that a layout change keeps them talking.
- 9200 (HTTP): only from this deploy's log agents, Kibana, the cluster stage's and the retention job's
  Elasticsearch calls and the verify stage's pods, and from the namespaces ``elasticsearch.client_namespaces``.
- 5601 (Kibana): only from the verify stage's pods and the namespaces ``kibana.client_namespaces``;
  ``kubectl port-forward`` enters the pod's own network namespace, so no policy stands in its way.
- Fluent Bit: its metrics port only, from the verify stage's verifier pod (it gathers every agent's counters
  in one in-cluster pass; the kubelet's probes come from the node, which a policy never blocks) and, with
  ``metrics.enabled``, from the namespaces ``metrics.scraper_namespaces``.
- With ``metrics.enabled``: the Elasticsearch exporter takes 9114 from the namespaces
  ``metrics.scraper_namespaces`` only, and is one of the clients 9200 admits. log-pilot, the short-lived pods of
  the cluster and verify stages and the canaries: no connection in.
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests import elasticsearch, fluent_bit, kibana, log_pilot, metrics
from kubelogs.manifests.common import TASK_LABEL, VERIFY_LABEL, Manifest, obj, selector
from kubelogs.settings import Settings

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server
ES_CLIENTS = (fluent_bit.NAME, log_pilot.NAME, kibana.NAME)  # workloads (app.kubernetes.io/name) that call 9200
VERIFY_CLIENTS = ("verifier", "kibana")  # VERIFY_LABEL values of the verify pods that call Elasticsearch or Kibana
VERIFY_POLICY = "kubelogs-verify"  # the policy of the verify pods (it also holds the canary rotation's cursor)


def transport_policy(component: str) -> str:
    """The name of the policy that admits 9300 on an Elasticsearch StatefulSet's pods."""
    return f"{component}-transport"


def _namespaces(names: tuple[str, ...]) -> list[dict]:
    if not names:
        return []
    return [{"namespaceSelector": {"matchExpressions": [
        {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": list(names)}]}}]


def _ingress(name: str, namespace: str, pods: dict, port: int, sources: list[dict]) -> Manifest:
    """The selected pods take connections on ``port`` from ``sources`` only. Ingress only: what they call
    (DNS, each other) stays open."""
    return obj("networking.k8s.io/v1", "NetworkPolicy", name, pods["app.kubernetes.io/name"], namespace, spec={
        "podSelector": {"matchLabels": pods}, "policyTypes": ["Ingress"],
        "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": port}]}]})


def _no_ingress(name: str, namespace: str, component: str, pods: dict) -> Manifest:
    """The selected pods take no connection (they only call out)."""
    return obj("networking.k8s.io/v1", "NetworkPolicy", name, component, namespace, spec={
        "podSelector": pods, "policyTypes": ["Ingress"], "ingress": []})


def render(settings: Settings) -> list[Manifest]:
    ns, es_pods = settings.namespace, selector(elasticsearch.NAME)
    clients = [*ES_CLIENTS, *([metrics.NAME] if settings.metrics.enabled else [])]
    es_clients = [
        {"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": clients}]}},
        {"podSelector": {"matchExpressions": [{"key": TASK_LABEL, "operator": "Exists"}]}},
        {"podSelector": {"matchExpressions": [{"key": VERIFY_LABEL, "operator": "In", "values": list(VERIFY_CLIENTS)}]}},
        *_namespaces(settings.elasticsearch.client_namespaces),
    ]
    sets = elasticsearch.statefulset_names(settings)
    # Both sets' pods whatever the layout: while it changes (cluster/layout.py), masters and data nodes of the
    # other layout still talk to each other.
    nodes = [{"podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": [elasticsearch.NAME, elasticsearch.MASTER_NAME]}]}}]
    policies = [
        *(_ingress(transport_policy(name), ns, selector(name), elasticsearch.TRANSPORT_PORT, nodes) for name in sets),
        _ingress(f"{elasticsearch.NAME}-http", ns, es_pods, elasticsearch.HTTP_PORT, es_clients),
    ]
    agents = compat.runtimes_for
    if agents(fluent_bit.NAME, settings.agents.collector, settings.elasticsearch.major):
        scrapers = _namespaces(settings.metrics.scraper_namespaces) if settings.metrics.enabled else []
        policies.append(_ingress(fluent_bit.NAME, ns, selector(fluent_bit.NAME), fluent_bit.HEALTH_PORT,
                                 [{"podSelector": {"matchLabels": {VERIFY_LABEL: "verifier"}}}, *scrapers]))
    if agents(log_pilot.NAME, settings.agents.collector, settings.elasticsearch.major):
        policies.append(_no_ingress(log_pilot.NAME, ns, log_pilot.NAME, {"matchLabels": selector(log_pilot.NAME)}))
    policies += [
        _no_ingress("kubelogs-calls", ns, elasticsearch.NAME,
                    {"matchExpressions": [{"key": TASK_LABEL, "operator": "Exists"}]}),
        _no_ingress(VERIFY_POLICY, ns, elasticsearch.NAME,
                    {"matchExpressions": [{"key": VERIFY_LABEL, "operator": "Exists"}]}),
    ]
    if settings.kibana.enabled:
        policies.append(_ingress(kibana.NAME, ns, selector(kibana.NAME), kibana.PORT, [
            {"podSelector": {"matchExpressions": [{"key": VERIFY_LABEL, "operator": "In", "values": list(VERIFY_CLIENTS)}]}},
            *_namespaces(settings.kibana.client_namespaces)]))
    if settings.metrics.enabled:
        policies.append(_ingress(metrics.NAME, ns, selector(metrics.NAME), metrics.PORT,
                                 _namespaces(settings.metrics.scraper_namespaces)))
    return policies
