"""Lines lost and duplicated between a container and Elasticsearch when things go wrong: the real Fluent Bit
of the default image, run by the test kubelet on the real control plane with the rendered configuration,
against the fake Elasticsearch (and the sandbox's Services) with faults injected while an application
writes. Each line is unique, so what arrived is counted exactly: delivered (routed to its index, or kept
in the unrouted index), duplicated, lost.

Usage (from the repository root, $KUBELOGS_K8S_BIN and $KUBELOGS_FLUENT_BIT_BIN set as .ci/run sets them):
    python -m bench.loss                 # every case, full length (about 12 minutes)
    python -m bench.loss burst rotation  # some cases
    python -m bench.loss --scale 0.25    # every duration a quarter as long
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyinfra_cli  # noqa: F401, I001  (gevent patches ssl first, as in the tests)

from tests.support.cluster_helpers import deploy, settings_for
from tests.support.kubelet import write_container_log
from tests.support.log_traffic import DEFAULT_MAJOR, app_pod, log_file, messages, unrouted_messages, wait_for_replacement
from tests.support.tier import ClusterView, Tier, node_targets, start_tier

API_SERVICE = "kubernetes.default.svc"
DELIVERY_TIMEOUT = 240.0  # after the last line is written: retries back off at most 30 s


@dataclass
class Result:
    written: int
    delivered: int  # distinct lines found
    duplicated: int  # documents beyond one per line
    unrouted: int = 0  # of the delivered: kept in the unrouted index
    seconds: float = 0.0  # from the first line written to the last delivered

    @property
    def lost(self) -> int:
        return self.written - self.delivered


class App:
    """One application container on the case's node, writing unique lines to its CRI log file."""

    def __init__(self, view: ClusterView, name: str):
        self.view, self.name = view, name
        self.node = view.tier.kubelet.nodes[view.nodes[0].node]
        self.pod = app_pod(view, name, self.node.name, name)
        self.path = log_file(self.node, write_container_log(self.node, self.pod, "app", [f"{name} 0"]))
        self.lines = [f"{name} 0"]

    def write(self, count: int) -> None:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        new = [f"{self.name} {len(self.lines) + i}" for i in range(count)]
        with self.path.open("a") as log:
            log.write("".join(f"{stamp} stdout F {line}\n" for line in new))
        self.lines += new

    def write_for(self, seconds: float, per_second: int, events: dict[float, Callable[[], None]] = {},
                  rotate_every: int = 0) -> None:
        """Write ``per_second`` lines a second for ``seconds``; run each event at its second (in a thread, so
        the writing goes on); rename the file kubelet-style every ``rotate_every`` lines."""
        started, pending, written = time.monotonic(), sorted(events.items()), 0
        threads, next_rotation = [], rotate_every
        while (elapsed := time.monotonic() - started) < seconds:
            while pending and pending[0][0] <= elapsed:
                threads.append(threading.Thread(target=pending.pop(0)[1], daemon=True))
                threads[-1].start()
            if rotate_every and written >= next_rotation:  # kubelet renames; the runtime reopens 0.log
                os.rename(self.path, self.path.with_name(f"0.log.{time.time_ns()}"))
                next_rotation += rotate_every
            batch = max(1, per_second // 100)  # a batch every 10 ms
            self.write(batch)
            written += batch
            time.sleep(max(0.0, started + written / per_second - time.monotonic()))
        for thread in threads:
            thread.join()

    def found(self, es) -> tuple[list[str], list[str]]:
        return messages(es, self.name), unrouted_messages(es, self.name)

    def result(self, es, started: float) -> Result:
        """Wait until every line arrived (or the timeout); count."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        wanted = set(self.lines)
        while True:
            routed, unrouted = self.found(es)
            if wanted <= set(routed) | set(unrouted) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        time.sleep(5)  # anything sent twice comes now
        routed, unrouted = self.found(es)
        got = collections.Counter(routed + unrouted)
        return Result(len(self.lines), len(wanted & set(got)), sum(got.values()) - len(set(got)),
                      len(set(unrouted)), seconds)


def agent(view: ClusterView) -> tuple[dict, object]:
    """The Fluent Bit pod on the case's node, and the test kubelet's record of it."""
    node = view.nodes[0].node
    pod = next(p for p in view.pods("fluent-bit") if p["spec"]["nodeName"] == node)
    played = next(p for p in view.tier.kubelet.pods.values() if p.pod["metadata"]["uid"] == pod["metadata"]["uid"])
    return pod, played


def outage(es, start: float, seconds: float, status: int) -> dict[float, Callable[[], None]]:
    def begin() -> None:
        es.bulk_status = status

    def end() -> None:
        es.bulk_status = None

    return {start: begin, start + seconds: end}


def restart_during_outage(view: ClusterView, es, scale: float, stop: signal.Signals) -> Result:
    app, started = App(view, "restart"), time.monotonic()

    def restart() -> None:
        pod, played = agent(view)
        if stop == signal.SIGKILL:
            played.process.kill()  # no chance to flush anything
        view.admin.delete("Pod", pod["metadata"]["name"], view.namespace)  # SIGTERM, if still running
        wait_for_replacement(view, pod["spec"]["nodeName"], pod)

    events = outage(es, 10 * scale, 40 * scale, 503)
    events[25 * scale] = restart
    app.write_for(60 * scale, 100, events)
    return app.result(es, started)


def api_down(view: ClusterView, es, scale: float) -> Result:
    # One pod the agent has seen before the outage (its metadata is cached), one it has not.
    kubelet = view.tier.kubelet
    known = App(view, "known")
    view.wait_for("the known pod's first line", lambda: messages(es, "known"), timeout=60)
    new = App(view, "new")
    started = time.monotonic()
    kubelet.set_reachable(API_SERVICE, False)
    try:
        deadline = started + 60 * scale
        while time.monotonic() < deadline:
            known.write(1)
            new.write(1)
            time.sleep(0.02)
    finally:
        kubelet.set_reachable(API_SERVICE, True)
    known.write_for(10 * scale, 50)
    new.write(1)
    a, b = known.result(es, started), new.result(es, started)
    return Result(a.written + b.written, a.delivered + b.delivered, a.duplicated + b.duplicated,
                  a.unrouted + b.unrouted, max(a.seconds, b.seconds))


def burst(view: ClusterView, es, scale: float) -> Result:
    app = App(view, "burst")
    view.wait_for("the first line", lambda: messages(es, "burst"), timeout=60)
    started = time.monotonic()
    app.write(int(200_000 * min(scale, 1.0)))
    return app.result(es, started)


CASES: dict[str, tuple[str, Callable[[ClusterView, object, float], Result]]] = {
    "es-down": ("Elasticsearch down 60 s (every bulk request 503), 100 lines/s for 90 s",
                lambda v, es, s: run_writer(v, es, 90 * s, 100, outage(es, 10 * s, 60 * s, 503))),
    "429": ("Elasticsearch answers 429 for 30 s, 100 lines/s for 60 s",
            lambda v, es, s: run_writer(v, es, 60 * s, 100, outage(es, 10 * s, 30 * s, 429))),
    "sigterm": ("agent SIGTERM during a 40 s outage, 100 lines/s for 60 s",
                lambda v, es, s: restart_during_outage(v, es, s, signal.SIGTERM)),
    "sigkill": ("agent SIGKILL during a 40 s outage, 100 lines/s for 60 s",
                lambda v, es, s: restart_during_outage(v, es, s, signal.SIGKILL)),
    "api-down": ("Kubernetes API down 60 s for the agent (a seen pod and a new one, 50 lines/s each)", api_down),
    # The kubelet checks a log's size every 10 s (containerLogMonitorInterval), so it renames a file at most
    # that often; `rotation-4s` renames one faster than Fluent Bit's 5 s scan finds it (its known limit).
    "rotation": ("kubelet-style rotation every 10 s (5,000 lines) at 500 lines/s for 40 s",
                 lambda v, es, s: run_writer(v, es, 40 * s, 500, rotate_every=5000)),
    "rotation-4s": ("rotation every 4 s (2,000 lines) at 500 lines/s for 20 s, faster than a kubelet rotates",
                    lambda v, es, s: run_writer(v, es, 20 * s, 500, rotate_every=2000)),
    "burst": ("a 200,000-line burst, written at once", burst),
}


def run_writer(view: ClusterView, es, seconds: float, per_second: int,
               events: dict[float, Callable[[], None]] = {}, rotate_every: int = 0) -> Result:
    app, started = App(view, "app"), time.monotonic()
    app.write_for(seconds, per_second, events, rotate_every)
    return app.result(es, started)


def measure(tier: Tier, case: str, scale: float) -> Result:
    view = ClusterView(tier)
    try:
        view.nodes = node_targets(view, [("n1", "containerd", True)])
        es = view.serve_elasticsearch(major=DEFAULT_MAJOR)
        deploy(view, settings_for(view, elasticsearch={"replicas": 1}))
        return CASES[case][1](view, es, scale)
    finally:
        view.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help=f"default: every case ({', '.join(CASES)})")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every duration (and the burst, up to 1)")
    args = parser.parse_args()
    cases = args.cases or list(CASES)
    if unknown := [c for c in cases if c not in CASES]:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"Fluent Bit of the default image, scale {args.scale:g}")
    print("| case | lines written | delivered | duplicated | lost | notes |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="kubelogs-bench-") as workdir:
        tier = start_tier(Path(workdir))
        try:
            for case in cases:
                r = measure(tier, case, args.scale)
                notes = [f"{r.unrouted} kept in the unrouted index" if r.unrouted else "",
                         f"{r.written / r.seconds:,.0f} lines/s end to end" if case == "burst" else
                         f"last line delivered {r.seconds:.0f} s after the first was written"]
                print(f"| {CASES[case][0]} | {r.written:,} | {r.delivered:,} | {r.duplicated:,} | {r.lost:,} | "
                      f"{'; '.join(n for n in notes if n)} |", flush=True)
        finally:
            tier.stop()


if __name__ == "__main__":
    main()
