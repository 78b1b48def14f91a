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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import KorefwError, VendorDataError
from ..inputfile import read_input_text
from ..rules.addresses import IPNetwork, check_breadth, parse_ip_destination
from ..rules.model import Origin, Protocol, Rule, RuleSet, normalize_fqdn
from ..rules.ports import parse_ports
from .cells import (
    COMPONENT,
    DESTINATION,
    DESTINATION_PORT,
    PROTOCOL,
    SOURCE_IP,
    SOURCE_PORT,
    Cell,
    RawTable,
    Row,
    cell_text,
    column_role,
    component_qualifier,
    inline_lines,
    is_header_word,
)
from .scan import scan_html, scan_markdown, sectioned

#: Vendor protocol words and the L4 protocol each runs on.
PROTOCOL_WORDS: dict[str, tuple[Protocol, ...]] = {
    "tcp": (Protocol.TCP,),
    "udp": (Protocol.UDP,),
    "tls": (Protocol.TCP,),
    "wss": (Protocol.TCP,),
}

_CONTINUE = "↳"


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
        events = list(scan_html(text, file, line_offset=0))
    elif fmt == "markdown":
        events = list(scan_markdown(text, file))
    else:
        raise KorefwError("unknown page format (expected markdown or html)", value=fmt)
    rules: list[Rule] = []
    previous: RawTable | None = None
    for table in sectioned(events, file):
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
                value=" | ".join(cell_text(c.text) for c in header),
            )
    names = [cell_text(c.text) or f"column {k + 1}" for k, c in enumerate(header)]
    qualifier = component_qualifier(cell_text(header[0].text)) if roles[0] == COMPONENT else ""
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


# --------------------------------------------------------------------------- interpretation


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
            and all(is_header_word(c.text) for c in sub if cell_text(c.text))
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
        names = [low if cell_text(low.text) else up for low, up in zip(names, upper, strict=True)]
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
                    value=cell_text(cell.text),
                )
            role = COMPONENT
        if role in roles:
            raise VendorDataError(
                f"second {role} column",
                where=f"{file}:{cell.line}: header cell {k + 1}",
                value=cell_text(cell.text),
            )
        roles.append(role)
    return roles


def _fit(row: Row, ncols: int, file: str) -> list[Cell]:
    """The row's cells; a row shorter than the header may only omit empty trailing cells."""
    cells = row.cells
    if len(cells) == ncols:
        return cells
    if len(cells) < ncols and not any(cell_text(c.text) for c in cells[1:]):
        return cells + [Cell("", row.line)] * (ncols - len(cells))
    raise VendorDataError(
        f"row has {len(cells)} cells but the header has {ncols}",
        where=f"{file}:{row.line}",
        value=" | ".join(cell_text(c.text) for c in cells),
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
