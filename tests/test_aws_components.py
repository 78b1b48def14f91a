"""The AWS components under Pulumi's mock runtime: what they register, read back from inputs."""

from __future__ import annotations

import ipaddress
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest
from conftest import SHIPPED, japan, many_destinations, rule

from korefw.components.aws import (
    DestinationPrefixLists,
    EgressSecurityGroup,
    FqdnAllowlist,
    plan_for,
)
from korefw.core.check.verify import verify
from korefw.core.errors import ConfigError, KorefwError, PlanError
from korefw.core.read.regions import load_rules
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import Protocol, RuleSet
from korefw.runtime.offline import OfflinePlan, run_offline

EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
PL = "aws:ec2/managedPrefixList:ManagedPrefixList"
NFW = "aws:networkfirewall/ruleGroup:RuleGroup"
DNS_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
DNS_GROUP = "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup"
DNS_RULE = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
DNS_ASSOC = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
COMPONENT = "korefw:aws:EgressSecurityGroup"
MODES = ("cidr", "prefix-list", "auto")
VPC = "vpc-0123456789abcdef0"
TCP, UDP = Protocol.TCP, Protocol.UDP


def run(**kwargs: Any) -> OfflinePlan:
    """One EgressSecurityGroup named ``kf`` in a fresh mock stack."""
    if "security_group_id" not in kwargs:
        kwargs.setdefault("vpc_id", VPC)
    return run_offline(lambda: EgressSecurityGroup("kf", **kwargs))


def outputs(plan: OfflinePlan, type_: str = COMPONENT) -> dict[str, Any]:
    """The registered outputs of the one component of ``type_``."""
    (comp,) = plan.of_type(type_)
    return comp.outputs


def read_back(plan: OfflinePlan) -> tuple[AllowSet, dict[str, dict[int, int]]]:
    """The allow set and per-group quota of the recorded egress rules, from inputs only."""
    lists = {r.id: r.inputs for r in plan.of_type(PL)}
    boxes = []
    quota: dict[str, dict[int, int]] = defaultdict(lambda: {4: 0, 6: 0})
    for r in plan.of_type(EGRESS):
        i = r.inputs
        assert i["ipProtocol"] in ("tcp", "udp"), r.urn
        assert 0 <= i["fromPort"] <= i["toPort"] <= 65535
        if "prefixListId" in i:
            pl = lists[i["prefixListId"]]
            cidrs = [e["cidr"] for e in pl["entries"]]
            family = 4 if pl["addressFamily"] == "IPv4" else 6
            quota[i["securityGroupId"]][family] += pl["maxEntries"]
            assert not {"cidrIpv4", "cidrIpv6"} & set(i)
        else:
            cidrs = [i.get("cidrIpv4") or i["cidrIpv6"]]
            family = 4 if "cidrIpv4" in i else 6
            quota[i["securityGroupId"]][family] += 1
        nets = [ipaddress.ip_network(c) for c in cidrs]
        assert all(n.prefixlen > 0 and n.version == family for n in nets), r.urn
        boxes.extend(AllowSet.of(i["ipProtocol"], [(i["fromPort"], i["toPort"])], nets).boxes())
    return AllowSet(boxes), dict(quota)


def check_exact(plan: OfflinePlan, rules: RuleSet, limit: int = 60) -> dict[str, dict[int, int]]:
    """Nothing missing, nothing extra, within quota, standalone egress rules only."""
    actual, quota = read_back(plan)
    expected = rules.allow_set()
    missing, extra = sorted((expected - actual).triples()), sorted((actual - expected).triples())
    assert actual == expected, f"missing {missing} extra {extra}"
    for used in quota.values():
        assert used[4] <= limit and used[6] <= limit
    assert not plan.of_type("aws:ec2/securityGroupRule:SecurityGroupRule")
    for sg in plan.of_type(SG):
        assert "egress" not in sg.inputs and "ingress" not in sg.inputs
    # and the project's own verifier agrees on the preview JSON
    verdict = verify(plan.to_preview_json(), rules)
    assert verdict.ok, verdict.render()
    return quota


def nothing_registered(program: Callable[[], object]) -> KorefwError:
    """Run ``program``; it must raise a korefw error before registering any resource."""
    caught: list[KorefwError] = []

    def guarded() -> None:
        try:
            program()
        except KorefwError as exc:
            caught.append(exc)

    plan = run_offline(guarded)
    assert caught, "expected an error"
    assert [r.type for r in plan.resources] == ["pulumi:pulumi:Stack"]
    return caught[0]


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", SHIPPED)
def test_every_region_every_mode_allows_exactly_the_rules(code: str, mode: str) -> None:
    rules = load_rules(code)
    plan = run(rules=code, mode=mode)
    quota = check_exact(plan, rules)
    out = outputs(plan)
    assert [{"group": 1, "ipv4": q[4], "ipv6": q[6]} for q in quota.values()] == out["quota_used"]
    assert out["rule_count"] == len(plan.of_type(EGRESS))
    assert len(out["security_group_ids"]) == len(plan.of_type(SG)) == 1


def test_japan_cidr_uses_29_quota_units() -> None:
    plan = run(rules=japan(), mode="cidr")
    quota = check_exact(plan, japan())
    assert [q[4] for q in quota.values()] == [29]
    assert len(plan.of_type(EGRESS)) == 29
    out = outputs(plan)
    assert out["quota_used"] == [{"group": 1, "ipv4": 29, "ipv6": 0}]
    assert out["prefix_list_ids"] == {}
    merged = [
        r.inputs
        for r in plan.of_type(EGRESS)
        if r.inputs.get("cidrIpv4") == "18.177.19.211/32" and r.inputs["ipProtocol"] == "tcp"
    ]
    assert sorted((i["fromPort"], i["toPort"]) for i in merged) == [(5060, 5061), (10081, 10081)]


def test_prefix_list_mode_references_lists_and_exports_their_ids() -> None:
    plan = run(rules=japan(), mode="prefix-list", prefix_list_headroom=1)
    check_exact(plan, japan())
    out = outputs(plan)
    lists = {r.inputs["name"]: r for r in plan.of_type(PL)}
    ids = out["prefix_list_ids"]
    assert len(ids) == len(lists) == 15  # one per section and vendor flow
    assert {f"korefw-jp-{k}" for k in ids} == set(lists)
    stun_flows = ("tcp-443", "tcp-3478", "tcp-5349", "udp-3478")
    for flow in stun_flows:
        stun = lists[f"korefw-jp-twilio-stun-ipv4-{flow}"]
        assert ids[f"twilio-stun-ipv4-{flow}"] == stun.id
        assert stun.inputs["maxEntries"] == 3 + 1 and stun.inputs["addressFamily"] == "IPv4"
        assert all(e["description"] == "Twilio STUN" for e in stun.inputs["entries"])
        (ref,) = [r for r in plan.of_type(EGRESS) if r.inputs.get("prefixListId") == stun.id]
        proto, port = flow.split("-")
        assert (ref.inputs["ipProtocol"], ref.inputs["fromPort"]) == (proto, int(port))
    # 33 units at max_entries = entries (see test_aws_plan), plus 1 headroom per list
    assert sum(q["ipv4"] for q in out["quota_used"]) == 33 + 15


def test_resources_names_types_and_nesting() -> None:
    plan = run(rules=japan(), mode="auto", fqdn_enforcement=("network-firewall",))
    by_name = {r.name: r for r in plan.resources}
    assert by_name["kf"].type == COMPONENT
    assert by_name["kf-sg-1"].type == SG and by_name["kf-sg-1"].parent == by_name["kf"].urn
    assert by_name["kf-prefix-lists"].type == "korefw:aws:DestinationPrefixLists"
    assert by_name["kf-prefix-lists-pl-kore-ipv4-udp-5060"].type == PL
    assert by_name["kf-fqdn"].type == "korefw:aws:FqdnAllowlist"
    assert by_name["kf-fqdn-nfw"].type == NFW
    rule_ = by_name["kf-udp-10000-65535-to-168.86.128.0-18"]
    assert rule_.type == EGRESS and rule_.parent == by_name["kf"].urn
    sg = by_name["kf-sg-1"].inputs
    assert (
        sg["vpcId"] == VPC and sg["description"] == "korefw: egress rules for Kore.ai jp, group 1"
    )
    assert sg["tags"] == {"Name": "korefw-jp-egress-1"}


# --------------------------------------------------------------------------- identity


def custom(plan: OfflinePlan) -> dict[str, dict[str, Any]]:
    """Custom resources by URN: type and inputs (what a diff compares)."""
    return {r.urn: {"type": r.type, "inputs": r.inputs} for r in plan.resources if r.custom}


# Inputs whose change makes AWS (or the provider) replace the resource.
REPLACES = {
    EGRESS: (
        "securityGroupId",
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "cidrIpv6",
        "prefixListId",
    ),
    SG: ("vpcId", "description", "name"),
    PL: ("addressFamily",),
}


@pytest.mark.parametrize("mode", MODES)
def test_adding_a_row_creates_only_its_resources(mode: str) -> None:
    new = rule("Voice Gateway (VG)", "SBC", (TCP, UDP), ((5060, 5060),), ("35.76.200.1",))
    before = custom(run(rules=japan(), mode=mode))
    after = custom(run(rules=japan().extend([new]), mode=mode))
    assert set(before) <= set(after), "a resource was deleted"
    created = set(after) - set(before)
    # cidr: tcp and udp 5060; prefix-list: none, the VG lists of those flows gain the
    # address; auto: tcp 5060 (which merges with 5061 as a CIDR rule), udp 5060 in its list
    assert len(created) == {"cidr": 2, "prefix-list": 0, "auto": 1}[mode]
    for urn, old in before.items():
        fields = REPLACES.get(old["type"], ())
        assert {k: old["inputs"].get(k) for k in fields} == {
            k: after[urn]["inputs"].get(k) for k in fields
        }, f"{urn} would be replaced"
    if mode == "cidr":  # nothing else even changes
        assert all(after[urn] == old for urn, old in before.items())


def test_adding_a_row_to_a_prefix_list_updates_it_in_place() -> None:
    rows = [
        rule("Twilio STUN", "", (TCP,), ((443, 443), (5349, 5349)), ("13.115.245.0/27",)),
        rule("Twilio STUN", "", (TCP, UDP), ((3478, 3478),), ("13.115.245.0/27",)),
    ]
    before = run(rules=japan(), mode="prefix-list")
    after = run(rules=japan().extend(rows), mode="prefix-list")
    assert custom(before).keys() == custom(after).keys()
    stun = [r for r in after.of_type(PL) if "-pl-twilio-stun-ipv4-" in r.name]
    assert len(stun) == 4
    for pl in stun:
        assert pl.inputs["maxEntries"] == 4 and "13.115.245.0/27" in str(pl.inputs["entries"])
    check_exact(after, japan().extend(rows))


@pytest.mark.parametrize("mode", MODES)
def test_row_order_and_reruns_change_nothing(mode: str) -> None:
    rows = list(japan().rules)
    random.Random(11).shuffle(rows)
    opts = {"mode": mode, "fqdn_enforcement": ("network-firewall", "dns-firewall")}
    a = run(rules=japan(), **opts).dumps()
    assert a == run(rules=replace(japan(), rules=tuple(rows)), **opts).dumps()
    assert a == run(rules=japan(), **opts).dumps()


# --------------------------------------------------------------------------- shards and errors


def test_200_destinations_shard_into_groups_within_the_limit() -> None:
    rules = many_destinations(200)
    plan = run(rules=rules)
    quota = check_exact(plan, rules)
    groups = plan.of_type(SG)
    assert len(groups) == 4 and set(quota) == {g.id for g in groups}
    assert sum(q[4] for q in quota.values()) == 200 and max(q[4] for q in quota.values()) <= 60
    out = outputs(plan)
    assert out["security_group_ids"] == [
        next(g.id for g in groups if g.name == f"kf-sg-{i}") for i in range(1, 5)
    ]
    assert [q["ipv4"] for q in out["quota_used"]] == [
        quota[next(g.id for g in groups if g.name == f"kf-sg-{i}")][4] for i in range(1, 5)
    ]
    # each group alone allows a disjoint quarter; their union is the rule set
    per_group = defaultdict(list)
    for r in plan.of_type(EGRESS):
        per_group[r.inputs["securityGroupId"]].append(r.inputs["cidrIpv4"])
    assert sum(len(v) for v in per_group.values()) == 200


def test_shard_false_fails_before_any_resource() -> None:
    err = nothing_registered(
        lambda: EgressSecurityGroup("kf", rules=many_destinations(200), vpc_id=VPC, shard=False)
    )
    assert isinstance(err, PlanError)
    assert "200 IPv4 quota units" in str(err) and "rule_limit of 60" in str(err)


def test_existing_group_gets_the_rules_and_cannot_shard() -> None:
    plan = run(rules=japan(), security_group_id="sg-0123456789abcdef0")
    check_exact(plan, japan())
    assert not plan.of_type(SG)
    assert {r.inputs["securityGroupId"] for r in plan.of_type(EGRESS)} == {"sg-0123456789abcdef0"}
    assert outputs(plan)["security_group_ids"] == ["sg-0123456789abcdef0"]
    err = nothing_registered(
        lambda: EgressSecurityGroup(
            "kf", rules=many_destinations(61), security_group_id="sg-0123456789abcdef0"
        )
    )
    assert "61" in str(err) and "existing security group" in str(err)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({}, ConfigError, "vpc_id: give vpc_id"),
        ({"vpc_id": VPC, "security_group_id": "sg-1"}, ConfigError, "not both"),
        ({"vpc_id": VPC, "mode": "fast"}, ConfigError, "mode: unknown mode"),
        ({"vpc_id": VPC, "rule_limit": 0}, ConfigError, "rule_limit: expected an integer"),
        ({"vpc_id": VPC, "prefix_list_grouping": "x"}, ConfigError, "prefix_list_grouping"),
        ({"vpc_id": VPC, "fqdn_enforcement": ("dns",)}, ConfigError, "fqdn_enforcement"),
        ({"vpc_id": VPC, "dns_firewall_vpc_id": VPC}, ConfigError, "dns_firewall_vpc_id"),
        ({"vpc_id": VPC, "tags": {"": "x"}}, ConfigError, "tags"),
        ({"vpc_id": VPC, "tags": {"aws:owner": "x"}}, ConfigError,
         "tags.aws:owner: the prefix aws:"),
        ({"vpc_id": VPC, "tags": {"AwS:cost": "x"}}, ConfigError, "reserved for AWS"),
        ({"vpc_id": VPC, "tags": {"Team": "AWS:net"}}, ConfigError, "got 'AWS:net'"),
        ({"vpc_id": VPC, "tags": {"Name": "mine"}}, ConfigError, "korefw sets the Name tag"),
        ({"vpc_id": VPC, "tags": {"korefw:list": "x"}}, ConfigError,
         "korefw sets the korefw:list tag"),
        ({"vpc_id": VPC, "tags": {f"k{i}": "v" for i in range(48)}}, ConfigError,
         "AWS allows 50 tags per resource and korefw adds 3: give at most 47"),
        ({"vpc_id": VPC, "sections": ["Nope*"]}, KorefwError, "section: no rule"),
    ],
)
def test_bad_arguments_fail_before_any_resource(
    kwargs: dict[str, Any], error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        plan_for(rules=japan(), **kwargs)
    err = nothing_registered(lambda: EgressSecurityGroup("kf", rules=japan(), **kwargs))
    assert isinstance(err, error) and text in str(err) and "\n" not in str(err)


def test_prefix_list_over_100_entries_fails_before_any_resource() -> None:
    rules = many_destinations(101)
    err = nothing_registered(
        lambda: EgressSecurityGroup(
            "kf", rules=rules, vpc_id=VPC, mode="prefix-list", rule_limit=1000
        )
    )
    assert isinstance(err, PlanError) and "101 entries" in str(err) and "100" in str(err)
    err = nothing_registered(lambda: DestinationPrefixLists("lists", rules=rules))
    assert "101 entries" in str(err)


# --------------------------------------------------------------------------- FQDN


def test_unenforced_fqdn_rules_are_output_and_warned() -> None:
    plan = run(rules=japan())
    unenforced = outputs(plan)["unenforced_fqdn_rules"]
    assert {u["fqdn"] for u in unenforced} >= {"*.kore.ai", "*.twilio.com"}
    assert len(plan.warnings) == 1
    assert "4 FQDN egress rule(s) are not enforced" in plan.warnings[0]
    assert "tcp 443, 8443 to *.kore.ai" in plan.warnings[0]
    assert not plan.of_type(NFW) and not plan.of_type(DNS_LIST)


def test_network_and_dns_firewall_enforcement() -> None:
    plan = run(
        rules=japan(),
        fqdn_enforcement=("network-firewall", "dns-firewall"),
        dns_firewall_vpc_id=VPC,
        dns_firewall_priority=300,
    )
    assert not plan.warnings
    out = outputs(plan)
    assert out["unenforced_fqdn_rules"] == []
    (nfw,) = plan.of_type(NFW)
    assert nfw.inputs["type"] == "STATEFUL" and nfw.inputs["capacity"] == 100
    rules_string = nfw.inputs["ruleGroup"]["rulesSource"]["rulesString"]
    assert rules_string.count("\n") == 8 and "rulesSourceList" not in nfw.inputs["ruleGroup"]
    assert out["network_firewall_rule_group_arn"].startswith("arn:aws:networkfirewall:")
    (domains,) = plan.of_type(DNS_LIST)
    assert domains.inputs["domains"][:2] == ["*.kore.ai", "*.twilio.com"]
    (group,) = plan.of_type(DNS_GROUP)
    (allow,) = plan.of_type(DNS_RULE)
    assert allow.inputs["action"] == "ALLOW"
    assert allow.inputs["firewallRuleGroupId"] == group.id
    assert allow.inputs["firewallDomainListId"] == domains.id
    (assoc,) = plan.of_type(DNS_ASSOC)
    assert assoc.inputs["vpcId"] == VPC and assoc.inputs["priority"] == 300
    assert out["dns_firewall_rule_group_id"] == group.id


def test_standalone_fqdn_allowlist_warns_about_udp() -> None:
    rules = RuleSet(
        (rule(protocols=(TCP, UDP), ports=((3478, 3478),), fqdns=("stun.example.com",)),)
    )
    plan = run_offline(lambda: FqdnAllowlist("fq", rules=rules))
    out = outputs(plan, "korefw:aws:FqdnAllowlist")
    assert [(u["protocol"], u["fqdn"]) for u in out["unenforced_fqdn_rules"]] == [
        ("udp", "stun.example.com")
    ]
    assert len(plan.warnings) == 1 and "udp 3478 to stun.example.com" in plan.warnings[0]
    assert len(plan.of_type(NFW)) == 1 and not plan.of_type(DNS_LIST)


# --------------------------------------------------------------------------- prefix lists alone


def test_standalone_prefix_lists_keep_families_apart() -> None:
    rules = RuleSet(
        (
            rule("Edge", cidrs=("192.0.2.0/28", "2001:db8::/64"), ports=((443, 443), (8443, 8443))),
            rule("Edge", cidrs=("198.51.100.7",), ports=((443, 443), (8443, 8443))),
        ),
        region="us",
    )
    plan = run_offline(
        lambda: DestinationPrefixLists(
            "lists", rules=rules, prefix_list_headroom=5, tags={"Team": "net"}
        )
    )
    out = outputs(plan, "korefw:aws:DestinationPrefixLists")
    lists = {r.inputs["name"]: r for r in plan.of_type(PL)}
    keys = {f"edge-ipv{v}-tcp-{p}" for v in (4, 6) for p in (443, 8443)}
    assert set(lists) == {f"korefw-us-{k}" for k in keys}
    v4 = lists["korefw-us-edge-ipv4-tcp-8443"].inputs
    assert v4["addressFamily"] == "IPv4" and v4["maxEntries"] == 2 + 5
    assert [e["cidr"] for e in v4["entries"]] == ["192.0.2.0/28", "198.51.100.7/32"]
    assert v4["tags"] == {"Team": "net", "Name": v4["name"]}
    assert lists["korefw-us-edge-ipv6-tcp-443"].inputs["addressFamily"] == "IPv6"
    assert [e["cidr"] for e in lists["korefw-us-edge-ipv6-tcp-443"].inputs["entries"]] == [
        "2001:db8::/64"
    ]
    assert out["prefix_list_ids"] == {k: lists[f"korefw-us-{k}"].id for k in keys}
    assert out["prefix_lists"]["edge-ipv4-tcp-8443"]["flows"] == ["tcp 8443"]
    assert not plan.of_type(EGRESS)


@pytest.mark.parametrize("mode", MODES)
def test_ipv6_destinations_use_cidr_ipv6_and_their_own_quota(mode: str) -> None:
    rules = RuleSet(
        (
            rule("Edge", cidrs=("192.0.2.1", "192.0.2.9"), ports=((443, 443),)),
            rule("Edge", cidrs=("2001:db8::1", "2001:db8::9"), ports=((443, 443),)),
        )
    )
    plan = run(rules=rules, mode=mode, rule_limit=2)
    quota = check_exact(plan, rules, limit=2)
    assert list(quota.values()) == [{4: 2, 6: 2}]
    assert outputs(plan)["quota_used"] == [{"group": 1, "ipv4": 2, "ipv6": 2}]
    if mode == "cidr":
        assert sum("cidrIpv6" in r.inputs for r in plan.of_type(EGRESS)) == 2
    else:
        families = sorted(r.inputs["addressFamily"] for r in plan.of_type(PL))
        assert families == ["IPv4", "IPv6"]


def test_plan_notes_reach_the_preview_as_warnings() -> None:
    plan = run(rules=many_destinations(301))
    assert len(plan.of_type(SG)) == 6
    assert any("5 security groups per network interface" in w for w in plan.warnings)
    existing = run(rules=japan(), security_group_id="sg-0123456789abcdef0")
    assert any("remove its default allow-all egress rule" in w for w in existing.warnings)


def test_security_groups_ignore_description_changes_and_rules_keep_0x_names() -> None:
    seen: dict[str, Any] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = args.opts

    opts = pulumi.ResourceOptions(transformations=[record])
    plan = run_offline(
        lambda: EgressSecurityGroup("kf", rules=japan(), vpc_id=VPC, mode="prefix-list", opts=opts)
    )
    for sg in plan.of_type(SG):
        # AWS replaces a group whose description changes; the description is cosmetic.
        assert seen[sg.name].ignore_changes == ["description"]
        assert "korefw" in sg.inputs["description"] and "kore-" not in sg.inputs["description"]
    aliases = {
        r.name: [a.name for a in seen[r.name].aliases or [] if isinstance(a.name, str)]
        for r in plan.of_type(PL) + plan.of_type(EGRESS)
    }
    # korefw 0.1 keyed a list by the digest of its CIDRs' flows: a list of one flow keeps
    # the resource it had then (Japan's Twilio media list, udp 10000-65535).
    media = "kf-prefix-lists-pl-media-twilio-gateway-ipv4-udp-10000-65535"
    assert aliases[media] == ["kf-prefix-lists-pl-media-twilio-gateway-ipv4-df0e46"]
    assert aliases["kf-udp-10000-65535-to-pl-media-twilio-gateway-ipv4-udp-10000-65535"] == [
        "kf-udp-10000-65535-to-pl-media-twilio-gateway-ipv4-df0e46"
    ]
    assert all(len(names) == 1 for names in aliases.values())


def test_dns_firewall_names_stay_as_created() -> None:
    seen: dict[str, Any] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = args.opts

    run_offline(
        lambda: EgressSecurityGroup(
            "kf",
            rules=japan(),
            vpc_id=VPC,
            fqdn_enforcement=("dns-firewall",),
            dns_firewall_vpc_id=VPC,
            opts=pulumi.ResourceOptions(transformations=[record]),
        )
    )
    dns = ["kf-fqdn-domains", "kf-fqdn-dns-rules", "kf-fqdn-dns-allow", "kf-fqdn-dns-vpc"]
    assert [seen[n].ignore_changes for n in dns] == [["name"]] * 4


# --------------------------------------------------------------------------- AWS request limits

#: AWS CreateManagedPrefixList takes at most 100 entries per request (Entry.N, "Maximum
#: number of 100 items": https://docs.aws.amazon.com/AWSEC2/latest/APIReference/
#: API_CreateManagedPrefixList.html); ModifyManagedPrefixList's AddEntries likewise.
ENTRIES_PER_REQUEST = 100


@pytest.mark.parametrize("component", ["EgressSecurityGroup", "DestinationPrefixLists"])
def test_no_prefix_list_is_created_with_more_entries_than_one_request_takes(
    component: str,
) -> None:
    """The Terraform provider pulumi-aws bridges sends a ManagedPrefixList's inline entries
    in one CreateManagedPrefixList call (hashicorp/terraform-provider-aws issue 35371, open;
    fix proposed in pull request 49955), which AWS refuses over 100 entries: "The number of
    entries per request cannot exceeds limit (100)". 101 destinations of one flow must not
    plan cleanly and then fail at ``pulumi up``: refusing them at plan time (what korefw
    does) or registering no list over 100 inline entries passes."""
    rules = many_destinations(101)
    caught: list[PlanError] = []

    def program() -> None:
        try:
            if component == "EgressSecurityGroup":
                EgressSecurityGroup(
                    "kf", rules=rules, vpc_id=VPC, mode="prefix-list", rule_limit=1000
                )
            else:
                DestinationPrefixLists("lists", rules=rules)
        except PlanError as exc:
            caught.append(exc)

    plan = run_offline(program)
    sizes = [len(r.inputs.get("entries") or []) for r in plan.of_type(PL)]
    assert caught or sizes
    assert all(n <= ENTRIES_PER_REQUEST for n in sizes), sizes
