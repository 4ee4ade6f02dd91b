"""A node container stopped in the middle of the node stage: that node is reported, the others finish,
and once it is back a re-run converges, changing nothing on the nodes that had finished."""

from __future__ import annotations

import json
import subprocess

from tests.support import harness

# The victim is a data node: while it is down, one Elasticsearch pod cannot be scheduled and the first
# run's rollout wait ends at this timeout (the scheduler; the run fails for the node anyway).
SETTINGS = {"elasticsearch": {"replicas": 2}, "kubernetes": {"rollout_timeout": 20}}


def test_node_stopped_mid_run_is_reported_and_a_rerun_converges(node_image, tier):
    with harness.KindLikeCluster(tier) as cluster:
        cluster.add("control-plane")
        cluster.add("worker")
        victim = cluster.add("worker")
        harness.set_max_map_count(cluster.nodes[0], 65530)
        # Stop the victim as soon as the run's first command reaches it.
        events = subprocess.Popen(["docker", "events", "--format", "{{json .}}", "--filter", f"container={victim.name}",
                                   "--filter", "event=exec_start"], stdout=subprocess.PIPE, text=True)
        run = harness.start_pyinfra(cluster, "deploy.py", "-y", "--json", settings=SETTINGS)
        try:
            json.loads(events.stdout.readline())
            harness.docker("stop", "-t", "0", victim.name)
        finally:
            events.kill()
        stdout, stderr = run.communicate(timeout=600)
        interrupted = harness.DeployRun(run.returncode, stdout, stderr, 0.0)
        assert interrupted.returncode != 0
        if interrupted.stdout.strip():
            failed = {h for hosts in interrupted.failed_hosts().values() for h in hosts}
            # The cluster stage fails too: the victim's Elasticsearch pod cannot be scheduled.
            assert failed <= {f"@docker/{victim.name}", "@local"}, failed
            if "@local" in failed:
                assert "rollout not complete" in interrupted.stderr and "Unschedulable" in interrupted.stderr
        assert victim.name in interrupted.stderr
        others = [n for n in cluster.nodes if n is not victim]
        for node in others:  # the other nodes finished their node stage
            assert node.exec("cat /etc/sysctl.d/90-kubelogs-elasticsearch.conf").count("vm.max_map_count = ") == 1
        assert harness.docker("inspect", "-f", "{{.State.Status}}", victim.name).strip() == "exited"

        harness.docker("start", victim.name)
        again = harness.run_deploy(cluster, SETTINGS)
        assert again.returncode == 0, again.stderr[-3000:]
        changed = {h for hosts in again.changed_hosts().values() for h in hosts}
        assert changed <= {f"@docker/{victim.name}", "@local"}, again.changed_hosts()
        final = harness.run_deploy(cluster, SETTINGS)
        assert final.returncode == 0, final.stderr[-3000:]
        assert final.changed_hosts() == {}
