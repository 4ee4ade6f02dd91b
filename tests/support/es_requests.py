"""Every request kubelogs sends to Elasticsearch, per major, collected by running the code that sends them.

Nothing here is a hand-copied list: for each Elasticsearch version the code treats differently (the
version thresholds in kubelogs/compatibility.py, each major's first and last minor) and each settings
variant (security on and off, retention off, one node, Kibana off, each collector), the deploy renders its
objects (``render_all``), and the code that talks to Elasticsearch runs for real:

- the cluster stage's in-cluster calls: ``es_calls.run`` applies the pod of each call batch (the request
  ConfigMaps of ``es_plan.REQUEST_CONFIG_MAPS`` sent with ``es_plan.send_batch``; ``quorum`` before and
  after scaling down and up; ``restarts.restart_outdated`` on an outdated pod), which runs files/es-admin.sh;
- the verify stage's verifier pod (``pods.verifier``: files/verify-canaries.sh);
- the retention CronJob's pod where there is no ILM (files/es-retention.sh).

A pod runs at once, as tests/support/kubelet.py runs these pods (its env resolution, Secrets and ConfigMaps from the
rendered objects, ``TMPDIR`` its own), with the host's ``sh`` and ``curl``; the one difference: the pod's
``ES_URL`` names the recording Elasticsearch on 127.0.0.1 instead of the Service (a kubelet's sandbox
resolves the Service to loopback the same way). The recorder is tests/support/fake_elasticsearch.py of that major,
with the body of each request kept; a request the fake does not implement is answered 200 and marked, so
that the scripts go on (the fake's answers are not what is checked here). The request lines of every
variant of a major are deduplicated by shape and sent through one run of es-admin.sh per ConfigMap.

Not collected by running: the log agents' ``_bulk`` requests (Fluent Bit's ``es`` output and log-pilot's
Filebeat are not ours; their path is read from the rendered Fluent Bit configuration and log-pilot's env,
the body is one sample operation) and files/kibana-views.sh (it talks to Kibana, not to Elasticsearch).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from kubelogs import compatibility as compat
from kubelogs.cluster import es_calls, es_plan, layout, quorum, restarts
from kubelogs.manifests import (
    fluent_bit,
    index_settings,
    log_pilot,
    render_all,
    snapshot_repository,
    snapshots,
)
from kubelogs.manifests.common import REQUESTS_KEY, GeneratedSecrets
from kubelogs.manifests.elasticsearch import HTTP_PORT, service_host
from kubelogs.manifests.elasticsearch import NAME as ES_NAME
from kubelogs.polling import Poll
from kubelogs.settings import Settings, SettingsError, validate_settings
from kubelogs.verify import pods
from tests.support.fake_elasticsearch import FakeElasticsearch
from tests.support.kubelet import Kubelet

# Settings variants, each from the defaults of a version; one that is not valid for a version is left out.
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "security off": {"elasticsearch": {"security": False}},
    "no retention": {"elasticsearch": {"retention_days": 0}},
    "one node": {"elasticsearch": {"replicas": 1}},
    "no Kibana": {"kibana": {"enabled": False}},
    "log-pilot": {"agents": {"collector": "log-pilot"}},
    "fluent-bit": {"agents": {"collector": "fluent-bit"}},
    "snapshots": {"elasticsearch": {"snapshots": {"repository": "fs", "fs_claim": "snapshots"}}},
}
# Replica changes whose quorum calls are made (live -> wanted).
SCALING: tuple[tuple[int, int], ...] = ((3, 1), (1, 3))
# Passwords of the rendered Secrets (Elasticsearch wants at least 6 characters).
GENERATED = GeneratedSecrets(password="elastic-secret", writer_password="writer-secret",
                             reader_password="reader-secret", kibana_password="kibana-secret")
OLD_INDEX = "app-2000.01.01"  # a daily index past any retention, for the retention job to delete
SCRIPT_TIMEOUT = 60.0
# Pod env that changes nothing in the requests a script sends (see PodRunner._run).
UNSENT_ENV = frozenset({"HOSTNAME"})
_CONFIG_MAP_RUN = "request ConfigMaps"  # the source of a merged ConfigMap run; its lines name their variants


@dataclass(frozen=True)
class Request:
    """One HTTP request to Elasticsearch: ``path`` unquoted, without the query; ``body`` a JSON document, the
    lines of an NDJSON body, or None."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None
    path_only: bool = False  # a log agent's request: only its path is ours to check

    @classmethod
    def parse(cls, method: str, target: str, body: bytes | str | None) -> Request:
        split = urlsplit(target if target.startswith("/") else "/" + target)
        text = body.decode() if isinstance(body, bytes) else body or ""
        try:
            document = json.loads(text) if text.strip() else None
        except ValueError:
            document = [json.loads(line) for line in text.splitlines() if line.strip()]
        return cls(method, unquote(split.path), tuple(parse_qsl(split.query, keep_blank_values=True)), document)

    @property
    def shape(self) -> tuple:
        """What the check looks at: method, path, query parameter names, top-level body keys."""
        keys = tuple(sorted(self.body)) if isinstance(self.body, dict) else type(self.body).__name__
        # A snapshot's name carries when it was taken (files/es-admin.sh): one shape whatever the time.
        path = re.sub(r"\d{4}\.\d{2}\.\d{2}-\d{6}", "YYYY.MM.DD-HHMMSS", self.path)
        return self.method, path, tuple(sorted({k for k, _ in self.params})), keys

    def as_data(self) -> dict:
        return {"method": self.method, "path": self.path, "params": [list(p) for p in self.params], "body": self.body,
                "path_only": self.path_only}

    def __str__(self) -> str:
        query = "&".join(f"{k}=..." for k, _ in self.params)
        keys = f" {{{', '.join(sorted(self.body))}}}" if isinstance(self.body, dict) else \
            " <ndjson>" if isinstance(self.body, list) else ""
        return f"{self.method} {self.path}{'?' + query if query else ''}{keys}"


@dataclass
class Sent:
    """A request (one of each shape) and what sent it: "<version> <variant>: <script or code>"."""

    request: Request
    sources: list[str] = field(default_factory=list)
    fake_knows: bool = True  # False: the fake answered 'not implemented' (answered 200 here instead)

    def described(self, limit: int = 3) -> str:
        """The first sources, and how many more."""
        more = f" and {len(self.sources) - limit} more" if len(self.sources) > limit else ""
        return "; ".join(self.sources[:limit]) + more


class RecordingElasticsearch(FakeElasticsearch):
    """The fake Elasticsearch, keeping each request whole (its body too) with the source it is told."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # The nodes of the "snapshots" variant run with the repository's path.repo (snapshot_repository).
        self.snapshots.node_config = lambda: {"path.repo": [snapshot_repository.MOUNT]}
        self.snapshots.fs_root = Path(tempfile.mkdtemp(prefix="kubelogs-es-requests-repo-"))
        self.source = ""
        self.sent: list[tuple[Request, str, bool]] = []
        self._bodies = threading.local()

    def answer(self, path: str, query: dict[str, str], authorization: str | None, method: str = "GET",
               body: bytes = b"", content_type: str | None = None) -> tuple[int, object]:
        status, payload = super().answer(path, query, authorization, method, body, content_type)
        known = not (status == 400 and isinstance(payload, dict)
                     and str(payload.get("error", "")).startswith("not implemented by the fake"))
        self._bodies.last = (body, known)
        return (status, payload) if known else (200, {"acknowledged": True})

    def record(self, method: str, path: str, authorization: str | None = None) -> None:
        super().record(method, path, authorization)
        body, known = getattr(self._bodies, "last", (b"", True))
        self.sent.append((Request.parse(method, path, body), self.source, known))


class PodRunner:
    """The Kubernetes API as es_calls, restarts and the verify stage use it, where each applied pod runs at
    once to completion (Elasticsearch pods are only listed, deleted and come back ready)."""

    def __init__(self, es: RecordingElasticsearch, workdir: Path) -> None:
        self.es, self.workdir = es, workdir
        self.objects: dict[tuple[str, str], dict] = {}
        self.logs: dict[str, str] = {}
        self.ran: dict[str, tuple[int, str]] = {}  # a pod's script and env -> (exit code, output)
        self.kubelet = Kubelet(api=self, apiserver="127.0.0.1:0", workdir=workdir, fluent_bit_binary=None, pki=None)

    def load(self, objects: list[dict]) -> None:
        """The rendered objects of a settings variant (Secrets, ConfigMaps...), replacing the previous ones."""
        self.objects = {k: v for k, v in self.objects.items() if k[0] in ("StatefulSet", "Pod")}
        for o in objects:
            self.objects[(o["kind"], o["metadata"]["name"])] = o

    # -- the part of kubelogs.cluster.api.Kube that is used ---------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.objects.get((kind, name))

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        wanted = dict(s.split("=", 1) for s in (label_selector or "").split(",") if s)
        return [o for (k, _), o in self.objects.items() if k == kind
                and wanted.items() <= (o["metadata"].get("labels") or {}).items()]

    def apply(self, manifest: dict) -> dict:
        self.objects[(manifest["kind"], manifest["metadata"]["name"])] = manifest
        if manifest["kind"] == "Pod":
            self._run(manifest)
        return manifest

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        old = self.objects.pop((kind, name), None)
        if old is not None and kind == "Pod" and name.startswith(f"{ES_NAME}-"):
            self.objects[(kind, name)] = _ready_es_pod(name, _update_revision(self), uid=f"{name}-new")

    def merge_patch(self, *args: object, **kwargs: object) -> dict:
        return {}

    def pod_log(self, name: str, namespace: str | None = None) -> str:
        return self.logs.get(name, "")

    # -- running a pod ----------------------------------------------------------------------------------
    def _secret_files(self, pod: dict, volume_name: str) -> dict[str, bytes] | None:
        """The files of a Secret volume (or of a projected one's Secret items); None for any other volume."""
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == volume_name)
        if "secret" in volume:
            return _decoded(self.get("Secret", volume["secret"]["secretName"]))
        if "projected" in volume:
            files = {}
            for source in volume["projected"]["sources"]:
                data = _decoded(self.get("Secret", source["secret"]["name"]))
                files.update({item["path"]: data[item["key"]] for item in source["secret"]["items"]})
            return files
        return None

    def _run(self, pod: dict) -> None:
        container = pod["spec"]["containers"][0]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        pod["spec"].setdefault("nodeName", "node-1")  # scheduled
        env = self.kubelet.env(pod, container)
        # The Service, as the kubelet's sandbox resolves it; over HTTP here (what is sent is the question; that
        # it goes over verified HTTPS is tests/cluster/test_tls.py's).
        service = f"://{service_host(pod['metadata']['namespace'])}:{HTTP_PORT}"
        assert env.get("ES_URL") in (f"http{service}", f"https{service}"), \
            f"{pod['metadata']['name']}: ES_URL {env.get('ES_URL')!r}, not the Service {service}"
        env["ES_URL"] = f"http://{self.es.address}"
        # The same script with the same env sends the same requests: it runs once. The pod's name (HOSTNAME)
        # and the credentials (who sends, not what: curl reads them from a file) are not part of that.
        key = json.dumps([argv, sorted((k, v) for k, v in env.items() if k not in UNSENT_ENV)])
        if key not in self.ran:
            with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
                # The Secret files the pod mounts, where the env says they are (here: under tmp).
                for mount in container.get("volumeMounts") or []:
                    files = self._secret_files(pod, mount["name"])
                    if files is not None:
                        where = Path(tmp, mount["name"])
                        where.mkdir()
                        for path, content in files.items():
                            (where / path).write_bytes(content)
                        env = {k: str(where) if v == mount["mountPath"] else v for k, v in env.items()}
                result = subprocess.run(argv, env={**env, "TMPDIR": tmp}, cwd=tmp, text=True, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=SCRIPT_TIMEOUT)
            self.ran[key] = (result.returncode, result.stdout)
        code, output = self.ran[key]
        self.logs[pod["metadata"]["name"]] = output
        pod["status"] = {"phase": "Succeeded" if code == 0 else "Failed"}


def _decoded(secret: dict | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {}).items()}


def _update_revision(kube: PodRunner) -> str:
    return kube.objects[("StatefulSet", ES_NAME)]["status"]["updateRevision"]


def _ready_es_pod(name: str, revision: str, uid: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "uid": uid, "labels": {"app": ES_NAME, restarts.REVISION_LABEL: revision}},
            "spec": {"containers": [{"name": "elasticsearch"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "elasticsearch", "ready": True, "state": {"running": {}}}]}}


# -- versions and variants ----------------------------------------------------------------------------
def _versions_in(value: object) -> Iterator[tuple[int, int, int]]:
    """Every (major, minor, patch) tuple in a compatibility constant, however nested."""
    if isinstance(value, tuple) and len(value) == 3 and all(type(v) is int for v in value):
        yield value  # type: ignore[misc]
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _versions_in(item)
    elif isinstance(value, dict):
        yield from _versions_in(tuple(value.values()))


def versions(major: int) -> list[str]:
    """The versions of ``major`` whose requests may differ: its first minor, every version threshold of
    kubelogs/compatibility.py in it and the minor before each, its last minor (the one upgrades start from)
    and the default version."""
    found = {(major, 0, 0)}
    for name, value in vars(compat).items():
        if name.isupper():
            for v in _versions_in(value):
                if v[0] == major:
                    found |= {v, (major, max(v[1] - 1, 0), 0)}
    if major in (m for m, _ in compat.UPGRADE_FROM.values()):
        found.add((major, dict(compat.UPGRADE_FROM.values())[major], 0))
    default = compat.parse_version(compat.DEFAULT_ES_VERSION)
    if default[0] == major:
        found.add(default)
    return [".".join(map(str, v)) for v in sorted(found)]


def variants(major: int) -> list[tuple[str, Settings]]:
    """(label, settings) of every version of ``major`` and variant that validates."""
    found = []
    for version in versions(major):
        for name, raw in VARIANTS.items():
            sections = {k: dict(v) for k, v in raw.items()}
            sections["elasticsearch"] = {"version": version, **sections.get("elasticsearch", {})}
            try:
                settings = validate_settings(sections)
            except SettingsError:
                continue  # e.g. log-pilot with 7.x+: not a deploy kubelogs makes
            if name == "security off" and not compat.free_security_available(version):
                continue  # the same as the defaults
            found.append((f"{version} {name}", settings))
    return found


# -- collecting ---------------------------------------------------------------------------------------
def _agent_bulk(label: str, settings: Settings, objects: list[dict]) -> list[tuple[Request, str]]:
    """The agents' bulk request: its path from the rendered configuration; one sample operation as body."""
    found = []
    for o in objects:
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == fluent_bit.CONFIG_MAP:
            output = o["data"]["fluent-bit.conf"].split("[OUTPUT]", 1)[1].split("\n[", 1)[0]
            options = dict(line.split(None, 1) for line in output.splitlines() if line.strip() and " " in line.strip())
            path = options.get("Path", "").strip().rstrip("/")
            meta: dict[str, Any] = {"_index": f"{fluent_bit.UNROUTED_PREFIX}-2026.01.01"}
            if "Type" in options:
                meta["_type"] = options["Type"].strip()
            found.append((Request("POST", f"{path}/_bulk", (), [{"create": meta}, {"log": "a line"}], path_only=True),
                          f"{label}: Fluent Bit's es output (not ours: path only)"))
        if o["kind"] == "DaemonSet" and o["metadata"]["name"] == log_pilot.NAME:
            env = {e["name"] for c in o["spec"]["template"]["spec"]["containers"] for e in c.get("env") or []}
            assert "ELASTICSEARCH_PATH" not in env, "log-pilot's path is set: read it here"
            found.append((Request("POST", "/_bulk", (), [{"index": {"_index": "app-2026.01.01", "_type": "doc"}},
                                                          {"message": "a line"}], path_only=True),
                          f"{label}: log-pilot's Filebeat (not ours: path only)"))
    return found


def _request_lines(objects: list[dict]) -> dict[str, list[str]]:
    """ConfigMap name -> its request lines, for the ConfigMaps the cluster stage sends."""
    return {o["metadata"]["name"]: o["data"][REQUESTS_KEY].splitlines() for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"]["name"] in es_plan.REQUEST_CONFIG_MAPS}


def _line_request(line: str) -> Request:
    method, path, body = line.split(" ", 2)
    return Request.parse(method, path, body)


@dataclass
class _Variant:
    label: str  # "<version> <variant>"
    settings: Settings
    objects: list[dict]  # what the deploy renders for it


def collect(major: int) -> list[Sent]:
    """Every request of ``major``, one of each shape, in the order first sent."""
    found = [_Variant(label, settings, render_all(settings, GENERATED if settings.elasticsearch.security_enabled
                                                  else GeneratedSecrets(password="")))
             for label, settings in variants(major)]
    by_shape: dict[tuple, Sent] = {}
    line_sources: dict[tuple, list[str]] = {}  # a request line's shape -> the variants whose ConfigMap has it

    def add(request: Request, source: str, known: bool = True) -> None:
        sent = by_shape.setdefault(request.shape, Sent(request))
        sent.fake_knows &= known
        for one in line_sources.get(request.shape, [source]) if source.startswith(_CONFIG_MAP_RUN) else [source]:
            if one not in sent.sources:
                sent.sources.append(one)

    workdir = Path(tempfile.mkdtemp(prefix="kubelogs-es-requests-"))
    try:
        with RecordingElasticsearch(major=major, number_of_nodes=3) as es:
            kube = PodRunner(es, workdir)
            for secured in (True, False):
                group = [v for v in found if v.settings.elasticsearch.security_enabled == secured]
                if group:
                    line_sources.update(_run_group(kube, es, group))
            for request, source, known in es.sent:
                add(request, source, known)
        for variant in found:
            for request, source in _agent_bulk(variant.label, variant.settings, variant.objects):
                add(request, source)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return list(by_shape.values())


def _run_group(kube: PodRunner, es: RecordingElasticsearch, group: list[_Variant]) -> dict[tuple, list[str]]:
    """Run the pods of every variant with the same security setting against the recorder; the variants
    whose ConfigMaps hold each request line (by shape)."""
    secured = group[0].settings.elasticsearch.security_enabled
    es.credentials = (lambda: ("elastic", GENERATED.password)) if secured else (lambda: None)
    # The request ConfigMaps: each distinct line of the group once, through one es-admin.sh run each.
    lines: dict[str, dict[tuple, str]] = {}
    sources: dict[tuple, list[str]] = {}
    for variant in group:
        for name, text in _request_lines(variant.objects).items():
            for line in text:
                shape = _line_request(line).shape
                lines.setdefault(name, {}).setdefault(shape, line)
                sources.setdefault(shape, []).append(f"{variant.label}: ConfigMap {name} (files/es-admin.sh)")
    first = group[0]
    for name in es_plan.REQUEST_CONFIG_MAPS:  # in the order the cluster stage sends them
        if name in lines:
            merged = {"kind": "ConfigMap", "metadata": {"name": name},
                      "data": {REQUESTS_KEY: "".join(f"{line}\n" for line in lines[name].values())}}
            kube.load([*first.objects, merged])
            task = es_plan.send_batch(name)
            _task(kube, es, first.settings, task, f"{_CONFIG_MAP_RUN}: files/es-admin.sh {' '.join(task.actions)} "
                                                  f"({name}, the lines of {len(group)} variants from {first.label})")
    for variant in group:
        kube.load(variant.objects)
        settings, label = variant.settings, variant.label
        version = settings.elasticsearch.version
        _retention(kube, es, label)
        _snapshots(kube, es, settings, label)
        for live, wanted in SCALING:
            # As the cluster stage does it (phases: the index settings before the drain): the indices keep
            # no more replicas than the nodes left can hold, or the leaving nodes never drain.
            es.index_replicas.update((index, min(replicas, wanted - 1)) for index, replicas in es.index_replicas.items())
            for when, task in (("before", quorum.before_scaling(version, live, wanted)),
                               ("after", quorum.after_scaling(version, live, wanted))):
                if task is not None:
                    _task(kube, es, settings, task, f"{label}: files/es-admin.sh {' '.join(task.actions)} "
                                                    f"({when} scaling {live} -> {wanted})")
        _layout_change(kube, es, settings, label)
        _restart(kube, es, settings, label)
        _verify(kube, es, settings, label)
    return sources


def _layout_change(kube: PodRunner, es: RecordingElasticsearch, settings: Settings, label: str) -> None:
    """The calls that hand the master role over (cluster/layout.py), adding 3 masters then retiring them."""
    version = settings.elasticsearch.version
    if compat.parse_version(version) < compat.MASTER_LAYOUT_CHANGE_FROM:
        return
    nodes, es.number_of_nodes = es.number_of_nodes, settings.elasticsearch.replicas + 3  # with the masters
    adding = settings.model_copy(update={"elasticsearch": settings.elasticsearch.model_copy(update={"masters": 3})})
    for task in (layout.take_over(adding, version), layout.eligible_data_nodes(adding), layout.cleared(layout.LayoutChange(0, 3)),
                 layout.retire(settings, version, 3)):
        _task(kube, es, settings, task, f"{label}: files/es-admin.sh {' '.join(task.actions)} (master layout change)")
    es.number_of_nodes = nodes
    es.voting_exclusions.clear()  # the retired masters have left
    task = layout.cleared(layout.LayoutChange(3, 0))
    _task(kube, es, settings, task, f"{label}: files/es-admin.sh {' '.join(task.actions)} (master layout change)")


def _task(kube: PodRunner, es: RecordingElasticsearch, settings: Settings, task: es_calls.CallBatch, source: str) -> None:
    es.source = source
    es_calls.run(kube, settings, task, lambda line: None)  # raises ClusterError when the script fails


def _restart(kube: PodRunner, es: RecordingElasticsearch, settings: Settings, label: str) -> None:
    """restarts.restart_outdated on one pod at an older revision: its preparing and re-enabling calls."""
    template = {"spec": {"containers": [{"name": "elasticsearch"}]}}
    kube.objects[("StatefulSet", ES_NAME)] = {"kind": "StatefulSet", "metadata": {"name": ES_NAME},
                                              "spec": {"selector": {"matchLabels": {"app": ES_NAME}}, "template": template},
                                              "status": {"updateRevision": "new"}}
    kube.objects[("Pod", f"{ES_NAME}-0")] = _ready_es_pod(f"{ES_NAME}-0", "old", uid="old")
    es.source = f"{label}: files/es-admin.sh (restarts.restart_outdated)"
    restarted = restarts.restart_outdated(kube, settings, lambda line: None, poll=Poll(0, sleep=lambda s: None))
    assert restarted == 1


def _verify(kube: PodRunner, es: RecordingElasticsearch, settings: Settings, label: str) -> None:
    """The verifier, with each canary token already indexed and one Fluent Bit node counting unrouted lines."""
    token = "c0ffee"
    index = pods.index_for(datetime.datetime.now(datetime.timezone.utc).date())  # as the verify stage names it
    es.index(index, {"log": f"kubelogs canary {token}"})
    shippers = ["node-1"] if compat.runtimes_for(fluent_bit.NAME, settings.agents.collector,
                                                 settings.elasticsearch.major) else []
    pod = pods.verifier(settings, "kubelogs-verifier", {"node-1": token}, index, shippers)
    es.source = f"{label}: files/verify-canaries.sh (verify stage)"
    kube.apply(pod)
    assert pod["status"]["phase"] == "Succeeded", kube.logs["kubelogs-verifier"]


def _snapshots(kube: PodRunner, es: RecordingElasticsearch, settings: Settings, label: str) -> None:
    """The snapshot before a risky change (es_plan.snapshot_batch) and, before SLM, the daily CronJob's pod."""
    if settings.elasticsearch.snapshots is None:
        return
    task = es_plan.snapshot_batch("a version change")
    _task(kube, es, settings, task, f"{label}: files/es-admin.sh {' '.join(task.actions)} (before a risky change)")
    job = kube.get("CronJob", snapshots.NAME)
    if job is not None:
        for day in range(1, snapshots.KEEP_AT_LEAST + 2):  # more old ones than are kept whatever their age
            es.snapshots.create(es, snapshots.REPOSITORY, f"{snapshots.SCHEDULED_PREFIX}-2000.01.{day:02d}-013000", {})
        _run_job(kube, es, job, f"{label}: files/es-admin.sh (CronJob {snapshots.NAME})")


def _retention(kube: PodRunner, es: RecordingElasticsearch, label: str) -> None:
    """The retention CronJob's pod (versions without ILM), with one daily index past the retention."""
    job = kube.get("CronJob", index_settings.RETENTION_JOB)
    if job is None:
        return
    es.index(OLD_INDEX, {"log": "an old line"})
    _run_job(kube, es, job, f"{label}: files/es-retention.sh (CronJob {index_settings.RETENTION_JOB})")


def _run_job(kube: PodRunner, es: RecordingElasticsearch, cronjob: dict, source: str) -> None:
    """One run of a CronJob's pod, as the CronJob controller would start it."""
    template, name = cronjob["spec"]["jobTemplate"]["spec"]["template"], cronjob["metadata"]["name"]
    pod = {"kind": "Pod", "metadata": {"name": name, "namespace": cronjob["metadata"]["namespace"],
                                       **{k: v for k, v in template["metadata"].items() if k != "name"}},
           "spec": template["spec"]}
    es.source = source
    kube.apply(pod)
    assert pod["status"]["phase"] == "Succeeded", kube.logs[name]
