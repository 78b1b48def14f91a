"""korefw/cli/table.py: the plain-text tables of ``korefw rules``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.cli.table import Column, render

COLUMNS = (Column("Component", max_width=12), Column("Ports"), Column("Line", right=True))


def test_cells_wrap_at_spaces_within_their_column() -> None:
    text = render("SBC", COLUMNS, [("Session Border Controller", "5060", "9")], width=80)
    lines = text.splitlines()
    assert lines[0] == "SBC"
    assert "│ Session      │ 5060  │    9 │" in lines
    assert "│ Border       │       │      │" in lines
    assert lines[-1].startswith("└") and lines[-1].endswith("┘")


def test_a_wide_table_folds_its_widest_column_to_fit_the_terminal() -> None:
    rows = [("SBC", "10.0.0.0/8, " * 10, "1")]
    text = render("t", (Column("A"), Column("Destination"), Column("L")), rows, width=40)
    assert max(len(line) for line in text.splitlines()) <= 40
    assert text.count("10.0.0.0/8") == 10


def test_control_and_bidi_characters_are_shown_escaped() -> None:
    text = render("T\x1b[2J", COLUMNS, [("SBC\x1b[2J", "a\u202eb", "two\nlines")], width=80)
    assert text.splitlines()[0] == "T\\x1b[2J"
    assert "SBC\\x1b[2J" in text and "a\\u202eb" in text
    assert "   two │" in text and " lines │" in text  # a line break in a cell stays one


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=40), st.text(max_size=40), st.text(max_size=6)),
        max_size=5,
    ),
    st.integers(min_value=30, max_value=160),
)
def test_any_vendor_text_renders_boxed_and_printable(
    rows: list[tuple[str, str, str]], width: int
) -> None:
    text = render("title", COLUMNS, rows, width=width)
    lines = text.splitlines()
    assert all(line.isprintable() for line in lines)
    box = lines[1:]
    # every line of the box has the same length: no cell escapes its column
    assert len({len(line) for line in box}) == 1
