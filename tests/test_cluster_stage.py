"""The cluster stage through the real kubernetes client, over HTTP, against the stateful fake API server."""

from __future__ import annotations

import base64

import pytest

from kubelogs.cluster import rollout, stage
from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.cluster.plan import NodeTarget
from kubelogs.manifests.common import APPLYSET_PART_OF_LABEL, CREDENTIALS_SECRET, TRANSPORT_TLS_SECRET, applyset_id
from kubelogs.settings import validate_settings
from tests.api_helpers import NODES, deploy, settings_for
from tests.fake_kube import FakeKube

def secret_values(api: FakeKube, name: str) -> dict[str, str]:
    data = api.get("Secret", name, "logging")["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def test_first_apply_creates_in_order_with_server_side_apply(api):
    plan, done, _ = deploy(api, settings_for(api))
    assert plan.counts()["create"] == done["created"] > 10
    patches = [r for r in api.mutations()]
    assert {(r.method, r.content_type, r.query["fieldManager"], r.query["force"]) for r in patches} == {
        ("PATCH", "application/apply-patch+yaml", "kubelogs", "true")}
    order = [r.path.rsplit("/", 2)[-2] for r in patches]
    assert order[:2] == ["namespaces", "secrets"]  # namespace, then the ApplySet parent
    first_workload = min(order.index("statefulsets"), order.index("daemonsets"))
    assert max(i for i, kind in enumerate(order) if kind in ("secrets", "nodes")) < first_workload
    sts = api.get("StatefulSet", "elasticsearch", "logging")
    assert sts["metadata"]["labels"][APPLYSET_PART_OF_LABEL] == applyset_id("logging")
    parent = api.get("Secret", "kubelogs-applyset", "logging")
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == applyset_id("logging")
    assert "StatefulSet.apps" in parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]


def test_nodes_get_runtime_and_data_labels_skipped_hosts_none(api):
    deploy(api, settings_for(api), skip_hosts=frozenset({"@docker/n3"}))
    labels = {n.node: api.get("Node", n.node)["metadata"].get("labels") for n in NODES}
    assert labels == {"n1": {"kubelogs.io/runtime": "containerd"},
                      "n2": {"kubelogs.io/runtime": "containerd", "kubelogs.io/es-data": "true"},
                      "n3": {}}  # its node stage failed: not labelled


def test_reapply_changes_nothing(api):
    settings = settings_for(api)
    deploy(api, settings)
    versions = api.resource_versions()
    mutations = len(api.mutations())
    plan, done, _ = deploy(api, settings)
    assert plan.changes == [] and plan.pending_rollouts == []
    assert api.resource_versions() == versions
    assert len(api.mutations()) == mutations
    assert done == {"created": 0, "updated": 0, "pruned": 0, "skipped": 0}


def test_settings_change_updates_only_what_it_shapes(api):
    deploy(api, settings_for(api))
    plan, done, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "heap": "256m"}))
    assert [s.ref for s in plan.changes] == ["StatefulSet logging/elasticsearch"]
    env = api.get("StatefulSet", "elasticsearch", "logging")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "ES_JAVA_OPTS", "value": "-Xms256m -Xmx256m"} in env


def test_credentials_and_certificates_are_generated_once(api):
    deploy(api, settings_for(api))
    password = secret_values(api, CREDENTIALS_SECRET)["password"]
    tls = secret_values(api, TRANSPORT_TLS_SECRET)
    assert len(password) >= 24 and "BEGIN CERTIFICATE" in tls["ca.crt"] and "PRIVATE KEY" in tls["tls.key"]
    # heap change, security off (Secrets kept, not pruned), security back on: same values throughout
    for es in ({"replicas": 2, "heap": "256m"}, {"replicas": 2, "security": False}, {"replicas": 2}):
        deploy(api, settings_for(api, elasticsearch=es))
        assert secret_values(api, CREDENTIALS_SECRET)["password"] == password
        assert secret_values(api, TRANSPORT_TLS_SECRET) == tls


def test_plan_never_prints_secret_values(api):
    plan, _, log = deploy(api, settings_for(api))
    password = secret_values(api, CREDENTIALS_SECRET)["password"]
    text = "\n".join(plan.lines() + log)
    assert "create    Secret logging/elasticsearch-credentials (generated)" in text
    assert password not in text and base64.b64encode(password.encode()).decode() not in text


def test_prune_removes_only_owned_objects_never_data_or_credentials(api):
    nodes = [NodeTarget(n.host, n.node, "docker", n.holds_data) for n in NODES]  # log-pilot can serve them all
    deploy(api, settings_for(api), nodes)
    ns_labels = {APPLYSET_PART_OF_LABEL: applyset_id("logging")}
    api.put({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data-elasticsearch-0", "namespace": "logging", "labels": ns_labels}})
    api.put({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "someone-elses", "namespace": "logging"}})
    api.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other-applyset", "namespace": "logging",
             "labels": {APPLYSET_PART_OF_LABEL: "applyset-other-v1"}}})
    # Only log-pilot from now on: Fluent Bit's objects go, its cluster-scoped RBAC included.
    plan, done, _ = deploy(api, settings_for(api, agents={"collector": "log-pilot"}), nodes)
    pruned = sorted(s.ref for s in plan.steps if s.action == "prune")
    assert pruned == ["ClusterRole kubelogs-fluent-bit-logging", "ClusterRoleBinding kubelogs-fluent-bit-logging",
                      "ConfigMap logging/fluent-bit-config", "DaemonSet logging/fluent-bit",
                      "ServiceAccount logging/fluent-bit"]
    assert done["pruned"] == 5
    assert api.get("DaemonSet", "fluent-bit", "logging") is None and api.get("ClusterRole", "kubelogs-fluent-bit-logging") is None
    for kind, name in (("PersistentVolumeClaim", "data-elasticsearch-0"), ("DaemonSet", "someone-elses"),
                       ("ConfigMap", "other-applyset"), ("Secret", CREDENTIALS_SECRET), ("Secret", TRANSPORT_TLS_SECRET)):
        assert api.get(kind, name, "logging") is not None, (kind, name)
    kinds = api.get("Secret", "kubelogs-applyset", "logging")["metadata"]["annotations"][
        "applyset.kubernetes.io/contains-group-kinds"]
    assert "ClusterRole" not in kinds  # the parent lists only what is still owned
    again, _, _ = deploy(api, settings_for(api, agents={"collector": "log-pilot"}), nodes)
    assert again.changes == []


def test_collector_switch_prunes_the_agent_no_longer_wanted(api):
    deploy(api, settings_for(api))
    assert api.get("DaemonSet", "log-pilot", "logging")["status"]["desiredNumberScheduled"] == 1  # n3: docker
    assert api.get("DaemonSet", "fluent-bit", "logging")["status"]["desiredNumberScheduled"] == 2
    plan, _, _ = deploy(api, settings_for(api, agents={"collector": "fluent-bit"}))
    assert sorted(s.ref for s in plan.steps if s.action == "prune") == [
        "DaemonSet logging/log-pilot", "ServiceAccount logging/log-pilot"]
    assert [s.ref for s in plan.steps if s.action == "update"] == ["DaemonSet logging/fluent-bit"]
    assert api.get("DaemonSet", "fluent-bit", "logging")["status"]["desiredNumberScheduled"] == 3


def test_immutable_change_is_refused_before_anything_is_applied(api):
    deploy(api, settings_for(api))
    before, versions = len(api.mutations()), api.resource_versions()
    with pytest.raises(ClusterError) as refused:
        deploy(api, settings_for(api, elasticsearch={"replicas": 2, "storage": "pvc"}))
    message = str(refused.value)
    assert "StatefulSet logging/elasticsearch: spec.volumeClaimTemplates cannot change" in message
    assert "--cascade=orphan" in message and "Nothing was applied" in message
    assert len(api.mutations()) == before and api.resource_versions() == versions


def test_fake_api_server_refuses_the_same_change(api):
    # The fake enforces the API server's rule too, so the client-side check is what kept it safe.
    settings = settings_for(api)
    deploy(api, settings)
    kube = Kube(load_client(settings), retry_delays=())
    sts = api.get("StatefulSet", "elasticsearch", "logging")
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "elasticsearch", "namespace": "logging"},
            "spec": {**sts["spec"], "serviceName": "other"}}
    with pytest.raises(ClusterError, match="422 Invalid.*Forbidden: updates to statefulset spec"):
        kube.apply(body)


def test_missing_kubernetes_node_is_a_clear_error(api):
    with pytest.raises(ClusterError, match="no node named 'ghost'.*kube_node_name"):
        deploy(api, settings_for(api), nodes=[*NODES, NodeTarget("@docker/ghost", "ghost", "containerd", False)])


def test_rollout_timeout_names_pods_reasons_and_events(api):
    api.auto_rollout = False
    labels = {"app.kubernetes.io/name": "elasticsearch", "app.kubernetes.io/part-of": "kubelogs"}
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "logging"}})
    api.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elasticsearch-0", "namespace": "logging",
             "labels": labels}, "spec": {"nodeName": "n2"}, "status": {"phase": "Pending", "containerStatuses": [
                 {"name": "elasticsearch", "ready": False, "restartCount": 0,
                  "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}})
    api.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elasticsearch-1", "namespace": "logging",
             "labels": labels}, "status": {"phase": "Pending", "conditions": [
                 {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                  "message": "0/3 nodes are available: 3 node(s) didn't match node affinity"}]}})
    api.put({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "logging"}, "type": "Warning",
             "reason": "Failed", "message": "Failed to pull image \"docker.elastic.co/x\"",
             "involvedObject": {"kind": "Pod", "name": "elasticsearch-0"}, "lastTimestamp": "2026-11-27T10:00:00Z"})
    with pytest.raises(ClusterError) as timed_out:
        deploy(api, settings_for(api, kubernetes={"rollout_timeout": 1}))
    message = str(timed_out.value)
    assert "rollout not complete after 1 s" in message
    assert "StatefulSet elasticsearch: waiting for the spec update to be observed" in message
    assert "pod elasticsearch-0 on n2: container elasticsearch waiting: ImagePullBackOff" in message
    assert "pod elasticsearch-1 on (no node): not scheduled: Unschedulable: 0/3 nodes" in message
    assert 'event Pod/elasticsearch-0: Failed: Failed to pull image' in message
    assert api.get("StatefulSet", "elasticsearch", "logging") is not None  # applied, not rolled back


def test_rerun_waits_for_a_rollout_still_in_progress(api):
    settings = settings_for(api)
    deploy(api, settings)
    sts = api.get("StatefulSet", "elasticsearch", "logging")
    api.set_status("StatefulSet", "elasticsearch", "logging", {**sts["status"], "readyReplicas": 1})
    kube = Kube(load_client(settings))
    plan = stage.plan(kube, settings, NODES)
    assert plan.changes == [] and plan.pending_rollouts == ["StatefulSet elasticsearch: 1 of 2 pods ready"]


@pytest.mark.parametrize("obj, done, message", [
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 2}, "spec": {"replicas": 3},
      "status": {"observedGeneration": 1, "readyReplicas": 3}}, False, "waiting for the spec update to be observed"),
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 2}, "spec": {"replicas": 3},
      "status": {"observedGeneration": 2, "readyReplicas": 2}}, False, "2 of 3 pods ready"),
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 2}, "spec": {"replicas": 3},
      "status": {"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 1,
                 "currentRevision": "a", "updateRevision": "b"}}, False, "rolling update in progress"),
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 2},
      "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
      "status": {"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 1,
                 "currentRevision": "a", "updateRevision": "b"}}, True, "3 pods ready"),
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 1}, "spec": {"updateStrategy": {"type": "OnDelete"}},
      "status": {}}, True, "not a rolling update"),
    ({"kind": "DaemonSet", "metadata": {"name": "d", "generation": 1}, "spec": {},
      "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 2}}, False,
     "2 of 3 pods updated"),
    ({"kind": "DaemonSet", "metadata": {"name": "d", "generation": 1}, "spec": {},
      "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
                 "numberAvailable": 1}}, False, "1 of 3 updated pods available"),
    ({"kind": "DaemonSet", "metadata": {"name": "d", "generation": 1}, "spec": {},
      "status": {"observedGeneration": 1}}, True, "0 pods available (no node selected)"),
])
def test_rollout_status_follows_kubectl(obj, done, message):
    assert rollout.status(obj)[0] is done
    assert message in rollout.status(obj)[1]


def test_transient_api_errors_are_retried(api):
    api.fail_next("PATCH", "/statefulsets/elasticsearch", 503, times=2)
    api.fail_next("GET", "/namespaces/logging", 500, times=1)
    plan, done, _ = deploy(api, settings_for(api))
    assert done["created"] == plan.counts()["create"]
    assert api.get("StatefulSet", "elasticsearch", "logging") is not None


def test_unreachable_api_is_a_clear_error(api, tmp_path):
    settings = settings_for(api)
    api.stop()  # nothing listens on that port any more
    kube = Kube(load_client(settings), retry_delays=(0.01,))
    with pytest.raises(ClusterError, match=r"cannot reach the Kubernetes API at http://127\.0\.0\.1:\d+.*gave up after 2 attempts"):
        stage.plan(kube, settings, NODES)


def test_malformed_kubeconfig_from_the_environment_is_a_clear_error(tmp_path, monkeypatch):
    # An explicit kubelogs.kubernetes.kubeconfig is checked by settings validation (test_settings.py).
    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [\n")
    monkeypatch.setenv("KUBECONFIG", str(bad))
    with pytest.raises(ClusterError, match=f"cannot load the kubeconfig \\(\\$KUBECONFIG={bad}"):
        load_client(validate_settings({}))
