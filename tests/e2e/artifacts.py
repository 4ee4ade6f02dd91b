"""What the end-to-end tests keep for people to read: each run's verify table and output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ARTIFACTS = Path(os.environ.get("KUBELOGS_E2E_ARTIFACTS", tempfile.gettempdir())) / "kubelogs-e2e"


def verify_table(run) -> str:
    lines = run.stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if "Elasticsearch:" in line), len(lines))
    return "\n".join(line.split("]", 1)[-1].strip() for line in lines[start:] if "[@local]" in line)


def save(name: str, run) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}-verify-table.txt").write_text(verify_table(run))
    (ARTIFACTS / f"{name}-stderr.txt").write_text(run.stderr)
