"""What kubelogs keeps inside Elasticsearch for the log indices: retention and index settings.

The requests are rendered as data into a ConfigMap (``kubectl get configmap elasticsearch-index-settings``
shows exactly what is sent); the cluster stage sends them from an in-cluster pod when they change. Versions
without ILM (before 6.6) get a daily CronJob that deletes old indices instead of a policy.
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests import client_pods
from kubelogs.manifests.common import CREDENTIALS_SECRET, REQUESTS_KEY, TASK_LABEL, Manifest, obj, requests_text
from kubelogs.manifests.fluent_bit import JSON_FIELD, LOG_NAME_FIELD, UNROUTED_FIELD
from kubelogs.settings import Settings

NAME = "elasticsearch-index-settings"
POLICY_NAME = TEMPLATE_NAME = "kubelogs-logs"
# The agents write <log name>-YYYY.MM.DD; the Elasticsearch cluster is this deploy's own.
INDEX_PATTERN = "*-20*"
RETENTION_JOB = "elasticsearch-retention"
RETENTION_SCHEDULE = "17 1 * * *"  # daily, off the hour
# What Fluent Bit's kubernetes filter adds besides labels and annotations (all strings).
KUBERNETES_FIELDS = ("pod_name", "namespace_name", "pod_id", "host", "pod_ip", "container_name", "docker_id",
                     "container_hash", "container_image")


def replicas_per_index(settings: Settings) -> int:
    """One replica where another node can hold it; none on a one-node cluster, so that it is green."""
    return 0 if settings.elasticsearch.replicas == 1 else 1


def index_level_settings(settings: Settings) -> dict[str, object]:
    values: dict[str, object] = {"number_of_replicas": replicas_per_index(settings)}
    if compat.has_ilm(settings.elasticsearch.version):
        values["lifecycle.name"] = POLICY_NAME
    return {"index": values}


def policy(settings: Settings) -> dict:
    """Delete an index ``retention_days`` after it was created; 0 keeps it (the policy stays, empty, so
    indices that already follow it stop being deleted)."""
    days = settings.elasticsearch.retention_days
    if not days:
        return {"policy": {"phases": {"hot": {"min_age": "0ms", "actions": {}}}}}
    return {"policy": {"phases": {"delete": {"min_age": f"{days}d", "actions": {"delete": {}}}}}}


def mappings(settings: Settings) -> dict:
    """The fields the agents write, mapped up front so that no line's value can be rejected for its type:
    without it, the first line of an index fixes each field's type (a line that looks like a date makes
    ``log`` a date field, and every later line is rejected). Pod labels and annotations, whose keys any
    user chooses, are ``flattened`` (7.3+) or keyword strings; no string is taken for a date. So are the
    fields of a JSON line (``JSON_FIELD``): two applications that log ``{"status": 200}`` and
    ``{"status": "ok"}`` into one index both arrive, searchable as ``json.status``."""
    version = compat.parse_version(settings.elasticsearch.version)
    keyword = {"type": "keyword"}
    kubernetes = {name: keyword for name in KUBERNETES_FIELDS}
    body: dict = {"date_detection": False}
    # Values longer than this are kept in the document but not indexed (a keyword term has a 32 KB limit).
    json_field: dict = {"type": "flattened", "depth_limit": 50, "ignore_above": 8191}
    if version >= compat.FLATTENED_FROM:
        kubernetes.update(labels={"type": "flattened"}, annotations={"type": "flattened"})
    else:
        # route.lua made JSON_FIELD one level of strings: each is a keyword.
        json_field = {"type": "object"}
        body["dynamic_templates"] = [
            {"json_fields": {"path_match": f"{JSON_FIELD}.*", "match_mapping_type": "string",
                             "mapping": {"type": "keyword", "ignore_above": 8191}}},
            {"kubernetes_metadata": {
                "path_match": "kubernetes.*", "match_mapping_type": "string", "mapping": {"type": "keyword"}}}]
    body["properties"] = {
        "@timestamp": {"type": "date"},
        "log": {"type": "text"},  # Fluent Bit's line
        "message": {"type": "text"},  # log-pilot's (Filebeat's) line
        "stream": keyword,
        LOG_NAME_FIELD: keyword,  # Fluent Bit's: the declared log name, or the namespace (its index's name)
        "kubernetes": {"properties": kubernetes},
        JSON_FIELD: json_field,
        UNROUTED_FIELD: {"properties": {"node": keyword, "file": keyword}},
    }
    return body


def template(settings: Settings) -> tuple[str, dict]:
    """(path, body) of the index template for the log indices, in the form the version has."""
    version = compat.parse_version(settings.elasticsearch.version)
    index = {"index": {**index_level_settings(settings)["index"],
                       # A malformed number or date is left out of the index; the line is kept.
                       "mapping": {"ignore_malformed": True}}}
    if version >= compat.COMPOSABLE_TEMPLATES_FROM:
        # Above the built-in templates (priority 100, e.g. logs-*-*), so a log named logs-x stays an index.
        return f"_index_template/{TEMPLATE_NAME}", {"index_patterns": [INDEX_PATTERN], "priority": 200,
                                                    "template": {"settings": index, "mappings": mappings(settings)}}
    patterns: dict = {"template": INDEX_PATTERN} if version[0] == 5 else {"index_patterns": [INDEX_PATTERN]}
    # Typed before 7.0: `_default_` applies to the type the agents write (6.x: `doc`, both agents).
    body = {"_default_": mappings(settings)} if version[0] < 7 else mappings(settings)
    return f"_template/{TEMPLATE_NAME}", {**patterns, "order": 10, "settings": index, "mappings": body}


def requests(settings: Settings) -> list[tuple[str, str, dict]]:
    """(method, path, body) in order: the policy, the template for new indices, the same settings for the
    indices that exist (a one-node cluster turns green, and older indices follow the retention)."""
    calls: list[tuple[str, str, dict]] = []
    if compat.has_ilm(settings.elasticsearch.version):
        calls.append(("PUT", f"_ilm/policy/{POLICY_NAME}", policy(settings)))
    calls.append(("PUT", *template(settings)))
    # Update-settings answers 404 when a wildcard matches nothing, unless told otherwise; closed indices
    # cannot take number_of_replicas before 7.2.
    calls.append(("PUT", f"{INDEX_PATTERN}/_settings?allow_no_indices=true&expand_wildcards=open",
                  index_level_settings(settings)))
    return calls


def render(settings: Settings) -> list[Manifest]:
    ns = settings.namespace
    objects = [obj("v1", "ConfigMap", NAME, "elasticsearch", ns, data={REQUESTS_KEY: requests_text(requests(settings))})]
    if settings.elasticsearch.retention_days and not compat.has_ilm(settings.elasticsearch.version):
        objects.append(retention_cronjob(settings))
    return objects


def retention_cronjob(settings: Settings) -> Manifest:
    """Deletes daily log indices older than ``retention_days`` where Elasticsearch has no ILM."""
    env = [*client_pods.es_env(settings),
           {"name": "RETENTION_DAYS", "value": str(settings.elasticsearch.retention_days)}]
    pod = client_pods.pod(settings, RETENTION_JOB, {TASK_LABEL: "retention"}, client_pods.container(
        settings, "retention", command=client_pods.script_command("es-retention.sh"), env=env),
        credentials=CREDENTIALS_SECRET)
    return client_pods.cronjob(settings, RETENTION_JOB, pod, RETENTION_SCHEDULE)
