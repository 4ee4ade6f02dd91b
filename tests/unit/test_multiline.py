"""Whole stack traces: the rendered multiline rules (``MULTILINE_PARSERS``, the parsers file of the Fluent Bit
ConfigMap) run by a port of Fluent Bit's multiline engine (tests/support/played_multiline.py) on real traces
of each language (tests/support/data/traces/): each is one document, a line that is not part of a trace is
never held back, and the rules load as Fluent Bit loads them (tests/support/fluent_bit_schema.py). On the
real Fluent Bit, tests/cluster/test_collection.py sends the same traces through the binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelogs.manifests import GeneratedSecrets, render_all
from kubelogs.manifests import fluent_bit as fb
from kubelogs.settings import validate_settings
from tests.support import played_fluent_bit
from tests.support.fluent_bit_schema import rendered_files

TRACES = Path(__file__).resolve().parents[1] / "support" / "data" / "traces"


def trace(language: str) -> list[str]:
    return (TRACES / f"{language}.txt").read_text().splitlines()


@pytest.fixture(scope="module")
def chain():
    files, main = rendered_files(render_all(validate_settings({}), GeneratedSecrets(password="x")))
    config = played_fluent_bit.load(files, ["/fluent-bit/bin/fluent-bit", "-c", f"{fb.CONFIG_DIR}/{main}"])
    assert [p.name for p in config.multiline] == list(fb.MULTILINE_PARSERS)
    return config.multiline


@pytest.mark.parametrize("language, lines", [("java", 40), ("python", 18), ("go", 15)])
def test_a_trace_is_one_document_between_ordinary_lines(chain, language, lines):
    from tests.support.played_multiline import join
    body = trace(language)
    assert len(body) == lines
    out = join(chain, ["GET /cart 200", *body, "GET /cart 200 again"])
    assert out == ["GET /cart 200", "\n".join(body), "GET /cart 200 again"]


def test_traces_in_a_row_and_of_different_languages_stay_apart(chain):
    from tests.support.played_multiline import join
    java, python, go = trace("java"), trace("python"), trace("go")
    out = join(chain, [*java, *python, *go, *java])
    # Whole, each one; not in order: a group that another parser's trace interrupts waits for the flush timer
    # (flb_ml_append_object leaves it pending). Each keeps its first line's time, which orders them in the index.
    assert sorted(out) == sorted(["\n".join(java), "\n".join(python), "\n".join(go), "\n".join(java)])


def test_a_line_that_is_no_trace_goes_out_at_once_and_a_trace_within_the_flush_interval(chain):
    from tests.support.played_multiline import join
    assert join(chain, ["plain", "Error: not a class name", "ValueError but prose"], flush=False) == [
        "plain", "Error: not a class name", "ValueError but prose"]
    # The trace's last group waits for a next line or the flush timer (flush_ms), never longer.
    assert join(chain, ["plain", *trace("python")], flush=False) == ["plain"]
    assert fb.MULTILINE_FLUSH_MS <= 2000


def test_a_continuation_without_its_start_is_an_ordinary_line(chain):
    from tests.support.played_multiline import join
    lines = ["\tat com.shop.Orders.ship(Orders.java:88)", "  File \"/app/x.py\", line 1, in f", "goroutine 1 [running]:"]
    assert join(chain, lines) == lines
