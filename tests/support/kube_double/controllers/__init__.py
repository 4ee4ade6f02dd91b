"""The controllers the tests rely on, run in one loop as kube-controller-manager and kube-scheduler run
theirs: woken by every write, and every quarter second for what waits on time."""

from __future__ import annotations

import threading
import traceback

from tests.support.kube_double.controllers import deployments, garbage, jobs, namespaces, scheduler, statefulsets
from tests.support.kube_double.controllers.daemonsets import DaemonSets
from tests.support.kube_double.controllers.nodes import NodeLifecycle

TICK_SECONDS = 0.25


class ControllerManager:
    def __init__(self, store, ca_pem: str):
        self.store, self.ca_pem = store, ca_pem
        self._stop = threading.Event()
        daemonsets, lifecycle = DaemonSets(), NodeLifecycle()
        # Order within a pass only saves passes: each controller reads what the others wrote.
        self.controllers = [
            ("namespace", lambda s: namespaces.reconcile(s, self.ca_pem)), ("node-lifecycle", lifecycle.reconcile),
            ("garbage-collector", garbage.reconcile), ("deployment", deployments.reconcile_deployments),
            ("replicaset", deployments.reconcile_replicasets), ("daemonset", daemonsets.reconcile),
            ("statefulset", statefulsets.reconcile), ("job", jobs.reconcile), ("scheduler", scheduler.reconcile),
        ]
        self.errors: list[str] = []

    def start(self) -> ControllerManager:
        threading.Thread(target=self._loop, name="controllers", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self.store.lock:
            self.store.changed.notify_all()

    def run_once(self) -> None:
        for name, reconcile in self.controllers:
            with self.store.lock:
                try:
                    reconcile(self.store)
                except Exception:  # one controller's bug must not stop the others; it is kept for the tests
                    self.errors.append(f"{name}: {traceback.format_exc()}")
                    del self.errors[:-20]

    def _loop(self) -> None:
        seen = -1
        while not self._stop.is_set():
            with self.store.lock:
                if self.store.writes == seen:
                    self.store.changed.wait(TICK_SECONDS)
                seen = self.store.writes
            self.run_once()
