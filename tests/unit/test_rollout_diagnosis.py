"""A rollout that fails on many pods for one reason says it once, with the count and a few of the pods: on
1,000 nodes the diagnosis stays a screenful (issue 25). Different reasons stay apart; one pod keeps its line."""

from __future__ import annotations

from kubelogs.cluster.rollout import EXAMPLES, diagnose


def waiting(name: str, node: str, reason: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"nodeName": node}, "status": {"phase": "Pending",
            "containerStatuses": [{"name": "fluent-bit", "ready": False, "state": {"waiting": {"reason": reason}}}]}}


class Cluster:
    """The two reads diagnose makes: the workload, and the pods and events of its namespace."""

    def __init__(self, pods: list[dict]) -> None:
        self.pods = pods

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict:
        return {"spec": {"selector": {"matchLabels": {"app": name}}}}

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        return self.pods if kind == "Pod" else []


def test_three_hundred_pods_with_one_reason_are_one_line():
    pods = [waiting(f"fluent-bit-{i:03}", f"node-{i:03}", "ImagePullBackOff") for i in range(300)]
    pods.append(waiting("fluent-bit-odd", "node-odd", "CrashLoopBackOff"))
    lines = diagnose(Cluster(pods), "DaemonSet", "logging", "fluent-bit", "state").splitlines()
    assert lines == [
        "- state",
        f"    300 pods: container fluent-bit waiting: ImagePullBackOff (pods fluent-bit-000 on node-000, "
        f"fluent-bit-001 on node-001, fluent-bit-002 on node-002 and {300 - EXAMPLES} more)",
        "    pod fluent-bit-odd on node-odd: container fluent-bit waiting: CrashLoopBackOff"]
