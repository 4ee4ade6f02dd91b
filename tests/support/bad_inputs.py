"""Bad settings and what the error must name: (raw settings, the field, words of the message). The unit
tests validate each; tests/cluster/test_bad_input_runs.py runs each through the real command."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"  # kubeconfigs a run must refuse

# (settings, field named in the message, words the message must contain)
BAD_INPUTS = [
    ("not a dict", "kubelogs =", "must be a dict of settings"),
    ({"elasticsaerch": {}}, "kubelogs.elasticsaerch", "did you mean 'elasticsearch'"),
    ({"elasticsearch": {"verison": "6.8.23"}}, "kubelogs.elasticsearch.verison", "did you mean 'version'"),
    ({"nodes": {"max_map_cnt": 262144}}, "kubelogs.nodes.max_map_cnt", "did you mean 'max_map_count'"),
    ({"namespace": "Logging"}, "kubelogs.namespace", "DNS-1123 label"),
    ({"namespace": "-logging"}, "kubelogs.namespace", "DNS-1123 label"),
    ({"namespace": 7}, "kubelogs.namespace", "must be a string"),
    ({"elasticsearch": {"version": "6.8"}}, "kubelogs.elasticsearch.version", "full Elasticsearch version"),
    ({"elasticsearch": {"version": "10.0.0"}}, "kubelogs.elasticsearch.version", "major version 10 is not supported"),
    ({"elasticsearch": {"version": "2.4.6"}}, "kubelogs.elasticsearch.version", "supported: 5.x, 6.x, 7.x, 8.x"),
    ({"elasticsearch": {"replicas": 0}}, "kubelogs.elasticsearch.replicas", "greater than or equal to 1"),
    ({"elasticsearch": {"replicas": "3"}}, "kubelogs.elasticsearch.replicas", "must be a whole number, not str"),
    ({"elasticsearch": {"replicas": 2.5}}, "kubelogs.elasticsearch.replicas", "must be a whole number"),
    ({"elasticsearch": {"heap": "1024"}}, "kubelogs.elasticsearch.heap", "JVM heap size"),
    ({"elasticsearch": {"heap": "1Gi"}}, "kubelogs.elasticsearch.heap", "such as 512m or 2g"),
    ({"elasticsearch": {"heap": "1g"}}, "kubelogs.elasticsearch.heap", "at most half of elasticsearch.memory ('1Gi'), i.e. at most 512m"),
    ({"elasticsearch": {"memory": "lots"}}, "kubelogs.elasticsearch.memory", "memory quantity"),
    ({"elasticsearch": {"memory": "0Gi"}}, "kubelogs.elasticsearch.memory", "memory quantity"),
    ({"elasticsearch": {"cpu": "fast"}}, "kubelogs.elasticsearch.cpu", "CPU quantity"),
    ({"elasticsearch": {"storage": "nfs"}}, "kubelogs.elasticsearch.storage", "'hostPath' or 'pvc'"),
    ({"elasticsearch": {"data_path": "es-data"}}, "kubelogs.elasticsearch.data_path", "absolute path"),
    ({"elasticsearch": {"data_path": "/es-data/../etc"}}, "kubelogs.elasticsearch.data_path", "normalised path"),
    ({"elasticsearch": {"data_path": "/"}}, "kubelogs.elasticsearch.data_path", "system directory"),
    ({"elasticsearch": {"data_path": "/var/lib/kubelet/es"}}, "kubelogs.elasticsearch.data_path", "system directory"),
    ({"elasticsearch": {"data_mode": 750}}, "kubelogs.elasticsearch.data_mode", "must be a string"),
    ({"elasticsearch": {"data_mode": "0640"}}, "kubelogs.elasticsearch.data_mode", "owner read, write and search"),
    ({"elasticsearch": {"data_mode": "0999"}}, "kubelogs.elasticsearch.data_mode", "octal mode"),
    ({"elasticsearch": {"image": "elasticsearch"}}, "kubelogs.elasticsearch.image", "pinned by tag or digest"),
    ({"elasticsearch": {"image": "elasticsearch:latest"}}, "kubelogs.elasticsearch.image", "pinned to a version"),
    ({"elasticsearch": {"security": "yes"}}, "kubelogs.elasticsearch.security", "True or False"),
    ({"elasticsearch": {"security": True, "version": "6.7.2"}}, "kubelogs.elasticsearch.security", "no security in its free licence"),
    ({"elasticsearch": {"storage_class": "Fast SSD"}}, "kubelogs.elasticsearch.storage_class", "DNS-1123"),
    ({"nodes": {"max_map_count": 65530}, "elasticsearch": {"version": "6.8.23"}}, "kubelogs.nodes.max_map_count", "needs at least 262144"),
    ({"nodes": {"max_map_count": 262144}, "elasticsearch": {"version": "8.16.1"}}, "kubelogs.nodes.max_map_count", "needs at least 1048576"),
    ({"nodes": {"low_disk": "ignore"}}, "kubelogs.nodes.low_disk", "'warn' or 'fail'"),
    ({"nodes": {"flood_stage_percent": 100}}, "kubelogs.nodes.flood_stage_percent", "less than or equal to 99"),
    ({"nodes": "fast"}, "kubelogs.nodes", "must be a dict of settings (flood_stage_percent, low_disk, max_map_count)"),
    ({"agents": {"collector": "fluentd"}}, "kubelogs.agents.collector", "'auto', 'log-pilot' or 'fluent-bit'"),
    ({"agents": {"collector": "log-pilot"}, "elasticsearch": {"version": "7.17.25"}}, "kubelogs.agents.collector", "log-pilot cannot write to Elasticsearch 7.17.25"),
    ({"agents": {"collector": "fluent-bit"}, "elasticsearch": {"version": "5.6.16"}}, "kubelogs.agents.collector", "fluent-bit cannot write to Elasticsearch 5.6.16"),
    ({"agents": {"fluent_bit_image": "fluent/fluent-bit"}}, "kubelogs.agents.fluent_bit_image", "pinned by tag"),
    ({"kubernetes": {"kubeconfig": "/nonexistent/kubeconfig"}}, "kubelogs.kubernetes.kubeconfig", "existing kubeconfig file"),
    ({"kubernetes": {"kubeconfig": str(DATA / "kubeconfig-malformed.yaml")}}, "kubelogs.kubernetes.kubeconfig", "is not a readable YAML kubeconfig"),
    ({"kubernetes": {"kubeconfig": str(DATA / "kubeconfig-no-clusters.yaml")}}, "kubelogs.kubernetes.kubeconfig", "has no 'clusters' list"),
    ({"kubernetes": {"kubeconfig": str(DATA / "kubeconfig-kind.yaml"), "context": "kind-prod"}}, "kubelogs.kubernetes.context", "is not a context of"),
    ({"kubernetes": {"rollout_timeout": 0}}, "kubelogs.kubernetes.rollout_timeout", "greater than or equal to 1"),
    ({"kubernetes": {"rollout_timeout": "10m"}}, "kubelogs.kubernetes.rollout_timeout", "a whole number"),
    ({"kubernetes": {"contxt": "kind-kind"}}, "kubelogs.kubernetes.contxt", "did you mean 'context'?"),
    ({"verify": {"timeout": 5}}, "kubelogs.verify.timeout", "greater than or equal to 10"),
    ({"verify": {"image": "curlimages/curl"}}, "kubelogs.verify.image", "pinned by tag or digest"),
    ({"verfy": {}}, "kubelogs.verfy", "did you mean 'verify'?"),
]
