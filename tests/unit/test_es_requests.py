"""Every request kubelogs sends to Elasticsearch is one Elastic's official client of that major sends.

No Elasticsearch can run here, and tests/support/fake_elasticsearch.py was written from the docs, so what the
deploy, the verify stage and the in-cluster scripts send is held to something Elastic maintains: the
``elasticsearch`` Python client of each supported major, generated from Elastic's API specification
(tests/support/es_clients.py pins them, one venv each). The requests are collected by running the code
that sends them, per version threshold and settings variant (tests/support/es_requests.py); for each, the
probe inside the client's venv (tests/support/es_client_probe.py) finds the client method that sends that
HTTP method and path, calls it with our path parts, query parameters and body against a recording
transport, and reports a problem when no method sends it, a query parameter is not one the method takes,
(8.x/9.x) a top-level body key is not one of its parameters, or the call sends anything else than ours.

A request the official client cannot send is reported and marked xfail(strict) in ``DISCREPANCIES`` with
Elastic's references, for a decision; kubelogs itself is not changed here. Not checked: the agents' bulk
bodies (only the ``_bulk`` path is ours) and files/kibana-views.sh (it talks to Kibana).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pytest

from kubelogs import compatibility as compat
from tests.support import es_clients, es_requests
from tests.support.es_requests import Request, Sent


@dataclass(frozen=True)
class Discrepancy:
    """Requests (HTTP method and path, regular expressions) of some majors that the official client of that
    major does not send: each such case is xfail(strict), so a change on either side shows. ``reason`` is
    shown; ``evidence`` is where Elastic says what it takes."""

    majors: tuple[int, ...]
    method: str
    path: str
    reason: str
    evidence: str

    def covers(self, major: int, request: Request) -> bool:
        return major in self.majors and re.fullmatch(self.method, request.method) is not None \
            and re.fullmatch(self.path, request.path) is not None


DISCREPANCIES: tuple[Discrepancy, ...] = (
    Discrepancy(
        (7, 8, 9), "GET", r"/[^/_][^/]*/_count",
        "count: the client sends POST (5.x/6.x clients: GET), files/verify-canaries.sh GET ?q=; Elasticsearch "
        "takes both",
        "elasticsearch-specification _global/count lists methods POST and GET; Elastic's Count API page pairs "
        "client.count(index=..., q=...) with GET /<index>/_count?q=...."),
    Discrepancy(
        (6,), "PUT|GET", r"/_ilm/policy/[^/]+",
        "ILM: elasticsearch-py 6.8.2 (the newest 6.x) has no ILM API; kubelogs sends it to 6.6+, which has it",
        "Elasticsearch has PUT/GET _ilm/policy/<policy_id> from 6.6 (reference ilm-put-lifecycle, "
        "ilm-get-lifecycle); the Python client's ilm namespace starts with 7.x."),
    Discrepancy(
        (7,), "POST", r"/_cluster/voting_config_exclusions/[^/]+",
        "voting exclusions by path (quorum.voting_exclusions, 7.0-7.7: scaling down, a master layout change): no 7.x client sends it; 7.17.13 sends only "
        "?node_names=/?node_ids=",
        "reference 7.0-7.7 voting-config-exclusions: POST _cluster/voting_config_exclusions/<node_name>, the only "
        "form there; 7.8 added ?node_names= and deprecated the path, 8.0 removed it. elasticsearch-py 7.7.1 has "
        "no voting API at all."),
)


@dataclass(frozen=True)
class Case:
    """One request of one major (or why the requests of that major could not be collected)."""

    major: int
    index: int
    sent: Sent | None = None
    error: str = ""

    @property
    def key(self) -> str:
        return str(self.index)

    @property
    def id(self) -> str:
        if self.sent is None:
            return f"{self.major}.x collecting"
        return f"{self.major}.x " + re.sub(r"\d{4}\.\d{2}\.\d{2}(-\d{6})?", lambda m: "YYYY.MM.DD" + (
            "-HHMMSS" if m.group(1) else ""), str(self.sent.request))

    def discrepancy(self) -> Discrepancy | None:
        return next((d for d in DISCREPANCIES if self.sent and d.covers(self.major, self.sent.request)), None)


# Requests the check must refuse: one of ours with a made-up query parameter or body key, and a made-up API.
MADE_UP_PARAMETER, MADE_UP_KEY = "made_up_parameter", "made_up_key"


@dataclass
class Collected:
    """A major's requests (or why they could not be collected) and, once asked, the probe's answers."""

    major: int
    sent: list[Sent] = field(default_factory=list)
    error: str = ""
    answers: dict[str, dict] | None = None  # request key -> the probe's result

    def negatives(self) -> dict[str, Request]:
        """Our PUT _cluster/settings (every major has it) with a made-up parameter or body key; a made-up API."""
        ours = next(s.request for s in self.sent if (s.request.method, s.request.path) == ("PUT", "/_cluster/settings"))
        return {"made-up parameter": replace(ours, params=(*ours.params, (MADE_UP_PARAMETER, "true"))),
                "made-up body key": replace(ours, body={**ours.body, MADE_UP_KEY: 1}),
                "made-up API": Request("PUT", "/_made_up_api/kubelogs", (), {"setting": 1})}

    def questions(self) -> list[dict]:
        return [{"key": str(i), **s.request.as_data()} for i, s in enumerate(self.sent)] + \
            [{"key": name, **r.as_data()} for name, r in self.negatives().items()]

    def take(self, answer: dict) -> None:
        self.answers = {r["key"]: r for r in answer["results"]}


@functools.cache
def collected() -> dict[int, Collected]:
    """Each major's requests, collected once per session, the majors side by side; a major whose client venv
    is ready is asked at once (while the others are still being collected)."""

    def one(major: int) -> Collected:
        try:
            found = Collected(major, es_requests.collect(major))
        except Exception as e:  # noqa: BLE001 - shown as the failure of that major's case
            return Collected(major, error=f"{type(e).__name__}: {e}")
        if es_clients.is_ready(major):
            try:
                found.take(es_clients.probe(major, found.questions()))
            except Exception:  # noqa: BLE001 - asked again by the `answers` fixture, which reports it
                pass
        return found

    with ThreadPoolExecutor(len(compat.ES_MAJORS)) as pool:
        return dict(zip(compat.ES_MAJORS, pool.map(one, compat.ES_MAJORS)))


def cases() -> Iterator[Case]:
    for major, found in collected().items():
        if found.error:
            yield Case(major, -1, error=found.error)
        else:
            yield from (Case(major, i, sent) for i, sent in enumerate(found.sent))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        params = []
        for case in cases():
            found = case.discrepancy()
            marks = [pytest.mark.xfail(strict=True, reason=found.reason)] if found else []
            params.append(pytest.param(case, id=case.id, marks=marks))
        metafunc.parametrize("case", params)


@dataclass
class Answers:
    """The probe's results (kept in ``collected()``), or why a major's client is not available here."""

    unavailable: dict[int, str]

    def of(self, major: int, key: str) -> dict:
        if major in self.unavailable:
            pytest.skip(self.unavailable[major])
        found = collected()[major]
        if found.error:
            pytest.fail(f"the requests of {major}.x were not collected: {found.error}")
        assert found.answers is not None
        return found.answers[key]


@pytest.fixture(scope="module")
def answers() -> Answers:
    """Each major's client venv (made here when missing: slow once) asked about every collected request and
    the negative ones, where collecting did not ask already."""
    made = es_clients.ensure_all()
    unavailable = {m: f"the official Elasticsearch {m}.x client cannot be had here: {e.reason}"
                   for m, e in made.items() if isinstance(e, es_clients.ClientUnavailable)}
    pending = {m: c for m, c in collected().items() if m not in unavailable and not c.error and c.answers is None}
    for major, answer in es_clients.probe_all({m: c.questions() for m, c in pending.items()}).items():
        pending[major].take(answer)
    return Answers(unavailable)


def _explain(case: Case, result: dict) -> str:
    assert case.sent is not None
    lines = [f"Elasticsearch {case.major}.x, client {es_clients.PINS[case.major].client}: {case.sent.request}",
             f"  sent by: {case.sent.described()}",
             f"  client method: {result['api'] or 'none'}"]
    lines += [f"  problem: {p}" for p in result["problems"]]
    lines += [f"  nearest client method: {n}" for n in result.get("nearest") or []]
    return "\n".join(lines)


def test_request_is_one_the_official_client_sends(case: Case, answers: Answers,
                                                  record_property: Callable[[str, object], None]) -> None:
    assert not case.error, f"collecting the requests of {case.major}.x failed: {case.error}"
    result = answers.of(case.major, case.key)
    record_property("client_method", result["api"])
    assert not result["problems"], _explain(case, result)


@pytest.mark.parametrize("major", compat.ES_MAJORS)
def test_a_made_up_query_parameter_fails(major: int, answers: Answers) -> None:
    result = answers.of(major, "made-up parameter")
    assert result["api"] == "cluster.put_settings"
    assert any(MADE_UP_PARAMETER in p and "not one cluster.put_settings takes" in p for p in result["problems"]), result


@pytest.mark.parametrize("major", [m for m in compat.ES_MAJORS if es_clients.PINS[m].typed])
def test_a_made_up_body_key_fails(major: int, answers: Answers) -> None:
    result = answers.of(major, "made-up body key")
    assert result["api"] == "cluster.put_settings"
    assert [p for p in result["problems"] if MADE_UP_KEY in p] == [
        f"body key {MADE_UP_KEY!r} is not a parameter of cluster.put_settings "
        "(its body fields: persistent, transient)"], result


@pytest.mark.parametrize("major", compat.ES_MAJORS)
def test_a_made_up_api_maps_to_no_client_method(major: int, answers: Answers) -> None:
    result = answers.of(major, "made-up API")
    assert result["api"] is None
    assert result["problems"] == [f"no method of the {es_clients.PINS[major].client} client sends "
                                  "PUT /_made_up_api/kubelogs"]
    assert len(result["nearest"]) == 3, result


@pytest.mark.parametrize("major", compat.ES_MAJORS)
def test_every_sender_was_run(major: int) -> None:
    """The collection reached every script and ConfigMap that talks to Elasticsearch in this major."""
    found = collected()[major]
    assert not found.error, found.error
    sources = " | ".join(s for sent in found.sent for s in sent.sources)
    versions = es_requests.versions(major)
    expected = ["ConfigMap elasticsearch-index-settings (files/es-admin.sh)", "(restarts.restart_outdated)",
                "(before scaling 3 -> 1)", "(after scaling", "files/verify-canaries.sh", "(not ours: path only)"]
    if any(compat.free_security_available(v) for v in versions):
        expected.append("ConfigMap elasticsearch-security (files/es-admin.sh)")
    if not all(compat.has_ilm(v) for v in versions):
        expected.append("files/es-retention.sh")
    assert [e for e in expected if e not in sources] == [], sources
