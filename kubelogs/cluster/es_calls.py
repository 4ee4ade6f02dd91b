"""Calls to Elasticsearch's API that the cluster stage makes, in batches: each batch runs files/es-admin.sh in a
short-lived in-cluster pod (the credentials stay in the cluster, as for the verify stage)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelogs.cluster.api import ClusterError, Kube, label_selector
from kubelogs.cluster.rollout import pod_problem
from kubelogs.manifests import client_pods, security
from kubelogs.manifests.common import CREDENTIALS_SECRET, REQUESTS_KEY, TASK_LABEL, Manifest, selector
from kubelogs.manifests.elasticsearch import NAME, protocol
from kubelogs.polling import Poll
from kubelogs.settings import Settings


@dataclass(frozen=True)
class CallBatch:
    """One run of files/es-admin.sh: its actions in order, what they read, why (for the log), and the safety
    check it makes, if any (``safety.CHECKS``: named in its log line and in its failure)."""

    why: str
    actions: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    requests: str = ""  # the ConfigMap whose requests the `requests` action sends (es_plan.REQUEST_CONFIG_MAPS)
    # The name of the safety check it makes. Not part of equality: a batch recorded by an older kubelogs
    # (without it) is the same calls as one planned now, and must not be made twice.
    check: str = field(default="", compare=False)

    def as_data(self) -> dict:
        # Recorded on the StatefulSet for a re-run (es_plan.PENDING_ANNOTATION); read back by from_data.
        return {"why": self.why, "actions": list(self.actions), "env": self.env,
                **({"requests": self.requests} if self.requests else {}),
                **({"check": self.check} if self.check else {})}

    @classmethod
    def from_data(cls, data: dict) -> CallBatch:
        return cls(str(data["why"]), tuple(data["actions"]), dict(data.get("env") or {}),
                   str(data.get("requests", "")), str(data.get("check", "")))


def health_wanted(settings: Settings) -> str:
    """The health a restart or a replica change waits for: green, or yellow with one node (its replicas
    of indices created before kubelogs' template cannot be assigned anywhere)."""
    return "yellow" if settings.elasticsearch.replicas == 1 else "green"


def serves_https(kube: Kube, namespace: str) -> bool | None:
    """Whether the running Elasticsearch pods serve HTTPS (None without any): the calls speak what they
    serve, which differs from the settings only until a full restart switches it."""
    pods = [p for p in kube.list("Pod", namespace, label_selector(selector(NAME)))
            if not p["metadata"].get("deletionTimestamp")]
    return any(protocol(p.get("spec") or {})[1] for p in pods) if pods else None


def pod(settings: Settings, name: str, batch: CallBatch, https: bool | None = None) -> Manifest:
    values = {"ACTIONS": " ".join(batch.actions), "HEALTH_WAIT": health_wanted(settings),
              "TIMEOUT": str(settings.kubernetes.rollout_timeout), "INTERVAL": f"{settings.kubernetes.poll_interval:g}", **batch.env}
    env = [*client_pods.es_env(settings, https), *({"name": k, "value": v} for k, v in values.items())]
    passwords = {}
    if batch.requests:  # the requests exactly as applied in the ConfigMap, and the passwords they name
        env.append({"name": "REQUESTS", "valueFrom": {"configMapKeyRef": {"name": batch.requests, "key": REQUESTS_KEY}}})
        if batch.requests == security.NAME:
            passwords = security.placeholders(settings)
    return client_pods.pod(settings, name, {TASK_LABEL: "es-admin"}, client_pods.container(
        settings, "es-admin", command=client_pods.script_command("es-admin.sh"), env=env),
        credentials=CREDENTIALS_SECRET, passwords=passwords)


def run(kube: Kube, settings: Settings, batch: CallBatch, log: Callable[[str], None], poll: Poll | None = None) -> str:
    """Run the batch's pod to completion and remove it; its output, or ClusterError saying what failed."""
    ns, name = settings.namespace, f"kubelogs-es-admin-{secrets.token_hex(4)}"
    checked = f"; safety check: {batch.check}" if batch.check else ""
    log(f"elasticsearch: {batch.why} ({', '.join(batch.actions)}{checked})")
    kube.apply(pod(settings, name, batch, serves_https(kube, ns)))
    unmet = f"\nThe safety check {batch.check!r} is not met." if batch.check else ""
    try:
        phase, output = wait_finished(kube, ns, name, settings.kubernetes.rollout_timeout + 60,
                                      poll or Poll(settings.kubernetes.poll_interval))
    except ClusterError as e:  # the pod never finished: the check was not made either
        raise ClusterError(f"could not {batch.why}: {e}{unmet}") from None
    finally:
        kube.delete("Pod", name, ns)
    if phase != "Succeeded":
        failed = [line for line in output.splitlines() if line.startswith("failed ")] or [output.strip()[-600:]]
        raise ClusterError(f"could not {batch.why}: Elasticsearch call {failed[-1]}{unmet}\nNothing after this step "
                           "was done; fix the cause and re-run (the run resumes from here).")
    return output


def wait_finished(kube: Kube, ns: str, name: str, timeout: float, poll: Poll) -> tuple[str, str]:
    """(phase, log) of a pod that runs once, when it has finished; ClusterError on timeout."""
    last: dict = {}

    def finished() -> tuple[str, str] | None:
        last["status"] = (kube.get("Pod", name, ns) or {}).get("status") or {}
        phase = last["status"].get("phase")
        return (phase, kube.pod_log(name, ns)) if phase in ("Succeeded", "Failed") else None

    def timed_out() -> ClusterError:
        problem = pod_problem({"status": last["status"]}) or f"phase {last['status'].get('phase')}"
        return ClusterError(f"pod {name} did not finish within {timeout:g} s ({problem})")

    return poll.until(finished, timeout, timed_out)
