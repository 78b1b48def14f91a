"""Plain-text tables for the command line, in the box-drawing style of ``rich``.

``korefw rules`` prints a table per section. ``rich`` laid these out in about as much time
as the rest of the command (import included, over half of a cold start), so the command
line draws its own: cells may hold several lines, a column may have a maximum width, and
when the table is wider than the terminal the widest columns fold (hard-wrap) until it
fits, as ``rich`` does with ``overflow="fold"``.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.errors import printable

#: Narrowest a column folds to.
MIN_WIDTH = 4


@dataclass(frozen=True)
class Column:
    """A column: its header, an optional maximum width and whether it aligns right."""

    header: str
    max_width: int | None = None
    right: bool = False


def _cell(text: str) -> str:
    """A cell safe to print: each line through :func:`~korefw.core.errors.printable` (an
    escape sequence or bidi override from a vendor page is shown escaped); breaks stay."""
    return "\n".join(printable(line) for line in text.split("\n"))


def _fold(text: str, width: int) -> list[str]:
    """``text``'s lines wrapped at spaces to at most ``width`` characters (a longer word
    is cut, as ``rich``'s ``overflow="fold"`` does)."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(textwrap.wrap(line, width, break_on_hyphens=False) or [""])
    return out


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], total: int) -> list[int]:
    """Each column's width: its widest line (within ``max_width``), folded to fit ``total``."""
    widths = []
    for i, col in enumerate(columns):
        cells = [col.header, *(r[i] for r in rows)]
        natural = max(len(line) for cell in cells for line in cell.split("\n"))
        widths.append(min(natural, col.max_width) if col.max_width else natural)
    # Borders and padding: "│ " before each column, " │" after the last.
    overhead = 3 * len(columns) + 1
    while sum(widths) + overhead > total:
        widest = max(range(len(widths)), key=lambda k: widths[k])
        if widths[widest] <= MIN_WIDTH:
            break
        widths[widest] -= 1
    return widths


def render(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
) -> str:
    """The table as text: ``title`` above, a heavy header, one block of lines per row."""
    total = width or shutil.get_terminal_size().columns
    rows = [[_cell(cell) for cell in row] for row in rows]
    title = printable(title)
    widths = _widths(columns, rows, total)

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def lines(cells: Sequence[str], bar: str) -> list[str]:
        folded = [_fold(c, w) for c, w in zip(cells, widths, strict=True)]
        height = max(len(f) for f in folded)
        out = []
        for k in range(height):
            parts = []
            for col, f, w in zip(columns, folded, widths, strict=True):
                text = f[k] if k < len(f) else ""
                parts.append(text.rjust(w) if col.right else text.ljust(w))
            out.append(bar + " " + f" {bar} ".join(parts) + " " + bar)
        return out

    out = [title, rule("┏", "━", "┳", "┓"), *lines([c.header for c in columns], "┃")]
    out.append(rule("┡", "━", "╇", "┩"))
    for row in rows:
        out.extend(lines(row, "│"))
    out.append(rule("└", "─", "┴", "┘"))
    return "\n".join(out)
