"""Snapshots (``elasticsearch.snapshots``) on the cluster tier: the repository registered from the nodes' own
configuration (``fs`` on the shared claim, ``s3`` on the S3 stand-in with the keys from the user's Secret), the
snapshot before a risky change taken and SUCCESS before the first pod restarts, a failed one stopping the run
before anything changes, and an index restored from a snapshot as docs/snapshots.md says.

The fake Elasticsearch writes each snapshot's data to the repository (files under ``fs_root``, objects in
the S3 stand-in) and reads it back on restore (tests/support/fake_es_snapshots.py)."""

from __future__ import annotations

import base64
import json

import pytest

from kubelogs.cluster.api import ClusterError
from kubelogs.manifests import snapshots
from kubelogs.manifests.common import CREDENTIALS_SECRET
from tests.cluster.test_day2 import record_restarts, uids
from tests.support.cluster_helpers import deploy
from tests.support.cluster_helpers import log_pilot_settings_for as settings_for
from tests.support.fake_s3 import FakeS3

FS = {"repository": "fs", "fs_claim": "es-snapshots"}
MINIO = {"repository": "s3", "s3_bucket": "logs-backup", "s3_endpoint": "minio.storage:9000", "s3_protocol": "http",
         "s3_path_style": True, "s3_credentials_secret": "minio-keys"}
SNAPSHOT_CALLS = ("/_snapshot/", "/_slm/")


def prepare_namespace(api, claim: str | None = None, secret: dict[str, str] | None = None) -> None:
    """What the user makes before the first run (docs/snapshots.md): the namespace, and the claim or the Secret."""
    ns = api.namespace
    if api.get("Namespace", ns) is None:
        api.admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    if claim:
        api.admin.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim, "namespace": ns},
                          "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}})
        api.admin.patch_status("PersistentVolumeClaim", claim, ns, {"phase": "Bound"})  # as its provisioner would
    if secret:
        api.admin.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "minio-keys", "namespace": ns},
                          "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()}})


def serve_with_minio(api, s3: FakeS3):
    """A fake Elasticsearch 8.x whose S3 client reaches the stand-in as ``minio.storage:9000``."""
    es = api.serve_elasticsearch(8)
    es.snapshots.resolve = {"minio.storage:9000": s3.address}.__getitem__
    return es


def snapshot_timeline(es) -> list[str]:
    return [f"{m} {p.split('?')[0]}" for m, p in es.calls if m == "DELETE-POD" or p.startswith(SNAPSHOT_CALLS)]


def test_fs_repository_and_the_snapshot_before_an_upgrade_come_before_the_first_restart(api, tmp_path):
    prepare_namespace(api, claim="es-snapshots")
    es = api.serve_elasticsearch(6)
    es.snapshots.fs_root = tmp_path
    settings = {"replicas": 2, "snapshots": FS}
    deploy(api, settings_for(api, elasticsearch=settings))
    # Registered once the pods run with path.repo; 6.8 has no SLM: the daily snapshot is a CronJob.
    assert es.snapshots.repositories == {"kubelogs": {"type": "fs", "settings": {"location": snapshots.MOUNT, "compress": True}}}
    assert api.get("CronJob", snapshots.NAME, api.namespace) is not None and es.snapshots.policies == {}
    sts = api.get("StatefulSet", "elasticsearch", api.namespace)
    assert {"name": "snapshots", "persistentVolumeClaim": {"claimName": "es-snapshots"}} in sts["spec"]["template"]["spec"]["volumes"]
    es.index("app-2026.12.03", {"log": "kept through the upgrade"})
    before = uids(api, "elasticsearch")
    es.major, es.calls[:] = 7, []
    record_restarts(api, es)
    plan, done, log = deploy(api, settings_for(api, elasticsearch={**settings, "version": "7.17.26"}))
    assert [p.name for p in plan.phases][0] == "snapshot before a risky change"
    calls = snapshot_timeline(es)
    name = calls[0].rsplit("/", 1)[1]
    assert name.startswith("kubelogs-before-change-")
    # Taken, then read until SUCCESS (the fake answers IN_PROGRESS first), all before the first pod restarts.
    assert calls[:3] == [f"PUT /_snapshot/kubelogs/{name}", f"GET /_snapshot/kubelogs/{name}",
                         f"GET /_snapshot/kubelogs/{name}"]
    assert calls[3].startswith("DELETE-POD")
    # After the restarts, the 7.x policy (the repository request is the same: sent again with it).
    assert calls[-2:] == ["PUT /_snapshot/kubelogs", "PUT /_slm/policy/kubelogs-daily"]
    assert es.snapshots.policies["kubelogs-daily"]["schedule"] == "0 30 1 * * ?"
    assert api.get("CronJob", snapshots.NAME, api.namespace) is None  # SLM took over: pruned
    saved = json.loads((tmp_path / snapshots.MOUNT.lstrip("/") / f"snap-{name}.json").read_text())
    assert saved["indices"]["app-2026.12.03"]["docs"] == [{"log": "kept through the upgrade"}]
    assert any("safety check: a snapshot before a risky change" in line for line in log)
    assert done["restarted"] == 2 and not before & uids(api, "elasticsearch")
    again, _, _ = deploy(api, settings_for(api, elasticsearch={**settings, "version": "7.17.26"}))
    assert not again.has_work


def test_a_failed_snapshot_stops_the_run_before_anything_changes(api, tmp_path):
    prepare_namespace(api, claim="es-snapshots")
    es = api.serve_elasticsearch(7)
    es.snapshots.fs_root = tmp_path
    settings = {"replicas": 2, "version": "7.17.20", "snapshots": FS}
    deploy(api, settings_for(api, elasticsearch=settings))
    es.snapshots.fault = "IndexShardSnapshotFailedException[disk full]"
    versions, pods = api.resource_versions(), uids(api, "elasticsearch")
    with pytest.raises(ClusterError) as failed:
        deploy(api, settings_for(api, elasticsearch={**settings, "version": "7.17.26"}))
    message = str(failed.value)
    assert "could not take a snapshot before the change from Elasticsearch 7.17.20 to 7.17.26" in message
    assert "FAILED" in message and "disk full" in message
    assert "The safety check 'a snapshot before a risky change' is not met." in message
    assert api.resource_versions() == versions and uids(api, "elasticsearch") == pods


def test_snapshots_configured_in_the_same_run_as_an_upgrade_are_refused(api, tmp_path):
    prepare_namespace(api, claim="es-snapshots")
    es = api.serve_elasticsearch(7)
    es.snapshots.fs_root = tmp_path
    deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "7.17.20"}))
    versions = api.resource_versions()
    with pytest.raises(ClusterError, match=r"refusing the change from Elasticsearch 7.17.20 to 7.17.26 in the run that "
                                           r"sets up or changes elasticsearch.snapshots.*\[safety check: snapshots ready first\]"):
        deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "7.17.26", "snapshots": FS}))
    assert api.resource_versions() == versions


def test_a_missing_claim_or_secret_is_refused_naming_the_setting(api):
    prepare_namespace(api)
    with pytest.raises(ClusterError, match=r"snapshots.fs_claim = 'es-snapshots': there is no PersistentVolumeClaim"):
        deploy(api, settings_for(api, elasticsearch={"snapshots": FS}))
    s3 = {"repository": "s3", "s3_bucket": "logs", "s3_credentials_secret": "minio-keys"}
    with pytest.raises(ClusterError, match=r"s3_credentials_secret = 'minio-keys': the Secret does not exist"):
        deploy(api, settings_for(api, elasticsearch={"version": "8.19.2", "snapshots": s3}))
    assert api.get("StatefulSet", "elasticsearch", api.namespace) is None


def test_s3_repository_on_the_stand_in_and_the_snapshot_before_a_security_switch(api):
    with FakeS3(keys={"kubelogs-ak": "kubelogs-sk"}, buckets={"logs-backup": {}}) as s3:
        prepare_namespace(api, secret={"access_key": "kubelogs-ak", "secret_key": "kubelogs-sk"})
        es = serve_with_minio(api, s3)
        settings = {"replicas": 2, "version": "8.19.2", "snapshots": MINIO}
        deploy(api, settings_for(api, elasticsearch=settings))
        assert es.snapshots.repositories["kubelogs"]["settings"]["bucket"] == "logs-backup"
        # Verified as Elasticsearch verifies a repository: a blob written and deleted, signed with the user's keys.
        assert [(a, m) for a, m, _ in s3.requests] == [("kubelogs-ak", "PUT"), ("kubelogs-ak", "DELETE")]
        es.index("app-2026.12.03", {"log": "a line"})
        es.calls[:] = []
        record_restarts(api, es)
        deploy(api, settings_for(api, elasticsearch={**settings, "security": False}))
        calls = snapshot_timeline(es)
        assert calls[0].startswith("PUT /_snapshot/kubelogs/kubelogs-before-change-") and "DELETE-POD" in calls[3]
        stored = s3.buckets["logs-backup"]
        assert "kubelogs/index.latest" in stored
        name = calls[0].rsplit("/", 1)[1]
        assert json.loads(stored[f"kubelogs/snap-{name}.json"])["indices"]["app-2026.12.03"]["docs"] == [{"log": "a line"}]


def test_s3_keys_that_do_not_match_fail_the_registration_with_s3s_reason(api):
    with FakeS3(keys={"kubelogs-ak": "the-real-secret"}, buckets={"logs-backup": {}}) as s3:
        prepare_namespace(api, secret={"access_key": "kubelogs-ak", "secret_key": "a-typo"})
        serve_with_minio(api, s3)
        with pytest.raises(ClusterError) as failed:
            deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "8.19.2", "snapshots": MINIO}))
        assert "register the snapshot repository" in str(failed.value)
        assert "SignatureDoesNotMatch" in str(failed.value) and "repository_verification_exception" in str(failed.value)


def test_an_index_is_restored_from_a_snapshot_as_the_docs_say(api, tmp_path):
    # docs/snapshots.md, "Restore": take one now, then restore a deleted index, and an existing one under a new name.
    prepare_namespace(api, claim="es-snapshots")
    es = api.serve_elasticsearch(8)
    es.snapshots.fs_root = tmp_path
    deploy(api, settings_for(api, elasticsearch={"replicas": 2, "version": "8.19.2", "snapshots": FS}))
    es.index("app-2026.12.02", {"log": "yesterday"})
    es.index("app-2026.12.03", {"log": "today"})
    admin = api.secret_data(CREDENTIALS_SECRET)
    auth = "Basic " + base64.b64encode(f"{admin['username']}:{admin['password']}".encode()).decode()

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return es.answer(path, {}, auth, method, json.dumps(body).encode() if body else b"")

    status, answer = call("POST", "/_slm/policy/kubelogs-daily/_execute")
    assert status == 200
    snapshot = answer["snapshot_name"]
    assert snapshot.startswith("kubelogs-daily-")
    del es.indices["app-2026.12.02"]  # the mistake
    es.index("app-2026.12.03", {"log": "the agents keep writing"})
    assert es.answer("/_cat/snapshots/kubelogs", {"h": "id,status"}, auth)[1].splitlines() == [f"{snapshot} SUCCESS"]
    assert call("POST", f"/_snapshot/kubelogs/{snapshot}/_restore",
                {"indices": "app-2026.12.02", "ignore_index_settings": ["index.lifecycle.name"]})[0] == 200
    assert es.indices["app-2026.12.02"] == [{"log": "yesterday"}]
    # Today's index is open and written to: a restore under its own name is refused, under another name taken.
    refused = call("POST", f"/_snapshot/kubelogs/{snapshot}/_restore", {"indices": "app-2026.12.03"})
    assert refused[0] == 500 and "an open index with same name already exists" in json.dumps(refused[1])
    taken = call("POST", f"/_snapshot/kubelogs/{snapshot}/_restore",
                 {"indices": "app-2026.12.03", "rename_pattern": "(.+)", "rename_replacement": "restored-$1"})
    assert taken[0] == 200 and es.indices["restored-app-2026.12.03"] == [{"log": "today"}]
    assert len(es.indices["app-2026.12.03"]) == 2
