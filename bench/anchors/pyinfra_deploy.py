"""Anchor: the node stage's two changes with pyinfra's own operations, without the project.

Run from this directory (so the project's config.py is not loaded), e.g.
ANCHOR_CLUSTER=<kind cluster> pyinfra pyinfra_inventory.py pyinfra_deploy.py -y --data max_map_count=1048576
"""

from pyinfra import host
from pyinfra.operations import files, server

server.sysctl(
    name="vm.max_map_count, live and persisted",
    key="vm.max_map_count",
    value=int(host.data.max_map_count),
    persist=True,
    persist_file="/etc/sysctl.d/90-kubelogs-elasticsearch.conf",
)

if "es_data_nodes" in host.groups:
    files.directory(name="Elasticsearch data directory", path="/es-data", user="1000", group="1000", mode="750")

files.directory(name="Fluent Bit state directory", path="/var/lib/fluent-bit", user="root", group="root", mode="755")
