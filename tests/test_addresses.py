"""Exact range-to-CIDR arithmetic, proved with hypothesis."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from korefw.core.errors import KorefwError
from korefw.core.rules.addresses import (
    broad_blocks,
    check_breadth,
    collapse,
    parse_ip_destination,
    parse_network,
    range_to_cidrs,
)


def _minimal_block_count(lo: int, hi: int, bits: int) -> int:
    """Greedy largest-aligned-block count: the known optimum, computed independently."""
    n = 0
    while lo <= hi:
        size = lo & -lo if lo else 1 << bits
        while size > hi - lo + 1:
            size //= 2
        lo += size
        n += 1
    return n


@st.composite
def ranges(draw: st.DrawFn, version: int = 4) -> tuple[int, int]:
    bits = 32 if version == 4 else 128
    a = draw(st.integers(0, 2**bits - 1))
    span = draw(st.integers(0, 2**20))
    return a, min(a + span, 2**bits - 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13.115.244.0 - 13.115.244.31", ["13.115.244.0/27"]),
        ("18.180.220.128 - 18.180.220.255", ["18.180.220.128/25"]),
        ("54.65.63.192 - 54.65.63.255", ["54.65.63.192/26"]),
        ("54.172.60.0 – 54.172.61.255", ["54.172.60.0/23"]),
        ("13.229.255.0–13.229.255.31", ["13.229.255.0/27"]),
        ("10.0.0.1 to 10.0.0.2", ["10.0.0.1/32", "10.0.0.2/32"]),
        ("18.177.19.211", ["18.177.19.211/32"]),
        ("168.86.128.0/18", ["168.86.128.0/18"]),
        ("2001:db8::/64", ["2001:db8::/64"]),
        ("2001:db8::1 - 2001:db8::2", ["2001:db8::1/128", "2001:db8::2/128"]),
    ],
)
def test_vendor_spellings_become_exact_cidrs(text: str, expected: list[str]) -> None:
    assert [str(n) for n in parse_ip_destination(text)] == expected


def test_issue_example_six_blocks() -> None:
    got = [str(n) for n in parse_ip_destination("1.1.1.1 - 1.1.1.33")]
    assert got == [
        "1.1.1.1/32",
        "1.1.1.2/31",
        "1.1.1.4/30",
        "1.1.1.8/29",
        "1.1.1.16/28",
        "1.1.1.32/31",
    ]


@pytest.mark.parametrize("version", [4, 6])
@given(data=st.data())
def test_range_cover_is_exact_and_minimal(version: int, data: st.DataObject) -> None:
    lo, hi = data.draw(ranges(version))
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    nets = range_to_cidrs(make(lo), make(hi))
    # exact: sorted, disjoint, contiguous blocks from lo to hi, nothing more, nothing less
    cursor = lo
    for net in nets:
        assert int(net.network_address) == cursor
        cursor = int(net.broadcast_address) + 1
    assert cursor == hi + 1
    # minimal: no shorter list of CIDRs covers the range
    assert len(nets) == _minimal_block_count(lo, hi, 32 if version == 4 else 128)
    # no block covers an address outside the range
    assert all(int(n.network_address) >= lo and int(n.broadcast_address) <= hi for n in nets)


@given(
    st.lists(
        st.builds(
            lambda a, p: ipaddress.ip_network((a, p), strict=False),
            st.integers(0, 2**32 - 1),
            st.integers(8, 32),
        ),
        max_size=12,
    )
)
def test_collapse_keeps_the_same_addresses(nets: list[ipaddress.IPv4Network]) -> None:
    out = collapse(nets)

    def spans(ns: list) -> set[tuple[int, int]]:
        merged: list[list[int]] = []
        for a, b in sorted((int(n.network_address), int(n.broadcast_address)) for n in ns):
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return {(a, b) for a, b in merged}

    assert spans(out) == spans(nets)
    # disjoint and non-adjacent-mergeable: no two outputs overlap
    for x, y in itertools.pairwise(out):
        assert int(x.broadcast_address) < int(y.network_address)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("13.115.244.300", "malformed"),
        ("13.115.244.31 - 13.115.244.0", "reversed IP range"),
        ("10.0.0.1/24", "host bits"),
        ("10.0.0.0 - 2001:db8::1", "mixes IPv4 and IPv6"),
        ("kore.ai", "malformed"),
    ],
)
def test_bad_addresses_name_the_value(text: str, message: str) -> None:
    with pytest.raises(KorefwError) as info:
        parse_ip_destination(text, where="page.md:12 cell 'Destination'")
    assert message in str(info.value)
    assert "page.md:12" in str(info.value)


def test_broad_blocks_refused_unless_allowed() -> None:
    with pytest.raises(KorefwError, match="broader than /16"):
        check_breadth(parse_network("10.0.0.0/8"))
    with pytest.raises(KorefwError, match="broader than /32"):
        check_breadth(parse_network("2001:db8::/31"))
    check_breadth(parse_network("10.0.0.0/8"), allow_broad=True)
    check_breadth(parse_network("10.0.0.0/16"))


@pytest.mark.parametrize(
    "text",
    [
        "64:ff9b::/96",  # IPv4-IPv6 translation: all of IPv4
        "::ffff:0:0/96",  # IPv4-mapped
        "2001::/32",  # Teredo
        "64:ff9b:1::/48",  # local-use translation
        "64:ff9b:1:2::/64",
        "2002::/16",  # 6to4 (also shorter than /32)
        "64:ff9b::/32",  # holds 64:ff9b::/96
        "64:ff9b::a00:0/104",  # 10.0.0.0/8 through NAT64
        "2001:0:4136:e378::/64",  # every Teredo client of one server
    ],
)
def test_ipv6_blocks_that_map_ipv4_are_broad(text: str) -> None:
    with pytest.raises(KorefwError, match=r"broader than|IPv4") as info:
        check_breadth(parse_network(text), where="jp.toml:3")
    assert str(info.value).startswith("jp.toml:3: ")
    assert text in str(info.value)
    check_breadth(parse_network(text), allow_broad=True)


@pytest.mark.parametrize(
    "text", ["64:ff9b::a00:0/112", "64:ff9b::a00:1/128", "::ffff:10.1.2.3/128", "2001:db8::/32"]
)
def test_ipv6_blocks_mapping_at_most_a_slash_16_of_ipv4_pass(text: str) -> None:
    check_breadth(parse_network(text))


def test_broad_blocks_of_a_union() -> None:
    tiles = [parse_network(f"10.{i}.0.0/16") for i in range(256)]
    assert [str(b) for b in broad_blocks(tiles)] == ["10.0.0.0/8"]
    assert broad_blocks(tiles, allowed=[parse_network("10.0.0.0/8")]) == []
    assert broad_blocks(tiles[:1] + tiles[2:3]) == []  # two /16s that do not merge
    assert [str(b) for b in broad_blocks(tiles[:2])] == ["10.0.0.0/15"]


def test_collapse_reads_a_generator_once() -> None:
    nets = ["10.0.0.0/24", "2001:db8::/64", "10.0.1.0/24"]
    got = collapse(parse_network(n) for n in nets)
    assert [str(n) for n in got] == ["10.0.0.0/23", "2001:db8::/64"]
