"""Verify stage: Elasticsearch health, an agent on every node that needs one, and a canary line per node
found in Elasticsearch. Runs last in every deploy, or alone with verify.py."""
