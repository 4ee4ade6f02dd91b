"""The cluster stage through the real kubernetes client against the cluster tier (tests/support/tier.py):
the API server's apply, dry-run, admission, controllers and scheduler (the double's, held to recorded
real answers, or a real control plane's); the test kubelet plays the nodes and pods."""

from __future__ import annotations

import base64

import pytest

from kubelogs.cluster import rollout, stage
from kubelogs.cluster.api import ClusterError, Kube, load_client
from kubelogs.cluster.plan import NodeTarget
from kubelogs.manifests.common import APPLYSET_PART_OF_LABEL, CREDENTIALS_SECRET, TRANSPORT_TLS_SECRET, applyset_id
from kubelogs.settings import validate_settings
from tests.support.cluster_helpers import deploy, kube, log_pilot_settings_for, settings_for


def labels_of(api, node: str) -> dict[str, str]:
    labels = api.get("Node", node)["metadata"].get("labels") or {}
    return {k: v for k, v in labels.items() if k.startswith("kubelogs.io/")}


def test_first_apply_creates_in_order_with_server_side_apply(api):
    plan, done, _ = deploy(api, settings_for(api))
    assert plan.counts()["create"] == done["created"] > 10
    # Objects by server-side apply; then the Elasticsearch-call pods (applied, deleted) and the marks that
    # the security settings, then the index settings, were sent (merge patches under their own field manager).
    writes = [r for r in api.mutations() if "/pods" not in r.path]
    patches = [r for r in writes if r.content_type == "application/apply-patch+yaml"]
    assert {(r.method, r.query["fieldManager"], r.query["force"]) for r in patches} == {("PATCH", "kubelogs", "true")}
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.query["fieldManager"]) for r in writes if r not in patches] == [
        ("PATCH", "elasticsearch-security", "kubelogs-elasticsearch"),
        ("PATCH", "elasticsearch-index-settings", "kubelogs-elasticsearch")]
    order = [r.path.rsplit("/", 2)[-2] for r in patches]
    assert order[:2] == ["namespaces", "secrets"]  # namespace, then the ApplySet parent
    first_workload = min(order.index("statefulsets"), order.index("daemonsets"))
    assert max(i for i, kind in enumerate(order) if kind in ("secrets", "nodes")) < first_workload
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    assert sts["metadata"]["labels"][APPLYSET_PART_OF_LABEL] == applyset_id(api.namespace)
    managers = {m["manager"] for m in sts["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"kubelogs"}
    parent = api.get("Secret", "kubelogs-applyset", api.namespace)
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == applyset_id(api.namespace)
    assert "StatefulSet.apps" in parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]


def test_namespace_passes_pod_security_admission_and_pods_are_admitted(api):
    deploy(api, log_pilot_settings_for(api))
    labels = api.get("Namespace", api.namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    # The real admission let every agent, Elasticsearch and Kibana pod in (log-pilot needs SYS_ADMIN, both
    # agents hostPath).
    assert {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in api.objects("Pod")} == {
        "elasticsearch", "fluent-bit", "log-pilot", "kibana"}


def test_nodes_get_runtime_and_data_labels_skipped_hosts_none(api):
    n1, n2, n3 = api.nodes
    # One replica: with n3 unlabelled, only n2 may hold Elasticsearch data.
    deploy(api, settings_for(api, elasticsearch={"replicas": 1}), skip_hosts=frozenset({n3.host}))
    assert {n.node: labels_of(api, n.node) for n in api.nodes} == {
        n1.node: {"kubelogs.io/runtime": "containerd"},
        n2.node: {"kubelogs.io/runtime": "containerd", "kubelogs.io/es-data": "true"},
        n3.node: {}}  # its node stage failed: not labelled


def test_reapply_changes_nothing(api):
    settings = settings_for(api)
    deploy(api, settings)
    versions = api.resource_versions()
    mutations = len(api.mutations())
    plan, done, _ = deploy(api, settings)
    # The real server's dry-run of each unchanged object equals the live one (the no-op detection).
    assert plan.changes == [] and plan.pending_rollouts == []
    assert api.resource_versions() == versions
    assert len(api.mutations()) == mutations
    assert done == {"created": 0, "updated": 0, "pruned": 0, "skipped": 0, "restarted": 0}


def test_a_no_op_plan_reads_the_nodes_in_one_list(api):
    # Its cost must not grow with the cluster: one LIST of the nodes, no GET or dry-run apply per node, when
    # their labels are as kubelogs applied them.
    settings = settings_for(api)
    deploy(api, settings)
    api.requests.clear()
    plan = stage.plan(kube(settings), settings, api.nodes)
    node_requests = [(r.method, r.path) for r in api.requests if r.path.startswith("/api/v1/nodes")]
    assert node_requests == [("GET", "/api/v1/nodes")]
    assert {s.action for s in plan.steps if s.manifest["kind"] == "Node"} == {"unchanged"} and not plan.has_work
    # A label removed by someone else is seen, and put back with the usual dry-run first.
    api.admin.merge_patch("Node", api.nodes[0].node, None, {"metadata": {"labels": {"kubelogs.io/runtime": None}}},
                          "someone-else")
    api.requests.clear()
    plan = stage.plan(kube(settings), settings, api.nodes)
    assert [s.ref for s in plan.changes] == [f"Node {api.nodes[0].node}"]
    assert ("PATCH", f"/api/v1/nodes/{api.nodes[0].node}") in [(r.method, r.path) for r in api.requests]


def test_a_no_op_plan_reads_each_kind_once_and_writes_nothing(api):
    # Every object is as kubelogs applied it (its digest, nobody's write since): no GET of it, no dry run.
    settings = settings_for(api)
    deploy(api, settings)
    api.requests.clear()
    plan = stage.plan(kube(settings), settings, api.nodes)
    assert not plan.has_work and all(s.action == "unchanged" for s in plan.steps)
    writes = [(r.method, r.path) for r in api.requests if r.method != "GET"]
    assert writes == []  # not even a dry run
    reads = [(r.path, tuple(sorted(r.query.items()))) for r in api.requests]
    # 16 here: a LIST per owned kind, the nodes', the namespace, the ApplySet parent, the bootstrap list, the
    # Elasticsearch pods; none twice, none per object or per node.
    assert len(reads) <= 20 and len(reads) == len(set(reads)), reads
    # A field changed by someone else (kubectl edit, say) is seen, and put back with a dry run first.
    ns = api.namespace
    api.admin.merge_patch("ConfigMap", "fluent-bit-config", ns, {"data": {"fluent-bit.conf": "edited"}}, "kubectl-edit")
    api.requests.clear()
    plan = stage.plan(kube(settings), settings, api.nodes)
    assert [s.ref for s in plan.changes] == [f"ConfigMap {ns}/fluent-bit-config"]
    assert [(r.method, r.path) for r in api.requests if r.method == "PATCH"] == [
        ("PATCH", f"/api/v1/namespaces/{ns}/configmaps/fluent-bit-config")]
    stage.execute(kube(settings), plan, settings, lambda line: None)
    assert api.get("ConfigMap", "fluent-bit-config", ns)["data"]["fluent-bit.conf"] != "edited"
    assert not stage.plan(kube(settings), settings, api.nodes).has_work


def test_settings_change_updates_only_what_it_shapes_and_rolls_the_pods(api):
    deploy(api, settings_for(api))
    before = {p["metadata"]["uid"] for p in api.pods("elasticsearch")}
    plan, done, _ = deploy(api, settings_for(api, elasticsearch={"replicas": 2, "heap": "256m"}))
    assert [s.ref for s in plan.changes] == [f"StatefulSet {api.namespace}/elasticsearch"]
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    assert {"name": "ES_JAVA_OPTS", "value": "-Xms256m -Xmx256m"} in sts["spec"]["template"]["spec"]["containers"][0]["env"]
    # The real StatefulSet controller replaced every pod before the rollout wait returned.
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in api.pods("elasticsearch")} == {
        sts["status"]["updateRevision"]}
    assert not before & {p["metadata"]["uid"] for p in api.pods("elasticsearch")}


def test_credentials_and_certificates_are_generated_once(api):
    deploy(api, settings_for(api))
    password = api.secret_data(CREDENTIALS_SECRET)["password"]
    tls = api.secret_data(TRANSPORT_TLS_SECRET)
    assert len(password) >= 24 and "BEGIN CERTIFICATE" in tls["ca.crt"] and "PRIVATE KEY" in tls["tls.key"]
    # heap change, security off (Secrets kept, not pruned), security back on: same values throughout
    for es in ({"replicas": 2, "heap": "256m"}, {"replicas": 2, "security": False}, {"replicas": 2}):
        deploy(api, settings_for(api, elasticsearch=es))
        assert api.secret_data(CREDENTIALS_SECRET)["password"] == password
        assert api.secret_data(TRANSPORT_TLS_SECRET) == tls


def test_plan_never_prints_secret_values(api):
    plan, _, log = deploy(api, settings_for(api))
    password = api.secret_data(CREDENTIALS_SECRET)["password"]
    text = "\n".join(plan.lines() + log)
    assert f"create    Secret {api.namespace}/elasticsearch-credentials (generated)" in text
    assert password not in text and base64.b64encode(password.encode()).decode() not in text


def _daemonset(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict:
    pod_labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"selector": {"matchLabels": pod_labels}, "template": {"metadata": {"labels": pod_labels}, "spec": {
                "nodeSelector": {"example.com/none": "true"},
                "containers": [{"name": "c", "image": "registry.example/none:1"}]}}}}


def test_prune_removes_only_owned_objects_never_data_or_credentials(api):
    ns = api.namespace
    nodes = [NodeTarget(n.host, n.node, "docker", n.holds_data) for n in api.nodes]  # log-pilot can serve them all
    deploy(api, log_pilot_settings_for(api), nodes)
    owned = {APPLYSET_PART_OF_LABEL: applyset_id(ns)}
    api.admin.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                      "metadata": {"name": "data-elasticsearch-0", "namespace": ns, "labels": owned},
                      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    api.admin.create(_daemonset("someone-elses", ns))
    api.admin.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "other-applyset", "namespace": ns, "labels": {APPLYSET_PART_OF_LABEL: "applyset-other-v1"}}})
    # Only log-pilot from now on: Fluent Bit's objects go, its cluster-scoped RBAC included.
    plan, done, _ = deploy(api, log_pilot_settings_for(api, agents={"collector": "log-pilot"}), nodes)
    pruned = sorted(s.ref for s in plan.steps if s.action == "prune")
    assert pruned == [f"ClusterRole kubelogs-fluent-bit-{ns}", f"ClusterRoleBinding kubelogs-fluent-bit-{ns}",
                      f"ConfigMap {ns}/fluent-bit-config", f"DaemonSet {ns}/fluent-bit",
                      f"NetworkPolicy {ns}/fluent-bit", f"ServiceAccount {ns}/fluent-bit"]
    assert done["pruned"] == 6
    assert api.get("DaemonSet", "fluent-bit", ns) is None and api.get("ClusterRole", f"kubelogs-fluent-bit-{ns}") is None
    for kind, name in (("PersistentVolumeClaim", "data-elasticsearch-0"), ("DaemonSet", "someone-elses"),
                       ("ConfigMap", "other-applyset"), ("Secret", CREDENTIALS_SECRET), ("Secret", TRANSPORT_TLS_SECRET)):
        assert api.get(kind, name, ns) is not None, (kind, name)
    kinds = api.get("Secret", "kubelogs-applyset", ns)["metadata"]["annotations"][
        "applyset.kubernetes.io/contains-group-kinds"]
    assert "ClusterRole" not in kinds  # the parent lists only what is still owned
    again, _, _ = deploy(api, log_pilot_settings_for(api, agents={"collector": "log-pilot"}), nodes)
    assert again.changes == []


def test_collector_switch_prunes_the_agent_no_longer_wanted(api):
    ns = api.namespace
    deploy(api, log_pilot_settings_for(api))
    assert api.get("DaemonSet", "log-pilot", ns)["status"]["desiredNumberScheduled"] == 1  # n3: docker
    assert api.get("DaemonSet", "fluent-bit", ns)["status"]["desiredNumberScheduled"] == 2
    plan, _, _ = deploy(api, log_pilot_settings_for(api, agents={"collector": "fluent-bit"}))
    assert sorted(s.ref for s in plan.steps if s.action == "prune") == [
        f"DaemonSet {ns}/log-pilot", f"NetworkPolicy {ns}/log-pilot", f"ServiceAccount {ns}/log-pilot"]
    # Fluent Bit now runs on the Docker node too; the writer no longer needs Filebeat's template privileges.
    assert [s.ref for s in plan.steps if s.action == "update"] == [
        f"ConfigMap {ns}/elasticsearch-security", f"DaemonSet {ns}/fluent-bit"]
    assert api.get("DaemonSet", "fluent-bit", ns)["status"]["desiredNumberScheduled"] == 3
    # The garbage collector removed log-pilot's pods with their DaemonSet.
    api.wait_for("log-pilot's pods to go", lambda: not api.pods("log-pilot"))


def test_immutable_change_is_refused_before_anything_is_applied(api):
    deploy(api, settings_for(api))
    before, versions = len(api.mutations()), api.resource_versions()
    with pytest.raises(ClusterError) as refused:
        deploy(api, settings_for(api, elasticsearch={"replicas": 2, "storage": "pvc"}))
    message = str(refused.value)
    assert f"StatefulSet {api.namespace}/elasticsearch: spec.volumeClaimTemplates cannot change" in message
    assert "--cascade=orphan" in message and "Nothing was applied" in message
    assert len(api.mutations()) == before and api.resource_versions() == versions


def test_a_claim_size_the_server_writes_its_own_way_is_no_change(api):
    # The API server stores quantities canonical: pvc_size 2048Mi comes back as 2Gi. A re-run must not take
    # that for a change of the (immutable) claim templates and refuse.
    settings = settings_for(api, elasticsearch={"replicas": 2, "storage": "pvc", "pvc_size": "2048Mi"},
                            kubernetes={"rollout_timeout": 3})
    with pytest.raises(ClusterError, match="rollout not complete"):  # no volume provisioner: the claims stay pending
        deploy(api, settings)
    live = api.get("StatefulSet", "elasticsearch", api.namespace)
    assert live["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    again = stage.plan(kube(settings), settings, api.nodes)
    assert next(s for s in again.steps if s.ref == f"StatefulSet {api.namespace}/elasticsearch").action == "unchanged"


def test_real_api_server_refuses_the_same_change(api):
    # What the client-side check saves the user from: the API server's own 422, after a partial apply.
    settings = settings_for(api)
    deploy(api, settings)
    client = Kube(load_client(settings), retry_delays=())
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "elasticsearch", "namespace": api.namespace},
            "spec": {**sts["spec"], "serviceName": "other"}}
    with pytest.raises(ClusterError, match="422 Invalid.*Forbidden: updates to statefulset spec for fields other than"):
        client.apply(body)


def test_missing_kubernetes_node_is_a_clear_error(api):
    with pytest.raises(ClusterError, match="no node named 'ghost'.*kube_node_name"):
        deploy(api, settings_for(api), nodes=[*api.nodes, NodeTarget("@docker/ghost", "ghost", "containerd", False)])


def test_rollout_timeout_names_the_schedulers_reason_pull_errors_and_events(api):
    # Three replicas, two labelled data nodes: the scheduler cannot place the third pod.
    settings = log_pilot_settings_for(api, elasticsearch={"replicas": 3}, kubernetes={"rollout_timeout": 8})
    with pytest.raises(ClusterError) as timed_out:
        deploy(api, settings)
    message = str(timed_out.value)
    assert "rollout not complete after 8 s" in message
    assert "StatefulSet elasticsearch: 2 of 3 pods ready" in message
    assert "pod elasticsearch-" in message and "on (no node): not scheduled: Unschedulable: 0/3 nodes are available" in message
    assert "didn't match Pod's node affinity/selector" in message
    assert "FailedScheduling" in message  # the scheduler's warning event
    # The agents wait for Elasticsearch and their users: not applied yet, and the message says so.
    assert "The log agents and Kibana are applied once Elasticsearch is up" in message
    assert api.get("DaemonSet", "log-pilot", api.namespace) is None
    assert api.get("StatefulSet", "elasticsearch", api.namespace) is not None  # applied, not rolled back


def test_rollout_timeout_names_the_agents_pull_errors(api):
    settings = log_pilot_settings_for(api, kubernetes={"rollout_timeout": 8})
    api.tier.kubelet.pull_failures.add(settings.agents.log_pilot_image)
    try:
        with pytest.raises(ClusterError) as timed_out:
            deploy(api, settings)
    finally:
        api.tier.kubelet.pull_failures.clear()
    assert f"on {api.nodes[2].node}: container log-pilot waiting: ImagePullBackOff" in str(timed_out.value)


def test_rerun_waits_for_a_rollout_still_in_progress(api):
    settings = settings_for(api)
    deploy(api, settings)
    pod = api.pods("elasticsearch")[0]
    api.admin.patch_status("Pod", pod["metadata"]["name"], api.namespace, {"conditions": [
        {"type": "Ready", "status": "False"}, {"type": "ContainersReady", "status": "False"}]})
    api.wait_for("the StatefulSet controller to see it", lambda: api.get(
        "StatefulSet", "elasticsearch", api.namespace)["status"].get("readyReplicas") == 1)
    plan = stage.plan(kube(settings), settings, api.nodes)
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
    ({"kind": "DaemonSet", "metadata": {"name": "d", "generation": 1}, "spec": {"updateStrategy": {"type": "OnDelete"}},
      "status": {}}, True, "not a rolling update"),
    # OnDelete StatefulSets (Elasticsearch): kubelogs restarts outdated pods itself; here only readiness.
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 2},
      "spec": {"replicas": 3, "updateStrategy": {"type": "OnDelete"}},
      "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 0,
                 "currentRevision": "a", "updateRevision": "b"}}, True, "3 pods ready"),
    ({"kind": "StatefulSet", "metadata": {"name": "s", "generation": 2},
      "spec": {"replicas": 1, "updateStrategy": {"type": "OnDelete"}},
      "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3}}, False, "3 of 1 pods ready"),
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
    api.fail_next("GET", f"/namespaces/{api.namespace}", 500, times=1)
    plan, done, _ = deploy(api, settings_for(api))
    assert done["created"] == plan.counts()["create"]
    assert api.get("StatefulSet", "elasticsearch", api.namespace) is not None
    assert [f.times for f in api.tier.proxy.faults] == [0, 0]  # every injected fault was met, and retried


def test_unreachable_api_is_a_clear_error(api, tmp_path):
    from tests.support.control_plane import free_ports

    closed = tmp_path / "kubeconfig"
    closed.write_text(api.kubeconfig.read_text().replace(api.tier.proxy.address, f"127.0.0.1:{free_ports(1)[0]}"))
    settings = settings_for(api, kubernetes={"kubeconfig": str(closed)})
    client = Kube(load_client(settings), retry_delays=(0.01,))
    with pytest.raises(ClusterError, match=r"cannot reach the Kubernetes API at https://127\.0\.0\.1:\d+.*gave up after 2 attempts"):
        stage.plan(client, settings, api.nodes)


def test_malformed_kubeconfig_from_the_environment_is_a_clear_error(tmp_path, monkeypatch):
    # An explicit kubelogs.kubernetes.kubeconfig is checked by settings validation (test_settings.py).
    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [\n")
    monkeypatch.setenv("KUBECONFIG", str(bad))
    with pytest.raises(ClusterError, match=f"cannot load the kubeconfig \\(\\$KUBECONFIG={bad}"):
        load_client(validate_settings({}))
