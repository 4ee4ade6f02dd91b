"""How the fake Elasticsearch maps documents: the part of Elasticsearch's mapping rules that decides whether
a document is accepted, so the index templates kubelogs sends can be shown to prevent rejects.

Elasticsearch maps an index from its template (explicit ``properties``, ``dynamic_templates``,
``date_detection``, the ``index.mapping.ignore_malformed`` setting), then grows the mapping from the first
document that brings each field (dynamic mapping: a string that looks like a date becomes a ``date``
field, unless ``date_detection`` is off). A later document whose value does not fit the field's type is
rejected (400 ``mapper_parsing_exception``; ``document_parsing_exception`` from 8.x), or, with
``ignore_malformed``, accepted with the field left out of the index and named in ``_ignored``. A
``flattened`` field (7.3+) takes any object under it. 6.x indices have a single mapping type and 7.x+ only
``_doc``: a typed request with another type is rejected.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

# Elasticsearch's strict_date_optional_time, as date detection applies it to strings.
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$")
_CONCRETE = {"text", "keyword", "date", "long", "float", "double", "boolean", "integer"}


@dataclass
class Rejected(Exception):
    kind: str
    reason: str


@dataclass
class Mapping:
    """One index's mapping: dotted field path -> type (``object`` for objects)."""

    major: int
    fields: dict[str, str] = field(default_factory=dict)
    dynamic_templates: list[tuple[str, str | None, dict]] = field(default_factory=list)  # (path_match, type, mapping)
    date_detection: bool = True
    ignore_malformed: bool = False
    type_name: str | None = None  # 6.x: the index's one mapping type, once it has one

    @classmethod
    def from_template(cls, major: int, template: dict | None) -> Mapping:
        """The mapping a new index starts with, from the body of the template that applies (legacy or composable)."""
        mapping = cls(major)
        body = template or {}
        inner = body.get("template") if isinstance(body.get("template"), dict) else body
        settings = flatten(inner.get("settings") or {})
        mapping.ignore_malformed = str(settings.get("index.mapping.ignore_malformed",
                                                    settings.get("mapping.ignore_malformed", "false"))).lower() == "true"
        mappings = inner.get("mappings") or {}
        if major <= 6 and mappings and "properties" not in mappings and len(mappings) == 1:
            (mapping.type_name, mappings), = mappings.items()  # typed: {"doc": {...}}
            if mapping.type_name == "_default_":
                mapping.type_name = None
        mapping.date_detection = bool(mappings.get("date_detection", True))
        for entry in mappings.get("dynamic_templates") or []:
            (_, rule), = entry.items()
            mapping.dynamic_templates.append((rule.get("path_match", "*"), rule.get("match_mapping_type"), rule["mapping"]))
        mapping._add_properties("", mappings.get("properties") or {})
        return mapping

    def _add_properties(self, prefix: str, properties: dict) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            self.fields[path] = spec.get("type", "object")
            if "properties" in spec:
                self._add_properties(f"{path}.", spec["properties"])

    def accept(self, doc: dict, type_name: str | None) -> list[str]:
        """Map ``doc`` (growing the mapping); the fields ignored as malformed. Raises Rejected."""
        self._check_type(type_name)
        pending: dict[str, str] = {}
        ignored: list[str] = []
        self._walk("", doc, pending, ignored)
        self.fields.update(pending)  # a rejected document leaves the mapping as it was
        return ignored

    def _check_type(self, type_name: str | None) -> None:
        if self.major == 5 or type_name is None:
            return
        if self.major == 6 and self.type_name is None:
            self.type_name = type_name
            return
        current = self.type_name if self.major == 6 else "_doc"
        if type_name != current:
            raise Rejected("illegal_argument_exception", "Rejecting mapping update to the index as the final mapping "
                           f"would have more than 1 type: [{current}, {type_name}]")

    def _type_of(self, path: str, pending: dict[str, str]) -> str | None:
        return pending.get(path) or self.fields.get(path)

    def _walk(self, prefix: str, obj: dict, pending: dict[str, str], ignored: list[str]) -> None:
        for key, value in obj.items():
            path = f"{prefix}{key}"
            mapped = self._type_of(path, pending)
            if mapped == "flattened":
                continue  # any keys and values below it
            if isinstance(value, dict):
                if mapped is not None and mapped != "object":
                    self._malformed(path, mapped, value, ignored, object_value=True)
                    continue
                if mapped is None:
                    pending[path] = "object"
                self._walk(f"{path}.", value, pending, ignored)
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item is None:
                    continue
                if isinstance(item, dict):
                    self._walk(f"{path}.", item, pending, ignored)
                    continue
                if mapped is None:
                    mapped = pending[path] = self._dynamic_type(path, item)
                if mapped == "object":
                    raise Rejected(self._parse_error(), f"object mapping for [{path}] tried to parse field [{key}] "
                                   "as object, but found a concrete value")
                if not _fits(mapped, item):
                    self._malformed(path, mapped, item, ignored)

    def _dynamic_type(self, path: str, value: object) -> str:
        kind = _json_kind(value)
        for pattern, match_type, spec in self.dynamic_templates:
            if fnmatch.fnmatchcase(path, pattern) and match_type in (None, "*", kind):
                return spec.get("type", "keyword")
        if kind == "string":
            return "date" if self.date_detection and _DATE.match(value) else "text"
        return {"boolean": "boolean", "long": "long", "double": "float"}[kind]

    def _malformed(self, path: str, mapped: str, value: object, ignored: list[str], object_value: bool = False) -> None:
        if self.ignore_malformed and mapped in ("date", "long", "float", "double", "integer", "boolean") \
                and not object_value:
            ignored.append(path)
            return
        raise Rejected(self._parse_error(), f"failed to parse field [{path}] of type [{mapped}] in document. "
                       f"Preview of field's value: '{value}'")

    def _parse_error(self) -> str:
        return "document_parsing_exception" if self.major >= 8 else "mapper_parsing_exception"


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "string"


def _fits(mapped: str, value: object) -> bool:
    if mapped in ("text", "keyword"):
        return True  # numbers and booleans are indexed as their text
    if mapped == "date":
        return (isinstance(value, (int, float)) and not isinstance(value, bool)) or bool(_DATE.match(str(value)))
    if mapped in ("long", "integer", "float", "double"):
        try:
            float(value)  # type: ignore[arg-type]
            return not isinstance(value, bool)
        except (TypeError, ValueError):
            return False
    if mapped == "boolean":
        return value in (True, False, "true", "false")
    return mapped not in _CONCRETE


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """Elasticsearch settings in flat form: {"a": {"b": 1}} and {"a.b": 1} are the same setting."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
