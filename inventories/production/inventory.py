"""Example inventory of a real cluster reached over SSH. Copy it and put your own node names in.

Run from the repository root:  pyinfra inventories/production/inventory.py deploy.py
Group data (SSH user, sudo, the kubelogs settings) sits in group_data/ beside this file.
"""

control_plane = ["cp-1.example.internal"]
workers = [
    ("node-1.example.internal", {"kube_node_name": "node-1"}),
    ("node-2.example.internal", {"kube_node_name": "node-2"}),
    ("node-3.example.internal", {"kube_node_name": "node-3"}),
]

# Every node the node stage prepares (vm.max_map_count, agent state directories).
kube_nodes = control_plane + workers
# Nodes that may hold an Elasticsearch hostPath data directory (one pod each).
es_data_nodes = workers
# The machine that talks to the Kubernetes API for the cluster stage.
control_host = ["@local"]
