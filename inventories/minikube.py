"""Inventory of a local minikube cluster on the Docker driver: its node containers (found by the labels
minikube gives them) and this machine. With `--container-runtime=docker` its nodes run Docker, where
log-pilot can run (docs/agents.md: the log-pilot recipe).

Profile: $MINIKUBE_PROFILE, else "minikube". Settings: a group_data/all.py beside this file or passed with
--group-data / --data (the key ``kubelogs``); the defaults need no file.
"""

import os

from kubelogs.inventory.minikube import DEFAULT_PROFILE, discover

_nodes = discover(os.environ.get("MINIKUBE_PROFILE", DEFAULT_PROFILE))
# minikube names each Kubernetes node as its container.
_hosts = {name: (f"@docker/{name}", {"kube_node_name": name}) for name in _nodes.all}

control_plane = [_hosts[name] for name in _nodes.control_plane]
workers = [_hosts[name] for name in _nodes.workers]
kube_nodes = [_hosts[name] for name in _nodes.all]
es_data_nodes = [_hosts[name] for name in _nodes.all]  # minikube does not taint its first node
control_host = ["@local"]
