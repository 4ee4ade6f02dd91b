"""The manifest scanner a new user runs first (checkov, its kubernetes checks with their defaults) finds
nothing to fail in what kubelogs renders: the default settings and the log-pilot recipe (Elasticsearch
6.8.23), metrics turned on (the Elasticsearch exporter) and dedicated masters, with every pod the stages start at run time (canary,
verifier, Kibana views, Elasticsearch calls).

What a pod keeps that a check would take away is in kubelogs/manifests/privileges.py, on the objects as
checkov's own skip annotations with the reason. Each listed privilege must be one that checkov really flags
(scanned again without the annotations), so the list cannot grow stale or hide a check that would pass.
"""

from __future__ import annotations

import copy

import pytest

from kubelogs import compatibility as compat
from kubelogs.cluster import es_calls, es_plan, restarts
from kubelogs.manifests import GeneratedSecrets, privileges, render_all, security
from kubelogs.settings import validate_settings
from kubelogs.verify import pods
from tests.support import checkov

SECRETS = GeneratedSecrets(password="generated", ca_crt="ca", tls_crt="crt", tls_key="key")
RENDERS = {"defaults": {}, "log-pilot recipe": {"elasticsearch": {"version": compat.LOG_PILOT_ES_VERSION}},
           "metrics on": {"metrics": {"enabled": True, "scraper_namespaces": ["monitoring"]}},
           "dedicated masters": {"elasticsearch": {"masters": 3, "replicas": 2}}}
SKIP = "checkov.io/skip"


@pytest.fixture(scope="module")
def command():
    found = checkov.binary()
    if found is None:
        pytest.skip(f"checkov {checkov.VERSION} is not installed at {checkov.venv()}: run "
                    "`python -m tests.support.checkov ensure` (.ci/run does)")
    return found


def everything(raw: dict) -> list[dict]:
    """The render, and one pod of each kind the stages start at run time."""
    settings = validate_settings(raw)
    return [*render_all(settings, SECRETS),
            pods.canary(settings, "kubelogs-canary-x", "node-1", "token"),
            pods.verifier(settings, "kubelogs-verifier-x", {"node-1": "token"}, "kubelogs-canary-2026.12.03"),
            pods.kibana_views(settings, "kubelogs-kibana-x", ["app"]),
            es_calls.pod(settings, "kubelogs-es-admin-x", es_plan.send_batch(security.NAME)),
            es_calls.pod(settings, "kubelogs-es-admin-y", restarts.reenable_batch(settings))]


def component(resource: str, objects: list[dict]) -> str:
    """privileges.KEPT's key for a checkov resource id (Kind.namespace.name[...])."""
    kind, _, rest = resource.partition(".")
    name = rest.split(".", 1)[1]
    for o in objects:
        if o["metadata"]["name"] == name.split(".")[0] and (o["kind"] == kind or kind == "Pod"):
            labels = o["metadata"].get("labels") or {}
            return labels.get("app.kubernetes.io/name") or "client"
    raise AssertionError(f"no rendered object for {resource}")


@pytest.mark.parametrize("raw", RENDERS.values(), ids=RENDERS.keys())
def test_checkov_fails_nothing_and_every_skip_says_why(command, raw):
    results = checkov.scan(command, everything(raw))
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]]
    assert failed == []
    assert results["passed_checks"], "checkov checked nothing"
    for c in results["skipped_checks"]:
        assert len((c["check_result"].get("suppress_comment") or "").strip()) > 20, c


@pytest.mark.parametrize("raw", RENDERS.values(), ids=RENDERS.keys())
def test_every_privilege_kept_is_one_checkov_flags(command, raw):
    objects = everything(raw)
    bare = copy.deepcopy(objects)
    for o in bare:
        annotations = o["metadata"].get("annotations") or {}
        for key in [k for k in annotations if k.startswith(SKIP)]:
            del annotations[key]
    flagged = {(component(c["resource"], objects), c["check_id"]) for c in checkov.scan(command, bare)["failed_checks"]}
    rendered = {o["metadata"].get("labels", {}).get("app.kubernetes.io/name") or "client" for o in objects
                if any(k.startswith(SKIP) for k in (o["metadata"].get("annotations") or {}))}
    listed = {(c, check) for c in rendered for check in privileges.KEPT[c]}
    assert flagged == listed, (f"flagged but not listed: {sorted(flagged - listed)}; "
                               f"listed but not flagged: {sorted(listed - flagged)}")


def test_the_skip_annotations_are_the_list():
    annotations = privileges.annotations("fluent-bit")
    assert sorted(v.split("=", 1)[0] for v in annotations.values()) == sorted(privileges.KEPT["fluent-bit"])
    assert all(k.startswith(SKIP) for k in annotations) and privileges.annotations("nothing-kept") == {}
