"""The Kibana dashboard "kubelogs overview" that the verify stage makes sure exists: log volume over time by
namespace and by log name, and the newest lines that look like errors. Saved objects, imported with
Kibana's import API (``POST /api/saved_objects/_import``, 7.2+) without ``overwrite``: a run makes what is
missing and never replaces what a person changed. Each object names the version it was written for
(``migrationVersion``), so newer Kibanas migrate it as they migrate their own exports.

Fluent Bit's retries are not in Elasticsearch (its metrics endpoint serves them): the verify table shows them.
"""

from __future__ import annotations

import json

from kubelogs.manifests.fluent_bit import LOG_NAME_FIELD
from kubelogs.manifests.index_settings import INDEX_PATTERN

DASHBOARD_ID = "kubelogs-overview"
TITLE = "kubelogs overview"
VIEW_ID = "kubelogs-logs"  # every log index: INDEX_PATTERN
# A line that looks like an error, in Lucene syntax (every version): the words, or a JSON line's level.
ERRORS_QUERY = ("log:(error OR exception OR fatal OR panic OR traceback) OR message:(error OR exception OR fatal) "
                "OR json.level:(error OR fatal OR critical)")
VERSION = "7.2.0"  # the saved-object format written here: what Kibana 7.2, the import API's first version, exports


def _search_source(query: str = "", index: bool = True) -> dict:
    source: dict = {"query": {"query": query, "language": "lucene"}, "filter": []}
    if index:
        source["indexRefName"] = "kibanaSavedObjectMeta.searchSourceJSON.index"
    return {"kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}}


def _view_ref() -> list[dict]:
    return [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": VIEW_ID}]


def _volume(object_id: str, title: str, field: str) -> dict:
    """A bar chart of lines per interval, split by the top values of ``field``."""
    vis_state = {"title": title, "type": "histogram", "params": {"addLegend": True, "legendPosition": "right"},
                 "aggs": [{"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}},
                          {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
                           "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1}},
                          {"id": "3", "enabled": True, "type": "terms", "schema": "group",
                           "params": {"field": field, "size": 10, "order": "desc", "orderBy": "1"}}]}
    return {"type": "visualization", "id": object_id, "migrationVersion": {"visualization": VERSION},
            "attributes": {"title": title, "visState": json.dumps(vis_state), "uiStateJSON": "{}",
                           "description": "", **_search_source()},
            "references": _view_ref()}


def saved_objects() -> list[dict]:
    """The objects, each before those that refer to it."""
    panels = ["kubelogs-volume-by-namespace", "kubelogs-volume-by-log-name", "kubelogs-errors"]
    layout = [(0, 0, 24, 15), (24, 0, 24, 15), (0, 15, 48, 20)]
    return [
        {"type": "index-pattern", "id": VIEW_ID, "migrationVersion": {"index-pattern": VERSION},
         "attributes": {"title": INDEX_PATTERN, "timeFieldName": "@timestamp"}, "references": []},
        _volume(panels[0], "kubelogs: lines by namespace", "kubernetes.namespace_name"),
        _volume(panels[1], "kubelogs: lines by log name", LOG_NAME_FIELD),
        {"type": "search", "id": panels[2], "migrationVersion": {"search": VERSION},
         "attributes": {"title": "kubelogs: newest error-looking lines", "description": "",
                        "columns": ["kubernetes.namespace_name", "kubernetes.pod_name", "log"],
                        "sort": [["@timestamp", "desc"]], **_search_source(ERRORS_QUERY)},
         "references": _view_ref()},
        {"type": "dashboard", "id": DASHBOARD_ID, "migrationVersion": {"dashboard": VERSION},
         "attributes": {
             "title": TITLE, "description": "Log volume and the newest errors (made by kubelogs' verify stage)",
             "timeRestore": True, "timeFrom": "now-24h", "timeTo": "now",
             "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
             "panelsJSON": json.dumps([{"panelIndex": str(i + 1), "gridData": {"x": x, "y": y, "w": w, "h": h,
                                                                               "i": str(i + 1)},
                                        "version": VERSION, "panelRefName": f"panel_{i}", "embeddableConfig": {}}
                                       for i, (x, y, w, h) in enumerate(layout)]),
             **_search_source(index=False)},
         "references": [{"name": f"panel_{i}", "type": "search" if p == "kubelogs-errors" else "visualization",
                         "id": p} for i, p in enumerate(panels)]},
    ]


def ndjson() -> str:
    return "".join(json.dumps(o, separators=(",", ":"), sort_keys=True) + "\n" for o in saved_objects())
