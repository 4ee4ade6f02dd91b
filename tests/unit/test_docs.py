"""The docs stay in step with the code: a short README, a site that builds under --strict with every page in
its navigation, a settings page that lists every setting of the model, and the example inventory."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from kubelogs.settings import DATA_KEY, Settings
from tests.support.harness import REPO

README_LIMIT = 8192  # bytes: what it does, status, run it, test it, read on; the rest is in docs/


def test_readme_is_at_most_8_kb():
    size = len((REPO / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes (at most {README_LIMIT}): move detail into docs/"


def leaf_settings(model: type[BaseModel], prefix: str) -> set[str]:
    """Every leaf setting of ``model``, walked from the model itself (not from the reference's rendering)."""
    names = set()
    for name, field in model.model_fields.items():
        nested = [t for t in (field.annotation, *typing.get_args(field.annotation))
                  if isinstance(t, type) and issubclass(t, BaseModel)]
        if nested:
            names |= leaf_settings(nested[0], f"{prefix}{name}.")
        else:
            names.add(f"{prefix}{name}")
    return names


class _FirstColumns(HTMLParser):
    """The first cell of every row of every table, per table: [[header, cell, cell, ...], ...]."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[str]] = []
        self._cell: list[str] | None = None
        self._first_in_row = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._first_in_row = True
        elif tag in ("td", "th"):
            self._cell = [] if self._first_in_row else None
            self._first_in_row = False

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + result.stdout + result.stderr
    return out


def test_built_settings_page_lists_every_setting_of_the_model(site):
    parser = _FirstColumns()
    parser.feed((site / "settings" / "index.html").read_text())
    reference = [rows for rows in parser.tables if rows and rows[0] == "setting"]
    assert len(reference) == 1, "the settings page has one reference table (its marker: <!-- settings-reference -->)"
    documented = reference[0][1:]
    assert len(documented) == len(set(documented)), "a setting is listed twice"
    expected = leaf_settings(Settings, f"{DATA_KEY}.")
    assert set(documented) == expected, (f"missing: {sorted(expected - set(documented))}, "
                                         f"not in the model: {sorted(set(documented) - expected)}")


def _nav_pages(entries) -> set[str]:
    pages = set()
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages |= _nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_every_docs_page_is_in_the_nav():
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    docs = REPO / config.get("docs_dir", "docs")
    pages = {path.relative_to(docs).as_posix() for path in docs.rglob("*.md")}
    in_nav = _nav_pages(config["nav"])
    assert pages - in_nav == set(), f"add these pages to the nav in mkdocs.yml: {sorted(pages - in_nav)}"
    assert in_nav - pages == set(), f"the nav in mkdocs.yml names pages that do not exist: {sorted(in_nav - pages)}"


def test_production_example_inventory_validates():
    # debug-inventory loads the inventory, group data and settings but connects to no host.
    result = subprocess.run([sys.executable, "-m", "pyinfra", "inventories/production/inventory.py", "debug-inventory"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("page", "tag", "module"), [("stages.md", "phases", "kubelogs.cluster.phases"),
                                                     ("day-2.md", "safety-checks", "kubelogs.cluster.safety"),
                                                     ("security.md", "privileges", "kubelogs.manifests.privileges")])
def test_generated_tables_match_the_code(page, tag, module):
    """The phase, safety-check and privilege tables are the code's own lists (phases.ORDER, safety.CHECKS,
    privileges.KEPT)."""
    text = (REPO / "docs" / page).read_text()
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    documented = text.split(begin, 1)[1].split(end, 1)[0].strip()
    generated = __import__(module, fromlist=["markdown"]).markdown().strip()
    assert documented == generated, f"paste the output of `python -m {module}` between the {tag} markers of docs/{page}"
