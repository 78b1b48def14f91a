"""Effective allow sets: unions of (protocol, port range, address range) boxes.

An :class:`AllowSet` is kept in a canonical form, so two sets that allow exactly the
same flows compare equal however they were written (one rule or many, CIDRs or
ranges, merged ports or not). Verification and the "never broader than the vendor's
data" tests are built on it.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .addresses import IPNetwork, network_span

Interval = tuple[int, int]


@dataclass(frozen=True, order=True)
class Box:
    """All flows of one protocol to ports ``ports`` and addresses ``lo..hi`` of one IP version."""

    protocol: str
    version: int
    ports: Interval
    addresses: Interval

    def __str__(self) -> str:
        lo, hi = self.ports
        port = str(lo) if lo == hi else f"{lo}-{hi}"
        return f"{self.protocol} {port} → {', '.join(str(n) for n in self.cidrs())}"

    def cidrs(self) -> list[IPNetwork]:
        """The address range as exact CIDRs."""
        make = ipaddress.IPv4Address if self.version == 4 else ipaddress.IPv6Address
        lo, hi = self.addresses
        return list(ipaddress.summarize_address_range(make(lo), make(hi)))  # type: ignore[arg-type]


def _merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def _subtract(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


class AllowSet:
    """A canonical union of boxes; ``==`` means "allows exactly the same flows"."""

    def __init__(self, boxes: Iterable[Box] = ()) -> None:
        groups: dict[tuple[str, int], list[Box]] = defaultdict(list)
        for b in boxes:
            groups[(b.protocol, b.version)].append(b)
        # (protocol, version) -> tuple of (port interval, merged address intervals)
        self._canon: dict[tuple[str, int], tuple[tuple[Interval, tuple[Interval, ...]], ...]] = {
            key: _canonical(bs) for key, bs in sorted(groups.items())
        }
        self._canon = {k: v for k, v in self._canon.items() if v}

    @classmethod
    def of(
        cls, protocol: str, ports: Iterable[Interval], networks: Iterable[IPNetwork]
    ) -> AllowSet:
        """The product of one protocol, some port ranges and some networks."""
        return cls(boxes(protocol, ports, networks))

    def boxes(self) -> Iterator[Box]:
        """The canonical boxes, sorted."""
        for (proto, version), segs in self._canon.items():
            for ports, addrs in segs:
                for a in addrs:
                    yield Box(proto, version, ports, a)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AllowSet) and self._canon == other._canon

    def __hash__(self) -> int:
        return hash(tuple(self._canon.items()))

    def __or__(self, other: AllowSet) -> AllowSet:
        return AllowSet([*self.boxes(), *other.boxes()])

    def __sub__(self, other: AllowSet) -> AllowSet:
        out: list[Box] = []
        for key, segs in self._canon.items():
            theirs = other._canon.get(key, ())
            bounds = sorted({p for (lo, hi), _ in (*segs, *theirs) for p in (lo, hi + 1)})
            for lo, nxt in itertools.pairwise(bounds):
                mine = _at(segs, lo)
                if not mine:
                    continue
                diff = _subtract(mine, _at(theirs, lo))
                out.extend(Box(key[0], key[1], (lo, nxt - 1), a) for a in diff)
        return AllowSet(out)

    def __and__(self, other: AllowSet) -> AllowSet:
        """The flows both sets allow."""
        return self - (self - other)

    def __bool__(self) -> bool:
        return bool(self._canon)

    def __repr__(self) -> str:
        return f"AllowSet({[str(b) for b in self.boxes()]})"

    def contains(self, protocol: str, port: int, address: int, version: int) -> bool:
        """True when the flow is allowed."""
        for (lo, hi), addrs in self._canon.get((protocol, version), ()):
            if lo <= port <= hi:
                return any(a <= address <= b for a, b in addrs)
        return False

    def triples(self) -> set[tuple[str, int, int, str]]:
        """(protocol, port lo, port hi, CIDR) of the canonical form, for readable test failures."""
        return {
            (b.protocol, b.ports[0], b.ports[1], str(c)) for b in self.boxes() for c in b.cidrs()
        }


def _covering(version: int, lo: int, hi: int) -> IPNetwork:
    """The smallest CIDR block holding every address from ``lo`` to ``hi``."""
    bits = 32 if version == 4 else 128
    host_bits = (lo ^ hi).bit_length()
    make = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return make((lo >> host_bits << host_bits, bits - host_bits))


def describe_boxes(allowed: AllowSet, limit: int | None = None) -> list[tuple[str, list[Box]]]:
    """One line per protocol, IP version and port range, with the boxes it stands for: the
    addresses as exact CIDRs, or, when that is shorter, as the block covering them all less
    its holes (``tcp 443 → 0.0.0.0/0 except 13.115.244.0/27``), never a list of 60 CIDRs
    for "every address except Kore's". With ``limit``, the first ``limit`` lines only (a
    document of n rules can make n² of them)."""
    groups: dict[tuple[str, int, Interval], list[Box]] = defaultdict(list)
    for b in allowed.boxes():
        groups[(b.protocol, b.version, b.ports)].append(b)
    lines: list[tuple[str, list[Box]]] = []
    for (protocol, version, (lo, hi)), bs in sorted(groups.items()):
        if limit is not None and len(lines) >= limit:
            return lines[:limit]
        port = str(lo) if lo == hi else f"{lo}-{hi}"
        cidrs = [n for b in bs for n in b.cidrs()]
        cover = _covering(version, bs[0].addresses[0], bs[-1].addresses[1])
        holes = [n for iv in _subtract((network_span(cover),), tuple(b.addresses for b in bs))
                 for n in Box(protocol, version, (lo, hi), iv).cidrs()]  # fmt: skip
        if len(cidrs) > 1 and 1 + len(holes) < len(cidrs):
            text = f"{cover} except {', '.join(map(str, holes))}" if holes else str(cover)
            lines.append((f"{protocol} {port} → {text}", bs))
        else:
            lines += [(str(b), [b]) for b in bs]
    return lines if limit is None else lines[:limit]


def describe(allowed: AllowSet) -> list[str]:
    """The lines of :func:`describe_boxes`."""
    return [text for text, _ in describe_boxes(allowed)]


def boxes(protocol: str, ports: Iterable[Interval], networks: Iterable[IPNetwork]) -> list[Box]:
    """The boxes of one protocol x ports x networks product."""
    nets = list(networks)
    return [Box(protocol, n.version, p, network_span(n)) for p in ports for n in nets]


def _at(segs: tuple[tuple[Interval, tuple[Interval, ...]], ...], port: int) -> tuple[Interval, ...]:
    for (lo, hi), addrs in segs:
        if lo <= port <= hi:
            return addrs
    return ()


def _canonical(bs: list[Box]) -> tuple[tuple[Interval, tuple[Interval, ...]], ...]:
    """Sweep the port axis; at each elementary segment merge the live address intervals."""
    events: dict[int, list[tuple[int, Interval]]] = defaultdict(list)
    for b in bs:
        events[b.ports[0]].append((1, b.addresses))
        events[b.ports[1] + 1].append((-1, b.addresses))
    live: dict[Interval, int] = defaultdict(int)
    out: list[tuple[Interval, tuple[Interval, ...]]] = []
    points = sorted(events)
    for i, p in enumerate(points):
        for delta, iv in events[p]:
            live[iv] += delta
            if not live[iv]:
                del live[iv]
        if i + 1 == len(points) or not live:
            continue
        addrs = _merge(live)
        seg = (p, points[i + 1] - 1)
        if out and out[-1][1] == addrs and out[-1][0][1] + 1 == seg[0]:
            out[-1] = ((out[-1][0][0], seg[1]), addrs)
        else:
            out.append((seg, addrs))
    return tuple(out)
