"""Cluster tier: an API server (the double, or a real control plane with KUBELOGS_K8S_BIN), the test
kubelet playing nodes and pods, and for some tests the node containers too."""

from tests.support.markers import mark_folder

pytest_collection_modifyitems = mark_folder("cluster")
