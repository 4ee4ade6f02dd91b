"""Elasticsearch calls the cluster stage makes, each batch from a short-lived in-cluster pod running
files/es-admin.sh (the credentials stay in the cluster, as for the verify stage)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelogs.cluster.api import ClusterError, Kube
from kubelogs.cluster.rollout import pod_problem
from kubelogs.manifests import client_pods, security
from kubelogs.manifests.common import REQUESTS_KEY, TASK_LABEL, Manifest, secret_env
from kubelogs.settings import Settings



@dataclass(frozen=True)
class Task:
    """One run of files/es-admin.sh: its actions in order, what they read, and why (for the log)."""

    why: str
    actions: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    requests: str = ""  # the ConfigMap whose requests the `requests` action sends (es_plan.REQUEST_CONFIG_MAPS)

    def as_data(self) -> dict:
        return {"why": self.why, "actions": list(self.actions), "env": self.env,
                **({"requests": self.requests} if self.requests else {})}

    @classmethod
    def from_data(cls, data: dict) -> Task:
        return cls(str(data["why"]), tuple(data["actions"]), dict(data.get("env") or {}), str(data.get("requests", "")))


def health_wanted(settings: Settings) -> str:
    """The health a restart or a replica change waits for: green, or yellow with one node (its replicas
    of indices created before kubelogs' template cannot be assigned anywhere)."""
    return "yellow" if settings.elasticsearch.replicas == 1 else "green"


def pod(settings: Settings, name: str, task: Task) -> Manifest:
    values = {"ACTIONS": " ".join(task.actions), "HEALTH_WAIT": health_wanted(settings),
              "TIMEOUT": str(settings.kubernetes.rollout_timeout), "INTERVAL": f"{settings.kubernetes.poll_interval:g}", **task.env}
    env = [*client_pods.es_env(settings), *({"name": k, "value": v} for k, v in values.items())]
    if task.requests:  # the requests exactly as applied in the ConfigMap, and the passwords they name
        env.append({"name": "REQUESTS", "valueFrom": {"configMapKeyRef": {"name": task.requests, "key": REQUESTS_KEY}}})
        env += [secret_env(name, secret, key) for name, (secret, key) in security.PASSWORDS.items()
                if task.requests == security.NAME and name in security.placeholders(settings)]
    return client_pods.pod(settings, name, {TASK_LABEL: "es-admin"}, client_pods.container(
        settings, "es-admin", command=client_pods.script_command("es-admin.sh"), env=env))


def run(kube: Kube, settings: Settings, task: Task, log: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> str:
    """Run the task's pod to completion and remove it; its output, or ClusterError saying what failed."""
    ns, name = settings.namespace, f"kubelogs-es-admin-{secrets.token_hex(4)}"
    log(f"elasticsearch: {task.why} ({', '.join(task.actions)})")
    kube.apply(pod(settings, name, task))
    try:
        phase, output = wait_finished(kube, ns, name, settings.kubernetes.rollout_timeout + 60,
                                      settings.kubernetes.poll_interval, clock, sleep)
    finally:
        kube.delete("Pod", name, ns)
    if phase != "Succeeded":
        failed = [line for line in output.splitlines() if line.startswith("failed ")] or [output.strip()[-600:]]
        raise ClusterError(f"could not {task.why}: Elasticsearch call {failed[-1]}\nNothing after this step was "
                           "done; fix the cause and re-run (the run resumes from here).")
    return output


def wait_finished(kube: Kube, ns: str, name: str, timeout: float, interval: float, clock: Callable[[], float],
                  sleep: Callable[[float], None]) -> tuple[str, str]:
    """(phase, log) of a pod that runs once, when it has finished; ClusterError on timeout."""
    deadline = clock() + timeout
    while True:
        pod_status = (kube.get("Pod", name, ns) or {}).get("status") or {}
        phase = pod_status.get("phase")
        if phase in ("Succeeded", "Failed"):
            return phase, kube.pod_log(name, ns)
        if clock() >= deadline:
            problem = pod_problem({"status": pod_status}) or f"phase {phase}"
            raise ClusterError(f"pod {name} did not finish within {timeout:g} s ({problem})")
        sleep(interval)
