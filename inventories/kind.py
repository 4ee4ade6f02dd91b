"""Inventory of a local kind cluster: its node containers (found by Docker labels) and this machine.

Cluster name: $KIND_CLUSTER_NAME, else "kind". Settings: a group_data/all.py beside this file or
passed with --group-data (the key ``kubelogs``); the defaults need no file.
"""

import os

from kubelogs.inventory.kind import DEFAULT_CLUSTER, discover

_nodes = discover(os.environ.get("KIND_CLUSTER_NAME", DEFAULT_CLUSTER))
_hosts = {name: (f"@docker/{name}", {"kube_node_name": name}) for name in _nodes.all}

control_plane = [_hosts[name] for name in _nodes.control_plane]
workers = [_hosts[name] for name in _nodes.workers]
kube_nodes = [_hosts[name] for name in _nodes.all]
es_data_nodes = [_hosts[name] for name in _nodes.data_nodes]
control_host = ["@local"]
