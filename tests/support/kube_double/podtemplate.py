"""A pod template as Go holds it in Kubernetes v1.32: decoded, defaulted, encoded, and hashed into the
labels controllers put on pods, bit for bit.

What is reproduced, and from which Go source:

* ``compute_hash`` -- ``k8s.io/kubernetes/pkg/controller.ComputeHash``: FNV-32a over
  ``hashutil.DeepHashObject`` of the ``v1.PodTemplateSpec`` (``dump.ForHash``: go-spew
  ``ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true,
  DisablePointerAddresses: true, DisableCapacities: true}.Sprintf("%#v", template)``), the
  collision count mixed in as ``binary.LittleEndian.PutUint32`` into an 8-byte buffer, then
  ``rand.SafeEncodeString(fmt.Sprint(sum32))``.  The DaemonSet controller
  (pkg/controller/daemon/update.go ``snapshot``) names its ControllerRevision
  ``<ds>-<ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)>`` and labels it
  ``controller-revision-hash=<hash>``; ``syncDaemonSet`` takes ``hash :=
  cur.Labels["controller-revision-hash"]`` and ``util.CreatePodTemplate`` puts it on the pods.
  The Deployment controller (pkg/controller/deployment/sync.go ``getNewReplicaSet``) computes
  ``ComputeHash(&d.Spec.Template, d.Status.CollisionCount)`` for ``pod-template-hash``.
* ``hash_controller_revision`` -- pkg/controller/history ``HashControllerRevision``: FNV-32 (not
  32a) over ``Data.Raw``, then the probe (the collision count) as ``strconv.FormatInt``.
* ``statefulset_patch`` / ``daemonset_patch`` -- the ``getPatch`` bytes both controllers store as
  ``ControllerRevision.data``: the typed object marshalled by encoding/json, unmarshalled into a
  ``map[string]interface{}`` (StatefulSet: encoding/json, numbers become float64; DaemonSet:
  k8s.io/apimachinery/pkg/util/json, integers stay int64), ``{"spec":{"template":...,
  "$patch":"replace"}}`` re-marshalled (sorted keys, HTML escaping, Go float format).  The
  StatefulSet controller's pods carry ``controller-revision-hash=<revision name>`` where the name
  is ``<set>-<HashControllerRevision(patch, &collisionCount)>`` -- the StatefulSet controller
  always passes a non-nil collision count (0 when status has none), so "0" is hashed too.
* ``default_pod_template`` -- the defaults the v1.32 API server applies to a *template*
  (pkg/apis/core/v1/defaults.go + the generated SetObjectDefaults_{DaemonSet,Deployment,
  StatefulSet,ReplicaSet}), returning the JSON the server would store and return.

Sources transcribed (GitHub, via the stored copies):
* go-spew ``spew/format.go`` + ``common.go`` (v1.1.1, which Kubernetes vendors as
  v1.1.2-0.20180830191138-d8f796af33cc; the formatter is unchanged between them).  Note: ``%#v``
  writes strings *raw*, not quoted (``reflect.String: f.fs.Write([]byte(v.String()))``); only
  ``Sdump`` quotes.  Indent/DisablePointerAddresses/DisableCapacities only affect ``Sdump``.
* Field order of every struct: kubernetes ``staging/src/k8s.io/api/testdata/v1.31.0/
  core.v1.PodTemplate.json`` (the API's round-trip fixture: encoding/json emits fields in Go
  declaration order, every field filled), plus the two fields v1.32 added on this tree
  (``PodSecurityContext.SELinuxChangePolicy``, ``PodSpec.Resources``) -- checked against the
  v1.34.0 fixture, whose other additions (``Lifecycle.StopSignal`` 1.33, ``restartPolicyRules``,
  ``fileKeyRef``, ``podCertificate``, ``hostnameOverride`` 1.34) are left out.
* Go types of the fields: ``staging/src/k8s.io/api/core/v1/types.go`` (read for volume sources,
  container, probes, affinity, pod spec, pod security context) and apimachinery ``ObjectMeta``,
  ``Time``, ``LabelSelector``, ``intstr.IntOrString``, ``resource.Quantity`` (v1.32 layout:
  ``{i int64Amount; d infDecAmount; s string; Format}``) with ``quantity.go``, ``amount.go``,
  ``suffix.go``, ``math.go`` for its parsing and canonical form.

The in-memory state printed is the one kube-controller-manager holds: the object as the API
server encodes it (protobuf), decoded again.  So empty lists/maps are nil, a quantity is
``ParseQuantity(<canonical string the server emitted>)``, an absent ``Quantity`` struct field
(``divisor``) is ``ParseQuantity("0")``, an absent ``metav1.Time`` is the zero time.

Not exact (raise ``UnsupportedTemplate`` rather than guess): volume sources other than hostPath,
emptyDir, secret, configMap, downwardAPI, projected, persistentVolumeClaim, nfs, csi, gitRepo,
image; a non-null ``creationTimestamp``/``deletionTimestamp``/managedFields in a template (a
``time.Time`` carries its ``*time.Location``).  Transcribed but not confirmed by a recording: a
quantity ParseQuantity keeps as ``inf.Dec`` (more than 18 digits, or binary ones from about
100Ti up) prints its ``big.Int`` as normalized little-endian 64-bit words.
"""

from __future__ import annotations

import functools
import json
import re
import struct
from decimal import Decimal
from typing import Any, Callable, Iterable

__all__ = [
    "UnsupportedTemplate",
    "compute_hash",
    "controller_revision_name",
    "daemonset_patch",
    "default_pod_template",
    "hash_controller_revision",
    "safe_encode_string",
    "spew_template",
    "statefulset_patch",
]


class UnsupportedTemplate(ValueError):
    """The template holds something this module cannot print exactly as Go would."""


# --------------------------------------------------------------------------------------------
# Go type table.  Keys are the names go-spew prints (reflect.Type.String()): core/v1 and
# meta/v1 both print as "v1."; their type names do not collide in this tree.
# A field is (Go name, Go type, json name, options); options: "o" = omitempty, "i" = embedded
# struct whose JSON is inlined (`json:",inline"` or untagged embedding).
# --------------------------------------------------------------------------------------------

Field = tuple[str, str, str, str]

_CONTAINER_FIELDS: tuple[Field, ...] = (
    ("Name", "string", "name", ""),
    ("Image", "string", "image", "o"),
    ("Command", "[]string", "command", "o"),
    ("Args", "[]string", "args", "o"),
    ("WorkingDir", "string", "workingDir", "o"),
    ("Ports", "[]v1.ContainerPort", "ports", "o"),
    ("EnvFrom", "[]v1.EnvFromSource", "envFrom", "o"),
    ("Env", "[]v1.EnvVar", "env", "o"),
    ("Resources", "v1.ResourceRequirements", "resources", "o"),
    ("ResizePolicy", "[]v1.ContainerResizePolicy", "resizePolicy", "o"),
    ("RestartPolicy", "*v1.ContainerRestartPolicy", "restartPolicy", "o"),
    ("VolumeMounts", "[]v1.VolumeMount", "volumeMounts", "o"),
    ("VolumeDevices", "[]v1.VolumeDevice", "volumeDevices", "o"),
    ("LivenessProbe", "*v1.Probe", "livenessProbe", "o"),
    ("ReadinessProbe", "*v1.Probe", "readinessProbe", "o"),
    ("StartupProbe", "*v1.Probe", "startupProbe", "o"),
    ("Lifecycle", "*v1.Lifecycle", "lifecycle", "o"),
    ("TerminationMessagePath", "string", "terminationMessagePath", "o"),
    ("TerminationMessagePolicy", "v1.TerminationMessagePolicy", "terminationMessagePolicy", "o"),
    ("ImagePullPolicy", "v1.PullPolicy", "imagePullPolicy", "o"),
    ("SecurityContext", "*v1.SecurityContext", "securityContext", "o"),
    ("Stdin", "bool", "stdin", "o"),
    ("StdinOnce", "bool", "stdinOnce", "o"),
    ("TTY", "bool", "tty", "o"),
)


def _omit(*names: tuple[str, str, str]) -> tuple[Field, ...]:
    """Fields that are all omitempty: (Go name, Go type, json name)."""
    return tuple((g, t, j, "o") for g, t, j in names)


STRUCTS: dict[str, tuple[Field, ...]] = {
    # ---- k8s.io/apimachinery/pkg/apis/meta/v1
    "v1.ObjectMeta": _omit(
        ("Name", "string", "name"),
        ("GenerateName", "string", "generateName"),
        ("Namespace", "string", "namespace"),
        ("SelfLink", "string", "selfLink"),
        ("UID", "types.UID", "uid"),
        ("ResourceVersion", "string", "resourceVersion"),
        ("Generation", "int64", "generation"),
        ("CreationTimestamp", "v1.Time", "creationTimestamp"),
        ("DeletionTimestamp", "*v1.Time", "deletionTimestamp"),
        ("DeletionGracePeriodSeconds", "*int64", "deletionGracePeriodSeconds"),
        ("Labels", "map[string]string", "labels"),
        ("Annotations", "map[string]string", "annotations"),
        ("OwnerReferences", "[]v1.OwnerReference", "ownerReferences"),
        ("Finalizers", "[]string", "finalizers"),
        ("ManagedFields", "[]v1.ManagedFieldsEntry", "managedFields"),
    ),
    "v1.OwnerReference": (
        ("APIVersion", "string", "apiVersion", ""),
        ("Kind", "string", "kind", ""),
        ("Name", "string", "name", ""),
        ("UID", "types.UID", "uid", ""),
        ("Controller", "*bool", "controller", "o"),
        ("BlockOwnerDeletion", "*bool", "blockOwnerDeletion", "o"),
    ),
    "v1.ManagedFieldsEntry": _omit(
        ("Manager", "string", "manager"),
        ("Operation", "v1.ManagedFieldsOperationType", "operation"),
        ("APIVersion", "string", "apiVersion"),
        ("Time", "*v1.Time", "time"),
        ("FieldsType", "string", "fieldsType"),
        ("FieldsV1", "*v1.FieldsV1", "fieldsV1"),
        ("Subresource", "string", "subresource"),
    ),
    "v1.Time": (("Time", "time.Time", "", ""),),  # metav1.Time{time.Time}; custom JSON
    "time.Time": (
        ("wall", "uint64", "", ""),
        ("ext", "int64", "", ""),
        ("loc", "*time.Location", "", ""),
    ),
    "v1.LabelSelector": _omit(
        ("MatchLabels", "map[string]string", "matchLabels"),
        ("MatchExpressions", "[]v1.LabelSelectorRequirement", "matchExpressions"),
    ),
    "v1.LabelSelectorRequirement": (
        ("Key", "string", "key", ""),
        ("Operator", "v1.LabelSelectorOperator", "operator", ""),
        ("Values", "[]string", "values", "o"),
    ),
    # ---- k8s.io/apimachinery/pkg/util/intstr, pkg/api/resource (custom JSON)
    "intstr.IntOrString": (
        ("Type", "intstr.Type", "", ""),
        ("IntVal", "int32", "", ""),
        ("StrVal", "string", "", ""),
    ),
    "resource.Quantity": (
        ("i", "resource.int64Amount", "", ""),
        ("d", "resource.infDecAmount", "", ""),
        ("s", "string", "", ""),
        ("Format", "resource.Format", "", ""),
    ),
    "resource.int64Amount": (("value", "int64", "", ""), ("scale", "resource.Scale", "", "")),
    "resource.infDecAmount": (("Dec", "*inf.Dec", "", ""),),
    "inf.Dec": (("unscaled", "big.Int", "", ""), ("scale", "inf.Scale", "", "")),
    "big.Int": (("neg", "bool", "", ""), ("abs", "big.nat", "", "")),
    # ---- k8s.io/api/core/v1
    "v1.PodTemplateSpec": (
        ("ObjectMeta", "v1.ObjectMeta", "metadata", "o"),
        ("Spec", "v1.PodSpec", "spec", "o"),
    ),
    "v1.PodSpec": (
        ("Volumes", "[]v1.Volume", "volumes", "o"),
        ("InitContainers", "[]v1.Container", "initContainers", "o"),
        ("Containers", "[]v1.Container", "containers", ""),
        ("EphemeralContainers", "[]v1.EphemeralContainer", "ephemeralContainers", "o"),
        ("RestartPolicy", "v1.RestartPolicy", "restartPolicy", "o"),
        ("TerminationGracePeriodSeconds", "*int64", "terminationGracePeriodSeconds", "o"),
        ("ActiveDeadlineSeconds", "*int64", "activeDeadlineSeconds", "o"),
        ("DNSPolicy", "v1.DNSPolicy", "dnsPolicy", "o"),
        ("NodeSelector", "map[string]string", "nodeSelector", "o"),
        ("ServiceAccountName", "string", "serviceAccountName", "o"),
        ("DeprecatedServiceAccount", "string", "serviceAccount", "o"),
        ("AutomountServiceAccountToken", "*bool", "automountServiceAccountToken", "o"),
        ("NodeName", "string", "nodeName", "o"),
        ("HostNetwork", "bool", "hostNetwork", "o"),
        ("HostPID", "bool", "hostPID", "o"),
        ("HostIPC", "bool", "hostIPC", "o"),
        ("ShareProcessNamespace", "*bool", "shareProcessNamespace", "o"),
        ("SecurityContext", "*v1.PodSecurityContext", "securityContext", "o"),
        ("ImagePullSecrets", "[]v1.LocalObjectReference", "imagePullSecrets", "o"),
        ("Hostname", "string", "hostname", "o"),
        ("Subdomain", "string", "subdomain", "o"),
        ("Affinity", "*v1.Affinity", "affinity", "o"),
        ("SchedulerName", "string", "schedulerName", "o"),
        ("Tolerations", "[]v1.Toleration", "tolerations", "o"),
        ("HostAliases", "[]v1.HostAlias", "hostAliases", "o"),
        ("PriorityClassName", "string", "priorityClassName", "o"),
        ("Priority", "*int32", "priority", "o"),
        ("DNSConfig", "*v1.PodDNSConfig", "dnsConfig", "o"),
        ("ReadinessGates", "[]v1.PodReadinessGate", "readinessGates", "o"),
        ("RuntimeClassName", "*string", "runtimeClassName", "o"),
        ("EnableServiceLinks", "*bool", "enableServiceLinks", "o"),
        ("PreemptionPolicy", "*v1.PreemptionPolicy", "preemptionPolicy", "o"),
        ("Overhead", "v1.ResourceList", "overhead", "o"),
        ("TopologySpreadConstraints", "[]v1.TopologySpreadConstraint", "topologySpreadConstraints", "o"),
        ("SetHostnameAsFQDN", "*bool", "setHostnameAsFQDN", "o"),
        ("OS", "*v1.PodOS", "os", "o"),
        ("HostUsers", "*bool", "hostUsers", "o"),
        ("SchedulingGates", "[]v1.PodSchedulingGate", "schedulingGates", "o"),
        ("ResourceClaims", "[]v1.PodResourceClaim", "resourceClaims", "o"),
        ("Resources", "*v1.ResourceRequirements", "resources", "o"),  # new in v1.32
    ),
    "v1.Container": _CONTAINER_FIELDS,
    "v1.EphemeralContainerCommon": _CONTAINER_FIELDS,
    "v1.EphemeralContainer": (
        ("EphemeralContainerCommon", "v1.EphemeralContainerCommon", "", "i"),
        ("TargetContainerName", "string", "targetContainerName", "o"),
    ),
    "v1.ContainerPort": (
        ("Name", "string", "name", "o"),
        ("HostPort", "int32", "hostPort", "o"),
        ("ContainerPort", "int32", "containerPort", ""),
        ("Protocol", "v1.Protocol", "protocol", "o"),
        ("HostIP", "string", "hostIP", "o"),
    ),
    "v1.EnvFromSource": _omit(
        ("Prefix", "string", "prefix"),
        ("ConfigMapRef", "*v1.ConfigMapEnvSource", "configMapRef"),
        ("SecretRef", "*v1.SecretEnvSource", "secretRef"),
    ),
    "v1.ConfigMapEnvSource": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.SecretEnvSource": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.LocalObjectReference": (("Name", "string", "name", "o"),),
    "v1.EnvVar": (
        ("Name", "string", "name", ""),
        ("Value", "string", "value", "o"),
        ("ValueFrom", "*v1.EnvVarSource", "valueFrom", "o"),
    ),
    "v1.EnvVarSource": _omit(
        ("FieldRef", "*v1.ObjectFieldSelector", "fieldRef"),
        ("ResourceFieldRef", "*v1.ResourceFieldSelector", "resourceFieldRef"),
        ("ConfigMapKeyRef", "*v1.ConfigMapKeySelector", "configMapKeyRef"),
        ("SecretKeyRef", "*v1.SecretKeySelector", "secretKeyRef"),
    ),
    "v1.ObjectFieldSelector": (
        ("APIVersion", "string", "apiVersion", "o"),
        ("FieldPath", "string", "fieldPath", ""),
    ),
    "v1.ResourceFieldSelector": (
        ("ContainerName", "string", "containerName", "o"),
        ("Resource", "string", "resource", ""),
        ("Divisor", "resource.Quantity", "divisor", "o"),
    ),
    "v1.ConfigMapKeySelector": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Key", "string", "key", ""),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.SecretKeySelector": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Key", "string", "key", ""),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.ResourceRequirements": _omit(
        ("Limits", "v1.ResourceList", "limits"),
        ("Requests", "v1.ResourceList", "requests"),
        ("Claims", "[]v1.ResourceClaim", "claims"),
    ),
    "v1.ResourceClaim": (("Name", "string", "name", ""), ("Request", "string", "request", "o")),
    "v1.ContainerResizePolicy": (
        ("ResourceName", "v1.ResourceName", "resourceName", ""),
        ("RestartPolicy", "v1.ResourceResizeRestartPolicy", "restartPolicy", ""),
    ),
    "v1.VolumeMount": (
        ("Name", "string", "name", ""),
        ("ReadOnly", "bool", "readOnly", "o"),
        ("RecursiveReadOnly", "*v1.RecursiveReadOnlyMode", "recursiveReadOnly", "o"),
        ("MountPath", "string", "mountPath", ""),
        ("SubPath", "string", "subPath", "o"),
        ("MountPropagation", "*v1.MountPropagationMode", "mountPropagation", "o"),
        ("SubPathExpr", "string", "subPathExpr", "o"),
    ),
    "v1.VolumeDevice": (("Name", "string", "name", ""), ("DevicePath", "string", "devicePath", "")),
    "v1.Probe": (
        ("ProbeHandler", "v1.ProbeHandler", "", "i"),
        ("InitialDelaySeconds", "int32", "initialDelaySeconds", "o"),
        ("TimeoutSeconds", "int32", "timeoutSeconds", "o"),
        ("PeriodSeconds", "int32", "periodSeconds", "o"),
        ("SuccessThreshold", "int32", "successThreshold", "o"),
        ("FailureThreshold", "int32", "failureThreshold", "o"),
        ("TerminationGracePeriodSeconds", "*int64", "terminationGracePeriodSeconds", "o"),
    ),
    "v1.ProbeHandler": _omit(
        ("Exec", "*v1.ExecAction", "exec"),
        ("HTTPGet", "*v1.HTTPGetAction", "httpGet"),
        ("TCPSocket", "*v1.TCPSocketAction", "tcpSocket"),
        ("GRPC", "*v1.GRPCAction", "grpc"),
    ),
    "v1.ExecAction": (("Command", "[]string", "command", "o"),),
    "v1.HTTPGetAction": (
        ("Path", "string", "path", "o"),
        ("Port", "intstr.IntOrString", "port", ""),
        ("Host", "string", "host", "o"),
        ("Scheme", "v1.URIScheme", "scheme", "o"),
        ("HTTPHeaders", "[]v1.HTTPHeader", "httpHeaders", "o"),
    ),
    "v1.HTTPHeader": (("Name", "string", "name", ""), ("Value", "string", "value", "")),
    "v1.TCPSocketAction": (
        ("Port", "intstr.IntOrString", "port", ""),
        ("Host", "string", "host", "o"),
    ),
    "v1.GRPCAction": (("Port", "int32", "port", ""), ("Service", "*string", "service", "")),
    "v1.Lifecycle": _omit(
        ("PostStart", "*v1.LifecycleHandler", "postStart"),
        ("PreStop", "*v1.LifecycleHandler", "preStop"),
    ),
    "v1.LifecycleHandler": _omit(
        ("Exec", "*v1.ExecAction", "exec"),
        ("HTTPGet", "*v1.HTTPGetAction", "httpGet"),
        ("TCPSocket", "*v1.TCPSocketAction", "tcpSocket"),
        ("Sleep", "*v1.SleepAction", "sleep"),
    ),
    "v1.SleepAction": (("Seconds", "int64", "seconds", ""),),
    "v1.SecurityContext": _omit(
        ("Capabilities", "*v1.Capabilities", "capabilities"),
        ("Privileged", "*bool", "privileged"),
        ("SELinuxOptions", "*v1.SELinuxOptions", "seLinuxOptions"),
        ("WindowsOptions", "*v1.WindowsSecurityContextOptions", "windowsOptions"),
        ("RunAsUser", "*int64", "runAsUser"),
        ("RunAsGroup", "*int64", "runAsGroup"),
        ("RunAsNonRoot", "*bool", "runAsNonRoot"),
        ("ReadOnlyRootFilesystem", "*bool", "readOnlyRootFilesystem"),
        ("AllowPrivilegeEscalation", "*bool", "allowPrivilegeEscalation"),
        ("ProcMount", "*v1.ProcMountType", "procMount"),
        ("SeccompProfile", "*v1.SeccompProfile", "seccompProfile"),
        ("AppArmorProfile", "*v1.AppArmorProfile", "appArmorProfile"),
    ),
    "v1.Capabilities": _omit(("Add", "[]v1.Capability", "add"), ("Drop", "[]v1.Capability", "drop")),
    "v1.SELinuxOptions": _omit(
        ("User", "string", "user"),
        ("Role", "string", "role"),
        ("Type", "string", "type"),
        ("Level", "string", "level"),
    ),
    "v1.WindowsSecurityContextOptions": _omit(
        ("GMSACredentialSpecName", "*string", "gmsaCredentialSpecName"),
        ("GMSACredentialSpec", "*string", "gmsaCredentialSpec"),
        ("RunAsUserName", "*string", "runAsUserName"),
        ("HostProcess", "*bool", "hostProcess"),
    ),
    "v1.SeccompProfile": (
        ("Type", "v1.SeccompProfileType", "type", ""),
        ("LocalhostProfile", "*string", "localhostProfile", "o"),
    ),
    "v1.AppArmorProfile": (
        ("Type", "v1.AppArmorProfileType", "type", ""),
        ("LocalhostProfile", "*string", "localhostProfile", "o"),
    ),
    "v1.PodSecurityContext": _omit(
        ("SELinuxOptions", "*v1.SELinuxOptions", "seLinuxOptions"),
        ("WindowsOptions", "*v1.WindowsSecurityContextOptions", "windowsOptions"),
        ("RunAsUser", "*int64", "runAsUser"),
        ("RunAsGroup", "*int64", "runAsGroup"),
        ("RunAsNonRoot", "*bool", "runAsNonRoot"),
        ("SupplementalGroups", "[]int64", "supplementalGroups"),
        ("SupplementalGroupsPolicy", "*v1.SupplementalGroupsPolicy", "supplementalGroupsPolicy"),
        ("FSGroup", "*int64", "fsGroup"),
        ("Sysctls", "[]v1.Sysctl", "sysctls"),
        ("FSGroupChangePolicy", "*v1.PodFSGroupChangePolicy", "fsGroupChangePolicy"),
        ("SeccompProfile", "*v1.SeccompProfile", "seccompProfile"),
        ("AppArmorProfile", "*v1.AppArmorProfile", "appArmorProfile"),
        ("SELinuxChangePolicy", "*v1.PodSELinuxChangePolicy", "seLinuxChangePolicy"),  # v1.32
    ),
    "v1.Sysctl": (("Name", "string", "name", ""), ("Value", "string", "value", "")),
    "v1.Affinity": _omit(
        ("NodeAffinity", "*v1.NodeAffinity", "nodeAffinity"),
        ("PodAffinity", "*v1.PodAffinity", "podAffinity"),
        ("PodAntiAffinity", "*v1.PodAntiAffinity", "podAntiAffinity"),
    ),
    "v1.NodeAffinity": _omit(
        ("RequiredDuringSchedulingIgnoredDuringExecution", "*v1.NodeSelector",
         "requiredDuringSchedulingIgnoredDuringExecution"),
        ("PreferredDuringSchedulingIgnoredDuringExecution", "[]v1.PreferredSchedulingTerm",
         "preferredDuringSchedulingIgnoredDuringExecution"),
    ),
    "v1.NodeSelector": (("NodeSelectorTerms", "[]v1.NodeSelectorTerm", "nodeSelectorTerms", ""),),
    "v1.NodeSelectorTerm": _omit(
        ("MatchExpressions", "[]v1.NodeSelectorRequirement", "matchExpressions"),
        ("MatchFields", "[]v1.NodeSelectorRequirement", "matchFields"),
    ),
    "v1.NodeSelectorRequirement": (
        ("Key", "string", "key", ""),
        ("Operator", "v1.NodeSelectorOperator", "operator", ""),
        ("Values", "[]string", "values", "o"),
    ),
    "v1.PreferredSchedulingTerm": (
        ("Weight", "int32", "weight", ""),
        ("Preference", "v1.NodeSelectorTerm", "preference", ""),
    ),
    "v1.PodAffinity": _omit(
        ("RequiredDuringSchedulingIgnoredDuringExecution", "[]v1.PodAffinityTerm",
         "requiredDuringSchedulingIgnoredDuringExecution"),
        ("PreferredDuringSchedulingIgnoredDuringExecution", "[]v1.WeightedPodAffinityTerm",
         "preferredDuringSchedulingIgnoredDuringExecution"),
    ),
    "v1.PodAntiAffinity": _omit(
        ("RequiredDuringSchedulingIgnoredDuringExecution", "[]v1.PodAffinityTerm",
         "requiredDuringSchedulingIgnoredDuringExecution"),
        ("PreferredDuringSchedulingIgnoredDuringExecution", "[]v1.WeightedPodAffinityTerm",
         "preferredDuringSchedulingIgnoredDuringExecution"),
    ),
    "v1.WeightedPodAffinityTerm": (
        ("Weight", "int32", "weight", ""),
        ("PodAffinityTerm", "v1.PodAffinityTerm", "podAffinityTerm", ""),
    ),
    "v1.PodAffinityTerm": (
        ("LabelSelector", "*v1.LabelSelector", "labelSelector", "o"),
        ("Namespaces", "[]string", "namespaces", "o"),
        ("TopologyKey", "string", "topologyKey", ""),
        ("NamespaceSelector", "*v1.LabelSelector", "namespaceSelector", "o"),
        ("MatchLabelKeys", "[]string", "matchLabelKeys", "o"),
        ("MismatchLabelKeys", "[]string", "mismatchLabelKeys", "o"),
    ),
    "v1.Toleration": _omit(
        ("Key", "string", "key"),
        ("Operator", "v1.TolerationOperator", "operator"),
        ("Value", "string", "value"),
        ("Effect", "v1.TaintEffect", "effect"),
        ("TolerationSeconds", "*int64", "tolerationSeconds"),
    ),
    "v1.HostAlias": _omit(("IP", "string", "ip"), ("Hostnames", "[]string", "hostnames")),
    "v1.PodDNSConfig": _omit(
        ("Nameservers", "[]string", "nameservers"),
        ("Searches", "[]string", "searches"),
        ("Options", "[]v1.PodDNSConfigOption", "options"),
    ),
    "v1.PodDNSConfigOption": _omit(("Name", "string", "name"), ("Value", "*string", "value")),
    "v1.PodReadinessGate": (("ConditionType", "v1.PodConditionType", "conditionType", ""),),
    "v1.TopologySpreadConstraint": (
        ("MaxSkew", "int32", "maxSkew", ""),
        ("TopologyKey", "string", "topologyKey", ""),
        ("WhenUnsatisfiable", "v1.UnsatisfiableConstraintAction", "whenUnsatisfiable", ""),
        ("LabelSelector", "*v1.LabelSelector", "labelSelector", "o"),
        ("MinDomains", "*int32", "minDomains", "o"),
        ("NodeAffinityPolicy", "*v1.NodeInclusionPolicy", "nodeAffinityPolicy", "o"),
        ("NodeTaintsPolicy", "*v1.NodeInclusionPolicy", "nodeTaintsPolicy", "o"),
        ("MatchLabelKeys", "[]string", "matchLabelKeys", "o"),
    ),
    "v1.PodOS": (("Name", "v1.OSName", "name", ""),),
    "v1.PodSchedulingGate": (("Name", "string", "name", ""),),
    "v1.PodResourceClaim": (  # v1.31 layout (ClaimSource inlined away)
        ("Name", "string", "name", ""),
        ("ResourceClaimName", "*string", "resourceClaimName", "o"),
        ("ResourceClaimTemplateName", "*string", "resourceClaimTemplateName", "o"),
    ),
    "v1.Volume": (
        ("Name", "string", "name", ""),
        ("VolumeSource", "v1.VolumeSource", "", "i"),
    ),
    "v1.VolumeSource": _omit(
        ("HostPath", "*v1.HostPathVolumeSource", "hostPath"),
        ("EmptyDir", "*v1.EmptyDirVolumeSource", "emptyDir"),
        ("GCEPersistentDisk", "*v1.GCEPersistentDiskVolumeSource", "gcePersistentDisk"),
        ("AWSElasticBlockStore", "*v1.AWSElasticBlockStoreVolumeSource", "awsElasticBlockStore"),
        ("GitRepo", "*v1.GitRepoVolumeSource", "gitRepo"),
        ("Secret", "*v1.SecretVolumeSource", "secret"),
        ("NFS", "*v1.NFSVolumeSource", "nfs"),
        ("ISCSI", "*v1.ISCSIVolumeSource", "iscsi"),
        ("Glusterfs", "*v1.GlusterfsVolumeSource", "glusterfs"),
        ("PersistentVolumeClaim", "*v1.PersistentVolumeClaimVolumeSource", "persistentVolumeClaim"),
        ("RBD", "*v1.RBDVolumeSource", "rbd"),
        ("FlexVolume", "*v1.FlexVolumeSource", "flexVolume"),
        ("Cinder", "*v1.CinderVolumeSource", "cinder"),
        ("CephFS", "*v1.CephFSVolumeSource", "cephfs"),
        ("Flocker", "*v1.FlockerVolumeSource", "flocker"),
        ("DownwardAPI", "*v1.DownwardAPIVolumeSource", "downwardAPI"),
        ("FC", "*v1.FCVolumeSource", "fc"),
        ("AzureFile", "*v1.AzureFileVolumeSource", "azureFile"),
        ("ConfigMap", "*v1.ConfigMapVolumeSource", "configMap"),
        ("VsphereVolume", "*v1.VsphereVirtualDiskVolumeSource", "vsphereVolume"),
        ("Quobyte", "*v1.QuobyteVolumeSource", "quobyte"),
        ("AzureDisk", "*v1.AzureDiskVolumeSource", "azureDisk"),
        ("PhotonPersistentDisk", "*v1.PhotonPersistentDiskVolumeSource", "photonPersistentDisk"),
        ("Projected", "*v1.ProjectedVolumeSource", "projected"),
        ("PortworxVolume", "*v1.PortworxVolumeSource", "portworxVolume"),
        ("ScaleIO", "*v1.ScaleIOVolumeSource", "scaleIO"),
        ("StorageOS", "*v1.StorageOSVolumeSource", "storageos"),
        ("CSI", "*v1.CSIVolumeSource", "csi"),
        ("Ephemeral", "*v1.EphemeralVolumeSource", "ephemeral"),
        ("Image", "*v1.ImageVolumeSource", "image"),
    ),
    "v1.HostPathVolumeSource": (
        ("Path", "string", "path", ""),
        ("Type", "*v1.HostPathType", "type", "o"),
    ),
    "v1.EmptyDirVolumeSource": _omit(
        ("Medium", "v1.StorageMedium", "medium"),
        ("SizeLimit", "*resource.Quantity", "sizeLimit"),
    ),
    "v1.GitRepoVolumeSource": (
        ("Repository", "string", "repository", ""),
        ("Revision", "string", "revision", "o"),
        ("Directory", "string", "directory", "o"),
    ),
    "v1.SecretVolumeSource": _omit(
        ("SecretName", "string", "secretName"),
        ("Items", "[]v1.KeyToPath", "items"),
        ("DefaultMode", "*int32", "defaultMode"),
        ("Optional", "*bool", "optional"),
    ),
    "v1.KeyToPath": (
        ("Key", "string", "key", ""),
        ("Path", "string", "path", ""),
        ("Mode", "*int32", "mode", "o"),
    ),
    "v1.NFSVolumeSource": (
        ("Server", "string", "server", ""),
        ("Path", "string", "path", ""),
        ("ReadOnly", "bool", "readOnly", "o"),
    ),
    "v1.PersistentVolumeClaimVolumeSource": (
        ("ClaimName", "string", "claimName", ""),
        ("ReadOnly", "bool", "readOnly", "o"),
    ),
    "v1.DownwardAPIVolumeSource": _omit(
        ("Items", "[]v1.DownwardAPIVolumeFile", "items"),
        ("DefaultMode", "*int32", "defaultMode"),
    ),
    "v1.DownwardAPIVolumeFile": (
        ("Path", "string", "path", ""),
        ("FieldRef", "*v1.ObjectFieldSelector", "fieldRef", "o"),
        ("ResourceFieldRef", "*v1.ResourceFieldSelector", "resourceFieldRef", "o"),
        ("Mode", "*int32", "mode", "o"),
    ),
    "v1.ConfigMapVolumeSource": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Items", "[]v1.KeyToPath", "items", "o"),
        ("DefaultMode", "*int32", "defaultMode", "o"),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.ProjectedVolumeSource": (
        ("Sources", "[]v1.VolumeProjection", "sources", ""),
        ("DefaultMode", "*int32", "defaultMode", "o"),
    ),
    "v1.VolumeProjection": _omit(
        ("Secret", "*v1.SecretProjection", "secret"),
        ("DownwardAPI", "*v1.DownwardAPIProjection", "downwardAPI"),
        ("ConfigMap", "*v1.ConfigMapProjection", "configMap"),
        ("ServiceAccountToken", "*v1.ServiceAccountTokenProjection", "serviceAccountToken"),
        ("ClusterTrustBundle", "*v1.ClusterTrustBundleProjection", "clusterTrustBundle"),
    ),
    "v1.SecretProjection": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Items", "[]v1.KeyToPath", "items", "o"),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.ConfigMapProjection": (
        ("LocalObjectReference", "v1.LocalObjectReference", "", "i"),
        ("Items", "[]v1.KeyToPath", "items", "o"),
        ("Optional", "*bool", "optional", "o"),
    ),
    "v1.DownwardAPIProjection": (("Items", "[]v1.DownwardAPIVolumeFile", "items", "o"),),
    "v1.ServiceAccountTokenProjection": (
        ("Audience", "string", "audience", "o"),
        ("ExpirationSeconds", "*int64", "expirationSeconds", "o"),
        ("Path", "string", "path", ""),
    ),
    "v1.ClusterTrustBundleProjection": (
        ("Name", "*string", "name", "o"),
        ("SignerName", "*string", "signerName", "o"),
        ("LabelSelector", "*v1.LabelSelector", "labelSelector", "o"),
        ("Optional", "*bool", "optional", "o"),
        ("Path", "string", "path", ""),
    ),
    "v1.CSIVolumeSource": (
        ("Driver", "string", "driver", ""),
        ("ReadOnly", "*bool", "readOnly", "o"),
        ("FSType", "*string", "fsType", "o"),
        ("VolumeAttributes", "map[string]string", "volumeAttributes", "o"),
        ("NodePublishSecretRef", "*v1.LocalObjectReference", "nodePublishSecretRef", "o"),
    ),
    "v1.ImageVolumeSource": _omit(
        ("Reference", "string", "reference"),
        ("PullPolicy", "v1.PullPolicy", "pullPolicy"),
    ),
}

# Named non-struct types -> underlying type.
NAMED: dict[str, str] = {
    **{name: "string" for name in (
        "types.UID", "resource.Format", "v1.ManagedFieldsOperationType", "v1.LabelSelectorOperator",
        "v1.RestartPolicy", "v1.DNSPolicy", "v1.PreemptionPolicy", "v1.Protocol", "v1.PullPolicy",
        "v1.TerminationMessagePolicy", "v1.URIScheme", "v1.Capability", "v1.ProcMountType",
        "v1.SeccompProfileType", "v1.AppArmorProfileType", "v1.HostPathType", "v1.StorageMedium",
        "v1.MountPropagationMode", "v1.RecursiveReadOnlyMode", "v1.ContainerRestartPolicy",
        "v1.ResourceResizeRestartPolicy", "v1.ResourceName", "v1.NodeSelectorOperator",
        "v1.TolerationOperator", "v1.TaintEffect", "v1.PodConditionType",
        "v1.UnsatisfiableConstraintAction", "v1.NodeInclusionPolicy", "v1.OSName",
        "v1.SupplementalGroupsPolicy", "v1.PodFSGroupChangePolicy", "v1.PodSELinuxChangePolicy",
    )},
    "intstr.Type": "int64",
    "resource.Scale": "int32",
    "inf.Scale": "int32",
    "big.Word": "uint",
    "big.nat": "[]big.Word",
    "v1.ResourceList": "map[v1.ResourceName]resource.Quantity",
}

# Types named by a pointer field but not transcribed: they print as "(*T)<nil>" when unset, and
# decoding a set one raises UnsupportedTemplate.
NIL_ONLY: frozenset[str] = frozenset({
    "time.Location", "v1.FieldsV1", "v1.GCEPersistentDiskVolumeSource",
    "v1.AWSElasticBlockStoreVolumeSource", "v1.ISCSIVolumeSource", "v1.GlusterfsVolumeSource",
    "v1.RBDVolumeSource", "v1.FlexVolumeSource", "v1.CinderVolumeSource", "v1.CephFSVolumeSource",
    "v1.FlockerVolumeSource", "v1.FCVolumeSource", "v1.AzureFileVolumeSource",
    "v1.VsphereVirtualDiskVolumeSource", "v1.QuobyteVolumeSource", "v1.AzureDiskVolumeSource",
    "v1.PhotonPersistentDiskVolumeSource", "v1.PortworxVolumeSource", "v1.ScaleIOVolumeSource",
    "v1.StorageOSVolumeSource", "v1.EphemeralVolumeSource",
})

_BASIC_KINDS = {
    "bool": "bool", "string": "string",
    "int": "int", "int8": "int", "int16": "int", "int32": "int", "int64": "int",
    "uint": "uint", "uint8": "uint", "uint16": "uint", "uint32": "uint", "uint64": "uint",
}
_INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1), "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1),
    "int": (-(1 << 63), (1 << 63) - 1), "uint8": (0, (1 << 8) - 1), "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1), "uint64": (0, (1 << 64) - 1), "uint": (0, (1 << 64) - 1),
}


@functools.cache  # the table is fixed; types are looked up once per value printed
def _underlying(t: str) -> str:
    while t in NAMED:
        t = NAMED[t]
    return t


@functools.cache
def _kind(t: str) -> str:
    u = _underlying(t)
    if u.startswith("*"):
        return "ptr"
    if u.startswith("[]"):
        return "slice"
    if u.startswith("map["):
        return "map"
    if u in STRUCTS:
        return "struct"
    if u in _BASIC_KINDS:
        return _BASIC_KINDS[u]
    raise UnsupportedTemplate(f"Go type {t} is not in the type table")


@functools.cache
def _elem(t: str) -> str:
    u = _underlying(t)
    if u.startswith("*"):
        return u[1:]
    if u.startswith("[]"):
        return u[2:]
    raise AssertionError(t)


@functools.cache
def _map_types(t: str) -> tuple[str, str]:
    u = _underlying(t)
    close = u.index("]")  # key types in this table hold no brackets
    return u[4:close], u[close + 1:]


# --------------------------------------------------------------------------------------------
# resource.Quantity (apimachinery pkg/api/resource, v1.32): parse, round up, canonical string.
# --------------------------------------------------------------------------------------------

_DECIMAL_EXPONENT, _BINARY_SI, _DECIMAL_SI = "DecimalExponent", "BinarySI", "DecimalSI"
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# constructBytes tables (an exponent without a suffix yields no suffix in v1.32)
_DEC_BY_EXP = {(10, e): s for s, e in _DEC_SUFFIXES.items()}
_BIN_BY_EXP = {(2, e): s for s, e in _BIN_SUFFIXES.items()}
_GO_INT = re.compile(r"[+-]?[0-9]+")


def _go_quo(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _go_rem(a: int, b: int) -> int:
    """Go remainder (sign of the dividend)."""
    return a - b * _go_quo(a, b)


def _in_int64(v: int) -> bool:
    return _INT64_MIN <= v <= _INT64_MAX


def _negative_scale_int64(base: int, scale: int) -> tuple[int, bool]:
    """math.go negativeScaleInt64: divide by 10^scale, rounding away from zero."""
    if scale == 0:
        return base, True
    value, fraction = base, False
    for _ in range(scale):
        if not fraction and _go_rem(value, 10) != 0:
            fraction = True
        value = _go_quo(value, 10)
        if value == 0:
            if fraction:
                return (1 if base > 0 else -1), False
            return 0, True
    if fraction:
        value += 1 if base > 0 else -1
    return value, not fraction


def _remove_factors(value: int, base: int) -> tuple[int, int]:
    """math.go removeInt64Factors / removeBigIntFactors (same result on these inputs)."""
    times, negative, result = 0, value < 0, abs(value)
    while result >= base and result % base == 0:
        times += 1
        result //= base
    return (-result if negative else result), times


def _inf_round_up(unscaled: int, scale: int, to: int) -> tuple[int, int]:
    """inf.Dec.Round(x, to, inf.RoundUp): the result has scale ``to``, rounded away from zero."""
    if scale <= to:
        return unscaled * 10 ** (to - scale), to
    q, r = divmod(abs(unscaled), 10 ** (scale - to))
    if r:
        q += 1
    return (-q if unscaled < 0 else q), to


def _dec_cmp(a: tuple[int, int], b: tuple[int, int]) -> int:
    (ua, sa), (ub, sb) = a, b
    s = max(sa, sb)
    x, y = ua * 10 ** (s - sa), ub * 10 ** (s - sb)
    return (x > y) - (x < y)


class _Quantity:
    """resource.Quantity's state: i (int64Amount), d (inf.Dec as (unscaled, scale)), s, Format."""

    __slots__ = ("i_value", "i_scale", "dec", "s", "fmt")

    def __init__(self, i_value: int = 0, i_scale: int = 0, dec: tuple[int, int] | None = None,
                 s: str = "", fmt: str = "") -> None:
        self.i_value, self.i_scale, self.dec, self.s, self.fmt = i_value, i_scale, dec, s, fmt

    # -- ParseQuantity
    @classmethod
    def parse(cls, text: str) -> "_Quantity":
        if not text:
            raise ValueError("quantity: empty string")
        if text == "0":
            return cls(fmt=_DECIMAL_SI, s=text)
        positive, value, num, denom, suf = _parse_quantity_string(text)
        base, exponent, fmt = _interpret_suffix(suf)
        precision, scale, mantissa = 0, 0, 1
        if fmt in (_DECIMAL_EXPONENT, _DECIMAL_SI):
            scale = exponent
            precision = 18 - (len(num) + len(denom))  # maxInt64Factors
        elif exponent >= 0 and not denom:  # BinarySI fast path
            mantissa = 1 << exponent
            precision = 15 - len(num) - (exponent * 3 // 10) - 1
        else:
            precision = -1
        if precision >= 0:
            scale -= len(denom)
            if scale >= -9:
                shifted = num + denom
                v = int(shifted)
                if not _in_int64(v):
                    raise ValueError(f"quantity {text!r}: unable to parse numeric part")
                result = v * mantissa
                if _in_int64(result):
                    if not positive:
                        result = -result
                    # "if the number is in canonical form, reuse the string"
                    if fmt == _BINARY_SI:
                        cached = exponent % 10 == 0 and (v & 0x07) != 0
                    else:
                        cached = (_go_rem(scale, 3) == 0 and not shifted.endswith("000")
                                  and shifted[0] != "0")
                    return cls(result, scale, None, text if cached else "", fmt)
        unscaled, dscale = _inf_set_string(value, text)
        if base == 10:
            dscale -= exponent
        elif base == 2:
            unscaled *= 1 << exponent
        sign = (unscaled > 0) - (unscaled < 0)
        unscaled = abs(unscaled)
        if unscaled != 0:
            unscaled, dscale = _inf_round_up(unscaled, dscale, 9)
        if fmt == _BINARY_SI and _dec_cmp((unscaled, dscale), (_INT64_MAX, 0)) > 0:
            unscaled, dscale = _INT64_MAX, 0
        if fmt == _BINARY_SI and _dec_cmp((unscaled, dscale), (1, 0)) < 0 and unscaled > 0:
            fmt = _DECIMAL_SI
        if sign == -1:
            unscaled = -unscaled
        return cls(0, 0, (unscaled, dscale), "", fmt)

    def is_zero(self) -> bool:
        return (self.dec[0] == 0) if self.dec is not None else self.i_value == 0

    def round_up(self, scale: int) -> None:
        """Quantity.RoundUp (SetDefaults_ResourceList rounds to milli scale)."""
        if self.dec is not None:
            self.s = ""
            self.dec = _inf_round_up(self.dec[0], self.dec[1], -scale)
            return
        if self.i_scale >= scale:  # "avoid clearing the string value"
            return
        self.s = ""
        self.i_value, _ = _negative_scale_int64(self.i_value, scale - self.i_scale)
        self.i_scale = scale

    # -- String / CanonicalizeBytes
    def string(self) -> str:
        return self.s or self._canonicalize()

    def _value_dec(self) -> tuple[int, int]:
        """The value as (unscaled, inf.Scale): i.value * 10^i.scale is (value, -scale)."""
        return self.dec if self.dec is not None else (self.i_value, -self.i_scale)

    def _canonicalize(self) -> str:
        if self.is_zero():
            return "0"
        fmt = self.fmt
        rounded: tuple[str, int] | None = None
        if fmt == _BINARY_SI:
            if _dec_cmp(self._value_dec(), (-1024, 0)) > 0 and _dec_cmp(self._value_dec(), (1024, 0)) < 0:
                fmt = _DECIMAL_SI
            else:
                exact, base1024 = self._as_scale0_base1024()
                if not exact:
                    fmt = _DECIMAL_SI
                rounded = base1024
        elif fmt not in (_DECIMAL_EXPONENT, _DECIMAL_SI):
            fmt = _DECIMAL_EXPONENT
        if fmt in (_DECIMAL_EXPONENT, _DECIMAL_SI):
            number, exponent = self._as_canonical_bytes()
            if fmt == _DECIMAL_SI:
                suffix = _DEC_BY_EXP.get((10, exponent), "")  # v1.32: unknown exponent -> no suffix
            else:
                suffix = "" if exponent == 0 else f"e{exponent}"
            return number + suffix
        assert rounded is not None
        number, exponent = rounded
        return number + _BIN_BY_EXP.get((2, exponent * 10), "")

    def _as_canonical_bytes(self) -> tuple[str, int]:
        if self.dec is None:
            amount, times = _remove_factors(self.i_value, 10)
            exponent = self.i_scale + times
            r = _go_rem(exponent, 3)
            if r in (1, -2) and _in_int64(amount * 10):
                return str(amount * 10), exponent - 1
            if r in (2, -1) and _in_int64(amount * 100):
                return str(amount * 100), exponent - 2
            if r == 0:
                return str(amount), exponent
            unscaled, scale = self.i_value, -self.i_scale  # int64 overflow: inf.Dec path
        else:
            unscaled, scale = self.dec
        amount, times = _remove_factors(unscaled, 10)
        exponent = -scale + times
        while _go_rem(exponent, 3) != 0:
            amount *= 10
            exponent -= 1
        return str(amount), exponent

    def _as_scale0_base1024(self) -> tuple[bool, tuple[str, int]]:
        """AsScale(0) then AsCanonicalBase1024Bytes: (exact, (number, base-1024 exponent))."""
        if self.dec is None:
            if self.i_scale >= 0:
                exact, value = True, self.i_value * 10 ** self.i_scale
            else:
                value, exact = _negative_scale_int64(self.i_value, -self.i_scale)
        else:
            value, _ = _inf_round_up(self.dec[0], self.dec[1], 0)
            exact = _dec_cmp((value, 0), self.dec) == 0
        amount, exponent = _remove_factors(value, 1024)
        return exact, (str(amount), exponent)

    # -- the Go struct as spew sees it
    def __getitem__(self, field: str) -> Any:
        if field == "i":
            return {"value": self.i_value, "scale": self.i_scale}
        if field == "d":
            if self.dec is None:
                return {"Dec": None}
            unscaled, scale = self.dec
            words, rest = [], abs(unscaled)
            while rest:
                words.append(rest & 0xFFFFFFFFFFFFFFFF)
                rest >>= 64
            return {"Dec": {"unscaled": {"neg": unscaled < 0, "abs": words or None}, "scale": scale}}
        if field == "s":
            return self.s
        if field == "Format":
            return self.fmt
        raise KeyError(field)


def _parse_quantity_string(s: str) -> tuple[bool, str, str, str, str]:
    """quantity.go parseQuantityString: (positive, value, num, denom, suffix)."""
    digits = "0123456789"
    positive, pos, end = True, 0, len(s)
    if pos < end and s[0] in "+-":
        positive = s[0] == "+"
        pos += 1
    while True:  # strip leading zeros
        if pos >= end:
            return positive, "0", "0", "", ""
        if s[pos] != "0":
            break
        pos += 1
    i = pos
    while i < end and s[i] in digits:
        i += 1
    if i >= end:
        return positive, s, s[pos:end] or "0", "", ""
    num, pos = s[pos:i] or "0", i
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        i = pos
        while i < end and s[i] in digits:
            i += 1
        if i >= end:
            return positive, s, num, s[pos:end], ""
        denom, pos = s[pos:i], i
    value = s[:pos]
    suffix_start = pos
    i = pos
    while i < end and s[i] in "eEinumkKMGTP":
        i += 1
    if i >= end:
        return positive, value, num, denom, s[suffix_start:]
    pos = i
    if s[pos] in "-+":
        pos += 1
    i = pos
    while i < end and s[i] in digits:
        i += 1
    if i >= end:
        return positive, value, num, denom, s[suffix_start:]
    raise ValueError(f"quantity {s!r} does not match '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def _interpret_suffix(suf: str) -> tuple[int, int, str]:
    """suffix.go interpret: (base, exponent, format)."""
    if suf in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suf], _DECIMAL_SI
    if suf in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suf], _BINARY_SI
    if len(suf) > 1 and suf[0] in "eE" and _GO_INT.fullmatch(suf[1:]) and _in_int64(int(suf[1:])):
        exp = int(suf[1:]) & 0xFFFFFFFF  # int32(parsed)
        return 10, exp - (1 << 32) if exp >= 1 << 31 else exp, _DECIMAL_EXPONENT
    raise ValueError(f"unable to parse quantity's suffix {suf!r}")


def _inf_set_string(value: str, text: str) -> tuple[int, int]:
    """inf.Dec.SetString on the numeric part: (unscaled, scale)."""
    m = re.fullmatch(r"([+-]?)([0-9]*)(?:\.([0-9]*))?", value)
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(f"quantity {text!r}: unable to parse numeric part")
    frac = m.group(3) or ""
    unscaled = int((m.group(2) or "") + frac or "0")
    return (-unscaled if m.group(1) == "-" else unscaled), len(frac)


# --------------------------------------------------------------------------------------------
# JSON -> Go value.  A struct is a dict of Go field name -> value (every field present), a
# pointer/slice/map is None when nil, a Quantity is a _Quantity.  ``mode`` "controller" gives the
# state kube-controller-manager holds (the object after the API server encoded it); "server"
# the state the API server holds right after decoding the request (before defaulting).
# --------------------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")

# A decode path is kept as nested (parent, key) pairs and only rendered for an error message:
# building a string per field would cost more than the decoding itself.
Path = Any


def _render(path: Path) -> str:
    keys: list[str] = []
    while isinstance(path, tuple):
        path, key = path
        keys.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return str(path) + "".join(reversed(keys))


def _decode(t: str, j: Any, path: Path, mode: str) -> Any:
    custom = _CUSTOM_DECODE.get(t)
    if custom is not None:
        return custom(j, path, mode)
    k = _kind(t)
    if k == "ptr":
        if j is None:
            return None
        elem = _elem(t)
        if elem in NIL_ONLY:
            raise UnsupportedTemplate(
                f"{_render(path)}: Go type {elem} is not transcribed; cannot print it exactly")
        return _decode(elem, j, path, mode)
    if k == "slice":
        if j is None or j == []:  # protobuf round trip: an empty list decodes as nil
            return None
        if not isinstance(j, list):
            raise ValueError(f"{_render(path)}: expected a list for {t}, got {type(j).__name__}")
        elem = _elem(t)
        return [_decode(elem, x, (path, n), mode) for n, x in enumerate(j)]
    if k == "map":
        if j is None or j == {}:
            return None
        if not isinstance(j, dict):
            raise ValueError(f"{_render(path)}: expected an object for {t}, got {type(j).__name__}")
        kt, vt = _map_types(t)
        return {_decode(kt, key, path, mode): _decode(vt, val, (path, key), mode)
                for key, val in j.items()}
    if k == "struct":
        if j is None:
            j = {}
        if not isinstance(j, dict):
            raise ValueError(f"{_render(path)}: expected an object for {t}, got {type(j).__name__}")
        used: set[str] = set()
        out = _decode_struct(t, j, path, mode, used)
        if len(used) < len(j):
            unknown = sorted(set(j) - used)
            raise UnsupportedTemplate(
                f"{_render(path)}: field(s) {unknown} are not in Go type {t} (v1.32)")
        return out
    if j is None:
        return _zero(t)
    if k == "string":
        if not isinstance(j, str):
            raise ValueError(f"{_render(path)}: expected a string for {t}")
        return _SURROGATE.sub("\ufffd", j) if not j.isascii() else j  # Go replaces lone surrogates
    if k == "bool":
        if not isinstance(j, bool):
            raise ValueError(f"{_render(path)}: expected a bool for {t}")
        return j
    if k in ("int", "uint"):
        if isinstance(j, bool) or not isinstance(j, int):
            raise ValueError(f"{_render(path)}: expected an integer for {t}, got {j!r}")
        lo, hi = _INT_RANGES[_underlying(t)]
        if not lo <= j <= hi:
            raise ValueError(f"{_render(path)}: {j} overflows {t}")
        return j
    raise AssertionError(k)


def _decode_struct(t: str, obj: dict[str, Any], path: Path, mode: str, used: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, ft, jname, opts in STRUCTS[t]:
        if opts == "i":  # embedded, JSON-inlined: same object
            out[name] = _decode_struct(ft, obj, path, mode, used)
        elif jname in obj:
            used.add(jname)
            out[name] = _decode(ft, obj[jname], (path, jname), mode)
        elif ft in _CUSTOM_DECODE or ft in STRUCTS:
            out[name] = _decode(ft, None, (path, jname), mode)  # absent Quantity: see its decoder
        else:
            out[name] = _zero(ft)  # absent: the zero value (Go leaves the field untouched)
    return out


def _zero(t: str) -> Any:
    if t == "resource.Quantity":
        return _Quantity()
    k = _kind(t)
    if k in ("ptr", "slice", "map"):
        return None
    if k == "struct":
        return {name: _zero(ft) for name, ft, _, _ in STRUCTS[t]}
    return {"bool": False, "string": "", "int": 0, "uint": 0}[k]


def _decode_quantity(j: Any, path: Path, mode: str) -> _Quantity:
    if j is None:
        q = _Quantity()  # Quantity{}: absent or null
    else:
        if isinstance(j, bool) or not isinstance(j, (str, int, float)):
            raise ValueError(f"{_render(path)}: expected a quantity string, got {j!r}")
        text = j.strip() if isinstance(j, str) else repr(j)
        try:
            q = _Quantity.parse(text)
        except ValueError as err:
            raise ValueError(f"{_render(path)}: {err}") from None
    if mode == "controller":
        # the server emits String(); the controller parses that string again
        q = _Quantity.parse(q.string())
    return q


def _decode_intstr(j: Any, path: Path, mode: str) -> dict[str, Any]:
    if isinstance(j, str):
        return {"Type": 1, "IntVal": 0, "StrVal": _SURROGATE.sub("\ufffd", j)}
    if j is None:
        return {"Type": 0, "IntVal": 0, "StrVal": ""}
    return {"Type": 0, "IntVal": _decode("int32", j, path, mode), "StrVal": ""}


def _decode_time(j: Any, path: Path, mode: str) -> dict[str, Any]:
    if j is None:
        return {"Time": {"wall": 0, "ext": 0, "loc": None}}
    # a set time.Time holds a *time.Location (Local) whose contents depend on the host
    raise UnsupportedTemplate(f"{_render(path)}: a non-null timestamp in a template cannot be printed exactly")


_CUSTOM_DECODE: dict[str, Callable[[Any, Path, str], Any]] = {
    "resource.Quantity": _decode_quantity,
    "intstr.IntOrString": _decode_intstr,
    "v1.Time": _decode_time,
}


# --------------------------------------------------------------------------------------------
# go-spew %#v (format.go formatState), with its ignoreNextType state machine.
# --------------------------------------------------------------------------------------------

class _Spew:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.ignore_next_type = False

    def format(self, t: str, v: Any) -> None:
        k = _kind(t)
        if k == "ptr":
            self.format_ptr(t, v)
            return
        if not self.ignore_next_type:
            self.out.append(f"({t})")
        self.ignore_next_type = False
        if k == "bool":
            self.out.append("true" if v else "false")
        elif k in ("int", "uint"):
            self.out.append(str(v))
        elif k == "string":
            self.out.append(v)  # raw, unquoted
        elif k == "slice":
            if v is None:
                self.out.append("<nil>")
                return
            self.out.append("[")
            for n, item in enumerate(v):
                if n:
                    self.out.append(" ")
                self.ignore_next_type = True
                self.format(_elem(t), item)
            self.out.append("]")
        elif k == "map":
            if v is None:
                self.out.append("<nil>")
                return
            kt, vt = _map_types(t)
            if _kind(kt) != "string":
                raise UnsupportedTemplate(f"map key type {kt} not supported")
            self.out.append("map[")
            # SortKeys: strings compare by bytes, which is code-point order
            for n, key in enumerate(sorted(v)):
                if n:
                    self.out.append(" ")
                self.ignore_next_type = True
                self.format(kt, key)
                self.out.append(":")
                self.ignore_next_type = True
                self.format(vt, v[key])
            self.out.append("]")
        elif k == "struct":
            self.out.append("{")
            for n, (name, ft, _, _) in enumerate(STRUCTS[_underlying(t)]):
                if n:
                    self.out.append(" ")
                self.out.append(name + ":")
                self.format(ft, v[name])
            self.out.append("}")
        else:
            raise AssertionError(k)

    def format_ptr(self, t: str, v: Any) -> None:
        # showTypes is always true under %#v
        if v is None and self.ignore_next_type:
            self.out.append("<nil>")
            return
        if not self.ignore_next_type:
            # nil: "(" + "*T" + ")"; non-nil: "(" + "*" + "T" + ")" -- the same text
            self.out.append(f"({t})")
        else:
            self.out.append("<*>")
        if v is None:
            self.out.append("<nil>")
        else:
            self.ignore_next_type = True
            self.format(_elem(t), v)


def spew_template(template: dict[str, Any]) -> str:
    """The text DeepHashObject feeds FNV for this PodTemplateSpec (for debugging and tests)."""
    value = _decode("v1.PodTemplateSpec", template, "template", "controller")
    printer = _Spew()
    printer.format("v1.PodTemplateSpec", value)
    return "".join(printer.out)


# --------------------------------------------------------------------------------------------
# Hashes
# --------------------------------------------------------------------------------------------

_FNV_OFFSET, _FNV_PRIME, _U32 = 0x811C9DC5, 0x01000193, 0xFFFFFFFF
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def _fnv32a(data: bytes, h: int = _FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _U32
    return h


def _fnv32(data: bytes, h: int = _FNV_OFFSET) -> int:
    for b in data:
        h = ((h * _FNV_PRIME) & _U32) ^ b
    return h


def safe_encode_string(s: str) -> str:
    """rand.SafeEncodeString: each rune mapped onto the bad-word-free alphabet."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in s)


def compute_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """controller.ComputeHash(&template, collisionCount) of a defaulted pod template (JSON form)."""
    h = _fnv32a(spew_template(template).encode("utf-8"))
    if collision_count is not None:
        # PutUint32 into an 8-byte slice: 4 little-endian bytes, then 4 zero bytes
        h = _fnv32a(struct.pack("<I", collision_count & _U32) + b"\0\0\0\0", h)
    return safe_encode_string(str(h))


def hash_controller_revision(raw: bytes, collision_count: int | None = None) -> str:
    """history.HashControllerRevision over a revision's Data.Raw, probe appended as decimal."""
    h = _fnv32(raw)
    if collision_count is not None:
        h = _fnv32(str(collision_count).encode("ascii"), h)
    return safe_encode_string(str(h))


def controller_revision_name(prefix: str, hash_: str) -> str:
    """history.ControllerRevisionName: prefix cut to 223 bytes, then "-<hash>"."""
    raw = prefix.encode("utf-8")
    if len(raw) > 223:
        prefix = raw[:223].decode("utf-8", "replace")
    return f"{prefix}-{hash_}"


# --------------------------------------------------------------------------------------------
# Go value -> JSON as encoding/json marshals the typed struct, and Go's json.Marshal of the
# generic map getPatch builds.
# --------------------------------------------------------------------------------------------

def _encode(t: str, v: Any) -> Any:
    if t == "resource.Quantity":
        return v.string()
    if t == "intstr.IntOrString":
        return v["IntVal"] if v["Type"] == 0 else v["StrVal"]
    if t == "v1.Time":
        return None  # only the zero time is accepted; it marshals as null
    k = _kind(t)
    if k == "ptr":
        return None if v is None else _encode(_elem(t), v)
    if k == "slice":
        return None if v is None else [_encode(_elem(t), x) for x in v]
    if k == "map":
        return None if v is None else {key: _encode(_map_types(t)[1], val) for key, val in v.items()}
    if k == "struct":
        out: dict[str, Any] = {}
        for name, ft, jname, opts in STRUCTS[t]:
            if "i" in opts:
                out.update(_encode(ft, v[name]))
            elif not ("o" in opts and _is_empty(ft, v[name])):
                out[jname] = _encode(ft, v[name])
        return out
    return v


def _is_empty(t: str, v: Any) -> bool:
    """encoding/json isEmptyValue; structs (Quantity, Time, IntOrString too) are never empty."""
    k = _kind(t)
    if k == "struct":
        return False
    if k == "ptr":
        return v is None
    if k in ("slice", "map"):
        return v is None or len(v) == 0
    return not v


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                 "\t": "\\t", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_json_string(s: str) -> str:
    # Go 1.22+ appendString with escapeHTML: \b and \f short forms, other controls as \u00XX
    out = ['"']
    for c in s:
        if c in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[c])
        elif c < " ":
            out.append(f"\\u00{ord(c):02x}")
        elif "\ud800" <= c <= "\udfff":
            out.append("\\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _go_json_float(f: float) -> str:
    """encoding/json floatEncoder for float64."""
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        r = repr(f)  # shortest round-trip digits in %e form, like strconv 'e' with -1
        mant, _, exp = r.partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    text = format(Decimal(repr(f)), "f")
    return text[:-2] if text.endswith(".0") else text


def _go_marshal(v: Any, floats: bool) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return _go_json_float(float(v)) if floats else str(v)
    if isinstance(v, float):
        return _go_json_float(v)
    if isinstance(v, str):
        return _go_json_string(v)
    if isinstance(v, list):
        return "[" + ",".join(_go_marshal(x, floats) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda key: key.encode("utf-8"))  # Go sorts map keys by bytes
        return "{" + ",".join(f"{_go_json_string(key)}:{_go_marshal(v[key], floats)}" for key in keys) + "}"
    raise TypeError(type(v))


def _template_patch(obj: dict[str, Any], kind: str, floats: bool) -> bytes:
    try:
        template = obj["spec"]["template"]
    except (KeyError, TypeError):
        raise ValueError(f"{kind} has no spec.template") from None
    value = _decode("v1.PodTemplateSpec", template, f"{kind}.spec.template", "controller")
    encoded = _encode("v1.PodTemplateSpec", value)
    encoded["$patch"] = "replace"
    return _go_marshal({"spec": {"template": encoded}}, floats).encode("utf-8")


def statefulset_patch(sts: dict[str, Any]) -> bytes:
    """StatefulSet controller getPatch (encoding/json round trip: numbers pass through float64)."""
    return _template_patch(sts, "statefulset", floats=True)


def daemonset_patch(ds: dict[str, Any]) -> bytes:
    """DaemonSet controller getPatch (util/json round trip: integers stay int64)."""
    return _template_patch(ds, "daemonset", floats=False)


# --------------------------------------------------------------------------------------------
# Defaulting of a pod template (what the API server stores for a DaemonSet, Deployment,
# StatefulSet, ReplicaSet, PodTemplate): SetDefaults_PodSpec, _Volume (+ HostPath, Secret,
# ConfigMap, DownwardAPI, Projected, ServiceAccountTokenProjection, ObjectFieldSelector),
# _Container, the declarative ContainerPort.Protocol="TCP" and GRPCAction.Service="",
# _Probe, _HTTPGetAction, _ResourceList (round up to milli).  Not applied: SetDefaults_Pod
# (enableServiceLinks, requests from limits, hostNetwork host ports) -- Pods only.
# --------------------------------------------------------------------------------------------

_REF_NAME = re.compile(
    r"(?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*"
    r"[a-zA-Z0-9]))*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*")
_REF = re.compile(r"(" + _REF_NAME.pattern + r")(?::([\w][\w.-]{0,127}))?"
                  r"(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?", re.ASCII)
_DIGEST_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}


def _image_tag(image: str) -> str | None:
    """parsers.ParseImageName's tag ("latest" when neither tag nor digest), None on error."""
    if re.fullmatch(r"[a-f0-9]{64}", image):
        return None
    slash = image.find("/")
    first = image[:slash]
    if slash == -1 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, rest = "docker.io", image
    else:
        domain, rest = first, image[slash + 1:]
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in rest:
        rest = "library/" + rest
    remote = rest.split(":", 1)[0]
    if remote.lower() != remote:
        return None
    m = _REF.fullmatch(f"{domain}/{rest}")
    if not m or len(m.group(1)) > 255:
        return None
    tag, digest = m.group(2) or "", m.group(3) or ""
    if digest:
        algo, _, hexpart = digest.partition(":")
        if _DIGEST_LEN.get(algo) != len(hexpart) or not re.fullmatch(r"[a-f0-9]+", hexpart):
            return None
    return "latest" if not tag and not digest else tag


def _default_resource_list(rl: dict[str, _Quantity] | None) -> None:
    for q in (rl or {}).values():
        q.round_up(-3)


def _default_http_get(h: dict[str, Any] | None) -> None:
    if h is not None:
        h["Path"] = h["Path"] or "/"
        h["Scheme"] = h["Scheme"] or "HTTP"


def _default_field_ref(ref: dict[str, Any] | None) -> None:
    if ref is not None:
        ref["APIVersion"] = ref["APIVersion"] or "v1"


def _default_container(c: dict[str, Any]) -> None:
    if not c["ImagePullPolicy"]:
        c["ImagePullPolicy"] = "Always" if _image_tag(c["Image"]) == "latest" else "IfNotPresent"
    c["TerminationMessagePath"] = c["TerminationMessagePath"] or "/dev/termination-log"
    c["TerminationMessagePolicy"] = c["TerminationMessagePolicy"] or "File"
    for port in c["Ports"] or ():
        port["Protocol"] = port["Protocol"] or "TCP"
    for env in c["Env"] or ():
        if env["ValueFrom"] is not None:
            _default_field_ref(env["ValueFrom"]["FieldRef"])
    _default_resource_list(c["Resources"]["Limits"])
    _default_resource_list(c["Resources"]["Requests"])
    for probe in (c["LivenessProbe"], c["ReadinessProbe"], c["StartupProbe"]):
        if probe is None:
            continue
        for name, default in (("TimeoutSeconds", 1), ("PeriodSeconds", 10),
                              ("SuccessThreshold", 1), ("FailureThreshold", 3)):
            probe[name] = probe[name] or default
        handler = probe["ProbeHandler"]
        _default_http_get(handler["HTTPGet"])
        if handler["GRPC"] is not None and handler["GRPC"]["Service"] is None:
            handler["GRPC"]["Service"] = ""
    if c["Lifecycle"] is not None:
        for hook in (c["Lifecycle"]["PostStart"], c["Lifecycle"]["PreStop"]):
            if hook is not None:
                _default_http_get(hook["HTTPGet"])


def _default_volume(vol: dict[str, Any]) -> None:
    src = vol["VolumeSource"]
    if all(value is None for value in src.values()):
        src["EmptyDir"] = _zero("v1.EmptyDirVolumeSource")
    if src["HostPath"] is not None and src["HostPath"]["Type"] is None:
        src["HostPath"]["Type"] = ""  # HostPathUnset
    for name in ("Secret", "ConfigMap", "DownwardAPI", "Projected"):
        if src[name] is not None and src[name]["DefaultMode"] is None:
            src[name]["DefaultMode"] = 0o644
    for item in (src["DownwardAPI"] or {}).get("Items") or ():
        _default_field_ref(item["FieldRef"])
    for proj in (src["Projected"] or {}).get("Sources") or ():
        for item in (proj["DownwardAPI"] or {}).get("Items") or ():
            _default_field_ref(item["FieldRef"])
        token = proj["ServiceAccountToken"]
        if token is not None and token["ExpirationSeconds"] is None:
            token["ExpirationSeconds"] = 3600


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec["DNSPolicy"] = spec["DNSPolicy"] or "ClusterFirst"
    spec["RestartPolicy"] = spec["RestartPolicy"] or "Always"
    if spec["SecurityContext"] is None:
        spec["SecurityContext"] = _zero("v1.PodSecurityContext")
    if spec["TerminationGracePeriodSeconds"] is None:
        spec["TerminationGracePeriodSeconds"] = 30
    spec["SchedulerName"] = spec["SchedulerName"] or "default-scheduler"
    for vol in spec["Volumes"] or ():
        _default_volume(vol)
    containers: Iterable[dict[str, Any]] = [
        *(spec["InitContainers"] or ()), *(spec["Containers"] or ()),
        *(e["EphemeralContainerCommon"] for e in spec["EphemeralContainers"] or ()),
    ]
    for c in containers:
        _default_container(c)
    _default_resource_list(spec["Overhead"])
    if spec["Resources"] is not None:
        _default_resource_list(spec["Resources"]["Limits"])
        _default_resource_list(spec["Resources"]["Requests"])


def canonical_quantity(value: str | int | float) -> str:
    """A resource quantity as the server returns it (``2048Mi`` -> ``2Gi``, ``0.5Gi`` -> ``512Mi``)."""
    return _Quantity.parse(str(value)).string()


def default_pod_template(template: dict[str, Any]) -> dict[str, Any]:
    """The pod template as the v1.32 API server stores and returns it after defaulting.

    Fields a feature gate disables are not dropped here (the server's dropDisabledFields is
    separate from defaulting).
    """
    value = _decode("v1.PodTemplateSpec", template, "template", "server")
    _default_pod_spec(value["Spec"])
    return _encode("v1.PodTemplateSpec", value)


def _self_check() -> None:
    """Every type the table names resolves, or is a declared nil-only pointer target."""
    pending = [ft for fields in STRUCTS.values() for _, ft, _, _ in fields]
    while pending:
        t = pending.pop()
        k = _kind(t)  # raises on a typo
        if k == "ptr" and _elem(t) not in NIL_ONLY:
            pending.append(_elem(t))
        elif k == "slice":
            pending.append(_elem(t))
        elif k == "map":
            pending.extend(_map_types(t))


_self_check()

if __name__ == "__main__":  # pragma: no cover - manual inspection aid
    import sys

    doc = json.load(sys.stdin)
    print(spew_template(doc))
    print(compute_hash(doc))
