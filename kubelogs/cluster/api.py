"""A small JSON client over the official ``kubernetes`` ApiClient: get, list, server-side apply, delete.

The official client does authentication, TLS and kubeconfig handling; this module adds what the
stage needs on top: plain dicts in and out, the resource paths from ``resources.py``, retries of
idempotent calls on transient failures, and errors a user can act on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kubelogs.cluster.resources import RESOURCES, resource_of
from kubelogs.errors import UserError
from kubelogs.settings import Settings

FIELD_MANAGER = "kubelogs"
# Status codes worth another try: every call the stage makes is idempotent (server-side apply with
# force, GET, LIST, DELETE that accepts NotFound), so retrying them cannot do anything twice.
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
REQUEST_TIMEOUT = (5, 30)  # seconds: connect, read


class ClusterError(UserError):
    """The cluster stage cannot go on; the message says why and what to do."""


class ApiError(ClusterError):
    def __init__(self, method: str, path: str, status: int, reason: str, message: str):
        self.status, self.reason = status, reason
        super().__init__(f"Kubernetes API {method} {path}: {status} {reason}: {message}")


def load_client(settings: Settings) -> k8s.ApiClient:
    """An ApiClient for the settings' kubeconfig and context ($KUBECONFIG or ~/.kube/config if unset)."""
    # $KUBECONFIG read now, not when the client was imported (it may list several files, ':'-separated).
    config_file = settings.kubernetes.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    if settings.kubernetes.kubeconfig or not os.environ.get("KUBECONFIG"):
        where = config_file
    else:
        where = f"$KUBECONFIG={config_file}"
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=config_file, context=settings.kubernetes.context,
            client_configuration=configuration, persist_config=False,
        )
    except Exception as e:  # the loader raises ConfigException, OSError or YAML errors
        raise ClusterError(
            f"cannot load the kubeconfig ({where}, context {settings.kubernetes.context or '(current)'}): {e}. "
            "Set kubelogs.kubernetes.kubeconfig / context, or $KUBECONFIG."
        ) from None
    configuration.retries = 0  # retries happen in Kube._call, where they can be counted and explained
    return k8s.ApiClient(configuration)


def label_selector(match_labels: dict[str, str]) -> str:
    """A ``labelSelector`` query value for a selector's ``matchLabels``."""
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


class Kube:
    """Kubernetes API calls the cluster stage makes, on plain dicts."""

    def __init__(self, api_client: k8s.ApiClient, retry_delays: Sequence[float] = RETRY_DELAYS,
                 sleep: Callable[[float], None] = time.sleep, request_timeout: tuple[float, float] = REQUEST_TIMEOUT):
        self.api = api_client
        self.retry_delays = tuple(retry_delays)
        self.request_timeout = request_timeout
        self.sleep = sleep
        self.requests = 0  # HTTP requests sent, retries included (for the benchmark)

    @property
    def server(self) -> str:
        return self.api.configuration.host

    def _call(self, method: str, path: str, query: Sequence[tuple[str, str]] = (),
              body: Any = None, content_type: str | None = None, text: bool = False) -> Any:
        # Also for pods/NAME/log, whose body is text: the API server answers 406 to "Accept: text/plain".
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        last = ""
        for delay in (*self.retry_delays, None):
            self.requests += 1
            request = self.api.param_serialize(
                method=method, resource_path=path, query_params=list(query), header_params=dict(headers),
                body=body, auth_settings=["BearerToken"],
            )
            try:
                response = self.api.call_api(*request, _request_timeout=self.request_timeout)
                data = response.read()
            except urllib3.exceptions.HTTPError as e:
                reason = getattr(e, "reason", None) or e
                last = f"cannot reach the Kubernetes API at {self.server}: {type(reason).__name__}: {reason}"
            else:
                if response.status < 400:
                    if text:
                        return data.decode(errors="replace")
                    return json.loads(data) if data else {}
                status = _status_body(data)
                error = ApiError(method, path, response.status, status.get("reason") or response.reason or "",
                                 status.get("message") or data.decode(errors="replace")[:200])
                if response.status not in RETRY_STATUSES:
                    raise error
                last = str(error)
            if delay is None:
                break
            self.sleep(delay)
        raise ClusterError(
            f"{last} (gave up after {len(self.retry_delays) + 1} attempts). Check that the cluster is up and "
            "that kubelogs.kubernetes.kubeconfig / context point at it; nothing more was changed."
        )

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return self._call("GET", RESOURCES[kind].path(namespace, name))
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def served_kinds(self, group_version: str) -> set[str] | None:
        """The kinds the API server serves in ``group_version`` (one discovery GET of ``/apis/<group>/<version>``),
        or None where no CRD or aggregated API defines it: kube-apiserver answers 404 NotFound then."""
        try:
            listed = self._call("GET", f"/apis/{group_version}")
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        return {r["kind"] for r in listed.get("resources") or [] if "/" not in r.get("name", "")}

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        """Objects of one kind; each item gets ``apiVersion`` and ``kind``, which a real LIST leaves out."""
        resource = RESOURCES[kind]
        query = [("labelSelector", label_selector)] if label_selector else []
        items = self._call("GET", resource.path(namespace), query).get("items", [])
        return [{"apiVersion": resource.api_version, "kind": resource.kind, **item} for item in items]

    def apply(self, manifest: dict, dry_run: bool = False) -> dict:
        """Server-side apply with the fixed field manager; kubelogs owns the fields it sets."""
        resource = resource_of(manifest)
        meta = manifest["metadata"]
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self._call("PATCH", resource.path(meta.get("namespace"), meta["name"]), query,
                          body=manifest, content_type="application/apply-patch+yaml")

    def merge_patch(self, kind: str, name: str, namespace: str | None, patch: dict,
                    field_manager: str | None = None) -> dict:
        """A JSON merge patch, under its own field manager (server-side apply leaves its fields alone)."""
        query = [("fieldManager", field_manager)] if field_manager else []
        return self._call("PATCH", RESOURCES[kind].path(namespace, name), query,
                          body=patch, content_type="application/merge-patch+json")

    def pod_log(self, name: str, namespace: str, previous: bool = False) -> str:
        """A pod's log; ``previous``: its container's last run, where it restarted (else the current one)."""
        try:
            return self._call("GET", RESOURCES["Pod"].path(namespace, name) + "/log",
                              [("previous", "true")] if previous else (), text=True)
        except ClusterError:
            if not previous:
                raise
            return self._call("GET", RESOURCES["Pod"].path(namespace, name) + "/log", text=True)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete one object (its dependents in the background, as kubectl does); gone already is fine."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            self._call("DELETE", RESOURCES[kind].path(namespace, name), body=body,
                       content_type="application/json")
        except ApiError as e:
            if e.status != 404:
                raise


def _status_body(data: bytes) -> dict:
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
