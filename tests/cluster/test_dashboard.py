"""Kibana's "kubelogs overview" dashboard: after a verify run it exists in the Kibana double of 7.x, 8.x and 9.x
(imported as saved objects, each reference resolved, its panels' references among its own), a second run
keeps it as it is (no overwrite), and a Kibana without the import API says so."""

from __future__ import annotations

import json

import pytest

from kubelogs.verify import dashboard
from kubelogs.verify import stage as verify_stage
from tests.support.cluster_helpers import deploy, kube, settings_for


def verify(settings) -> tuple[verify_stage.Report, list[str]]:
    lines: list[str] = []
    return verify_stage.run(kube(settings), settings, lines.append), lines


def kibana_of(api):
    return next(p.server for p in api.tier.kubelet.pods.values()
                if p.server is not None and p.pod["metadata"]["namespace"] == api.namespace)


@pytest.mark.parametrize("version", ["7.17.28", "8.19.0", "9.5.7"])
def test_the_overview_dashboard_exists_after_a_run_and_is_kept(api, version):
    settings = settings_for(api, elasticsearch={"version": version}, verify={"timeout": 20})
    deploy(api, settings)
    report, lines = verify(settings)
    assert report.ok, lines
    assert "dashboard 'kubelogs overview' (new)" in report.kibana, lines
    kibana = kibana_of(api)
    board = kibana.saved_objects[("dashboard", dashboard.DASHBOARD_ID)]
    assert board["attributes"]["title"] == "kubelogs overview"
    # Every panel is one of its references, and every reference is an object Kibana has.
    names = {r["name"]: (r["type"], r["id"]) for r in board["references"]}
    assert {p["panelRefName"] for p in json.loads(board["attributes"]["panelsJSON"])} == set(names)
    for key in names.values():
        panel = kibana.saved_objects[key]
        assert all((r["type"], r["id"]) in kibana.saved_objects for r in panel["references"])
    fields = {json.loads(kibana.saved_objects[("visualization", i)]["attributes"]["visState"])["aggs"][2]["params"]["field"]
              for _, i in names.values() if _ == "visualization"}
    assert fields == {"kubernetes.namespace_name", "log_name"}
    # A person changes the dashboard; the next run keeps the change.
    board["attributes"]["title"] = "ours now"
    report, lines = verify(settings)
    assert report.ok and "dashboard 'kubelogs overview'" in report.kibana and "(new)" not in report.kibana, lines
    assert kibana.saved_objects[("dashboard", dashboard.DASHBOARD_ID)]["attributes"]["title"] == "ours now"


def test_a_kibana_without_the_import_api_says_there_is_no_dashboard(api):
    settings = settings_for(api, elasticsearch={"version": "6.8.23"}, verify={"timeout": 20})
    deploy(api, settings)
    report, lines = verify(settings)
    assert report.ok and "no dashboard (this version has no import API)" in report.kibana, lines
    assert kibana_of(api).saved_objects == {}
