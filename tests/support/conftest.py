"""The doubles' own tests: each held to the real thing it stands for (recorded answers, real binaries)."""

from tests.support.markers import mark_folder

pytest_collection_modifyitems = mark_folder("support")
