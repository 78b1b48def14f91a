"""Tables as found on a vendor page, and the words of their headers and cells.

The page scanners (:mod:`.scan`) produce these types; :mod:`.vendor` interprets them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

COMPONENT = "component"
PROTOCOL = "protocol"
SOURCE_IP = "source ip"
SOURCE_PORT = "source port"
DESTINATION = "destination"
DESTINATION_PORT = "destination port"

#: First-column headers that only title the column (see :func:`component_qualifier`).
_PLAIN_COMPONENT_TITLES = re.compile(
    r"^(|components?|domains?|domain (type|name)|secure media\b.*)$"
)


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
class Heading:
    """A heading of the page (a section title), or a title inside a table cell."""

    level: int
    text: str
    line: int
    #: Written inside a table cell (Kore's legacy HTML pages).
    in_table: bool = False


def column_role(header: str) -> str | None:
    """The role a header names (:data:`PROTOCOL`, :data:`DESTINATION`, ...) or None.

    Synonyms: ``Protocol``, ``Protocol (TURN TLS)``; ``Source``, ``Source IP``;
    ``Source Port``; ``Destination Port``, ``Destination Port Range``, ``Port(s)``;
    ``Allowed Destinations``, ``Destination*``, ``Destination IP / FQDN``,
    ``Destination (IP Range)``, ``Destination (FQDN)``, ``Destination IP Ranges``.
    """
    h = header_key(header)
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
    if _PLAIN_COMPONENT_TITLES.match(header_key(header)):
        return ""
    m = re.search(r"(\([^()]+\))\s*$", header)
    return m.group(1) if m else ""


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


def cell_text(raw: str) -> str:
    """A cell's text without markup, on one line."""
    return " ".join(inline_lines(raw))


def header_key(header: str) -> str:
    """A header as compared: plain lower-case text without footnote marks."""
    h = cell_text(header).lower()
    h = re.sub(r"[*†‡§¹²³]+", "", h)
    return re.sub(r"\s+", " ", h).strip()


def is_header_word(text: str) -> bool:
    """True when ``text`` is a column header korefw knows."""
    return column_role(text) is not None or bool(_PLAIN_COMPONENT_TITLES.match(header_key(text)))
