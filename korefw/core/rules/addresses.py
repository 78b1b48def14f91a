"""Exact address arithmetic: ranges to CIDRs, collapsing, breadth checks.

Everything here is exact: the union of the CIDRs returned equals the input, address
for address, and no shorter list of CIDRs exists (``ipaddress.summarize_address_range``
emits the unique minimal aligned cover).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from ..errors import KorefwError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: Blocks shorter than these prefixes are "dangerously broad" unless explicitly allowed.
MIN_PREFIX = {4: 16, 6: 32}

#: IPv6 blocks that embed IPv4 addresses, and the shortest prefix allowed inside each: a
#: block there reaches the IPv4 Internet through a translator or tunnel, so it may cover no
#: more IPv4 addresses than ``MIN_PREFIX[4]`` allows (the IPv4 address sits in the last 32
#: bits, so /96 + 16 = /112). From the IANA IPv6 Special-Purpose Address Registry
#: (https://www.iana.org/assignments/iana-ipv6-special-registry): ``::ffff:0:0/96``
#: IPv4-mapped (RFC 4291), ``64:ff9b::/96`` IPv4-IPv6 translation (RFC 6052),
#: ``64:ff9b:1::/48`` local-use IPv4/IPv6 translation (RFC 8215: any RFC 6052 prefix
#: length inside it, so the /96 form is assumed, the strictest), ``2001::/32`` Teredo
#: (RFC 4380: the client's IPv4 address, obfuscated, in the last 32 bits) and
#: ``2002::/16`` 6to4 (RFC 3056: the site's IPv4 address in bits 16-47); also the
#: deprecated IPv4-compatible ``::/96`` (RFC 4291) and the SIIT ``::ffff:0:0:0/96``
#: (RFC 2765).
IPV4_EMBEDDING: tuple[tuple[IPv6Network, int], ...] = (
    (IPv6Network("::ffff:0:0/96"), 112),
    (IPv6Network("64:ff9b::/96"), 112),
    (IPv6Network("64:ff9b:1::/48"), 112),
    (IPv6Network("2001::/32"), 112),
    (IPv6Network("2002::/16"), 32),
    (IPv6Network("::/96"), 112),
    (IPv6Network("::ffff:0:0:0/96"), 112),
)

# Dashes Kore writes between the ends of a range: hyphen, en dash, em dash, minus, "to".
_RANGE_RE = re.compile(r"^\s*(\S+?)\s*(?:-|–|—|−|\bto\b)\s*(\S+)\s*$")


def parse_address(text: str, *, where: str | None = None) -> IPAddress:
    """Parse one IPv4 or IPv6 address."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise KorefwError("malformed IP address", where=where, value=text) from None


def parse_network(text: str, *, where: str | None = None) -> IPNetwork:
    """Parse ``a.b.c.d`` (a host) or ``a.b.c.d/n``; host bits must be zero."""
    raw = text.strip()
    try:
        if "/" in raw:
            return ipaddress.ip_network(raw, strict=True)
        return ipaddress.ip_network(ipaddress.ip_address(raw))
    except ValueError as exc:
        reason = "CIDR has host bits set" if "host bits" in str(exc) else "malformed IP or CIDR"
        raise KorefwError(reason, where=where, value=text) from None


def range_to_cidrs(
    first: IPAddress, last: IPAddress, *, where: str | None = None
) -> list[IPNetwork]:
    """The minimal exact list of CIDRs covering ``first``..``last`` inclusive."""
    if first.version != last.version:
        raise KorefwError("range mixes IPv4 and IPv6", where=where, value=f"{first} - {last}")
    if int(first) > int(last):
        raise KorefwError("reversed IP range", where=where, value=f"{first} - {last}")
    return list(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]


def looks_like_range(text: str) -> bool:
    """True when ``text`` has the shape ``address <dash> address``."""
    m = _RANGE_RE.match(text)
    return bool(m) and is_ip(m.group(1)) and is_ip(m.group(2))


def parse_ip_destination(text: str, *, where: str | None = None) -> list[IPNetwork]:
    """Parse an address, a CIDR, or a range ``a - b`` (any dash, spaced or not)."""
    m = _RANGE_RE.match(text)
    if m and "/" not in text:
        first = parse_address(m.group(1), where=where)
        last = parse_address(m.group(2), where=where)
        return range_to_cidrs(first, last, where=where)
    return [parse_network(text, where=where)]


def collapse(networks: Iterable[IPNetwork]) -> list[IPNetwork]:
    """Merge overlapping and adjacent blocks; IPv4 sorted before IPv6."""
    nets = list(networks)  # read twice below, so a generator must not run dry after IPv4
    if len(nets) < 2:  # a planner checks every egress rule's one CIDR: keep that cheap
        return nets
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    out: list[IPNetwork] = list(ipaddress.collapse_addresses(v4))
    out.extend(ipaddress.collapse_addresses(v6))
    return out


def breadth_problem(net: IPNetwork) -> str | None:
    """Why ``net`` is dangerously broad, or None when it is not."""
    if net.prefixlen < MIN_PREFIX[net.version]:
        return f"broader than /{MIN_PREFIX[net.version]}"
    if isinstance(net, IPv6Network):
        for block, shortest in IPV4_EMBEDDING:
            if net.prefixlen <= block.prefixlen and block.subnet_of(net):
                return f"holds {block}, which maps all of IPv4"
            if net.subnet_of(block) and net.prefixlen < shortest:
                return (
                    f"maps more of IPv4 than a /{MIN_PREFIX[4]} through {block} "
                    f"(at most /{shortest} there)"
                )
    return None


def check_breadth(net: IPNetwork, *, allow_broad: bool = False, where: str | None = None) -> None:
    """Refuse blocks shorter than /16 (IPv4) or /32 (IPv6), or mapping that much of IPv4.

    ``allow_broad`` accepts them on purpose.
    """
    if allow_broad:
        return
    problem = breadth_problem(net)
    if problem:
        raise KorefwError(
            f"destination {problem} (pass allow_broad to accept it on purpose)",
            where=where,
            value=str(net),
        )


def broad_blocks(
    networks: Iterable[IPNetwork], allowed: Iterable[IPNetwork] = ()
) -> list[IPNetwork]:
    """The blocks of the union of ``networks`` that are dangerously broad.

    Blocks inside ``allowed`` (destinations accepted as broad on purpose, already
    collapsed: :meth:`RuleSet.check_emitted` works them out once per rule set) are not
    reported. Adjacent rows merge: 256 /16 rows that tile a /8 give that /8.
    """
    ok = list(allowed)
    out = []
    for block in collapse(networks):
        if breadth_problem(block) and not any(
            block.version == a.version and block.subnet_of(a) for a in ok  # type: ignore[arg-type]
        ):
            out.append(block)
    return out


def network_span(net: IPNetwork) -> tuple[int, int]:
    """First and last address of ``net`` as integers."""
    return int(net.network_address), int(net.broadcast_address)


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
