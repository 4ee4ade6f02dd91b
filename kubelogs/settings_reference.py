"""The settings reference, generated from the model: `python -m kubelogs.settings_reference`; the docs site's
settings page (docs/settings.md) is filled in from it when the site is built (docs/hooks/settings_reference.py)."""

from __future__ import annotations

from pydantic import BaseModel

from kubelogs.settings import DATA_KEY, Settings


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{prefix}{name}."))
            continue
        default = "empty" if field.default in (None, (), {}) else f"`{field.default!r}`"
        rows.append(f"| `{prefix}{name}` | {default} | {field.description or ''} |")
    return rows


def markdown() -> str:
    header = ["| setting | default | meaning |", "|---|---|---|"]
    return "\n".join(header + _rows(Settings, f"{DATA_KEY}.")) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
