"""Destination port ranges: parsing Kore's spellings and exact merging."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import KorefwError

_NUM = r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+"  # ASCII digits only (\d takes any script's)
_RANGE_RE = re.compile(rf"^\s*({_NUM})\s*(?:-|–|—|−|\bto\b)\s*({_NUM})\s*$")
_SINGLE_RE = re.compile(rf"^\s*({_NUM})\s*$")


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive destination port range, ``lo <= hi`` within 0-65535."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        for p in (self.lo, self.hi):
            if not 0 <= p <= 65535:
                raise KorefwError("port outside 0-65535", value=p)
        if self.lo > self.hi:
            raise KorefwError("reversed port range", value=f"{self.lo}-{self.hi}")

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.lo <= port <= self.hi

    @property
    def size(self) -> int:
        """How many ports the range holds."""
        return self.hi - self.lo + 1

    @classmethod
    def parse(cls, text: str, *, where: str | None = None) -> PortRange:
        """Parse ``443``, ``6000-65535``, ``10,000–65,535`` or ``10000 to 60000``."""
        m = _RANGE_RE.match(text) or _SINGLE_RE.match(text)
        if not m:
            raise KorefwError("malformed port or port range", where=where, value=text)
        nums = [int(g.replace(",", "")) for g in m.groups()]
        lo, hi = nums[0], nums[-1]
        try:
            return cls(lo, hi)
        except KorefwError as exc:
            raise KorefwError(exc.detail, where=where, value=text) from None


def parse_ports(text: str, *, where: str | None = None) -> tuple[PortRange, ...]:
    """Parse a port cell: ``443, 8443``, ``443/5349``, ``5060``, ``6000-65535``."""
    parts = [p for p in re.split(r"\s*(?:,(?!\d{3}\b)|/|;|\band\b|<br>)\s*", text.strip()) if p]
    if not parts:
        raise KorefwError("empty destination port", where=where, value=text)
    return merge_ports(PortRange.parse(p, where=where) for p in parts)


def merge_ports(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    """Sort and merge overlapping or adjacent ranges (5060 and 5061 -> 5060-5061)."""
    out: list[PortRange] = []
    for r in sorted(ranges):
        if out and r.lo <= out[-1].hi + 1:
            if r.hi > out[-1].hi:
                out[-1] = PortRange(out[-1].lo, r.hi)
        else:
            out.append(r)
    return tuple(out)
