"""Read Kore.ai's per-region firewall pages into egress rules, one vendor row per rule.

Kore publishes the same tables in several syntaxes; all of them read the same way:

* GFM pipe tables (with or without ``:---`` alignment), rows split over two physical
  lines, ``\\|`` escapes; HTML ``<table>`` blocks (``rowspan``/``colspan``, ``<thead>``),
  inside a Markdown/MDX page or as a whole HTML page.
* MDX front matter, ``{/* */}`` and ``<!-- -->`` comments, ``---`` rules, fenced code
  and mkdocs ``--8<--`` include lines are skipped; they hold no rules.
* A two-level header whose real column names stand in the first body row (US page).
* Cell markup: ``<br>``, ``**bold**``, backticks, ``<a href>`` and ``[text](url)`` links.

Each table belongs to the ``##`` heading above it (its *section*). Its columns are found
by their header (many synonyms, see :func:`column_role`); the first column, when it is
not one of those, names the *component*. Source IP / Source Port columns must say
``ANY`` (korefw models destinations only). Anything that cannot be read exactly raises
:class:`VendorDataError` naming the file, line and cell and the bad value: no row is
ever skipped silently, and rows are neither merged nor deduplicated (lint reports
duplicates).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ..errors import KorefwError, VendorDataError
from ..inputfile import read_input_text
from ..rules.addresses import IPNetwork, check_breadth, parse_ip_destination
from ..rules.model import Origin, Protocol, Rule, RuleSet, normalize_fqdn
from ..rules.ports import parse_ports

# Column roles.
COMPONENT = "component"
PROTOCOL = "protocol"
SOURCE_IP = "source ip"
SOURCE_PORT = "source port"
DESTINATION = "destination"
DESTINATION_PORT = "destination port"

#: Vendor protocol words and the L4 protocol each runs on.
PROTOCOL_WORDS: dict[str, tuple[Protocol, ...]] = {
    "tcp": (Protocol.TCP,),
    "udp": (Protocol.UDP,),
    "tls": (Protocol.TCP,),
    "wss": (Protocol.TCP,),
}

#: First-column headers that only title the column (see :func:`component_qualifier`).
_PLAIN_COMPONENT_TITLES = re.compile(
    r"^(|components?|domains?|domain (type|name)|secure media\b.*)$"
)

_CONTINUE = "↳"


@dataclass
class Cell:
    """One table cell: its text as written (inline markup kept) and its 1-based line."""

    text: str
    line: int


@dataclass
class Row:
    """One table row (after split rows are joined and spans expanded)."""

    cells: list[Cell]
    line: int


@dataclass
class RawTable:
    """A table as found on the page, before its columns are interpreted."""

    header: list[Row]
    body: list[Row]
    line: int
    section: str = ""
    #: The component a header row's first cell names for the rows below (legacy HTML).
    component: str = ""


@dataclass
class _Heading:
    level: int
    text: str
    line: int
    #: Written inside a table cell (Kore's legacy HTML pages).
    in_table: bool = False


# --------------------------------------------------------------------------- public API


def import_page(path: str | Path, *, region: str = "", retrieved: str = "") -> RuleSet:
    """Read one vendor page (Markdown, MDX or HTML) into a :class:`RuleSet`."""
    p = Path(path)
    text = read_input_text(p, what="vendor page", error=VendorDataError)
    fmt = "html" if p.suffix.lower() in {".html", ".htm"} else None
    return import_text(text, file=p.name, region=region, retrieved=retrieved, fmt=fmt)


def import_text(
    text: str,
    *,
    file: str,
    region: str = "",
    retrieved: str = "",
    fmt: str | None = None,
) -> RuleSet:
    """Read a vendor page's text; ``fmt`` is ``"markdown"``, ``"html"`` or None to sniff.

    ``file`` is the name used in :class:`Origin` and in error messages.
    """
    if fmt is None:
        head = text.lstrip()[:200].lower()
        fmt = "html" if head.startswith(("<!doctype html", "<html")) else "markdown"
    if fmt == "html":
        events = list(_scan_html(text, file, line_offset=0))
    elif fmt == "markdown":
        events = list(_scan_markdown(text, file))
    else:
        raise KorefwError("unknown page format (expected markdown or html)", value=fmt)
    rules: list[Rule] = []
    previous: RawTable | None = None
    for table in _sectioned(events, file):
        if not table.header:
            if previous is None:  # no header anywhere above: the first row is the header
                table.header, table.body = table.body[:1], table.body[1:]
            else:  # a table without a header continues the previous table's columns
                names, _ = _header_names(previous, file)
                table.header = [Row(names, table.line)]
        rules.extend(read_table(table, file=file, region=region))
        previous = table
    if not rules:
        raise VendorDataError("no firewall rule tables found on the page", where=file)
    return RuleSet(tuple(rules), region=region, source=file, retrieved=retrieved)


def read_table(table: RawTable, *, file: str, region: str = "") -> list[Rule]:
    """Interpret one table: find its columns, then read each body row as one rule."""
    header, body = _header_names(table, file)
    roles = _column_roles(header, file)
    have = set(roles)
    for role in (PROTOCOL, DESTINATION, DESTINATION_PORT):
        if role not in have:
            raise VendorDataError(
                f"table has no {role} column",
                where=f"{file}:{table.line}",
                value=" | ".join(_text(c.text) for c in header),
            )
    names = [_text(c.text) or f"column {k + 1}" for k, c in enumerate(header)]
    qualifier = component_qualifier(_text(header[0].text)) if roles[0] == COMPONENT else ""
    ncols = len(header)
    current = _qualify(table.component, qualifier)
    rules: list[Rule] = []
    for row in body:
        cells = _fit(row, ncols, file)
        view = _RowView(file, {roles[k]: (cells[k], names[k]) for k in range(ncols)})
        lines, where = view.lines, view.where

        comp_text = " ".join(lines(COMPONENT))
        if comp_text and comp_text != _CONTINUE:
            current = _qualify(comp_text.removeprefix(_CONTINUE).strip(), qualifier)
        proto_l, dest_l, port_l = lines(PROTOCOL), lines(DESTINATION), lines(DESTINATION_PORT)
        for role in (SOURCE_IP, SOURCE_PORT):
            src = " ".join(lines(role))
            if src and src.lower() != "any":
                raise VendorDataError(
                    "source must be ANY (korefw models egress destinations only)",
                    where=where(role),
                    value=src,
                )
        if not (proto_l or dest_l or port_l):
            # A row naming only a component opens a group; an empty row holds nothing.
            continue
        if not dest_l:
            raise VendorDataError("empty destination", where=where(DESTINATION), value="")
        if not port_l:
            raise VendorDataError("empty destination port", where=where(DESTINATION_PORT), value="")
        label = " ".join(proto_l)
        # A row with no protocol (US "public FQDN") is read as TCP; lint warns about it.
        protocols = parse_protocols(label, where=where(PROTOCOL)) if label else (Protocol.TCP,)
        cidrs, fqdns, aliases = parse_destination(dest_l, where=where(DESTINATION))
        doubts = _port_doubts(port_l)
        if len(dest_l) > 1 and len(port_l) > 1:
            doubts.append(
                f"destination and port cells both list several values ({len(dest_l)} and "
                f"{len(port_l)} lines): read as every destination with every port, not as "
                "line-by-line pairs"
            )
        try:
            ports = parse_ports(", ".join(port_l), where=where(DESTINATION_PORT))
        except KorefwError as exc:
            raise _vendor(exc, where(DESTINATION_PORT)) from None
        try:
            rules.append(
                Rule(
                    section=table.section,
                    component=current,
                    protocols=protocols,
                    ports=ports,
                    cidrs=tuple(cidrs),
                    fqdns=tuple(fqdns),
                    region=region,
                    label=label,
                    destination=" ".join(dest_l),
                    aliases=tuple(aliases),
                    origin=Origin(file, row.line),
                    doubts=tuple(doubts),
                )
            )
        except KorefwError as exc:
            raise _vendor(exc, f"{file}:{row.line}") from None
    return rules


_GROUPED = re.compile(r"(?<![\d,.])(\d{1,3})((?:,\d{3})+)(?![\d,])")
_DASH_BEFORE = re.compile(r"(?:[-–—−]|\bto)\s*$")
_DASH_AFTER = re.compile(r"^\s*(?:[-–—−]|to\b)")


def _port_doubts(port_lines: list[str]) -> list[str]:
    """Single ports written with a thousands separator that also read as a port list:
    ``22,443`` is port 22443, or ports 22 and 443. ``10,000`` (``000`` is no port) and
    range ends (``10,000 – 60,000``) read one way only."""
    out = []
    for text in port_lines:
        for m in _GROUPED.finditer(text):
            groups = [m.group(1), *m.group(2).lstrip(",").split(",")]
            if any(g.startswith("0") for g in groups[1:]):
                continue
            if _DASH_BEFORE.search(text[: m.start()]) or _DASH_AFTER.search(text[m.end() :]):
                continue
            out.append(
                f"port {m.group(0)!r} is read as port {''.join(groups)}; it could also mean "
                f"ports {' and '.join(groups)}"
            )
    return out


@dataclass
class _RowView:
    """One body row's cells by column role, with their error locations."""

    file: str
    cells: dict[str, tuple[Cell, str]]

    def lines(self, role: str) -> list[str]:
        """The cell's text lines without markup (none when the table lacks the column)."""
        return inline_lines(self.cells[role][0].text) if role in self.cells else []

    def where(self, role: str) -> str:
        """``file:line: cell 'Header'`` for error messages."""
        cell, name = self.cells[role]
        return f"{self.file}:{cell.line}: cell '{name}'"


def column_role(header: str) -> str | None:
    """The role a header names (:data:`PROTOCOL`, :data:`DESTINATION`, ...) or None.

    Synonyms: ``Protocol``, ``Protocol (TURN TLS)``; ``Source``, ``Source IP``;
    ``Source Port``; ``Destination Port``, ``Destination Port Range``, ``Port(s)``;
    ``Allowed Destinations``, ``Destination*``, ``Destination IP / FQDN``,
    ``Destination (IP Range)``, ``Destination (FQDN)``, ``Destination IP Ranges``.
    """
    h = _header_key(header)
    if h.startswith("protocol"):
        return PROTOCOL
    if h.startswith("source"):
        return SOURCE_PORT if "port" in h else SOURCE_IP
    if h in {"port", "ports"} or (h.startswith(("destination", "dest")) and "port" in h):
        return DESTINATION_PORT
    if h.startswith(("destination", "allowed destination")) or h in {"ip / fqdn", "ip/fqdn"}:
        return DESTINATION
    return None


def component_qualifier(header: str) -> str:
    """The qualifier a first-column header adds to every component of its table.

    Most first-column headers only title the column (``Component``, ``Domain``,
    ``Domain Type``, ``Secure Media (ICE/STUN/SRTP) Edge Locations``, or blank). The UAE
    page instead names the table's subject there, ``SAVG (Agent SBC)``, and its row says
    only ``Session Border Controller (SBC)``. The other regions write that same SBC as
    ``Session Border Controller (SBC) (Agent SBC)``, so such a header's trailing
    parenthesised part is appended to each component that does not already carry it:
    the UAE row becomes ``Session Border Controller (SBC) (Agent SBC)``, and a filter like
    ``--component '*Agent SBC*'`` selects the same egress rules in every region.
    """
    if _PLAIN_COMPONENT_TITLES.match(_header_key(header)):
        return ""
    m = re.search(r"(\([^()]+\))\s*$", header)
    return m.group(1) if m else ""


def parse_protocols(text: str, *, where: str | None = None) -> tuple[Protocol, ...]:
    """Read a protocol cell into L4 protocols.

    ``TCP/UDP``, ``TCP, UDP (TURN)``, ``TCP (TURN TLS)``, ``TLS``, ``WSS``: TLS and WSS
    run on TCP; parenthesised words qualify the protocol and must not contradict it.
    """
    qualifiers = re.findall(r"\(([^()]*)\)", text)
    base = re.sub(r"\([^()]*\)", " ", text)
    if "(" in base or ")" in base:
        raise VendorDataError("unbalanced parentheses in protocol", where=where, value=text)
    words = [w for w in re.split(r"[\s/,&+]+|\band\b", base.lower()) if w]
    if not words:
        raise VendorDataError("no protocol named", where=where, value=text)
    out: set[Protocol] = set()
    for w in words:
        if w not in PROTOCOL_WORDS:
            raise VendorDataError(
                f"unknown protocol (expected one of {', '.join(PROTOCOL_WORDS).upper()})",
                where=where,
                value=text,
            )
        out.update(PROTOCOL_WORDS[w])
    for q in qualifiers:
        if re.search(r"\btls\b", q, re.I) and Protocol.TCP not in out:
            raise VendorDataError(
                "TLS runs over TCP, but the row names no TCP", where=where, value=text
            )
    return tuple(sorted(out))


def parse_destination(
    lines: Iterable[str], *, where: str | None = None
) -> tuple[list[IPNetwork], list[str], list[str]]:
    """Read a destination cell into (CIDRs, FQDNs, aliases).

    Pieces are separated by line breaks, commas, semicolons or ``(or)``; each is an
    address, a CIDR, a range ``a - b`` (any dash, or ``to``) or an FQDN. ``IP (fqdn)``
    makes the IP the destination and the name an alias.
    """
    cidrs: list[IPNetwork] = []
    fqdns: list[str] = []
    aliases: list[str] = []
    pieces = [p for ln in lines for p in _split_destination(ln)]
    if not pieces:
        raise VendorDataError("empty destination", where=where, value=" ".join(lines))
    try:
        for piece in pieces:
            m = re.fullmatch(r"(.+?)\s*\(([^()]*)\)", piece)
            if m and _is_ipish(m.group(1)):
                cidrs.extend(_networks(m.group(1), where))
                for alias in _split_destination(m.group(2)):
                    if _is_ipish(alias):
                        raise KorefwError(
                            "expected a host name in parentheses after the address",
                            where=where,
                            value=piece,
                        )
                    aliases.append(normalize_fqdn(alias, where=where))
            elif "(" in piece or ")" in piece:
                raise KorefwError(
                    "unexpected parentheses (expected 'IP (fqdn)')", where=where, value=piece
                )
            elif _is_ipish(piece):
                cidrs.extend(_networks(piece, where))
            elif piece.lower() in {"any", "*", "all"}:
                raise KorefwError(
                    "destination ANY cannot be an egress rule (expected addresses or FQDNs)",
                    where=where,
                    value=piece,
                )
            else:
                fqdns.append(normalize_fqdn(piece, where=where))
    except KorefwError as exc:
        raise _vendor(exc, where) from None
    return cidrs, fqdns, aliases


def inline_lines(text: str) -> list[str]:
    """A cell's text without markup, one entry per ``<br>``-separated line."""
    t = re.sub(r"\s+", " ", text)
    t = re.sub(r"<br\s*/?>", "\n", t, flags=re.I)
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)
    t = re.sub(r"</?[A-Za-z][^<>]*>", "", t)
    t = t.replace("**", "").replace("__", "").replace("`", "")
    t = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>~])", r"\1", t)
    t = html.unescape(t)
    return [ln for ln in (re.sub(r"\s+", " ", x).strip() for x in t.split("\n")) if ln]


# --------------------------------------------------------------------------- interpretation


def _text(raw: str) -> str:
    return " ".join(inline_lines(raw))


def _header_key(header: str) -> str:
    h = _text(header).lower()
    h = re.sub(r"[*†‡§¹²³]+", "", h)
    return re.sub(r"\s+", " ", h).strip()


def _is_header_word(text: str) -> bool:
    return column_role(text) is not None or bool(_PLAIN_COMPONENT_TITLES.match(_header_key(text)))


def _header_names(table: RawTable, file: str) -> tuple[list[Cell], list[Row]]:
    """The column headers, merging a two-level header into one row of names.

    A two-level header has group titles on top (``Your Intranet``, ``Allowed
    Destinations``) and the real names in the next row; in a pipe table that next row
    is the first body row. For each column the lower name wins, else the upper one.
    """
    header = [list(r.cells) for r in table.header]
    body = list(table.body)
    top = header[0]
    if len(header) == 1 and body:
        roles_top = {column_role(c.text) for c in top}
        sub = body[0].cells
        if (
            PROTOCOL not in roles_top
            and any(column_role(c.text) == PROTOCOL for c in sub)
            and all(_is_header_word(c.text) for c in sub if _text(c.text))
        ):
            header.append(list(sub))
            body = body[1:]
    names = header[-1]
    for upper in reversed(header[:-1]):
        if len(upper) != len(names):
            raise VendorDataError(
                "header rows have different numbers of cells",
                where=f"{file}:{table.line}",
                value=f"{len(upper)} and {len(names)}",
            )
        names = [low if _text(low.text) else up for low, up in zip(names, upper, strict=True)]
    return names, body


def _column_roles(header: list[Cell], file: str) -> list[str]:
    roles: list[str] = []
    for k, cell in enumerate(header):
        role = column_role(cell.text)
        if role is None:
            if k != 0:
                raise VendorDataError(
                    "unknown column (expected Protocol, Source IP, Source Port, "
                    "Destination or Destination Port)",
                    where=f"{file}:{cell.line}: header cell {k + 1}",
                    value=_text(cell.text),
                )
            role = COMPONENT
        if role in roles:
            raise VendorDataError(
                f"second {role} column",
                where=f"{file}:{cell.line}: header cell {k + 1}",
                value=_text(cell.text),
            )
        roles.append(role)
    return roles


def _fit(row: Row, ncols: int, file: str) -> list[Cell]:
    """The row's cells; a row shorter than the header may only omit empty trailing cells."""
    cells = row.cells
    if len(cells) == ncols:
        return cells
    if len(cells) < ncols and not any(_text(c.text) for c in cells[1:]):
        return cells + [Cell("", row.line)] * (ncols - len(cells))
    raise VendorDataError(
        f"row has {len(cells)} cells but the header has {ncols}",
        where=f"{file}:{row.line}",
        value=" | ".join(_text(c.text) for c in cells),
    )


def _qualify(name: str, qualifier: str) -> str:
    if not name or not qualifier or qualifier.lower() in name.lower():
        return name
    return f"{name} {qualifier}"


def _split_destination(text: str) -> list[str]:
    """Split on commas/semicolons outside parentheses and on ``(or)`` / `` or ``."""
    parts: list[str] = []
    depth = 0
    buf = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch in ",;" and depth == 0:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    out: list[str] = []
    for part in parts:
        out.extend(re.split(r"\s*\(\s*or\s*\)\s*|\s+or\s+", part, flags=re.I))
    return [p.strip() for p in out if p.strip() and p.strip().lower() != "or"]


def _is_ipish(text: str) -> bool:
    """True for text shaped like an address, CIDR or range: digits, dots, slashes and
    dashes (or "to"), or any colon; a host name always has a letter."""
    s = text.strip()
    if ":" in s:
        return True
    s = re.sub(r"\bto\b", "-", s)
    return bool(re.fullmatch(r"[\d.\s/\-–—−]+", s)) and any(ch.isdigit() for ch in s)


def _networks(text: str, where: str | None) -> list[IPNetwork]:
    nets = parse_ip_destination(text, where=where)
    for net in nets:
        check_breadth(net, where=where)
    return nets


def _vendor(exc: KorefwError, where: str | None) -> VendorDataError:
    if isinstance(exc, VendorDataError):
        return exc
    return VendorDataError(exc.detail, where=exc.where or where, value=exc.value)


# --------------------------------------------------------------------------- page scanning


def _sectioned(events: Iterable[_Heading | RawTable], file: str) -> Iterator[RawTable]:
    """Give each table its section. On a legacy HTML page (section titles inside table
    cells) a table above the first title belongs to the page's ``#`` title."""
    evs = list(events)
    legacy = any(isinstance(ev, _Heading) and ev.in_table for ev in evs)
    section: str | None = None
    for ev in evs:
        if isinstance(ev, _Heading):
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
    return _text(raw)


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


def _scan_markdown(text: str, file: str) -> Iterator[_Heading | RawTable]:
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
            yield _Heading(len(m.group(1)), _heading_text(m.group(2)), i + 1)
            i += 1
            continue
        if level := _setext_level(lines, i):
            yield _Heading(level, _heading_text(s), i + 1)
            i += 2
            continue
        if m := _HTML_HEADING.match(raw):
            yield _Heading(int(m.group(1)), _heading_text(m.group(2)), i + 1)
            i += 1
            continue
        if "<table" in s.lower():
            j = i
            while j < n and "</table" not in lines[j].lower():
                j += 1
            if j == n:
                raise VendorDataError("<table> is never closed", where=f"{file}:{i + 1}")
            yield from _scan_html("\n".join(lines[i : j + 1]), file, line_offset=i)
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
        self.events: list[_Heading | RawTable] = []
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
            self.events.append(_Heading(level, _heading_text("".join(parts)), line))
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

    def _table(self, hrows: list[_HRow]) -> list[_Heading | RawTable]:
        """Split one HTML table into sections and tables.

        Kore's legacy pages put a section title (``<h2>``) in a table cell, often a
        ``colspan`` or ``rowspan`` header cell; start a new header in the middle of a
        table, its first cell sometimes the component of the rows below; and leave a
        header out where a table continues the previous one's columns (then the
        :class:`RawTable` has no header rows).
        """
        if not hrows:
            raise VendorDataError("empty <table>", where=f"{self.file}:{self._table_line}")
        out: list[_Heading | RawTable] = []
        current = RawTable([], [], self._table_line)

        def flush(line: int) -> RawTable:
            if current.header or current.body:
                out.append(current)
            return RawTable([], [], line)

        for hr, row in zip(hrows, _expand_spans(hrows), strict=True):
            heading = hr.heading
            if heading:
                current = flush(hr.line)
                out.append(_Heading(heading[0], heading[1], hr.line, in_table=True))
            if hr.head or hr.all_th or _looks_like_header(row.cells):
                if current.body:
                    current = flush(hr.line)
                first = _text(row.cells[0].text) if row.cells else ""
                if first and not _is_header_word(first) and not current.header:
                    current.component = first
                    row = Row([Cell("", row.cells[0].line), *row.cells[1:]], row.line)
                current.header.append(row)
            elif heading and not any(_text(c.text) for c in row.cells):
                continue  # a title row
            else:
                current.body.append(row)
        flush(0)
        return out


def _looks_like_header(cells: list[Cell]) -> bool:
    """Two or more cells name a column (``Protocol``, ``Destination Port``, ...)."""
    return sum(column_role(c.text) is not None for c in cells if _text(c.text)) >= 2


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


def _scan_html(text: str, file: str, *, line_offset: int) -> list[_Heading | RawTable]:
    scanner = _HtmlScanner(file, line_offset)
    scanner.feed(text)
    scanner.close()
    if scanner._rows is not None:
        raise VendorDataError("<table> is never closed", where=f"{file}:{scanner._table_line}")
    return scanner.events
