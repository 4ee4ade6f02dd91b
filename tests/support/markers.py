"""Each tier's folder marks its tests (``pytest -m cluster``): its conftest.py says which marker."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def mark_folder(folder: str) -> Callable[[list[pytest.Item]], None]:
    """A ``pytest_collection_modifyitems`` hook marking the tests under tests/<folder>/ with <folder>.
    (pytest calls every conftest's hook with all items, so the hook picks its own by path.)"""
    marker = getattr(pytest.mark, folder)

    def hook(items: list[pytest.Item]) -> None:
        for item in items:
            if f"/tests/{folder}/" in str(item.path):
                item.add_marker(marker)
    return hook
