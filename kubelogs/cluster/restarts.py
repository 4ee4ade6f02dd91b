"""Health-aware restarts of Elasticsearch pods, one at a time, as Elastic's rolling restart describes it.

The StatefulSets' update strategy is OnDelete, so a template change (configuration, image, version)
restarts nothing by itself. This module restarts every pod still at an older revision, the data nodes' before
the dedicated masters' (Elastic's rolling upgrade order), highest ordinal first within each set: only once Elasticsearch is healthy, with replica allocation limited to primaries and the indices
flushed; then it waits for the new pod and re-enables allocation. A failure stops at a pod boundary; the
next run finds the pods still at the older revision and resumes.

Turning security or HTTPS on or off is the exception: nodes with and without security cannot form one
cluster, and clients cannot speak HTTP and HTTPS to one Service, so all outdated pods restart together
(Elastic's full cluster restart), after the same preparation. The agents buffer meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelogs.cluster import es_calls, rollout
from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.cluster.es_calls import CallBatch
from kubelogs.cluster.safety import ALLOCATION_BACK_ON, HEALTH_BEFORE_RESTART
from kubelogs.manifests.common import selector
from kubelogs.manifests.elasticsearch import NAME, node_count, protocol, statefulset_names
from kubelogs.polling import Poll
from kubelogs.settings import Settings

REVISION_LABEL = "controller-revision-hash"  # set on each pod by the StatefulSet controller


def _ordinal(pod: dict) -> int:
    suffix = pod["metadata"]["name"].rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


def outdated(kube: Kube, namespace: str, sts: dict | None = None, name: str = NAME) -> list[dict]:
    """Elasticsearch pods not at StatefulSet ``name``'s update revision, highest ordinal first (``sts``: the live
    StatefulSet, if read already)."""
    sts = sts or kube.get("StatefulSet", name, namespace)
    revision = ((sts or {}).get("status") or {}).get("updateRevision")
    if not sts or not revision:
        return []
    match = sts["spec"]["selector"]["matchLabels"]
    pods = kube.list("Pod", namespace, label_selector(match))
    old = [p for p in pods if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision
           and not p["metadata"].get("deletionTimestamp")]
    return sorted(old, key=_ordinal, reverse=True)


def needs_full_restart(kube: Kube, namespace: str, pods: list[dict]) -> bool:
    """Whether some outdated pod runs with another security or HTTPS setting than the template."""
    sts = kube.get("StatefulSet", NAME, namespace) or {}
    wanted = protocol(((sts.get("spec") or {}).get("template") or {}).get("spec") or {})
    return any(protocol(p.get("spec") or {}) != wanted for p in pods)


def all_outdated(kube: Kube, settings: Settings) -> list[tuple[str, dict]]:
    """(StatefulSet, pod) of every outdated Elasticsearch pod, in the order they restart."""
    return [(name, pod) for name in statefulset_names(settings)
            for pod in outdated(kube, settings.namespace, name=name)]


def pending_message(pods: list[dict], name: str = NAME) -> str:
    names = ", ".join(p["metadata"]["name"] for p in pods)
    return f"StatefulSet {name}: {len(pods)} pod(s) at an older revision ({names}); restarted one at a time"


def _joined(settings: Settings, retiring: int = 0) -> dict[str, str]:
    """Every node joined, dedicated masters included (ready is not enough: readiness asks the node alone), and
    those being retired (cluster/layout.py) while they still run."""
    return {"NODES_WAIT": f">={node_count(settings) + retiring}"}


def reenable_batch(settings: Settings, retiring: int = 0) -> CallBatch:
    health = es_calls.health_wanted(settings)
    return CallBatch(f"re-enable shard allocation and wait for {health}", ("allocation_all", "health"),
                     _joined(settings, retiring), check=ALLOCATION_BACK_ON.name)


def prepare_batch(settings: Settings, what: str, retiring: int = 0) -> CallBatch:
    # Allocation back to all first: a run stopped after limiting it resumes from a healthy cluster.
    return CallBatch(f"prepare {what} once the cluster is {es_calls.health_wanted(settings)}",
                     ("allocation_all", "health", "allocation_primaries", "flush"), _joined(settings, retiring),
                     check=HEALTH_BEFORE_RESTART.name)


def restart_outdated(kube: Kube, settings: Settings, log: Callable[[str], None],
                     before_limiting: Callable[[CallBatch], None] = lambda batch: None, poll: Poll | None = None,
                     retiring: int = 0, also: frozenset[str] = frozenset()) -> int:
    """Restart every outdated Elasticsearch pod, health-aware; the number restarted. ``before_limiting`` gets
    the batch that undoes the allocation limit, before it is set (to be recorded for a re-run); ``retiring``: the
    dedicated masters being retired, still running, counted among the nodes every wait expects; ``also``: data
    nodes to restart even at the update revision (started with a file that changed since: cluster/layout.py)."""
    ns, timeout = settings.namespace, settings.kubernetes.rollout_timeout
    poll = poll or Poll(settings.kubernetes.poll_interval)
    pods = all_outdated(kube, settings)
    if also:
        known = {p["metadata"]["name"] for _, p in pods}
        extra = [p for p in kube.list("Pod", ns, label_selector(selector(NAME))) if p["metadata"]["name"] in also
                 and p["metadata"]["name"] not in known and not p["metadata"].get("deletionTimestamp")]
        data = sorted([p for name, p in pods if name == NAME] + extra, key=_ordinal, reverse=True)
        pods = [(NAME, p) for p in data] + [(name, p) for name, p in pods if name != NAME]
    if not pods:
        return 0
    # Recorded for a later run in the settled layout's terms: retired masters are gone by then.
    before_limiting(reenable_batch(settings))
    # One pod at a time; all together when security changes (a full cluster restart).
    full = needs_full_restart(kube, ns, [p for _, p in pods])
    for batch in [pods] if full else [[p] for p in pods]:
        what = "a full cluster restart (security or HTTPS changes)" if full else f"to restart {batch[0][1]['metadata']['name']}"
        es_calls.run(kube, settings, prepare_batch(settings, what, retiring), log, poll)
        for _, pod in batch:
            kube.delete("Pod", pod["metadata"]["name"], ns)
        for sts, pod in batch:
            wait_replaced(kube, ns, pod["metadata"]["name"], pod["metadata"]["uid"], timeout, poll, sts)
            log(f"restarted pod {pod['metadata']['name']}")
    es_calls.run(kube, settings, reenable_batch(settings, retiring), log, poll)
    return len(pods)


def wait_replaced(kube: Kube, ns: str, name: str, old_uid: str, timeout: float, poll: Poll, sts_name: str = NAME) -> None:
    """Wait until pod ``name`` is a new pod at StatefulSet ``sts_name``'s update revision, and ready."""
    state = ["not recreated yet"]

    def replaced() -> bool | None:
        pod = kube.get("Pod", name, ns)
        sts = kube.get("StatefulSet", sts_name, ns) or {}
        revision = (sts.get("status") or {}).get("updateRevision")
        if pod and pod["metadata"]["uid"] != old_uid and not pod["metadata"].get("deletionTimestamp"):
            problem = rollout.pod_problem(pod)
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                state[0] = "recreated at an older revision"
            elif not problem:
                return True
            else:
                state[0] = problem
        return None

    def timed_out() -> ClusterError:
        return ClusterError(
            f"pod {name} was restarted but is not ready after {timeout:g} s "
            f"(kubelogs.kubernetes.rollout_timeout): {state[0]}.\n{rollout.diagnose(kube, 'StatefulSet', ns, sts_name, state[0])}\n"
            "Shard allocation is still limited to primaries; the next run re-enables it and resumes once the "
            "cause is fixed.")

    poll.until(replaced, timeout, timed_out)
