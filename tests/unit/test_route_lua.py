"""The rendered route.lua (``ROUTE_LUA`` in kubelogs/manifests/fluent_bit.py) run in a real LuaJIT, the Lua that
Fluent Bit embeds, on a record of each branch: routed by its declared log name or (``agents.collect: all``)
its namespace, kept unrouted, dropped (declared-only, opted out, an excluded namespace).

The script, its function and the tag come from the rendered configuration (the ConfigMap's lua filter
``script``/``call`` and the tail input's ``Tag``), as Fluent Bit reads them. Return codes are those of Fluent
Bit's lua filter (docs: pipeline/filters/lua.md): -1 drops the record, 0 keeps it unmodified, 1 replaces its
timestamp and record, 2 replaces the record only; always three values (code, timestamp, record).
Skipped, with the reason, where ``luajit`` is not installed (Debian package ``luajit``).
"""

from __future__ import annotations

import posixpath
from typing import Any

import pytest

from kubelogs.manifests import GeneratedSecrets, render_all
from kubelogs.manifests import fluent_bit as fb
from kubelogs.manifests.common import LOG_NAME_ANNOTATION
from kubelogs.settings import validate_settings
from kubelogs.verify.pods import CANARY_LOG_NAME
from tests.support.fluent_bit_schema import read_config, rendered_files
from tests.support.lua import LUAJIT_MISSING, FilterResult, call_filter, luajit

pytestmark = pytest.mark.skipif(luajit() is None, reason=LUAJIT_MISSING)

DROP, KEEP, REPLACE_ALL, REPLACE_RECORD = -1, 0, 1, 2
TIMESTAMP = 1764771000.123456  # Fluent Bit passes a double (seconds.fraction) unless time_as_table
NODE = "worker-2"
LOG_FILE = f"web-7d4b9c-xk2p_shop_web-{'a' * 64}.log"  # /var/log/containers/<pod>_<namespace>_<container>-<id>.log
LINE = {"time": "2026-12-03T10:10:00.123456789Z", "stream": "stdout", "_p": "F", "log": "GET /cart 200"}


def rendered_filter(agents: dict | None = None, version: str | None = None) -> tuple[str, str, str]:
    """(script text, function name, tag of LOG_FILE) as the render of these agent settings configures the lua
    filter (the defaults: every pod collected)."""
    settings = validate_settings({"agents": agents or {}, **({"elasticsearch": {"version": version}} if version else {})})
    files, main = rendered_files(render_all(settings, GeneratedSecrets(password="generated")))
    sections, problems = read_config(files, main)
    assert problems == []
    [lua] = [s for s in sections if s.name == "FILTER" and s.get("name") == "lua"]
    [tail] = [s for s in sections if s.name == "INPUT" and s.get("name") == "tail"]
    script, call, tag = lua.get("script"), lua.get("call"), tail.get("tag")
    assert script and call and tag
    directory, name = posixpath.split(script)
    assert directory == fb.CONFIG_DIR and name in files, f"{script} is not a file of the mounted ConfigMap"
    # tail's tag: the `*` becomes the file's path with '/' as '.'.
    return files[name], call, tag.replace("*", f"var/log/containers/{LOG_FILE}".replace("/", "."))


SCRIPT, CALL, TAG = rendered_filter()
DECLARED_ONLY = rendered_filter({"collect": "declared"})
EXCLUDING = rendered_filter({"exclude_namespaces": ["kube-system", "shop"]})


def route(record: dict[str, Any], env: dict[str, str] | None = None,
          rendered: tuple[str, str, str] = (SCRIPT, CALL, TAG)) -> FilterResult:
    script, call, tag = rendered
    [result] = call_filter(script, call, [(tag, TIMESTAMP, record)], {"NODE_NAME": NODE} if env is None else env)
    assert result.values == 3, "Fluent Bit's lua filter takes exactly code, timestamp, record"
    assert result.timestamp == TIMESTAMP
    return result


def from_pod(annotations: Any) -> dict[str, Any]:
    """A line after the kubernetes filter found its pod (``Annotations On``)."""
    kubernetes = {"pod_name": "web-7d4b9c-xk2p", "namespace_name": "shop", "container_name": "web", "host": NODE,
                  "labels": {"app": "web"}}
    if annotations is not None:
        kubernetes["annotations"] = annotations
    return {**LINE, "kubernetes": kubernetes}


@pytest.mark.parametrize("rendered", [(SCRIPT, CALL, TAG), DECLARED_ONLY, EXCLUDING], ids=["all", "declared", "excluding"])
@pytest.mark.parametrize("name", ["shop-web", CANARY_LOG_NAME, "a", "0day", "web-2"])
def test_a_pod_with_a_valid_log_name_goes_to_its_index_whatever_else_is_set(name, rendered):
    # The es output takes the index prefix from LOG_NAME_FIELD (Logstash_Prefix_Key). Opting out or an excluded
    # namespace does not drop a declared name: declaring one is asking to be collected.
    record = from_pod({LOG_NAME_ANNOTATION: name, "other.io/annotation": "x", fb.COLLECT_ANNOTATION: "false"})
    result = route(record, rendered=rendered)
    assert result.code == REPLACE_RECORD and result.record == {**record, fb.LOG_NAME_FIELD: name}


def test_a_line_without_pod_metadata_is_kept_unrouted_with_its_node_and_file():
    # The kubernetes filter adds no `kubernetes` key when the API lookup fails (403, API down).
    result = route(dict(LINE))
    assert result.code == REPLACE_RECORD  # the timestamp stays
    assert result.record == {**LINE, fb.UNROUTED_FIELD: {"node": NODE, "file": LOG_FILE}}


def test_an_unrouted_line_without_node_name_still_names_its_file():
    result = route(dict(LINE), env={})
    assert result.code == REPLACE_RECORD and result.record[fb.UNROUTED_FIELD] == {"node": "", "file": LOG_FILE}


def test_pod_metadata_that_is_not_a_map_counts_as_missing():
    result = route({**LINE, "kubernetes": "garbled"})
    assert result.code == REPLACE_RECORD and result.record[fb.UNROUTED_FIELD]["file"] == LOG_FILE


DROPPED = {  # id -> the pod's annotations (None: the key is absent)
    "no-annotations": None,
    "annotations-not-a-map": "kubelogs.io/log-name=shop",
    "other-annotations-only": {"other.io/annotation": "shop"},
    "empty-name": {LOG_NAME_ANNOTATION: ""},
    "upper-case": {LOG_NAME_ANNOTATION: "Shop"},
    "underscore": {LOG_NAME_ANNOTATION: "shop_web"},  # log-pilot's rule: no '_' in names
    "leading-dash": {LOG_NAME_ANNOTATION: "-shop"},
    "dot": {LOG_NAME_ANNOTATION: "shop.web"},
    "space": {LOG_NAME_ANNOTATION: "shop web"},
    "not-a-string": {LOG_NAME_ANNOTATION: 5},
}


@pytest.mark.parametrize("annotations", DROPPED.values(), ids=DROPPED.keys())
def test_a_pod_without_a_valid_log_name_goes_to_its_namespace_by_default(annotations):
    result = route(from_pod(annotations))
    assert result.code == REPLACE_RECORD and result.record == {**from_pod(annotations), fb.LOG_NAME_FIELD: "shop"}


@pytest.mark.parametrize("annotations", DROPPED.values(), ids=DROPPED.keys())
def test_with_collect_declared_a_pod_without_a_valid_log_name_is_dropped(annotations):
    assert route(from_pod(annotations), rendered=DECLARED_ONLY).code == DROP


def test_a_pod_opts_out_with_its_annotation_and_a_namespace_can_be_excluded():
    assert route(from_pod({fb.COLLECT_ANNOTATION: "false"})).code == DROP
    assert route(from_pod({fb.COLLECT_ANNOTATION: "true"})).code == REPLACE_RECORD
    assert route(from_pod(None), rendered=EXCLUDING).code == DROP  # the pod's namespace, shop, is excluded
    other = from_pod(None)
    other["kubernetes"]["namespace_name"] = "payments"
    assert route(other, rendered=EXCLUDING).record[fb.LOG_NAME_FIELD] == "payments"


def test_the_driver_reports_a_missing_function():
    # A wrong `call` must fail here, not pass: Fluent Bit would refuse to start.
    with pytest.raises(AssertionError, match="defines no function no_such_function"):
        call_filter(SCRIPT, "no_such_function", [(TAG, TIMESTAMP, dict(LINE))])


# A JSON line after the kubernetes filter's Merge_Log (Merge_Log_Key json): its fields, nested as logged.
JSON_LINE = {"level": "error", "status": 200, "ok": False, "user": {"id": 42, "roles": ["admin", "dev"]}}


def test_json_fields_stay_as_logged_where_elasticsearch_maps_them_flattened():
    result = route({**from_pod({}), fb.JSON_FIELD: JSON_LINE})
    assert result.code == REPLACE_RECORD and result.record[fb.JSON_FIELD] == JSON_LINE


@pytest.mark.parametrize("version", ["6.8.23", "7.2.1"])
def test_before_flattened_json_fields_become_one_level_of_strings(version):
    # Before 7.3, a flat map of strings, each a keyword (index_settings.mappings): no two apps' types can clash.
    result = route({**from_pod({}), fb.JSON_FIELD: JSON_LINE}, rendered=rendered_filter(version=version))
    assert result.code == REPLACE_RECORD
    assert result.record[fb.JSON_FIELD] == {"level": "error", "status": "200", "ok": "false", "user_id": "42",
                                            "user_roles_1": "admin", "user_roles_2": "dev"}
    assert result.record["log"] == LINE["log"] and result.record[fb.LOG_NAME_FIELD] == "shop"


JOINED = "java.lang.IllegalStateException: boom\n\tat com.shop.A.b(A.java:1)\n\tat com.shop.C.d(C.java:2)"


def test_a_joined_trace_stays_one_record():
    result = route({**from_pod({}), "log": JOINED})
    assert result.code == REPLACE_RECORD and result.record["log"] == JOINED


@pytest.mark.parametrize("text, lines", [(JOINED, JOINED.split("\n")), ("a\nb\n", ["a", "b"]), ("a\n\nb", ["a", "", "b"])],
                         ids=["cri", "json-file (a newline at the end)", "a blank line"])
def test_a_pod_that_opts_out_of_joined_traces_gets_one_record_per_line(text, lines):
    for given in ({fb.MULTILINE_ANNOTATION: "false"},
                        {fb.MULTILINE_ANNOTATION: "false", LOG_NAME_ANNOTATION: "shop-web"}):
        result = route({**from_pod(given), "log": text})
        assert result.code == REPLACE_RECORD
        assert [r["log"] for r in result.record] == lines  # Fluent Bit's lua filter: a list is several records
        assert all(r["kubernetes"]["pod_name"] == "web-7d4b9c-xk2p" and r[fb.LOG_NAME_FIELD] for r in result.record)
    assert route({**from_pod({fb.MULTILINE_ANNOTATION: "true"}), "log": text}).record["log"] == text
