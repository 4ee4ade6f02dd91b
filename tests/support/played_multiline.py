"""Fluent Bit's regex multiline engine, as its ``multiline`` filter runs the parsers of a rendered configuration,
for the played agent (tests/support/played_fluent_bit.py) where the real binary cannot run.

A port of Fluent Bit's own code, not of a reading of its documentation:
- ``src/multiline/flb_ml_rule.c``: ``flb_ml_rule_process`` (a group open: the first rule among those that
  start from the last matched rule's to-state, start states skipped, whose regex matches, appends the line,
  with ``"\\n"`` between lines; none: the first ``start_state`` rule that matches flushes what the group held
  and opens a new group; a matched rule whose to-state is also a start state flushes at once: the built-in
  python parser's duplicate), ``try_flushing_buffer``, ``set_to_state_map``;
- ``src/multiline/flb_ml.c``: ``flb_ml_append_object`` (the stream's last successful parser is tried first,
  then the others in the configured order; a line no parser takes flushes the stream's pending groups and
  goes out unchanged, at once);
- ``plugins/filter_multiline/ml.c``: a pending group goes out when the flush timer fires (``flush_ms``);
  here, at the end of each batch of lines the test writes (``join``).

Regexes are Python's ``re`` with ``search`` (Fluent Bit's Onigmo ``onig_search``, Ruby syntax: the same for the
constructs the rendered rules use: classes, groups, ``\\d``, ``\\s``, ``\\w``, ``\\b``, anchors on one line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.support.fluent_bit_schema import multiline_rule, read_config


@dataclass
class Rule:
    from_states: list[str]
    regex: re.Pattern
    to_state: str
    to_state_map: list[Rule] = field(default_factory=list)  # the rules that start from to_state

    @property
    def start_state(self) -> bool:
        return "start_state" in self.from_states


@dataclass
class Parser:
    name: str
    rules: list[Rule]

    def __post_init__(self) -> None:  # set_to_state_map
        for rule in self.rules:
            rule.to_state_map = [r for r in self.rules if rule.to_state in r.from_states]


@dataclass
class _Group:
    buf: str = ""
    rule: Rule | None = None


def parsers(files: Mapping[str, str], parsers_file: str, names: list[str]) -> list[Parser]:
    """The [MULTILINE_PARSER] sections of ``parsers_file`` that ``names`` (multiline.parser) lists, in that order."""
    sections, problems = read_config(files, parsers_file, parsers_file=True)
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    found = {}
    for section in sections:
        if section.name != "MULTILINE_PARSER":
            continue
        rules = []
        for entry in section.entries:
            if entry.key.lower() == "rule":
                rule = multiline_rule(entry.value)
                if rule is None:
                    raise ValueError(f"rule {entry.value!r} is not three quoted tokens")
                rules.append(Rule(rule[0], re.compile(rule[1]), rule[2]))
        found[section.get("name")] = Parser(section.get("name") or "", rules)
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"multiline.parser names {missing}, which no [MULTILINE_PARSER] defines")
    return [found[n] for n in names]


def _process(parser: Parser, group: _Group, line: str, out: list[str]) -> bool:
    """flb_ml_rule_process: whether the parser took the line; what it flushed goes to ``out``."""
    rule = None
    if group.rule is not None:
        for candidate in group.rule.to_state_map:
            if candidate.start_state:
                continue
            if candidate.regex.search(line):
                if group.buf and not group.buf.endswith("\n"):
                    group.buf += "\n"
                group.buf += line if line else "\n"
                rule = candidate
                break
    if rule is None:
        rule = next((r for r in parser.rules if r.start_state and r.regex.search(line)), None)
        if rule is not None:
            if group.buf:
                out.append(group.buf)
            group.buf, group.rule = line, rule
    if rule is None:
        return False
    group.rule = rule
    if group.buf and any(r.start_state for r in rule.to_state_map):  # try_flushing_buffer
        out.append(group.buf)
        group.buf = ""
    return True


def join(chain: list[Parser], lines: list[str], flush: bool = True) -> list[str]:
    """The contents the filter sends on for one stream's ``lines``, then (``flush``) what the flush timer
    sends: without it, only what went out at once."""
    groups = {p.name: _Group() for p in chain}
    lru: Parser | None = None
    out: list[str] = []
    for line in lines:
        order = [lru, *(p for p in chain if p is not lru)] if lru else chain
        taken = next((p for p in order if _process(p, groups[p.name], line, out)), None)
        if taken is not None:
            lru = taken
            continue
        for p in chain:  # no parser takes it: what is pending goes first, then the line, unchanged
            if groups[p.name].buf:
                out.append(groups[p.name].buf)
                groups[p.name].buf = ""
        out.append(line)
    if flush:  # the flush timer
        out += [groups[p.name].buf for p in chain if groups[p.name].buf]
    return out
