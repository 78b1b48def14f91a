"""korefw.core.check.policycheck: the policy pack's decisions, without gRPC."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.check import policycheck as pc
from korefw.core.check.nsgfields import azure_position, azure_rule
from korefw.core.check.planread import AWS_EGRESS, AWS_SG, AWS_SG_RULE, AZ_NSG, AZ_RULE
from korefw.core.check.pulumidoc import DocumentError
from korefw.core.check.rulefields import Fields, ResourceView, prefix_list_cidrs
from korefw.core.read.regions import load_rules, region_codes
from korefw.core.rules.allowset import AllowSet

STACK = "urn:pulumi:dev::app::"
RULE_T = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
KOREFW_RULE = f"{STACK}korefw:aws:EgressSecurityGroup${RULE_T}::kore-jp-aws-tcp-443"
OWN_RULE = f"{STACK}{RULE_T}::mine"
JP = load_rules("jp").allow_set()


@pytest.mark.parametrize(
    ("urn", "managed"),
    [
        (KOREFW_RULE, True),
        # Pulumi writes every ancestor's type into the URN, the component's parents first.
        (f"{STACK}my:app:Network$korefw:azure:EgressNetworkSecurityGroup$x:y:Z::n", True),
        (f"{STACK}korefw:aws:EgressSecurityGroup::kore-jp-aws", False),  # the component itself
        (OWN_RULE, False),
        (f"{STACK}my:app:Network${RULE_T}::korefw:looks-like-a-type", False),
        (f"{STACK}{RULE_T}::name::with::colons", False),
        ("not-a-urn", False),
    ],
)
def test_managed_by_korefw_reads_the_urn_type_chain(urn: str, managed: bool) -> None:
    assert pc.managed_by_korefw(urn) is managed


def _egress(cidr: str, protocol: str = "tcp", lo: int = 443, hi: int = 443) -> dict[str, object]:
    return {"ipProtocol": protocol, "fromPort": lo, "toPort": hi, "cidrIpv4": cidr}


def test_every_aws_form_is_read() -> None:
    inline = {
        "egress": [
            {
                "protocol": "udp",
                "fromPort": 3478,
                "toPort": 3478,
                "cidrBlocks": ["13.115.244.0/27"],
                "prefixListIds": ["pl-1"],
            }
        ]
    }
    [r] = pc.resource_rules(AWS_SG, "u", inline)
    assert (r.l4, r.ports, r.destinations) == (
        "udp",
        ((3478, 3478),),
        ("13.115.244.0/27", "prefix-list:pl-1"),
    )
    rule = {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0,
            "cidrBlocks": ["10.0.0.0/8"]}  # fmt: skip
    [r] = pc.resource_rules(AWS_SG_RULE, "u", rule)
    assert r.l4 is None and r.ports == ((0, 65535),)
    assert pc.resource_rules(AWS_SG_RULE, "u", {**rule, "type": "ingress"}) == []
    [r] = pc.resource_rules(AWS_EGRESS, "u", {**_egress("1.2.3.4/32"), "securityGroupId": "sg-1"})
    assert r.group == "sg-1"


def test_azure_rules_outbound_only_with_port_spellings() -> None:
    nsg = {
        "securityRules": [
            {
                "direction": "Outbound",
                "access": "Allow",
                "protocol": "Tcp",
                "priority": 1000,
                "destinationPortRanges": ["443", "6000-65535"],
                "destinationAddressPrefix": "1.2.3.4",
                "name": "a",
            },
            {
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "*",
                "priority": 1001,
                "destinationPortRange": "*",
                "destinationAddressPrefix": "*",
                "name": "b",
            },
        ]
    }
    [r] = pc.resource_rules(AZ_NSG, "u", nsg)
    assert (r.name, r.ports, r.priority) == ("a", ((443, 443), (6000, 65535)), 1000)
    star = {
        "direction": "Outbound",
        "protocol": "Udp",
        "destinationPortRange": "*",
        "destinationAddressPrefixes": ["1.2.3.4/32"],
        "securityRuleName": "s",
        "resourceGroupName": "rg",
        "networkSecurityGroupName": "nsg",
    }
    [r] = pc.resource_rules(AZ_RULE, "u", star)
    assert (r.group, r.name, r.ports) == ("rg/nsg", "s", ((0, 65535),))


kore_boxes = st.sampled_from(
    [(code, b) for code in region_codes() for b in load_rules(code).allow_set().boxes()]
)


@settings(max_examples=60, deadline=None)
@given(kore_boxes, st.data())
def test_a_rule_inside_kore_passes_and_any_wider_one_fails(pick, data) -> None:  # type: ignore[no-untyped-def]
    code, box = pick
    allowed = load_rules(code).allow_set()
    cidr = data.draw(st.sampled_from(box.cidrs()))
    lo = data.draw(st.integers(box.ports[0], box.ports[1]))
    hi = data.draw(st.integers(lo, box.ports[1]))
    key = "cidrIpv4" if cidr.version == 4 else "cidrIpv6"
    props = {**_egress("", box.protocol, lo, hi), key: str(cidr)}
    assert (
        pc.resource_findings(AWS_EGRESS, KOREFW_RULE, props, allowed, code, "korefw-managed") == []
    )

    bits = data.draw(st.integers(1, 4))
    wider = cidr.supernet(prefixlen_diff=min(bits, cidr.prefixlen))
    extra = AllowSet.of(box.protocol, [(lo, hi)], [wider]) - allowed
    found = pc.resource_findings(
        AWS_EGRESS, KOREFW_RULE, {**props, key: str(wider)}, allowed, code, "korefw-managed"
    )
    # Wider than the rule it came from, but still inside Kore's rules (neighbouring blocks
    # on the same ports) is within; anything beyond is named.
    assert len(found) == bool(extra)
    if extra:
        assert str(next(extra.boxes())) in found[0].message

    for protocol in ("-1", "icmp"):
        [f] = pc.resource_findings(
            AWS_EGRESS,
            KOREFW_RULE,
            {**props, "ipProtocol": protocol},
            allowed,
            code,
            "kore-addresses",
        )
        assert repr(protocol) in f.message


def test_scope_decides_which_foreign_rules_are_checked() -> None:
    wide = _egress("13.115.244.0/26")
    assert pc.resource_findings(AWS_EGRESS, OWN_RULE, wide, JP, "jp", "korefw-managed") == []
    assert len(pc.resource_findings(AWS_EGRESS, OWN_RULE, wide, JP, "jp", "kore-addresses")) == 1
    # Catch-all destinations and addresses that are not Kore's are out of scope.
    for cidr in ("0.0.0.0/0", "10.0.0.0/8"):
        assert (
            pc.resource_findings(AWS_EGRESS, OWN_RULE, _egress(cidr), JP, "jp", "kore-addresses")
            == []
        )
    # One address of Kore's inside a wider block is enough to touch.
    assert pc.touches_kore(pc.resource_rules(AWS_EGRESS, "u", _egress("13.115.0.0/16"))[0], JP)


def test_deny_rules_never_widen_and_unknowns_defer() -> None:
    deny = {
        "direction": "Outbound",
        "access": "Deny",
        "protocol": "*",
        "priority": 4000,
        "destinationPortRange": "*",
        "destinationAddressPrefix": "Internet",
        "networkSecurityGroupName": "n",
        "resourceGroupName": "g",
    }
    urn = f"{STACK}korefw:azure:EgressNetworkSecurityGroup$azure-native:network:SecurityRule::d"
    assert pc.resource_findings(AZ_RULE, urn, deny, JP, "jp", "korefw-managed") == []
    unknown = next(iter(pc.UNKNOWN))
    props = {**_egress(unknown), "prefixListId": unknown}
    assert pc.resource_findings(AWS_EGRESS, KOREFW_RULE, props, JP, "jp", "korefw-managed") == []
    [f] = pc.resource_findings(
        AWS_EGRESS, KOREFW_RULE, {**props, "toPort": 444}, JP, "jp", "korefw-managed"
    )
    assert "tcp port(s) 444" in f.message
    number = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"  # Pulumi's unknown number
    later = {**_egress("13.115.244.0/27"), "toPort": number}
    assert pc.resource_findings(AWS_EGRESS, KOREFW_RULE, later, JP, "jp", "korefw-managed") == []
    [f] = pc.resource_findings(
        AWS_EGRESS, KOREFW_RULE, {**later, "ipProtocol": "-1"}, JP, "jp", "korefw-managed"
    )
    assert "all protocols" in f.message


def _nsg_rule(access: str, priority: int, dest: str) -> dict[str, object]:
    return {
        "direction": "Outbound",
        "access": access,
        "protocol": "Tcp",
        "priority": priority,
        "destinationPortRange": "443",
        "destinationAddressPrefix": dest,
        "name": f"r{priority}",
    }


def _deny(priority: int, dest: str, **fields: object) -> dict[str, object]:
    """A closing Deny rule (all protocols and ports from every source), as korefw plans it."""
    return {**_nsg_rule("Deny", priority, dest), "protocol": "*", "destinationPortRange": "*",
            "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "flagged"),
    [
        ([], True),
        ([_deny(1999, "Internet")], False),
        ([_deny(1999, "*", sourceAddressPrefix="*")], False),
        ([_deny(1999, "0.0.0.0/0"), _deny(2000, "::/0")], False),  # both families, two rules
        ([_deny(900, "Internet")], True),  # before the Allow rules: closes nothing
        ([_deny(1999, "10.0.0.0/8")], True),  # denies too little
        # One port, one protocol, one source, one family: each leaves other egress open.
        ([_nsg_rule("Deny", 1999, "Internet")], True),
        ([_deny(1999, "Internet", destinationPortRange="443")], True),
        ([_deny(1999, "Internet", protocol="Tcp")], True),
        ([_deny(1999, "Internet", sourceAddressPrefix="10.1.2.3/32")], True),
        ([_deny(1999, "Internet", sourceAddressPrefix=None, sourceAddressPrefixes=["10.0.0.0/8"])],
         True),
        ([_deny(1999, "Internet", sourcePortRange="1024-65535")], True),
        ([_deny(1999, "Internet", sourceApplicationSecurityGroups=[{"id": "/asg/a"}])], True),
        ([_deny(1999, "Internet", destinationApplicationSecurityGroups=[{"id": "/asg/b"}])],
         True),
        ([_deny(1999, "0.0.0.0/0")], True),
        ([_deny(1999, "::/0")], True),
    ],
)
def test_closing_deny(extra: list[dict[str, object]], flagged: bool) -> None:
    nsg_t = "azure-native:network:NetworkSecurityGroup"
    urn = f"{STACK}korefw:azure:EgressNetworkSecurityGroup${nsg_t}::n"
    props = {"securityRules": [_nsg_rule("Allow", 1000, "13.115.244.0/27"), *extra]}
    found = pc.closing_deny_findings([pc.StackResource(AZ_NSG, urn, props)])
    assert bool(found) is flagged
    # An NSG korefw does not manage is none of this policy's business.
    assert pc.closing_deny_findings([pc.StackResource(AZ_NSG, OWN_RULE, props)]) == []


def test_prefix_list_entries_resolve_through_property_dependencies() -> None:
    pl_t = "aws:ec2/managedPrefixList:ManagedPrefixList"
    pl_urn = f"{STACK}korefw:aws:DestinationPrefixLists${pl_t}::p"
    entry_urn = f"{STACK}aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry::e"
    rule = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "prefixListId": "pl-1"}
    resources = [
        pc.StackResource(
            "aws:ec2/managedPrefixList:ManagedPrefixList",
            pl_urn,
            {"entries": [{"cidr": "13.115.244.0/27"}]},
        ),
        pc.StackResource(AWS_EGRESS, KOREFW_RULE, rule, {"prefixListId": [pl_urn]}),
    ]
    assert pc.stack_findings(resources, JP, "jp", "korefw-managed") == []
    added = pc.StackResource(
        "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry",
        entry_urn,
        {"cidr": str(ipaddress.ip_network("10.1.0.0/16"))},
        {"prefixListId": [pl_urn]},
    )
    [f] = pc.stack_findings([*resources, added], JP, "jp", "korefw-managed")
    assert f.urn == KOREFW_RULE and "10.1.0.0/16" in f.message
    # An entry the reader refuses is a finding when korefw's list or rule depends on it ...
    bad = pc.StackResource(added.type, entry_urn, {"cidr": "13.115.244.0/255.255.255.224"},
                           {"prefixListId": [pl_urn]})  # fmt: skip
    [f] = pc.stack_findings([*resources, bad], JP, "jp", "korefw-managed")
    assert (f.urn, f.message) == (entry_urn, "cannot be checked: cidr: expected a CIDR (got "
                                  "'13.115.244.0/255.255.255.224')")  # fmt: skip
    # ... and none of the pack's business on a list korefw neither manages nor uses.
    other = f"{STACK}{pl_t}::theirs"
    foreign = pc.StackResource(bad.type, bad.urn, bad.props, {"prefixListId": [other]})
    assert pc.stack_findings([*resources, foreign], JP, "jp", "korefw-managed") == []
    assert len(pc.stack_findings([*resources, foreign], JP, "jp", "kore-addresses")) == 1


_CIDRS = st.lists(
    st.builds(lambda n, p: str(ipaddress.ip_network((n, p), strict=False)),
              st.integers(0, 2**32 - 1), st.integers(8, 32)),
    max_size=4,
)  # fmt: skip


@settings(max_examples=50, deadline=None)
@given(inline=_CIDRS, by_id=_CIDRS, by_dep=_CIDRS)
def test_prefix_list_reader_is_one_for_verify_and_policy(
    inline: list[str], by_id: list[str], by_dep: list[str]
) -> None:
    pl_t = "aws:ec2/managedPrefixList:ManagedPrefixList"
    entry_t = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
    pl_urn = f"{STACK}{pl_t}::p"
    views = [ResourceView(pl_t, pl_urn, {"entries": [{"cidr": c} for c in inline]}, {}, "pl-1")]
    views += [ResourceView(entry_t, f"{STACK}{entry_t}::i{n}", {"cidr": c, "prefixListId": "pl-1"},
                           {}) for n, c in enumerate(by_id)]  # fmt: skip
    views += [ResourceView(entry_t, f"{STACK}{entry_t}::d{n}", {"cidr": c},
                           {"prefixListId": [pl_urn]}) for n, c in enumerate(by_dep)]  # fmt: skip
    strict = prefix_list_cidrs(views)
    # Strict (verify, diff): entries by id and by dependency reach the list under both keys.
    assert sorted(strict[pl_urn]) == sorted(strict["pl-1"]) == sorted(inline + by_id + by_dep)
    # Lenient (policy): a stack policy knows no ids, so entries reach the list by dependency.
    lenient = prefix_list_cidrs([v._replace(id=None) for v in views], strict=False)
    assert sorted(lenient[pl_urn]) == sorted(inline + by_dep)


def test_prefix_list_reader_unknown_cidr_raises_or_is_skipped() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    pl_t = "aws:ec2/managedPrefixList:ManagedPrefixList"
    view = ResourceView(pl_t, "urn:p", {"entries": [{"cidr": unknown}, {"cidr": "10.0.0.0/8"}]},
                        {})  # fmt: skip
    with pytest.raises(DocumentError, match=r"urn:p: entries\[0\]\.cidr"):
        prefix_list_cidrs([view])
    assert prefix_list_cidrs([view], strict=False) == {"urn:p": ["10.0.0.0/8"]}


@pytest.mark.parametrize(
    ("key", "value", "canonical"),
    [("access", "ALLOW", "Allow"), ("access", "deny", "Deny"), ("direction", "outbound", "Allow")],
)
def test_nsg_keywords_any_case_strict_names_a_bad_one(
    key: str, value: str, canonical: str
) -> None:
    props = {**_nsg_rule("Allow", 1000, "13.115.244.0/27"), key: value}
    for strict in (True, False):
        f = Fields("urn:r", props, strict=strict)
        assert azure_position(f, "n")[0] == "Outbound"
        assert azure_rule(f, "g", 1000, "n").access == canonical
    bad = {**props, key: "sideways"}
    with pytest.raises(DocumentError, match=rf"urn:r: {key}: expected .* or "):
        f = Fields("urn:r", bad)
        azure_rule(f, "g", 1000, "n") if key == "access" else azure_position(f, "n")
    # Lenient (policy) refuses it too, and the pack reports it instead of skipping the rule.
    with pytest.raises(DocumentError, match=rf"urn:r: {key}: expected .* or "):
        f = Fields("urn:r", bad, strict=False)
        azure_rule(f, "g", 1000, "n") if key == "access" else azure_position(f, "n")
    urn = f"{STACK}korefw:azure:EgressNetworkSecurityGroup${AZ_NSG}::n"
    [finding] = pc.resource_findings(AZ_NSG, urn, {"securityRules": [bad]}, JP, "jp",
                                     "korefw-managed")  # fmt: skip
    assert finding.message == f"cannot be checked: securityRules[0].{key}: expected " + (
        "Allow or Deny" if key == "access" else "Inbound or Outbound") + " (got 'sideways')"


# ------------------------------------------------- odd values: a finding, never a crash

#: Scalars and shapes the engine can hand a policy pack for a property: strings a user
#: typed, JSON numbers (floats through the gRPC Struct), booleans, lists and objects.
ODD = st.one_of(
    st.sampled_from(["443,8443", "nan", "inf", "-inf", "", " ", "²", "44³", "٤٤٣", "0x1bb",
                     "1e3", " 443", "443 ", "Allow ", " Tcp", "*", "-1", "65536", "any",
                     "13.115.244.0/255.255.255.224", "13.115.244.0/0.0.0.31", "13.115.244.0/27 ",
                     "::/0", "0.0.0.0/0", "Internet", "[secret]", "ingress"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)),
             max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip

_BASE_AWS = {**_egress("13.115.244.0/27"), "securityGroupId": "sg-1"}  # tcp 443: Kore's
_BASE_AZ = {**_nsg_rule("Allow", 1000, "13.115.244.0/27"), "sourceAddressPrefix": "*",
            "sourcePortRange": "*"}  # fmt: skip
_PL_T = "aws:ec2/managedPrefixList:ManagedPrefixList"
_ENTRY_T = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"


def _same(key: str, value: object, base: object) -> bool:
    """``value`` is a spelling of ``base`` that allows nothing more (so may pass)."""
    if key in ("fromPort", "toPort", "priority"):
        number = None if isinstance(value, bool) else value
        if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
            number = int(value)
        if key == "priority":  # any whole number: a priority never widens a rule
            return isinstance(number, int | float) and float(number).is_integer()
        return number == base
    if not isinstance(value, str):
        return False
    if key in ("ipProtocol", "protocol"):
        return value.lower() in ("tcp", "6")
    if key in ("access", "direction"):
        return value.lower() in ("allow", "deny", "outbound", "inbound")
    if key == "destinationPortRange":
        return value == base
    if key == "cidrIpv4" and value == "":
        return True  # an unset string as some provider states write it: no destination
    try:  # an address inside the base's
        return ipaddress.ip_network(value).subnet_of(ipaddress.ip_network(str(base)))
    except (ValueError, TypeError):
        return False


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from([(AWS_EGRESS, k) for k in ("ipProtocol", "fromPort", "toPort",
                                                    "cidrIpv4")]
                         + [(AZ_NSG, k) for k in ("access", "direction", "priority", "protocol",
                                                  "destinationPortRange",
                                                  "destinationAddressPrefix")]
                         + [(_ENTRY_T, "cidr")]),
    value=ODD,
    scope=st.sampled_from(pc.SCOPES),
)  # fmt: skip
def test_the_pack_never_raises_and_never_passes_an_odd_value(
    case: tuple[str, str], value: object, scope: pc.Scope
) -> None:
    """Any value in a deciding field of a korefw-managed rule inside Kore's rules: every
    policy answers (no exception), and passes only a spelling that allows nothing more."""
    type_, key = case
    nsg = f"{STACK}korefw:azure:EgressNetworkSecurityGroup${AZ_NSG}::n"
    pl = f"{STACK}korefw:aws:DestinationPrefixLists${_PL_T}::p"
    if type_ == AWS_EGRESS:
        resources = [pc.StackResource(AWS_EGRESS, KOREFW_RULE, {**_BASE_AWS, key: value})]
        base = _BASE_AWS[key]
    elif type_ == AZ_NSG:
        rule = {**_BASE_AZ, key: value}
        resources = [pc.StackResource(AZ_NSG, nsg, {"securityRules": [rule]})]
        base = _BASE_AZ[key]
    else:  # a prefix list entry, reached by korefw's rule through the list
        rule = {**_egress(""), "prefixListId": "pl-1"}
        del rule["cidrIpv4"]
        resources = [
            pc.StackResource(_PL_T, pl, {"entries": []}),
            pc.StackResource(
                _ENTRY_T, f"{STACK}{_ENTRY_T}::e", {"cidr": value}, {"prefixListId": [pl]}
            ),
            pc.StackResource(AWS_EGRESS, KOREFW_RULE, rule, {"prefixListId": [pl]}),
        ]
        base = "13.115.244.0/27"
    found = [
        f
        for r in resources
        for f in pc.resource_findings(r.type, r.urn, r.props, JP, "jp", scope)
    ]
    found += pc.stack_findings(resources, JP, "jp", scope)
    pc.closing_deny_findings(resources)  # advisory: answers, whatever it says
    assert all(isinstance(f, pc.Finding) and f.message for f in found)
    if not found:
        assert _same(key, value, base), (key, value)


SG_URN = f"{STACK}korefw:aws:EgressSecurityGroup$aws:ec2/securityGroup:SecurityGroup::kore"
NSG_URN = (f"{STACK}korefw:azure:EgressNetworkSecurityGroup$"
           "azure-native:network:NetworkSecurityGroup::kore")  # fmt: skip
NSG_ID = ("/subscriptions/0000/resourceGroups/RG-Net/providers/Microsoft.Network/"
          "networkSecurityGroups/nsg-kore")  # fmt: skip


def _stack_with(rule: pc.StackResource) -> list[pc.StackResource]:
    return [
        pc.StackResource(AWS_SG, SG_URN, {"id": "sg-1", "vpcId": "vpc-1"}),
        pc.StackResource(AZ_NSG, NSG_URN, {"id": NSG_ID, "name": "nsg-kore"}),
        rule,
    ]


@pytest.mark.parametrize(("type_", "props", "group"), [
    (AWS_EGRESS, {"securityGroupId": "sg-1", **_egress("198.51.100.0/24")}, "kore"),
    (AWS_SG_RULE, {"type": "egress", "securityGroupId": "sg-1", "protocol": "tcp",
                   "fromPort": 22, "toPort": 22, "cidrBlocks": ["198.51.100.0/24"]}, "kore"),
    (AZ_RULE, {"resourceGroupName": "rg-net", "networkSecurityGroupName": "NSG-kore",
               "direction": "Outbound", "access": "Allow", "protocol": "Tcp", "priority": 200,
               "destinationAddressPrefix": "198.51.100.0/24", "destinationPortRange": "22"},
     "kore"),
])  # fmt: skip
def test_a_rule_on_korefws_group_by_literal_id_is_out_of_band(
    type_: str, props: dict[str, object], group: str
) -> None:
    """Without propertyDependencies the rule still names korefw's group: by id (AWS), or by
    resource group and name, any case, the resource group read from the NSG's ARM id."""
    rule = pc.StackResource(type_, f"{STACK}{type_}::mine", props)
    for scope in pc.SCOPES:
        [f] = pc.stack_findings(_stack_with(rule), JP, "jp", scope)
        assert f.urn == rule.urn and f"out-of-band rule on {group!r}" in f.message
    other = dict(props, securityGroupId="sg-2", networkSecurityGroupName="nsg-other")
    assert pc.stack_findings(_stack_with(pc.StackResource(type_, rule.urn, other)), JP, "jp",
                             "kore-addresses") == []  # fmt: skip


def test_a_rule_through_a_prefix_list_by_literal_id() -> None:
    pl_urn = f"{STACK}korefw:aws:EgressSecurityGroup$aws:ec2/managedPrefixList:ManagedPrefixList::s"
    wide = pc.StackResource("aws:ec2/managedPrefixList:ManagedPrefixList", pl_urn,
                            {"id": "pl-1", "entries": [{"cidr": "13.115.244.0/26"}]})  # fmt: skip
    rule = pc.StackResource(AWS_EGRESS, KOREFW_RULE, {
        "securityGroupId": "sg-1", "ipProtocol": "udp", "fromPort": 3478, "toPort": 3478,
        "prefixListId": "pl-1"})  # fmt: skip
    [f] = pc.stack_findings([wide, rule], JP, "jp", "korefw-managed")
    assert f.urn == KOREFW_RULE and "through its prefix list" in f.message
    twin = pc.StackResource(wide.type, pl_urn + "-twin", {"id": "pl-1", "entries": []})
    [f] = pc.stack_findings([wide, twin, rule], JP, "jp", "korefw-managed")
    assert "held by more than one prefix list" in f.message
