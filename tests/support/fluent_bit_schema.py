"""Check a classic-format Fluent Bit configuration against the schema the real binary of a version prints.

What is checked, and against what:

- ``[INPUT]``, ``[FILTER]``, ``[OUTPUT]``, ``[CUSTOM]``: the plugin (``Name``) must be in the schema file of
  that version (``fluent-bit -J``: ``../shared/data/fluent-bit/schema-<version>.json``). A plugin the file
  lacks is reported as "cannot be checked against this schema", never passed. Each key must be a property
  of the plugin in any group the file lists (``options``, ``global_options``, ``networking``,
  ``network_tls``; case-insensitive; a ``prefixed string`` property matches the longer keys that start with
  it), or one of the instance properties Fluent Bit's core sets on every plugin of the kind
  (``CORE_PROPERTIES``: 3.2.10 prints none of them, 5.1.1 prints most as ``global_options``). Each value
  must parse as the property's type as Fluent Bit's parsers read it (``flb_utils_bool``,
  ``flb_utils_size_to_bytes``, ``flb_utils_time_to_seconds``), stricter where Fluent Bit reads garbage
  silently (``atoi``/``atof``: ``Retry_Limit abc`` is 0 there, a problem here). Deprecated properties are
  reported. A filter or output without ``Match``/``Match_Regex`` receives nothing and is reported.
- ``[SERVICE]``: its keys are not in the schema files. They are checked against ``SERVICE_PROPERTIES``, an
  explicit list naming the Fluent Bit documentation page of each key and the first version it is known in.
  Fluent Bit itself ignores an unknown ``[SERVICE]`` key silently, so this list is their only check.
- ``[PARSER]``/``[MULTILINE_PARSER]``: Fluent Bit rejects them in the main file (reported). In a parsers
  file, the schema files have no parser section: a ``[PARSER]`` is reported as uncheckable; a
  ``[MULTILINE_PARSER]`` is checked against ``MULTILINE_PARSER_KEYS`` (the documented keys) and the rules
  Fluent Bit applies when it loads one (src/multiline/flb_ml_rule.c): each ``rule`` is three quoted
  tokens, a from-state list, a ``/regex/`` and a to-state; every to-state must be some rule's from-state
  ("to_state ... is not registered"); a parser needs a ``start_state`` rule; each regex must compile
  (Python's ``re``, close to Onigmo's Ruby syntax for the constructs used).
- ``@INCLUDE`` (a file of the same mapping, such as a ConfigMap's) and ``@SET`` variables are followed.
  A typed value that still depends on an environment variable (``${ES_USER}``) is reported as uncheckable.

Not checked: keys repeated in one section (the schema does not say which properties may repeat), the
contents of string properties (paths, record accessors, regular expressions), and routing (whether a
``Match`` selects any tag).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubelogs import compatibility as compat
from kubelogs.manifests import fluent_bit
from tests.support.shared import shared


Version = tuple[int, int, int]

# Section name in the classic format -> its list in the schema file.
PLUGIN_SECTIONS = {"INPUT": "inputs", "FILTER": "filters", "OUTPUT": "outputs", "CUSTOM": "customs"}
PARSER_SECTIONS = ("PARSER", "MULTILINE_PARSER")

# flb_utils_bool (src/flb_utils.c): the only spellings it reads; anything else is -1 (an error for a plugin
# property, a silent "not true" for a [SERVICE] one).
BOOLEAN_TRUE = ("true", "on", "yes")
BOOLEAN_FALSE = ("false", "off", "no")
# flb_log_get_level_str / set_log_level (src/flb_log.c, src/flb_config.c).
LOG_LEVELS = ("off", "error", "warn", "warning", "info", "debug", "trace")

# Instance properties that Fluent Bit's core takes before the plugin sees its keys, for every plugin of the
# kind (fluent/fluent-bit src/flb_input.c flb_input_set_property, src/flb_filter.c flb_filter_set_property,
# src/flb_output.c flb_output_set_property). `fluent-bit -J` of 3.2.10 prints none of them; 5.1.1 prints
# `global_options` without the output's storage.total_limit_size and workers. Network keys (host, port,
# listen, net.*, tls*) are left out on purpose: the schema lists them for the plugins that use them.
# Their types here are the core's parsing, which wins over the printed type (5.1.1 prints retry_limit as
# "string"; the core reads a count or one of four words). Match/Match_Regex are no input keys (the input's
# function has none; 5.1.1's input global_options neither). Only keys read in those functions are listed: one
# missing here is reported, never passed.
CORE_PROPERTIES: dict[str, dict[str, str]] = {
    "INPUT": {"tag": "string", "alias": "string", "log_level": "log level", "routable": "boolean",
              "mem_buf_limit": "size", "storage.type": "storage type", "storage.pause_on_chunks_overlimit": "boolean",
              "threaded": "boolean"},
    "FILTER": {"match": "string", "match_regex": "string", "alias": "string", "log_level": "log level"},
    "OUTPUT": {"match": "string", "match_regex": "string", "alias": "string", "log_level": "log level",
               "log_suppress_interval": "time", "retry_limit": "retry limit", "storage.total_limit_size": "size",
               "workers": "integer"},
}


@dataclass(frozen=True)
class ServiceKey:
    type: str
    since: Version | None  # first version known to have it; None: every version these schemas cover


_DOCS_5_1 = (5, 1, 0)  # the version the current service-section page describes
# [SERVICE] keys, by the Fluent Bit documentation page that lists each (fluent/fluent-bit-docs).
SERVICE_PROPERTIES: dict[str, ServiceKey] = {
    # administration/configuring-fluent-bit/classic-mode/configuration-file.md, "Service" (from 1.8.7 on).
    "flush": ServiceKey("double", None),
    "grace": ServiceKey("integer", None),
    "daemon": ServiceKey("boolean", None),
    "dns.mode": ServiceKey("string", None),
    "log_file": ServiceKey("string", None),
    "log_level": ServiceKey("log level", None),
    "parsers_file": ServiceKey("string", None),
    "plugins_file": ServiceKey("string", None),
    "streams_file": ServiceKey("string", None),
    "http_server": ServiceKey("boolean", None),
    "http_listen": ServiceKey("string", None),
    "http_port": ServiceKey("integer", None),
    "coro_stack_size": ServiceKey("integer", None),
    "scheduler.cap": ServiceKey("integer", None),
    "scheduler.base": ServiceKey("integer", None),
    "json.convert_nan_to_null": ServiceKey("boolean", None),
    "sp.convert_from_str_to_num": ServiceKey("boolean", None),
    # administration/monitoring.md, "Health check for Fluent Bit".
    "health_check": ServiceKey("boolean", None),
    "hc_errors_count": ServiceKey("integer", None),
    "hc_retry_failure_count": ServiceKey("integer", None),
    "hc_period": ServiceKey("integer", None),
    # administration/buffering-and-storage.md, "Service section configuration".
    "storage.path": ServiceKey("string", None),
    "storage.sync": ServiceKey("storage sync", None),
    "storage.checksum": ServiceKey("boolean", None),
    "storage.metrics": ServiceKey("boolean", None),
    "storage.backlog.mem_limit": ServiceKey("size", None),
    "storage.max_chunks_up": ServiceKey("integer", None),
    # administration/hot-reload.md.
    "hot_reload": ServiceKey("boolean", None),
    # The dead-letter queue: administration/configuring-fluent-bit/yaml/service-section.md ("Storage
    # configuration") and administration/dead-letter-queue.md; from the version the project relies on.
    "storage.keep.rejected": ServiceKey("boolean", compat.FLUENT_BIT_DEAD_LETTERS_FROM),
    "storage.rejected.path": ServiceKey("string", compat.FLUENT_BIT_DEAD_LETTERS_FROM),
    # Same page (5.1 docs), and measured on 5.1.1 (../shared/notes/fluent-bit.md); first version not found.
    "storage.rejected.limit": ServiceKey("size", _DOCS_5_1),
    # Same page (5.1 docs); their first versions were not looked up, so they count from 5.1 only.
    "dns.resolver": ServiceKey("string", _DOCS_5_1),
    "dns.prefer_ipv4": ServiceKey("boolean", _DOCS_5_1),
    "dns.prefer_ipv6": ServiceKey("boolean", _DOCS_5_1),
    "enable_chunk_trace": ServiceKey("boolean", _DOCS_5_1),
    "hot_reload.ensure_thread_safety": ServiceKey("boolean", _DOCS_5_1),
    "hot_reload.timeout": ServiceKey("integer", _DOCS_5_1),
    "json.escape_unicode": ServiceKey("boolean", _DOCS_5_1),
    "multiline_buffer_limit": ServiceKey("size", _DOCS_5_1),
    "storage.backlog.flush_on_shutdown": ServiceKey("boolean", _DOCS_5_1),
    "storage.delete_irrecoverable_chunks": ServiceKey("boolean", _DOCS_5_1),
    "storage.inherit": ServiceKey("boolean", _DOCS_5_1),
    "storage.trim_files": ServiceKey("boolean", _DOCS_5_1),
    "storage.type": ServiceKey("storage type", _DOCS_5_1),
    "flush.adaptive": ServiceKey("boolean", _DOCS_5_1),
    "flush.adaptive.down_steps": ServiceKey("integer", _DOCS_5_1),
    "flush.adaptive.up_steps": ServiceKey("integer", _DOCS_5_1),
    "flush.adaptive.low_pressure": ServiceKey("integer", _DOCS_5_1),
    "flush.adaptive.medium_pressure": ServiceKey("integer", _DOCS_5_1),
    "flush.adaptive.high_pressure": ServiceKey("integer", _DOCS_5_1),
    "flush.adaptive.min_interval": ServiceKey("double", _DOCS_5_1),
    "flush.adaptive.max_interval": ServiceKey("double", _DOCS_5_1),
    "security.fips_mode": ServiceKey("boolean", _DOCS_5_1),
}


@dataclass(frozen=True)
class Property:
    name: str  # as the schema spells it
    type: str
    group: str  # the schema's group (options, global_options, ...), or "core"


@dataclass(frozen=True)
class Schema:
    """One version's plugins: section (INPUT...) -> plugin name -> lower-case key -> property."""

    version: Version
    plugins: dict[str, dict[str, dict[str, Property]]]
    source: str

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def load_schema(path: Path) -> Schema:
    """A schema file as `fluent-bit -J` printed it (see ../shared/data/README.md)."""
    raw = json.loads(path.read_text())
    plugins: dict[str, dict[str, dict[str, Property]]] = {}
    for section, kind in PLUGIN_SECTIONS.items():
        plugins[section] = {}
        for plugin in raw.get(kind, []):
            props: dict[str, Property] = {}
            for group, entries in plugin["properties"].items():
                for entry in entries:
                    props.setdefault(entry["name"].lower(), Property(entry["name"], entry["type"], group))
            plugins[section][plugin["name"].lower()] = props
    return Schema(compat.parse_version(raw["fluent-bit"]["version"]), plugins, str(path))


@lru_cache(maxsize=None)
def schema_for(version: str) -> Schema:
    """The schema of a Fluent Bit version (fails naming the file when it is missing)."""
    path = shared("data", "fluent-bit") / f"schema-{version}.json"  # as the real binaries printed them
    if not path.is_file():
        raise FileNotFoundError(f"no Fluent Bit {version} schema at {path} (see ../shared/data/README.md)")
    return load_schema(path)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    section: str  # e.g. "OUTPUT es", "SERVICE"
    key: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} [{self.section}] {self.key} {self.value!r}: {self.message}"


@dataclass
class Entry:
    key: str
    value: str
    line: int


@dataclass
class Section:
    name: str  # upper case: SERVICE, INPUT, ...
    file: str
    line: int
    entries: list[Entry] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        """The last value of a key (case-insensitive), as Fluent Bit keeps it."""
        values = [e.value for e in self.entries if e.key.lower() == key.lower()]
        return values[-1] if values else None

    @property
    def label(self) -> str:
        name = self.get("name") if self.name in PLUGIN_SECTIONS else None
        return f"{self.name} {name}" if name else self.name


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_config(files: Mapping[str, str], main: str, *,
                parsers_file: bool = False) -> tuple[list[Section], list[Problem]]:
    """The sections of ``main`` (a name in ``files``) with its @INCLUDEs, @SET variables substituted, and
    the problems of the format itself (indentation, keys without a value or section)."""
    sections: list[Section] = []
    problems: list[Problem] = []
    variables: dict[str, str] = {}
    _read(files, main, sections, problems, variables, stack=())
    for section in sections:
        for entry in section.entries:
            entry.value = _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), entry.value)
    for section in sections:
        if section.name in PARSER_SECTIONS and not parsers_file:
            problems.append(Problem(section.file, section.line, section.name, "", "",
                                    "a parser section in the main file: Fluent Bit refuses it there "
                                    "(it belongs in a parsers_file)"))
    return sections, problems


def _read(files: Mapping[str, str], name: str, sections: list[Section], problems: list[Problem],
          variables: dict[str, str], stack: tuple[str, ...]) -> None:
    indent: str | None = None
    section: Section | None = None
    for number, raw in enumerate(files[name].splitlines(), 1):
        line = raw.rstrip()
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        lead = line[: len(line) - len(stripped)]
        where = section.label if section else ""
        if stripped.startswith("@"):
            command, _, argument = stripped.partition(" ")
            argument = argument.strip()
            if lead:
                problems.append(Problem(name, number, where, command, argument, "a @command must start its line"))
            elif command.upper() == "@SET":
                key, equals, value = argument.partition("=")
                if equals and key.strip():
                    variables[key.strip()] = value.strip()
                else:
                    problems.append(Problem(name, number, where, command, argument, "not of the form key=value"))
            elif command.upper() == "@INCLUDE":
                included = sorted(f for f in files if fnmatch.fnmatch(f, posixpath.basename(argument)))
                if not included:
                    problems.append(Problem(name, number, where, command, argument,
                                            "includes no file of the configuration"))
                for target in included:
                    if target in stack or target == name:
                        problems.append(Problem(name, number, where, command, argument, "includes itself"))
                    else:
                        _read(files, target, sections, problems, variables, (*stack, name))
                section, indent = None, None  # Fluent Bit: an include ends the section
            else:
                problems.append(Problem(name, number, where, command, argument, "unknown @command"))
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", stripped)
        if header:
            if lead:
                problems.append(Problem(name, number, header.group(1), "", "", "a section header must not be indented"))
            section, indent = Section(header.group(1).strip().upper(), name, number), None
            sections.append(section)
            continue
        key, _, value = stripped.partition(" ")
        key, value = key.strip(), value.strip()
        if section is None:
            problems.append(Problem(name, number, "", key, value, "a key outside any section"))
            continue
        if not lead:
            problems.append(Problem(name, number, where, key, value, "a key must be indented under its section"))
        elif indent is None:
            indent = lead
        elif lead != indent:
            problems.append(Problem(name, number, where, key, value,
                                    f"indented {lead!r}, the section's first key {indent!r}: Fluent Bit refuses "
                                    "mixed indentation"))
        if not value:
            problems.append(Problem(name, number, where, key, value, "has no value"))
        section.entries.append(Entry(key, value, number))


def rendered_files(objects: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], str]:
    """The Fluent Bit ConfigMap's files in rendered objects (``render_all``), and the name of the one the
    container starts with (``-c``, in the directory the ConfigMap is mounted at)."""
    [config_map] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == fluent_bit.CONFIG_MAP]
    [daemon_set] = [o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == fluent_bit.NAME]
    command = daemon_set["spec"]["template"]["spec"]["containers"][0]["command"]
    directory, _, main = command[command.index("-c") + 1].rpartition("/")
    assert directory == fluent_bit.CONFIG_DIR, f"the config is read from {directory}, not the ConfigMap's mount"
    return dict(config_map["data"]), main


def check_config(files: Mapping[str, str], main: str, schema: Schema) -> list[Problem]:
    """Every problem of the configuration ``main`` (a name in ``files``, e.g. a ConfigMap's data)
    against ``schema``; [] when it is valid."""
    sections, problems = read_config(files, main)
    for section in sections:
        if section.name == "SERVICE":
            problems += _check_service(section, schema)
            problems += _check_parsers_files(section, files)
        elif section.name in PLUGIN_SECTIONS:
            problems += _check_plugin(section, schema)
        elif section.name not in PARSER_SECTIONS:
            problems.append(Problem(section.file, section.line, section.name, "", "", "unknown section"))
    return problems


# administration/configuring-fluent-bit/multiline-parsing.md, "Configuration parameters" (all these versions).
MULTILINE_PARSER_KEYS = {"name": "string", "type": "string", "parser": "string", "key_content": "string",
                         "key_pattern": "string", "key_group": "string", "flush_timeout": "integer",
                         "rule": "rule"}
_RULE = re.compile(r'"([^"]+)"\s+"/(.*)/"\s+"([^"]+)"')


def multiline_rule(value: str) -> tuple[list[str], str, str] | None:
    """A ``rule`` line's (from-states, regex without its slashes, to-state), or None when it is not three
    quoted tokens with the regex between slashes."""
    match = _RULE.fullmatch(value)
    return ([s.strip() for s in match.group(1).split(",")], match.group(2), match.group(3)) if match else None


def _check_multiline_parser(section: Section) -> list[Problem]:
    problems: list[Problem] = []

    def problem(entry: Any, message: str) -> None:
        problems.append(Problem(section.file, entry.line, section.label, entry.key, entry.value, message))

    rules: list[tuple[Any, list[str], str]] = []
    for entry in section.entries:
        kind = MULTILINE_PARSER_KEYS.get(entry.key.lower())
        if kind is None:
            problem(entry, "not a [MULTILINE_PARSER] key")
        elif entry.key.lower() == "type" and entry.value not in ("regex", "endswith", "equal"):
            problem(entry, "type must be regex, endswith or equal")
        elif kind == "integer" and not entry.value.isdigit():
            problem(entry, "not an integer (milliseconds)")
        elif kind == "rule":
            rule = multiline_rule(entry.value)
            if rule is None:
                problem(entry, 'not of the form "from_states" "/regex/" "to_state"')
                continue
            try:
                re.compile(rule[1])
            except re.error as e:
                problem(entry, f"the regex does not compile: {e}")
            rules.append((entry, rule[0], rule[2]))
    registered = {state for _, states, _ in rules for state in states}
    for entry, _, to_state in rules:
        if to_state not in registered:
            problem(entry, f"to_state={to_state!r} is not registered (no rule starts from it)")
    if section.get("type") == "regex" and not any("start_state" in states for _, states, _ in rules):
        problems.append(Problem(section.file, section.line, section.label, "rule", "", "no start_state rule"))
    if not section.get("name"):
        problems.append(Problem(section.file, section.line, section.label, "name", "", "a parser needs a name"))
    return problems


def _check_parsers_files(service: Section, files: Mapping[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    for entry in service.entries:
        if entry.key.lower() != "parsers_file":
            continue
        name = posixpath.basename(entry.value)
        if name not in files:
            problems.append(Problem(service.file, entry.line, "SERVICE", entry.key, entry.value,
                                    "cannot be checked: the parsers file is not among the configuration's files"))
            continue
        sections, read_problems = read_config(files, name, parsers_file=True)
        problems += read_problems
        for s in sections:
            if s.name == "MULTILINE_PARSER":
                problems += _check_multiline_parser(s)
            else:
                problems.append(Problem(s.file, s.line, s.label, "", "",
                                        "cannot be checked against this schema: the schema files have no parser sections"))
    return problems


def _check_service(section: Section, schema: Schema) -> list[Problem]:
    problems: list[Problem] = []
    for entry in section.entries:
        known = SERVICE_PROPERTIES.get(entry.key.lower())
        if known is None or (known.since is not None and schema.version < known.since):
            since = f" (known from {'.'.join(map(str, known.since))})" if known and known.since else ""
            problems.append(Problem(section.file, entry.line, "SERVICE", entry.key, entry.value,
                                    f"not a [SERVICE] key of Fluent Bit {schema.version_text}{since}; Fluent Bit "
                                    "ignores unknown [SERVICE] keys silently"))
            continue
        message = value_problem(known.type, entry.value, schema.version)
        if message:
            problems.append(Problem(section.file, entry.line, "SERVICE", entry.key, entry.value, message))
    return problems


def _check_plugin(section: Section, schema: Schema) -> list[Problem]:
    name = section.get("name")
    if not name:
        return [Problem(section.file, section.line, section.name, "Name", "", "the section names no plugin")]
    plugins = schema.plugins[section.name]
    props = plugins.get(name.lower())
    if props is None:
        known = ", ".join(sorted(plugins)) or "none"
        return [Problem(section.file, section.line, section.label, "Name", name,
                        f"plugin {name!r} cannot be checked against this schema: the Fluent Bit "
                        f"{schema.version_text} schema ({schema.source}) has only these {section.name} plugins: "
                        f"{known}")]
    problems: list[Problem] = []
    core = {key: Property(key, type_, "core") for key, type_ in CORE_PROPERTIES.get(section.name, {}).items()}
    for entry in section.entries:
        key = entry.key.lower()
        if key == "name":
            continue
        prop = core.get(key) or props.get(key) or _prefixed(props, key)
        if prop is None:
            problems.append(Problem(section.file, entry.line, section.label, entry.key, entry.value,
                                    f"unknown property of {section.name} plugin {name!r} in Fluent Bit "
                                    f"{schema.version_text}"))
            continue
        message = value_problem(prop.type, entry.value, schema.version)
        if message:
            problems.append(Problem(section.file, entry.line, section.label, entry.key, entry.value, message))
    if section.name in ("FILTER", "OUTPUT") and not (section.get("match") or section.get("match_regex")):
        problems.append(Problem(section.file, section.line, section.label, "Match", "",
                                "no Match or Match_Regex: the section receives no records"))
    return problems


def _prefixed(props: Mapping[str, Property], key: str) -> Property | None:
    """A `prefixed string` property (e.g. tail's `parser_`) matches the longer keys that start with it."""
    return next((p for name, p in props.items()
                 if p.type == "prefixed string" and key.startswith(name) and len(key) > len(name)), None)


_INTEGER = re.compile(r"[+-]?\d+")
_DOUBLE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_SIZE = re.compile(r"\d+(\.\d+)?([KMG]B?)?", re.IGNORECASE)  # flb_utils_size_to_bytes: K/M/G, optional B
_TIME = re.compile(r"\d+[SMHD]?", re.IGNORECASE)  # flb_utils_time_to_seconds: a whole number, s/m/h/d
_SPACE_LIST = re.compile(r"space delimited strings \(minimum (\d+)\)")


def value_problem(type_: str, value: str, version: Version) -> str | None:
    """Why ``value`` is not a valid value of the schema type ``type_`` in Fluent Bit ``version`` (None when it
    is)."""
    if type_ == "deprecated":
        return "deprecated property"
    if type_ in ("string", "prefixed string"):
        return None
    if _VARIABLE.search(value):
        return f"cannot be checked: the {type_} value depends on an environment variable"
    if type_ == "boolean":
        if value.lower() in BOOLEAN_TRUE + BOOLEAN_FALSE:
            return None
        return f"not a boolean: Fluent Bit reads only {', '.join(BOOLEAN_TRUE + BOOLEAN_FALSE)} (any case)"
    if type_ == "integer":
        return None if _INTEGER.fullmatch(value) else "not an integer"
    if type_ == "double":
        return None if _DOUBLE.fullmatch(value) else "not a number"
    if type_ == "size":
        if value.lower() == "false" or _SIZE.fullmatch(value):
            return None
        return "not a size: a number with an optional K, M or G (and B), such as 5M, 256k or 16MB; or False"
    if type_ == "time":
        if _TIME.fullmatch(value):
            return None
        return "not a time: a whole number with an optional s, m, h or d, such as 5s or 1m"
    if type_ == "multiple comma delimited strings":
        return None if all(part.strip() for part in value.split(",")) else "an empty item in a comma-delimited list"
    if (minimum := _SPACE_LIST.fullmatch(type_)) is not None:
        count = len(value.split())
        return None if count >= int(minimum.group(1)) else f"{count} space-delimited value(s); needs {minimum.group(1)}"
    if type_ == "log level":
        return None if value.lower() in LOG_LEVELS else f"not a log level: {', '.join(LOG_LEVELS)}"
    if type_ == "retry limit":  # flb_output_set_property: a count >= 1, or no limit / no retries
        if value.lower() in ("false", "off", "no_limits", "no_retries") or (value.isdigit() and int(value) >= 1):
            return None
        return ("not a retry limit: a whole number from 1, or False/Off/no_limits (retry forever) or no_retries; "
                "Fluent Bit warns and retries once")
    if type_ == "storage type":  # flb_input_set_property; memrb: in the 5.1 docs, first version not looked up
        types = ("memory", "filesystem", *(("memrb",) if version >= _DOCS_5_1 else ()))
        return None if value.lower() in types else f"not a storage type of this version: {', '.join(types)}"
    if type_ == "storage sync":
        return None if value.lower() in ("normal", "full") else "not a storage sync mode: normal or full"
    return f"cannot be checked: this checker does not know the schema type {type_!r}"
