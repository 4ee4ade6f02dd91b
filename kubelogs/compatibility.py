"""Compatibility facts, kept as data: one place for each version rule the deploy relies on.

Sources are summarised in ../shared/notes (log-pilot, collectors and Elasticsearch versions).
"""

from __future__ import annotations

from dataclasses import dataclass

# Elasticsearch majors the templates know how to configure (discovery settings differ per major).
ES_MAJORS: tuple[int, ...] = (5, 6, 7, 8, 9)
ES_IMAGE_REPOSITORY = "docker.elastic.co/elasticsearch/elasticsearch"
KIBANA_IMAGE_REPOSITORY = "docker.elastic.co/kibana/kibana"  # tagged with the same versions as Elasticsearch
# The newest 9.x patch with a release tag upstream (elastic/elasticsearch tags, v9.5.7), when this was set.
DEFAULT_ES_VERSION = "9.5.7"
# The newest version log-pilot (Filebeat 6.1.1) can write to: the log-pilot recipe's version.
LOG_PILOT_ES_VERSION = "6.8.23"
# The official image runs as this uid/gid; hostPath data must be owned by it (fsGroup does not apply).
ES_UID = 1000
ES_GID = 1000
# Elasticsearch's bootstrap check refuses to start below this open-files soft limit; containerd 2.x no longer
# raises it for containers. The image's entrypoint script, from 6.0 (5.x images start with bin/es-docker),
# runs any other command it is given (`exec "$@"`): the pod's args raise the soft limit, then run it.
ES_MIN_OPEN_FILES = 65535
ES_ENTRYPOINT_SCRIPT = "/usr/local/bin/docker-entrypoint.sh"
ES_ENTRYPOINT_SCRIPT_FROM: tuple[int, int, int] = (6, 0, 0)
# Snapshot lifecycle policies (SLM, basic licence) with retention from 7.5 (7.4 has SLM without the
# `retention` key, and its parser refuses unknown keys); a CronJob takes and expires the snapshots before.
SLM_FROM: tuple[int, int, int] = (7, 5, 0)
# The S3 repository is a module from 8.0; before, a plugin the official images do not carry.
S3_REPOSITORY_BUILT_IN_FROM: tuple[int, int, int] = (8, 0, 0)

# Dedicated masters (elasticsearch.masters): none, or an odd number, so a majority survives the loss of one.
ES_MASTER_COUNTS: tuple[int, ...] = (0, 3, 5, 7)
# A node's roles: `node.roles` from 7.9 (Elastic's "Node" settings page); before, the booleans `node.master`,
# `node.data` and `node.ingest` (5.x to 7.8). The two forms cannot be mixed in one file.
NODE_ROLES_FROM: tuple[int, int, int] = (7, 9, 0)
MASTER_ROLES: tuple[str, ...] = ("master",)
DATA_ROLES: tuple[str, ...] = ("data", "ingest")  # `data` holds every tier (content, hot, warm, ...); ingest pipelines

# vm.max_map_count that Elasticsearch needs, by the first version that needs it (newest first).
MAX_MAP_COUNT_BY_VERSION: tuple[tuple[tuple[int, int, int], int], ...] = (
    ((8, 16, 0), 1048576),  # Elastic documents 1048576 from 8.16 on
    ((0, 0, 0), 262144),  # bootstrap check minimum
)

# First version of each major whose free (basic) licence includes security (authentication + TLS).
FREE_SECURITY_FROM: dict[int, tuple[int, int, int]] = {
    6: (6, 8, 0),
    7: (7, 1, 0),
    8: (8, 0, 0),
    9: (9, 0, 0),
}

# End of maintenance of each Elasticsearch major (Elastic's product end-of-life table,
# elastic.co/support/eol, as mirrored by endoflife.date): the plan warns about a version past it.
# 5.x: None, ended at a date not found here (Elastic's 5.6 docs: "has passed its EOL date"); 9.x: none set yet.
END_OF_LIFE: dict[int, str | None] = {5: None, 6: "2022-02-10", 7: "2026-01-15", 8: "2027-07-15"}


# Version changes Elasticsearch supports: a rolling upgrade to major N starts from at least this version
# of major N-1 (its last minor); never a downgrade (a node cannot read data a newer version wrote), never
# a skipped major. Sources, Elastic's upgrade guides: 6.x from 5.6 (reference/6.8/rolling-upgrades.html),
# 7.x from 6.8 (reference/7.17/setup-upgrade.html), 8.x from 7.17 (reference/8.19/rolling-upgrades.html),
# 9.x from 8.19 (docs "Upgrade Elasticsearch": 9.1+ from 8.19; 8.18 -> 9.0 only).
UPGRADE_FROM: dict[int, tuple[int, int]] = {6: (5, 6), 7: (6, 8), 8: (7, 17), 9: (8, 19)}
# A first minor released before the previous major's last one: reached only from this minor.
UPGRADE_ONLY_FROM: dict[tuple[int, int], tuple[int, int]] = {(9, 0): (8, 18)}


# First versions with the index-management APIs the cluster stage uses (Elastic's reference, "Index
# lifecycle management" added in 6.6; "Composable index templates" and voting exclusions by
# ?node_names= added in 7.8). Older versions: daily indices are deleted by a CronJob, templates are
# legacy (_template; 5.x names its pattern `template`), exclusions are by path.
ILM_FROM: tuple[int, int, int] = (6, 6, 0)
COMPOSABLE_TEMPLATES_FROM: tuple[int, int, int] = (7, 8, 0)
VOTING_EXCLUSIONS_BY_QUERY_FROM: tuple[int, int, int] = (7, 8, 0)
# Changing the master layout of a running cluster (elasticsearch.masters) moves the voting configuration with
# voting exclusions by ?node_names=, from 7.8: the older form by path refuses a name that is no longer
# master-eligible ("matched no master-eligible nodes"), so a change stopped after a data node's restart could not
# be resumed; 5.x and 6.x (zen discovery) have no exclusions at all.
MASTER_LAYOUT_CHANGE_FROM: tuple[int, int, int] = VOTING_EXCLUSIONS_BY_QUERY_FROM
# At most this many voting exclusions at once (cluster.max_voting_config_exclusions, its default; Elastic's
# reference, "Discovery and cluster formation settings").
ES_MAX_VOTING_EXCLUSIONS = 10
# The `flattened` field type, in the free licence from 7.3 (Elastic's reference, "Flattened field type").
FLATTENED_FROM: tuple[int, int, int] = (7, 3, 0)


# Security and Kibana, by the first version that has each (Elastic's references; docs/objects.md, docs/security.md).
SECURITY_API_FROM: tuple[int, int, int] = (7, 0, 0)  # _security/...; _xpack/security/... before
KIBANA_SYSTEM_USER_FROM: tuple[int, int, int] = (7, 8, 0)  # kibana_system; `kibana` before (deprecated from 7.8)
KIBANA_HOSTS_SETTING_FROM: tuple[int, int, int] = (6, 6, 0)  # ELASTICSEARCH_HOSTS; ELASTICSEARCH_URL before
KIBANA_ANONYMOUS_STATUS_FROM: tuple[int, int, int] = (8, 9, 0)  # /api/status answers 200/503 without credentials
KIBANA_DATA_VIEWS_API_FROM: tuple[int, int, int] = (8, 4, 0)  # GET /api/data_views; saved objects API before
KIBANA_IMPORT_API_FROM: tuple[int, int, int] = (7, 2, 0)  # POST /api/saved_objects/_import (the dashboard)
KIBANA_SAVED_OBJECTS_API_FROM: tuple[int, int, int] = (6, 3, 0)  # documented from 6.3; 5.x has no index-pattern API
CREATE_DOC_FROM: tuple[int, int, int] = (7, 9, 0)  # create_doc (7.5) and auto_configure (7.9): a writer that cannot overwrite


def security_api(es_version: str) -> str:
    """The path prefix of the security APIs (roles, users, passwords)."""
    return "_security" if parse_version(es_version) >= SECURITY_API_FROM else "_xpack/security"


def kibana_system_user(es_version: str) -> str:
    """The built-in user Kibana logs in to Elasticsearch with."""
    return "kibana_system" if parse_version(es_version) >= KIBANA_SYSTEM_USER_FROM else "kibana"


@dataclass(frozen=True)
class Agent:
    """A node log agent: where it can run and what it can write to."""

    name: str
    runtimes: tuple[str, ...]  # container runtimes whose logs it can read
    es_majors: tuple[int, ...]  # Elasticsearch majors it can write to
    state_dirs: tuple[str, ...]  # hostPath directories it keeps state in (root-owned)
    image: str


AGENTS: dict[str, Agent] = {
    "log-pilot": Agent(
        name="log-pilot",
        runtimes=("docker",),  # Docker Engine API only; no containerd/CRI-O
        es_majors=(5, 6),  # bundled Filebeat 6.1.1: ES 7 reported broken, ES 8 rejects typed requests
        state_dirs=("/var/lib/filebeat", "/var/log/filebeat"),
        image="registry.cn-hangzhou.aliyuncs.com/acs/log-pilot:0.9.7-filebeat",
    ),
    "fluent-bit": Agent(
        name="fluent-bit",
        runtimes=("docker", "containerd", "cri-o"),  # json-file and CRI log formats, via /var/log/containers
        es_majors=(6, 7, 8, 9),  # 8.x and 9.x: untyped bulk requests (Suppress_Type_Name)
        state_dirs=("/var/lib/fluent-bit",),
        image="cr.fluentbit.io/fluent/fluent-bit:5.1.1",
    ),
}

# Metrics for Prometheus (settings.metrics): the Elasticsearch exporter the prometheus-community maintains
# (github.com/prometheus-community/elasticsearch_exporter, v1.11.0 released 2026-07-02). Its flags as of 1.10+:
# --es.uri (no default since 1.10: always given), --es.ca, --es.all, --web.listen-address (:9114, its registered
# port), --web.telemetry-path (/metrics); ES_USERNAME and ES_PASSWORD from its environment (since 1.3); /healthz.
# Its maintainers support the Elasticsearch versions Elastic supports; older majors are best effort (docs/metrics.md).
ES_EXPORTER_IMAGE = "quay.io/prometheuscommunity/elasticsearch-exporter:v1.11.0"
# The Prometheus Operator's API group: its PodMonitor kind is rendered only where the cluster serves it.
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"

# Fluent Bit features that depend on the image's version (an image override may run an older line):
# the dead-letter queue (`storage.keep.rejected`, measured in 5.1.1; 3.2.10 ignores the keys silently).
FLUENT_BIT_DEAD_LETTERS_FROM: tuple[int, int, int] = (4, 2, 0)


def image_version(image: str) -> tuple[int, int, int] | None:
    """The x.y.z of an image tag such as ``cr.fluentbit.io/fluent/fluent-bit:5.1.1``; None when the tag is
    not a version (a digest, ``latest-debug``...)."""
    tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    parts = tag.split("-", 1)[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def fluent_bit_has_dead_letters(image: str) -> bool:
    """Whether this Fluent Bit image keeps chunks that fail for good (unknown versions: as the default does)."""
    version = image_version(image) or image_version(AGENTS["fluent-bit"].image)
    return version >= FLUENT_BIT_DEAD_LETTERS_FROM


# Kubernetes minor versions whose schemas every rendered object must validate against.
# 1.33 to 1.37: kind's current release (v0.33.0) defaults to 1.37; older minors are out of upstream support.
KUBERNETES_VERSIONS: tuple[str, ...] = ("1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")

COLLECTOR_CHOICES: tuple[str, ...] = ("auto", *AGENTS)

# Container runtimes the node stage can recognise (the values of the node label kubelogs.io/runtime).
RUNTIMES: tuple[str, ...] = ("docker", "containerd", "cri-o")


def parse_version(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def required_max_map_count(es_version: str) -> int:
    """The smallest vm.max_map_count the given Elasticsearch version needs."""
    version = parse_version(es_version)
    for since, value in MAX_MAP_COUNT_BY_VERSION:
        if version >= since:
            return value
    raise AssertionError("MAX_MAP_COUNT_BY_VERSION must end with (0, 0, 0)")


def version_change_problem(running: str, wanted: str) -> str:
    """Why Elasticsearch cannot go from ``running`` to ``wanted`` in place, with the step to take ('' if it can)."""
    have, want = parse_version(running), parse_version(wanted)
    if want < have:
        return (f"{wanted} is older than the running {running}: Elasticsearch cannot read data a newer version "
                "wrote, so downgrades are refused. Keep the version, or restore a snapshot into a new cluster")
    if want[0] > have[0] + 1:
        step = UPGRADE_FROM.get(have[0] + 2)  # the last minor of the next major, from which the one after is reached
        first = f"the newest {step[0]}.{step[1]}.x" if step else f"{have[0] + 1}.x"
        return f"{running} -> {wanted} skips a major version: upgrade to {first} first, then to {wanted}"
    if want[0] == have[0] + 1 and (only := UPGRADE_ONLY_FROM.get(want[:2])) and have[:2] != only:
        step = (f"upgrade to a later {want[0]}.x instead" if have[:2] > only
                else f"upgrade to the newest {only[0]}.{only[1]}.x first")
        return f"{want[0]}.{want[1]} upgrades only from {only[0]}.{only[1]}: from {running}, {step}"
    if want[0] == have[0] + 1 and want[:2] not in UPGRADE_ONLY_FROM and (since := UPGRADE_FROM.get(want[0])) \
            and have[:2] < since:
        return (f"{want[0]}.x upgrades only from {since[0]}.{since[1]}: upgrade to the newest "
                f"{since[0]}.{since[1]}.x first, then to {wanted}")
    return ""


def end_of_life_warning(es_version: str, today: str) -> str:
    """A warning when the version's major is past its end of life on ``today`` (ISO date), else ''."""
    major = parse_version(es_version)[0]
    if major not in END_OF_LIFE:
        return ""
    ended = END_OF_LIFE[major]
    if ended is not None and today < ended:
        return ""
    when = f"on {ended}" if ended else "already"
    return (f"Elasticsearch {major}.x reached its end of life {when} (elastic.co/support/eol): no more "
            "security fixes. Plan an upgrade (see docs/day-2.md)")


def has_ilm(es_version: str) -> bool:
    return parse_version(es_version) >= ILM_FROM


def has_slm(es_version: str) -> bool:
    return parse_version(es_version) >= SLM_FROM


def free_security_available(es_version: str) -> bool:
    """Whether the free licence of this version includes security (auth + transport TLS)."""
    version = parse_version(es_version)
    since = FREE_SECURITY_FROM.get(version[0])
    return since is not None and version >= since


def agent_for_node(collector: str, runtime: str, es_major: int) -> Agent | None:
    """The agent that collects logs on a node, or None when no agent can (e.g. unknown runtime).

    ``auto`` prefers log-pilot on Docker nodes (the original design) when it can write to this
    Elasticsearch major, and the CRI-capable agent everywhere else it can run.
    """
    if collector != "auto":
        agent = AGENTS[collector]
        return agent if runtime in agent.runtimes else None
    candidates = [a for a in AGENTS.values() if runtime in a.runtimes and es_major in a.es_majors]
    return candidates[0] if candidates else None


def runtimes_for(agent: str, collector: str, es_major: int) -> tuple[str, ...]:
    """The runtimes whose nodes run ``agent`` under this collector setting (empty: it runs nowhere)."""
    return tuple(r for r in RUNTIMES if (chosen := agent_for_node(collector, r, es_major)) and chosen.name == agent)
