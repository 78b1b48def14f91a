"""The Azure components under Pulumi's mock runtime: what Azure would really be told.

Every allow-set check here reads the recorded resource inputs (the NSG's inline
``securityRules`` or the ``SecurityRule`` resources), never the plan.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from conftest import rule_sets
from hypothesis import HealthCheck, given, settings

from korefw.components.azure import FQDN_TYPE, NSG_TYPE, EgressNetworkSecurityGroup, plan_for
from korefw.core.errors import ConfigError, KorefwError, PlanError
from korefw.core.plan.azure_options import MERGE_MODES
from korefw.core.read.regions import load_rules, region_codes
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange
from korefw.runtime.offline import OfflinePlan, run_offline

NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"
IP_GROUP = "azure-native:network:IpGroup"
POLICY = "azure-native:network:FirewallPolicy"
RCG = "azure-native:network:FirewallPolicyRuleCollectionGroup"
POLICY_ID = "/subscriptions/s/resourceGroups/rg-fw/providers/Microsoft.Network/firewallPolicies/fp"


@pytest.fixture(scope="module")
def jp() -> RuleSet:
    return load_rules("jp")


def run(rules: RuleSet | str, **kwargs: Any) -> OfflinePlan:
    kwargs.setdefault("resource_group_name", "rg-egress")
    if "network_security_group_name" not in kwargs:
        kwargs.setdefault("location", "japaneast")
    return run_offline(lambda: EgressNetworkSecurityGroup("egress", rules=rules, **kwargs))


def component(plan: OfflinePlan, type_: str = NSG_TYPE) -> Any:
    (c,) = plan.of_type(type_)
    return c


# ---------------------------------------------------------------- reading back


def recorded_rules(plan: OfflinePlan) -> list[dict[str, Any]]:
    """The NSG rules Azure would be told: inline ``securityRules`` and ``SecurityRule`` inputs."""
    out: list[dict[str, Any]] = []
    for nsg in plan.of_type(NSG):
        out.extend(nsg.inputs.get("securityRules", []))
    out.extend(r.inputs for r in plan.of_type(SECURITY_RULE))
    return out


def one_or_many(r: dict[str, Any], key: str) -> list[str]:
    """A field Azure takes singular or plural; exactly one of the two must be set."""
    single, many = r.get(key), r.get(key.replace("Prefix", "Prefixes").replace("Range", "Ranges"))
    assert (single is None) != (many is None), (key, r)
    return [single] if single is not None else list(many)


def recorded_allow_set(plan: OfflinePlan) -> AllowSet:
    boxes = AllowSet()
    for r in recorded_rules(plan):
        assert r["direction"] == "Outbound" and r["sourcePortRange"] == "*"
        if r["access"] != "Allow":
            continue
        assert r["protocol"] in ("Tcp", "Udp"), r
        dests = one_or_many(r, "destinationAddressPrefix")
        assert not {"*", "Internet", "0.0.0.0/0", "::/0"} & set(dests), r
        ports = []
        for text in one_or_many(r, "destinationPortRange"):
            lo, _, hi = text.partition("-")
            ports.append((int(lo), int(hi or lo)))
        nets = [ipaddress.ip_network(d) for d in dests]
        boxes = boxes | AllowSet.of(r["protocol"].lower(), ports, nets)
    return boxes


def names_and_priorities(plan: OfflinePlan) -> dict[str, int]:
    return {r["name"]: r["priority"] for r in recorded_rules(plan)}


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("merge", MERGE_MODES)
@pytest.mark.parametrize("code", region_codes())
def test_every_region_new_nsg_allows_exactly_the_rule_set(code: str, merge: str) -> None:
    rules = load_rules(code)
    plan = run(code, merge=merge, deny_other_outbound=True)
    assert recorded_allow_set(plan) == rules.allow_set()
    (nsg,) = plan.of_type(NSG)
    assert (nsg.inputs["location"], nsg.inputs["resourceGroupName"]) == ("japaneast", "rg-egress")


@pytest.mark.parametrize("merge", MERGE_MODES)
def test_existing_nsg_gets_security_rules_only(jp: RuleSet, merge: str) -> None:
    plan = run(jp, merge=merge, network_security_group_name="nsg-app", deny_other_outbound=True)
    assert not plan.of_type(NSG)  # never both forms on one NSG
    rules = plan.of_type(SECURITY_RULE)
    assert rules and all(r.inputs["networkSecurityGroupName"] == "nsg-app" for r in rules)
    assert all(r.id.endswith("/securityRules/" + r.inputs["securityRuleName"]) for r in rules)
    assert recorded_allow_set(plan) == jp.allow_set()
    out = component(plan).outputs
    assert out["network_security_group_name"] == "nsg-app"
    assert out["network_security_group_id"].endswith(
        "/resourceGroups/rg-egress/providers/Microsoft.Network/networkSecurityGroups/nsg-app"
    )


def test_security_rule_resources_are_keyed_by_priority(jp: RuleSet) -> None:
    plan = run(jp, network_security_group_name="nsg-app", deny_other_outbound=True)
    rules = plan.of_type(SECURITY_RULE)
    assert rules
    for r in rules:
        assert r.name == f"egress-priority-{r.inputs['priority']}"
        assert r.inputs["securityRuleName"].startswith("korefw-")
        assert r.parent == component(plan).urn


def record_options(seen: dict[str, Any]) -> pulumi.ResourceOptions:
    """Options whose (SDK-side) transformation records every child's resource options."""

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = args.opts

    return pulumi.ResourceOptions(transformations=[record])


def test_renamed_security_rules_are_replaced_delete_first_with_the_old_name_as_alias(
    jp: RuleSet,
) -> None:
    seen: dict[str, Any] = {}
    plan = run_offline(
        lambda: EgressNetworkSecurityGroup(
            "egress",
            rules=jp,
            resource_group_name="rg",
            network_security_group_name="nsg-app",
            deny_other_outbound=True,
            name_prefix="kore-jp",
            opts=record_options(seen),
        )
    )
    for r in plan.of_type(SECURITY_RULE):
        opts = seen[r.name]
        # The successor of a renamed rule takes the same priority: delete first.
        assert opts.delete_before_replace is True
        # korefw 0.x named the resource after the rule (the provider adds type aliases).
        names = [a.name for a in opts.aliases if isinstance(a.name, str)]
        assert names == [f"egress-{r.inputs['securityRuleName']}"]


def test_japan_merge_all_is_at_most_seven_nsg_rules(jp: RuleSet) -> None:
    plan = run(jp, merge="all")
    assert len(recorded_rules(plan)) <= 7


def test_deny_rule_is_last_in_band_and_really_restricts(jp: RuleSet) -> None:
    plan = run(jp, priority_band=(2000, 2499), deny_other_outbound=True)
    rules = sorted(recorded_rules(plan), key=lambda r: r["priority"])
    deny = rules[-1]
    assert deny["access"] == "Deny" and deny["priority"] == 2499
    assert (deny["destinationAddressPrefix"], deny["protocol"]) == ("Internet", "*")
    assert all(2000 <= r["priority"] < 2499 for r in rules[:-1])
    # korefw's plan reader agrees: no note that AllowInternetOutBound still lets all out.
    from korefw.core.check.verify import verify

    result = verify(plan.to_preview_json(), jp)
    assert result.ok, result.render()
    assert not any("AllowInternetOutBound" in n for n in result.notes)


def test_over_4000_destinations_per_nsg_fails_before_any_resource() -> None:
    nets = tuple(ipaddress.ip_network((0xC6120000 + 2 * i, 32)) for i in range(4001))
    rules = RuleSet(
        (Rule("S", "C", (Protocol.UDP,), (PortRange(10000, 20000),), cidrs=nets),), region="t"
    )
    with pytest.raises(PlanError, match="4001 destination addresses and ranges"):
        run(rules)
    fits = RuleSet((rules.rules[0].with_(cidrs=nets[:4000]),), region="t")
    plan = run(fits)
    assert [len(r["destinationAddressPrefixes"]) for r in recorded_rules(plan)] == [4000]
    assert recorded_allow_set(plan) == fits.allow_set()


def test_inline_rules_use_the_sdk_shapes(jp: RuleSet) -> None:
    plan = run(jp, source_address_prefixes=["10.0.0.0/16", "10.1.0.0/16"])
    for r in recorded_rules(plan):
        assert r["sourceAddressPrefixes"] == ["10.0.0.0/16", "10.1.0.0/16"]
        assert "sourceAddressPrefix" not in r
        assert len(r["description"]) <= 140 and r["description"].startswith("Kore.ai jp: ")


# ---------------------------------------------------------------- stability


def test_adding_a_japan_row_keeps_every_name_and_priority(jp: RuleSet) -> None:
    new_row = Rule(
        "Voice Gateway (VG)",
        "Session Border Controller (SBC) (Agent SBC)",
        (Protocol.TCP,),
        (PortRange(5062, 5062),),
        cidrs=(ipaddress.ip_network("35.76.183.250/32"),),
    )
    for merge in MERGE_MODES:
        before = names_and_priorities(run(jp, merge=merge, deny_other_outbound=True))
        grown = names_and_priorities(
            run(jp.extend([new_row]), merge=merge, deny_other_outbound=True)
        )
        assert {n: grown.get(n) for n in before} == before
        assert len(grown) == len(before) + 1


def test_shuffling_rows_gives_identical_preview_json(jp: RuleSet) -> None:
    kwargs = {"deny_other_outbound": True, "create_firewall_policy": True, "ip_groups": True}
    base = run(jp, **kwargs).dumps()
    for seed in range(3):
        rows = list(jp.rules)
        random.Random(seed).shuffle(rows)
        shuffled = RuleSet(tuple(rows), region=jp.region, source=jp.source, retrieved=jp.retrieved)
        assert run(shuffled, **kwargs).dumps() == base


# ---------------------------------------------------------------- FQDN rules and outputs


def test_fqdn_rules_without_a_firewall_are_output_and_warned(jp: RuleSet) -> None:
    plan = run(jp)
    out = component(plan).outputs
    fqdns = {u["fqdn"] for u in out["unenforced_fqdn_rules"]}
    assert {"*.kore.ai", "*.twilio.com", "audiocodes-jp-sbc-prod.kore.ai"} <= fqdns
    assert any("egress: " in w and "not enforced" in w and "*.kore.ai" in w for w in plan.warnings)
    assert not plan.of_type(FQDN_TYPE) and not plan.of_type(RCG)
    assert out["ip_group_ids"] == {} and out.get("firewall_policy_id") is None


def test_existing_firewall_policy_gets_application_and_network_rules(jp: RuleSet) -> None:
    plan = run(jp, firewall_policy_id=POLICY_ID)
    assert not plan.of_type(POLICY)
    (rcg,) = plan.of_type(RCG)
    i = rcg.inputs
    assert (i["firewallPolicyName"], i["resourceGroupName"]) == ("fp", "rg-fw")
    assert i["ruleCollectionGroupName"] == "korefw-egress" and i["priority"] == 1000
    colls = {c["name"]: c for c in i["ruleCollections"]}
    (app,) = colls["korefw-application"]["rules"]
    assert app["ruleType"] == "ApplicationRule"
    assert app["targetFqdns"] == ["*.kore.ai", "*.twilio.com"]
    assert app["protocols"] == [
        {"protocolType": "Https", "port": 443},
        {"protocolType": "Https", "port": 8443},
    ]
    net = colls["korefw-network"]["rules"]
    assert all(
        r["ruleType"] == "NetworkRule" and r["ipProtocols"] in (["TCP"], ["UDP"]) for r in net
    )
    assert any(r.get("destinationFqdns") for r in net)
    out = component(plan).outputs
    assert out["firewall_policy_id"] == POLICY_ID and out["unenforced_fqdn_rules"] == []


def test_new_firewall_policy_with_ip_groups(jp: RuleSet) -> None:
    plan = run(jp, create_firewall_policy=True, ip_groups=True, tags={"Owner": "net"})
    (policy,) = plan.of_type(POLICY)
    assert policy.inputs["dnsSettings"] == {"enableProxy": True}
    assert policy.inputs["tags"] == {"Owner": "net"}
    groups = plan.of_type(IP_GROUP)
    nsg_rules = [r for r in recorded_rules(plan) if r["access"] == "Allow"]
    assert len(groups) == len(nsg_rules)
    assert {g.inputs["ipGroupsName"] for g in groups} == {r["name"] for r in nsg_rules}
    fqdn = component(plan, FQDN_TYPE)
    assert fqdn.parent == component(plan).urn
    assert all(g.parent == fqdn.urn for g in [*groups, policy])
    ids = component(plan).outputs["ip_group_ids"]
    (rcg,) = plan.of_type(RCG)
    refs = [
        ref
        for c in rcg.inputs["ruleCollections"]
        for r in c["rules"]
        for ref in r.get("destinationIpGroups", [])
    ]
    assert sorted(refs) == sorted(ids.values())


def test_outputs(jp: RuleSet) -> None:
    plan = run(jp, deny_other_outbound=True)
    out = component(plan).outputs
    rules = out["rules"]
    assert [r["priority"] for r in rules] == sorted(r["priority"] for r in rules)
    assert {r["name"]: r["priority"] for r in rules} == names_and_priorities(plan)
    (nsg,) = plan.of_type(NSG)
    assert out["network_security_group_id"] == nsg.id
    assert out["network_security_group_name"] == "egress"  # the mock's autoname
    assert out["plan"]["merge"] == "all" and len(out["plan"]["nsg_rules"]) == len(rules)


def test_region_code_and_filters(jp: RuleSet) -> None:
    plan = run("jp", sections=["Twilio STUN"])
    only = RuleSet(tuple(r for r in jp.rules if r.section == "Twilio STUN"))
    assert recorded_allow_set(plan) == only.allow_set()


# ---------------------------------------------------------------- bad options


def registered_before_failing(program: Callable[[], object]) -> tuple[KorefwError, list[str]]:
    """Run ``program``, catch its error, return it and the resource types registered."""
    caught: list[KorefwError] = []

    def wrapped() -> None:
        try:
            program()
        except KorefwError as exc:
            caught.append(exc)

    plan = run_offline(wrapped)
    assert caught, "expected an error"
    return caught[0], [r.type for r in plan.resources if r.type != "pulumi:pulumi:Stack"]


BAD = [
    ({"resource_group_name": None}, "resource_group_name", "required"),
    ({"resource_group_name": ""}, "resource_group_name", "required"),
    ({"location": None}, "location", "one of them"),
    ({"network_security_group_name": "nsg-app"}, "network_security_group_name", "not both"),
    ({"merge": "some"}, "merge", "unknown merge mode"),
    ({"priority_band": (50, 99)}, "priority_band", "within 100-4096"),
    ({"priority_band": (4000, 4100)}, "priority_band", "within 100-4096"),
    (
        {"priority_band": (1000, 1004)},
        "priority_band",
        "band 1000-1004 holds 4 priorities for Allow rules",
    ),
    (
        {"firewall_policy_id": POLICY_ID, "create_firewall_policy": True},
        "create_firewall_policy",
        "not both",
    ),
    ({"firewall_policy_id": "fp"}, "firewall_policy_id", "firewall"),
    ({"tags": {"a": 1}}, "tags", "mapping of text to text"),
    ({"tags": {"Env": "a", "env": "b"}}, "tags", "Azure tag names ignore case"),
    ({"tags": {"a/b": "x"}}, "tags", "tag names are 1-512 characters without < > %"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "Azure allows 50 tags per resource"),
    ({"location": "   "}, "location", "not an Azure location"),
    ({"location": "japan/east"}, "location", "not an Azure location"),
    ({"location": None, "network_security_group_name": "a/b"}, "network_security_group_name",
     "not an NSG name"),
    ({"location": None, "network_security_group_name": "nsg..app"},
     "network_security_group_name", "no '..'"),
    ({"resource_group_name": "rg/other"}, "resource_group_name", "not a resource group name"),
    ({"resource_group_name": "rg."}, "resource_group_name", "not a resource group name"),
    ({"name_prefix": "kore..fw"}, "name_prefix", "no '..'"),
    ({"priorities": {"a..b": 1500}}, "priorities", "not an NSG rule name"),
    ({"source_address_prefixes": ["*"]}, "source_address_prefixes", "every address or the"),
    ({"source_address_prefixes": ["Internet"]}, "source_address_prefixes", "every address"),
    ({"source_address_prefixes": ["any"]}, "source_address_prefixes", "every address"),
    ({"source_address_prefixes": ["0.0.0.0/0"]}, "source_address_prefixes", "every address"),
    ({"source_address_prefixes": ["::/0"]}, "source_address_prefixes", "every address"),
    ({"sections": ["Nope"]}, "section", "no rule has a section"),
    ({"priorities": {"korefw-typo": 1500}}, "priorities", "no NSG rule has this name"),
]


@pytest.mark.parametrize(("kwargs", "where", "text"), BAD)
def test_bad_options_fail_before_any_resource(
    jp: RuleSet, kwargs: dict[str, Any], where: str, text: str
) -> None:
    args: dict[str, Any] = {"resource_group_name": "rg", "location": "japaneast", **kwargs}
    err, registered = registered_before_failing(
        lambda: EgressNetworkSecurityGroup("egress", rules=jp, **args)
    )
    assert registered == []
    assert err.where == where or (err.where or "").startswith(where), err
    assert text in str(err) and "\n" not in str(err)
    # plan_for (what the program's preflight calls) fails the same way.
    with pytest.raises(type(err), match=text):
        plan_for(rules=jp, **args)


def test_errors_are_config_or_plan_errors(jp: RuleSet) -> None:
    with pytest.raises(ConfigError):
        plan_for(rules=jp, resource_group_name="rg")
    with pytest.raises(PlanError):
        plan_for(rules=jp, resource_group_name="rg", location="x", priority_band=(1000, 1001))


# ---------------------------------------------------------------- property


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets())
def test_property_recorded_rules_allow_exactly_the_rule_set(rules: RuleSet) -> None:
    band = (1000, 1000 + 2 * len(rules) + 40)
    for merge in MERGE_MODES:
        plan = run(rules, merge=merge, priority_band=band, deny_other_outbound=True)
        assert recorded_allow_set(plan) == rules.allow_set()
        prios = [r["priority"] for r in recorded_rules(plan)]
        assert len(set(prios)) == len(prios)
        assert all(band[0] <= p <= band[1] for p in prios)
