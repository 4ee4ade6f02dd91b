"""A fake kubelet for the verify stage: runs the pods it creates, and plays the node's log agent.

When a canary pod appears, its real command runs here with ``sleep`` made a no-op; each line it prints
is shipped to the fake Elasticsearch if a log agent's (DaemonSet) pod runs on the canary's node, to the
index that agent would use: Fluent Bit from the pod annotation ``kubelogs.io/log-name``, log-pilot from
the container env ``aliyun_logs_<name>=stdout`` (the README's contract, spelled out here on purpose).
When the verifier pod appears, its real script runs here, with its Secret-backed env resolved and the
Elasticsearch Service address pointed at the fake; its output becomes the pod log and its exit code the
pod phase.
"""

from __future__ import annotations

import base64
import datetime
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from tests.fake_elasticsearch import FakeElasticsearch
from tests.fake_kube import FakeKube


@dataclass
class FakeKubelet:
    api: FakeKube
    es: FakeElasticsearch
    services: dict[str, str] = field(default_factory=dict)  # "svc.ns.svc:port" -> "127.0.0.1:port"
    lost_nodes: set[str] = field(default_factory=set)  # nodes whose agent never ships a line
    ship_delay: float = 0.0  # seconds between a line and its being searchable
    start_pods: bool = True  # False: pods stay Pending (e.g. an image that cannot be pulled)

    def __post_init__(self) -> None:
        self.api.pod_hooks.append(self._started)

    def _started(self, pod: dict) -> None:
        meta = pod["metadata"]
        if not self.start_pods:
            return
        self.api.set_status("Pod", meta["name"], meta["namespace"], {
            "phase": "Running", "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        role = (meta.get("labels") or {}).get("kubelogs.io/verify")
        if role == "canary":
            self._run_canary(pod)
        elif role == "verifier":
            threading.Thread(target=self._run_verifier, args=(pod,), daemon=True).start()

    def _run_canary(self, pod: dict) -> None:
        container = pod["spec"]["containers"][0]
        script = "sleep() { :; }; " + container["command"][2]
        out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30).stdout
        meta = pod["metadata"]
        self.api.pod_logs[(meta["namespace"], meta["name"])] = out
        agent = self._agent_on(pod["spec"]["nodeName"], meta["namespace"])
        if agent is None or pod["spec"]["nodeName"] in self.lost_nodes:
            return
        if agent == "fluent-bit":
            name = (meta.get("annotations") or {}).get("kubelogs.io/log-name")
        else:
            names = [e["name"][len("aliyun_logs_"):] for e in container.get("env", [])
                     if e["name"].startswith("aliyun_logs_") and e.get("value") == "stdout"]
            name = names[0] if names else None
        if not name:
            return
        index = f"{name}-{datetime.datetime.now(datetime.timezone.utc):%Y.%m.%d}"
        for line in out.splitlines():
            threading.Timer(self.ship_delay, self.es.index, (index, {"log": line, "agent": agent})).start()

    def _agent_on(self, node: str, namespace: str) -> str | None:
        for pod in self.api.objects("Pod"):
            owner = (pod["metadata"].get("ownerReferences") or [{}])[0]
            if owner.get("kind") == "DaemonSet" and pod["spec"].get("nodeName") == node \
                    and pod["metadata"]["namespace"] == namespace:
                return owner["name"]
        return None

    def _run_verifier(self, pod: dict) -> None:
        meta, container = pod["metadata"], pod["spec"]["containers"][0]
        with tempfile.TemporaryDirectory(prefix="kubelogs-verifier-") as tmp:
            env = {"PATH": os.environ["PATH"], "TMPDIR": tmp}
            for e in container.get("env", []):
                env[e["name"]] = self._env_value(e, meta["namespace"])
            result = subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=600)
        self.api.pod_logs[(meta["namespace"], meta["name"])] = result.stdout + result.stderr
        if self.api.get("Pod", meta["name"], meta["namespace"]) is not None:
            self.api.set_status("Pod", meta["name"], meta["namespace"],
                                {"phase": "Succeeded" if result.returncode == 0 else "Failed"})

    def _env_value(self, e: dict, namespace: str) -> str:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = self.api.get("Secret", ref["name"], namespace)
            return base64.b64decode(secret["data"][ref["key"]]).decode()
        value = e.get("value", "")
        for service, address in self.services.items():
            value = value.replace(service, address)
        return value
