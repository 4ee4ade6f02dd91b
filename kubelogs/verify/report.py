"""What the verify stage found, and the table it prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NodeResult:
    node: str
    agent: str  # expected agent, or "none"
    agent_ready: bool
    found: bool = False
    seconds: float | None = None  # from the canary's start to its line being searchable
    note: str = ""


@dataclass
class Report:
    health: str = "unknown"
    es_nodes: int | None = None
    replicas: int = 0
    retention: str = ""  # what deletes old log indices, as found in the cluster
    nodes: list[NodeResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        rows = [("node", "agent", "token found", "seconds to searchable")]
        for r in self.nodes:
            agent = r.agent + ("" if r.agent_ready or r.agent == "none" else " (not ready)")
            seconds = f"{r.seconds:.1f}" if r.seconds is not None else "-"
            rows.append((r.node, agent, "yes" if r.found else "no" + (f" ({r.note})" if r.note else ""), seconds))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        table = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        table.insert(1, "-+-".join("-" * w for w in widths))
        head = f"Elasticsearch: {self.health}, {self.es_nodes if self.es_nodes is not None else '?'} of {self.replicas} nodes" \
            + (f"; retention: {self.retention}" if self.retention else "")
        verdict = ["verify: OK"] if self.ok else ["verify: FAILED", *(f"- {p}" for p in self.problems)]
        return [head, *self.notes, *table, *verdict]
