"""Label and field selectors as the API server parses and applies them (apimachinery's labels and fields
packages): the same grammar, the same error words, the fields each resource supports."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.kube_double.errors import ApiFailure, bad_request

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")
_KEYWORDS = {"in", "notin"}


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # exists | !exists | = | != | in | notin | > | <
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present, value = self.key in labels, labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        try:  # > and < compare integers; a value that is not one does not match
            number, bound = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return present and (number > bound if self.op == ">" else number < bound)


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            break
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self) -> str:
        token = self.peek()
        self.pos += 1
        return token

    @staticmethod
    def identifier(token: str) -> bool:
        return token != "" and token not in ("!=", "==", "=", "!", "(", ")", ",", ">", "<")

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.take()
            key = self.take()
            if not self.identifier(key):
                raise ValueError(f"found '{key}', expected: identifier after '!'")
            return Requirement(key, "!exists")
        key = self.take()
        if not self.identifier(key) or key in _KEYWORDS:
            raise ValueError(f"found '{key}', expected: !, identifier, or 'end of string'")
        op = self.peek()
        if op in ("", ","):
            return Requirement(key, "exists")
        self.take()
        if op in ("in", "notin"):
            if self.take() != "(":
                raise ValueError(f"found '{self.tokens[self.pos - 1] if self.pos <= len(self.tokens) else ''}', expected:'('")
            values: list[str] = []
            while True:
                token = self.take()
                if token == ")" and not values:
                    break
                if not self.identifier(token):
                    raise ValueError(f"found '{token}', expected: ',', ')' or identifier")
                values.append(token)
                token = self.take()
                if token == ")":
                    break
                if token != ",":
                    raise ValueError(f"found '{token}', expected: ',' or ')'")
            return Requirement(key, op, tuple(values))
        if op not in ("=", "==", "!=", ">", "<"):
            raise ValueError(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        value = self.peek()
        if value in ("", ","):
            value = ""  # "key=" selects an empty value
        else:
            self.take()
        return Requirement(key, "=" if op == "==" else op, (value,))


def parse_labels(text: str | None) -> list[Requirement]:
    """The requirements of a label selector; 400 with the API server's words when it does not parse."""
    if not text:
        return []
    parser, out = _Parser(text), []
    while True:
        try:
            out.append(parser.requirement())
        except ValueError as e:
            raise bad_request(f"unable to parse requirement: {e}") from None
        token = parser.take()
        if token == "":
            return out
        if token != ",":
            raise bad_request(f"found '{token}', expected: ',' or 'end of string'")


def labels_match(requirements: list[Requirement], labels: dict | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in requirements)


def match_label_selector(selector: dict | None, labels: dict | None) -> bool:
    """A LabelSelector object (matchLabels, matchExpressions); an empty one selects everything."""
    labels = labels or {}
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        if not Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())).matches(labels):
            return False
    return True


# Field selectors: what each resource supports beyond metadata.name / metadata.namespace.
def _get(*path: str) -> Callable[[dict], str]:
    def value(obj: dict) -> str:
        for key in path:
            obj = obj.get(key) if isinstance(obj, dict) else None
        if isinstance(obj, bool):
            return "true" if obj else "false"
        return "" if obj is None else str(obj)
    return value


FIELDS: dict[str, dict[str, Callable[[dict], str]]] = {
    "Pod": {"spec.nodeName": _get("spec", "nodeName"), "spec.restartPolicy": _get("spec", "restartPolicy"),
            "spec.schedulerName": _get("spec", "schedulerName"),
            "spec.serviceAccountName": _get("spec", "serviceAccountName"),
            "spec.hostNetwork": _get("spec", "hostNetwork"), "status.phase": _get("status", "phase"),
            "status.podIP": _get("status", "podIP"), "status.nominatedNodeName": _get("status", "nominatedNodeName")},
    "Event": {f"involvedObject.{k}": _get("involvedObject", k) for k in
              ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    | {"reason": _get("reason"), "reportingComponent": _get("reportingComponent"), "source": _get("source", "component"),
       "type": _get("type")},
    "Secret": {"type": _get("type")},
    "Node": {"spec.unschedulable": _get("spec", "unschedulable")},
    "Namespace": {"status.phase": _get("status", "phase")},
    "ReplicaSet": {"status.replicas": _get("status", "replicas")},
    "Job": {"status.successful": _get("status", "succeeded")},
}
_COMMON = {"metadata.name": _get("metadata", "name"), "metadata.namespace": _get("metadata", "namespace")}


def parse_fields(kind: str, text: str | None) -> list[tuple[Callable[[dict], str], str, bool]]:
    """(value getter, wanted value, equal?) per term; 400 for a field the resource does not support."""
    if not text:
        return []
    supported = {**_COMMON, **FIELDS.get(kind, {})}
    terms = []
    for term in re.split(r"(?<!\\),", text):
        m = re.fullmatch(r"([^=!]+)(!=|==|=)(.*)", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).replace("\\,", ",")
        if field not in supported:
            raise ApiFailure(400, "BadRequest", f"field label not supported: {field}")
        terms.append((supported[field], value, op != "!="))
    return terms


def fields_match(terms: list[tuple[Callable[[dict], str], str, bool]], obj: dict) -> bool:
    return all((getter(obj) == value) == equal for getter, value, equal in terms)
