"""The one settings model of the deploy: every tunable, its type, default and rules.

Settings come from the pyinfra data key ``kubelogs`` (a dict, normally in ``group_data/all.py``).
``validate_settings`` turns that dict into a frozen ``Settings`` or raises ``SettingsError`` listing
every problem as "field = value: what is wrong and what is allowed". It never touches a host.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from kubelogs import compatibility as compat

DATA_KEY = "kubelogs"

_QUANTITY_UNITS = {
    "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_JVM_SIZE_RE = re.compile(r"^([1-9][0-9]*)([mg])$")
_CPU_RE = re.compile(r"^(?:[1-9][0-9]*m|[0-9]+(?:\.[0-9]+)?)$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_OCTAL_MODE_RE = re.compile(r"^0?[0-7]{3}$")
# Directories a hostPath data directory must never be, or live under.
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys",
                "/usr", "/var/lib/kubelet", "/var/lib/containerd", "/var/lib/docker", "/var/log")


def quantity_bytes(value: str) -> int:
    """Bytes in a Kubernetes memory quantity such as ``1Gi`` or ``512M``."""
    match = _QUANTITY_RE.match(value)
    if not match:
        raise ValueError(value)
    return int(float(match.group(1)) * _QUANTITY_UNITS[match.group(2) or ""])


def jvm_size_bytes(value: str) -> int:
    """Bytes in a JVM heap size such as ``512m`` or ``2g`` (binary units, as the JVM reads them)."""
    match = _JVM_SIZE_RE.match(value)
    if not match:
        raise ValueError(value)
    return int(match.group(1)) * (2**20 if match.group(2) == "m" else 2**30)


def _quantity(value: str) -> str:
    if not _QUANTITY_RE.match(value) or quantity_bytes(value) == 0:
        raise ValueError("must be a Kubernetes memory quantity such as 1Gi, 2048Mi or 4G")
    return value


def _cpu(value: str) -> str:
    if not _CPU_RE.match(value) or float(value.rstrip("m") or 0) == 0:
        raise ValueError("must be a Kubernetes CPU quantity such as 500m, 1 or 1.5")
    return value


def _jvm_size(value: str) -> str:
    if not _JVM_SIZE_RE.match(value):
        raise ValueError("must be a JVM heap size: a whole number followed by m or g, such as 512m or 2g")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL_RE.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return value


def _es_version(value: str) -> str:
    if not _VERSION_RE.match(value):
        raise ValueError("must be a full Elasticsearch version such as 6.8.23 or 8.15.3")
    major = compat.parse_version(value)[0]
    if major not in compat.ES_MAJORS:
        majors = ", ".join(f"{m}.x" for m in compat.ES_MAJORS)
        raise ValueError(f"major version {major} is not supported; supported: {majors}")
    return value


def _image(value: str) -> str:
    name = value.rsplit("/", 1)[-1]
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be a container image reference without spaces")
    if "@sha256:" not in value and ":" not in name:
        raise ValueError("must be pinned by tag or digest (e.g. repo/image:1.2.3), not left to 'latest'")
    if name.endswith(":latest"):
        raise ValueError("must be pinned to a version; ':latest' changes under your feet")
    return value


def _data_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path such as /es-data")
    if posixpath.normpath(value) != value or "//" in value:
        raise ValueError(f"must be a normalised path (no '..', '.', '//' or trailing '/'): try {posixpath.normpath(value)!r}")
    if value == "/" or any(value == d or value.startswith(d + "/") for d in _SYSTEM_DIRS):
        raise ValueError("must not be / or a system directory (/etc, /usr, /var/lib/kubelet, ...): use e.g. /es-data")
    return value


def _masters(value: int) -> int:
    if value not in compat.ES_MASTER_COUNTS:
        raise ValueError("must be 0 (every node master-eligible and holding data) or an odd number of dedicated "
                         f"masters: one of {', '.join(map(str, compat.ES_MASTER_COUNTS[1:]))} (an odd number keeps a "
                         "majority through the loss of one)")
    return value


def _octal_mode(value: str) -> str:
    if not _OCTAL_MODE_RE.match(value):
        raise ValueError("must be an octal mode written as a string, such as '0750'")
    if int(value, 8) & 0o700 != 0o700:
        raise ValueError("must give the owner read, write and search (7xx), or Elasticsearch cannot write")
    return value


def _read_kubeconfig(path: str) -> Any:
    with open(os.path.expanduser(path)) as f:
        return yaml.safe_load(f)


def _kubeconfig_file(value: str) -> str:
    if not os.path.isfile(os.path.expanduser(value)):
        raise ValueError("must be the path of an existing kubeconfig file on the control machine")
    try:
        config = _read_kubeconfig(value)
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"is not a readable YAML kubeconfig: {str(e).splitlines()[0]}") from None
    if not isinstance(config, dict) or not isinstance(config.get("clusters"), list) or not config["clusters"]:
        raise ValueError("is not a kubeconfig: it has no 'clusters' list (see `kind get kubeconfig`)")
    return value


def kubeconfig_contexts(path: str) -> list[str]:
    return [c.get("name") for c in _read_kubeconfig(path).get("contexts") or [] if isinstance(c, dict)]


Quantity = Annotated[str, AfterValidator(_quantity)]
CpuQuantity = Annotated[str, AfterValidator(_cpu)]
JvmSize = Annotated[str, AfterValidator(_jvm_size)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Image = Annotated[str, AfterValidator(_image)]
# A list in the settings (strict mode takes only tuples for tuple fields; frozen settings keep tuples).
Namespaces = Annotated[tuple[DnsLabel, ...], BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]


class _Model(BaseModel):
    # strict: "3" is not silently an int, "no" is not silently False; extra: typos are errors.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_SNAPSHOT_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENDPOINT_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _snapshot_time(value: str) -> str:
    if not _SNAPSHOT_TIME_RE.match(value):
        raise ValueError("must be a time of day in UTC written HH:MM, such as '01:30'")
    return value


def _bucket(value: str) -> str:
    if not _BUCKET_RE.match(value):
        raise ValueError("must be an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-'")
    return value


def _endpoint(value: str) -> str:
    if not _ENDPOINT_RE.match(value):
        raise ValueError("must be a host name with an optional port, without a scheme, such as minio.storage:9000 "
                         "(the scheme is `s3_protocol`)")
    return value


class SnapshotSettings(_Model):
    repository: Literal["fs", "s3"] = Field(
        description="`fs`: a shared file system (`fs_claim`, a ReadWriteMany PersistentVolumeClaim mounted in every Elasticsearch pod); `s3`: an S3 bucket (AWS or anything that speaks S3, such as MinIO).")
    fs_claim: DnsLabel | None = Field(
        None, description="`fs`: an existing ReadWriteMany PersistentVolumeClaim in the namespace; every Elasticsearch pod mounts it (path.repo).")
    s3_bucket: Annotated[str, AfterValidator(_bucket)] | None = Field(None, description="`s3`: the bucket (it must exist).")
    s3_endpoint: Annotated[str, AfterValidator(_endpoint)] | None = Field(
        None, description="`s3`: host[:port] of an S3-compatible service such as MinIO; empty means AWS S3.")
    s3_protocol: Literal["https", "http"] = Field("https", description="`s3`: how Elasticsearch reaches `s3_endpoint`.")
    s3_path_style: bool = Field(False, description="`s3`: path-style access (`endpoint/bucket/key`), which MinIO needs.")
    s3_base_path: str = Field("kubelogs", description="`s3`: the key prefix of the repository in the bucket.")
    s3_credentials_secret: DnsLabel | None = Field(
        None, description="`s3`: a Secret in the namespace with the keys `access_key` and `secret_key`; Elasticsearch reads them into its keystore when a pod starts.")
    time: Annotated[str, AfterValidator(_snapshot_time)] = Field(
        "01:30", description="When the daily snapshot is taken (UTC, HH:MM): a snapshot lifecycle policy from 7.5, a CronJob before.")
    keep_days: int = Field(
        30, ge=1, le=3650, description="Days a scheduled snapshot is kept; the newest 5 are kept whatever their age.")
    before_risky_changes: bool = Field(
        True, description="Take a snapshot, and wait for it to succeed, before a run upgrades Elasticsearch, turns security on or off, or adds or retires dedicated masters; a failed snapshot stops the run before anything changes.")


class ElasticsearchSettings(_Model):
    version: Annotated[str, AfterValidator(_es_version)] = Field(
        compat.DEFAULT_ES_VERSION, description="Elasticsearch version (5.x to 9.x). log-pilot writes only to 5.x/6.x (see the log-pilot recipe); a version past its end of life gets a warning in the plan.")
    image: Image | None = Field(
        None, description="Image reference; empty means the official image of `version`.")
    replicas: int = Field(
        3, ge=1, le=50, description="Elasticsearch nodes (StatefulSet replicas); with `masters` set, data nodes only. With hostPath storage at most the number of data nodes.")
    heap: JvmSize = Field("512m", description="JVM heap (-Xms/-Xmx), at most half of `memory`.")
    memory: Quantity = Field("1Gi", description="Memory request and limit of each Elasticsearch pod.")
    cpu: CpuQuantity = Field("1", description="CPU request of each Elasticsearch pod.")
    masters: Annotated[int, AfterValidator(_masters)] = Field(
        0, description="Dedicated master nodes: 0 makes every node master-eligible and a data node; 3, 5 or 7 run that many master-only nodes in their own StatefulSet (`elasticsearch-master`, no shard data, no client traffic) and the `replicas` nodes hold data only. With hostPath storage the masters keep their state in `<data_path>-master` on the data nodes, one master per node. On a running 7.8+ cluster it can change (0 to 3, 5 or 7, back to 0, or another number), one run each; the master role moves by voting exclusions (one election, never a lost quorum); before 7.8 a change is refused (docs/day-2.md).")
    master_heap: JvmSize = Field("256m", description="JVM heap of each dedicated master (with `masters`), at most half of `master_memory`.")
    master_memory: Quantity = Field("512Mi", description="Memory request and limit of each dedicated master pod.")
    master_cpu: CpuQuantity = Field("250m", description="CPU request of each dedicated master pod.")
    storage: Literal["hostPath", "pvc"] = Field(
        "hostPath", description="`hostPath`: `data_path` on each data node (prepared by the node stage); `pvc`: a PersistentVolumeClaim per pod.")
    data_path: Annotated[str, AfterValidator(_data_path)] = Field(
        "/es-data", description="hostPath data directory on the nodes; owned by uid/gid 1000. Never deleted.")
    data_mode: Annotated[str, AfterValidator(_octal_mode)] = Field(
        "0750", description="Mode of `data_path` (octal string).")
    pvc_size: Quantity = Field("10Gi", description="Size of each PersistentVolumeClaim when `storage` is `pvc`.")
    storage_class: DnsLabel | None = Field(
        None, description="StorageClass of the claims when `storage` is `pvc`; empty means the cluster default.")
    security: bool | None = Field(
        None, description="Authentication, and TLS on transport and HTTP (every client verifies Elasticsearch's certificate against the generated CA); empty means on where the version's free licence has it (6.8+, 7.1+, 8.x, 9.x).")
    certificate_renew_days: int = Field(
        30, ge=1, le=300,
        description="A run renews Elasticsearch's HTTP certificate (valid a year) when it expires within this many days, and its CA (valid five years) with an overlap; the plan and the verify table show the earliest expiry.")
    cluster_name: DnsLabel = Field("kubelogs", description="Elasticsearch `cluster.name`.")
    retention_days: int = Field(
        14, ge=0, le=3650,
        description="Days a daily log index is kept before it is deleted (an ILM policy from 6.6, a daily CronJob before); 0 keeps them forever.")
    snapshots: SnapshotSettings | None = Field(
        None, description="Snapshots of the whole cluster to a repository (daily, and before every risky change); empty means none. See docs/snapshots.md.")
    client_namespaces: Namespaces = Field(
        (), description="Namespaces whose pods may also reach Elasticsearch's port 9200 (a NetworkPolicy admits only this deploy's agents, Kibana and its own pods otherwise).")

    @property
    def major(self) -> int:
        return compat.parse_version(self.version)[0]

    @property
    def master_data_path(self) -> str:
        """The dedicated masters' hostPath directory: beside `data_path`, never inside a data node's."""
        return f"{self.data_path}-master"

    @property
    def data_paths(self) -> list[str]:
        """The hostPath directories the node stage prepares on each data node."""
        return [self.data_path, *([self.master_data_path] if self.masters else [])]

    @property
    def image_ref(self) -> str:
        return self.image or f"{compat.ES_IMAGE_REPOSITORY}:{self.version}"

    @property
    def security_enabled(self) -> bool:
        return compat.free_security_available(self.version) if self.security is None else self.security


class KibanaSettings(_Model):
    enabled: bool = Field(True, description="Deploy Kibana, of the Elasticsearch version, to look at the logs.")
    image: Image | None = Field(None, description="Image reference; empty means the official Kibana image of `elasticsearch.version`.")
    memory: Quantity = Field("1Gi", description="Memory request and limit of the Kibana pod.")
    cpu: CpuQuantity = Field("500m", description="CPU request of the Kibana pod.")
    client_namespaces: Namespaces = Field(
        (), description="Namespaces whose pods may reach Kibana's port 5601; empty means none (open it with `kubectl port-forward`).")

    def image_ref(self, es_version: str) -> str:
        return self.image or f"{compat.KIBANA_IMAGE_REPOSITORY}:{es_version}"


class NodeSettings(_Model):
    max_map_count: int | None = Field(
        None, ge=1, le=2**31 - 1,
        description="vm.max_map_count to ensure (live and persisted); empty means what the Elasticsearch version needs (262144, or 1048576 from 8.16). A node already higher is left higher.")
    low_disk: Literal["warn", "fail"] = Field(
        "warn", description="What to do when the data path's free space is below the flood-stage watermark.")
    flood_stage_percent: int = Field(
        95, ge=50, le=99, description="Elasticsearch's flood-stage disk watermark (percent used) the free-space check compares to.")


class AgentSettings(_Model):
    collector: Literal[compat.COLLECTOR_CHOICES] = Field(  # type: ignore[valid-type]
        "auto", description="`auto` (per node by container runtime: log-pilot on Docker, fluent-bit on containerd), `log-pilot` or `fluent-bit`.")
    collect: Literal["all", "declared"] = Field(
        "all", description="Fluent Bit: `all` collects every pod (a pod without a declared log name goes to `<namespace>-YYYY.MM.DD`), `declared` only pods that declare a log name. log-pilot collects declared containers only, whatever this says.")
    exclude_namespaces: Namespaces = Field(
        (), description="Fluent Bit: namespaces whose pods are not collected unless they declare a log name. A pod opts out with the annotation `kubelogs.io/collect: \"false\"`.")
    log_pilot_image: Image = Field(compat.AGENTS["log-pilot"].image, description="log-pilot image.")
    fluent_bit_image: Image = Field(compat.AGENTS["fluent-bit"].image, description="Fluent Bit image.")
    retry_limit: int = Field(
        60, ge=1, le=10000,
        description="Times Fluent Bit retries a batch Elasticsearch refuses (5-30 s apart: 60 is about 17 minutes) before it moves it to the dead-letter queue on the node, where it is kept and the verify stage reports it. Fluent Bit images before 4.2 have no such queue: they retry forever.")


class KubernetesSettings(_Model):
    kubeconfig: Annotated[str, AfterValidator(_kubeconfig_file)] | None = Field(
        None, description="Kubeconfig on the control machine; empty means $KUBECONFIG or ~/.kube/config.")
    context: str | None = Field(None, description="Kubeconfig context; empty means the current context.")
    rollout_timeout: int = Field(
        600, ge=1, le=86400,
        description="Seconds to wait for Elasticsearch and the agents to roll out before failing with a diagnosis.")
    poll_interval: float = Field(
        2.0, gt=0, le=60,
        description="Seconds between looks at the cluster while waiting (rollouts, restarts, the in-cluster pods).")


class VerifySettings(_Model):
    image: Image = Field(
        "curlimages/curl:8.11.1", description="Image of the pods that call Elasticsearch from inside the cluster (canaries, verifier, the cluster stage's calls, retention; needs sh and curl).")
    timeout: int = Field(
        300, ge=10, le=3600, description="Seconds to wait for every canary line to become searchable.")
    canary_nodes: int = Field(
        50, ge=1, le=1000, description="Nodes that get a canary line per run: every node up to this many; on a "
        "larger cluster a rotating sample of this many (the nodes after the last run's, by name, wrapping "
        "around), so every node gets one within ceil(nodes / canary_nodes) successive runs. Every node's agent "
        "is checked on every run (ready, its retries and dead letters), canary or not.")


_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        if not _LABEL_KEY_RE.match(key):
            raise ValueError(f"label key {key!r} is not a Kubernetes label key (e.g. release or example.com/team)")
        if not _LABEL_VALUE_RE.match(label):
            raise ValueError(f"label {key}={label!r}: a value is at most 63 letters, digits, '-', '_' or '.'")
    return value


class MetricsSettings(_Model):
    enabled: bool = Field(
        False, description="Metrics for Prometheus: Fluent Bit's own endpoint and an Elasticsearch exporter, with the `prometheus.io/*` pod annotations and, where the Prometheus Operator's CRDs exist, PodMonitors. Off by default: it adds a pod, an Elasticsearch user and objects a small install does not need, and a Prometheus that scrapes annotated pods would start scraping every node (docs/metrics.md).")
    scraper_namespaces: Namespaces = Field(
        (), description="Namespaces of the Prometheus servers that scrape: NetworkPolicies admit them to the exporter's port 9114 and Fluent Bit's 2020 (besides the verify stage's verifier), nothing else. Required when `enabled`.")
    exporter_image: Image = Field(
        compat.ES_EXPORTER_IMAGE, description="Image of the Elasticsearch exporter (prometheus-community's elasticsearch_exporter; its flags as of 1.10).")
    monitor_labels: Annotated[dict[str, str], AfterValidator(_labels)] = Field(
        {}, description="Labels on the PodMonitors, for the Prometheus resource's `podMonitorSelector` (kube-prometheus-stack selects `release: <its release name>`).")


class Settings(_Model):
    namespace: DnsLabel = Field("logging", description="Namespace of everything the deploy creates.")
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()
    kibana: KibanaSettings = KibanaSettings()
    nodes: NodeSettings = NodeSettings()
    agents: AgentSettings = AgentSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    verify: VerifySettings = VerifySettings()
    metrics: MetricsSettings = MetricsSettings()

    @property
    def max_map_count(self) -> int:
        return self.nodes.max_map_count or compat.required_max_map_count(self.elasticsearch.version)


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path under the data key, e.g. "elasticsearch.heap"
    value: Any
    message: str

    def __str__(self) -> str:
        where = f"{DATA_KEY}.{self.field}" if self.field else DATA_KEY
        shown = "(missing)" if self.value is _MISSING else repr(self.value)
        return f"{where} = {shown}: {self.message}"


_MISSING = object()


class SettingsError(ValueError):
    """Settings that cannot be deployed; ``problems`` names each field, value and fix."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid settings ({len(problems)} problem{'s' if len(problems) != 1 else ''}); "
            f"nothing was changed:\n{lines}"
        )


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in path:
        field = model.model_fields.get(part) if model else None
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _friendly(error: dict[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    field = ".".join(str(p) for p in loc)
    value = error.get("input", _MISSING)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return Problem(field, value, f"unknown setting; {hint}known here: {', '.join(known)}")
    if kind == "value_error":
        return Problem(field, value, str(error["ctx"]["error"]))
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        parent = _model_at(loc)
        if parent is None:  # a dict-valued setting (metrics.monitor_labels)
            return Problem(field, value, "must be a dict, such as {'release': 'kube-prometheus-stack'}")
        return Problem(field, value, f"must be a dict of settings ({', '.join(sorted(parent.model_fields))})")
    if kind.endswith("_type") or kind in ("int_from_float", "bool_parsing", "int_parsing"):
        expected = kind.removesuffix("_type").removesuffix("_parsing").replace("int_from_float", "int")
        expected = {"int": "a whole number", "bool": "True or False", "string": "a string",
                    "none_required": "empty (None)", "tuple": "a list"}.get(expected, expected)
        return Problem(field, value, f"must be {expected}, not {type(value).__name__}")
    if kind == "literal_error":
        return Problem(field, value, f"must be one of {error['ctx']['expected']}")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return Problem(field, value, error["msg"].replace("Input should be", "must be"))
    return Problem(field, value, error["msg"])


def _cross_field_problems(s: Settings, eligible_data_nodes: int | None) -> list[Problem]:
    es, problems = s.elasticsearch, []
    if jvm_size_bytes(es.heap) * 2 > quantity_bytes(es.memory):
        most = quantity_bytes(es.memory) // 2 // 2**20
        problems.append(Problem("elasticsearch.heap", es.heap,
            f"must be at most half of elasticsearch.memory ({es.memory!r}), i.e. at most {most}m; "
            "lower heap or raise memory (the other half is the file-system cache Elasticsearch relies on)"))
    if es.masters and jvm_size_bytes(es.master_heap) * 2 > quantity_bytes(es.master_memory):
        most = quantity_bytes(es.master_memory) // 2 // 2**20
        problems.append(Problem("elasticsearch.master_heap", es.master_heap,
            f"must be at most half of elasticsearch.master_memory ({es.master_memory!r}), i.e. at most {most}m; "
            "lower master_heap or raise master_memory"))
    if es.storage == "hostPath" and eligible_data_nodes is not None and es.masters > eligible_data_nodes:
        problems.append(Problem("elasticsearch.masters", es.masters,
            f"hostPath storage puts each dedicated master on its own data node, but the inventory has only "
            f"{eligible_data_nodes} data node(s) (group 'es_data_nodes', else 'kube_nodes'); "
            f"add data nodes, use storage 'pvc', or set masters to 0"))
    if es.storage == "hostPath" and eligible_data_nodes is not None and es.replicas > eligible_data_nodes:
        problems.append(Problem("elasticsearch.replicas", es.replicas,
            f"hostPath storage puts each Elasticsearch pod on its own node, but the inventory has only "
            f"{eligible_data_nodes} data node(s) (group 'es_data_nodes', else 'kube_nodes'); "
            f"set replicas to at most {eligible_data_nodes}, add nodes, or use storage 'pvc'"))
    if es.security and not compat.free_security_available(es.version):
        problems.append(Problem("elasticsearch.security", es.security,
            f"Elasticsearch {es.version} has no security in its free licence (6.8+, 7.1+ and 8.x do); "
            "leave security empty or False, or choose a newer version"))
    required = compat.required_max_map_count(es.version)
    if s.nodes.max_map_count is not None and s.nodes.max_map_count < required:
        problems.append(Problem("nodes.max_map_count", s.nodes.max_map_count,
            f"Elasticsearch {es.version} needs at least {required}; raise it or leave it empty"))
    problems += _snapshot_problems(es)
    k8s = s.kubernetes
    contexts = kubeconfig_contexts(k8s.kubeconfig) if k8s.kubeconfig and k8s.context else []
    if k8s.kubeconfig and k8s.context and k8s.context not in contexts:
        known = ", ".join(map(repr, contexts)) or "none"
        problems.append(Problem("kubernetes.context", k8s.context,
            f"is not a context of {k8s.kubeconfig} (it has: {known})"))
    agent = compat.AGENTS.get(s.agents.collector)
    if agent and es.major not in agent.es_majors:
        majors = ", ".join(f"{m}.x" for m in agent.es_majors)
        problems.append(Problem("agents.collector", s.agents.collector,
            f"{agent.name} cannot write to Elasticsearch {es.version} (it supports {majors}); "
            "choose another collector or Elasticsearch version"))
    if s.metrics.enabled and not s.metrics.scraper_namespaces:
        problems.append(Problem("metrics.scraper_namespaces", s.metrics.scraper_namespaces,
            "metrics are enabled but no namespace may scrape them (a NetworkPolicy admits only these): list the "
            "namespace of your Prometheus, e.g. ['monitoring'], or set metrics.enabled to False"))
    return problems


def _snapshot_problems(es: ElasticsearchSettings) -> list[Problem]:
    snap, problems = es.snapshots, []
    if snap is None:
        return problems
    where = "elasticsearch.snapshots."
    others = ("s3_bucket", "s3_endpoint", "s3_credentials_secret") if snap.repository == "fs" else ("fs_claim",)
    for name in others:
        if getattr(snap, name) is not None:
            problems.append(Problem(where + name, getattr(snap, name),
                                    f"is not used by repository {snap.repository!r}; remove it or change the repository"))
    if snap.repository == "fs" and snap.fs_claim is None:
        problems.append(Problem(where + "fs_claim", None, "repository 'fs' needs the name of a ReadWriteMany "
                                "PersistentVolumeClaim in the namespace, mounted by every Elasticsearch pod"))
    if snap.repository == "s3":
        if snap.s3_bucket is None:
            problems.append(Problem(where + "s3_bucket", None, "repository 's3' needs the bucket's name"))
        version = compat.parse_version(es.version)
        if version < compat.ES_ENTRYPOINT_SCRIPT_FROM:
            problems.append(Problem(where + "repository", "s3", f"Elasticsearch {es.version} cannot read S3 "
                                    "credentials at start here (6.0+ can); use repository 'fs' or a newer version"))
        elif version < compat.S3_REPOSITORY_BUILT_IN_FROM and es.image is None:
            problems.append(Problem(where + "repository", "s3", f"Elasticsearch {es.version} has no S3 repository "
                                    "built in (8.0+ has): set elasticsearch.image to an image with the plugin "
                                    "(`elasticsearch-plugin install --batch repository-s3`), or use repository 'fs'"))
    return problems


def validate_settings(raw: Any, *, eligible_data_nodes: int | None = None) -> Settings:
    """Validate the ``kubelogs`` data dict (None means all defaults) into ``Settings``.

    ``eligible_data_nodes`` is the number of inventory hosts that can hold a hostPath data
    directory; when given, replicas are checked against it.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SettingsError([Problem("", raw, "must be a dict of settings (see docs/settings.md)")])
    try:
        settings = Settings.model_validate(dict(raw))
    except ValidationError as e:
        raise SettingsError([_friendly(err) for err in e.errors()]) from None
    problems = _cross_field_problems(settings, eligible_data_nodes)
    if problems:
        raise SettingsError(problems)
    return settings
