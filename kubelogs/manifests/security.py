"""Least privilege inside Elasticsearch: a role and user that may only write the log indices (the agents), a
read-only role and user (the verifier), a role and user that may only monitor (the metrics exporter, while
``metrics.enabled``), and the password of Kibana's built-in system user.

The requests are data, in the ConfigMap ``elasticsearch-security`` (one per line, as for the index
settings); a password appears there only as ``@@NAME@@``, which the in-cluster pod fills in from the
Secret the cluster stage generated (files/es-admin.sh), so no password is in a ConfigMap or on the
control machine's screen. The cluster stage sends them when they change (a password generated again too).
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests.common import (
    KIBANA_SECRET,
    MONITOR_SECRET,
    MONITOR_USER,
    READER_SECRET,
    READER_USER,
    REQUESTS_KEY,
    WRITER_SECRET,
    WRITER_USER,
    GeneratedSecrets,
    Manifest,
    credential_digests,
    obj,
    requests_text,
)
from kubelogs.settings import Settings

NAME = "elasticsearch-security"
WRITER_ROLE, READER_ROLE, MONITOR_ROLE = "kubelogs_writer", "kubelogs_reader", "kubelogs_monitor"
# The daily log indices `<log name>-YYYY.MM.DD` (the unrouted index included), as a Lucene regular
# expression: not Elasticsearch's and Kibana's own dot-prefixed indices, not other tools' indices.
LOG_INDICES = r"/[a-z0-9][a-z0-9\-]*-[0-9]{4}\.[0-9]{2}\.[0-9]{2}/"
# log-pilot's Filebeat may name its indices filebeat-* on some setups (see docs/agents.md).
FILEBEAT_INDICES = "filebeat-*"
# Placeholder -> (Secret, key): the pod gets each as env of that name.
PASSWORDS = {"WRITER_PASSWORD": (WRITER_SECRET, "password"), "READER_PASSWORD": (READER_SECRET, "password"),
             "KIBANA_PASSWORD": (KIBANA_SECRET, "password"), "MONITOR_PASSWORD": (MONITOR_SECRET, "password")}


def _log_pilot_runs(settings: Settings) -> bool:
    return bool(compat.runtimes_for("log-pilot", settings.agents.collector, settings.elasticsearch.major))


def writer_role(settings: Settings) -> dict:
    """Create the log indices and add documents to them: nothing else (no reading, no deleting)."""
    version = compat.parse_version(settings.elasticsearch.version)
    cluster = ["monitor"]  # the agents read the version (GET /) and the cluster's health
    names = [LOG_INDICES]
    if _log_pilot_runs(settings):
        cluster.append("manage_index_templates")  # its Filebeat loads its template at start
        names.append(FILEBEAT_INDICES)
    # From 7.9: new documents only (Fluent Bit's `create` operations) and the mapping updates they bring.
    privileges = ["create_doc", "auto_configure"] if version >= compat.CREATE_DOC_FROM else ["create_index", "write"]
    return {"cluster": cluster, "indices": [{"names": names, "privileges": privileges}]}


def reader_role(settings: Settings) -> dict:
    """Read the log indices, the cluster's health and the retention policy: what the verifier asks."""
    cluster = ["monitor", *(["read_ilm"] if compat.has_ilm(settings.elasticsearch.version) else [])]
    return {"cluster": cluster, "indices": [{"names": [LOG_INDICES],
                                             "privileges": ["read", "view_index_metadata", "monitor"]}]}


def monitor_role() -> dict:
    """What the metrics exporter asks (GET /, _cluster/health, _nodes/stats: cluster:monitor/* actions, its
    README's "exporter defaults"): the cluster's monitor privilege, no index privilege at all."""
    return {"cluster": ["monitor"], "indices": []}


def requests(settings: Settings) -> list[tuple[str, str, dict]]:
    """(method, path, body) in order: roles, then users with their passwords, then Kibana's password.
    A user's password is also set through ``_password``, which every version applies to an existing user."""
    api = compat.security_api(settings.elasticsearch.version)
    calls: list[tuple[str, str, dict]] = []
    users = [(WRITER_ROLE, writer_role(settings), WRITER_USER, "WRITER_PASSWORD", "kubelogs log agents"),
             (READER_ROLE, reader_role(settings), READER_USER, "READER_PASSWORD", "kubelogs verify stage")]
    if settings.metrics.enabled:
        users.append((MONITOR_ROLE, monitor_role(), MONITOR_USER, "MONITOR_PASSWORD", "kubelogs metrics exporter"))
    for role, body, user, placeholder, full_name in users:
        calls += [("PUT", f"{api}/role/{role}", body),
                  ("PUT", f"{api}/user/{user}", {"password": f"@@{placeholder}@@", "roles": [role],
                                                 "full_name": full_name}),
                  ("PUT", f"{api}/user/{user}/_password", {"password": f"@@{placeholder}@@"})]
    if settings.kibana.enabled:
        user = compat.kibana_system_user(settings.elasticsearch.version)
        calls.append(("PUT", f"{api}/user/{user}/_password", {"password": "@@KIBANA_PASSWORD@@"}))
    return calls


def placeholders(settings: Settings) -> dict[str, tuple[str, str]]:
    """The placeholders the requests use, and the Secret key each is filled in from."""
    text = requests_text(requests(settings))
    return {name: ref for name, ref in PASSWORDS.items() if f"@@{name}@@" in text}


def render(settings: Settings, generated: GeneratedSecrets) -> list[Manifest]:
    """The requests, and a digest of the passwords they set: a password generated again changes the
    ConfigMap, so it is sent again (and again, until a run gets it to Elasticsearch)."""
    if not settings.elasticsearch.security_enabled:
        return []
    digests = credential_digests(generated.writer_password, generated.reader_password, generated.kibana_password,
                                 generated.monitor_password)
    return [obj("v1", "ConfigMap", NAME, "elasticsearch", settings.namespace,
                data={REQUESTS_KEY: requests_text(requests(settings)),
                      "passwords": "".join(f"{k} {v}\n" for k, v in sorted(digests.items()))})]
