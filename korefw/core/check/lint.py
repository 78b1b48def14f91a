"""Warnings about vendor data that is readable but probably not what Kore meant.

Lint never changes a rule: it reports, and the rules stay exactly as the vendor wrote
them. Checks (by code):

``label-mismatch``
    One endpoint labelled differently on different rows of the same section and
    component: same protocols and ports, different vendor wording (8443 as ``TCP`` on
    one SBC and ``TLS``/``WSS`` on its twin).
``turn-3478``
    Port 3478 labelled ``TURN TLS``. TURN on 3478 is plain TCP and UDP (other Kore
    pages say ``TCP, UDP``); TURN TLS runs on 443/5349. As written, UDP 3478 is not
    allowed.
``alias-conflict``
    An ``IP (fqdn)`` cell whose host name is written beside a different address on
    another row.
``duplicate``
    A row that allows exactly the same flows as an earlier row in the same section and
    component.
``no-protocol``
    A row that names a destination and port but no protocol, read as TCP. The importer
    keeps the vendor's protocol text in ``Rule.label``, so an empty label means the
    vendor wrote none.
``ambiguous-cell``
    A cell that reads two ways, with the reading korefw took (the importer records
    these in ``Rule.doubts``): a port ``22,443`` (port 22443, or ports 22 and 443?), or
    ``<br>`` lists in both the destination and the port cell of one row (every
    destination with every port, or pairs?).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..rules.model import Protocol, Rule

LABEL_MISMATCH = "label-mismatch"
TURN_3478 = "turn-3478"
ALIAS_CONFLICT = "alias-conflict"
DUPLICATE = "duplicate"
NO_PROTOCOL = "no-protocol"
AMBIGUOUS_CELL = "ambiguous-cell"


@dataclass(frozen=True, order=True)
class Warning:
    """One lint finding at a vendor row."""

    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: warning [{self.code}]: {self.message}"


def lint(rules: Iterable[Rule]) -> list[Warning]:
    """All warnings for ``rules`` (a :class:`RuleSet` or any iterable), by file and line."""
    rs = list(rules)
    found = [
        *_label_mismatch(rs),
        *_turn_3478(rs),
        *_alias_conflict(rs),
        *_duplicates(rs),
        *_no_protocol(rs),
        *(_at(r, AMBIGUOUS_CELL, doubt) for r in rs for doubt in r.doubts),
    ]
    return sorted(found)


def _at(rule: Rule, code: str, message: str) -> Warning:
    return Warning(rule.origin.file, rule.origin.line, code, message)


def _ports(rule: Rule) -> str:
    return ", ".join(map(str, rule.ports))


def _dest(rule: Rule) -> str:
    return rule.destination or ", ".join([*map(str, rule.cidrs), *rule.fqdns])


def _canon_label(label: str) -> str:
    return re.sub(r"\s*[,&/+]\s*|\s+and\s+", "/", label.strip().upper())


def _label_mismatch(rules: list[Rule]) -> list[Warning]:
    first: dict[tuple, Rule] = {}
    out = []
    for r in rules:
        if not r.label:
            continue
        key = (r.section, r.component, r.protocols, r.ports)
        seen = first.setdefault(key, r)
        if _canon_label(seen.label) != _canon_label(r.label):
            out.append(
                _at(
                    r,
                    LABEL_MISMATCH,
                    f"port {_ports(r)} to {_dest(r)} is labelled {r.label!r}, but "
                    f"{seen.label!r} to {_dest(seen)} (line {seen.origin.line}) in the same "
                    "section and component; both are read as "
                    f"{'/'.join(p.upper() for p in r.protocols)}",
                )
            )
    return out


def _turn_3478(rules: list[Rule]) -> list[Warning]:
    return [
        _at(
            r,
            TURN_3478,
            f"port 3478 is labelled {r.label!r}: TURN on 3478 is TCP and UDP (TURN TLS is "
            "443/5349), so UDP 3478 to "
            f"{_dest(r)} is not allowed as written",
        )
        for r in rules
        if any(3478 in p for p in r.ports)
        and re.search(r"turn\s+tls", r.label, re.I)
        and Protocol.UDP not in r.protocols
    ]


def _alias_conflict(rules: list[Rule]) -> list[Warning]:
    owner: dict[str, Rule] = {}
    out = []
    for r in rules:
        for alias in r.aliases:
            seen = owner.setdefault(alias, r)
            if seen.cidrs != r.cidrs:
                out.append(
                    _at(
                        r,
                        ALIAS_CONFLICT,
                        f"{alias} is written beside {', '.join(map(str, r.cidrs))} here but "
                        f"beside {', '.join(map(str, seen.cidrs))} on line {seen.origin.line}",
                    )
                )
    return out


def _duplicates(rules: list[Rule]) -> list[Warning]:
    first: dict[str, Rule] = {}
    out = []
    for r in rules:
        seen = first.setdefault(r.key, r)
        if seen is not r:
            out.append(
                _at(
                    r,
                    DUPLICATE,
                    f"same egress rule as line {seen.origin.line} "
                    f"({'/'.join(r.protocols)} {_ports(r)} to {_dest(r)})",
                )
            )
    return out


def _no_protocol(rules: list[Rule]) -> list[Warning]:
    return [
        _at(r, NO_PROTOCOL, f"row names no protocol; read as TCP {_ports(r)} to {_dest(r)}")
        for r in rules
        if not r.label and r.protocols == (Protocol.TCP,)
    ]
