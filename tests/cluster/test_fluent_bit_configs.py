"""Every rendered Fluent Bit configuration started for real, for each Elasticsearch major it writes to (6 to 9),
security on and off.

The test kubelet runs the real binary of the image's version with the pod's command and its ConfigMap, so
the DaemonSet rolls out only when every Fluent Bit started and answers its readiness probe (`--dry-run`
is not enough: 3.2 accepts unknown keys there, a real start rejects them). Then the verify stage proves it
ships: with ``collector: fluent-bit`` it runs on the Docker node too, reading Docker's json-file logs.
"""

from __future__ import annotations

import pytest

from kubelogs.cluster.api import ClusterError
from kubelogs.manifests import fluent_bit
from kubelogs.verify import stage
from tests.support.cluster_helpers import deploy, kube, settings_for

pytestmark = pytest.mark.fluent_bit

VERSIONS = {6: "6.8.23", 7: "7.17.26", 8: "8.19.26", 9: "9.5.7"}


@pytest.mark.parametrize("security", [True, False], ids=["security", "open"])
@pytest.mark.parametrize("major", sorted(VERSIONS))
def test_rendered_configuration_starts_and_ships_every_node(api, major, security):
    es = api.serve_elasticsearch(major)
    settings = settings_for(api, elasticsearch={"version": VERSIONS[major], "replicas": 2, "security": security},
                            agents={"collector": "fluent-bit"}, verify={"timeout": 20})
    deploy(api, settings)  # waits until every Fluent Bit pod is ready
    lines: list[str] = []
    report = stage.run(kube(settings), settings, lines.append)
    assert report.ok, lines
    [index] = [i for i in es.indices if i.startswith("kubelogs-canary-")]
    assert {d["kubernetes"]["host"] for d in es.indices[index]} == {n.node for n in api.nodes}
    # Every POST but the security settings' (passwords) is Fluent Bit's, to /_bulk.
    assert es.calls and all(path == "/_bulk" for method, path in es.calls
                            if method == "POST" and not path.startswith(("/_security/", "/_xpack/")))


def test_a_configuration_fluent_bit_rejects_fails_the_rollout_with_its_words(api, monkeypatch):
    # The check above can fail: one unknown key, and the real Fluent Bit exits at start.
    rendered = fluent_bit.config
    monkeypatch.setattr(fluent_bit, "config", lambda settings: rendered(settings) + "    No_Such_Key On\n")
    settings = settings_for(api, kubernetes={"rollout_timeout": 10})
    with pytest.raises(ClusterError) as failed:
        deploy(api, settings)
    message = str(failed.value)
    assert "DaemonSet fluent-bit" in message and "CrashLoopBackOff" in message
    assert "unknown configuration property 'no_such_key'" in message.lower()
