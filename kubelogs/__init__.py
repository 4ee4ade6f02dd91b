"""kubelogs: prepare Kubernetes nodes, deploy Elasticsearch and a node log agent, prove logs arrive."""
