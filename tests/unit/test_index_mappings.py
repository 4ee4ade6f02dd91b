"""The log indices' template keeps Elasticsearch from rejecting single lines for their fields' types.

Without a template, Elasticsearch maps each field from the first document that brings it, so a first line
that looks like a date makes ``log`` a date field and rejects every later line; pod annotations whose
values differ in shape do the same. Those are partial bulk rejects, which Fluent Bit counts as delivered.
The fake maps documents by Elasticsearch's rules (tests/support/fake_es_mappings.py); the same documents are sent
without and with the template kubelogs renders, in each version's template form.
"""

from __future__ import annotations

import json

import pytest

from kubelogs.manifests import index_settings
from kubelogs.settings import validate_settings
from tests.support.fake_elasticsearch import FakeElasticsearch

VERSIONS = ["5.6.16", "6.8.23", "7.2.1", "7.17.26", "8.19.26", "9.5.7"]  # each template form, flattened or not


def fluent_bit_line(log: str, annotations: dict | None = None, timestamp: str = "2026-12-01T10:00:00.000Z") -> dict:
    return {"@timestamp": timestamp, "log": log, "stream": "stdout",
            "kubernetes": {"pod_name": "my-app", "namespace_name": "default", "host": "node-1",
                           "annotations": {"kubelogs_io/log-name": "my-app", **(annotations or {})}}}


def bulk(es: FakeElasticsearch, index: str, docs: list[dict], type_name: str | None = None) -> list[dict]:
    """Each document in a request of its own; the items of the answers."""
    items = []
    for doc in docs:
        meta = {"_index": index, **({"_type": type_name} if type_name else {})}
        body = f"{json.dumps({'create': meta})}\n{json.dumps(doc)}\n".encode()
        status, answer = es.answer("/_bulk", {}, None, "POST", body, "application/x-ndjson")
        assert status == 200, answer
        items += [item["create"] for item in answer["items"]]
    return items


def send_template(es: FakeElasticsearch, version: str) -> None:
    path, body = index_settings.template(validate_settings({"elasticsearch": {"version": version}}))
    status, answer = es.answer(f"/{path}", {}, None, "PUT", json.dumps(body).encode(), "application/json")
    assert status == 200, answer


def type_for(version: str) -> str | None:
    return {"5": "doc", "6": "doc", "7": "_doc"}.get(version.split(".")[0])  # what the agents send


# Lines of one log, in order: without a template, Elasticsearch's dynamic mapping cannot take the last one.
TROUBLE = {
    "a first line that looks like a date": [fluent_bit_line("2026-12-01"), fluent_bit_line("hello")],
    "an annotation that looks like a date, then does not": [
        fluent_bit_line("x", {"deployed": "2026-01-01"}), fluent_bit_line("y", {"deployed": "yesterday"})],
    "a malformed timestamp": [fluent_bit_line("a"), fluent_bit_line("b", timestamp="not a time")],
}


def send_all(es: FakeElasticsearch, version: str) -> dict[str, list[dict]]:
    return {case: bulk(es, f"case-{n}-2026.12.01", docs, type_for(version)) for n, (case, docs) in enumerate(TROUBLE.items())}


@pytest.mark.parametrize("version", VERSIONS)
def test_without_the_template_elasticsearch_rejects_single_lines(version):
    es = FakeElasticsearch(major=int(version.split(".")[0]))
    for case, items in send_all(es, version).items():
        assert ["error" in i for i in items] == [False, True], case
        assert items[1]["error"]["type"] == ("document_parsing_exception" if es.major >= 8 else "mapper_parsing_exception")


@pytest.mark.parametrize("version", VERSIONS)
def test_with_the_template_every_line_is_kept(version):
    es = FakeElasticsearch(major=int(version.split(".")[0]))
    send_template(es, version)
    for case, items in send_all(es, version).items():
        assert [i for i in items if "error" in i] == [], case
    assert sum(len(docs) for docs in es.indices.values()) == 6
    assert es.ignored_fields == {"case-2-2026.12.01": 1}  # the malformed timestamp: kept, that field not indexed


def test_a_6x_index_has_one_mapping_type():
    # Fluent Bit and log-pilot's Filebeat 6 write to the same daily index when a log runs on both kinds of node.
    es = FakeElasticsearch(major=6)
    assert "error" not in bulk(es, "my-app-2026.12.01", [fluent_bit_line("a")], "doc")[0]
    [item] = bulk(es, "my-app-2026.12.01", [fluent_bit_line("b")], "_doc")
    assert item["error"]["type"] == "illegal_argument_exception"
    assert "more than 1 type: [doc, _doc]" in item["error"]["reason"]
