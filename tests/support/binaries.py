"""Where the real binaries of the cluster tier are, and what to do when they are missing.

None of them can be had on the machines this project is developed on; where official release binaries
exist (the GitHub workflow's ``control-plane`` job, a developer's machine) these variables point at them:
- ``KUBELOGS_K8S_BIN``: a directory with kube-apiserver, kube-controller-manager, kube-scheduler and etcd.
  Set: the cluster tests run on that real control plane. Unset: on the API-server double
  (tests/support/kube_double), held to ../shared/kube-contract.
- ``KUBELOGS_FLUENT_BIT_BIN``: a directory with ``fluent-bit-<version>`` binaries. Set: Fluent Bit pods run
  the real binary, and the tests of Fluent Bit's own behaviour (marker ``fluent_bit``) run. Unset: the test
  kubelet plays Fluent Bit by its configuration, and those tests skip.
- ``KUBELOGS_REQUIRE_REAL_TIER=1``: what the variables name must be there; a missing piece fails the test
  instead of skipping it (a skip there would pass vacuously).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail where the real tier is required."""
    if os.environ.get("KUBELOGS_REQUIRE_REAL_TIER") == "1":
        pytest.fail(f"the real test tier is required here (KUBELOGS_REQUIRE_REAL_TIER=1) but {reason}", pytrace=False)
    pytest.skip(reason)


def k8s_backend() -> str:
    """"real" where a control plane's binaries are given, else "double"."""
    return "real" if os.environ.get("KUBELOGS_K8S_BIN") else "double"


def fluent_bit_binary_if_any(version: str) -> Path | None:
    """The real Fluent Bit binary of ``version`` when one is given, else None (the test kubelet plays it)."""
    value = os.environ.get("KUBELOGS_FLUENT_BIT_BIN")
    binary = Path(value) / f"fluent-bit-{version}" if value else None
    return binary if binary is not None and os.access(binary, os.X_OK) else None


def k8s_bin_dir() -> Path:
    """The directory of the control-plane binaries (skips or fails when absent)."""
    value = os.environ.get("KUBELOGS_K8S_BIN")
    if not value:
        unavailable("KUBELOGS_K8S_BIN is not set (a directory with kube-apiserver, kube-controller-manager, "
                    "kube-scheduler and etcd from a Kubernetes release)")
    missing = [b for b in K8S_BINARIES if not os.access(Path(value) / b, os.X_OK)]
    if missing:
        unavailable(f"KUBELOGS_K8S_BIN={value} lacks {', '.join(missing)}")
    return Path(value)


def fluent_bit_binary(version: str) -> Path:
    """The real Fluent Bit binary of ``version`` (skips or fails when absent)."""
    value = os.environ.get("KUBELOGS_FLUENT_BIT_BIN")
    if not value:
        unavailable(f"this test runs the real Fluent Bit {version}, and KUBELOGS_FLUENT_BIT_BIN is not set (a "
                    "directory with fluent-bit-<version> binaries; none can be had on this machine)")
    binary = Path(value) / f"fluent-bit-{version}"
    if not os.access(binary, os.X_OK):
        unavailable(f"no Fluent Bit {version} binary at {binary}")
    return binary
