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
        rows = [HEADINGS, *(r.cells() for r in self.nodes)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
        table = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        table.insert(1, "-+-".join("-" * w for w in widths))
        head = f"Elasticsearch: {self.health}, {self.es_nodes if self.es_nodes is not None else '?'} of {self.replicas} nodes" \
            + (f"; retention: {self.retention}" if self.retention else "")
        verdict = ["verify: OK"] if self.ok else ["verify: FAILED", *(f"- {p}" for p in self.problems)]
        kibana = [f"Kibana: {self.kibana}"] if self.kibana else []
        tls = [f"TLS: {self.tls}"] if self.tls else []
        return [head, *tls, *kibana, *self.notes, *table, *verdict]
