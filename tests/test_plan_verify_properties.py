"""Plan, then verify: random rule sets through the real components, checked by ``verify``.

For random rule sets (IPv4 /16-/32 and some IPv6 destinations, random port ranges,
TCP/UDP, random sections), every AWS mode and Azure merge mode, for a new and an
existing group: the component runs under Pulumi's mock runtime, its preview JSON is
verified against the rule set (``ok``), and three edits of that JSON must each make the
verification fail: one destination widened, one Allow rule dropped (one whose witness
flow no other recorded rule covers, found from the raw inputs, not through ``verify``'s
own reader) and one rule's protocol set to all (``-1`` / ``*``).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from korefw.components.aws import EgressSecurityGroup
from korefw.components.azure import EgressNetworkSecurityGroup
from korefw.core.check.verify import verify
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange
from korefw.runtime.offline import run_offline

AWS_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
AWS_PL = "aws:ec2/managedPrefixList:ManagedPrefixList"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AZ_RULE = "azure-native:network:SecurityRule"
VPC = "vpc-0123456789abcdef0"
SG = "sg-0123456789abcdef0"

Doc = dict[str, Any]
Net = ipaddress.IPv4Network | ipaddress.IPv6Network

# (cloud, mode, existing group)
CASES = [
    *(("aws", m, e) for m in ("cidr", "prefix-list", "auto") for e in (False, True)),
    *(("azure", m, e) for m in ("none", "section", "all") for e in (False, True)),
]

# ---------------------------------------------------------------- strategies


@st.composite
def networks(draw: st.DrawFn) -> Net:
    """Mostly IPv4 /16-/32 in a few /8s (so overlaps happen), sometimes IPv6 /32-/128."""
    if draw(st.integers(0, 7)) == 0:
        plen = draw(st.integers(32, 128))
        addr = (0x2001_0DB8 << 96) + draw(st.integers(0, 2**96 - 1))
        return ipaddress.IPv6Network((addr, plen), strict=False)
    plen = draw(st.integers(16, 32))
    first = draw(st.sampled_from([10, 100, 198]))
    addr = (first << 24) + draw(st.integers(0, 2**24 - 1))
    return ipaddress.IPv4Network((addr, plen), strict=False)


@st.composite
def port_ranges(draw: st.DrawFn) -> PortRange:
    """A single port or a range, anywhere in 1-65535."""
    lo = draw(st.one_of(st.sampled_from([53, 443, 3478, 5060, 10000]), st.integers(1, 65535)))
    return PortRange(lo, min(65535, lo + draw(st.sampled_from([0, 0, 1, 99, 20000]))))


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    """1-8 rules with 1-3 destinations and 1-2 port ranges each, over a few sections."""
    rules = []
    for _ in range(draw(st.integers(1, 8))):
        rules.append(
            Rule(
                section=draw(st.sampled_from(["Voice", "Media", "Bots"])),
                component=draw(st.sampled_from(["sip", "rtp", ""])),
                protocols=draw(
                    st.sampled_from(
                        [(Protocol.TCP,), (Protocol.UDP,), (Protocol.TCP, Protocol.UDP)]
                    )
                ),
                ports=tuple(draw(st.lists(port_ranges(), min_size=1, max_size=2))),
                cidrs=tuple(draw(st.lists(networks(), min_size=1, max_size=3))),
                # adjacent /16s collapse to a /15: this property is about exactness, not breadth
                allow_broad=True,
            )
        )
    return RuleSet(tuple(rules), region="zz")


# ---------------------------------------------------------------- running


def program(cloud: str, mode: str, existing: bool, rules: RuleSet) -> Callable[[], object]:
    """The component for one case, as a Pulumi program."""
    if cloud == "aws":
        target = {"security_group_id": SG, "rule_limit": 1000} if existing else {"vpc_id": VPC}
        return lambda: EgressSecurityGroup("kf", rules=rules, mode=mode, **target)
    where = {"network_security_group_name": "nsg-app"} if existing else {"location": "japaneast"}
    return lambda: EgressNetworkSecurityGroup(
        "kf",
        rules=rules,
        resource_group_name="rg-egress",
        merge=mode,
        deny_other_outbound=not existing,
        **where,
    )


# ---------------------------------------------------------------- editing the preview JSON


def states(doc: Doc) -> Iterator[dict[str, Any]]:
    """Every step's new state."""
    for step in doc["steps"]:
        yield step["newState"]


def allow_rules(doc: Doc) -> list[dict[str, Any]]:
    """The raw Allow egress rules (AWS egress rule inputs, Azure rule dicts), in doc order."""
    out: list[dict[str, Any]] = []
    for s in states(doc):
        if s["type"] == AWS_EGRESS:
            out.append(s["inputs"])
        elif s["type"] == AZ_NSG:
            out.extend(r for r in s["inputs"].get("securityRules", []) if r["access"] == "Allow")
        elif s["type"] == AZ_RULE and s["inputs"]["access"] == "Allow":
            out.append(s["inputs"])
    return out


def prefix_lists(doc: Doc) -> dict[str, list[dict[str, Any]]]:
    """Prefix list id -> its (mutable) entries."""
    return {s["id"]: s["inputs"]["entries"] for s in states(doc) if s["type"] == AWS_PL}


def flows(rule: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> tuple:
    """(protocol, port ranges, destination networks) of a raw rule, read independently."""
    if "ipProtocol" in rule:  # AWS
        ports = [(rule["fromPort"], rule["toPort"])]
        if "prefixListId" in rule:
            dests = [e["cidr"] for e in lists[rule["prefixListId"]]]
        else:
            dests = [rule.get("cidrIpv4") or rule["cidrIpv6"]]
        return rule["ipProtocol"], ports, [ipaddress.ip_network(d) for d in dests]
    texts = rule.get("destinationPortRanges") or [rule["destinationPortRange"]]
    ports = []
    for text in texts:
        lo, _, hi = text.partition("-")
        ports.append((int(lo), int(hi or lo)))
    dests = rule.get("destinationAddressPrefixes") or [rule["destinationAddressPrefix"]]
    return rule["protocol"].lower(), ports, [ipaddress.ip_network(d) for d in dests]


def covers(rule: dict[str, Any], lists: dict, proto: str, port: int, addr: Any) -> bool:
    """True when ``rule`` allows the single flow (proto, port, addr)."""
    p, ports, nets = flows(rule, lists)
    return (
        p == proto
        and any(lo <= port <= hi for lo, hi in ports)
        and any(addr.version == n.version and addr in n for n in nets)
    )


def widen(doc: Doc) -> Doc:
    """The first Allow rule's first destination replaced by its /8 (IPv4) or /16 (IPv6)."""
    doc = copy.deepcopy(doc)
    rule = allow_rules(doc)[0]
    lists = prefix_lists(doc)

    def wider(text: str) -> str:
        net = ipaddress.ip_network(text)
        return str(net.supernet(new_prefix=8 if net.version == 4 else 16))

    if "prefixListId" in rule:
        entry = lists[rule["prefixListId"]][0]
        entry["cidr"] = wider(entry["cidr"])
    else:
        for key in ("cidrIpv4", "cidrIpv6", "destinationAddressPrefix"):
            if rule.get(key):
                rule[key] = wider(rule[key])
                break
        else:
            rule["destinationAddressPrefixes"][0] = wider(rule["destinationAddressPrefixes"][0])
    return doc


def drop(doc: Doc) -> Doc | None:
    """The doc without one Allow rule whose witness flow no other rule allows (or None)."""
    doc = copy.deepcopy(doc)
    rules = allow_rules(doc)
    lists = prefix_lists(doc)
    for victim in rules:
        proto, ports, nets = flows(victim, lists)
        witness = (proto, ports[0][0], nets[0].network_address)
        if not any(covers(r, lists, *witness) for r in rules if r is not victim):
            break
    else:
        return None
    for step in list(doc["steps"]):
        s = step["newState"]
        if s["inputs"] is victim:
            doc["steps"].remove(step)
            return doc
        inline = s["inputs"].get("securityRules")
        if s["type"] == AZ_NSG and inline and any(r is victim for r in inline):
            s["inputs"]["securityRules"] = [r for r in inline if r is not victim]
            return doc
    raise AssertionError("victim not found")


def all_protocols(doc: Doc) -> Doc:
    """The first Allow rule's protocol set to all traffic (``-1`` on AWS, ``*`` on Azure)."""
    doc = copy.deepcopy(doc)
    rule = allow_rules(doc)[0]
    if "ipProtocol" in rule:
        rule["ipProtocol"] = "-1"
    else:
        rule["protocol"] = "*"
    return doc


# ---------------------------------------------------------------- the property


@pytest.mark.parametrize(("cloud", "mode", "existing"), CASES, ids=lambda v: str(v))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rules=rule_sets())
def test_plan_verifies_and_edits_are_caught(
    cloud: str, mode: str, existing: bool, rules: RuleSet
) -> None:
    doc = run_offline(program(cloud, mode, existing, rules)).to_preview_json()
    # An existing NSG gets no Deny for other outbound traffic here: its user filters
    # Internet egress elsewhere, and says so.
    flag = {"egress_filtered_elsewhere": cloud == "azure" and existing}
    result = verify(doc, rules, **flag)
    assert result.ok, result.render()
    assert [c.cloud for c in result.clouds] == [cloud]

    for name, edited in (("widen", widen(doc)), ("all protocols", all_protocols(doc))):
        assert not verify(edited, rules, **flag).ok, f"{name} was not caught"
    dropped = drop(doc)
    note(f"drop found a non-redundant rule: {dropped is not None}")
    if dropped is not None:
        assert not verify(dropped, rules, **flag).ok, "dropping a rule was not caught"
    assert verify(doc, rules, **flag).ok  # the edits worked on copies
