"""The rule model: what Kore says a customer network must allow outbound.

A :class:`Rule` is one vendor row, normalized: L4 protocols, exact CIDRs and FQDNs,
merged destination port ranges, and where the row came from. A :class:`RuleSet` is a
region's rules; it filters by section and component and answers flow questions.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from ..errors import KorefwError
from .addresses import IPNetwork, breadth_problem, broad_blocks, check_breadth, collapse
from .allowset import AllowSet, boxes
from .ports import PortRange, merge_ports


class Protocol(StrEnum):
    """The L4 protocols a rule may allow; never "all"."""

    TCP = "tcp"
    UDP = "udp"

    @classmethod
    def parse(cls, text: str, *, where: str | None = None) -> Protocol:
        """``tcp`` or ``udp`` (any case); anything else is an error."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise KorefwError(
                "unknown protocol (expected tcp or udp)", where=where, value=text
            ) from None


_FQDN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_fqdn(text: str, *, where: str | None = None) -> str:
    """Lower-case an FQDN, allowing one leading ``*.`` wildcard; reject anything else.

    The top-level label may not be all digits (RFC 1123 section 2.1, RFC 3696 section 2),
    so ``1.2.3.4`` or ``*.1.2.3.4`` is an address pattern, never a name.
    """
    name = text.strip().lower().rstrip(".")
    labels = name.split(".")
    body = labels[1:] if labels and labels[0] == "*" else labels
    if len(body) < 2 or len(name) > 253 or not all(_FQDN_LABEL.match(lab) for lab in body):
        raise KorefwError("malformed FQDN", where=where, value=text)
    if body[-1].isdigit():  # the label is [a-z0-9-] only, so isdigit() means ASCII digits
        raise KorefwError(
            "not an FQDN: its top-level label is all digits (RFC 1123, RFC 3696)",
            where=where,
            value=text,
        )
    return name


@dataclass(frozen=True, order=True)
class Origin:
    """Where a rule came from: file and 1-based line."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Rule:
    """One egress rule: protocols x destination ports x destinations (CIDRs and FQDNs)."""

    section: str
    component: str
    protocols: tuple[Protocol, ...]
    ports: tuple[PortRange, ...]
    cidrs: tuple[IPNetwork, ...] = ()
    fqdns: tuple[str, ...] = ()
    region: str = ""
    #: The vendor's protocol text where it says more than tcp/udp (``TLS``, ``WSS``, ...).
    label: str = ""
    #: The vendor's destination cell as written, for review.
    destination: str = ""
    #: Host names the vendor wrote beside an address (``IP (fqdn)``); informational only.
    aliases: tuple[str, ...] = ()
    origin: Origin = field(default=Origin("<memory>"), compare=False)
    #: Accept blocks shorter than /16 (IPv4) or /32 (IPv6) on purpose.
    allow_broad: bool = field(default=False, compare=False)
    #: Cells of the vendor row that read two ways, and the reading taken (lint reports them).
    doubts: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        where = str(self.origin)
        protos = tuple(sorted({Protocol(p) for p in self.protocols}))
        if not protos:
            raise KorefwError("rule has no protocol", where=where)
        ports = merge_ports(self.ports)
        if not ports:
            raise KorefwError("rule has no destination port", where=where)
        cidrs = tuple(collapse(self.cidrs))
        for net in cidrs:
            check_breadth(net, allow_broad=self.allow_broad, where=where)
        fqdns = tuple(sorted({normalize_fqdn(f, where=where) for f in self.fqdns}))
        if not cidrs and not fqdns:
            raise KorefwError("rule has an empty destination", where=where, value=self.destination)
        object.__setattr__(self, "protocols", protos)
        object.__setattr__(self, "ports", ports)
        object.__setattr__(self, "cidrs", cidrs)
        object.__setattr__(self, "fqdns", fqdns)

    @property
    def key(self) -> str:
        """Content identity: same key, same allowed flows in the same section and component."""
        return "|".join(
            [
                self.section,
                self.component,
                ",".join(self.protocols),
                ",".join(map(str, self.ports)),
                ",".join(map(str, self.cidrs)),
                ",".join(self.fqdns),
            ]
        )

    @property
    def id(self) -> str:
        """A short stable hash of :attr:`key`."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:10]

    @property
    def is_ip(self) -> bool:
        """True when the rule has address destinations."""
        return bool(self.cidrs)

    @property
    def is_fqdn(self) -> bool:
        """True when the rule has FQDN destinations."""
        return bool(self.fqdns)

    def with_(self, **changes: object) -> Rule:
        """A copy with some fields changed (and validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def allow_set(self) -> AllowSet:
        """The (protocol, port, address) flows this rule's CIDRs allow."""
        ports = [(p.lo, p.hi) for p in self.ports]
        return AllowSet(b for proto in self.protocols for b in boxes(proto, ports, self.cidrs))

    def allows(self, protocol: str, target: str, port: int) -> bool:
        """True when the flow (protocol, address or FQDN, port) is allowed by this rule."""
        if protocol not in self.protocols or not any(port in p for p in self.ports):
            return False
        try:
            addr = ipaddress.ip_address(target)
        except ValueError:
            return any(fqdn_matches(f, target) for f in self.fqdns)
        return any(addr in net for net in self.cidrs)

    def describe(self) -> str:
        """``section / component``, for descriptions and messages."""
        return f"{self.section} / {self.component}" if self.component else self.section


def fqdn_matches(pattern: str, name: str) -> bool:
    """``*.kore.ai`` matches ``a.kore.ai`` and ``a.b.kore.ai`` but not ``kore.ai``."""
    name = name.strip().lower().rstrip(".")
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return name == pattern


#: A region code: it goes into AWS names (at most 255 characters) and Azure names.
REGION_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class RuleSet:
    """A region's egress rules, in vendor order, with where they came from."""

    rules: tuple[Rule, ...]
    region: str = ""
    #: The vendor page the rules were imported from.
    source: str = ""
    #: The date the vendor page was copied (ISO 8601).
    retrieved: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.region and not REGION_CODE.fullmatch(self.region):
            raise KorefwError(
                "a region code is 1-32 lower-case letters, digits and '-', not starting with '-'",
                where="region",
                value=self.region[:40],
            )
        _check_union_breadth(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def sections(self) -> list[str]:
        """Section names in first-seen order."""
        return list(dict.fromkeys(r.section for r in self.rules))

    def components(self) -> list[str]:
        """Component names in first-seen order."""
        return list(dict.fromkeys(r.component for r in self.rules))

    def filter(
        self,
        sections: Sequence[str] | None = None,
        components: Sequence[str] | None = None,
    ) -> RuleSet:
        """Keep rules whose section and component match (case-insensitive globs).

        A pattern that matches nothing is an error, so a typo cannot silently drop rules.
        """
        rules = list(self.rules)
        for attr, patterns in (("section", sections), ("component", components)):
            if not patterns:
                continue
            kept = []
            for pat in patterns:
                hits = [r for r in rules if _glob(pat, getattr(r, attr))]
                if not hits:
                    known = sorted({getattr(r, attr) for r in self.rules})
                    raise KorefwError(
                        f"no rule has a {attr} matching it; known: {'; '.join(known)}",
                        where=attr,
                        value=pat,
                    )
                kept.extend(hits)
            ids = {id(r) for r in kept}
            rules = [r for r in rules if id(r) in ids]
        return replace(self, rules=tuple(rules))

    def ip_rules(self) -> list[Rule]:
        """Rules with address destinations."""
        return [r for r in self.rules if r.is_ip]

    def broad_cidrs(self) -> list[IPNetwork]:
        """The CIDRs of rules marked ``allow_broad``: the only broad blocks a plan may hold."""
        return [n for r in self.rules if r.allow_broad for n in r.cidrs]

    @cached_property
    def _broad_allowed(self) -> list[IPNetwork]:
        # A planner checks every resource it plans against these: work them out once.
        return collapse(self.broad_cidrs())

    def check_emitted(self, networks: Iterable[IPNetwork], what: str) -> None:
        """Fail when a planned resource's destinations hold a block no vendor row may name.

        A planner's last guard: merged prefixes must stay within the breadth rules.
        """
        for block in broad_blocks(networks, self._broad_allowed):
            raise KorefwError(
                f"{what} would allow a destination {breadth_problem(block)} that no "
                "vendor row marked allow_broad names (refusing to plan it)",
                where="rules",
                value=str(block),
            )

    def fqdn_rules(self) -> list[Rule]:
        """Rules with FQDN destinations."""
        return [r for r in self.rules if r.is_fqdn]

    def allow_set(self) -> AllowSet:
        """The union of every rule's IP flows: what a cloud plan must allow exactly."""
        return AllowSet(b for r in self.rules for b in r.allow_set().boxes())

    def matching(self, protocol: str, target: str, port: int) -> list[Rule]:
        """The rules that allow the flow (empty when it is not allowed)."""
        return [r for r in self.rules if r.allows(protocol, target, port)]

    def extend(self, rules: Iterable[Rule]) -> RuleSet:
        """A copy with more rules appended."""
        return replace(self, rules=(*self.rules, *rules))


def _check_union_breadth(rules: Sequence[Rule]) -> None:
    """Refuse rows that together allow one flow to a block no single row may name.

    Per protocol and port, the union of the rows' CIDRs (less what rows marked
    ``allow_broad`` allow there) may hold no block broader than one row may: 256 /16 rows
    that tile a /8 are refused like one /8 row, since a planner merges them into it.
    """
    narrow = [r for r in rules if r.cidrs and not r.allow_broad]
    if len(narrow) < 2 or not broad_blocks(n for r in narrow for n in r.cidrs):
        return  # no union of any flow's CIDRs can hold a broad block
    wide = AllowSet(b for r in rules if r.allow_broad for b in r.allow_set().boxes())
    loose = AllowSet(b for r in narrow for b in r.allow_set().boxes()) - wide
    for box in loose.boxes():
        for block in box.cidrs():
            problem = breadth_problem(block)
            if not problem:
                continue
            lo, hi = box.ports
            rows = [
                r
                for r in narrow
                if box.protocol in r.protocols
                and any(p.lo <= hi and lo <= p.hi for p in r.ports)
                and any(n.version == block.version and n.overlaps(block) for n in r.cidrs)
            ]
            lines = ", ".join(str(r.origin.line or r.origin) for r in rows[:5])
            more = f" +{len(rows) - 5} more" if len(rows) > 5 else ""
            port = str(lo) if lo == hi else f"{lo}-{hi}"
            raise KorefwError(
                f"{len(rows)} rows (lines {lines}{more}) together allow {box.protocol} {port} "
                f"to a destination {problem} (mark them allow_broad to accept it on purpose)",
                where=str(rows[0].origin) if rows else "rules",
                value=str(block),
            )


def _glob(pattern: str, value: str) -> bool:
    p, v = pattern.casefold(), value.casefold()
    return p == v or fnmatch.fnmatchcase(v, p)
