"""Node tier: real Debian hosts (Docker containers labelled as kind labels its nodes), no API server."""

from tests.support.markers import mark_folder

pytest_collection_modifyitems = mark_folder("nodes")
