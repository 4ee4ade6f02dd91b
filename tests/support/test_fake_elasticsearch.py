"""The fake Elasticsearch speaks the bulk protocol as each major answers it, and the real Fluent Bit agrees.

The plain tests pin the answers through urllib; the ``fluent_bit`` tests run the real binary with a minimal
config carrying exactly the per-major keys the project renders (kubelogs/manifests/fluent_bit.py).
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fake_elasticsearch import FakeElasticsearch
from tests.support.binaries import fluent_bit_binary

FLUENT_BIT_VERSIONS = ("3.2.10", "5.1.1")
CREDENTIALS = ("elastic", "s3cret")


@pytest.fixture
def es():
    with FakeElasticsearch() as server:
        yield server


def request(es: FakeElasticsearch, method: str, path: str, body: bytes | None = None,
            auth: tuple[str, str] | None = None) -> tuple[int, dict | None]:
    headers = {"Content-Type": "application/x-ndjson"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    req = urllib.request.Request(f"http://{es.address}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status, data = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    return status, json.loads(data) if data else None


def ndjson(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


# --- the protocol, without Fluent Bit ---

@pytest.mark.parametrize("major, type_", [(6, "_doc"), (7, None), (7, "_doc"), (8, None), (9, None)])
def test_bulk_stores_and_answers_like_the_version(es, major, type_):
    es.major = major
    meta = {"_index": "logs-1", **({"_type": type_} if type_ else {})}
    body = ndjson({"create": meta}, {"msg": "a"}, {"index": meta}, {"msg": "b"})
    status, answer = request(es, "POST", "/_bulk", body)
    assert status == 200 and answer["errors"] is False
    first = answer["items"][0]["create"]
    assert first["_index"] == "logs-1" and first["result"] == "created" and first["status"] == 201
    assert first["_shards"] == {"total": 2, "successful": 1, "failed": 0} and first["_primary_term"] == 1
    assert ("_type" in first) == (major < 8)
    assert [i["index"]["_seq_no"] for i in answer["items"][1:]] == [1]
    assert es.indices == {"logs-1": [{"msg": "a"}, {"msg": "b"}]}


def test_index_in_the_path_is_the_default_and_count_finds_bulk_documents(es):
    request(es, "POST", "/app-1/_bulk", ndjson({"create": {}}, {"msg": "hello tok42"}))
    assert request(es, "GET", '/app-1/_count?q="tok42"') == (200, {"count": 1})


def test_8x_rejects_a_typed_metadata_line_and_stores_nothing(es):
    status, answer = request(es, "POST", "/_bulk", ndjson({"create": {"_index": "x"}}, {"a": 1},
                                                          {"create": {"_index": "x", "_type": "_doc"}}, {"a": 2}))
    assert status == 400 and answer["error"]["type"] == "illegal_argument_exception"
    assert answer["error"]["reason"] == "Action/metadata line [3] contains an unknown parameter [_type]"
    assert es.indices == {}


def test_6x_requires_a_type_for_every_item(es):
    es.major = 6
    status, answer = request(es, "POST", "/_bulk", ndjson({"create": {"_index": "x"}}, {"a": 1},
                                                          {"create": {"_index": "x"}}, {"a": 2}))
    assert status == 400 and answer["error"]["type"] == "action_request_validation_exception"
    assert answer["error"]["reason"] == "Validation Failed: 1: type is missing;2: type is missing;"
    assert es.indices == {}


@pytest.mark.parametrize("body, kind", [
    (b'{"create": {"_index": "x"}\n{"a": 1}\n', "x_content_parse_exception"),
    (b'{"upsert": {}}\n{"a": 1}\n', "illegal_argument_exception"),
    (b'{"create": {"_index": "x"}}\n{"a": 1}', "illegal_argument_exception"),  # no final newline
])
def test_malformed_bulk_bodies_are_400(es, body, kind):
    status, answer = request(es, "POST", "/_bulk", body)
    assert status == 400 and answer["error"]["type"] == kind and es.indices == {}


def test_a_partial_reject_fails_only_those_documents(es):
    es.reject = lambda doc: "failed to parse field [n] of type [long]" if doc.get("n") == "x" else None
    status, answer = request(es, "POST", "/_bulk", ndjson(*[line for n in (1, "x", 3) for line in (
        {"create": {"_index": "nums"}}, {"n": n})]))
    assert status == 200 and answer["errors"] is True
    assert [i["create"]["status"] for i in answer["items"]] == [201, 400, 201]
    assert answer["items"][1]["create"]["error"]["type"] == "mapper_parsing_exception"
    assert es.indices == {"nums": [{"n": 1}, {"n": 3}]}


def test_a_duplicate_id_conflicts_on_create(es):
    body = ndjson({"create": {"_index": "d", "_id": "1"}}, {"v": 1})
    request(es, "POST", "/_bulk", body)
    _, answer = request(es, "POST", "/_bulk", body)
    assert answer["errors"] is True and answer["items"][0]["create"]["status"] == 409
    assert es.indices == {"d": [{"v": 1}]}


@pytest.mark.parametrize("status, kind", [(429, "es_rejected_execution_exception"), (503, "cluster_block_exception")])
def test_bulk_status_fails_every_bulk_request_whole(es, status, kind):
    es.bulk_status = status
    got, answer = request(es, "POST", "/_bulk", ndjson({"create": {"_index": "x"}}, {"a": 1}))
    assert got == status and answer["status"] == status and answer["error"]["root_cause"][0]["type"] == kind
    assert es.indices == {}


@pytest.mark.parametrize("major, number", [(6, "6.8.23"), (7, "7.17.28"), (8, "8.19.0"), (9, "9.1.0")])
def test_root_answers_the_version_document_and_head_too(es, major, number):
    es.major = major
    status, answer = request(es, "GET", "/")
    assert status == 200 and answer["version"]["number"] == number and answer["tagline"] == "You Know, for Search"
    assert request(es, "HEAD", "/") == (200, None)


def test_credentials_are_required_and_every_call_is_recorded(es):
    es.credentials = lambda: CREDENTIALS
    status, answer = request(es, "POST", "/_bulk", ndjson({"create": {"_index": "x"}}, {"a": 1}))
    assert status == 401 and answer["error"]["type"] == "security_exception" and es.indices == {}
    assert request(es, "POST", "/_bulk", ndjson({"create": {"_index": "x"}}, {"a": 1}), auth=CREDENTIALS)[0] == 200
    assert request(es, "GET", "/_cluster/health?wait_for_status=green", auth=CREDENTIALS)[0] == 200
    assert es.calls == [("POST", "/_bulk"), ("POST", "/_bulk"), ("GET", "/_cluster/health?wait_for_status=green")]


# --- the real Fluent Bit against the fake ---

def cat(es: FakeElasticsearch, path: str) -> str:
    with urllib.request.urlopen(f"http://{es.address}{path}", timeout=5) as resp:
        return resp.read().decode()


def test_allocation_follows_elasticsearch_rules_and_cat_shows_the_unassigned_row():
    # Two nodes, one index with one replica: a copy on each. Excluding a node moves nothing while no other node
    # may take its copy (a replica never beside its primary); dropping the replica frees it.
    with FakeElasticsearch(major=7, number_of_nodes=2, status=None) as es:
        es.index("app-2026.12.03", {"log": "x"})
        assert es.allocation() == ({"elasticsearch-0": 1, "elasticsearch-1": 1}, 0) and es.health() == "green"
        es.cluster_settings["cluster.routing.allocation.exclude._name"] = "elasticsearch-1"
        assert es.allocation() == ({"elasticsearch-0": 1, "elasticsearch-1": 1}, 0)
        assert cat(es, "/_cat/allocation/elasticsearch-1?h=node,shards") == "elasticsearch-1 1\n"
        es.index_replicas["app-2026.12.03"] = 0
        assert cat(es, "/_cat/allocation/elasticsearch-1?h=node,shards") == "elasticsearch-1 0\n"
        # Three copies wanted, two nodes: one unassigned, reported even when one node is asked for.
        es.index_replicas["app-2026.12.03"] = 2
        del es.cluster_settings["cluster.routing.allocation.exclude._name"]
        assert es.health() == "yellow"
        assert cat(es, "/_cat/allocation/elasticsearch-1?h=shards") == "1\n1\n"  # what `h=shards` alone misread
        assert cat(es, "/_cat/allocation/elasticsearch-1?h=node,shards") == "elasticsearch-1 1\nUNASSIGNED 1\n"
        es.number_of_nodes = 0
        assert es.health() == "red"


def run_fluent_bit(version: str, es: FakeElasticsearch, tmp_path: Path, extra: list[str], token: str,
                   done: Callable[[str], bool], timeout: float = 15) -> str:
    """Run Fluent Bit (dummy records carrying ``token``, es output with the ``extra`` keys) until
    ``done(its log so far)`` or the timeout; its log."""
    output = ["Name es", "Match *", "Host 127.0.0.1", f"Port {es.address.split(':')[1]}",
              "Logstash_Format On", "Logstash_Prefix tok", *extra]
    if es.credentials():
        output += [f"HTTP_User {es.credentials()[0]}", f"HTTP_Passwd {es.credentials()[1]}"]
    config = tmp_path / "fluent-bit.conf"
    config.write_text("\n".join([
        "[SERVICE]", "    Flush 1", "    Log_Level info",
        # Three records at once: one chunk, so one flush delivers them all.
        "[INPUT]", "    Name dummy", f'    Dummy {{"msg":"hello {token}"}}', "    Samples 3", "    Rate 100",
        "[OUTPUT]", *(f"    {line}" for line in output)]) + "\n")
    log = tmp_path / "fluent-bit.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(fluent_bit_binary(version)), "-c", str(config)], stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + timeout
            while not done(log.read_text()) and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
        finally:
            process.kill()
            process.wait(timeout=10)
    return log.read_text()


def utc_day() -> str:
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y.%m.%d}"


# The per-major keys kubelogs/manifests/fluent_bit.py renders (7.x: none).
PER_MAJOR = {6: ["Type _doc"], 7: [], 8: ["Suppress_Type_Name On"]}


@pytest.mark.fluent_bit
@pytest.mark.parametrize("version", FLUENT_BIT_VERSIONS)
@pytest.mark.parametrize("major", sorted(PER_MAJOR))
@pytest.mark.parametrize("secured", [False, True], ids=["open", "auth"])
def test_real_fluent_bit_delivers_to_the_fake(es, tmp_path, version, major, secured):
    es.major = major
    if secured:
        es.credentials = lambda: CREDENTIALS
    token, days = uuid.uuid4().hex, {utc_day()}
    log = run_fluent_bit(version, es, tmp_path, PER_MAJOR[major], token,
                         done=lambda _: sum(map(len, es.indices.values())) >= 3)
    days.add(utc_day())  # the record's UTC date names the index; midnight may pass during the run
    [(index, docs)] = es.indices.items()
    assert index in {f"tok-{day}" for day in days} and len(docs) == 3, log
    assert all(d["msg"] == f"hello {token}" and "@timestamp" in d for d in docs)
    assert {method for method, path in es.calls} == {"POST"} and {path for _, path in es.calls} == {"/_bulk"}


@pytest.mark.fluent_bit
@pytest.mark.parametrize("version", FLUENT_BIT_VERSIONS)
def test_real_fluent_bit_typed_requests_are_rejected_by_8x(es, tmp_path, version):
    # Without Suppress_Type_Name Fluent Bit sends `_type: _doc`, which 8.x refuses for the whole request.
    log = run_fluent_bit(version, es, tmp_path, [], uuid.uuid4().hex,
                         done=lambda log: "unknown parameter [_type]" in log, timeout=10)
    assert es.calls and es.indices == {}, log
    assert "unknown parameter [_type]" in log, log
