"""Reading rendered manifests in tests."""

from __future__ import annotations


def runtimes_of(daemonset):
    """The runtime label values a DaemonSet's required node affinity selects."""
    terms = daemonset["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    [expression] = [e for t in terms for e in t["matchExpressions"] if e["key"] == "kubelogs.io/runtime"]
    assert expression["operator"] == "In"
    return expression["values"]
