"""Jobs: pods from the template until ``completions`` succeeded (or ``backoffLimit`` failed), with the
status and Complete/Failed condition the job controller writes. A CronJob's schedule is not run: a test
makes its Job, as ``kubectl create job --from=cronjob/...`` would."""

from __future__ import annotations

from tests.support.kube_double.controllers.common import (CONTROLLER_MANAGER, create_pod, new_pod, owned_pods, ready,
                                                          terminating)
from tests.support.kube_double.kinds import BY_KIND
from tests.support.kube_double.store import now

JOB = BY_KIND["Job"]


def reconcile(store) -> None:
    for job in store.each("Job"):
        if terminating(job):
            continue
        status = dict(job.get("status") or {})
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in status.get("conditions") or []):
            continue
        spec = job["spec"]
        pods = owned_pods(store, job)
        phase = [(p.get("status") or {}).get("phase") for p in pods]
        succeeded, failed = phase.count("Succeeded"), phase.count("Failed")
        active = [p for p in pods if not terminating(p) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        status.setdefault("startTime", now())
        conditions = []
        if succeeded >= spec.get("completions", 1):
            stamp = now()
            conditions = [{"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": stamp,
                           "lastTransitionTime": stamp, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
                          {"type": "Complete", "status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp,
                           "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}]
            status["completionTime"] = stamp
        elif failed > spec.get("backoffLimit", 6):
            stamp = now()
            conditions = [{"type": "Failed", "status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp,
                           "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]
        elif len(active) < spec.get("parallelism", 1) and succeeded + len(active) < spec.get("completions", 1):
            create_pod(store, job, new_pod(job, spec["template"], generate=job["metadata"]["name"] + "-"), "job-controller")
            active = [p for p in owned_pods(store, job) if not terminating(p)
                      and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        for key, value in (("active", len(active)), ("succeeded", succeeded), ("failed", failed),
                           ("ready", sum(1 for p in active if ready(p)))):
            if value or key == "ready":
                status[key] = value
            else:
                status.pop(key, None)
        status["uncountedTerminatedPods"] = {}
        if conditions:
            status["conditions"] = conditions
        store.write_status(JOB, job, status, CONTROLLER_MANAGER)
