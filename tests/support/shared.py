"""Where the project's shared reference data is: ``../shared`` beside the checkout (as on the project's
machines and in its CI), or ``$KUBELOGS_SHARED``. It holds what the doubles are held to: a real API
server's recorded answers (kube-contract/) and the real Fluent Bit configuration schemas (data/fluent-bit/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_root() -> Path:
    return Path(os.environ.get("KUBELOGS_SHARED") or REPO.parent / "shared")


def shared(*parts: str) -> Path:
    """A path in the shared data; the test skips, naming what is missing, when it is not there."""
    path = shared_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} does not exist: the shared reference data is beside the checkout on the project's "
                    "machines (../shared); elsewhere set KUBELOGS_SHARED to a copy of it")
    return path
