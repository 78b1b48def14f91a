"""The pure Azure planner: exact merges, names, priorities, limits, options, FQDN rules."""

from __future__ import annotations

import ipaddress
import random
import time

import pytest
from conftest import rule, rule_sets
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from korefw.core.errors import ConfigError, KorefwError, PlanError
from korefw.core.plan.azure_data import AzurePlan
from korefw.core.plan.azure_options import (
    MAX_DESCRIPTION_LEN,
    MAX_NAME_LEN,
    MAX_PREFIXES_PER_NSG,
    MERGE_MODES,
    NAME_RE,
    AzureOptions,
    parse_firewall_policy_id,
)
from korefw.core.plan.azure_plan import assign_priorities, home_priority, plan_azure
from korefw.core.read.regions import load_rules, region_codes
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange

TCP, UDP = Protocol.TCP, Protocol.UDP


@pytest.fixture(scope="module")
def jp() -> RuleSet:
    return load_rules("jp")


def planned_allow_set(plan: AzurePlan) -> AllowSet:
    return plan.allow_set()


def check_invariants(plan: AzurePlan, rules: RuleSet) -> None:
    """What every plan must satisfy, whatever the options."""
    o = plan.options
    lo, hi = o.priority_band
    prios = [r.priority for r in plan.nsg_rules]
    assert len(set(prios)) == len(prios)
    assert all(lo <= p <= hi for p in prios)
    names = [r.name for r in plan.nsg_rules]
    assert len(set(names)) == len(names)
    for r in plan.nsg_rules:
        assert NAME_RE.match(r.name) and len(r.name) <= MAX_NAME_LEN, r.name
        assert len(r.description) <= MAX_DESCRIPTION_LEN, r.description
        assert len(r.destination_address_prefixes) <= MAX_PREFIXES_PER_NSG
    for r in plan.allow_rules():
        assert r.protocol in ("Tcp", "Udp")
        assert not {"*", "Internet", "0.0.0.0/0", "::/0"} & set(r.destination_address_prefixes)
    assert plan.allow_set() == rules.allow_set()
    if o.deny_other_outbound:
        deny = plan.nsg_rules[-1]
        assert (deny.access, deny.priority, deny.destination_address_prefixes) == (
            "Deny",
            hi,
            ("Internet",),
        )


# ---------------------------------------------------------------- shipped regions


@pytest.mark.parametrize("merge", MERGE_MODES)
@pytest.mark.parametrize("code", region_codes())
def test_every_region_plans_exactly(code: str, merge: str) -> None:
    rules = load_rules(code)
    plan = plan_azure(rules, AzureOptions(merge=merge, deny_other_outbound=True))
    check_invariants(plan, rules)


def test_japan_merge_all_needs_at_most_seven_rules(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(merge="all"))
    assert len(plan.allow_rules()) <= 7
    # Destinations sharing one port set share a rule: the two Voice Gateway SBCs.
    by_ports = {(r.protocol, r.destination_port_ranges): r for r in plan.allow_rules()}
    vg = by_ports[("Tcp", ("5060-5061", "8443"))]
    assert vg.destination_address_prefixes == ("35.76.183.247/32", "54.248.11.38/32")


def test_merge_none_is_one_rule_per_vendor_rule_and_protocol(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(merge="none"))
    expected = {(r.key, p) for r in jp.ip_rules() for p in r.protocols}
    assert len(plan.allow_rules()) == len(expected)


def test_merge_section_never_crosses_sections(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(merge="section"))
    for r in plan.allow_rules():
        sections = {part.split(" / ")[0] for part in r.description.split(": ", 1)[1].split("; ")}
        assert len(sections) == 1, r.description


def test_descriptions_name_section_and_component(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(merge="none"))
    vg = [r for r in plan.allow_rules() if "35.76.183.247/32" in r.destination_address_prefixes]
    assert vg and all(
        r.description.startswith(
            "Kore.ai jp: Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC)"
        )
        for r in vg
    )


# ---------------------------------------------------------------- exactness


def test_overlapping_destinations_split_exactly() -> None:
    rules = RuleSet(
        (
            rule("A", "", (TCP,), [(443, 443)], ["10.1.0.0/24"], region="t"),
            rule("A", "", (TCP,), [(80, 80)], ["10.1.0.5/32"], region="t"),
            rule("B", "", (TCP,), [(443, 443)], ["10.1.0.128/25", "10.2.0.0/16"], region="t"),
        ),
        region="t",
    )
    for merge in MERGE_MODES:
        plan = plan_azure(rules, AzureOptions(merge=merge))
        check_invariants(plan, rules)
    plan = plan_azure(rules, AzureOptions(merge="all"))
    shapes = {r.destination_port_ranges: r.destination_address_prefixes for r in plan.allow_rules()}
    # 10.1.0.5 gets 80 and 443 in one rule; the rest of the /24 keeps 443 only.
    assert shapes[("80", "443")] == ("10.1.0.5/32",)
    assert "10.1.0.5/32" not in shapes[("443",)]


def test_ipv6_destinations_get_their_own_rules() -> None:
    rules = RuleSet(
        (rule("A", "", (TCP,), [(443, 443)], ["192.0.2.0/24", "2001:db8::/48"], region="t"),),
        region="t",
    )
    plan = plan_azure(rules)
    check_invariants(plan, rules)
    assert sorted(r.name.split("-")[1] for r in plan.allow_rules()) == ["tcp", "tcp6"]


def test_the_4000_prefix_limit_is_per_nsg_not_per_rule() -> None:
    # Azure: 4,000 "IP addresses and ranges specified for source or destination in a
    # security group" -- per NSG, sources and destinations apart.
    nets = [str(ipaddress.ip_address(0xC6120000 + 2 * i)) + "/32" for i in range(4000)]
    at_limit = RuleSet(
        (
            rule("A", "", (TCP,), [(443, 443)], nets[:2500], region="t"),
            rule("B", "", (UDP,), [(3478, 3478)], nets[2500:], region="t"),
        ),
        region="t",
    )
    plan = plan_azure(at_limit)
    check_invariants(plan, at_limit)
    limits = plan.to_dict()["limits"]["destination_prefixes"]
    assert (limits["used"], limits["limit"]) == (4000, 4000) and limits["per"].startswith("NSG")
    over = at_limit.extend([rule("C", "", (TCP,), [(8443, 8443)], ["198.51.100.7"], region="t")])
    # Every rule is far below 4,000; the NSG as a whole is over.
    with pytest.raises(PlanError, match=r"4001 destination .* 4000 per NSG") as err:
        plan_azure(over)
    assert err.value.where == "rules"
    sources = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(2001))  # x 2 rules
    with pytest.raises(PlanError, match="4002 source addresses") as err:
        plan_azure(at_limit, AzureOptions(source_address_prefixes=sources))
    assert err.value.where == "source_address_prefixes"


def test_ten_thousand_rules_plan_in_seconds() -> None:
    rnd = random.Random(7)
    port_sets = [[(443, 443)], [(5060, 5061)], [(10000, 65535)], [(3478, 3478), (5349, 5349)]]
    rules = RuleSet(
        tuple(
            Rule(
                section=f"S{i % 7}",
                component=f"C{i % 13}",
                protocols=(rnd.choice([TCP, UDP]),),
                ports=tuple(PortRange(*p) for p in rnd.choice(port_sets)),
                cidrs=(ipaddress.ip_network((0x0A000000 + rnd.randrange(1 << 20) * 4, 30)),),
            )
            for i in range(10_000)
        ),
        region="t",
    )
    start = time.perf_counter()
    with pytest.raises(PlanError, match="per NSG"):  # ~10,000 destinations: over 4,000
        plan_azure(rules, AzureOptions(merge="section"))
    fits = RuleSet(rules.rules[:3000], region="t")
    plan = plan_azure(fits, AzureOptions(merge="section"))
    elapsed = time.perf_counter() - start
    assert elapsed < 5, elapsed
    assert plan.allow_set() == fits.allow_set()
    with pytest.raises(PlanError, match="at most 1000"):
        plan_azure(rules, AzureOptions(merge="none"))


# ---------------------------------------------------------------- names and priorities


def with_row(rules: RuleSet, row: Rule) -> RuleSet:
    return rules.extend([row])


NEW_ROWS = {
    "new-port-set": rule(
        "Voice Gateway (VG)", "", (TCP,), [(5062, 5062)], ["35.76.183.250"], region="t"
    ),
    "existing-port-set": rule(
        "Voice Gateway (VG)",
        "Session Border Controller (SBC) (Agent SBC)",
        (TCP,),
        [(5060, 5061), (8443, 8443)],
        ["54.248.11.39"],
        region="t",
    ),
    "new-section": rule("Extra", "", (UDP,), [(4000, 4010)], ["203.0.113.0/28"], region="t"),
    "fqdn": rule("FQDN", "", (TCP,), [(443, 443)], fqdns=["*.example.com"], region="t"),
}


@pytest.mark.parametrize("merge", MERGE_MODES)
@pytest.mark.parametrize("row", sorted(NEW_ROWS))
def test_adding_a_row_keeps_every_name_and_priority(jp: RuleSet, merge: str, row: str) -> None:
    opts = AzureOptions(merge=merge, deny_other_outbound=True)
    before = {r.name: r.priority for r in plan_azure(jp, opts).nsg_rules}
    after = {r.name: r.priority for r in plan_azure(with_row(jp, NEW_ROWS[row]), opts).nsg_rules}
    assert {n: after.get(n) for n in before} == before


@pytest.mark.parametrize("merge", MERGE_MODES)
def test_shuffling_rows_changes_nothing(jp: RuleSet, merge: str) -> None:
    opts = AzureOptions(merge=merge, deny_other_outbound=True, firewall_policy="new")
    base = plan_azure(jp, opts).to_dict()
    for seed in range(5):
        rows = list(jp.rules)
        random.Random(seed).shuffle(rows)
        assert plan_azure(RuleSet(tuple(rows), region="jp"), opts).to_dict() == base


def test_priorities_hash_keys_into_the_band_without_its_last(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(priority_band=(2000, 2499)))
    for r in plan.allow_rules():
        assert r.name == f"korefw-{r.key}"
        assert r.home == home_priority(r.key, (2000, 2498))
        assert r.priority == r.home  # no collision in Japan's plan


def test_collisions_are_resolved_and_reported() -> None:
    names = [f"r{i}" for i in range(40)]
    slots, displaced = assign_priorities(names, (100, 139), {})
    assert sorted(p for p, _ in slots.values()) == list(range(100, 140))
    assert displaced and all(slots[n] == (p, h) for n, h, p in displaced)
    # Order never matters.
    again, _ = assign_priorities(list(reversed(names)), (100, 139), {})
    assert again == slots


def test_pins_come_first_and_displace_others(jp: RuleSet) -> None:
    plan = plan_azure(jp)
    a, b = plan.allow_rules()[:2]
    pinned = plan_azure(jp, AzureOptions(priorities={a.name: b.priority}))
    got = {r.name: r for r in pinned.nsg_rules}
    assert got[a.name].priority == b.priority and got[a.name].pinned
    assert got[b.name].priority != b.priority
    assert (b.name, b.home, got[b.name].priority) in pinned.displaced


def test_pin_keeps_a_rule_in_place_when_a_new_rule_takes_its_slot() -> None:
    base = RuleSet((rule("A", "", (TCP,), [(443, 443)], ["192.0.2.1"], region="t"),), region="t")
    band = (100, 102)  # two Allow priorities; 102 is kept for the Deny rule
    (old,) = plan_azure(base, AzureOptions(priority_band=band)).allow_rules()
    moved = kept = 0
    for port in range(1000, 1040):  # "korefw-tcp-10xx-..." sorts first and wins a shared slot
        grown = base.extend([rule("A", "", (TCP,), [(port, port)], ["192.0.2.2"], region="t")])
        free = {
            r.name: r.priority
            for r in plan_azure(grown, AzureOptions(priority_band=band)).nsg_rules
        }
        opts = AzureOptions(priority_band=band, priorities={old.name: old.priority})
        pinned = {r.name: r.priority for r in plan_azure(grown, opts).nsg_rules}
        moved += free[old.name] != old.priority
        kept += pinned[old.name] == old.priority
    assert moved > 0  # the collision the pin exists for does happen
    assert kept == 40


@pytest.mark.parametrize(
    ("band", "deny", "message"),
    [
        ((1000, 1003), False, r"band 1000-1003 holds 3 priorities for Allow rules .* needs 6"),
        ((1000, 1005), True, r"band 1000-1005 holds 5 priorities for Allow rules .* needs 6"),
    ],
)
def test_band_too_small_names_band_and_count(
    jp: RuleSet, band: tuple[int, int], deny: bool, message: str
) -> None:
    with pytest.raises(PlanError, match=message) as err:
        plan_azure(jp, AzureOptions(priority_band=band, deny_other_outbound=deny))
    assert err.value.where == "priority_band"


def test_unknown_pin_is_an_error(jp: RuleSet) -> None:
    with pytest.raises(PlanError, match="no NSG rule has this name") as err:
        plan_azure(jp, AzureOptions(priorities={"korefw-typo": 1500}))
    assert err.value.where == "priorities"


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kwargs", "where", "text"),
    [
        ({"merge": "some"}, "merge", "unknown merge mode"),
        ({"priority_band": (50, 99)}, "priority_band", "within 100-4096"),
        ({"priority_band": (1000, 5000)}, "priority_band", "within 100-4096"),
        ({"priority_band": (2000, 1000)}, "priority_band", "first priority is after the last"),
        ({"priority_band": (1000,)}, "priority_band", "two integers"),
        ({"source_address_prefixes": ()}, "source_address_prefixes", "at least one"),
        ({"source_address_prefixes": ("10.0.0.1/24",)}, "source_address_prefixes", "expected"),
        (
            {"source_address_prefixes": ("VirtualNetwork", "10.0.0.0/8")},
            "source_address_prefixes",
            "must be the only source",
        ),
        ({"deny_other_outbound": "yes"}, "deny_other_outbound", "true or false"),
        ({"name_prefix": "-bad"}, "name_prefix", "1-24 letters"),
        ({"name_prefix": "x" * 25}, "name_prefix", "1-24 letters"),
        ({"priorities": {"a": 50}}, "priorities.a", "within the allow rules' band"),
        ({"priorities": {"a": 1100, "b": 1100}}, "priorities.b", "already pinned"),
        (
            {"priorities": {"a": 1999}, "deny_other_outbound": True},
            "priorities.a",
            "band 1000-1998",
        ),
        ({"priorities": {"korefw-deny-internet-outbound": 1500}}, "priorities.", "Deny rule"),
        ({"firewall_policy": "maybe"}, "firewall_policy", "none, existing or new"),
        ({"firewall_priority": 50}, "firewall_priority", "100-65000"),
        ({"firewall_source_addresses": ("VirtualNetwork",)}, "firewall_source_addresses", "CIDR"),
    ],
)
def test_bad_options_fail_with_one_clear_line(kwargs: dict, where: str, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        AzureOptions(**kwargs)
    assert err.value.where.startswith(where)
    assert text in str(err.value) and "\n" not in str(err.value)


def test_single_source_may_be_a_tag_many_must_be_cidrs() -> None:
    assert AzureOptions(source_address_prefixes="VirtualNetwork").source_address_prefixes == (
        "VirtualNetwork",
    )
    two = AzureOptions(source_address_prefixes=["10.0.0.0/16", "10.1.0.0/16"])
    assert two.source_address_prefixes == ("10.0.0.0/16", "10.1.0.0/16")


def test_firewall_policy_id_is_parsed() -> None:
    pid = "/subscriptions/s/resourceGroups/rg-fw/providers/Microsoft.Network/firewallPolicies/fp1"
    assert parse_firewall_policy_id(pid) == ("rg-fw", "fp1")
    with pytest.raises(ConfigError, match="firewall_policy_id"):
        parse_firewall_policy_id("/subscriptions/s/resourceGroups/rg/providers/x/y/z")


def test_empty_rule_set_is_an_error() -> None:
    with pytest.raises(PlanError, match="empty"):
        plan_azure(RuleSet(()))


# ---------------------------------------------------------------- FQDN rules


def test_without_a_firewall_fqdn_rules_are_reported_unenforced(jp: RuleSet) -> None:
    plan = plan_azure(jp)
    assert plan.firewall is None
    fqdns = {u.flow.fqdn for u in plan.unenforced_fqdn_rules}
    assert fqdns == {f for r in jp.fqdn_rules() for f in r.fqdns}
    kore = next(u for u in plan.unenforced_fqdn_rules if u.flow.fqdn == "*.kore.ai")
    assert kore.to_dict() == {
        "fqdn": "*.kore.ai",
        "protocol": "tcp",
        "ports": "443, 8443",
        "sources": ["FQDN / Kore Domain"],
        "reason": kore.reason,
    }
    assert any("not enforced" in w and "*.kore.ai tcp 443, 8443" in w for w in plan.warnings)


def test_firewall_rules_cover_every_fqdn_flow(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(firewall_policy="existing"))
    fw = plan.firewall
    assert fw is not None and not plan.unenforced_fqdn_rules
    (app,) = fw.application_rules
    assert app.target_fqdns == ("*.kore.ai", "*.twilio.com")
    assert (app.protocols, app.ports) == (("Https",), ("443", "8443"))
    exact = [r for r in fw.network_rules if r.destination_fqdns]
    assert {f for r in exact for f in r.destination_fqdns} == {
        "audiocodes-jp-sbc-prod.kore.ai",
        "audiocodes-jp-webrtc-prod.kore.ai",
    }
    # Every IP egress rule is a firewall network rule too, so a firewall in the path
    # does not drop what the NSG allows.
    ip_rules = {r.name for r in fw.network_rules if r.destination_addresses}
    assert ip_rules == {r.name for r in plan.allow_rules()}


def test_wildcard_udp_and_wide_ranges_cannot_be_application_rules() -> None:
    rules = RuleSet(
        (
            rule(
                "F",
                "",
                (TCP, UDP),
                [(443, 443), (6000, 65535)],
                fqdns=["*.example.com"],
                region="t",
            ),
            rule("F", "", (UDP,), [(3478, 3478)], fqdns=["stun.example.com"], region="t"),
        ),
        region="t",
    )
    plan = plan_azure(rules, AzureOptions(firewall_policy="new"))
    assert plan.firewall is not None
    (app,) = plan.firewall.application_rules
    assert app.ports == ("443",)
    (net,) = plan.firewall.network_rules
    assert (net.protocols, net.destination_fqdns) == (("UDP",), ("stun.example.com",))
    left = sorted((u.flow.protocol, u.flow.ports_text) for u in plan.unenforced_fqdn_rules)
    assert left == [("tcp", "6000-65535"), ("udp", "443, 6000-65535")]


def test_ip_groups_one_per_allow_rule(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(ip_groups=True, firewall_policy="new"))
    assert [g.addresses for g in plan.ip_groups] == [
        r.destination_address_prefixes for r in plan.allow_rules()
    ]
    assert plan.firewall is not None
    by_group = [r for r in plan.firewall.network_rules if r.destination_ip_group]
    assert len(by_group) == len(plan.ip_groups)


def test_deny_warns_that_fqdn_egress_is_blocked_too(jp: RuleSet) -> None:
    plan = plan_azure(jp, AzureOptions(deny_other_outbound=True))
    assert any("also blocks FQDN egress" in w for w in plan.warnings)


# ---------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets(), merge=st.sampled_from(MERGE_MODES), deny=st.booleans())
def test_property_plans_allow_exactly_the_rule_set(rules: RuleSet, merge: str, deny: bool) -> None:
    band = (1000, 1000 + 2 * len(rules) + 40)
    plan = plan_azure(rules, AzureOptions(merge=merge, deny_other_outbound=deny,
                                          priority_band=band))  # fmt: skip
    check_invariants(plan, rules)


@settings(max_examples=100, deadline=None)
@given(
    names=st.sets(st.text("abc123-", min_size=1, max_size=6), max_size=30),
    width=st.integers(0, 40),
)
def test_property_priorities_unique_within_band(names: set[str], width: int) -> None:
    band = (200, 200 + len(names) + width)
    slots, displaced = assign_priorities(names, band, {})
    prios = [p for p, _ in slots.values()]
    assert len(set(prios)) == len(prios) == len(names)
    assert all(band[0] <= p <= band[1] for p in prios)
    assert {n for n, _, _ in displaced} == {n for n, (p, h) in slots.items() if p != h}


def test_pins_take_a_rule_name_or_its_key(jp: RuleSet) -> None:
    plan = plan_azure(jp)
    a, b = plan.allow_rules()[:2]
    by_key = plan_azure(jp, AzureOptions(priorities={a.key: b.priority}))
    by_name = plan_azure(jp, AzureOptions(priorities={a.name: b.priority}))
    assert by_key.to_dict() == by_name.to_dict()
    # A key pin survives a new name_prefix; the name pin would name no rule any more.
    renamed = plan_azure(jp, AzureOptions(name_prefix="acme", priorities={a.key: b.priority}))
    assert {r.key: r.priority for r in renamed.nsg_rules} == {
        r.key: r.priority for r in by_key.nsg_rules
    }
    with pytest.raises(PlanError, match="pinned twice"):
        plan_azure(jp, AzureOptions(priorities={a.key: b.priority, a.name: 1500}))


@pytest.mark.parametrize("merge", ["all", "section"])
def test_nsg_prefix_merged_from_rows_tiling_a_slash_8_is_refused(monkeypatch, merge) -> None:
    tiles = [rule(cidrs=(f"10.{i}.0.0/16",)) for i in range(256)]
    with pytest.raises(KorefwError, match=r"'10.0.0.0/8'"):
        RuleSet(tuple(tiles), region="xx")
    monkeypatch.setattr("korefw.core.rules.model._check_union_breadth", lambda rules: None)
    rules = RuleSet(tuple(tiles), region="xx")
    with pytest.raises(KorefwError, match=r"^rules: NSG rule .* would allow .*'10.0.0.0/8'"):
        plan_azure(rules, AzureOptions(merge=merge))
    assert len(plan_azure(rules, AzureOptions(merge="none")).nsg_rules) == 256


def test_bidi_and_format_characters_never_reach_an_azure_description() -> None:
    # U+202E (right-to-left override) would show "Deny" text reversed; U+2066 and U+200B
    # hide or reorder what a reviewer reads.
    tricky = "Voice\u202e ynA wolla\u202c \u2066Gateway\u2069\u200b\x07"
    rules = RuleSet(
        (
            rule(tricky, "SBC\u200f", cidrs=("10.1.2.0/24",)),
            rule(tricky, fqdns=("*.kore.ai",)),
        ),
        region="jp",
    )
    plan = plan_azure(rules, AzureOptions(firewall_policy="new"))
    texts = [r.description for r in plan.nsg_rules]
    assert texts == ["Kore.ai jp: Voice ynA wolla Gateway / SBC"]
    firewall = plan.to_dict()["firewall"]
    texts += [r["description"] for kind in ("network_rules", "application_rules")
              for r in firewall.get(kind, [])]  # fmt: skip
    assert len(texts) == 3
    for ch in "\u202e\u202c\u2066\u2069\u200b\u200f\x07":
        assert all(ch not in t for t in texts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([TCP, TCP, UDP]),
            st.sampled_from([(443, 443), (80, 443), (80, 80)]),
            st.integers(0, 3),  # which /16 of 10.0.0.0/14
            st.sampled_from([16, 16, 17]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_union_breadth_refuses_exactly_what_would_merge_broad(rows: list) -> None:
    rules = [
        rule(protocols=(proto,), ports=(ports,), cidrs=(f"10.{third}.0.0/{plen}",))
        for proto, ports, third, plen in rows
    ]
    # The oracle: per protocol and port, the union of the rows allowing it.
    broad = False
    for proto in (TCP, UDP):
        for port in (80, 443, 5060, 5061):
            nets = [n for r in rules if proto in r.protocols and any(port in p for p in r.ports)
                    for n in r.cidrs]  # fmt: skip
            broad |= any(n.prefixlen < 16 for n in ipaddress.collapse_addresses(nets))
    try:
        rule_set = RuleSet(tuple(rules), region="xx")
    except KorefwError as exc:
        event("refused")
        assert broad and "together allow" in str(exc)
        return
    event("planned")
    assert not broad
    plan = plan_azure(rule_set, AzureOptions(merge="all"))
    for r in plan.nsg_rules:
        assert all(ipaddress.ip_network(p).prefixlen >= 16 for p in r.destination_address_prefixes)
