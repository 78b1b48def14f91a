"""Reading preview JSON back into allow sets: prefix lists, unknown ids, Azure priorities."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.check import plandiff, steps
from korefw.core.check.hazards import apply_hazards
from korefw.core.check.plandiff import diff_plans
from korefw.core.check.planread import read_plan
from korefw.core.check.verify import verify
from korefw.core.errors import KorefwError
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import Rule, RuleSet
from korefw.core.rules.ports import PortRange

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def step(type_: str, name: str, inputs: dict, id_: str = "", deps: dict | None = None) -> dict:
    urn = f"urn:pulumi:s::p::{type_}::{name}"
    state = {"type": type_, "urn": urn, "id": id_, "custom": True, "parent": "", "inputs": inputs}
    if deps:
        state["propertyDependencies"] = deps
    return {"op": "create", "urn": urn, "newState": state}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:s::p::{type_}::{name}"


SG = "aws:ec2/securityGroup:SecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PL = "aws:ec2/managedPrefixList:ManagedPrefixList"
NSG = "azure-native:network:NetworkSecurityGroup"
RULE = "azure-native:network:SecurityRule"

RULES = RuleSet(
    (
        Rule("STUN", "", ("tcp", "udp"), (PortRange(3478, 3478),),
             (ipaddress.ip_network("13.115.244.0/27"),)),
        Rule("SBC", "x", ("tcp",), (PortRange(5060, 5061),),
             (ipaddress.ip_network("18.177.19.211/32"),)),
    )
)  # fmt: skip


def aws_doc(*, stun_cidr: str = "13.115.244.0/27", sbc_hi: int = 5061, proto: str = "tcp") -> dict:
    """A real-preview-like plan: ids unknown, references through propertyDependencies."""
    return {
        "steps": [
            step(SG, "sg", {"vpcId": "vpc-1"}, id_=""),
            step(PL, "stun", {"addressFamily": "IPv4", "maxEntries": 1,
                              "entries": [{"cidr": stun_cidr, "description": "STUN"}]}),
            *[
                step(EGRESS, f"stun-{p}", {"ipProtocol": p, "fromPort": 3478, "toPort": 3478,
                                           "prefixListId": UNKNOWN, "securityGroupId": UNKNOWN},
                     deps={"prefixListId": [urn(PL, "stun")], "securityGroupId": [urn(SG, "sg")]})
                for p in ("tcp", "udp")
            ],
            step(EGRESS, "sbc", {"ipProtocol": proto, "fromPort": 5060, "toPort": sbc_hi,
                                 "cidrIpv4": "18.177.19.211/32", "securityGroupId": UNKNOWN},
                 deps={"securityGroupId": [urn(SG, "sg")]}),
        ]
    }  # fmt: skip


def test_aws_plan_with_unknown_ids_verifies() -> None:
    result = verify(aws_doc(), RULES)
    assert result.ok, result.render()
    assert read_plan(aws_doc()).groups("aws") == [urn(SG, "sg")]


def test_widened_cidr_is_extra() -> None:
    result = verify(aws_doc(stun_cidr="13.115.244.0/26"), RULES)
    assert not result.ok
    assert "extra   tcp 3478 → 13.115.244.32/27" in result.render()
    assert "extra   udp 3478 → 13.115.244.32/27" in result.render()


def test_removed_port_is_missing() -> None:
    result = verify(aws_doc(sbc_hi=5060), RULES)
    assert "missing tcp 5061 → 18.177.19.211/32" in result.render()


def test_all_protocols_is_wider_and_extra() -> None:
    result = verify(aws_doc(proto="-1"), RULES)
    text = result.render()
    assert "wider than TCP or UDP: protocol '-1'" in text
    assert "extra   udp 0-65535 → 18.177.19.211/32" in text


def test_existing_group_and_unresolved_prefix_list_are_reported() -> None:
    inputs = {"ipProtocol": "tcp", "fromPort": 1, "toPort": 1, "prefixListId": "pl-0abc",
              "securityGroupId": "sg-1"}  # fmt: skip
    doc = {"steps": [step(EGRESS, "r", inputs)]}
    result = verify(doc, RULES)
    assert not result.ok
    assert any("pl-0abc" in p for p in result.problems)


def nsg_rule(name: str, priority: int, access: str, proto: str, ports: list[str],
             dests: list[str]) -> dict:  # fmt: skip
    return {"name": name, "priority": priority, "direction": "Outbound", "access": access,
            "protocol": proto, "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*",
            "destinationPortRanges": ports, "destinationAddressPrefixes": dests}  # fmt: skip


def test_azure_deny_before_allow_takes_effect() -> None:
    rules = [
        nsg_rule("stun", 1100, "Allow", "*", ["3478"], ["13.115.244.0/27"]),
        nsg_rule("sbc", 1200, "Allow", "Tcp", ["5060-5061"], ["18.177.19.211/32"]),
        nsg_rule("block", 1000, "Deny", "Udp", ["3478"], ["13.115.244.16/28"]),
        nsg_rule("deny-rest", 4000, "Deny", "*", ["*"], ["Internet"]),
    ]
    doc = {"steps": [step(NSG, "nsg", {"resourceGroupName": "rg", "securityRules": rules})]}
    reading = read_plan(doc)
    allowed = reading.allow_set("azure")
    expected = RULES.allow_set() - AllowSet.of(
        "udp", [(3478, 3478)], [ipaddress.ip_network("13.115.244.16/28")]
    )
    assert allowed == expected
    assert not reading.notes  # the Internet deny is there
    result = verify(doc, RULES)
    assert "missing udp 3478 → 13.115.244.16/28" in result.render()
    assert "wider than TCP or UDP: protocol '*'" in result.render()


def test_azure_without_deny_is_open_to_the_internet() -> None:
    doc = {"steps": [
        step(NSG, "nsg", {"resourceGroupName": "rg"}, id_="/subs/nsg"),
        step(RULE, "r", {**nsg_rule("sbc", 1200, "Allow", "Tcp", ["5060-5061"],
                                   ["18.177.19.211/32"]),
                         "networkSecurityGroupName": UNKNOWN, "resourceGroupName": "rg"},
             deps={"networkSecurityGroupName": [urn(NSG, "nsg")]}),
    ]}  # fmt: skip
    reading = read_plan(doc)
    assert reading.groups("azure") == [urn(NSG, "nsg")]
    assert reading.open_nsgs == [urn(NSG, "nsg")]
    sbc_only = RULES.filter(sections=["SBC"])
    result = verify(doc, sbc_only)
    assert result.exit_code == 1
    assert "AllowInternetOutBound (65001) lets all Internet egress out" in result.render()
    filtered = verify(doc, sbc_only, egress_filtered_elsewhere=True)
    assert filtered.exit_code == 0, filtered.render()
    assert any("filtered elsewhere" in n for n in filtered.notes)


def test_diff_reports_the_added_flow_and_counts_resources() -> None:
    old = aws_doc()
    new = aws_doc()
    new["steps"].append(
        step(EGRESS, "extra", {"ipProtocol": "udp", "fromPort": 5060, "toPort": 5060,
                               "cidrIpv4": "18.177.19.211/32", "securityGroupId": UNKNOWN,
                               "description": "SBC / x"},
             deps={"securityGroupId": [urn(SG, "sg")]})
    )  # fmt: skip
    d = diff_plans(old, new)
    assert d.lines() == ["+ aws: udp 5060 → 18.177.19.211/32 (SBC / x)"]
    assert d.resources["create"] == 1 and d.resources["delete"] == 0
    assert "```diff" in d.markdown()
    assert diff_plans(old, old).empty


def test_diff_pairs_the_resources_once(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = aws_doc(), aws_doc(stun_cidr="13.115.244.0/28")
    calls: list[int] = []

    def counted(a: Any, b: Any) -> Any:
        calls.append(1)
        return steps.changes(a, b)

    monkeypatch.setattr(plandiff, "changes", counted)
    d = diff_plans(old, new)
    assert len(calls) == 1  # counts and hazards share one pairing of the resources
    assert d.resources == steps.count_changes(old, new)
    assert d.hazards == [h.line() for h in apply_hazards(old, new)]


def _closing(*denies: dict) -> dict:
    allow = nsg_rule("sbc", 1200, "Allow", "Tcp", ["5060-5061"], ["18.177.19.211/32"])
    return {"steps": [step(NSG, "nsg", {"resourceGroupName": "rg",
                                        "securityRules": [allow, *denies]})]}  # fmt: skip


def test_a_closing_deny_covers_both_families_in_one_rule_or_two() -> None:
    sbc_only = RULES.filter(sections=["SBC"])
    v4 = nsg_rule("deny-v4", 4000, "Deny", "*", ["*"], ["0.0.0.0/0"])
    v6 = nsg_rule("deny-v6", 4001, "Deny", "*", ["*"], ["::/0"])
    assert verify(_closing(v4, v6), sbc_only).exit_code == 0
    both = nsg_rule("deny", 4000, "Deny", "*", ["*"], ["0.0.0.0/0", "::/0"])
    assert verify(_closing(both), sbc_only).exit_code == 0
    result = verify(_closing(v4), sbc_only)
    assert result.exit_code == 1
    assert ("NSG rule 'deny-v4' does not deny all other outbound traffic: no IPv6 destination"
            in result.render())  # fmt: skip
    # An Allow to ::/0 is IPv6 only: it allows nothing of IPv4's.
    wide6 = nsg_rule("wide6", 1300, "Allow", "Tcp", ["443"], ["::/0"])
    extra = verify(_closing(wide6, both), sbc_only).clouds[0].extra
    assert {b.version for b in extra.boxes()} == {6}


def test_a_source_limited_deny_hides_no_wider_allow() -> None:
    sbc_only = RULES.filter(sections=["SBC"])
    hide = {**nsg_rule("hide", 1000, "Deny", "*", ["*"], ["128.0.0.0/1"]),
            "sourceAddressPrefix": "10.9.9.9/32"}  # fmt: skip
    wide = nsg_rule("wide", 1300, "Allow", "Tcp", ["443"], ["128.0.0.0/1"])
    close = nsg_rule("deny", 4000, "Deny", "*", ["*"], ["Internet"])
    result = verify(_closing(hide, wide, close), sbc_only)
    assert "extra   tcp 443 → 128.0.0.0/1" in result.render()
    # The same Deny from every source does take effect.
    unlimited = {**hide, "sourceAddressPrefix": "*"}
    assert verify(_closing(unlimited, wide, close), sbc_only).exit_code == 0


ODD = st.one_of(
    st.sampled_from(["5060,8443", "nan", "inf", "", " 5060", "506⁰", "٥٠٦٠", "5060.0", "0x13c4",
                     "18.177.19.211/255.255.255.255", "18.177.19.211/0.0.0.0", "TCP", "icmp",
                     "58", "-1", "Tcp ", "[secret]"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.integers(-(2**33), 2**33),
    st.text(max_size=10),
    st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=2),
)  # fmt: skip
_SBC = {"ipProtocol": "tcp", "fromPort": 5060, "toPort": 5061, "cidrIpv4": "18.177.19.211/32"}


def _spelling_of(key: str, value: object) -> bool:
    """``value`` reads as the SBC rule's own ``key`` (so verify may answer 0)."""
    base = _SBC[key]
    if key == "ipProtocol":
        return isinstance(value, str) and value.lower() in ("tcp", "6")
    if isinstance(base, int) and not isinstance(value, bool):
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        return isinstance(value, int | float) and value == base
    return value == base


@settings(max_examples=120, deadline=None)
@given(key=st.sampled_from(list(_SBC)), value=ODD)
def test_an_odd_value_is_refused_in_one_line_or_not_accepted(key: str, value: object) -> None:
    """verify's strict reader: any value in a deciding field is refused naming the field,
    or gives a verdict that is 0 only for a spelling of the same rule."""
    doc = aws_doc()
    sbc = next(s for s in doc["steps"] if s["urn"].endswith("::sbc"))
    sbc["newState"]["inputs"][key] = value
    try:
        result = verify(doc, RULES)
    except KorefwError as exc:
        fields = ("fromPort", "toPort") if key.endswith("Port") else (key,)  # a range: either
        assert str(exc).startswith(tuple(f"{urn(EGRESS, 'sbc')}: {k}" for k in fields))
        assert "\n" not in str(exc)
        return
    assert result.exit_code in (0, 1, 2)
    if result.exit_code == 0:
        assert _spelling_of(key, value), (key, value, result.render())


def _same(type_: str, name: str, inputs: dict, id_: str) -> dict:
    """A ``same`` step as a real preview prints it: the new state without id or outputs
    (``step_generator.go``), the old one with them (``SameStep.Apply`` copies the id later)."""
    s = step(type_, name, inputs)
    new = s["newState"]
    del new["id"]
    return {"op": "same", "urn": s["urn"], "oldState": {**new, "id": id_, "outputs": inputs},
            "newState": new}  # fmt: skip


def test_an_nsg_rule_by_literal_name_is_in_korefws_nsg_and_its_deny_applies() -> None:
    """Without propertyDependencies, a SecurityRule names its NSG by resource group and name
    (any case, as Azure compares them); it is a rule of that NSG, so korefw's closing Deny
    (priority 4000) covers one after it."""
    nsg = {"resourceGroupName": "rg", "networkSecurityGroupName": "nsg-kore", "securityRules": [
        nsg_rule("stun", 1100, "Allow", "Udp", ["3478"], ["13.115.244.0/27"]),
        nsg_rule("deny-rest", 4000, "Deny", "*", ["*"], ["*"]),
    ]}  # fmt: skip
    ssh = {**nsg_rule("ssh", 4001, "Allow", "Tcp", ["22"], ["198.51.100.0/24"]),
           "networkSecurityGroupName": "NSG-Kore", "resourceGroupName": "RG"}  # fmt: skip
    doc = {"steps": [_same(NSG, "nsg", nsg, "/subscriptions/s/resourceGroups/rg/x"),
                     _same(RULE, "ssh", ssh, "/subscriptions/s/x/securityRules/ssh")]}
    reading = read_plan(doc)
    assert reading.groups("azure") == [urn(NSG, "nsg")] and not reading.notes
    udp_stun = RULES.filter(sections=["STUN"])
    assert verify(doc, udp_stun).render().splitlines() == [
        "FAIL: azure: 1 group(s)", "  missing tcp 3478 → 13.115.244.0/27"]
    ssh["priority"] = 900  # before the Deny: an extra flow of korefw's NSG
    result = verify(doc, udp_stun)
    assert "  extra   tcp 22 → 198.51.100.0/24" in result.render().splitlines()
