"""A rollout that fails on many pods for one reason says it once, with the count and a few of the pods: on
1,000 nodes the diagnosis stays a screenful (issue 25). Different reasons stay apart; one pod keeps its line."""

from __future__ import annotations

from kubelogs.cluster.rollout import EXAMPLES, diagnose


def waiting(name: str, node: str, reason: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"nodeName": node}, "status": {"phase": "Pending",
            "containerStatuses": [{"name": "fluent-bit", "ready": False, "state": {"waiting": {"reason": reason}}}]}}


class Cluster:
    """The two reads diagnose makes: the workload, and the pods and events of its namespace."""

    def __init__(self, pods: list[dict], logs: dict[str, str] | None = None) -> None:
        self.pods, self.logs, self.logs_read = pods, logs or {}, []

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict:
        return {"spec": {"selector": {"matchLabels": {"app": name}}}}

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        return self.pods if kind == "Pod" else []

    def pod_log(self, name: str, namespace: str, previous: bool = False) -> str:
        self.logs_read.append((name, previous))
        return self.logs.get(name, "")


def test_three_hundred_pods_with_one_reason_are_one_line():
    pods = [waiting(f"fluent-bit-{i:03}", f"node-{i:03}", "ImagePullBackOff") for i in range(300)]
    pods.append(waiting("fluent-bit-odd", "node-odd", "CrashLoopBackOff"))
    lines = diagnose(Cluster(pods), "DaemonSet", "logging", "fluent-bit", "state").splitlines()
    assert lines == [
        "- state",
        f"    300 pods: container fluent-bit waiting: ImagePullBackOff (pods fluent-bit-000 on node-000, "
        f"fluent-bit-001 on node-001, fluent-bit-002 on node-002 and {300 - EXAMPLES} more)",
        "    pod fluent-bit-odd on node-odd: container fluent-bit waiting: CrashLoopBackOff"]


# Elasticsearch 8.19's words when a bootstrap check fails (BootstrapChecks), as its log prints them.
BOOTSTRAP_FAILED = """ERROR: [2] bootstrap checks failed. You must address the points described in the following [2] lines before starting Elasticsearch.
bootstrap check failure [1] of [2]: max file descriptors [1024] for elasticsearch process is too low, increase to at least [65535]
bootstrap check failure [2] of [2]: max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [1048576]
"""


def test_a_crashing_pod_s_log_names_the_cause_and_the_fix_once_per_reason():
    pods = [waiting(f"elasticsearch-{i}", f"node-{i}", "CrashLoopBackOff") for i in range(3)]
    logs = {"elasticsearch-0": "kubelogs: the open-files hard limit here is 4096, below the 65535\n" + BOOTSTRAP_FAILED}
    cluster = Cluster(pods, logs)
    lines = diagnose(cluster, "StatefulSet", "logging", "elasticsearch", "state").splitlines()
    assert lines[2:] == [
        "      cause: the node's open-files hard limit is 4096, below the 65535 Elasticsearch needs: raise the container "
        "runtime's limit (containerd 2.x: LimitNOFILE=1048576 in containerd.service, then restart containerd; "
        "see docs/troubleshooting.md)",
        "      cause: Elasticsearch's bootstrap check: open files 1024, it needs 65535: raise the container runtime's "
        "limit on the node",
        "      cause: Elasticsearch's bootstrap check: vm.max_map_count is 65530 on the node, it needs 1048576: the node "
        "stage sets it; is this node in the inventory?"]
    assert cluster.logs_read == [("elasticsearch-0", True)]  # one log for the three pods


def test_a_pod_that_cannot_start_has_no_log_to_read():
    cluster = Cluster([waiting("fluent-bit-0", "node-0", "ImagePullBackOff")])
    diagnose(cluster, "DaemonSet", "logging", "fluent-bit", "state")
    assert cluster.logs_read == []


def test_three_hundred_crash_loops_in_the_kubelet_s_own_words_are_one_line_and_a_screenful():
    """The kubelet's back-off message names the pod (name_namespace(uid)) and a delay that grows per pod
    (kuberuntime_manager.go: "back-off %s restarting failed container=%s pod=%s"): still one reason."""
    pods = []
    for i in range(300):
        pod = waiting(f"fluent-bit-{i:03}", f"node-{i:03}", "CrashLoopBackOff")
        pod["metadata"]["uid"] = f"{i:08x}-7c1d-4e2a-9b3f-aa{i:010x}"
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = (
            f"back-off {[10, 20, 40, '1m20', '5m0'][i % 5]}s restarting failed container=fluent-bit "
            f"pod=fluent-bit-{i:03}_logging({pod['metadata']['uid']})")
        pod["status"]["containerStatuses"][0]["restartCount"] = i % 7
        pods.append(pod)
    lines = diagnose(Cluster(pods), "DaemonSet", "logging", "fluent-bit", "state").splitlines()
    assert len(lines) < 25
    assert lines[1] == (
        "    300 pods: container fluent-bit waiting: CrashLoopBackOff: back-off 10s restarting failed "
        "container=fluent-bit pod=fluent-bit-000_logging(00000000-7c1d-4e2a-9b3f-aa0000000000) (words of pod "
        f"fluent-bit-000) (pods fluent-bit-000 on node-000, fluent-bit-001 on node-001, fluent-bit-002 on node-002 "
        f"and {300 - EXAMPLES} more)")
