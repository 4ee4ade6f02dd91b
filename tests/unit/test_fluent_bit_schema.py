"""Every rendered Fluent Bit configuration against the configuration schema the real binary prints.

For each Fluent Bit version the project supports (a schema file each: 3.2.10, 5.1.1; the image's version
changes the render, e.g. the dead-letter keys from 4.2), each Elasticsearch major Fluent Bit writes to
(security on and off) and the log-pilot recipe (docs/agents.md), the ConfigMap that ``render_all`` makes is checked
with ``tests.support.fluent_bit_schema`` (what that checks, and against what, is its docstring). Then the
checker itself: it must fail on an unknown key, a mistyped value and a plugin the schema lacks.
"""

from __future__ import annotations

import pytest

from kubelogs import compatibility as compat
from kubelogs.manifests import GeneratedSecrets, render_all
from kubelogs.settings import Settings, validate_settings
from tests.support.fluent_bit_schema import (
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    Problem,
    check_config,
    rendered_files,
    schema_for,
)

# The Fluent Bit versions the project supports: the default image's and the older line an image override may
# run (docs/testing.md: the fluent_bit tests run both where they are given); one schema file each in ../shared/data/fluent-bit.
FLUENT_BIT_VERSIONS = ("3.2.10", "5.1.1")
FLUENT_BIT_REPOSITORY = compat.AGENTS["fluent-bit"].image.rsplit(":", 1)[0]
# A representative version per Elasticsearch major Fluent Bit writes to (those of tests/test_fluent_bit_configs.py,
# not imported: it pulls in the cluster tier).
ES_VERSIONS = {6: "6.8.23", 7: "7.17.26", 8: "8.19.26", 9: "9.5.7"}
SECRETS = GeneratedSecrets(password="generated", writer_password="writer")

CASES = [(fb_version, {"elasticsearch": {"version": ES_VERSIONS[major], "security": security}})
         for fb_version in FLUENT_BIT_VERSIONS for major in sorted(ES_VERSIONS) for security in (True, False)]
CASE_IDS = [f"fluent-bit{v}-es{es['version']}-{'security' if es['security'] else 'open'}"
            for v, raw in CASES for es in [raw["elasticsearch"]]]
# The log-pilot recipe (docs/agents.md): log-pilot on Docker nodes, Fluent Bit on the others.
RECIPE_CASES = [(v, {"elasticsearch": {"version": compat.LOG_PILOT_ES_VERSION}}) for v in FLUENT_BIT_VERSIONS]
RECIPE_IDS = [f"fluent-bit{v}-log-pilot-recipe" for v, _ in RECIPE_CASES]


def settings(fb_version: str, raw: dict | None = None) -> Settings:
    raw = dict(raw or {})
    raw["agents"] = {**raw.get("agents", {}), "fluent_bit_image": f"{FLUENT_BIT_REPOSITORY}:{fb_version}"}
    return validate_settings(raw)


def config_files(s: Settings) -> tuple[dict[str, str], str]:
    return rendered_files(render_all(s, SECRETS))


def problems_of(files: dict[str, str], main: str, fb_version: str) -> list[str]:
    return [str(p) for p in check_config(files, main, schema_for(fb_version))]


@pytest.mark.parametrize("fb_version, raw", CASES + RECIPE_CASES, ids=CASE_IDS + RECIPE_IDS)
def test_rendered_configuration_matches_the_schema_of_its_fluent_bit_version(fb_version, raw):
    files, main = config_files(settings(fb_version, raw))
    assert problems_of(files, main, fb_version) == []


def test_every_elasticsearch_major_that_runs_fluent_bit_is_covered():
    # A major with a Fluent Bit config that the cases above leave out would go unchecked (5.x runs none).
    for major in compat.ES_MAJORS:
        assert bool(compat.runtimes_for("fluent-bit", "auto", major)) == (major in ES_VERSIONS), major


def test_the_default_image_is_a_version_with_a_schema():
    version = compat.image_version(compat.AGENTS["fluent-bit"].image)
    assert version is not None and ".".join(map(str, version)) in FLUENT_BIT_VERSIONS
    for fb_version in FLUENT_BIT_VERSIONS:
        assert schema_for(fb_version).version_text == fb_version


def test_the_dead_letter_keys_are_rendered_only_where_the_version_has_them():
    # The render differs by image version; each side is what the schema cases above check.
    for fb_version in FLUENT_BIT_VERSIONS:
        files, main = config_files(settings(fb_version))
        has = "storage.keep.rejected On" in files[main]
        assert has == (compat.parse_version(fb_version) >= compat.FLUENT_BIT_DEAD_LETTERS_FROM), fb_version


# --- The checker fails where it must (on the rendered default config, changed in one place) ---

def rendered(fb_version: str) -> tuple[dict[str, str], str]:
    return config_files(settings(fb_version))


def replace_line(text: str, key: str, new: str) -> str:
    """``text`` with the line of ``key`` (as rendered: four spaces, key, space) replaced by ``new``."""
    lines = text.splitlines()
    [index] = [i for i, line in enumerate(lines) if line.startswith(f"    {key} ")]
    lines[index] = f"    {new}"
    return "\n".join(lines) + "\n"


def only_problem(files: dict[str, str], main: str, fb_version: str) -> Problem:
    problems = check_config(files, main, schema_for(fb_version))
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


@pytest.mark.parametrize("fb_version", FLUENT_BIT_VERSIONS)
def test_an_unknown_key_is_reported_by_name(fb_version):
    files, main = rendered(fb_version)
    files = {**files, main: files[main] + "    No_Such_Key On\n"}  # the last section: the es output
    problem = only_problem(files, main, fb_version)
    assert (problem.key, problem.value, problem.section) == ("No_Such_Key", "On", "OUTPUT es")
    assert "unknown property" in problem.message and fb_version in problem.message
    assert "No_Such_Key" in str(problem) and main in str(problem)


WRONG_VALUES = [  # (key as rendered, wrong line, what the message says)
    ("Retry_Limit", "Retry_Limit abc", "not a retry limit"),
    ("Retry_Limit", "Retry_Limit 0", "not a retry limit"),
    ("Replace_Dots", "Replace_Dots maybe", "not a boolean"),
    ("Read_from_Head", "Read_from_Head enabled", "not a boolean"),
    ("Mem_Buf_Limit", "Mem_Buf_Limit 16 MB", "not a size"),
    ("storage.total_limit_size", "storage.total_limit_size 512X", "not a size"),
    ("Port", "Port http", "not an integer"),
    ("storage.type", "storage.type disk", "not a storage type"),
    ("Daemon", "Daemon maybe", "not a boolean"),  # [SERVICE]: Fluent Bit would read it as "not true"
    ("Flush", "Flush soon", "not a number"),
    ("Log_Level", "Log_Level verbose", "not a log level"),
    ("storage.sync", "storage.sync always", "not a storage sync mode"),
    ("storage.backlog.mem_limit", "storage.backlog.mem_limit 16XB", "not a size"),
]


@pytest.mark.parametrize("fb_version", FLUENT_BIT_VERSIONS)
@pytest.mark.parametrize("key, line, message", WRONG_VALUES, ids=[line for _, line, _ in WRONG_VALUES])
def test_a_wrongly_typed_value_is_reported(fb_version, key, line, message):
    files, main = rendered(fb_version)
    files = {**files, main: replace_line(files[main], key, line)}
    problem = only_problem(files, main, fb_version)
    assert problem.key == key and problem.value == line.split(" ", 1)[1] and message in problem.message


@pytest.mark.parametrize("spelling", [*BOOLEAN_TRUE, *BOOLEAN_FALSE, "ON", "False", "Yes"])
def test_every_boolean_spelling_fluent_bit_reads_is_accepted(spelling):
    files, main = rendered("5.1.1")
    files = {**files, main: replace_line(files[main], "Replace_Dots", f"Replace_Dots {spelling}")}
    assert problems_of(files, main, "5.1.1") == []


@pytest.mark.parametrize("fb_version", FLUENT_BIT_VERSIONS)
@pytest.mark.parametrize("plugin", ["opensearch", "no_such_plugin"])
def test_a_plugin_the_schema_lacks_is_reported_as_uncheckable(fb_version, plugin):
    files, main = rendered(fb_version)
    files = {**files, main: files[main] + f"\n[OUTPUT]\n    Name {plugin}\n    Match kube.*\n    Anything goes\n"}
    problem = only_problem(files, main, fb_version)
    assert (problem.key, problem.value) == ("Name", plugin)
    assert "cannot be checked against this schema" in problem.message


def test_a_deprecated_property_is_reported():
    files, main = rendered("5.1.1")
    files = {**files, main: files[main] + "\n[FILTER]\n    Name parser\n    Match kube.*\n    Key_Name log\n"
                                          "    Parser docker\n    Unescape_Key On\n"}
    problem = only_problem(files, main, "5.1.1")
    assert problem.key == "Unescape_Key" and problem.message == "deprecated property"


def test_a_service_key_is_checked_against_the_version():
    # The dead-letter keys are 4.2+: in a 3.2.10 config Fluent Bit would ignore them without a word.
    files, main = rendered("3.2.10")
    files = {**files, main: files[main].replace("[SERVICE]\n", "[SERVICE]\n    storage.keep.rejected On\n")}
    problem = only_problem(files, main, "3.2.10")
    assert problem.key == "storage.keep.rejected" and "3.2.10" in problem.message and "4.2.0" in problem.message


def test_a_filter_without_match_is_reported():
    files, main = rendered("5.1.1")
    files = {**files, main: files[main].replace("    Match kube.*\n    script", "    script", 1)}  # the lua filter
    problem = only_problem(files, main, "5.1.1")
    assert (problem.section, problem.key) == ("FILTER lua", "Match") and "receives no records" in problem.message


def test_includes_variables_and_parser_files_are_followed():
    files = {
        "main.conf": "@SET limit=5M\n[SERVICE]\n    Flush 1\n    Parsers_File /etc/parsers.conf\n"
                     "@INCLUDE input-*.conf\n",
        "input-tail.conf": "[INPUT]\n    Name tail\n    Path /x.log\n    Mem_Buf_Limit ${limit}\n"
                           "    Buffer_Max_Size ${FROM_ENV}\n    Skip_Long_Lines perhaps\n",
        "parsers.conf": "[PARSER]\n    Name json\n    Format json\n",
    }
    problems = check_config(files, "main.conf", schema_for("5.1.1"))
    assert [(p.file, p.key, p.message.split(":")[0]) for p in problems] == [
        ("parsers.conf", "", "cannot be checked against this schema"),
        ("input-tail.conf", "Buffer_Max_Size", "cannot be checked"),  # an environment variable
        ("input-tail.conf", "Skip_Long_Lines", "not a boolean"),
    ]


def test_format_errors_fluent_bit_refuses_are_reported():
    files = {"main.conf": "[SERVICE]\n    Flush 1\n  Grace 5\n[PARSER]\n    Name x\nLog_Level info\n"}
    messages = [p.message for p in check_config(files, "main.conf", schema_for("5.1.1"))]
    assert any("mixed indentation" in m for m in messages)
    assert any("parser section in the main file" in m for m in messages)
    assert any("must be indented" in m for m in messages)
