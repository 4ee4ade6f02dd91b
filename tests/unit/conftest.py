"""Unit tier: no Docker, no API server, no agent binary; the whole folder runs in under a minute."""

from tests.support.markers import mark_folder

pytest_collection_modifyitems = mark_folder("unit")
