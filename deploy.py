"""The deploy, stage by stage. Run from the repository root: pyinfra <inventory> deploy.py"""

from pyinfra import host, state

from kubelogs.inventory import KUBE_NODES
from kubelogs.preflight import run_settings
from tasks.cluster import apply_cluster
from tasks.node import prepare_node
from tasks.verify import verify_logs

settings = run_settings(state)

# 1. Nodes: kernel settings, hostPath directories, runtime and disk facts.
if KUBE_NODES in host.groups:
    prepare_node(settings)

# 2. Cluster: planned and applied from the control host, after every node's node stage.
apply_cluster(settings)

# 3. Proof: Elasticsearch health and a canary log line from every node, searchable.
verify_logs(settings)
