"""Every layout Kore has used: Markdown edge cases, cells read two ways, legacy HTML errors.

The legacy HTML fixture itself (``legacy-html.md``) is checked row for row with the other
fixtures in ``test_vendor.py``.
"""

from __future__ import annotations

import pytest
from conftest import row
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from korefw.core.check.lint import AMBIGUOUS_CELL, lint
from korefw.core.errors import VendorDataError
from korefw.core.read.ruledata import Provenance, dump, loads
from korefw.core.read.vendor import import_text


def test_a_section_title_alone_does_not_make_a_header() -> None:
    text = (
        "# T\n\n<table>\n<tr><td colspan=\"3\"><h2>S</h2></td></tr>\n"
        "<tr><td>TCP</td><td>192.0.2.1</td><td>443</td></tr>\n</table>\n"
    )
    with pytest.raises(VendorDataError, match="unknown column"):
        import_text(text, file="t.md")


def test_markdown_page_without_section_title_keeps_its_error() -> None:
    """Only a legacy HTML page (titles inside tables) falls back to the ``#`` title."""
    text = "# Title\n\n| Protocol | Destination | Port |\n|---|---|---|\n| TCP | 192.0.2.1 | 4 |\n"
    with pytest.raises(VendorDataError, match="not under a '## section' heading"):
        import_text(text, file="t.md")


# --------------------------------------------------------------------------- Markdown edge cases


def test_table_inside_a_blockquote_is_read() -> None:
    text = (
        "## S\n\n> **Note:** also allow\n>\n> | Protocol | Destination | Port |\n"
        "> |---|---|---|\n> | TCP | 192.0.2.1 | 443 |\n>> | UDP | 192.0.2.2 | 53 |\n\nAfter.\n"
    )
    assert [row(r) for r in import_text(text, file="t.md")] == [
        (7, "S", "", "tcp", "TCP", "443", "192.0.2.1/32", "", ""),
        (8, "S", "", "udp", "UDP", "53", "192.0.2.2/32", "", ""),
    ]


def test_setext_headings_start_sections() -> None:
    text = (
        "Page title\n==========\n\nVoice Gateway\n-------------\n\n"
        "| Protocol | Destination | Port |\n|---|---|---|\n| TCP | 192.0.2.1 | 443 |\n\n"
        "Media\n---\n| Protocol | Destination | Port |\n|---|---|---|\n| UDP | 192.0.2.2 | 53 |\n"
    )
    assert [(r.section, r.origin.line) for r in import_text(text, file="t.md")] == [
        ("Voice Gateway", 9),
        ("Media", 15),
    ]


def test_setext_underline_after_a_paragraph_or_list_is_not_a_heading() -> None:
    text = (
        "## S\n\nsome prose\nmore prose\n---\n\n- item\n---\n\n"
        "| Protocol | Destination | Port |\n|---|---|---|\n| TCP | 192.0.2.1 | 443 |\n"
    )
    assert [r.section for r in import_text(text, file="t.md")] == ["S"]


# --------------------------------------------------------------------------- cells read two ways


AMBIGUOUS = (
    "## S\n\n| Component | Protocol | Destination | Destination Port |\n|---|---|---|---|\n"
    "| A | TCP | 192.0.2.1 | 22,443 |\n"
    "| B | UDP | 192.0.2.2<br>192.0.2.4 | 5060<br>5062 |\n"
    "| C | UDP | 198.51.100.0/24 | 10,000 – 60,000 |\n"
    "| D | TCP | 192.0.2.5 | 1,024 |\n"
    "| E | TCP | 192.0.2.6<br>192.0.2.7 | 443 |\n"
)


def test_cells_that_read_two_ways_are_lint_warnings() -> None:
    rules = import_text(AMBIGUOUS, file="t.md")
    by = {r.component: r for r in rules}
    assert [str(p) for p in by["A"].ports] == ["22443"]  # the reading taken
    assert {str(c) for c in by["B"].cidrs} == {"192.0.2.2/32", "192.0.2.4/32"}
    assert [str(p) for p in by["B"].ports] == ["5060", "5062"]  # every combination
    warnings = [(w.line, w.code, w.message) for w in lint(rules) if w.code == AMBIGUOUS_CELL]
    assert warnings == [
        (5, AMBIGUOUS_CELL, "port '22,443' is read as port 22443; it could also mean ports 22 "
                            "and 443"),
        (6, AMBIGUOUS_CELL, "destination and port cells both list several values (2 and 2 "
                            "lines): read as every destination with every port, not as "
                            "line-by-line pairs"),
    ]  # fmt: skip


def test_doubts_survive_the_data_file() -> None:
    rules = import_text(AMBIGUOUS, file="t.md", region="jp")
    text = dump(rules, Provenance(region="jp", page="t.md"))
    assert text.count("doubts = [") == 2
    again, _ = loads(text, file="x.toml")
    assert [r.doubts for r in again] == [r.doubts for r in rules]
    assert [w for w in lint(again) if w.code == AMBIGUOUS_CELL]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 65), st.integers(0, 999), st.booleans())
def test_a_grouped_port_is_one_port_and_doubtful_only_when_it_also_reads_as_two(
    thousands: int, rest: int, in_range: bool
) -> None:
    port = thousands * 1000 + rest
    assume(port <= 65535)
    cell = f"{thousands},{rest:03d}"
    if in_range:
        cell = f"{cell} – 65,535" if port < 65535 else f"1,000 – {cell}"
    text = f"## S\n\n| Protocol | Destination | Port |\n|---|---|---|\n| TCP | 192.0.2.1 | {cell} |"
    (rule,) = import_text(text, file="t.md")
    assert rule.ports[0].lo == (1000 if in_range and port == 65535 else port)
    doubtful = not in_range and rest >= 100  # "22,443" could be ports 22 and 443; "10,000" not
    assert bool(rule.doubts) is doubtful, (cell, rule.doubts)
