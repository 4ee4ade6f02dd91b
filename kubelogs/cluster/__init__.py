"""Cluster stage: apply the rendered objects through the Kubernetes API, prune, wait for rollouts."""
