"""Builders every test module shares: rules written tersely, Kore's shipped rules, and
hypothesis strategies for rule sets. Test modules import them from here, never from
each other."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import strategies as st

from korefw.cli import main
from korefw.core.read.regions import data_path, load_rules, region_codes
from korefw.core.rules.addresses import IPNetwork
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange

TCP, UDP = Protocol.TCP, Protocol.UDP
#: Regions whose rules file ships with korefw.
SHIPPED = [c for c in region_codes() if data_path(c).exists()]


def rule(
    section: str = "S",
    component: str = "C",
    protocols: tuple[Protocol, ...] = (TCP,),
    ports: Sequence[tuple[int, int]] = ((443, 443),),
    cidrs: Sequence[str | IPNetwork] = (),
    fqdns: Sequence[str] = (),
    *,
    region: str = "",
) -> Rule:
    """A rule written tersely: ports as ``(lo, hi)`` pairs, addresses as text."""
    return Rule(
        section=section,
        component=component,
        protocols=tuple(protocols),
        ports=tuple(PortRange(lo, hi) for lo, hi in ports),
        cidrs=tuple(ipaddress.ip_network(c) for c in cidrs),
        fqdns=tuple(fqdns),
        region=region,
    )


def japan() -> RuleSet:
    """Kore's Japan rules as shipped (``korefw/data/jp.toml``)."""
    return load_rules("jp")


def many_destinations(n: int, *, section: str = "Many") -> RuleSet:
    """``n`` distinct /32 destinations, tcp 443 each."""
    return RuleSet(
        tuple(rule(section, cidrs=(f"10.{i // 250}.{i % 250}.1",)) for i in range(n)),
        region="xx",
    )


def row(r: Rule) -> tuple:
    """A rule as (line, section, component, protocols, label, ports, cidrs, fqdns, aliases)."""
    return (
        r.origin.line,
        r.section,
        r.component,
        "/".join(r.protocols),
        r.label,
        ",".join(map(str, r.ports)),
        " ".join(map(str, r.cidrs)),
        " ".join(r.fqdns),
        " ".join(r.aliases),
    )


_BASES = [0xC6120000, 0xC6121000, 0xC0000200]  # 198.18.0.0, 198.18.16.0, 192.0.2.0


@st.composite
def networks(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if draw(st.integers(0, 9)) == 0:
        plen = draw(st.integers(120, 128))
        host = draw(st.integers(0, 255))
        return ipaddress.ip_network((0x20010DB8 << 96 | host, plen), strict=False)
    plen = draw(st.integers(20, 32))
    addr = draw(st.sampled_from(_BASES)) + draw(st.integers(0, 4095))
    return ipaddress.ip_network((addr, plen), strict=False)


@st.composite
def port_ranges(draw: st.DrawFn) -> PortRange:
    lo = draw(st.sampled_from([53, 443, 3478, 5060, 5061, 6000, 10000, 65000]))
    return PortRange(lo, min(65535, lo + draw(st.sampled_from([0, 0, 1, 10, 1000]))))


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        protos = draw(st.sampled_from([(TCP,), (UDP,), (TCP, UDP)]))
        ports = tuple(draw(st.lists(port_ranges(), min_size=1, max_size=3)))
        cidrs = tuple(draw(st.lists(networks(), min_size=0, max_size=4)))
        fqdns = () if cidrs and draw(st.booleans()) else ("*.example.com",)
        rows.append(
            Rule(
                section=draw(st.sampled_from(["A", "B"])),
                component=draw(st.sampled_from(["x", "y", ""])),
                protocols=protos,
                ports=ports,
                cidrs=cidrs,
                fqdns=fqdns if not cidrs else (),
            )
        )
    return RuleSet(tuple(rows), region="t")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``korefw ARGV`` in-process: exit code, stdout, stderr."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def without_row(rules: RuleSet, index: int) -> RuleSet:
    """``rules`` less its row at ``index`` (a vendor row removed, everything else kept)."""
    return replace(rules, rules=rules.rules[:index] + rules.rules[index + 1 :])
