"""The node stage beside two anchors doing the same work, on the same N node containers, in one sitting:
kubelogs (`deploy.py --limit kube_nodes`), a plain Ansible playbook (bench/anchors/playbook.yml, over
community.docker's `docker exec` connection) and plain pyinfra operations (bench/anchors/pyinfra_deploy.py).
Each makes vm.max_map_count live and persisted, and the hostPath directories with numeric owner and mode.

Usage (repository root, Docker running, Ansible in its own venv):
    python3 -m venv /tmp/ansible-venv && /tmp/ansible-venv/bin/pip install -r bench/requirements-anchors.txt
    python -m bench.node_anchors 10 50 100 --repeat 3 [--ansible /tmp/ansible-venv/bin/ansible-playbook]

Per node count and repeat, the tools take turns (the order rotates each repeat, so slow spells of a shared
machine hit them alike); each gets fresh containers with vm.max_map_count lowered, a first run and a no-op
re-run, timed (wall seconds, start-up included) and counted (`docker exec` calls into the nodes, from
`docker events`). After the first run every node is checked to be as the node stage leaves it; a re-run
that changes anything is reported. Parallelism: pyinfra's own default for N hosts (min(20 x CPUs, hosts)),
and Ansible's forks set to the same number, unless a tool is given as TOOL:P (see --tools).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.node_stage import SETTINGS, counting_execs
from kubelogs import compatibility as compat
from tests.support import harness

ANCHORS = Path(__file__).resolve().parent / "anchors"
IMAGE = "kubelogs-bench-node-py:bookworm"
PREFIX = "kubelogs-bench-anchors"  # container names; the test suite's are kubelogs-test-*
MAX_MAP_COUNT = compat.required_max_map_count(compat.DEFAULT_ES_VERSION)  # what the default settings ensure
SYSCTL_FILE = "/etc/sysctl.d/90-kubelogs-elasticsearch.conf"
TOOLS = ("kubelogs", "ansible", "pyinfra")


def ensure_image() -> None:
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        harness.ensure_node_image()
        subprocess.run(["docker", "build", "--network", "host", "-t", IMAGE, str(ANCHORS)], check=True,
                       capture_output=True, timeout=900)


class Nodes:
    """N kind-labelled node containers of the bench image (one control plane, N-1 workers), removed on exit."""

    def __init__(self, count: int) -> None:
        self.name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
        self.containers = [f"{self.name}-control-plane"] + [f"{self.name}-worker{i}" for i in range(1, count)]

    def _start(self, container: str) -> None:
        role = "control-plane" if container.endswith("control-plane") else "worker"
        harness.docker("run", "-d", "--name", container, "--hostname", container, "--network", "none",
                       "--cap-add", "SYS_ADMIN", "--security-opt", "systempaths=unconfined",  # as the harness's
                       "--label", f"io.x-k8s.kind.cluster={self.name}", "--label", f"io.x-k8s.kind.role={role}",
                       IMAGE, "sleep", "infinity")

    def __enter__(self) -> Nodes:
        try:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(self._start, self.containers))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["docker", "rm", "-f", *self.containers], capture_output=True)

    def wrong(self) -> list[str]:
        """The nodes not as the node stage leaves them, each with what is wrong."""
        script = (f"stat -c '%u:%g %a' /var/lib/fluent-bit /es-data 2>/dev/null; "
                  f"grep -c '^vm.max_map_count *= *{MAX_MAP_COUNT}$' {SYSCTL_FILE}")

        def check(container: str) -> str | None:
            lines = harness.docker("exec", container, "sh", "-c", script, check=False).split()
            worker = not container.endswith("control-plane")
            expected = ["0:0", "755"] + (["1000:1000", "750"] if worker else []) + ["1"]
            return None if lines == expected else f"{container}: {' '.join(lines)} (expected {' '.join(expected)})"

        with ThreadPoolExecutor(8) as pool:
            problems = [p for p in pool.map(check, self.containers) if p]
        if harness.max_map_count() < MAX_MAP_COUNT:
            problems.append(f"live vm.max_map_count is {harness.max_map_count()}")
        return problems


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> harness.DeployRun:
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=1800)
    return harness.DeployRun(result.returncode, result.stdout, result.stderr, time.monotonic() - started)


def run_kubelogs(nodes: Nodes, parallel: int | None) -> tuple[harness.DeployRun, int]:
    extra = ["--parallel", str(parallel)] if parallel else []
    run = harness.run_pyinfra(nodes.name, "deploy.py", "-y", "--json", "--limit", "kube_nodes", *extra,
                              settings=SETTINGS, env={"KUBECONFIG": "/nonexistent/no-cluster"}, timeout=1800)
    return run, sum(map(len, run.changed_hosts().values())) if run.returncode == 0 else -1


def run_pyinfra(nodes: Nodes, parallel: int | None) -> tuple[harness.DeployRun, int]:
    extra = ["--parallel", str(parallel)] if parallel else []
    run = timed([sys.executable, "-m", "pyinfra", "pyinfra_inventory.py", "pyinfra_deploy.py", "-y", "--json",
                 "--data", f"max_map_count={MAX_MAP_COUNT}", *extra], ANCHORS, {"ANCHOR_CLUSTER": nodes.name})
    return run, sum(map(len, run.changed_hosts().values())) if run.returncode == 0 else -1


def run_ansible(nodes: Nodes, forks: int, playbook_command: str, inventory: Path) -> tuple[harness.DeployRun, int]:
    run = timed([playbook_command, "-i", str(inventory), str(ANCHORS / "playbook.yml"), "--forks", str(forks),
                 "-e", f"max_map_count={MAX_MAP_COUNT}"], ANCHORS,
                {"ANSIBLE_PIPELINING": "True",  # one exec per task instead of mkdir, put, run, rm
                 "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",  # no interpreter discovery round trip
                 "ANSIBLE_NOCOLOR": "1"})
    recap = re.findall(r"changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", run.stdout)
    if run.returncode != 0 or len(recap) != len(nodes.containers) or any(int(u) or int(f) for _, u, f in recap):
        return run, -1
    return run, sum(int(c) for c, _, _ in recap)


def ansible_inventory(nodes: Nodes, directory: str) -> Path:
    """A YAML inventory: every container over `docker exec`, the workers holding Elasticsearch's data."""
    workers = [c for c in nodes.containers if not c.endswith("control-plane")] or nodes.containers
    lines = ["all:", "  vars:", "    ansible_connection: community.docker.docker", "  children:", "    kube_nodes:",
             "      hosts:"] + [f"        {c}:" for c in nodes.containers] + \
            ["    es_data_nodes:", "      hosts:"] + [f"        {c}:" for c in workers]
    path = Path(directory) / "inventory.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def default_parallel(hosts: int) -> int:
    """pyinfra's own parallelism for this many hosts (pyinfra.api.state: min(20 x CPUs, hosts), below a bound
    from the open-files limit that is far off here)."""
    return min(20 * (os.cpu_count() or 1), hosts)


def measure(spec: str, count: int, ansible: str) -> dict[str, float]:
    """One tool's first run and no-op re-run on fresh containers. ``spec``: a tool, or tool:parallelism."""
    tool, _, given = spec.partition(":")
    parallel = int(given) if given else None  # None: pyinfra's default; Ansible's forks set to the same
    forks = parallel or default_parallel(count)
    with Nodes(count) as nodes, tempfile.TemporaryDirectory(prefix="kubelogs-anchors-") as tmp:
        runners = {"kubelogs": lambda: run_kubelogs(nodes, parallel),
                   "pyinfra": lambda: run_pyinfra(nodes, parallel),
                   "ansible": lambda: run_ansible(nodes, forks, ansible, ansible_inventory(nodes, tmp))}
        harness.docker("exec", nodes.containers[0], "sysctl", "-w", "vm.max_map_count=65530")  # machine-wide
        load = os.getloadavg()[0]
        results = {}
        for phase in ("first", "no-op"):
            (run, changes), execs = counting_execs(nodes.name, lambda: runners[tool]())
            if changes < 0:
                raise SystemExit(f"{tool} {phase} run failed at {count} nodes:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
            if phase == "first" and (wrong := nodes.wrong()):
                raise SystemExit(f"{tool} left {len(wrong)} node(s) not as the node stage leaves them: {wrong[:5]}")
            results.update({f"{phase} s": run.duration_s, f"{phase} execs/node": execs / count,
                            f"{phase} changes": changes})
        results["load"] = load
        return results


COLUMNS = (("first s", "first run (s)", ".2f"), ("no-op s", "no-op re-run (s)", ".2f"),
           ("first execs/node", "docker execs per node, first", ".1f"),
           ("no-op execs/node", "docker execs per node, no-op", ".1f"),
           ("no-op changes", "changes reported by the re-run", ".0f"), ("load", "1-min load at start", ".1f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("nodes", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ansible", default="/tmp/ansible-venv/bin/ansible-playbook")
    parser.add_argument("--tools", default=",".join(TOOLS), help=(
        f"comma-separated, of {', '.join(TOOLS)}; TOOL:P sets pyinfra's --parallel or Ansible's --forks to P "
        "(e.g. kubelogs,kubelogs:100 compares parallelism, interleaved)"))
    args = parser.parse_args()
    tools = args.tools.split(",")
    for tool in tools:
        name, colon, given = tool.partition(":")
        if name not in TOOLS or (colon and not (given.isdigit() and int(given) > 0)):
            parser.error(f"--tools: {tool!r} is not one of {', '.join(TOOLS)}, optionally with :P, P a positive number")
    ensure_image()
    original = harness.max_map_count()
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
          f"median of {args.repeat} (min-max), tools interleaved")
    print("| nodes | tool | parallel | " + " | ".join(heading for _, heading, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 3) + "|", flush=True)
    try:
        for count in args.nodes:
            runs: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
            for r in range(args.repeat):
                for tool in tools[r % len(tools):] + tools[:r % len(tools)]:
                    runs[tool].append(measure(tool, count, args.ansible))
            for tool in tools:
                cells = []
                for key, _, spec in COLUMNS:
                    values = [run[key] for run in runs[tool]]
                    cell = format(statistics.median(values), spec)
                    if len(values) > 1 and spec == ".2f":
                        cell += f" ({min(values):{spec}}-{max(values):{spec}})"
                    elif len(values) > 1 and key == "load":
                        cell = f"{min(values):.1f}-{max(values):.1f}"
                    cells.append(cell)
                name, _, given = tool.partition(":")
                print(f"| {count} | {name} | {given or default_parallel(count)} | " + " | ".join(cells) + " |", flush=True)
    finally:
        try:  # the value is machine-wide: leave it as found
            Path("/proc/sys/vm/max_map_count").write_text(str(original))
        except OSError as error:
            print(f"could not restore vm.max_map_count to {original}: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
