"""Where the real binaries of the test tier are, and what to do when they are missing.

`.ci/run` unpacks ../shared/tools (when it exists) and exports:
- ``KUBELOGS_K8S_BIN``: a directory with kube-apiserver, kube-controller-manager, kube-scheduler and etcd;
- ``KUBELOGS_FLUENT_BIT_BIN``: a directory with ``fluent-bit-<version>`` binaries;
- ``KUBELOGS_REQUIRE_REAL_TIER=1``: the real tier must run; a missing piece fails the test instead of
  skipping it (a skip there would pass vacuously).
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


def k8s_bin_dir() -> Path:
    """The directory of the control-plane binaries (skips or fails when absent)."""
    value = os.environ.get("KUBELOGS_K8S_BIN")
    if not value:
        unavailable("KUBELOGS_K8S_BIN is not set (a directory with kube-apiserver, kube-controller-manager, "
                    "kube-scheduler and etcd; .ci/run unpacks ../shared/tools/kubernetes there)")
    missing = [b for b in K8S_BINARIES if not os.access(Path(value) / b, os.X_OK)]
    if missing:
        unavailable(f"KUBELOGS_K8S_BIN={value} lacks {', '.join(missing)}")
    return Path(value)


def fluent_bit_binary(version: str) -> Path:
    """The real Fluent Bit binary of ``version`` (skips or fails when absent)."""
    value = os.environ.get("KUBELOGS_FLUENT_BIT_BIN")
    if not value:
        unavailable("KUBELOGS_FLUENT_BIT_BIN is not set (a directory with fluent-bit-<version> binaries; "
                    ".ci/run unpacks ../shared/tools/fluent-bit there)")
    binary = Path(value) / f"fluent-bit-{version}"
    if not os.access(binary, os.X_OK):
        unavailable(f"no Fluent Bit {version} binary at {binary}")
    return binary
