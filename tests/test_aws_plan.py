"""The pure AWS planner: options, exact allow sets, quota, shards, identity, FQDN rules."""

from __future__ import annotations

import ipaddress
import json
import random
import re
from dataclasses import replace

import pytest
from conftest import SHIPPED, japan, many_destinations, rule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from korefw.core.errors import ConfigError, KorefwError, PlanError
from korefw.core.plan.aws_data import AwsPlan, PrefixListPlan
from korefw.core.plan.aws_fqdn import plan_fqdn
from korefw.core.plan.aws_options import MAX_DESCRIPTION, MAX_NAME, AwsOptions, description
from korefw.core.plan.aws_plan import plan_aws, plan_prefix_lists
from korefw.core.read.regions import load_rules
from korefw.core.rules.addresses import collapse
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange, merge_ports

MODES = ("cidr", "prefix-list", "auto")
TCP, UDP = Protocol.TCP, Protocol.UDP
# Characters AWS accepts in security group, rule and prefix-list entry descriptions.
AWS_DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*$")


def check_plan(plan: AwsPlan, rules: RuleSet) -> None:
    """Exact, within quota, unique names, AWS-valid descriptions, no catch-alls."""
    assert plan.allow_set() == rules.allow_set()
    limit = plan.options.rule_limit
    for g in plan.groups:
        assert g.ipv4 <= limit and g.ipv6 <= limit
    names = [r.name for r in plan.rules]
    assert len(names) == len(set(names))
    for r in plan.rules:
        assert r.protocol in ("tcp", "udp")
        assert len(r.name) <= MAX_NAME
        assert AWS_DESCRIPTION.match(r.description) and len(r.description) <= MAX_DESCRIPTION
        if r.cidr is not None:
            assert ipaddress.ip_network(r.cidr).prefixlen > 0
    for pl in plan.prefix_lists:
        assert pl.max_entries == len(pl.entries) + plan.options.prefix_list_headroom
        assert all(
            ipaddress.ip_network(e.cidr).version == int(pl.address_family[-1]) for e in pl.entries
        )
    # quota as AWS counts it, recomputed from the egress rules
    for g in plan.groups:
        mine = [r for r in plan.rules if r.group == g.index]
        for family, used in ((4, g.ipv4), (6, g.ipv6)):
            expect = sum(
                1 if r.cidr else plan.prefix_list(r.prefix_list or "").max_entries
                for r in mine
                if r.family == family
            )
            assert used == expect


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"mode": "fqdn"}, "mode"),
        ({"rule_limit": 0}, "rule_limit"),
        ({"rule_limit": 1001}, "rule_limit"),
        ({"rule_limit": True}, "rule_limit"),
        ({"rule_limit": "60"}, "rule_limit"),
        ({"shard": "yes"}, "shard"),
        ({"prefix_list_headroom": -1}, "prefix_list_headroom"),
        ({"prefix_list_grouping": "row"}, "prefix_list_grouping"),
        ({"fqdn_enforcement": ("waf",)}, "fqdn_enforcement"),
        ({"name_prefix": "Kore_FW"}, "name_prefix"),
        ({"name_prefix": ""}, "name_prefix"),
        ({"name_prefix": "korefw\n"}, "name_prefix"),
        ({"name_prefix": "sg"}, "name_prefix"),  # group names may not start with sg-
        ({"name_prefix": "sg-team"}, "name_prefix"),
        ({"network_firewall_capacity": 0}, "network_firewall_capacity"),
        ({"dns_firewall_priority": 99}, "dns_firewall_priority"),
    ],
)
def test_bad_options_name_the_option(changes: dict, where: str) -> None:
    with pytest.raises(ConfigError) as exc:
        AwsOptions(**changes)
    assert exc.value.where == where
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith(f"{where}: ")


def test_options_defaults_and_normalization() -> None:
    o = AwsOptions()
    assert (o.mode, o.rule_limit, o.shard, o.prefix_list_headroom) == ("cidr", 60, True, 0)
    assert (o.prefix_list_grouping, o.fqdn_enforcement, o.name_prefix) == ("section", (), "korefw")
    both = AwsOptions(fqdn_enforcement=["dns-firewall", "network-firewall", "dns-firewall"])
    assert both.fqdn_enforcement == ("network-firewall", "dns-firewall")
    assert AwsOptions(fqdn_enforcement="dns-firewall").fqdn_enforcement == ("dns-firewall",)


# --------------------------------------------------------------------------- Japan


def test_japan_cidr_uses_exactly_29_quota_units() -> None:
    plan = plan_aws(japan(), AwsOptions(mode="cidr"))
    check_plan(plan, japan())
    assert plan.quota_used == [{"group": 1, "ipv4": 29, "ipv6": 0}]
    assert plan.rule_count == 29
    merged = [r for r in plan.rules if r.cidr == "18.177.19.211/32" and r.protocol == "tcp"]
    assert sorted((r.from_port, r.to_port) for r in merged) == [(5060, 5061), (10081, 10081)]
    # 29 is the lower bound: the destinations are pairwise apart (no exact CIDR can span
    # two), so each (protocol, destination) needs one rule per maximal run of its ports.
    dests = {c for r in japan().ip_rules() for c in r.cidrs}
    assert len(collapse(dests)) == len(dests)
    runs = 0
    for dest in dests:
        for proto in (TCP, UDP):
            ports = [
                p
                for r in japan().ip_rules()
                if dest in r.cidrs and proto in r.protocols
                for p in r.ports
            ]
            runs += len(merge_ports(ports))
    assert runs == 29


@pytest.mark.parametrize("mode", MODES)
def test_japan_each_mode_is_exact_and_costs_29(mode: str) -> None:
    plan = plan_aws(japan(), AwsOptions(mode=mode))
    check_plan(plan, japan())
    # One prefix list per vendor flow: the SBC and VG rows for tcp 5060 and tcp 5061 are
    # two lists, two references, where one CIDR rule per address merges them (2 x 2 more).
    assert plan.quota_used[0]["ipv4"] == (33 if mode == "prefix-list" else 29)


def test_japan_prefix_lists_one_per_section_and_flow() -> None:
    plan = plan_aws(japan(), AwsOptions(mode="prefix-list"))
    lists = {p.key: p for p in plan.prefix_lists}
    sbc = ("tcp-5060", "tcp-5061", "udp-5060", "udp-6000-65535")
    assert set(lists) == {
        *(f"audiocodes-ipv4-{f}" for f in (*sbc, "tcp-10081")),
        *(f"voice-gateway-vg-ipv4-{f}" for f in (*sbc, "tcp-8443")),
        "media-twilio-gateway-ipv4-udp-10000-65535",
        *(f"twilio-stun-ipv4-{f}" for f in ("tcp-443", "tcp-3478", "tcp-5349", "udp-3478")),
    }
    stun = lists["twilio-stun-ipv4-tcp-3478"]
    assert [e.cidr for e in stun.entries] == [
        "13.115.244.0/27",
        "18.180.220.128/25",
        "54.65.63.192/26",
    ]
    assert stun.flows == (("tcp", 3478, 3478),)
    assert stun.name == f"korefw-jp-{stun.key}" and stun.address_family == "IPv4"
    # The key korefw 0.1 gave a list of this one flow (its flows' digest), for an alias.
    assert stun.former_key == "twilio-stun-ipv4-a9df54"
    assert all(r.prefix_list for r in plan.rules)
    assert sorted(r.name for r in plan.rules if r.prefix_list == stun.key) == [
        "tcp-3478-to-pl-twilio-stun-ipv4-tcp-3478"
    ]


def test_auto_picks_prefix_lists_only_where_they_cost_no_more() -> None:
    plan = plan_aws(japan(), AwsOptions(mode="auto"))
    check_plan(plan, japan())
    keys = {p.key for p in plan.prefix_lists}
    # one list per flow across sections: a row that moves section moves no address
    assert all(k.startswith("kore-ipv4-") for k in keys)
    # a port range stays CIDR rules: a range that changes would move addresses between lists
    assert "kore-ipv4-udp-10000-65535" not in keys
    # tcp 5060 and 5061 merge into one CIDR rule per address: two lists would cost more
    assert not {k for k in keys if k.endswith(("tcp-5060", "tcp-5061"))}
    assert len(keys) == 7 and plan.quota_used[0]["ipv4"] == 29
    assert not [n for n in plan.warnings if "dearest egress rule" in n]  # room for a flip
    # headroom makes every list dearer than its CIDRs
    roomy = plan_aws(japan(), AwsOptions(mode="auto", prefix_list_headroom=2))
    assert not roomy.prefix_lists and roomy.quota_used[0]["ipv4"] == 29
    # the same headroom in prefix-list mode costs 2 extra per list, 15 lists: two groups
    pl = plan_aws(japan(), AwsOptions(mode="prefix-list", prefix_list_headroom=2))
    check_plan(pl, japan())
    assert sum(g.ipv4 for g in pl.groups) == 33 + 2 * 15 and len(pl.groups) == 2


def test_component_grouping_splits_sections_by_component() -> None:
    plan = plan_aws(japan(), AwsOptions(mode="prefix-list", prefix_list_grouping="component"))
    check_plan(plan, japan())
    keys = {p.key for p in plan.prefix_lists}
    sbc = {k for k in keys if k.startswith("audiocodes-session-border-controller")}
    assert len(sbc) == 2 * 5  # two components, five flows each
    assert {k.split("-ipv4-")[0] for k in sbc} == {
        "audiocodes-session-border-controller-sbc-agent-sbc",
        "audiocodes-session-border-controller-sbc-automation-ha-sbc",
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", SHIPPED)
def test_every_shipped_region_is_exact_in_every_mode(code: str, mode: str) -> None:
    rules = load_rules(code)
    check_plan(plan_aws(rules, AwsOptions(mode=mode)), rules)


# --------------------------------------------------------------------------- quota and shards


def test_ipv4_and_ipv6_are_counted_apart() -> None:
    v4 = [rule(cidrs=(f"10.0.{i}.1",)) for i in range(50)]
    v6 = [rule(cidrs=(f"2001:db8:{i:x}::/48",)) for i in range(50)]
    plan = plan_aws(RuleSet(tuple(v4 + v6)), AwsOptions())
    assert plan.quota_used == [{"group": 1, "ipv4": 50, "ipv6": 50}]
    check_plan(plan, RuleSet(tuple(v4 + v6)))


def test_ipv4_and_ipv6_prefix_lists_are_kept_apart() -> None:
    rules = RuleSet((rule(cidrs=("192.0.2.1", "2001:db8::1", "192.0.2.7", "2001:db8::7")),))
    plan = plan_aws(rules, AwsOptions(mode="prefix-list"))
    check_plan(plan, rules)
    fams = {p.key: (p.address_family, [e.cidr for e in p.entries]) for p in plan.prefix_lists}
    assert fams == {
        "s-ipv4-tcp-443": ("IPv4", ["192.0.2.1/32", "192.0.2.7/32"]),
        "s-ipv6-tcp-443": ("IPv6", ["2001:db8::1/128", "2001:db8::7/128"]),
    }
    assert plan.quota_used == [{"group": 1, "ipv4": 2, "ipv6": 2}]


def test_200_destinations_shard_within_the_limit() -> None:
    rules = many_destinations(200)
    plan = plan_aws(rules, AwsOptions())
    check_plan(plan, rules)
    # the fewest groups (4), each rule in the one its name hashes to
    assert len(plan.groups) == 4 and sum(g.ipv4 for g in plan.groups) == 200
    assert all(g.ipv4 <= 60 for g in plan.groups)
    for g in plan.groups:  # the union of the groups is the rule set, group by group
        assert {r.name for r in plan.rules if r.group == g.index} == set(g.rules)


def test_shard_false_fails_naming_limit_and_count() -> None:
    with pytest.raises(PlanError) as exc:
        plan_aws(many_destinations(200), AwsOptions(shard=False))
    text = str(exc.value)
    assert "200" in text and "60" in text and "shard" in text
    assert exc.value.where == "rule_limit"


def test_existing_group_cannot_shard() -> None:
    with pytest.raises(PlanError, match=r"200 IPv4 quota units.*rule_limit of 60.*existing"):
        plan_aws(many_destinations(200), AwsOptions(existing_group=True))
    fits = plan_aws(many_destinations(200), AwsOptions(existing_group=True, rule_limit=200))
    assert len(fits.groups) == 1


def test_a_rule_added_to_a_sharded_stack_moves_no_other_rule() -> None:
    # Hashed by name: where the new rule sorts in content order does not matter.
    before = plan_aws(many_destinations(200), AwsOptions())
    old = {r.name: r.group for r in before.rules}
    for cidr in ("10.0.0.0", "10.200.0.1"):  # sorts first, sorts last
        after = plan_aws(many_destinations(200).extend([rule("Many", cidrs=(cidr,))]))
        assert len(after.groups) == len(before.groups) == 4
        assert all(old[r.name] == r.group for r in after.rules if r.name in old), cidr


def test_prefix_list_reference_costs_max_entries() -> None:
    rules = many_destinations(40)
    plan = plan_aws(rules, AwsOptions(mode="prefix-list", prefix_list_headroom=10))
    assert [p.max_entries for p in plan.prefix_lists] == [50]
    assert plan.quota_used == [{"group": 1, "ipv4": 50, "ipv6": 0}]
    with pytest.raises(PlanError, match=r"costs 50 quota units.*rule_limit of 40"):
        plan_aws(rules, AwsOptions(mode="prefix-list", prefix_list_headroom=10, rule_limit=40))
    # auto falls back to CIDRs (which then shard) instead
    auto = plan_aws(rules, AwsOptions(mode="auto", rule_limit=30))
    check_plan(auto, rules)
    assert not auto.prefix_lists and len(auto.groups) == 2


def test_prefix_list_over_100_entries_is_an_error_naming_the_mode() -> None:
    # CreateManagedPrefixList takes at most 100 entries per request, and the provider
    # sends a new list's entries in one (hashicorp/terraform-provider-aws#35371).
    assert plan_prefix_lists(many_destinations(100))[0].max_entries == 100
    rules = many_destinations(101)
    for call, where in (
        (lambda: plan_aws(rules, AwsOptions(mode="prefix-list", rule_limit=1000)), "mode"),
        # DestinationPrefixLists has no mode: the error names the option it has
        (lambda: plan_prefix_lists(rules), "prefix_list_grouping"),
    ):
        with pytest.raises(PlanError, match=r"101 entries; AWS takes at most 100") as info:
            call()
        assert info.value.where == where and "\n" not in str(info.value)
        assert ("mode 'cidr'" in str(info.value)) == (where == "mode")
    # auto falls back to CIDR rules
    auto = plan_aws(rules, AwsOptions(mode="auto", rule_limit=1000))
    check_plan(auto, rules)
    assert not auto.prefix_lists


def test_max_entries_over_1000_is_an_error_naming_the_headroom() -> None:
    with pytest.raises(PlanError, match=r"90 entries \+ 911 headroom = 1001") as info:
        plan_prefix_lists(many_destinations(90), AwsOptions(prefix_list_headroom=911))
    assert (info.value.where, info.value.value) == ("prefix_list_headroom", 911)


def test_sections_that_slug_alike_share_their_lists_so_neither_renames_the_other() -> None:
    one = rule("Voice SIP", cidrs=("192.0.2.1/32", "192.0.2.2/32"))
    two = rule("Voice-SIP", cidrs=("192.0.2.9/32",))
    opts = AwsOptions(mode="prefix-list")
    alone = plan_aws(RuleSet((one,), region="t"), opts)
    both = plan_aws(RuleSet((one, two), region="t"), opts)
    check_plan(both, RuleSet((one, two), region="t"))
    assert [p.key for p in alone.prefix_lists] == [p.key for p in both.prefix_lists]
    (shared,) = both.prefix_lists
    assert [e.cidr for e in shared.entries] == ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.9/32"]
    assert shared.sources == ("Voice SIP / C", "Voice-SIP / C")


def test_a_region_code_that_cannot_be_a_name_is_refused() -> None:
    with pytest.raises(KorefwError, match="region code") as info:
        RuleSet((rule(cidrs=("192.0.2.1/32",)),), region="r" * 250)
    assert info.value.where == "region" and len(str(info.value)) < 200


def test_every_address_is_refused() -> None:
    broad = Rule(
        "S",
        "C",
        (TCP,),
        (PortRange(443, 443),),
        (ipaddress.ip_network("0.0.0.0/0"),),
        allow_broad=True,
    )
    with pytest.raises(PlanError, match="every address"):
        plan_aws(RuleSet((broad,)))


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize("mode", MODES)
def test_row_order_changes_nothing(mode: str) -> None:
    rules = japan()
    shuffled = list(rules.rules)
    random.Random(7).shuffle(shuffled)
    a = plan_aws(
        rules, AwsOptions(mode=mode, fqdn_enforcement=("network-firewall", "dns-firewall"))
    )
    b = plan_aws(replace(rules, rules=tuple(shuffled)), a.options)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def test_adding_a_row_only_adds() -> None:
    new = rule("Voice Gateway (VG)", "SBC", (TCP, UDP), ((5060, 5060),), ("35.76.200.1",))
    for mode in MODES:
        a = plan_aws(japan(), AwsOptions(mode=mode))
        b = plan_aws(japan().extend([new]), AwsOptions(mode=mode))
        old = {r.name: r for r in a.rules}
        kept = {r.name: r for r in b.rules if r.name in old}
        assert kept.keys() == old.keys(), mode  # nothing deleted
        for name, r in kept.items():  # nothing moved; a reference names its longer list
            same = (lambda x: replace(x, cost=0, description="")) if r.prefix_list else None
            assert (same or (lambda x: x))(r) == (same or (lambda x: x))(old[name]), name
        lists = {p.key: p for p in b.prefix_lists}
        for p in a.prefix_lists:  # every list stays, and only gains entries
            assert set(p.entries) <= set(lists[p.key].entries), (mode, p.key)
            assert lists[p.key].flows == p.flows
        added = [r for r in b.rules if r.name not in old]
        assert all(r.cidr == "35.76.200.1/32" for r in added), mode
        grown = {k for k, p in lists.items() if "35.76.200.1/32" in {e.cidr for e in p.entries}}
        vg = {"voice-gateway-vg-ipv4-tcp-5060", "voice-gateway-vg-ipv4-udp-5060"}
        # cidr: two new rules; prefix-list: the VG lists of its flows gain it, no rule is new;
        # auto: tcp 5060 stays CIDR (it merges with 5061), udp 5060 is a list
        expected = {
            "cidr": (2, set()),
            "prefix-list": (0, vg),
            "auto": (1, {"kore-ipv4-udp-5060"}),
        }
        assert (len(added), grown) == expected[mode]


def test_long_names_stay_bounded() -> None:
    net = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"
    rules = RuleSet((rule("A very long section name " * 5, "and component " * 5, cidrs=(net,)),))
    for mode in MODES:
        plan = plan_aws(rules, AwsOptions(mode=mode))
        check_plan(plan, rules)
        assert all(len(r.name) <= MAX_NAME for r in plan.rules)
        # a 60-character section slug, "-ipv6-" and the longest flow, "udp-65535-65535"
        assert all(len(p.key) <= 60 + 6 + 15 for p in plan.prefix_lists)


def test_descriptions_are_aws_safe() -> None:
    text = description("↳ Voice Gateway † / Séance \"SBC\" <br> 'x' ✓ " + "y" * 300)
    assert AWS_DESCRIPTION.match(text) and len(text) <= MAX_DESCRIPTION
    assert text.startswith("Voice Gateway / Seance SBC br x y")
    assert text.endswith("...")
    assert description("AudioCodes / SBC (Agent SBC) [a]&b") == "AudioCodes / SBC (Agent SBC) [a]&b"


def test_plan_is_json_and_deterministic() -> None:
    plan = plan_aws(japan(), AwsOptions(mode="auto", fqdn_enforcement=("network-firewall",)))
    text = json.dumps(plan.to_dict(), sort_keys=True)
    assert json.loads(text) == plan.to_dict()
    assert text == json.dumps(plan_aws(japan(), plan.options).to_dict(), sort_keys=True)


# --------------------------------------------------------------------------- FQDN


def test_fqdn_rules_without_enforcement_are_reported() -> None:
    plan = plan_aws(japan())
    unenforced = [u.to_dict() for u in plan.unenforced_fqdn_rules]
    assert {u["fqdn"] for u in unenforced} == {
        "*.kore.ai",
        "*.twilio.com",
        "audiocodes-jp-sbc-prod.kore.ai",
        "audiocodes-jp-webrtc-prod.kore.ai",
    }
    kore = next(u for u in unenforced if u["fqdn"] == "*.kore.ai")
    assert kore["ports"] == "443, 8443" and kore["protocol"] == "tcp"
    assert "no FQDN enforcement" in kore["reason"]
    assert plan.fqdn.network_firewall is None and plan.fqdn.dns_firewall is None


def test_network_firewall_rules_restrict_names_and_ports() -> None:
    fq = plan_fqdn(japan(), AwsOptions(fqdn_enforcement=("network-firewall",)))
    assert not fq.unenforced
    nfw = fq.network_firewall
    assert nfw is not None and nfw.capacity == 100 and len(nfw.rules) == 8
    kore_tls = [r for r in nfw.rules if '"' + ".kore.ai" + '"' in r and "tls.sni" in r]
    assert len(kore_tls) == 1
    line = kore_tls[0]
    assert line.startswith("pass tls $HOME_NET any -> $EXTERNAL_NET [443,8443] ")
    assert "dotprefix" not in line  # ".kore.ai" + endswith: a.kore.ai yes, kore.ai no
    assert 'content:".kore.ai"; nocase; endswith;' in line
    exact = next(r for r in nfw.rules if "http.host" in r and "sbc-prod" in r)
    assert " 5060:5061 " in exact and "startswith; endswith;" in exact
    sids = [re.search(r"sid:(\d+);", r).group(1) for r in nfw.rules]  # type: ignore[union-attr]
    assert len(set(sids)) == len(sids)
    assert all(r.count("(") == r.count(")") and r.endswith("rev:1;)") for r in nfw.rules)


def test_network_firewall_cannot_match_udp_names() -> None:
    rules = RuleSet(
        (rule(protocols=(TCP, UDP), ports=((3478, 3478),), fqdns=("stun.example.com",)),)
    )
    fq = plan_fqdn(rules, AwsOptions(fqdn_enforcement=("network-firewall",)))
    assert [(u.flow.protocol, u.flow.fqdn) for u in fq.unenforced] == [("udp", "stun.example.com")]
    assert "UDP" in fq.unenforced[0].reason
    both = plan_fqdn(rules, AwsOptions(fqdn_enforcement=("network-firewall", "dns-firewall")))
    assert not both.unenforced


def test_dns_firewall_domains_keep_the_wildcard_form() -> None:
    fq = plan_fqdn(
        japan(), AwsOptions(fqdn_enforcement=("dns-firewall",), dns_firewall_priority=200)
    )
    dns = fq.dns_firewall
    assert dns is not None and dns.priority == 200 and dns.name == "korefw-jp-fqdn"
    assert dns.domains[:2] == ("*.kore.ai", "*.twilio.com")
    assert not fq.unenforced and fq.network_firewall is None


def test_network_firewall_capacity() -> None:
    opts = AwsOptions(fqdn_enforcement=("network-firewall",), network_firewall_capacity=7)
    with pytest.raises(PlanError, match="needs capacity 8") as exc:
        plan_fqdn(japan(), opts)
    assert exc.value.where == "network_firewall_capacity"
    many = RuleSet(tuple(rule(fqdns=(f"h{i}.example.com",)) for i in range(60)))
    auto = plan_fqdn(many, AwsOptions(fqdn_enforcement=("network-firewall",)))
    assert auto.network_firewall is not None and auto.network_firewall.capacity == 200


# --------------------------------------------------------------------------- properties


_PROTOS = st.lists(st.sampled_from([TCP, UDP]), min_size=1, max_size=2, unique=True)


@st.composite
def _port(draw: st.DrawFn) -> tuple[int, int]:
    lo = draw(st.sampled_from([53, 443, 444, 3478, 5060, 5061, 8443, 10000, 60000]))
    return (lo, lo + draw(st.sampled_from([0, 0, 1, 10, 5000])))


@st.composite
def _cidr(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(16, 32))
    # /16-aligned, pairwise non-adjacent bases: a rule's CIDRs never collapse past /16
    base = draw(st.sampled_from([0x0A000000, 0x0A020000, 0xC0A80000, 0xCB000000]))
    addr = (base | draw(st.integers(0, 0xFFFF))) >> (32 - prefix) << (32 - prefix)
    return str(ipaddress.ip_network((addr, prefix)))


@st.composite
def _rules(draw: st.DrawFn) -> RuleSet:
    out = []
    for _ in range(draw(st.integers(1, 25))):
        out.append(
            rule(
                draw(st.sampled_from(["A", "B", "C"])),
                draw(st.sampled_from(["x", "y", ""])),
                tuple(draw(_PROTOS)),
                tuple(draw(st.lists(_port(), min_size=1, max_size=3))),
                tuple(draw(st.lists(_cidr(), min_size=1, max_size=4))),
            )
        )
    return RuleSet(tuple(out))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=_rules(),
    limit=st.sampled_from([5, 20, 60]),
    headroom=st.sampled_from([0, 0, 2]),
    grouping=st.sampled_from(["section", "component"]),
)
def test_plans_allow_exactly_the_rule_set(
    rules: RuleSet, limit: int, headroom: int, grouping: str
) -> None:
    for mode in MODES:
        opts = AwsOptions(
            mode=mode,
            rule_limit=limit,
            prefix_list_headroom=headroom,
            prefix_list_grouping=grouping,
        )
        try:
            plan = plan_aws(rules, opts)
        except PlanError as exc:  # only a list too big for one group may fail
            assert mode == "prefix-list" and "no security" in str(exc)
            continue
        check_plan(plan, rules)
        shuffled = replace(rules, rules=tuple(reversed(rules.rules)))
        assert plan_aws(shuffled, opts).to_dict() == plan.to_dict()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=_rules(), limit=st.sampled_from([5, 60]), headroom=st.sampled_from([0, 0, 1]))
def test_auto_uses_a_list_only_where_no_address_of_it_merges_with_another_flow(
    rules: RuleSet, limit: int, headroom: int
) -> None:
    # A list costs max_entries; it saves at most one CIDR rule per entry, and saves it only
    # when that address's rule would carry this list's flow alone (no other list's port
    # range of the protocol overlaps or adjoins it there). So auto takes a list exactly
    # when it has no headroom, two entries or more, fits the limit, no entry merges, and its
    # flow is a single port.
    opts = AwsOptions(mode="auto", rule_limit=limit, prefix_list_headroom=headroom)
    candidates = plan_prefix_lists(rules, opts)
    ranges = {(p.flows[0][0], e.cidr, p.flows[0][1:], p.key) for p in candidates for e in p.entries}

    def alone(pl: PrefixListPlan) -> bool:
        proto, lo, hi = pl.flows[0]
        return not any(
            p == proto and c in {e.cidr for e in pl.entries} and key != pl.key
            and a <= hi + 1 and lo <= b + 1
            for p, c, (a, b), key in ranges
        )  # fmt: skip

    expect = {
        p.key
        for p in candidates
        if headroom == 0
        and 2 <= len(p.entries) <= limit
        and alone(p)
        and p.flows[0][1] == p.flows[0][2]  # a single port: a range stays CIDR rules
    }
    assert {p.key for p in plan_aws(rules, opts).prefix_lists} == expect


# --------------------------------------------------------------------------- scale and purity


def test_ten_thousand_rules_plan_within_the_rule_limit() -> None:
    """10,000 rules plan in every mode (speed is measured in bench/, not here)."""
    rnd = random.Random(3)
    rules = RuleSet(
        tuple(
            rule(
                f"S{i % 101}",
                f"C{i % 13}",
                (TCP, UDP) if i % 3 else (TCP,),
                ((443, 443), (5000 + i % 50, 5000 + i % 50)),
                (str(ipaddress.ip_network((rnd.getrandbits(24) << 8, 24))),),
            )
            for i in range(10_000)
        )
    )
    for mode in MODES:
        # by component: a section's tcp 443 list would pass 100 entries
        opts = AwsOptions(mode=mode, rule_limit=1000, prefix_list_grouping="component")
        plan = plan_aws(rules, opts)
        assert all(g.ipv4 <= 1000 for g in plan.groups)


# --------------------------------------------------------------------------- AWS defaults


def test_more_than_five_groups_per_interface_is_a_warning_not_an_error() -> None:
    # Amazon VPC quotas: 5 security groups per network interface by default (adjustable).
    five = plan_aws(many_destinations(300), AwsOptions())
    assert len(five.groups) == 5
    assert not any("per network interface" in n for n in five.notes)
    six = plan_aws(many_destinations(301), AwsOptions())
    check_plan(six, many_destinations(301))
    assert len(six.groups) == 6
    (note,) = [n for n in six.notes if "per network interface" in n]
    assert "6 security groups" in note and "5 security groups per network interface" in note


def test_more_than_100_prefix_lists_is_a_warning_not_an_error() -> None:
    # Amazon VPC quotas: 100 customer-managed prefix lists per Region by default.
    def sections(n: int) -> RuleSet:
        return RuleSet(
            tuple(rule(f"S{i}", cidrs=(f"10.{i}.0.1", f"10.{i}.0.2")) for i in range(n)),
            region="xx",
        )

    opts = AwsOptions(mode="prefix-list", rule_limit=1000)
    at = plan_aws(sections(100), opts)
    assert len(at.prefix_lists) == 100 and not any("prefix lists" in n for n in at.notes)
    over = plan_aws(sections(101), opts)
    (note,) = [n for n in over.notes if "prefix lists per Region" in n]
    assert "101 managed prefix lists" in note
    assert len(plan_prefix_lists(sections(101), opts)) == 101  # planned all the same


def test_prefix_list_of_rows_tiling_a_broad_block_is_refused(monkeypatch) -> None:
    tiles = [rule(cidrs=(f"10.{i}.0.0/16",)) for i in range(64)]  # together 10.0.0.0/10
    with pytest.raises(KorefwError, match=r"'10.0.0.0/10'"):
        RuleSet(tuple(tiles), region="xx")
    # The planner refuses it too, should a rule set ever reach it unchecked.
    monkeypatch.setattr("korefw.core.rules.model._check_union_breadth", lambda rules: None)
    rules = RuleSet(tuple(tiles), region="xx")
    for plan in (
        lambda: plan_aws(rules, AwsOptions(mode="prefix-list", rule_limit=1000)),
        lambda: plan_prefix_lists(rules),
    ):
        with pytest.raises(KorefwError) as info:
            plan()
        assert str(info.value).startswith("rules: prefix list s-ipv4-tcp-443 would allow")
        assert "'10.0.0.0/10'" in str(info.value)
    plan_aws(rules, AwsOptions(mode="cidr"))  # one /16 per egress rule: nothing merges
