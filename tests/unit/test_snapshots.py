"""Snapshot settings, what they render, the keystore step of the container's start (run by the real ``sh``), and
files/es-admin.sh's ``snapshot`` and ``expire_snapshots`` actions against the fake Elasticsearch."""

from __future__ import annotations

import datetime
import subprocess
import tempfile
from pathlib import Path

import pytest

from kubelogs.cluster.api import ClusterError
from kubelogs.cluster.es_calls import CallBatch, run
from kubelogs.cluster.es_plan import repository_moved, repository_problem
from kubelogs.cluster.plan import Step
from kubelogs.manifests import GeneratedSecrets, render_all, snapshot_repository, snapshots
from kubelogs.manifests.elasticsearch import elasticsearch_yml, start_args
from kubelogs.polling import Poll
from kubelogs.settings import SettingsError, validate_settings
from tests.support.es_requests import PodRunner
from tests.support.fake_elasticsearch import FakeElasticsearch

FS = {"repository": "fs", "fs_claim": "es-snapshots"}
S3 = {"repository": "s3", "s3_bucket": "logs-backup", "s3_endpoint": "minio.storage:9000", "s3_protocol": "http",
      "s3_path_style": True, "s3_credentials_secret": "minio-keys"}


def settings(version: str = "8.19.2", **snap):
    return validate_settings({"elasticsearch": {"version": version, "security": False, "snapshots": snap},
                              "kubernetes": {"rollout_timeout": 2, "poll_interval": 0.1}})


@pytest.mark.parametrize("snap, version, words", [
    ({"repository": "fs"}, "8.19.2", "snapshots.fs_claim = None: repository 'fs' needs the name of a ReadWriteMany"),
    ({**FS, "s3_bucket": "logs"}, "8.19.2", "snapshots.s3_bucket = 'logs': is not used by repository 'fs'"),
    ({"repository": "s3"}, "8.19.2", "snapshots.s3_bucket = None: repository 's3' needs the bucket's name"),
    (S3, "7.17.26", "has no S3 repository built in (8.0+ has): set elasticsearch.image"),
    (S3, "5.6.16", "cannot read S3 credentials at start here (6.0+ can)"),
    ({**FS, "time": "1:30"}, "8.19.2", "snapshots.time = '1:30': must be a time of day in UTC written HH:MM"),
    ({**S3, "s3_endpoint": "http://minio:9000"}, "8.19.2", "without a scheme"),
    ({"repository": "nfs"}, "8.19.2", "snapshots.repository = 'nfs': must be one of 'fs' or 's3'"),
])
def test_bad_snapshot_settings_name_the_field_and_the_fix(snap, version, words):
    with pytest.raises(SettingsError) as refused:
        validate_settings({"elasticsearch": {"version": version, "snapshots": snap}})
    assert words in str(refused.value), str(refused.value)


def test_nothing_is_rendered_without_snapshots():
    plain = render_all(validate_settings({}), GeneratedSecrets(password="x"))
    assert not [o for o in plain if o["metadata"]["name"] == snapshots.NAME]
    assert "path.repo" not in elasticsearch_yml(validate_settings({}))


def test_fs_mounts_the_claim_where_path_repo_points_and_registers_it_with_a_policy_from_7_4():
    s = settings(**FS)
    assert elasticsearch_yml(s)["path.repo"] == [snapshot_repository.MOUNT]
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render_all(s, GeneratedSecrets(password=""))}
    pod = objects[("StatefulSet", "elasticsearch")]["spec"]["template"]["spec"]
    assert {"name": "snapshots", "persistentVolumeClaim": {"claimName": "es-snapshots"}} in pod["volumes"]
    assert {"name": "snapshots", "mountPath": snapshot_repository.MOUNT} in pod["containers"][0]["volumeMounts"]
    lines = objects[("ConfigMap", snapshots.NAME)]["data"]["requests"].splitlines()
    assert lines[0] == 'PUT _snapshot/kubelogs {"settings":{"compress":true,"location":"/usr/share/elasticsearch/snapshots"},"type":"fs"}'
    assert lines[1].startswith("PUT _slm/policy/kubelogs-daily ") and '"schedule":"0 30 1 * * ?"' in lines[1]
    assert '"retention":{"expire_after":"30d","min_count":5}' in lines[1]
    assert ("CronJob", snapshots.NAME) not in objects


def test_before_slm_a_cronjob_takes_the_daily_snapshot_at_the_same_utc_time():
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render_all(
        settings("7.3.2", **{**FS, "time": "23:05", "keep_days": 7}), GeneratedSecrets(password=""))}
    job = objects[("CronJob", snapshots.NAME)]
    assert job["spec"]["schedule"] == "5 23 * * *" and job["spec"]["timeZone"] == "Etc/UTC"
    env = {e["name"]: e.get("value") for e in job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ACTIONS"] == "snapshot expire_snapshots" and env["KEEP_DAYS"] == "7"
    assert len(objects[("ConfigMap", snapshots.NAME)]["data"]["requests"].splitlines()) == 1  # the repository only


def test_s3_client_settings_and_the_keys_into_the_keystore_before_elasticsearch_starts(tmp_path):
    s = settings(**S3)
    yml = elasticsearch_yml(s)
    assert {k: v for k, v in yml.items() if k.startswith("s3.")} == {
        "s3.client.kubelogs.endpoint": "minio.storage:9000", "s3.client.kubelogs.protocol": "http",
        "s3.client.kubelogs.path_style_access": True}
    # The start script, run by sh in a directory laid out as the image's, with a stand-in elasticsearch-keystore
    # that records what it is given, and the Secret's files where the pod mounts them.
    (tmp_path / "bin").mkdir()
    (tmp_path / "config").mkdir()
    keystore = tmp_path / "bin" / "elasticsearch-keystore"
    keystore.write_text('#!/bin/sh\nif [ "$1" = create ]; then : > config/elasticsearch.keystore; exit 0; fi\n'
                        'echo "$* $(cat)" >> config/elasticsearch.keystore\n')
    keystore.chmod(0o755)
    secrets = tmp_path / "secret"
    secrets.mkdir()
    (secrets / "access_key").write_text("kubelogs-ak")
    (secrets / "secret_key").write_text("kubelogs-sk")
    script = start_args(s)[2].replace(snapshot_repository.S3_SECRET_DIR, str(secrets))
    done = subprocess.run(["sh", "-c", script, "sh", "echo", "started"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=10)
    assert done.returncode == 0 and done.stdout.strip() == "started", done.stderr
    assert (tmp_path / "config" / "elasticsearch.keystore").read_text().splitlines() == [
        "add --stdin --force s3.client.kubelogs.access_key kubelogs-ak",
        "add --stdin --force s3.client.kubelogs.secret_key kubelogs-sk"]
    # A missing key stops the start (the pod's log says why) instead of starting without credentials.
    (secrets / "secret_key").unlink()
    failed = subprocess.run(["sh", "-c", script, "sh", "echo", "started"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=10)
    assert failed.returncode != 0 and "started" not in failed.stdout


def _run(es: FakeElasticsearch, s, batch: CallBatch) -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kubelogs-snapshots-") as tmp:
        kube = PodRunner(es, Path(tmp))
        kube.load(render_all(s, GeneratedSecrets(password="")))
        lines.append(run(kube, s, batch, lines.append, Poll(0.01)))
    return lines


def _repository(es: FakeElasticsearch, root: Path) -> None:
    es.snapshots.node_config = lambda: {"path.repo": [snapshot_repository.MOUNT]}
    es.snapshots.fs_root = root
    es.snapshots.repositories["kubelogs"] = snapshots.repository(settings(**FS).elasticsearch.snapshots)


def test_a_failed_snapshot_fails_the_batch_with_its_state_and_reason(tmp_path):
    s = settings(**FS)
    with FakeElasticsearch(major=8, number_of_nodes=3) as es:
        _repository(es, tmp_path)
        es.snapshots.fault = "IndexShardSnapshotFailedException[disk full]"
        batch = CallBatch("take a snapshot", ("snapshot",), {"REPOSITORY": "kubelogs", "SNAPSHOT_PREFIX": "kubelogs-x"})
        with pytest.raises(ClusterError) as failed:
            _run(es, s, batch)
    assert "failed snapshot kubelogs-x-" in str(failed.value) and ": FAILED " in str(failed.value)
    assert "disk full" in str(failed.value)


def test_expiry_deletes_scheduled_snapshots_past_keep_days_and_keeps_the_newest_five(tmp_path):
    s = settings(**{**FS, "keep_days": 10})
    with FakeElasticsearch(major=8, number_of_nodes=3) as es:
        _repository(es, tmp_path)
        today = datetime.datetime.now(datetime.timezone.utc).date()
        days = [today - datetime.timedelta(days=d) for d in (40, 30, 20, 15, 12, 11, 3, 1)]
        names = [f"kubelogs-daily-{d:%Y.%m.%d}-013000" for d in days]
        for name in [*names, "kubelogs-before-change-2000.01.01-120000", "someone-elses-2000.01.01"]:
            es.snapshots.create(es, "kubelogs", name, {})
        batch = CallBatch("expire", ("expire_snapshots",), {"REPOSITORY": "kubelogs", "SNAPSHOT_PREFIX": "kubelogs-daily",
                                                            "KEEP_DAYS": "10", "KEEP_AT_LEAST": "5"})
        output = _run(es, s, batch)[-1]
        left = es.answer("/_cat/snapshots/kubelogs", {"h": "id"}, None)[1].split()
    # Past 10 days: the first six; but the newest five stay whatever their age, so only the three oldest go.
    assert sorted(line.split()[-1] for line in output.splitlines() if line.startswith("deleted")) == sorted(names[:3])
    assert sorted(left) == sorted([*names[3:], "kubelogs-before-change-2000.01.01-120000", "someone-elses-2000.01.01"])


class _Claims:
    """The one read repository_problem makes for fs: the claim."""

    def __init__(self, modes: list[str] | None) -> None:
        self.modes = modes

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        assert kind == "PersistentVolumeClaim"
        return None if self.modes is None else {"spec": {"accessModes": self.modes}}


@pytest.mark.parametrize("elasticsearch, modes, words", [
    ({"replicas": 1}, ["ReadWriteOnce"], ""),  # one pod mounts it
    ({"replicas": 1, "masters": 3}, ["ReadWriteOnce"], "every one of the 4 Elasticsearch pods must"),
    ({"replicas": 2}, ["ReadWriteMany"], ""),
    ({"replicas": 2}, None, "there is no PersistentVolumeClaim logging/es-snapshots"),
])
def test_the_fs_claim_must_exist_and_be_mountable_by_every_elasticsearch_pod(elasticsearch, modes, words):
    s = validate_settings({"elasticsearch": {**elasticsearch, "snapshots": FS}})
    problem = repository_problem(_Claims(modes), s, None)
    assert (words in problem and "Nothing was applied" in problem) if words else problem == ""


def test_moving_a_registered_repository_to_another_claim_or_service_is_refused():
    installed = render_all(settings(**FS), GeneratedSecrets(password=""))
    live = next(o for o in installed if o["metadata"]["name"] == snapshots.NAME and o["kind"] == "ConfigMap")
    step = Step("update", live, live)
    assert repository_moved(settings(**FS), step) == ""
    refused = repository_moved(settings(**{**FS, "fs_claim": "new-nfs"}), step)
    assert "registered on fs claim es-snapshots; the settings move it to fs claim new-nfs" in refused
    assert "DELETE _snapshot/kubelogs" in refused and "Nothing was applied" in refused
    assert repository_moved(settings(**S3), Step("create", live, None)) == ""  # nothing registered yet
