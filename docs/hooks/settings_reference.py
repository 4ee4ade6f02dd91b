"""MkDocs hook: the settings page's reference table, generated from the settings model when the site is built.

`docs/settings.md` holds the prose and a marker line; the marker is replaced by
`kubelogs.settings_reference.markdown()`, so the model is the one source of the reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

MARKER = "<!-- settings-reference -->"
PAGE = "settings.md"
REPO = Path(__file__).resolve().parents[2]


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/{PAGE} lost its marker line {MARKER}")
    if str(REPO) not in sys.path:  # `mkdocs` run as a script puts its own folder first, not the checkout
        sys.path.insert(0, str(REPO))
    from kubelogs.settings_reference import markdown as reference

    return markdown.replace(MARKER, reference())
