"""What the verify stage found, and the table it prints: at most a screenful however many nodes, failures
included (every node up to ``FULL_TABLE_NODES``; above, a summary line, the first ``MAX_PROBLEM_ROWS`` nodes
with a problem, and the problems many nodes share said once, with their count and a few of the nodes)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubelogs.verify.agent_metrics import AgentCounters


@dataclass
class NodeResult:
    node: str
    agent: str  # expected agent, or "none"
    agent_ready: bool
    agent_pod: str = ""  # the ready agent pod on the node
    found: bool = False
    canaried: bool = True  # whether this run put a canary on the node (verify.canary_nodes: a rotating sample)
    agent_ip: str = ""  # the ready agent pod's IP (where the verifier reads Fluent Bit's counters)
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
        missing = self.canaried and not self.found
        return self.agent == "none" or not self.agent_ready or missing or given_up or dead

    def cells(self) -> tuple[str, ...]:
        agent = self.agent + ("" if self.agent_ready or self.agent == "none" else " (not ready)")
        seconds = f"{self.seconds:.1f}" if self.seconds is not None else "-"
        if self.agent != "none" and not self.canaried:
            found = "not canaried this run"
        else:
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
MAX_PROBLEM_ROWS = 10  # ... and at most this many of them (the problems below name the rest by kind)
EXAMPLES = 3  # nodes named for a problem many share
_NODE_PROBLEM = re.compile(r"node (\S+): (.*)", re.S)


def grouped(messages: list[str], nodes: list[NodeResult]) -> list[str]:
    """``messages`` with those of the form "node X: ..." that say the same of several nodes (the same words
    once numbers, the node's name and its agent pod's are set aside) said once: with the count, the words
    of the first of them, and a few of the nodes. Other messages stay as they are, in their order."""
    pods = {r.node: r.agent_pod for r in nodes}
    out: list[str | list[tuple[str, str]]] = []
    groups: dict[str, list[tuple[str, str]]] = {}
    for message in messages:
        match = _NODE_PROBLEM.fullmatch(message)
        if not match:
            out.append(message)
            continue
        node, text = match.groups()
        key = re.sub(r"\d+", "#", text.replace(pods.get(node) or "\0", "<pod>").replace(node, "<node>"))
        if key not in groups:
            groups[key] = []
            out.append(groups[key])
        groups[key].append((node, text))
    lines = []
    for item in out:
        if isinstance(item, str):
            lines.append(item)
        elif len(item) == 1:
            lines.append(f"node {item[0][0]}: {item[0][1]}")
        else:
            names = [node for node, _ in item]
            more = f" and {len(names) - EXAMPLES} more" if len(names) > EXAMPLES else ""
            same = all(text == item[0][1] for _, text in item)
            lines.append(f"{len(names)} nodes: {item[0][1]}" + ("" if same else f" (words of node {names[0]})")
                         + f" (nodes {', '.join(names[:EXAMPLES])}{more})")
    return lines


@dataclass
class Report:
    health: str = "unknown"
    es_nodes: int | None = None
    replicas: int = 0  # data nodes (every node without dedicated masters)
    masters: int = 0  # dedicated masters (elasticsearch.masters): nodes too
    retention: str = ""  # what deletes old log indices, as found in the cluster
    log_names: list[str] = field(default_factory=list)  # logs with a daily index, as the verifier found them
    kibana: str = ""  # Kibana's status and its index patterns, as the verify stage found them
    tls: str = ""  # HTTPS and the earliest expiry of its certificates, as the verify stage found them
    nodes: list[NodeResult] = field(default_factory=list)
    canary_sample: str = ""  # how many nodes got a canary, where not every node did
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def expected_nodes(self) -> int:
        return self.replicas + self.masters

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        failing = [r for r in self.nodes if r.problem]
        shown = self.nodes if len(self.nodes) <= FULL_TABLE_NODES else failing[:MAX_PROBLEM_ROWS]
        rows = [HEADINGS, *(r.cells() for r in shown)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
        table = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        table.insert(1, "-+-".join("-" * w for w in widths))
        head = f"Elasticsearch: {self.health}, {self.es_nodes if self.es_nodes is not None else '?'} of {self.expected_nodes} nodes" \
            + (f"; retention: {self.retention}" if self.retention else "")
        verdict = ["verify: OK"] if self.ok else ["verify: FAILED", *(f"- {p}" for p in grouped(self.problems, self.nodes))]
        kibana = [f"Kibana: {self.kibana}"] if self.kibana else []
        tls = [f"TLS: {self.tls}"] if self.tls else []
        listed = "" if shown is self.nodes else (
            f" (only those are listed: more than {FULL_TABLE_NODES} nodes)" if len(shown) == len(failing)
            else f" (the first {len(shown)} are listed: more than {FULL_TABLE_NODES} nodes)")
        summary = (f"nodes: {len(self.nodes)}, {len(self.nodes) - len(failing)} fine, {len(failing)} with a problem"
                   + listed + (f"; {self.canary_sample}" if self.canary_sample else ""))
        if shown is not self.nodes and not failing:
            table = []
        return [head, *tls, *kibana, *grouped(self.notes, self.nodes), *table, summary, *verdict]
