"""The cluster plan: what applying the desired objects would do, computed without changing anything.

Each desired object is compared with the cluster the way ``kubectl diff`` does it: the live object
against the result of a server-side apply with ``dryRun=All``, unless the live object is as kubelogs last
applied it (``applied_unchanged``): then it is unchanged without a request. The live objects are read with
one LIST per owned kind (the LISTs pruning needs anyway), so a no-op plan costs requests per kind, not per
object or node. Owned objects (ApplySet members) that are no longer desired become prune steps. Changes to
immutable fields stop the plan with guidance.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubelogs import compatibility as compat
from kubelogs.cluster import applyset, rollout, safety
from kubelogs.cluster.api import (
    FIELD_MANAGER,
    ApiError,
    ClusterError,
    Kube,
    label_selector,
)
from kubelogs.cluster.es_plan import ElasticsearchWork
from kubelogs.cluster.resources import NEVER_PRUNE, RESOURCES, WORKLOADS
from kubelogs.manifests.common import (
    APPLYSET_PARENT_NAME,
    NODE_ES_DATA_LABEL,
    NODE_RUNTIME_LABEL,
    Manifest,
    config_hash,
)
from kubelogs.manifests.elasticsearch import NAME as ES_NAME

# Server-maintained metadata that differs between a live object and its dry-run without any change.
if TYPE_CHECKING:
    from kubelogs.cluster.phases import Phase

_VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid")
# On every object kubelogs applies (not Nodes: it owns only their labels): a digest of the manifest it applied.
APPLIED_ANNOTATION = "kubelogs.io/applied"
# Writers whose changes never touch what kubelogs applies: its own merge patches (es_plan's annotations, the
# verify stage's canary rotation: verify/rotation.py).
_OWN_PATCHERS = ("kubelogs-elasticsearch", "kubelogs-verify")


def with_applied_digest(manifest: Manifest) -> Manifest:
    """The manifest, annotated with the digest of itself (as applied, without the annotation)."""
    meta = manifest["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != APPLIED_ANNOTATION}
    bare_meta = {k: v for k, v in meta.items() if k != "annotations"} | ({"annotations": annotations} if annotations else {})
    digest = config_hash({"manifest": json.dumps({**manifest, "metadata": bare_meta}, sort_keys=True, separators=(",", ":"))})
    return {**manifest, "metadata": {**meta, "annotations": {**annotations, APPLIED_ANNOTATION: digest}}}


def applied_unchanged(live: dict, desired: Manifest) -> bool:
    """Whether applying ``desired`` would change nothing, known without asking the API server: the live object
    carries the digest of this very manifest, applied by kubelogs, and nobody wrote to it since (another
    manager's write at the same time or later, a status update aside). Anything else is left to a dry run."""
    meta = live.get("metadata") or {}
    wanted = (desired["metadata"].get("annotations") or {}).get(APPLIED_ANNOTATION)
    if not wanted or (meta.get("annotations") or {}).get(APPLIED_ANNOTATION) != wanted:
        return False
    entries = meta.get("managedFields") or []
    ours = [e.get("time", "") for e in entries if e.get("manager") == FIELD_MANAGER and e.get("operation") == "Apply"
            and not e.get("subresource")]
    if len(ours) != 1 or not ours[0]:
        return False
    return not any(e.get("time", "") >= ours[0] for e in entries
                   if e.get("manager") not in (FIELD_MANAGER, *_OWN_PATCHERS) and e.get("subresource") != "status")


@dataclass(frozen=True)
class NodeTarget:
    """A Kubernetes node the node stage prepared, and the labels it should carry."""

    host: str  # inventory host name
    node: str  # Kubernetes node name
    runtime: str
    holds_data: bool

    def labels(self, hostpath_storage: bool) -> dict[str, str]:
        labels = {NODE_RUNTIME_LABEL: self.runtime if self.runtime in compat.RUNTIMES else "unknown"}
        if self.holds_data and hostpath_storage:
            labels[NODE_ES_DATA_LABEL] = "true"
        return labels

    def manifest(self, hostpath_storage: bool) -> Manifest:
        # Only the labels: server-side apply makes kubelogs the owner of these keys and nothing else.
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": self.labels(hostpath_storage)}}


@dataclass
class Step:
    action: str  # create | update | unchanged | prune
    manifest: Manifest  # desired object, or the live object for prune
    live: dict | None = None
    host: str | None = None  # inventory host of a node-label step
    note: str = ""
    template_changed: bool = False  # a workload update that changes its pods (they restart)

    @property
    def ref(self) -> str:
        meta = self.manifest["metadata"]
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.manifest['kind']} {where}{meta['name']}"

    def describe(self) -> str:
        return f"{self.action:<9} {self.ref}" + (f" ({self.note})" if self.note else "")


@dataclass
class Plan:
    namespace: str
    steps: list[Step]  # apply order, then prunes
    searched_parent: Manifest  # the ApplySet parent listing every kind pruning searches
    final_parent: Manifest  # the ApplySet parent once pruning is done
    workloads: list[tuple[str, str, str]]  # (kind, namespace, name) to wait for
    pending_rollouts: list[str] = field(default_factory=list)
    kept_data: list[str] = field(default_factory=list)  # nodes left with Elasticsearch data no pod serves
    warnings: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)  # each certificate's expiry, and what the run does
    elasticsearch: ElasticsearchWork = field(default_factory=ElasticsearchWork)
    phases: list[Phase] = field(default_factory=list)  # what executing it does, in order (phases.order)

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action != "unchanged"]

    @property
    def has_work(self) -> bool:
        """Whether executing it does anything (a no-op re-run does not)."""
        return bool(self.changes or self.pending_rollouts or self.elasticsearch.any)

    def counts(self) -> dict[str, int]:
        counts = {a: 0 for a in ("create", "update", "prune", "unchanged")}
        for s in self.steps:
            counts[s.action] += 1
        return counts

    def summary(self) -> str:
        return ", ".join(f"{n} {a}" for a, n in self.counts().items() if n)

    def lines(self) -> list[str]:
        return [f"cluster plan: {self.summary()}", *(f"  {s.describe()}" for s in self.steps),
                *(f"  waiting   {m}" for m in self.pending_rollouts),
                *self.elasticsearch.lines(),
                *(f"  keeps     {m}" for m in self.kept_data),
                *(f"  warning   {m}" for m in self.warnings),
                *(f"  tls       {m}" for m in self.certificates),
                *(f"  phase {i:>2}  {p.name}: {p.why}" for i, p in enumerate(self.phases, 1))]


def comparable(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    for key in _VOLATILE_METADATA:
        obj.get("metadata", {}).pop(key, None)
    return obj


def make_plan(kube: Kube, objects: list[Manifest], nodes: list[NodeTarget],
              hostpath_storage: bool, generated: list[str] = (), listed: dict[str, list[dict]] | None = None) -> Plan:
    """Plan applying ``objects`` (rendered, in apply order, namespace first) and labelling ``nodes``.
    ``listed``: every object of a kind in the namespace, where the run has read them already."""
    namespace_manifest, *rest = objects
    ns = namespace_manifest["metadata"]["name"]
    live_namespace = kube.get("Namespace", ns)
    namespace_exists = live_namespace is not None
    live_parent = kube.get("Secret", APPLYSET_PARENT_NAME, ns) if namespace_exists else None
    members = [m for m in objects if applyset.is_member(m, ns)]
    kinds = {m["kind"] for m in members}
    searched = kinds | applyset.recorded_kinds(live_parent)
    searched_parent = with_applied_digest(applyset.parent(ns, searched))
    # Namespace, then the parent listing every kind that may hold members (so an interrupted run
    # still knows what to prune), then node labels, then the rest in render order.
    sequence: list[tuple[Manifest, str | None]] = [
        (namespace_manifest, None), (searched_parent, None),
        *((n.manifest(hostpath_storage), n.host) for n in nodes),
        *((m, None) for m in rest),
    ]
    steps, refusals = [], []
    # The nodes in one LIST, not a GET and a dry-run apply each: a no-op plan costs the same on 1,000 nodes.
    live_nodes = {n["metadata"]["name"]: n for n in kube.list("Node")} if nodes else {}
    # Every owned kind in one LIST each (pruning reads the same); an object not among them is looked up alone.
    owned: dict[str, dict[str, dict]] = {}
    for kind in sorted(searched):
        if kind in (listed or {}):  # read already (the credentials read every Secret): its members
            owned[kind] = {o["metadata"]["name"]: o for o in listed[kind] if applyset.is_member(o, ns)}
        elif namespace_exists or not RESOURCES[kind].namespaced:
            owned[kind] = {o["metadata"]["name"]: o for o in _owned(kube, kind, ns)}
    known = {("Namespace", ns): live_namespace, ("Secret", APPLYSET_PARENT_NAME): live_parent}
    for manifest, host in sequence:
        if manifest["kind"] != "Node":
            manifest = with_applied_digest(manifest)
        meta = manifest["metadata"]
        namespaced = RESOURCES[manifest["kind"]].namespaced
        if manifest["kind"] == "Node":
            live = live_nodes.get(meta["name"])
        elif meta["name"] in owned.get(manifest["kind"], {}):
            live = owned[manifest["kind"]][meta["name"]]
        elif (manifest["kind"], meta["name"]) in known:
            live = known[(manifest["kind"], meta["name"])]
        else:
            live = kube.get(manifest["kind"], meta["name"], meta.get("namespace")) if namespace_exists or not namespaced else None
        note = "generated" if manifest["kind"] == "Secret" and meta["name"] in generated else ""
        if manifest["kind"] == "Node" and live is None:
            raise ClusterError(f"inventory host {host!r}: the cluster has no node named {meta['name']!r}. Set the "
                               "host's data kube_node_name to its name in `kubectl get nodes`.")
        if live is None:
            steps.append(Step("create", manifest, None, host, note))
            continue
        refused = safety.immutable_fields_unchanged(live, manifest)
        if not refused and manifest["kind"] == "StatefulSet":
            refused = safety.supported_version_change(live, manifest) or safety.major_upgrade_alone(live, manifest) \
                or safety.scale_down_alone(live, manifest)
        if refused:
            refusals.append(refused)
            continue
        if (labels_applied if manifest["kind"] == "Node" else applied_unchanged)(live, manifest):
            steps.append(Step("unchanged", manifest, live, host, note))
            continue
        dry = kube.apply(manifest, dry_run=True)
        action = "unchanged" if comparable(dry) == comparable(live) else "update"
        template_changed = manifest["kind"] in WORKLOADS and \
            (dry.get("spec") or {}).get("template") != (live.get("spec") or {}).get("template")
        steps.append(Step(action, manifest, live, host, note, template_changed))
    if refusals:
        raise ClusterError("refusing to apply:\n" + "\n".join(f"- {r}" for r in refusals))

    wanted = {(m["kind"], m["metadata"]["name"]) for m in members}
    if namespace_exists:
        for kind in sorted(searched - NEVER_PRUNE):
            for live in owned[kind].values():
                if (kind, live["metadata"]["name"]) not in wanted:
                    steps.append(Step("prune", live, live, note="owned by kubelogs, no longer wanted"))

    workloads = [(m["kind"], ns, m["metadata"]["name"]) for m in members if m["kind"] in WORKLOADS]
    pending = []
    for s in steps:
        if s.action == "unchanged" and s.manifest["kind"] in WORKLOADS:
            done, message = rollout.status(s.live)
            if not done:
                pending.append(message)
    return Plan(ns, steps, searched_parent, with_applied_digest(applyset.parent(ns, kinds)), workloads, pending,
                unserved_data(kube, steps, ns))


def _owned(kube: Kube, kind: str, ns: str) -> list[dict]:
    """The members of one kind. A kind a CRD defines may have gone with its CRD (an earlier run recorded it):
    then nothing of it is left to prune, and the 404 says so."""
    try:
        return kube.list(kind, ns if RESOURCES[kind].namespaced else None, applyset.member_selector(ns))
    except ApiError as e:
        if e.status == 404 and RESOURCES[kind].optional:
            return []
        raise


def labels_applied(live: dict, desired: Manifest) -> bool:
    """Whether applying ``desired`` (labels only, as NodeTarget.manifest renders them) would change nothing on
    ``live``: every label has its value, and kubelogs' apply owns exactly these label keys (server-side apply
    removes a key it owned that the manifest no longer lists). Anything else is left to a dry-run apply."""
    wanted = desired["metadata"]["labels"]
    labels = live["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return False
    owned = [e for e in live["metadata"].get("managedFields") or []
             if e.get("manager") == FIELD_MANAGER and e.get("operation") == "Apply" and not e.get("subresource")]
    if len(owned) != 1:
        return False
    fields = owned[0].get("fieldsV1") or {}
    keys = {k[2:] for k in ((fields.get("f:metadata") or {}).get("f:labels") or {}) if k.startswith("f:")}
    # Nothing else in the applied configuration: it holds only metadata.labels (NodeTarget.manifest).
    return keys == set(wanted) and set(fields) == {"f:metadata"} and set(fields["f:metadata"]) == {"f:labels"}


def unserved_data(kube: Kube, steps: list[Step], namespace: str) -> list[str]:
    """Nodes whose hostPath Elasticsearch data no pod will serve after this plan: pods the StatefulSet
    scales away, and nodes losing the data label. kubelogs never deletes data; it says where it stays."""
    kept = []
    sts = next((s for s in steps if s.manifest["kind"] == "StatefulSet" and s.live  # the data nodes' set
                and s.manifest["metadata"]["name"] == ES_NAME), None)
    if sts and any("hostPath" in v for v in sts.live["spec"]["template"]["spec"].get("volumes") or []) \
            and sts.manifest["spec"]["replicas"] < sts.live["spec"].get("replicas", 1):
        wanted = sts.manifest["spec"]["replicas"]
        selector = label_selector(sts.manifest["spec"]["selector"]["matchLabels"])
        for pod in kube.list("Pod", namespace, selector):
            ordinal = pod["metadata"]["name"].rsplit("-", 1)[-1]
            if ordinal.isdigit() and int(ordinal) >= wanted and pod["spec"].get("nodeName"):
                kept.append(f"{pod['spec']['nodeName']}: the data of {pod['metadata']['name']} (scaled away), never deleted")
    for s in steps:
        live_labels = ((s.live or {}).get("metadata") or {}).get("labels") or {}
        if s.manifest["kind"] == "Node" and live_labels.get(NODE_ES_DATA_LABEL) == "true" \
                and NODE_ES_DATA_LABEL not in s.manifest["metadata"]["labels"]:
            kept.append(f"{s.manifest['metadata']['name']}: its Elasticsearch data (no longer a data node), never deleted")
    return kept
