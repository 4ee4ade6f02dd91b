"""Unit tier: no Docker, no API server, no agent binary; the whole folder runs in under a minute."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/unit/" in str(item.path):
            item.add_marker(pytest.mark.unit)
