"""The deploy, stage by stage. Run from the repository root: pyinfra <inventory> deploy.py"""

from pyinfra import host, state

from kubelogs.inventory import KUBE_NODES
from kubelogs.preflight import this_run
from tasks.cluster import apply_cluster
from tasks.node import prepare_node
from tasks.verify import verify_logs

# pyinfra runs this file once per host; the run (settings, what the node stage read) is one for all hosts.
run = this_run(state)

# 1. Nodes: kernel settings, hostPath directories, runtime and disk facts.
if KUBE_NODES in host.groups:
    prepare_node(run)

# 2. Cluster: planned and applied from the control host, after every node's node stage.
apply_cluster(run)

# 3. Proof: Elasticsearch health and a canary log line from every node, searchable.
verify_logs(run)
