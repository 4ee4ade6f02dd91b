"""checkov (the manifest scanner a new user runs on what we render) in its own virtual environment: its
dependencies pin versions that requirements.txt pins differently, so it cannot share .venv.

Made once under ``${XDG_CACHE_HOME:-~/.cache}/kubelogs-checkov/<version>`` (pip from PyPI), again when the
pin or the Python that made it changes. tests/unit/test_checkov.py runs it.

    python -m tests.support.checkov ensure   # make it if missing (CI runs it before pytest)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

VERSION = "3.3.30"  # the newest checkov 3.3 on PyPI when this was written
MARKER = "kubelogs-pin.json"  # written last: a venv without it is unfinished
INSTALL_TIMEOUT = 900.0
SCAN_TIMEOUT = 300.0


def venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kubelogs-checkov" / VERSION


def _pin() -> dict:
    # Not the interpreter's path: every checkout's .venv makes the same environment.
    return {"checkov": VERSION, "python": sys.version.split()[0]}


def binary() -> Path | None:
    """checkov's command, if its environment is made for this pin and this Python."""
    marker = venv() / MARKER
    try:
        made = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    command = venv() / "bin" / "checkov"
    return command if made == _pin() and command.exists() else None


def ensure() -> Path:
    """Make the environment if it is missing or stale; checkov's command."""
    command = binary()
    if command:
        return command
    target = venv()
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=INSTALL_TIMEOUT)
    subprocess.run([str(target / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"checkov=={VERSION}"],
                   check=True, timeout=INSTALL_TIMEOUT)
    (target / MARKER).write_text(json.dumps(_pin()))
    return target / "bin" / "checkov"


def scan(command: Path, objects: list[dict]) -> dict:
    """checkov's kubernetes checks (its defaults) on these objects: its JSON ``results``."""
    with tempfile.TemporaryDirectory(prefix="kubelogs-checkov-") as tmp:
        path = Path(tmp, "objects.yaml")
        path.write_text(yaml.safe_dump_all(objects))
        result = subprocess.run([str(command), "-f", str(path), "--framework", "kubernetes", "--compact", "-o", "json",
                                 "--skip-download"], capture_output=True, text=True, timeout=SCAN_TIMEOUT)
    if not result.stdout.strip().startswith(("{", "[")):
        raise RuntimeError(f"checkov failed (exit {result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    return (report[0] if isinstance(report, list) else report)["results"]


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        sys.exit("usage: python -m tests.support.checkov ensure")
    print(ensure())
