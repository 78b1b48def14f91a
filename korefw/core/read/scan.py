"""Find the tables of a vendor page: GFM pipe tables and HTML tables in Markdown/MDX, or
a whole HTML page, each with the heading it stands under."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ..errors import VendorDataError
from .cells import Cell, Heading, RawTable, Row, cell_text, column_role, is_header_word


def sectioned(events: Iterable[Heading | RawTable], file: str) -> Iterator[RawTable]:
    """Give each table its section. On a legacy HTML page (section titles inside table
    cells) a table above the first title belongs to the page's ``#`` title."""
    evs = list(events)
    legacy = any(isinstance(ev, Heading) and ev.in_table for ev in evs)
    section: str | None = None
    for ev in evs:
        if isinstance(ev, Heading):
            if ev.level == 2:
                section = ev.text
            elif ev.level == 1:
                section = ev.text if legacy else None
            continue
        if not section:
            raise VendorDataError(
                "table is not under a '## section' heading", where=f"{file}:{ev.line}"
            )
        ev.section = section
        yield ev


_FENCE = re.compile(r"^\s*(```+|~~~+)")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_HTML_HEADING = re.compile(r"^\s*<h([1-6])\b[^>]*>(.*?)</h\1\s*>\s*$", re.I)
_SNIPPET = re.compile(r"^\s*;?-{2}8<-{2}")
_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_COMMENT = re.compile(r"\{\s*/\*.*?\*/\s*\}|<!--.*?-->", re.S)
_PIPE = re.compile(r"(?<!\\)\|")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_NOT_SETEXT = re.compile(r"^(?:[-*+]\s|\d+[.)]\s|<|#|```|~~~|---)")


def _heading_text(raw: str) -> str:
    raw = re.sub(r"\s*\{[#.][^}]*\}\s*$", "", raw)  # mkdocs attr_list anchors
    return cell_text(raw)


def _preprocess(text: str) -> list[str]:
    """Lines with comments and front matter blanked out and blockquote markers (``>``)
    removed, so a table or heading inside a blockquote reads like any other (line
    numbers preserved)."""
    text = _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() in {"---", "..."}:
                lines[: j + 1] = [""] * (j + 1)
                break
    return [_QUOTE.sub("", ln) for ln in lines]


def _setext_level(lines: list[str], i: int) -> int:
    """1 or 2 when ``lines[i]`` is a setext heading (``Title`` over ``===`` or ``---``)."""
    if i + 1 >= len(lines) or not (m := _SETEXT.match(lines[i + 1])):
        return 0
    s = lines[i].strip()
    if not s or lines[i].startswith("    ") or _PIPE.search(s) or _NOT_SETEXT.match(s):
        return 0
    if i > 0 and lines[i - 1].strip():
        return 0  # the underline ends a longer paragraph; korefw reads one-line titles only
    return 1 if m.group(1).startswith("=") else 2


def scan_markdown(text: str, file: str) -> Iterator[Heading | RawTable]:
    lines = _preprocess(text)
    n = len(lines)
    i = 0
    fence: str | None = None
    in_snippet = False
    while i < n:
        raw = lines[i]
        s = raw.strip()
        if fence:
            if s.startswith(fence):
                fence = None
            i += 1
            continue
        if m := _FENCE.match(raw):
            fence = m.group(1)
            i += 1
            continue
        if _SNIPPET.match(raw):
            if s.lstrip(";") == "--8<--":  # block form: file names follow until the closing line
                in_snippet = not in_snippet
            i += 1
            continue
        if in_snippet:
            i += 1
            continue
        if m := _ATX.match(raw):
            yield Heading(len(m.group(1)), _heading_text(m.group(2)), i + 1)
            i += 1
            continue
        if level := _setext_level(lines, i):
            yield Heading(level, _heading_text(s), i + 1)
            i += 2
            continue
        if m := _HTML_HEADING.match(raw):
            yield Heading(int(m.group(1)), _heading_text(m.group(2)), i + 1)
            i += 1
            continue
        if "<table" in s.lower():
            j = i
            while j < n and "</table" not in lines[j].lower():
                j += 1
            if j == n:
                raise VendorDataError("<table> is never closed", where=f"{file}:{i + 1}")
            yield from scan_html("\n".join(lines[i : j + 1]), file, line_offset=i)
            i = j + 1
            continue
        delimiter_next = i + 1 < n and "|" in lines[i + 1] and _DELIMITER.match(lines[i + 1])
        if _PIPE.search(s) and delimiter_next:
            table, i = _pipe_table(lines, i, file)
            yield table
            continue
        if s.startswith("|"):
            raise VendorDataError(
                "table row without a header and delimiter row above it",
                where=f"{file}:{i + 1}",
                value=s,
            )
        i += 1


def _pipe_table(lines: list[str], i: int, file: str) -> tuple[RawTable, int]:
    header = _split_cells([(lines[i], i + 1)])
    ncols = len(header)
    delim = _split_cells([(lines[i + 1], i + 2)])
    if len(delim) != ncols:
        raise VendorDataError(
            f"delimiter row has {len(delim)} cells but the header has {ncols}",
            where=f"{file}:{i + 2}",
            value=lines[i + 1].strip(),
        )
    body: list[Row] = []
    j = i + 2
    n = len(lines)
    # GFM allows tables without a leading pipe; then every line holding a pipe is a row.
    leading = lines[i].strip().startswith("|")

    def is_row(line: str) -> bool:
        s = line.strip()
        return s.startswith("|") if leading else bool(s and _PIPE.search(s))

    while j < n and is_row(lines[j]):
        segs = [(lines[j], j + 1)]
        j += 1
        # A row split over physical lines: the first line lacks its closing pipe or some
        # cells, and the next line does not start a row of its own.
        while leading and j < n and lines[j].strip() and not lines[j].strip().startswith("|"):
            joined = " ".join(s.strip() for s, _ in segs)
            if _ends_with_pipe(joined) and len(_split_cells(segs)) >= ncols:
                break
            segs.append((lines[j], j + 1))
            j += 1
        body.append(Row(_split_cells(segs), segs[0][1]))
    return RawTable([Row(header, i + 1)], body, i + 1), j


def _ends_with_pipe(text: str) -> bool:
    return text.endswith("|") and not text.endswith("\\|")


def _split_cells(segs: list[tuple[str, int]]) -> list[Cell]:
    """Split a (possibly multi-line) pipe row into cells, each with its own line."""
    text = ""
    starts: list[tuple[int, int]] = []
    for k, (raw, lineno) in enumerate(segs):
        if k:
            text += " "
        starts.append((len(text), lineno))
        text += raw.strip()

    def line_at(pos: int) -> int:
        return [no for start, no in starts if start <= pos][-1]

    bounds = [m.start() for m in _PIPE.finditer(text)]
    pieces: list[tuple[str, int]] = []
    prev = 0
    for b in [*bounds, len(text)]:
        pieces.append((text[prev:b], prev))
        prev = b + 1
    if text.startswith("|"):
        pieces = pieces[1:]
    if _ends_with_pipe(text) and pieces:
        pieces = pieces[:-1]
    cells = []
    for piece, pos in pieces:
        lead = len(piece) - len(piece.lstrip())
        cells.append(Cell(piece.strip().replace("\\|", "|"), line_at(pos + lead)))
    return cells


# HTML


@dataclass
class _HCell:
    parts: list[str]
    line: int
    rowspan: int = 1
    colspan: int = 1
    #: An ``<hN>`` inside the cell: (level, text); its text is not part of the cell's.
    heading: tuple[int, str] | None = None


@dataclass
class _HRow:
    line: int
    head: bool
    cells: list[_HCell] = field(default_factory=list)
    all_th: bool = True

    @property
    def heading(self) -> tuple[int, str] | None:
        """The first heading written in one of the row's own cells."""
        return next((c.heading for c in self.cells if c.heading), None)


class _HtmlScanner(HTMLParser):
    """Collects headings and tables (with their lines) from HTML text."""

    def __init__(self, file: str, line_offset: int) -> None:
        super().__init__(convert_charrefs=True)
        self.file = file
        self._line_offset = line_offset
        self.events: list[Heading | RawTable] = []
        self._heading: tuple[int, list[str], int] | None = None
        self._rows: list[_HRow] | None = None
        self._table_line = 0
        self._in_head = False
        self._row: _HRow | None = None
        self._cell: _HCell | None = None
        self._cell_heading: tuple[int, list[str]] | None = None

    def _line(self) -> int:
        return self.getpos()[0] + self._line_offset

    def _span(self, attrs: list[tuple[str, str | None]], name: str) -> int:
        value = dict(attrs).get(name)
        if value is None or not value.strip():
            return 1
        try:
            n = int(value)
        except ValueError:
            n = -1
        if n < 0 or n > 1000:
            raise VendorDataError(f"bad {name}", where=f"{self.file}:{self._line()}", value=value)
        return max(n, 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if (m := re.fullmatch(r"h([1-6])", tag)) and self._cell is not None:
            self._cell_heading = (int(m.group(1)), [])
        elif m:
            self._heading = (int(m.group(1)), [], self._line())
        elif tag == "table":
            if self._rows is not None:
                raise VendorDataError("nested <table>", where=f"{self.file}:{self._line()}")
            self._rows, self._table_line, self._in_head = [], self._line(), False
        elif tag == "br" and self._cell_heading:
            self._cell_heading[1].append(" ")
        elif self._rows is None:
            if tag == "br" and self._heading:
                self._heading[1].append(" ")
        elif tag == "thead":
            self._in_head = True
        elif tag in {"tbody", "tfoot"}:
            self._close_row()
            self._in_head = False
        elif tag == "tr":
            self._close_row()
            self._row = _HRow(self._line(), self._in_head)
        elif tag in {"td", "th"}:
            self._close_cell()
            if self._row is None:
                self._row = _HRow(self._line(), self._in_head)
            self._row.all_th &= tag == "th"
            self._cell = _HCell(
                [], self._line(), self._span(attrs, "rowspan"), self._span(attrs, "colspan")
            )
        elif tag == "br" and self._cell:
            self._cell.parts.append("<br>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag) and self._cell_heading and self._cell is not None:
            level, parts = self._cell_heading
            self._cell_heading = None
            self._cell.heading = (level, _heading_text("".join(parts)))
        elif re.fullmatch(r"h[1-6]", tag) and self._heading:
            level, parts, line = self._heading
            self._heading = None
            self.events.append(Heading(level, _heading_text("".join(parts)), line))
        elif self._rows is None:
            return
        elif tag in {"td", "th"}:
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "thead":
            self._close_row()
            self._in_head = False
        elif tag == "table":
            self._close_row()
            self.events.extend(self._table(self._rows))
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._cell_heading is not None:
            self._cell_heading[1].append(html.escape(data, quote=False))
        elif self._cell is not None:
            self._cell.parts.append(html.escape(data, quote=False))
        elif self._heading is not None:
            self._heading[1].append(html.escape(data, quote=False))

    def _close_cell(self) -> None:
        self._cell_heading = None
        if self._cell is not None and self._row is not None:
            self._row.cells.append(self._cell)
        self._cell = None

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None and self._rows is not None and self._row.cells:
            self._rows.append(self._row)
        self._row = None

    def _table(self, hrows: list[_HRow]) -> list[Heading | RawTable]:
        """Split one HTML table into sections and tables.

        Kore's legacy pages put a section title (``<h2>``) in a table cell, often a
        ``colspan`` or ``rowspan`` header cell; start a new header in the middle of a
        table, its first cell sometimes the component of the rows below; and leave a
        header out where a table continues the previous one's columns (then the
        :class:`RawTable` has no header rows).
        """
        if not hrows:
            raise VendorDataError("empty <table>", where=f"{self.file}:{self._table_line}")
        out: list[Heading | RawTable] = []
        current = RawTable([], [], self._table_line)

        def flush(line: int) -> RawTable:
            if current.header or current.body:
                out.append(current)
            return RawTable([], [], line)

        for hr, row in zip(hrows, _expand_spans(hrows), strict=True):
            heading = hr.heading
            if heading:
                current = flush(hr.line)
                out.append(Heading(heading[0], heading[1], hr.line, in_table=True))
            if hr.head or hr.all_th or _looks_like_header(row.cells):
                if current.body:
                    current = flush(hr.line)
                first = cell_text(row.cells[0].text) if row.cells else ""
                if first and not is_header_word(first) and not current.header:
                    current.component = first
                    row = Row([Cell("", row.cells[0].line), *row.cells[1:]], row.line)
                current.header.append(row)
            elif heading and not any(cell_text(c.text) for c in row.cells):
                continue  # a title row
            else:
                current.body.append(row)
        flush(0)
        return out


def _looks_like_header(cells: list[Cell]) -> bool:
    """Two or more cells name a column (``Protocol``, ``Destination Port``, ...)."""
    return sum(column_role(c.text) is not None for c in cells if cell_text(c.text)) >= 2


def _expand_spans(hrows: list[_HRow]) -> list[Row]:
    """Lay out rowspan/colspan on a grid: a rowspan repeats the cell in the rows below,
    a colspan leaves the spanned columns empty (as a pipe table would)."""
    pending: dict[int, list] = {}  # column -> [Cell, rows still to fill]
    out: list[Row] = []
    for hr in hrows:
        queue = list(hr.cells)
        cells: list[Cell] = []
        col = 0
        while queue or any(c >= col for c in pending):
            if col in pending:
                cell, left = pending[col]
                cells.append(Cell(cell.text, cell.line))
                if left <= 1:
                    del pending[col]
                else:
                    pending[col][1] = left - 1
                col += 1
                continue
            if not queue:
                cells.append(Cell("", hr.line))
                col += 1
                continue
            hc = queue.pop(0)
            for k in range(hc.colspan):
                cell = Cell("".join(hc.parts) if k == 0 else "", hc.line)
                cells.append(cell)
                if hc.rowspan > 1:
                    pending[col] = [cell, hc.rowspan - 1]
                col += 1
        out.append(Row(cells, hr.line))
    return out


def scan_html(text: str, file: str, *, line_offset: int) -> list[Heading | RawTable]:
    scanner = _HtmlScanner(file, line_offset)
    scanner.feed(text)
    scanner.close()
    if scanner._rows is not None:
        raise VendorDataError("<table> is never closed", where=f"{file}:{scanner._table_line}")
    return scanner.events
