"""Hostile documents: each one allows more than the page, and verify must not answer 0."""

from __future__ import annotations

import pytest
from test_verify_unit import EGRESS, NSG, RULES, SG, nsg_rule, step

from korefw.core.check.pulumidoc import DocumentError
from korefw.core.check.verify import verify

SBC = RULES.filter(sections=["SBC"])
ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"


def _nsg(*rules: dict) -> dict:
    sbc = nsg_rule("sbc", 1200, "Allow", "Tcp", ["5060-5061"], ["18.177.19.211/32"])
    return {"steps": [step(NSG, "nsg", {"resourceGroupName": "rg",
                                        "securityRules": [sbc, *rules]})]}  # fmt: skip


CLOSE = nsg_rule("deny", 4000, "Deny", "*", ["*"], ["Internet"])
WIDE = nsg_rule("wide", 1300, "Allow", "Tcp", ["*"], ["0.0.0.0/0"])


def test_the_nsg_fixture_is_exact_without_the_wide_allow() -> None:
    assert verify(_nsg(CLOSE), SBC).exit_code == 0


def test_a_deny_of_another_protocol_hides_no_tcp_allow() -> None:
    """An ICMP (or ESP, AH) Deny denies no TCP or UDP flow, so a later wide Allow shows."""
    for proto in ("Icmp", "Esp", "Ah"):
        hide = nsg_rule("hide", 1250, "Deny", proto, ["*"], ["*"])
        result = verify(_nsg(hide, WIDE, CLOSE), SBC)
        assert result.exit_code == 1, (proto, result.render())
        assert "extra   tcp 5062-65535 → 0.0.0.0/0" in result.render()


def test_a_deny_to_a_service_tag_hides_no_allow() -> None:
    """A service tag (Storage, AzureCloud) is some addresses, never all: a Deny to it denies
    nothing for certain, so an Allow after it keeps what it allows."""
    hide = nsg_rule("hide", 1250, "Deny", "Tcp", ["*"], ["Storage"])
    result = verify(_nsg(hide, WIDE, CLOSE), SBC)
    assert result.exit_code == 1, result.render()
    assert "extra   tcp 5062-65535 → 0.0.0.0/0" in result.render()


def test_a_closing_deny_to_a_service_tag_leaves_the_nsg_open() -> None:
    tag = nsg_rule("deny", 4000, "Deny", "*", ["*"], ["AzureCloud"])
    result = verify(_nsg(tag), SBC)
    assert result.exit_code == 1, result.render()
    assert "open to the Internet" in result.render()
    assert "NSG rule 'deny' does not deny all other outbound traffic" in result.render()


def test_an_entry_on_a_prefix_list_outside_the_plan_does_not_make_it_known() -> None:
    """The list pl-ext is not in the document: its other entries are unseen, so a rule
    through it cannot be checked (2), whatever entries the document adds to it by id."""
    doc = {"steps": [
        step(SG, "sg", {"vpcId": "vpc-1"}, id_="sg-1"),
        step(ENTRY, "e", {"prefixListId": "pl-ext", "cidr": "18.177.19.211/32"}),
        step(EGRESS, "r", {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 5060,
                           "toPort": 5061, "prefixListId": "pl-ext"}),
    ]}  # fmt: skip
    result = verify(doc, SBC)
    assert result.exit_code == 2, result.render()
    assert any("pl-ext" in p for p in result.problems)


def _egress(name: str, cidr: str) -> dict:
    return step(EGRESS, name, {"securityGroupId": "sg-1", "ipProtocol": "tcp",
                               "fromPort": 5060, "toPort": 5061, "cidrIpv4": cidr})  # fmt: skip


def test_a_replacement_whose_two_steps_disagree_is_undecided() -> None:
    """``create-replacement`` creates the new copy and ``replace`` only marks it
    (``ReplaceStep.Apply`` does nothing, pkg/resource/deploy/step.go); the engine gives both
    one new state. A document whose two disagree cannot say which is deployed: 2, in
    either order, never the narrower one's verdict."""
    sg = step(SG, "sg", {"vpcId": "vpc-1"}, id_="sg-1")
    narrow, wide = _egress("r", "18.177.19.211/32"), _egress("r", "0.0.0.0/0")
    assert verify({"steps": [sg, narrow]}, SBC).exit_code == 0
    for first, second in ((wide, narrow), (narrow, wide)):
        steps = [sg, {**first, "op": "create-replacement"},
                 {**second, "op": "replace", "oldState": narrow["newState"]}]  # fmt: skip
        with pytest.raises(DocumentError, match="ambiguous: two states for"):
            verify({"steps": steps}, SBC)
    same = [sg, {**narrow, "op": "create-replacement"},
            {**narrow, "op": "replace", "oldState": narrow["newState"]}]  # fmt: skip
    assert verify({"steps": same}, SBC).exit_code == 0
