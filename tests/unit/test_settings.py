"""The settings model: defaults, rules, and one clear message per bad input."""

from __future__ import annotations


import pytest
from pyinfra.api import Inventory

from kubelogs import compatibility as compat
from kubelogs.inventory import settings_from_inventory
from kubelogs.settings import SettingsError, jvm_size_bytes, quantity_bytes, validate_settings
from tests.support.bad_inputs import BAD_INPUTS


@pytest.mark.parametrize(("raw", "field", "words"), BAD_INPUTS, ids=[f"{i:02}-{b[1]}" for i, b in enumerate(BAD_INPUTS)])
def test_bad_input_gets_one_clear_message(raw, field, words):
    with pytest.raises(SettingsError) as caught:
        validate_settings(raw)
    assert len(caught.value.problems) == 1, str(caught.value)
    message = str(caught.value)
    assert f"  - {field}" in message, message
    assert words in message, message
    assert "Traceback" not in message and "pydantic" not in message.lower()


def test_bad_input_corpus_is_large_and_distinct():
    assert len(BAD_INPUTS) >= 40
    assert len({repr(raw) for raw, _, _ in BAD_INPUTS}) == len(BAD_INPUTS)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        validate_settings({"namespace": "A", "elasticsearch": {"replicas": 0, "heap": "x"}})
    assert [p.field for p in caught.value.problems] == ["namespace", "elasticsearch.replicas", "elasticsearch.heap"]


def test_defaults_are_valid_and_documented():
    s = validate_settings(None)
    assert s.namespace == "logging"
    assert s.elasticsearch.version == "9.5.7"  # the newest 9.x patch when it was set
    assert s.elasticsearch.data_path == "/es-data"
    assert s.elasticsearch.image_ref == "docker.elastic.co/elasticsearch/elasticsearch:9.5.7"
    assert s.elasticsearch.security_enabled is True
    assert s.max_map_count == 1048576
    assert s.agents.fluent_bit_image == "cr.fluentbit.io/fluent/fluent-bit:5.1.1"
    assert s.agents.collector == "auto"


def test_required_max_map_count_follows_the_version():
    assert validate_settings({"elasticsearch": {"version": "8.15.3"}}).max_map_count == 262144
    assert validate_settings({"elasticsearch": {"version": "8.16.0"}}).max_map_count == 1048576
    assert validate_settings({"nodes": {"max_map_count": 2000000}}).max_map_count == 2000000


def test_security_defaults_to_what_the_free_licence_allows():
    assert not validate_settings({"elasticsearch": {"version": "5.6.16"}}).elasticsearch.security_enabled
    assert not validate_settings({"elasticsearch": {"version": "6.7.2"}}).elasticsearch.security_enabled
    assert validate_settings({"elasticsearch": {"version": "7.17.25"}}).elasticsearch.security_enabled
    assert not validate_settings({"elasticsearch": {"security": False}}).elasticsearch.security_enabled


def test_replicas_are_checked_against_data_nodes():
    with pytest.raises(SettingsError, match="only 2 data node"):
        validate_settings({"elasticsearch": {"replicas": 3}}, eligible_data_nodes=2)
    assert validate_settings({"elasticsearch": {"replicas": 3, "storage": "pvc"}}, eligible_data_nodes=2)


def test_sizes_parse_as_kubernetes_and_the_jvm_read_them():
    assert quantity_bytes("1Gi") == 2**30
    assert quantity_bytes("1G") == 10**9
    assert quantity_bytes("1.5Gi") == 3 * 2**29
    assert jvm_size_bytes("512m") == 2**29
    # 512m is exactly half of 1Gi: allowed; 513m is not.
    validate_settings({"elasticsearch": {"heap": "512m", "memory": "1Gi"}})
    with pytest.raises(SettingsError):
        validate_settings({"elasticsearch": {"heap": "513m", "memory": "1Gi"}})


def test_auto_collector_chooses_by_runtime_and_es_version():
    assert compat.agent_for_node("auto", "docker", 6).name == "log-pilot"
    assert compat.agent_for_node("auto", "containerd", 6).name == "fluent-bit"
    assert compat.agent_for_node("auto", "docker", 8).name == "fluent-bit"  # log-pilot cannot write to 8.x
    assert compat.agent_for_node("auto", "unknown", 6) is None
    assert compat.agent_for_node("log-pilot", "containerd", 6) is None


def _inventory(kube_nodes, data=None, per_host=None, **groups):
    hosts = [(name, (per_host or {}).get(name, {})) for name in kube_nodes + ["@local"]]
    return Inventory((hosts, data or {}), kube_nodes=(kube_nodes, {}), control_host=(["@local"], {}),
                     **{k: (v, {}) for k, v in groups.items()})


def test_inventory_settings_count_data_nodes():
    inventory = _inventory(["a", "b", "c"], {"kubelogs": {"elasticsearch": {"replicas": 2}}}, es_data_nodes=["b", "c"])
    assert settings_from_inventory(inventory).elasticsearch.replicas == 2
    with pytest.raises(SettingsError, match="only 2 data node"):
        settings_from_inventory(_inventory(["a", "b", "c"], es_data_nodes=["b", "c"]))
    assert settings_from_inventory(_inventory(["a", "b", "c"])).elasticsearch.replicas == 3


def test_inventory_without_kube_nodes_is_an_error():
    inventory = Inventory((["@local"], {}), control_host=(["@local"], {}))
    with pytest.raises(SettingsError, match="no hosts in group 'kube_nodes'"):
        settings_from_inventory(inventory)


def test_settings_that_differ_between_hosts_are_an_error():
    inventory = _inventory(["a", "b", "c"], per_host={"b": {"kubelogs": {"namespace": "other"}}})
    with pytest.raises(SettingsError, match="differs between hosts 'a' and 'b'"):
        settings_from_inventory(inventory)
