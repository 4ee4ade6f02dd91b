"""What the verify stage found, and the table it prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelogs.verify.agent_metrics import AgentCounters


@dataclass
class NodeResult:
    node: str
    agent: str  # expected agent, or "none"
    agent_ready: bool
    agent_pod: str = ""  # the ready agent pod on the node
    found: bool = False
    seconds: float | None = None  # from the canary's start to its line being searchable
    note: str = ""
    counters: AgentCounters | None = None  # Fluent Bit's delivery counters (None: not read)
    dead_letters: dict[str, int] | None = None  # {"files", "kib"} on the node; None: none there or not read
    dead_letters_read: bool = False  # whether this run read the node's dead-letter directory
    unrouted: int | None = None  # lines from this node without pod metadata, in the unrouted index

    @property
    def problem(self) -> bool:
        """Whether this node's row shows something wrong (what the verify stage also reports as a problem)."""
        given_up = self.counters is not None and bool(self.counters.given_up)
        dead = self.dead_letters_read and bool((self.dead_letters or {}).get("files"))
        return self.agent == "none" or not self.agent_ready or not self.found or given_up or dead

    def cells(self) -> tuple[str, ...]:
        agent = self.agent + ("" if self.agent_ready or self.agent == "none" else " (not ready)")
        seconds = f"{self.seconds:.1f}" if self.seconds is not None else "-"
        found = "yes" if self.found else "no" + (f" ({self.note})" if self.note else "")
        retries = "-" if self.counters is None else str(self.counters.retries) + (
            f" ({self.counters.given_up} given up)" if self.counters.given_up else "")
        if not self.dead_letters_read:
            dead = "-"
        else:
            files = (self.dead_letters or {}).get("files", 0)
            dead = f"{files} ({self.dead_letters['kib']} KiB)" if files else "0"
        unrouted = "-" if self.unrouted is None else str(self.unrouted)
        return self.node, agent, found, seconds, retries, dead, unrouted


HEADINGS = ("node", "agent", "token found", "seconds to searchable", "retries", "dead letters", "unrouted")
# Above this many nodes the table shows only the nodes with a problem: a run on 1,000 nodes prints a screenful.
FULL_TABLE_NODES = 50


@dataclass
class Report:
    health: str = "unknown"
    es_nodes: int | None = None
    replicas: int = 0
    retention: str = ""  # what deletes old log indices, as found in the cluster
    log_names: list[str] = field(default_factory=list)  # logs with a daily index, as the verifier found them
    kibana: str = ""  # Kibana's status and its index patterns, as the verify stage found them
    tls: str = ""  # HTTPS and the earliest expiry of its certificates, as the verify stage found them
    nodes: list[NodeResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        failing = [r for r in self.nodes if r.problem]
        shown = self.nodes if len(self.nodes) <= FULL_TABLE_NODES else failing
        rows = [HEADINGS, *(r.cells() for r in shown)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
        table = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        table.insert(1, "-+-".join("-" * w for w in widths))
        head = f"Elasticsearch: {self.health}, {self.es_nodes if self.es_nodes is not None else '?'} of {self.replicas} nodes" \
            + (f"; retention: {self.retention}" if self.retention else "")
        verdict = ["verify: OK"] if self.ok else ["verify: FAILED", *(f"- {p}" for p in self.problems)]
        kibana = [f"Kibana: {self.kibana}"] if self.kibana else []
        tls = [f"TLS: {self.tls}"] if self.tls else []
        summary = f"nodes: {len(self.nodes)}, {len(self.nodes) - len(failing)} fine, {len(failing)} with a problem" + (
            f" (only those are listed: more than {FULL_TABLE_NODES} nodes)" if shown is not self.nodes else "")
        if shown is not self.nodes and not failing:
            table = []
        return [head, *tls, *kibana, *self.notes, *table, summary, *verdict]
