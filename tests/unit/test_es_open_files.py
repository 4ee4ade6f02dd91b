"""The Elasticsearch container's start (``elasticsearch.start_args``), run by the real ``sh`` here with the open-files
limits a node's runtime may give: the soft limit is raised to the 65,535 Elasticsearch's bootstrap check wants
where the hard limit allows, the image's entrypoint then runs with its usual argument; below, the container
says so in its log (the line the rollout diagnosis turns into the fix) and still starts, so that Elasticsearch's
own refusal is in the log too."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kubelogs import compatibility as compat
from kubelogs.cluster import rollout
from kubelogs.manifests.elasticsearch import start_args
from kubelogs.settings import validate_settings

pytestmark = pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is not installed")


HARD = int(subprocess.run(["sh", "-c", "ulimit -H -n"], capture_output=True, text=True).stdout.strip()
           .replace("unlimited", str(2**20)))
# A process may lower its hard limit, never raise it: the test runs under this machine's (20,000 on the test
# machines). Where it is below 65,535, the raising path is run with the script's threshold at 8,192.
WANT = compat.ES_MIN_OPEN_FILES if HARD >= compat.ES_MIN_OPEN_FILES else 8192


def start(soft: int, hard: int, want: int = compat.ES_MIN_OPEN_FILES) -> subprocess.CompletedProcess:
    """The container's args under these limits, with the image's entrypoint replaced by one that prints its
    arguments and the soft limit it got."""
    args = start_args(validate_settings({}))
    assert args[-2:] == [compat.ES_ENTRYPOINT_SCRIPT, "eswrapper"]
    script = args[2].replace(f"want={compat.ES_MIN_OPEN_FILES}", f"want={want}")
    entrypoint = 'echo "entrypoint $* soft=$(ulimit -S -n)"'
    return subprocess.run(["prlimit", f"--nofile={soft}:{hard}", "sh", "-c", script, "sh", "sh", "-c", entrypoint,
                           "sh", "eswrapper"], capture_output=True, text=True, timeout=10)


def test_the_soft_limit_is_raised_where_the_hard_limit_allows():
    for hard in (WANT, HARD):
        done = start(1024, hard, WANT)
        assert done.returncode == 0 and done.stdout == f"entrypoint eswrapper soft={WANT}\n" and done.stderr == "", done


def test_a_higher_soft_limit_is_left_alone():
    assert start(WANT + 1, HARD, WANT).stdout == f"entrypoint eswrapper soft={WANT + 1}\n"


def test_a_hard_limit_below_says_so_and_the_diagnosis_names_the_fix():
    done = start(1024, 4096)
    assert done.stdout == "entrypoint eswrapper soft=1024\n"  # Elasticsearch starts, and refuses with its own words
    assert "open-files hard limit here is 4096, below the 65535" in done.stderr
    causes = rollout.known_causes(done.stderr)
    assert causes and "LimitNOFILE" in causes[0]


def test_5x_images_start_as_they_are():
    assert start_args(validate_settings({"elasticsearch": {"version": "5.6.16"}})) is None
