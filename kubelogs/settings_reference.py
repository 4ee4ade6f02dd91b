"""The settings reference, generated from the model: `python -m kubelogs.settings_reference`; the docs site's
settings page (docs/settings.md) is filled in from it when the site is built (docs/hooks/settings_reference.py)."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from kubelogs.settings import DATA_KEY, Settings


def _rows(model: type[BaseModel], prefix: str, section: str = "") -> list[str]:
    """One row per leaf setting; an optional section (empty by default) says so on its first row."""
    rows = []
    for name, field in model.model_fields.items():
        nested = [t for t in (field.annotation, *typing.get_args(field.annotation))
                  if isinstance(t, type) and issubclass(t, BaseModel)]
        if nested:
            optional = field.default is None and field.description
            rows.extend(_rows(nested[0], f"{prefix}{name}.", f"**`{prefix}{name}`**: {field.description} " if optional else ""))
            continue
        default = ("required in the section" if field.default is PydanticUndefined
                   else "empty" if field.default in (None, (), {}) else f"`{field.default!r}`")
        rows.append(f"| `{prefix}{name}` | {default} | {section if not rows else ''}{field.description or ''} |")
    return rows


def markdown() -> str:
    header = ["| setting | default | meaning |", "|---|---|---|"]
    return "\n".join(header + _rows(Settings, f"{DATA_KEY}.")) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
