"""Fluent Bit DaemonSet: the CRI-capable agent (containerd, CRI-O, and Docker where log-pilot cannot write).

It tails ``/var/log/containers/*.log`` (symlinks into ``/var/log/pods``, which on Docker nodes point into
``/var/lib/docker/containers``), parses both the Docker json-file and the CRI format, asks the
Kubernetes API for pod metadata (and parses a line that is a JSON object into the field ``json``), keeps
the pods ``agents.collect`` says, and writes each line to the index ``<name>-YYYY.MM.DD``.
"""

from __future__ import annotations

from kubelogs import compatibility as compat
from kubelogs.manifests import tls
from kubelogs.manifests.common import (
    LOG_NAME_ANNOTATION,
    RUNTIME_DEFAULT_SECCOMP,
    WRITER_SECRET,
    GeneratedSecrets,
    Manifest,
    agent_placement,
    cluster_obj,
    credential_digests,
    obj,
    scrape_annotations,
    secret_env,
    service_account,
    workload,
)
from kubelogs.manifests.elasticsearch import HTTP_PORT, service_host
from kubelogs.settings import Settings

NAME = "fluent-bit"
CONFIG_MAP = "fluent-bit-config"
CONFIG_DIR = "/fluent-bit/etc/kubelogs"
STATE_DIR = "/var/lib/fluent-bit"  # prepared by the node stage (compatibility.AGENTS)
HEALTH_PORT = 2020
METRICS_PATH = "/api/v2/metrics/prometheus"  # on HEALTH_PORT: Prometheus's text format (settings.metrics)
STORAGE_LIMIT = "512M"  # per node: Fluent Bit's filesystem buffer for Elasticsearch, under STATE_DIR
# Fluent Bit's record accessor for the pod's log-name annotation.
LOG_NAME_FIELD = "log_name"  # on every collected line: its index's name (route.lua)
COLLECT_ANNOTATION = "kubelogs.io/collect"  # "false" on a pod: its lines are not collected (unless declared)
# A valid log name (Lua pattern: '%-' is a literal '-'); also keeps log-pilot's rule: no '_' in names.
LOG_NAME_LUA_PATTERN = "^[a-z0-9][a-z0-9%-]*$"
TYPE_6X = "doc"  # the mapping type of 6.x log indices
# A line that is a JSON object: its fields under this one (the kubernetes filter's Merge_Log_Key); the line
# itself stays in `log`. Mapped `flattened` from 7.3 (index_settings.mappings); before, route.lua turns it
# into one level of strings (nested keys joined with '_'), all keyword: two applications' types never clash.
JSON_FIELD = "json"
# A stack trace (Java, Python, Go) is one document: the multiline filter joins its lines by the rules below,
# the lines separated by '\n'. A pod annotated with this "false" gets its lines back one by one (route.lua).
MULTILINE_ANNOTATION = "kubelogs.io/multiline"
MULTILINE_FILE = "multiline.conf"
MULTILINE_FLUSH_MS = 1000  # a group is sent at most about two of these after its last line
# Fluent Bit's regex rules (Onigmo): from-states, a regex a line must match, the state it leads to. Adapted
# from its built-in java, python and go parsers (src/multiline/flb_ml_parser_*.c), with one change each:
# no rule leads back to start_state (the built-in python's does, and sends its last line twice: see
# ../shared/notes/fluent-bit.md), and a start line need not end in ':' or a newline (CRI lines have none).
MULTILINE_PARSERS: dict[str, list[tuple[str, str, str]]] = {
    "kubelogs-java": [
        ("start_state", r"/^(?:Exception in thread .* )?[A-Za-z_$][\w$.]*(?:Exception|Error|Throwable)(?::.*)?$/",
         "java_after_exception"),
        ("java_after_exception, java", r"/^[\t ]+(?:eval )?at /", "java"),
        ("java_after_exception, java", r"/^[\t ]*(?:Caused by|Suppressed):/", "java_after_exception"),
        ("java_after_exception, java", r"/^[\t ]*\.\.\. \d+ (?:more|common frames omitted)/", "java"),
    ],
    "kubelogs-python": [
        ("start_state", r"/^Traceback \(most recent call last\):$/", "python"),
        ("python, python_code", r"/^[\t ]+File /", "python_code"),
        ("python_code", r"/^[\t ]+\S/", "python"),
        ("python", r"/^[\t ]+[~^]+[\t ]*$/", "python"),  # 3.11+: the markers under a code line
        ("python, python_code", r"/^[A-Za-z_][\w.]*(?::.*)?$/", "python_end"),  # the exception, last
        # A chained exception: a blank line, the sentence that links them, a blank line, the next traceback.
        ("python_end", r"/^$/", "python_gap"),
        ("python_gap", r"/^(?:During handling of the above exception|The above exception was the direct cause)/",
         "python_link"),
        ("python_link", r"/^$/", "python_next"),
        ("python_next", r"/^Traceback \(most recent call last\):$/", "python"),
    ],
    "kubelogs-go": [
        ("start_state", r"/\bpanic: /", "go_after_panic"),
        ("start_state", r"/http: panic serving/", "go_goroutine"),
        ("go_after_panic", r"/^\[signal /", "go_after_signal"),
        ("go_after_panic, go_after_signal, go_frame_1", r"/^$/", "go_goroutine"),
        ("go_goroutine", r"/^goroutine \d+ \[[^\]]+\]:$/", "go_frame_1"),
        ("go_frame_1", r"/^(?:[^\s.:]+\.)*[^\s.():]+\(|^created by /", "go_frame_2"),
        ("go_frame_2", r"/^\s/", "go_frame_1"),
    ],
}




def cluster_role_name(namespace: str) -> str:
    # Cluster-scoped: the namespace in the name keeps two installations apart.
    return f"kubelogs-{NAME}-{namespace}"


def _section(name: str, options: list[tuple[str, object]]) -> str:
    return "\n".join([f"[{name}]", *(f"    {key} {value}" for key, value in options)])


# The index of lines whose pod metadata could not be read (Kubernetes API down or forbidden): they are kept
# there, marked with their node and log file, instead of being dropped; the verify stage counts them.
UNROUTED_PREFIX = "kubelogs-unrouted"
UNROUTED_FIELD = "kubelogs_unrouted"  # {"node": ..., "file": ...} on each such line
DEAD_LETTERS_DIR = f"{STATE_DIR}/storage/rejected"  # where batches that failed for good are kept
DEAD_LETTERS_LIMIT = "256M"  # per node, on top of STORAGE_LIMIT
ROUTE_SCRIPT = "route.lua"

# Runs after the kubernetes filter. Return codes: -1 drops the line, 0 keeps it as it is, 2 keeps it changed.
# Every collected line gets LOG_NAME_FIELD, its index's name: the declared log name, else (collect: all) its
# namespace.
ROUTE_LUA = f"""-- kubelogs: which lines go to Elasticsearch, and to which index (the es output reads {LOG_NAME_FIELD}).
local node = os.getenv("NODE_NAME") or ""
local collect_all = @COLLECT_ALL@
local excluded = {{@EXCLUDED@}}
local flatten_json = @FLATTEN_JSON@

-- {JSON_FIELD}'s fields as one level of strings: {{a = {{b = 1}}}} becomes {{a_b = "1"}}, a list's items a_1, a_2...
local function flattened(value, prefix, out)
  for key, item in pairs(value) do
    local name = prefix .. tostring(key)
    if type(item) == "table" then
      flattened(item, name .. "_", out)
    elseif item ~= nil then
      out[name] = tostring(item)
    end
  end
  return out
end

-- A pod that opted out of joined stack traces: the joined line, one record per line again.
local function unjoined(record)
  local annotations = (record["kubernetes"] or {{}})["annotations"]
  local text = record["log"]
  if type(annotations) ~= "table" or annotations["{MULTILINE_ANNOTATION}"] ~= "false" or type(text) ~= "string"
      or not string.find(text, "\\n", 1, true) then
    return record
  end
  local records = {{}}
  for line in string.gmatch(text .. "\\n", "(.-)\\n") do
    local copy = {{}}
    for key, value in pairs(record) do copy[key] = value end
    copy["log"] = line
    records[#records + 1] = copy
  end
  if #records > 1 and records[#records]["log"] == "" then records[#records] = nil end  -- a trailing newline
  return records
end

function route(tag, timestamp, record)
  if flatten_json and type(record["{JSON_FIELD}"]) == "table" then
    record["{JSON_FIELD}"] = flattened(record["{JSON_FIELD}"], "", {{}})
  end
  local k8s = record["kubernetes"]
  if type(k8s) ~= "table" then
    -- No pod metadata (the lookup failed): keep the line, in the unrouted index, with where it came from.
    local file = string.gsub(tag, "^kube%.var%.log%.containers%.", "")
    record["{UNROUTED_FIELD}"] = {{node = node, file = file}}
    return 2, timestamp, record
  end
  local annotations = k8s["annotations"]
  if type(annotations) ~= "table" then annotations = {{}} end
  local name = annotations["{LOG_NAME_ANNOTATION}"]
  if type(name) == "string" and string.match(name, "{LOG_NAME_LUA_PATTERN}") then
    record["{LOG_NAME_FIELD}"] = name  -- a declared log name keeps its index
    return 2, timestamp, unjoined(record)
  end
  local namespace = k8s["namespace_name"]
  if not collect_all or annotations["{COLLECT_ANNOTATION}"] == "false" or type(namespace) ~= "string"
      or excluded[namespace] then
    return -1, timestamp, record  -- not collected: declared-only, opted out, or an excluded namespace
  end
  record["{LOG_NAME_FIELD}"] = namespace
  return 2, timestamp, unjoined(record)
end
"""


def multiline_conf() -> str:
    """The parsers file: MULTILINE_PARSERS as [MULTILINE_PARSER] sections."""
    sections = []
    for name, rules in MULTILINE_PARSERS.items():
        lines = [f"    name          {name}", "    type          regex", f"    flush_timeout {MULTILINE_FLUSH_MS}"]
        lines += [f'    rule          "{src}" "{regex}" "{dst}"' for src, regex, dst in rules]
        sections.append("[MULTILINE_PARSER]\n" + "\n".join(lines))
    return "\n\n".join(sections) + "\n"


def route_lua(settings: Settings) -> str:
    """route.lua for these settings: what is collected (``agents.collect``, ``agents.exclude_namespaces``)."""
    excluded = " ".join(f'["{n}"] = true,' for n in settings.agents.exclude_namespaces)
    flatten = compat.parse_version(settings.elasticsearch.version) < compat.FLATTENED_FROM
    return (ROUTE_LUA.replace("@COLLECT_ALL@", "true" if settings.agents.collect == "all" else "false")
            .replace("@FLATTEN_JSON@", "true" if flatten else "false")
            .replace("@EXCLUDED@", excluded))


def config(settings: Settings) -> str:
    """fluent-bit.conf in the classic format: both supported lines (3.x and 5.x) read it unchanged, so an
    image override to either works; YAML would be the same settings in a format 3.x reads only in part."""
    es, image = settings.elasticsearch, settings.agents.fluent_bit_image
    dead_letters = compat.fluent_bit_has_dead_letters(image)
    output: list[tuple[str, object]] = [
        ("Name", "es"), ("Match", "kube.*"),
        ("Host", service_host(settings.namespace)), ("Port", HTTP_PORT),
        ("Logstash_Format", "On"), ("Logstash_Prefix_Key", f"${LOG_NAME_FIELD}"), ("Logstash_Prefix", UNROUTED_PREFIX),
        ("Logstash_DateFormat", "%Y.%m.%d"),
        ("Replace_Dots", "On"),  # label/annotation keys with dots collide in Elasticsearch mappings
        # A batch Elasticsearch keeps refusing is retried this often, then kept in the dead-letter queue;
        # without one (before 4.2) it is retried forever rather than dropped.
        ("Retry_Limit", settings.agents.retry_limit if dead_letters else "False"),
        ("Trace_Error", "On"),
        # Read the whole bulk answer: a cut-off one fails the request, which is resent (duplicates).
        ("Buffer_Size", "False"),
        # Chunks waiting for Elasticsearch stay on the node's disk, up to this much (then the oldest go).
        ("storage.total_limit_size", STORAGE_LIMIT),
    ]
    if es.security_enabled:
        output += [("HTTP_User", "${ES_USER}"), ("HTTP_Passwd", "${ES_PASSWORD}"),
                   # HTTPS, the certificate checked against the generated CA and its name against Host.
                   ("tls", "On"), ("tls.verify", "On"), ("tls.verify_hostname", "On"), ("tls.ca_file", tls.TRUST_FILE)]
    if es.major >= 8:
        output.append(("Suppress_Type_Name", "On"))  # 8.x rejects typed bulk requests
    elif es.major == 6:
        # One mapping type per 6.x index: log-pilot's Filebeat 6 writes `doc`, so Fluent Bit does too (a log
        # collected on both kinds of node lands in one index), whichever agents the settings choose, so that
        # a collector switch never changes the type of a day's index.
        output.append(("Type", TYPE_6X))
    service: list[tuple[str, object]] = [
        ("Flush", 1), ("Log_Level", "info"), ("Daemon", "Off"),
        ("HTTP_Server", "On"), ("HTTP_Listen", "0.0.0.0"), ("HTTP_Port", HEALTH_PORT), ("Health_Check", "On"),
        # Buffers survive a restart of the agent (an outage of Elasticsearch included).
        ("storage.path", f"{STATE_DIR}/storage"), ("storage.sync", "normal"), ("storage.backlog.mem_limit", "16MB"),
        # Retries back off at most 30 s: delivery resumes soon after an outage.
        ("scheduler.cap", 30),
        ("parsers_file", f"{CONFIG_DIR}/{MULTILINE_FILE}")]
    if dead_letters:
        service += [("storage.keep.rejected", "On"), ("storage.rejected.path", DEAD_LETTERS_DIR.rsplit("/", 1)[-1]),
                    ("storage.rejected.limit", DEAD_LETTERS_LIMIT)]
    sections = [
        _section("SERVICE", service),
        # Read_from_Head: lines written before the agent's first start are shipped too; the position
        # database (DB) keeps a restart from reading them twice. Its own log is left out: while the API is
        # down, its warnings would be unrouted lines that make more warnings.
        _section("INPUT", [("Name", "tail"), ("Tag", "kube.*"), ("Path", "/var/log/containers/*.log"),
                           ("Exclude_Path", f"/var/log/containers/{NAME}-*_{settings.namespace}_{NAME}-*.log"),
                           ("multiline.parser", "docker, cri"), ("DB", f"{STATE_DIR}/tail.db"),
                           ("Read_from_Head", "On"), ("storage.type", "filesystem"),
                           ("Mem_Buf_Limit", "16MB"), ("Skip_Long_Lines", "On"), ("Refresh_Interval", 5)]),
        # Stack traces joined first: with `buffer`, the joined lines are sent through the filters again from the
        # start (an emitter, its queue on disk), so the kubernetes and lua filters after it see each once.
        _section("FILTER", [("Name", "multiline"), ("Match", "kube.*"), ("multiline.key_content", "log"),
                            ("multiline.parser", ", ".join(MULTILINE_PARSERS)), ("buffer", "On"),
                            ("flush_ms", MULTILINE_FLUSH_MS), ("emitter_name", "kubelogs_multiline"),
                            ("emitter_storage.type", "filesystem"), ("emitter_mem_buf_limit", "16MB")]),
        # Pod metadata from the API; a pod's first lookup is kept for the agent's life (no TTL), so an API
        # outage affects only pods it has not seen yet.
        # Merge_Log: a line that is a JSON object gets its fields under JSON_FIELD, the line kept in `log`.
        _section("FILTER", [("Name", "kubernetes"), ("Match", "kube.*"), ("Merge_Log", "On"),
                            ("Merge_Log_Key", JSON_FIELD), ("Keep_Log", "On"),
                            ("Annotations", "On"), ("Labels", "On"), ("K8S-Logging.Exclude", "On")]),
        # Which pods are collected, and each line's index (ROUTE_LUA); lines without metadata go to the
        # unrouted index instead of being dropped.
        _section("FILTER", [("Name", "lua"), ("Match", "kube.*"), ("script", f"{CONFIG_DIR}/{ROUTE_SCRIPT}"),
                            ("call", "route")]),
        _section("OUTPUT", output),
    ]
    return "\n\n".join(sections) + "\n"


def render(settings: Settings, runtimes: tuple[str, ...], generated: GeneratedSecrets) -> list[Manifest]:
    """RBAC, configuration and DaemonSet on the nodes with these runtimes."""
    ns, role = settings.namespace, cluster_role_name(settings.namespace)
    files = {"fluent-bit.conf": config(settings), ROUTE_SCRIPT: route_lua(settings), MULTILINE_FILE: multiline_conf()}
    env = [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    if settings.elasticsearch.security_enabled:
        env += [secret_env("ES_USER", WRITER_SECRET, "username"),  # writes the log indices, nothing else
                secret_env("ES_PASSWORD", WRITER_SECRET, "password")]
    host_paths = {  # volume name -> (host path, read-only)
        "varlog": ("/var/log", True),
        "docker-containers": ("/var/lib/docker/containers", True),  # targets of the links on Docker nodes
        "state": (STATE_DIR, False),
    }
    pod = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": True,  # the kubernetes filter reads pod metadata
        "securityContext": RUNTIME_DEFAULT_SECCOMP,
        **agent_placement(runtimes),
        "containers": [{
            "name": NAME,
            "image": settings.agents.fluent_bit_image,
            "command": ["/fluent-bit/bin/fluent-bit", "-c", f"{CONFIG_DIR}/fluent-bit.conf"],
            "env": env,
            "ports": [{"name": "http", "containerPort": HEALTH_PORT}],
            # 5.1.1 with its filesystem buffer peaked at 238-256 MiB RSS under load (measured, ../shared/tools).
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "livenessProbe": {"httpGet": {"path": "/api/v1/health", "port": "http"},
                              "initialDelaySeconds": 10, "periodSeconds": 10},
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
            # Root only to read root-owned log files (as their owner: no capability needed).
            "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                             *({"name": v, "mountPath": path, "readOnly": ro} for v, (path, ro) in host_paths.items()),
                             *([tls.mount()] if settings.elasticsearch.security_enabled else [])],
        }],
        "volumes": [{"name": "config", "configMap": {"name": CONFIG_MAP}},
                    *({"name": v, "hostPath": {"path": path}} for v, (path, _) in host_paths.items()),
                    *([tls.volume()] if settings.elasticsearch.security_enabled else [])],
    }
    return [
        service_account(NAME, ns, token=True),
        # Least privilege for the kubernetes filter: read pods and namespaces, nothing else.
        cluster_obj("rbac.authorization.k8s.io/v1", "ClusterRole", role, NAME, ns, rules=[
            {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]}]),
        cluster_obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", role, NAME, ns,
                    roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]),
        obj("v1", "ConfigMap", CONFIG_MAP, NAME, ns, data=files),
        # Fluent Bit reads its configuration and credentials only at start.
        workload("DaemonSet", NAME, ns, pod, {**files, **credential_digests(generated.writer_password),
                                              **generated.trust_digest()},
                 pod_annotations=scrape_annotations(HEALTH_PORT, METRICS_PATH) if settings.metrics.enabled else None),
    ]
