"""Transitions between two plans of one stack apply without a hazard.

Pulumi runs an update in two phases: creates and updates first (in any order, in
parallel), then deletes. A resource whose logical name (URN) is in both plans is the same
resource: updated in place, or replaced when a property that cannot change in place
changes (create the replacement, delete the old one at the end; or delete first when the
resource asks for ``delete_before_replace``). ``bench/census.py`` models exactly that over
the plans, independently of ``korefw diff``, and these tests check at every moment:

* AWS: no egress rule is created while an identical one (same security group, protocol,
  ports, CIDR or prefix list) still exists (``InvalidPermission.Duplicate``); no security
  group holds more than its quota (a prefix-list reference costs ``max_entries``); no flow
  both plans allow is refused (``refused:``).
* Azure: no two NSG rules hold one priority, no rule is created onto a name another
  rule still holds, and no flow both plans allow is refused.

The URN model is the components' own: AWS egress rules, security groups and prefix lists
are named after ``EgressRulePlan.name``, ``GroupPlan.resource_name`` and
``PrefixListPlan.resource_name``; ``SecurityRule`` resources on an existing NSG after
``NsgRule.resource_name``; a new NSG's inline rules change in one PUT. The last test runs
the real program under the mock runtime to check that ``namePrefix`` is in no URN.
"""

from __future__ import annotations

import runpy
from collections import Counter
from itertools import product
from typing import Any

import pytest
from census import KINDS, aws_hazards, azure_conflicts, azure_hazards, egress, row_changes
from conftest import many_destinations, rule, without_row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from korefw.core.errors import PlanError
from korefw.core.plan.aws_data import AwsPlan
from korefw.core.plan.aws_options import MODES, AwsOptions
from korefw.core.plan.aws_plan import plan_aws
from korefw.core.plan.azure_data import AzurePlan, NsgRule
from korefw.core.plan.azure_options import MERGE_MODES, AzureOptions
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.plan.ordering import UNKNOWN
from korefw.core.read.regions import load_rules, region_codes
from korefw.core.rules.model import RuleSet
from korefw.runtime.offline import run_offline
from korefw.runtime.preview import PROJECT_DIR, load_stack

REGIONS = {code: load_rules(code) for code in region_codes()}
PREFIXES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?", fullmatch=True)


# --------------------------------------------------------------------------- AWS


def aws_options(
    mode: str, existing: bool, prefix: str = "korefw", headroom: int = 0, limit: int = 60
) -> AwsOptions:
    return AwsOptions(
        mode=mode,
        existing_group=existing,
        name_prefix=prefix,
        prefix_list_headroom=headroom,
        rule_limit=limit,
    )


@pytest.mark.parametrize("code", sorted(REGIONS))
def test_aws_single_row_changes_apply_without_hazard(code: str) -> None:
    """Every row of every region added, removed, relabeled, its port and its address
    changed, and moved to another section; in every mode, on new and existing groups,
    both directions (bench/census.py; the figures are in docs/benchmarks.md).

    Each update is planned against what the cloud holds (the old plan's ``held()``), as
    the components plan it. Nothing is refused, nothing is duplicated and no group passes
    its quota at the peak. Only a transition that changes the number of security groups
    must be named, as a new shard group or a deleted group.
    """
    full = REGIONS[code]
    checked = Counter()
    for index, kind, other in row_changes(full):
        for mode, existing in product(MODES, (False, True)):
            opts = aws_options(mode, existing)
            try:
                a, b = plan_aws(full, opts), plan_aws(other, opts)
            except PlanError:  # over one existing group's quota: nothing applies
                continue
            for old, new in ((a, plan_aws(other, opts, a.held())),
                             (b, plan_aws(full, opts, b.held()))):  # fmt: skip
                found = aws_hazards(old, new)
                where = (index, kind, mode, existing, found)
                if len(old.groups) != len(new.groups):
                    assert any("shard group" in h or "deleted" in h for h in found), where
                    continue
                assert found == [], where
                checked[kind] += 1
    assert set(checked) == set(KINDS) and checked.total() >= len(full.rules) * 6 * 2 * 4


def test_without_what_the_cloud_holds_the_model_sees_the_list_moves() -> None:
    """Not vacuous: planned from the new data alone (nothing held, nothing ordered), a row
    moved to another section, or a port range moved over its old one, takes addresses from
    one prefix list to another, both updated in parallel: refused for a moment."""
    jp = REGIONS["jp"]
    opts = aws_options("prefix-list", False)
    a = plan_aws(jp, opts)
    seen = Counter()
    for _, kind, other in row_changes(jp, ("section", "port")):
        blind, ordered = plan_aws(other, opts), plan_aws(other, opts, a.held())
        if any(h.startswith("refused:") for h in aws_hazards(a, blind)):
            seen[kind] += 1
            assert aws_hazards(a, ordered) == []
            assert any(p.after for p in ordered.prefix_lists)
    assert seen["section"] and seen["port"]


@pytest.mark.parametrize("code", sorted(REGIONS))
def test_aws_row_added_or_removed_with_headroom_applies_without_hazard(code: str) -> None:
    """Prefix-list headroom (max_entries above the entries) changes what a list costs."""
    full = REGIONS[code]
    for index in range(len(full.rules)):
        less = without_row(full, index)
        for mode, existing in product(("prefix-list", "auto"), (False, True)):
            opts = aws_options(mode, existing, headroom=2)
            try:
                a, b = plan_aws(less, opts), plan_aws(full, opts)
            except PlanError:
                continue
            for old, new in ((a, b), (b, a)):
                if len(a.groups) == len(b.groups):
                    assert aws_hazards(old, new) == [], (index, mode, existing)


@pytest.mark.parametrize("code", sorted(REGIONS))
def test_a_sharded_stack_moves_no_rule_when_a_row_changes(code: str) -> None:
    """Hashed placement: a rule's group depends on its name and the group count only.

    At a rule limit of 12 every region needs several security groups. While the count
    stays, adding or removing a row moves no egress rule to another group. What can still
    pass a group's quota at the peak is a port merge: a row that extends a CIDR's port
    range replaces that CIDR's rule (new ports, new name), and the replacement exists
    beside the old rule until the end; in a group filled to the limit that is one unit
    too many. ``korefw diff`` names it (tests/test_hazards.py).
    """
    rules = REGIONS[code]
    opts = aws_options("cidr", False, limit=12)
    full = plan_aws(rules, opts)
    assert len(full.groups) >= 2
    where = {r.name: r.group for r in full.rules}
    for index in range(len(rules.rules)):
        less = plan_aws(without_row(rules, index), opts)
        if len(less.groups) != len(full.groups):
            continue
        assert all(where.get(r.name, r.group) == r.group for r in less.rules), index
        for old, new in ((less, full), (full, less)):
            found = aws_hazards(old, new)
            assert not found or (_replaced(old, new) and all(h.startswith("quota:") for h in found))


def _replaced(old: AwsPlan, new: AwsPlan) -> set[tuple[str, str | None]]:
    """Destinations (protocol, CIDR) whose rule the update replaces: new ports, new name."""
    before, after = {r.name for r in old.rules}, {r.name for r in new.rules}
    gone = {(r.protocol, r.cidr) for r in old.rules if r.name not in after}
    return {(r.protocol, r.cidr) for r in new.rules if r.name not in before} & gone


def test_a_shared_address_keeps_its_other_lists() -> None:
    """Issue 11's prefix-list gap, closed: one list per vendor flow.

    Australia's SBC 54.153.137.7 has one row per port. Keyed by all of an address's
    flows, removing the tcp/udp 5060 row moved it to another list, and tcp 5061, tcp 8443
    and udp 6000-65535 could briefly be refused. Now it leaves only the 5060 lists.
    """
    au = REGIONS["au"]
    (row,) = [
        i
        for i, r in enumerate(au.rules)
        if r.ports[0].lo == 5060 and "54.153.137.7/32" in map(str, r.cidrs)
    ]
    opts = aws_options("prefix-list", False)
    full, less = plan_aws(au, opts), plan_aws(without_row(au, row), opts)
    assert aws_hazards(full, less) == aws_hazards(less, full) == []
    lists = {p.key: {e.cidr for e in p.entries} for p in full.prefix_lists}
    after = {p.key: {e.cidr for e in p.entries} for p in less.prefix_lists}
    left = sorted(k for k, v in lists.items() if "54.153.137.7/32" in v - after.get(k, set()))
    assert left and all(k.endswith("-5060") for k in left)
    cidr = aws_options("cidr", False)
    assert aws_hazards(plan_aws(au, cidr), plan_aws(without_row(au, row), cidr)) == []


@pytest.mark.parametrize("code", sorted(REGIONS))
@pytest.mark.parametrize("mode", MODES)
def test_aws_name_prefix_change_on_an_existing_group_updates_in_place(code: str, mode: str) -> None:
    rules = REGIONS[code]
    a = plan_aws(rules, aws_options(mode, True, "kore-old"))
    b = plan_aws(rules, aws_options(mode, True, "acme-new"))
    assert aws_hazards(a, b) == []
    # The same resources: nothing is created or deleted, only descriptions and names change.
    assert egress(a).keys() == egress(b).keys()
    assert [p.resource_name for p in a.prefix_lists] == [p.resource_name for p in b.prefix_lists]


def test_the_model_sees_the_hazards_issue_11_reported() -> None:
    """The simulation is not vacuous: it catches what korefw 0.x did and what stays risky."""
    jp = REGIONS["jp"]
    a = plan_aws(jp, aws_options("cidr", True))
    # 0.x put namePrefix into every URN: each rule was created again beside its twin.
    renamed = AwsPlan(
        a.region,
        a.options,
        a.groups,
        tuple(_rename(r, "x-") for r in a.rules),
        a.prefix_lists,
        a.fqdn,
    )
    assert any(h.startswith("duplicate egress rule") for h in aws_hazards(a, renamed))
    # Going from prefix lists to CIDRs passes the quota at the peak (named by korefw diff).
    us = REGIONS["us"]
    lists = plan_aws(us, aws_options("prefix-list", False, headroom=2))
    cidrs = plan_aws(us, aws_options("cidr", False))
    assert any(h.startswith("quota:") for h in aws_hazards(lists, cidrs))
    # A lower rule limit adds a shard group.
    shards = plan_aws(jp, AwsOptions(rule_limit=20))
    assert any(h.startswith("new shard group") for h in aws_hazards(plan_aws(jp), shards))


def _rename(r: Any, prefix: str) -> Any:
    from dataclasses import replace

    return replace(r, name=prefix + r.name)


@pytest.mark.parametrize("code", sorted(REGIONS))
def test_a_row_removed_only_drops_its_own_flows_from_prefix_lists(code: str) -> None:
    """Issue 11: in the US, removing one row moved an unaffected SBC address to another list.

    Now an address is in a list exactly when one of its rows asks for that list's flow, so
    removing a row takes entries out of the lists of that row's flows and no other, and
    puts no entry anywhere.
    """
    rules = REGIONS[code]
    full = plan_aws(rules, aws_options("prefix-list", False))
    before = {(p.key, e.cidr) for p in full.prefix_lists for e in p.entries}
    flows = {p.key: p.flows[0] for p in full.prefix_lists}
    for i, row in enumerate(rules.rules):
        less = plan_aws(without_row(rules, i), aws_options("prefix-list", False))
        after = {(p.key, e.cidr) for p in less.prefix_lists for e in p.entries}
        assert after <= before, i
        mine = {str(n) for n in row.cidrs}
        for key, cidr in before - after:
            proto, lo, hi = flows[key]
            assert cidr in mine and proto in map(str, row.protocols), (i, key, cidr)
            assert any(p.lo == lo and p.hi == hi for p in row.ports), (i, key, cidr)


# --------------------------------------------------------------------------- Azure model


def _moved(old: AzurePlan, new: AzurePlan) -> set[str]:
    """NSG rules (by Azure name) in both plans on different priorities: a hash collision
    resolved another way once a rule came or went (the plan's ``displaced``)."""
    at = {r.name: r.priority for r in old.nsg_rules}
    return {r.name for r in new.nsg_rules if at.get(r.name, r.priority) != r.priority}


@pytest.mark.parametrize("code", sorted(REGIONS))
def test_azure_single_row_changes_apply_without_hazard(code: str) -> None:
    """Every single-row change (bench/census.py) in every merge mode, both directions.

    A new NSG's inline rules change in one PUT: no hazard ever. On an existing NSG (one
    ``SecurityRule`` per priority) the update is planned against the rules the NSG holds
    (the old plan's ``held()``): a rule it holds keeps its priority, a new one takes a
    priority no held rule has, and a merged rule that stops allowing an address waits for
    the rule that takes the address over. No refused flow, no priority or name conflict.
    """
    full = REGIONS[code]
    for index, kind, other in row_changes(full):
        for merge in MERGE_MODES:
            opts = AzureOptions(merge=merge, deny_other_outbound=True)
            a, b = plan_azure(full, opts), plan_azure(other, opts)
            for old, new in ((a, b), (b, a)):
                assert azure_hazards(old, new, existing=False) == [], (index, kind, merge)
            for old, new in ((a, plan_azure(other, opts, a.held())),
                             (b, plan_azure(full, opts, b.held()))):  # fmt: skip
                assert not _moved(old, new), (index, kind, merge)
                found = azure_hazards(old, new, existing=True)
                assert found == [], (index, kind, merge, found)


def test_without_what_the_nsg_holds_the_model_sees_merged_rules_exchange_addresses() -> None:
    """Not vacuous: planned from the new data alone, merged rules on an existing NSG hand
    an address over in parallel updates (refused for a moment), and a priority collision
    can move a surviving rule. Planned against what the NSG holds, neither happens."""
    jp = REGIONS["jp"]
    opts = AzureOptions(merge="section", deny_other_outbound=True)
    a = plan_azure(jp, opts)
    refused = 0
    for _, _, other in row_changes(jp, ("row",)):
        blind, ordered = plan_azure(other, opts), plan_azure(other, opts, a.held())
        if any(h.startswith("refused:") for h in azure_hazards(a, blind, existing=True)):
            refused += 1
            assert azure_hazards(a, ordered, existing=True) == []
            assert any(r.after for r in ordered.nsg_rules)
    assert refused


TRANSITIONS = ("prefix", "band", "merge", "deny", "row")


@st.composite
def azure_transitions(draw: st.DrawFn) -> tuple[RuleSet, AzureOptions, RuleSet, AzureOptions, str]:
    code = draw(st.sampled_from(sorted(REGIONS)))
    rules = REGIONS[code]
    kind = draw(st.sampled_from(TRANSITIONS))
    lo = draw(st.integers(100, 3000))

    def band() -> tuple[int, int]:
        start = draw(st.integers(100, 3900))
        return start, min(4096, start + draw(st.integers(60, 999)))

    opts = AzureOptions(
        merge=draw(st.sampled_from(MERGE_MODES)),
        priority_band=(lo, min(4096, lo + draw(st.integers(60, 999)))),
        deny_other_outbound=draw(st.booleans()),
        name_prefix=draw(PREFIXES),
    )
    new_rules, new = rules, opts
    if kind == "prefix":
        new = _with(opts, name_prefix=draw(PREFIXES))
    elif kind == "band":
        new = _with(opts, priority_band=band())
    elif kind == "merge":
        new = _with(opts, merge=draw(st.sampled_from(MERGE_MODES)))
    elif kind == "deny":
        new = _with(opts, deny_other_outbound=not opts.deny_other_outbound)
    else:
        new_rules = without_row(rules, draw(st.integers(0, len(rules.rules) - 1)))
        if draw(st.booleans()):  # row added instead of removed
            rules, new_rules = new_rules, rules
    return rules, opts, new_rules, new, kind


def _with(opts: AzureOptions, **changes: Any) -> AzureOptions:
    fields = {
        "merge": opts.merge,
        "priority_band": opts.priority_band,
        "deny_other_outbound": opts.deny_other_outbound,
        "name_prefix": opts.name_prefix,
    }
    return AzureOptions(**{**fields, **changes})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=azure_transitions(), existing=st.booleans())
def test_property_no_azure_transition_puts_two_rules_on_one_priority(
    case: tuple[RuleSet, AzureOptions, RuleSet, AzureOptions, str], existing: bool
) -> None:
    old_rules, old_opts, new_rules, new_opts, kind = case
    old = plan_azure(old_rules, old_opts)
    # An existing NSG's update is planned against the rules it holds, as the component does.
    new = plan_azure(new_rules, new_opts, old.held() if existing else UNKNOWN)
    found = azure_conflicts(old, new, existing=existing)
    assert found["priority"] == [], (kind, found["priority"])
    # Names: a band change on an existing NSG moves the rules outside the new band to new
    # priorities, i.e. new resources with the old names (a settings change that needs two
    # steps; korefw diff names it).
    if kind != "band":
        assert found["name"] == [], (kind, found["name"])
    if existing and kind != "band":
        assert azure_hazards(old, new, existing=True) == [], kind


def _allow(plan: AzurePlan) -> dict[str, tuple[str, int]]:
    return {r.key: (r.name, r.priority) for r in plan.allow_rules()}


@pytest.mark.parametrize("code", sorted(REGIONS))
@pytest.mark.parametrize("merge", MERGE_MODES)
def test_deny_toggle_moves_no_allow_rule(code: str, merge: str) -> None:
    rules = REGIONS[code]
    off = plan_azure(rules, AzureOptions(merge=merge))
    on = plan_azure(rules, AzureOptions(merge=merge, deny_other_outbound=True))
    assert _allow(off) == _allow(on)
    (deny,) = [r for r in on.nsg_rules if r.access == "Deny"]
    assert deny.priority == 1999 and deny.priority not in {r.priority for r in off.nsg_rules}
    for existing in (False, True):
        assert azure_conflicts(off, on, existing=existing) == {"priority": [], "name": []}
        assert azure_conflicts(on, off, existing=existing) == {"priority": [], "name": []}


@pytest.mark.parametrize("code", sorted(REGIONS))
def test_name_prefix_change_keeps_every_priority_and_the_deny_conflict_free(code: str) -> None:
    rules = REGIONS[code]
    a = plan_azure(rules, AzureOptions(deny_other_outbound=True, name_prefix="kore-old"))
    b = plan_azure(rules, AzureOptions(deny_other_outbound=True, name_prefix="acme-new"))
    assert {k: p for k, (_, p) in _allow(a).items()} == {k: p for k, (_, p) in _allow(b).items()}
    # On an existing NSG each renamed rule (the Deny too) is its own resource, replaced
    # delete-first on the priority it keeps: no SecurityRuleConflict.
    assert [r.resource_name for r in a.nsg_rules] == [r.resource_name for r in b.nsg_rules]
    assert azure_conflicts(a, b, existing=True) == {"priority": [], "name": []}


def test_the_azure_model_sees_a_conflict_when_there_is_one() -> None:
    """Not vacuous: a rule keyed by name (korefw 0.x) that moves onto a held priority."""
    jp = REGIONS["jp"]
    a = plan_azure(jp, AzureOptions(deny_other_outbound=True, name_prefix="kore-old"))
    b = plan_azure(jp, AzureOptions(deny_other_outbound=True, name_prefix="acme-new"))

    class ByName(NsgRule):  # 0.x: one resource per rule name
        @property
        def resource_name(self) -> str:
            return self.name

    def by_name(plan: AzurePlan) -> AzurePlan:
        from dataclasses import replace

        rules = tuple(
            ByName(**{f: getattr(r, f) for f in r.__dataclass_fields__}) for r in plan.nsg_rules
        )
        return replace(plan, nsg_rules=rules)

    found = azure_conflicts(by_name(a), by_name(b), existing=True)
    assert any("deny-internet-outbound" in c for c in found["priority"])


# --------------------------------------------------------------------------- URNs


def _urns(stack: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    config = {**load_stack(stack), **{f"korefw:{k}": v for k, v in overrides.items()}}
    plan = run_offline(
        lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"),
        stack=stack,
        config=config,
    )
    return {r.urn: r.inputs for r in plan.resources if r.custom}


@pytest.mark.parametrize("stack", ["example-jp-aws", "example-jp-azure", "example-de-both"])
def test_name_prefix_is_in_no_urn(stack: str) -> None:
    before = _urns(stack)
    after = _urns(stack, namePrefix="acme-renamed")
    assert before.keys() == after.keys()
    assert not any("acme-renamed" in urn for urn in after)
    # ... but it is what the cloud shows: names and tags.
    assert "acme-renamed" in str(after) and "acme-renamed" not in str(before)


# ------------------------------------------------------- limits found by hostile testing


def test_a_full_five_group_stack_keeps_its_rules_when_one_is_added() -> None:
    """255 -> 256 /32 destinations at the default rule limit of 60: 5 security groups
    either way, and hashing 256 rules into 5 groups overfills one. Packing in content
    order (the first fallback tried) moved 197 rules and held 106 in sg-1 mid-update;
    probing on from a full group moves only the rules that find their group full."""
    old, new = plan_aws(many_destinations(255)), plan_aws(many_destinations(256))
    assert len(old.groups) == len(new.groups) == 5
    where = {r.name: r.group for r in old.rules}
    moved = [r.name for r in new.rules if where.get(r.name, r.group) != r.group]
    assert len(moved) <= 2
    assert [h for h in aws_hazards(old, new) if h.startswith("quota:")] == []


def test_auto_mode_can_flip_a_list_to_cidr_rules_and_the_peak_is_named() -> None:
    """A known limit of ``auto``, named rather than hidden (README, "Still not clean").

    Auto picks a list where it costs no more quota than the CIDR rules it replaces, and
    those rules depend on port merges with the address's other rows, in any section. So a
    row of section B (tcp 5061 to one of A's addresses) can turn A's tcp 5060 list into
    CIDR rules: created before the list's reference is deleted, which in a group at its
    quota passes it at the peak. Germany shows the same at a rule limit of 30 when the
    3.70.125.14 tcp 8443 row comes or goes. ``cidr`` and ``prefix-list`` modes do not.
    """
    a_row = rule("A", ports=((5060, 5060),), cidrs=("192.0.2.1/32", "192.0.2.2/32"))
    b_row = rule("B", ports=((5061, 5061),), cidrs=("192.0.2.1/32",))
    opts = AwsOptions(mode="auto", rule_limit=3)
    old = plan_aws(RuleSet((a_row,), region="t"), opts)
    new = plan_aws(RuleSet((a_row, b_row), region="t"), opts)
    assert [p.key for p in old.prefix_lists] == ["kore-ipv4-tcp-5060"] and not new.prefix_lists
    assert aws_hazards(old, new) == ["quota: sg-1 IPv4 holds 4 > 3"]
    (note,) = [n for n in old.warnings if "dearest egress rule" in n]  # the plan says so
    assert "holds 2 of its 3 IPv4 quota units" in note
    assert "(prefix list kore-ipv4-tcp-5060: 2)" in note
    for mode in ("cidr", "prefix-list"):
        opts = AwsOptions(mode=mode, rule_limit=3)
        before = plan_aws(RuleSet((a_row,), region="t"), opts)
        after = plan_aws(RuleSet((a_row, b_row), region="t"), opts)
        assert aws_hazards(before, after) == [], mode
    de = REGIONS["de"]
    (index,) = [
        i
        for i, r in enumerate(de.rules)
        if r.ports[0].lo == 8443 and "3.70.125.14/32" in map(str, r.cidrs)
    ]
    opts = aws_options("auto", False, limit=30)
    full, less = plan_aws(de, opts), plan_aws(without_row(de, index), opts)
    assert not _replaced(full, less) and not _replaced(less, full)  # no port merge
    assert aws_hazards(full, less) == aws_hazards(less, full) == ["quota: sg-1 IPv4 holds 31 > 30"]
