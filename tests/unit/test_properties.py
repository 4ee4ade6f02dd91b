"""Property: any settings dict gives either objects that pass every check, or a clear SettingsError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelogs import compatibility as compat
from kubelogs.manifests import GeneratedSecrets, render_all
from kubelogs.manifests.checks import schema_problems, semantic_problems
from kubelogs.settings import SettingsError, validate_settings

SECRETS = GeneratedSecrets(password="generated", ca_crt="ca", tls_crt="crt", tls_key="key")
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**33), st.floats(allow_nan=True),
                 st.text(max_size=10), st.lists(st.integers(), max_size=2))


def field(*candidates):
    """Mostly the listed candidates (good values and near misses), sometimes junk of any type."""
    listed = st.sampled_from(candidates)
    return st.one_of(listed, listed, listed, listed, listed, listed, JUNK)


SECTIONS = {
    "elasticsearch": {
        "version": field("5.6.16", "6.8.23", "7.17.25", "8.15.3", "8.16.1", "9.0.0", "6.8"),
        "image": field("docker.elastic.co/elasticsearch/elasticsearch:7.17.25", "es:latest"),
        "replicas": field(1, 2, 3, 5, 0, 51),
        "heap": field("256m", "512m", "1g", "4g", "512"),
        "memory": field("1Gi", "2Gi", "512Mi", "8G", "1 Gi"),
        "cpu": field("1", "500m", "0"),
        "storage": field("hostPath", "pvc", "nfs"),
        "data_path": field("/es-data", "/data/es", "es-data", "/etc", "/data/../etc"),
        "data_mode": field("0750", "0700", "0644", "750"),
        "pvc_size": field("10Gi", "1Ti", "0"),
        "storage_class": field("standard", "Fast SSD"),
        "security": field(True, False, "yes"),
        "cluster_name": field("logs", "Logs!"),
    },
    "nodes": {
        "max_map_count": field(262144, 1048576, 65530),
        "low_disk": field("warn", "fail", "ignore"),
        "flood_stage_percent": field(90, 95, 100),
    },
    "agents": {
        "collector": field(*compat.COLLECTOR_CHOICES, "fluentd"),
        "log_pilot_image": field(compat.AGENTS["log-pilot"].image, "log-pilot"),
        "fluent_bit_image": field(compat.AGENTS["fluent-bit"].image),
    },
    "kubernetes": {"rollout_timeout": field(60, 600, 0), "context": field("kind-kind")},
    "verify": {"timeout": field(30, 300, 5), "image": field("curlimages/curl:8.11.1")},
}


def section(fields):
    typo = st.dictionaries(st.sampled_from(["typo", "replica", "verison"]), JUNK, min_size=1, max_size=1)
    extra = st.one_of(st.just({}), st.just({}), st.just({}), st.just({}), st.just({}), typo)
    return extra.flatmap(lambda e: st.fixed_dictionaries({}, optional=fields).map(lambda d: {**d, **e}))


SETTINGS_DICT = st.fixed_dictionaries({}, optional={
    "namespace": field("logging", "Logging", "kube-system"),
    **{name: st.one_of(*[section(fields)] * 9, JUNK) for name, fields in SECTIONS.items()},
})
RAW = st.one_of(*[SETTINGS_DICT] * 9, JUNK)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RAW)
def test_settings_give_valid_objects_or_a_clear_error(raw):
    try:
        valid = validate_settings(raw)
    except SettingsError as e:
        assert e.problems and all(p.message for p in e.problems)
        assert str(e).startswith("invalid settings (") and "nothing was changed" in str(e)
        return
    objects = render_all(valid, SECRETS)
    assert semantic_problems(objects) == []
    assert schema_problems(objects, versions=(compat.KUBERNETES_VERSIONS[-1],)) == []
