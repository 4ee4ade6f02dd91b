"""The README's settings reference and the example inventory stay in step with the code."""

from __future__ import annotations

import subprocess
import sys

from kubelogs.settings_reference import markdown
from tests.support.harness import REPO

BEGIN, END = "<!-- settings-reference:begin -->", "<!-- settings-reference:end -->"


def test_readme_settings_reference_matches_the_model():
    readme = (REPO / "README.md").read_text()
    documented = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert documented == markdown().strip(), "regenerate with: python -m kubelogs.settings_reference"


def test_production_example_inventory_validates():
    # debug-inventory loads the inventory, group data and settings but connects to no host.
    result = subprocess.run([sys.executable, "-m", "pyinfra", "inventories/production/inventory.py", "debug-inventory"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
