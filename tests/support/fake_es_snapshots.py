"""Snapshots in the fake Elasticsearch: repositories, snapshots, restores and snapshot lifecycle policies, as
Elasticsearch answers them, with the data really written to the repository (files for ``fs``, objects in
the S3 stand-in for ``s3``) and read back from there on restore.

Held to Elasticsearch's rules (docs "Register a snapshot repository", "Create snapshot API", "Restore
snapshot API", "SLM"):
- an ``fs`` location must be under a ``path.repo`` of the nodes' elasticsearch.yml (``node_config``: the file
  every node started with), else ``repository_exception``; registering verifies the repository by writing and
  deleting a blob (``repository_verification_exception`` when that fails);
- an ``s3`` repository uses the client named in its settings: ``s3.client.<name>.endpoint|protocol|
  path_style_access`` from elasticsearch.yml, the keys from the keystore (``keystore``), and signs every
  request; S3's refusal is the verification failure's reason;
- snapshot names are lower case and unique in the repository; a snapshot answers ``IN_PROGRESS`` to the first
  ``in_progress_polls`` reads, then ``SUCCESS`` (or ``FAILED`` with ``fault`` as its reason);
- a restore refuses an index that exists open (the message suggests a rename pattern), and takes
  ``indices``, ``rename_pattern``, ``rename_replacement``;
- SLM (kubelogs sends it from 7.5; the fake knows only the major, so from 7.0) refuses a policy whose repository does not exist.
The repository's own format is the fake's (``index.latest`` and a JSON file per snapshot): nothing but the fake
reads it.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.fake_s3 import S3Client, S3Error

if TYPE_CHECKING:
    from tests.support.fake_elasticsearch import FakeElasticsearch

INDEX_LATEST = "index.latest"


def _error(status: int, kind: str, reason: str) -> tuple[int, dict]:
    return status, {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
                    "status": status}


class _Store:
    """Where a repository's blobs live."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


@dataclass
class _Files(_Store):
    root: Path

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


@dataclass
class _Objects(_Store):
    client: S3Client
    base_path: str

    def _key(self, key: str) -> str:
        return f"{self.base_path.strip('/')}/{key}" if self.base_path else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put(self._key(key), data)

    def get(self, key: str) -> bytes:
        return self.client.get(self._key(key))

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))


@dataclass
class Snapshots:
    node_config: Callable[[], dict] = lambda: {}  # elasticsearch.yml as every node started with it
    keystore: Callable[[], dict[str, str]] = lambda: {}  # secure settings, e.g. s3.client.kubelogs.access_key
    fs_root: Path | None = None  # the shared volume an fs location is on (locations are joined under it)
    resolve: Callable[[str], str] = lambda endpoint: endpoint  # an S3 endpoint's name -> its loopback address
    in_progress_polls: int = 1
    fault: str | None = None  # a snapshot ends FAILED with this reason
    repositories: dict[str, dict] = field(default_factory=dict)
    policies: dict[str, dict] = field(default_factory=dict)
    _reads: dict[str, int] = field(default_factory=dict)

    # -- the repository's storage ---------------------------------------------------------------------------
    def store(self, body: dict) -> _Store:
        settings = body.get("settings") or {}
        if body.get("type") == "fs":
            location = str(settings.get("location") or "")
            repo_paths = self.node_config().get("path.repo") or []
            if not repo_paths:
                raise _Refused(500, "repository_exception", f"location [{location}] doesn't match any of the locations "
                               "specified by path.repo because this setting is empty")
            if not any(location == p or location.startswith(p.rstrip("/") + "/") for p in repo_paths):
                raise _Refused(500, "repository_exception", f"location [{location}] doesn't match any of the locations "
                               f"specified by path.repo: {repo_paths}")
            assert self.fs_root is not None, "the test gives the shared volume (fs_root)"
            return _Files(self.fs_root / location.lstrip("/"))
        if body.get("type") == "s3":
            client = str(settings.get("client") or "default")
            config, keys = self.node_config(), self.keystore()
            prefix = f"s3.client.{client}."
            endpoint = config.get(prefix + "endpoint") or "s3.amazonaws.com"
            access, secret = keys.get(prefix + "access_key"), keys.get(prefix + "secret_key")
            if not access or not secret:
                raise _Refused(500, "repository_verification_exception",
                               f"Unable to load credentials from any of the providers in the chain (client [{client}])")
            return _Objects(S3Client(self.resolve(endpoint), endpoint, str(settings.get("bucket")), access, secret,
                                     bool(config.get(prefix + "path_style_access"))), str(settings.get("base_path") or ""))
        raise _Refused(500, "repository_exception", f"repository type [{body.get('type')}] does not exist")

    def _open(self, repo: str) -> tuple[_Store, dict]:
        if repo not in self.repositories:
            raise _Refused(404, "repository_missing_exception", f"[{repo}] missing")
        store = self.store(self.repositories[repo])
        try:
            latest = json.loads(store.get(INDEX_LATEST))
        except (FileNotFoundError, S3Error):
            latest = {"snapshots": []}
        return store, latest

    # -- the API ----------------------------------------------------------------------------------------------
    def api(self, es: FakeElasticsearch, method: str, parts: list[str], query: dict[str, str],
            doc: dict) -> tuple[int, object] | None:
        try:
            return self._api(es, method, parts, query, doc)
        except _Refused as e:
            return _error(e.status, e.kind, e.reason)
        except S3Error as e:
            return _error(500, "repository_exception", f"[{parts[1] if len(parts) > 1 else ''}] {e}")

    def _api(self, es: FakeElasticsearch, method: str, parts: list[str], query: dict[str, str],
             doc: dict) -> tuple[int, object] | None:
        if parts[:2] == ["_cat", "snapshots"] and len(parts) == 3 and method == "GET":
            store, latest = self._open(parts[2])
            # Elasticsearch prints more columns by default (id status start_epoch start_time ...): the first ones.
            columns = query.get("h", "id,status,start_epoch").split(",")
            rows = [{"id": s["snapshot"], "status": json.loads(store.get(f"snap-{s['snapshot']}.json"))["state"],
                     "start_epoch": str(s["start_time_in_millis"] // 1000)} for s in latest["snapshots"]]
            header = [" ".join(columns)] if query.get("v") in ("", "true") else []
            return 200, "".join(f"{line}\n" for line in header + [" ".join(r.get(c, "") for c in columns) for r in rows])
        if parts[:1] == ["_slm"] and es.major >= 7:
            return self._slm(es, method, parts, doc)
        if parts[:1] != ["_snapshot"]:
            return None
        if len(parts) == 2 and method in ("PUT", "POST"):
            try:
                store = self.store(doc)
                probe = f"tests-{secrets.token_hex(8)}"
                store.put(probe, b"verification")
                store.delete(probe)
            except S3Error as e:
                raise _Refused(500, "repository_verification_exception", f"[{parts[1]}] path  is not accessible on "
                               f"master node: {e}") from None
            self.repositories[parts[1]] = doc
            return 200, {"acknowledged": True}
        if len(parts) == 2 and method == "GET":
            if parts[1] not in self.repositories:
                return _error(404, "repository_missing_exception", f"[{parts[1]}] missing")
            return 200, {parts[1]: self.repositories[parts[1]]}
        if len(parts) == 3 and method == "PUT":
            return self.create(es, parts[1], parts[2], doc)
        if len(parts) == 3 and method == "GET":
            store, latest = self._open(parts[1])
            names = [s["snapshot"] for s in latest["snapshots"]]
            wanted = names if parts[2] in ("_all", "*") else [parts[2]]
            if any(n not in names for n in wanted):
                return _error(404, "snapshot_missing_exception", f"[{parts[1]}:{parts[2]}] is missing")
            return 200, {"snapshots": [self._info(parts[1], store, n) for n in wanted]}
        if len(parts) == 3 and method == "DELETE":
            store, latest = self._open(parts[1])
            if parts[2] not in [s["snapshot"] for s in latest["snapshots"]]:
                return _error(404, "snapshot_missing_exception", f"[{parts[1]}:{parts[2]}] is missing")
            latest["snapshots"] = [s for s in latest["snapshots"] if s["snapshot"] != parts[2]]
            store.delete(f"snap-{parts[2]}.json")
            store.put(INDEX_LATEST, json.dumps(latest).encode())
            return 200, {"acknowledged": True}
        if len(parts) == 4 and parts[3] == "_restore" and method == "POST":
            return self.restore(es, parts[1], parts[2], doc)
        return None

    def create(self, es: FakeElasticsearch, repo: str, name: str, doc: dict) -> tuple[int, object]:
        if name != name.lower() or not re.fullmatch(r"[^\s,\"*\\<>|?/#]+", name):
            return _error(400, "invalid_snapshot_name_exception", f"[{repo}:{name}] Invalid snapshot name [{name}], "
                          "must be lowercase")
        store, latest = self._open(repo)
        if name in [s["snapshot"] for s in latest["snapshots"]]:
            return _error(400, "invalid_snapshot_name_exception", f"[{repo}:{name}] Invalid snapshot name [{name}], "
                          "snapshot with the same name already exists")
        patterns = doc.get("indices") or "*"
        patterns = patterns.split(",") if isinstance(patterns, str) else patterns
        chosen = [i for i in es.indices if any(fnmatch.fnmatchcase(i, p) for p in patterns)]
        now = int(time.time() * 1000)
        data = {"snapshot": name, "uuid": secrets.token_urlsafe(16), "start_time_in_millis": now,
                "include_global_state": bool(doc.get("include_global_state", True)),
                "state": "FAILED" if self.fault else "SUCCESS", "reason": self.fault,
                "indices": {i: {"docs": es.indices[i], "replicas": es.index_replicas.get(i, 1)} for i in chosen},
                "templates": es.templates if doc.get("include_global_state", True) else {}}
        store.put(f"snap-{name}.json", json.dumps(data).encode())
        latest["snapshots"].append({"snapshot": name, "start_time_in_millis": now})
        store.put(INDEX_LATEST, json.dumps(latest).encode())
        self._reads[f"{repo}:{name}"] = 0
        return 200, {"accepted": True}

    def _info(self, repo: str, store: _Store, name: str) -> dict:
        data = json.loads(store.get(f"snap-{name}.json"))
        key = f"{repo}:{name}"
        self._reads[key] = self._reads.get(key, self.in_progress_polls) + 1
        state = "IN_PROGRESS" if self._reads[key] <= self.in_progress_polls else data["state"]
        total = len(data["indices"])
        started = datetime.datetime.fromtimestamp(data["start_time_in_millis"] / 1000, datetime.timezone.utc)
        info = {"snapshot": name, "uuid": data["uuid"], "repository": repo, "indices": sorted(data["indices"]),
                "include_global_state": data["include_global_state"], "state": state,
                "start_time": started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "start_time_in_millis": data["start_time_in_millis"], "failures": [],
                "shards": {"total": total, "failed": total if state == "FAILED" else 0,
                           "successful": 0 if state == "FAILED" else total}}
        if state == "FAILED":
            info["reason"] = data["reason"]
        return info

    def restore(self, es: FakeElasticsearch, repo: str, name: str, doc: dict) -> tuple[int, object]:
        store, latest = self._open(repo)
        if name not in [s["snapshot"] for s in latest["snapshots"]]:
            return _error(404, "snapshot_missing_exception", f"[{repo}:{name}] is missing")
        data = json.loads(store.get(f"snap-{name}.json"))
        if data["state"] != "SUCCESS":
            return _error(500, "snapshot_restore_exception", f"[{repo}:{name}] unsupported snapshot state [{data['state']}]")
        patterns = doc.get("indices") or "*"
        patterns = patterns.split(",") if isinstance(patterns, str) else patterns
        chosen = [i for i in data["indices"] if any(fnmatch.fnmatchcase(i, p) for p in patterns)]
        renamed = {i: re.sub(doc["rename_pattern"], doc.get("rename_replacement", "").replace("$", "\\"), i)
                   if doc.get("rename_pattern") else i for i in chosen}
        for source, target in renamed.items():
            if target in es.indices:
                return _error(500, "snapshot_restore_exception", f"[{repo}:{name}/{data['uuid']}] cannot restore index "
                              f"[{target}] because an open index with same name already exists in the cluster. Either "
                              "close or delete the existing index or restore the index under a different name by "
                              "providing a rename pattern and replacement name")
        for source, target in renamed.items():
            es._create_index(target)
            es.index_replicas[target] = data["indices"][source]["replicas"]
            for document in data["indices"][source]["docs"]:
                es.not_indexed.setdefault(target, {})[len(es.indices[target])] = es.mappings[target].accept(document, None)
                es.indices[target].append(document)
        return 200, {"accepted": True}

    def _slm(self, es: FakeElasticsearch, method: str, parts: list[str], doc: dict) -> tuple[int, object] | None:
        if parts[1:2] != ["policy"] or len(parts) < 3:
            return None
        name = parts[2]
        if len(parts) == 3 and method == "PUT":
            missing = [k for k in ("schedule", "name", "repository") if k not in doc]
            if missing:
                return _error(400, "action_request_validation_exception", f"Validation Failed: 1: {missing[0]} is missing;")
            if doc["repository"] not in self.repositories:
                return _error(400, "illegal_argument_exception", f"no such repository [{doc['repository']}]")
            if len(str(doc["schedule"]).split()) not in (6, 7):
                return _error(400, "illegal_argument_exception", f"invalid schedule [{doc['schedule']}]: must be a valid cron expression")
            self.policies[name] = doc
            return 200, {"acknowledged": True}
        if len(parts) == 3 and method == "GET":
            if name not in self.policies:
                return _error(404, "resource_not_found_exception", f"snapshot lifecycle policy or policies [{name}] not found")
            return 200, {name: {"version": 1, "policy": self.policies[name]}}
        if len(parts) == 4 and parts[3] == "_execute" and method in ("POST", "PUT"):
            if name not in self.policies:
                return _error(404, "resource_not_found_exception", f"no such snapshot lifecycle policy [{name}]")
            policy = self.policies[name]
            day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y.%m.%d")
            snapshot = re.sub(r"^<(.*)-\{now/d\}>$", rf"\1-{day}", policy["name"]) + f"-{secrets.token_hex(11)}"
            status, answer = self.create(es, policy["repository"], snapshot, policy.get("config") or {})
            return (200, {"snapshot_name": snapshot}) if status == 200 else (status, answer)
        return None


class _Refused(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason
