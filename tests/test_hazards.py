"""Apply hazards in ``korefw diff``: two plans of one stack, simulated in Pulumi's order.

Plans come from today's planners and the real program (the transitions the issue names), and
from small hand-written documents for each hazard alone. Pulumi's order, from its engine
(pkg/resource/deploy/step_generator.go): creates, updates and create-before-delete
replacements run first, in dependency order; deletes of removed and replaced resources at the
end; a ``deleteBeforeReplace`` replacement deletes first.
"""

from __future__ import annotations

import itertools
import json
import runpy
from pathlib import Path
from typing import Any

import pytest
from census import changed, row_changes
from conftest import without_row
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from korefw.cli import main
from korefw.components.aws import EgressSecurityGroup
from korefw.components.azure import EgressNetworkSecurityGroup
from korefw.core.check.hazards import Hazard, apply_hazards
from korefw.core.check.plandiff import diff_plans
from korefw.core.check.planread import AWS_SG, AZ_NSG
from korefw.core.check.steps import changes, states
from korefw.core.plan.config import PROJECT
from korefw.core.read.regions import load_rules
from korefw.core.rules.model import RuleSet
from korefw.runtime.offline import run_offline
from korefw.runtime.preview import load_stack
from korefw.runtime.program import PROJECT_DIR

SG = "sg-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PL = "aws:ec2/managedPrefixList:ManagedPrefixList"
SG_TYPE = "aws:ec2/securityGroup:SecurityGroup"
AZ_RULE = "azure-native:network:SecurityRule"


def stack_plan(stack: str, **settings: Any) -> dict[str, Any]:
    """The real program for an example stack, with some ``korefw:`` settings changed."""
    config = dict(load_stack(stack))
    config.update({f"korefw:{k}": v for k, v in settings.items()})
    main_py = PROJECT_DIR / "__main__.py"
    plan = run_offline(
        lambda: runpy.run_path(str(main_py), run_name="__main__"),
        project=PROJECT, stack=stack, config=config,
    )  # fmt: skip
    return json.loads(plan.dumps())


def aws_plan(rules: RuleSet, **kwargs: Any) -> dict[str, Any]:
    if "security_group_id" not in kwargs:
        kwargs.setdefault("vpc_id", VPC)
    return run_offline(lambda: EgressSecurityGroup("kf", rules=rules, **kwargs)).to_preview_json()


def azure_plan(rules: RuleSet, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("resource_group_name", "rg-egress")
    if "network_security_group_name" not in kwargs:
        kwargs.setdefault("location", "japaneast")
    plan = run_offline(lambda: EgressNetworkSecurityGroup("egress", rules=rules, **kwargs))
    return plan.to_preview_json()


def kinds(hazards: list[Hazard]) -> set[str]:
    return {h.kind for h in hazards}


# ----------------------------------------------------------------------- ordinary changes


def _ip_row(rules: RuleSet) -> int:
    """A row with addresses that no other row repeats (so removing it removes flows)."""
    for i, r in enumerate(rules.rules):
        others = {c for j, o in enumerate(rules.rules) if j != i for c in o.cidrs}
        if r.cidrs and not set(r.cidrs) & others:
            return i
    raise AssertionError("no row of its own")


def _shared_row(rules: RuleSet) -> int:
    """A row whose addresses another row of its section also names (one row per port)."""
    for i, r in enumerate(rules.rules):
        others = {c for j, o in enumerate(rules.rules) if j != i and o.section == r.section
                  for c in o.cidrs}  # fmt: skip
        if r.cidrs and set(r.cidrs) <= others:
            return i
    raise AssertionError("no shared row")


@pytest.mark.parametrize("row", [_ip_row, _shared_row], ids=["own-address", "shared-address"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-group", "existing-group"])
@pytest.mark.parametrize("mode", ["cidr", "prefix-list", "auto"])
def test_row_added_or_removed_in_aws_applies_without_hazard(
    mode: str, existing: bool, row: Any
) -> None:
    full = load_rules("jp")
    fewer = without_row(full, row(full))
    where: dict[str, Any] = {"security_group_id": SG} if existing else {}
    a, b = aws_plan(full, mode=mode, **where), aws_plan(fewer, mode=mode, **where)
    assert {c.op for c in changes(a, b).values()} - {"same"}  # the change is real
    assert apply_hazards(a, b) == [] and apply_hazards(b, a) == []
    assert "hazard:" not in diff_plans(a, b).markdown()


@pytest.mark.parametrize("existing", [False, True], ids=["new-nsg", "existing-nsg"])
@pytest.mark.parametrize("merge", ["none", "section", "all"])
def test_row_added_or_removed_in_azure_applies_without_hazard(merge: str, existing: bool) -> None:
    full = load_rules("jp")
    fewer = without_row(full, _ip_row(full))
    where: dict[str, Any] = {"network_security_group_name": "nsg-app"} if existing else {}
    for deny in (False, True):
        a = azure_plan(full, merge=merge, deny_other_outbound=deny, **where)
        b = azure_plan(fewer, merge=merge, deny_other_outbound=deny, **where)
        assert apply_hazards(a, b) == [] and apply_hazards(b, a) == [], (merge, deny)


def test_deny_toggle_and_new_nsg_settings_apply_without_hazard() -> None:
    base = stack_plan("example-jp-azure")
    for settings in (
        {"azureDenyOtherOutbound": False},
        {"azureMerge": "none"},
        {"azureMerge": "section"},
        {"azurePriorityBand": [3000, 3999]},
    ):
        assert apply_hazards(base, stack_plan("example-jp-azure", **settings)) == [], settings
    de = stack_plan("example-de-both")
    assert apply_hazards(de, stack_plan("example-de-both", azureDenyOtherOutbound=True)) == []


# ------------------------------------------------------------- the transitions


@pytest.mark.parametrize(
    ("stack", "before", "after", "units"),
    [
        ("example-de-both", {}, {"awsMode": "cidr"}, 80),
        ("example-jp-aws", {"region": "us"}, {"region": "us", "awsMode": "prefix-list"}, 94),
    ],
    ids=["de-prefix-list-to-cidr", "us-cidr-to-prefix-list"],
)
def test_mode_changes_over_the_quota_at_the_peak_are_named(
    stack: str, before: dict, after: dict, units: int
) -> None:
    old, new = stack_plan(stack, **before), stack_plan(stack, **after)
    peaks = [h for h in apply_hazards(old, new) if h.kind == "quota-peak"]
    assert len(peaks) == 1
    assert f"holds {units} IPv4 quota units" in peaks[0].problem
    assert "RulesPerSecurityGroupLimitExceeded" in peaks[0].problem
    md = diff_plans(old, new).markdown()
    line = next(x for x in md.splitlines() if x.startswith("hazard:"))
    assert f"quota to at least {units}" in line and "Way around:" in line


def test_a_rule_limit_that_adds_a_shard_group_is_named() -> None:
    old = stack_plan("example-jp-aws", region="us")
    new = stack_plan("example-jp-aws", region="us", awsRuleLimit=30)
    hazards = apply_hazards(old, new)
    assert kinds(hazards) == {"unused-group"}
    assert hazards[0].subject.endswith("korefw-aws-sg-2")
    assert "used by no network interfaces" in hazards[0].line()


@pytest.mark.parametrize("stack", ["example-jp-aws", "example-jp-azure", "example-de-both"])
def test_name_prefix_change_replaces_no_group_or_nsg(stack: str) -> None:
    # namePrefix is cosmetic: it renames what the cloud shows, never a group or an NSG, so the
    # change that once held 92 quota units in de-both's existing group applies cleanly.
    old, new = stack_plan(stack), stack_plan(stack, namePrefix="acme")
    hazards = apply_hazards(old, new)
    if stack == "example-de-both":  # an existing NSG: each renamed rule is replaced delete-first
        assert kinds(hazards) == {"flow-gap"}
        assert all("is replaced delete-first" in h.problem for h in hazards)
    else:
        assert hazards == []
    groups = (AWS_SG, AZ_NSG)
    assert not [c for c in changes(old, new).values()
                if (c.new or c.old or {}).get("type") in groups and c.op != "update"
                and c.op != "same"]  # fmt: skip


@pytest.mark.parametrize(
    ("stack", "settings", "what"),
    [
        ("example-jp-aws", {"awsVpcId": "vpc-0fedcba9876543210"}, "security group korefw-aws-sg-1"),
        ("example-jp-azure", {"azureLocation": "japanwest"}, "NSG korefw-azure"),
    ],
)
def test_a_placement_change_that_replaces_a_group_or_nsg_is_named(
    stack: str, settings: dict, what: str
) -> None:
    hazards = apply_hazards(stack_plan(stack), stack_plan(stack, **settings))
    assert kinds(hazards) == {"group-replaced"}
    assert f"{what} is replaced" in hazards[0].problem and "Way around:" in hazards[0].line()
    md = diff_plans(stack_plan(stack), stack_plan(stack, **settings)).markdown()
    assert any(x.startswith(f"hazard: {what} is replaced") for x in md.splitlines())


def test_name_prefix_change_on_an_existing_group_duplicates_rules_while_names_follow_it() -> None:
    existing = {"awsVpcId": "", "awsSecurityGroupId": SG, "awsFqdnEnforcement": []}
    old = stack_plan("example-jp-aws", **existing)
    new = stack_plan("example-jp-aws", **existing, namePrefix="acme")
    hazards = apply_hazards(old, new)
    if not any(c.op == "create" for c in changes(old, new).values()):
        assert hazards == []  # names no longer follow namePrefix: the change applies cleanly
        return
    assert kinds(hazards) == {"duplicate-rule"}
    assert "and 28 more are created" in hazards[0].problem
    assert "InvalidPermission.Duplicate" in hazards[0].problem


# ------------------------------------------------------------------ hand-written plans


def doc(*states: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"op": "create", "urn": s["urn"], "newState": s} for s in states]}


def res(type_: str, name: str, rid: str = "", **inputs: Any) -> dict[str, Any]:
    deps = inputs.pop("deps", {})
    return {
        "type": type_, "urn": f"urn:pulumi:s::p::{type_}::{name}", "custom": True, "id": rid,
        "inputs": inputs, "propertyDependencies": deps,
    }  # fmt: skip


def rule(name: str, cidr: str = "10.0.0.0/24", port: int = 443, **extra: Any) -> dict[str, Any]:
    base = {"securityGroupId": SG, "ipProtocol": "tcp", "fromPort": port, "toPort": port}
    return res(EGRESS, name, **{**base, "cidrIpv4": cidr, **extra})


def test_identical_rule_under_a_new_urn_is_a_duplicate_unless_deleted_first() -> None:
    old, new = doc(rule("old-443")), doc(rule("new-443"))
    (h,) = apply_hazards(old, new)
    assert h.kind == "duplicate-rule"
    assert h.line().startswith("hazard: egress rule new-443 is created in")
    aliased = rule("new-443")
    aliased["aliases"] = [rule("old-443")["urn"]]
    assert apply_hazards(old, doc(aliased)) == []  # same resource: nothing created
    other_port = doc(rule("new-8443", port=8443))
    assert apply_hazards(old, other_port) == []


def test_replacement_is_create_before_delete_unless_delete_before_replace() -> None:
    old = doc(rule("r", securityGroupId="sg-a"), rule("dup", securityGroupId="sg-b"))
    moved = rule("r", securityGroupId="sg-b")  # replace: created while "dup" still exists
    assert kinds(apply_hazards(old, doc(moved))) == {"duplicate-rule"}
    # the replaced old copy of "r" (in sg-a) is not identical to anything new: no hazard
    assert apply_hazards(doc(rule("r", securityGroupId="sg-a")), doc(moved)) == []
    dbr = {**moved, "deleteBeforeReplace": True}  # "r" leaves sg-a before anything is made
    old_r = doc(rule("r", securityGroupId="sg-a"))
    back_in_a = rule("again", securityGroupId="sg-a")
    assert kinds(apply_hazards(old_r, doc(moved, back_in_a))) == {"duplicate-rule"}
    # no duplicate, but the flow is refused between the delete and the creates
    assert kinds(apply_hazards(old_r, doc(dbr, back_in_a))) == {"flow-gap"}


def test_quota_peak_counts_prefix_list_references_at_max_entries() -> None:
    pl = res(PL, "pl", "pl-1", addressFamily="IPv4", maxEntries=40,
             entries=[{"cidr": "10.0.0.0/24"}])  # fmt: skip
    via_list = rule("via-list", cidr="", prefixListId="pl-1", deps={"prefixListId": [pl["urn"]]})
    del via_list["inputs"]["cidrIpv4"]
    cidrs = [rule(f"c{i}", cidr=f"10.1.{i}.0/24") for i in range(25)]
    hazards = apply_hazards(doc(pl, via_list), doc(*cidrs))
    assert kinds(hazards) == {"quota-peak"}
    assert "holds 65 IPv4 quota units" in hazards[0].problem  # 40 + 25 > 60
    assert apply_hazards(doc(pl, via_list), doc(*cidrs[:20])) == []  # 60: at the quota


def test_replaced_security_group_is_named() -> None:
    old = doc(res(SG_TYPE, "sg", "sg-1", vpcId="vpc-a", description="d"))
    new = doc(res(SG_TYPE, "sg", "sg-1", vpcId="vpc-b", description="d"))
    (h,) = apply_hazards(old, new)
    assert h.kind == "group-replaced" and "is replaced" in h.problem


def az_rule(name: str, priority: int, rule_name: str = "", access: str = "Allow") -> dict:
    return res(AZ_RULE, name, resourceGroupName="rg", networkSecurityGroupName="nsg",
               securityRuleName=rule_name or name, priority=priority, access=access,
               direction="Outbound")  # fmt: skip


def test_azure_rule_onto_a_priority_or_name_still_held_is_named() -> None:
    old = doc(az_rule("old-deny", 1999, access="Deny"), az_rule("a", 1100))
    renamed_deny = doc(az_rule("new-deny", 1999, access="Deny"), az_rule("a", 1100))
    (h,) = apply_hazards(old, renamed_deny)
    assert h.kind == "azure-priority" and "SecurityRuleConflict" in h.problem
    swap = doc(az_rule("old-deny", 1100, access="Deny"), az_rule("a", 1999))
    assert kinds(apply_hazards(old, swap)) == {"azure-priority"}  # a move races the other
    same_name = doc(az_rule("new-a", 1200, rule_name="a"), az_rule("old-deny", 1999))
    assert "azure-name" in kinds(apply_hazards(old, same_name))
    free = doc(az_rule("old-deny", 1999, access="Deny"), az_rule("a", 1150))
    assert apply_hazards(old, free) == []


def test_prefix_list_entry_that_moves_lists_opens_a_gap() -> None:
    lists = two_lists

    old = lists(["10.0.0.1/32", "10.0.0.2/32"], ["10.0.1.0/24"])
    moved = lists(["10.0.0.1/32"], ["10.0.1.0/24", "10.0.0.2/32"])
    (h,) = apply_hazards(old, moved)
    assert h.kind == "flow-gap" and h.problem.startswith("tcp 443 → 10.0.0.2/32 stay allowed")
    assert "pl-a stops allowing them in place while their new home (pl-b)" in h.problem
    removed = lists(["10.0.0.1/32"], ["10.0.1.0/24"])  # gone for good: no new home, no gap
    assert apply_hazards(old, removed) == []
    # Another flow's list gains the address (a port changed): tcp 443 to it is not allowed
    # after the update, so nothing still allowed is refused.
    other_port = lists(["10.0.0.1/32"], ["10.0.1.0/24", "10.0.0.2/32"], b_port=8443)
    assert apply_hazards(lists(["10.0.0.1/32", "10.0.0.2/32"], ["10.0.1.0/24"], 8443),
                         other_port) == []  # fmt: skip


def test_diff_cli_prints_hazard_lines(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "old.json").write_text(json.dumps(doc(rule("old-443"))))
    (tmp_path / "new.json").write_text(json.dumps(doc(rule("new-443"))))
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out
    assert [x for x in out.splitlines() if x.startswith("hazard:")] == [
        apply_hazards(doc(rule("old-443")), doc(rule("new-443")))[0].line()
    ]


def test_no_prefix_list_row_removal_moves_an_address_so_none_names_a_gap() -> None:
    """Issue 11: a row removed once moved its section's other addresses between lists.

    The simulation still knows the gap (test_prefix_list_entry_that_moves_lists_opens_a_gap);
    with one list per vendor flow no row of the SBC and VG sections, which repeat their
    addresses row by row, gives one: no list gains an entry when a row goes.
    """
    full = load_rules("jp")
    old = aws_plan(full, mode="prefix-list")
    rows = [i for i, r in enumerate(full.rules) if r.section.startswith(("AudioCodes", "Voice"))]
    assert len(rows) >= 4
    for i in rows:
        new = aws_plan(without_row(full, i), mode="prefix-list")
        assert not [h for h in apply_hazards(old, new) if h.kind == "prefix-list-gap"], i
        lists = [c for c in changes(old, new).values() if c.new and c.new["type"] == PL]
        assert lists
        for c in lists:
            before = (c.old or {}).get("inputs", {}).get("entries", [])
            assert all(e in before for e in c.new["inputs"]["entries"]), (i, c.new["urn"])


def test_offline_plans_record_delete_before_replace() -> None:
    import pulumi
    import pulumi_aws.ec2 as ec2

    def program() -> None:
        opts = pulumi.ResourceOptions(delete_before_replace=True)
        ec2.SecurityGroup("dbr", vpc_id=VPC, description="d", opts=opts)
        ec2.SecurityGroup("cbd", vpc_id=VPC, description="d")

    states = {s["newState"]["urn"].rsplit("::", 1)[-1]: s["newState"]
              for s in run_offline(program).to_preview_json()["steps"]}  # fmt: skip
    assert states["dbr"]["deleteBeforeReplace"] is True
    assert "deleteBeforeReplace" not in states["cbd"]
    moved = {k: {**v, "inputs": {**v["inputs"], "vpcId": "vpc-other"}} for k, v in states.items()}
    ops = changes(doc(*states.values()), doc(*moved.values()))
    assert [c.delete_before_replace for u, c in sorted(ops.items()) if c.op == "replace"] == [
        False,
        True,
    ]


def test_steps_a_real_preview_deletes_are_not_part_of_the_plan() -> None:
    kept, gone = rule("kept"), rule("gone", port=8443)
    real = {"steps": [
        {"op": "same", "urn": kept["urn"], "oldState": kept, "newState": kept},
        {"op": "delete", "urn": gone["urn"], "oldState": gone},
    ]}  # fmt: skip
    ops = changes(doc(kept, gone), real)
    named = {u.rsplit("::", 1)[-1]: c.op for u, c in ops.items()}
    assert named == {"kept": "same", "gone": "delete"}


def test_diff_of_two_different_stacks_names_no_apply_hazard(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Two stacks share no resource: neither is applied over the other, so nothing to name."""
    jp, de = stack_plan("example-jp-aws"), stack_plan("example-de-both")
    assert apply_hazards(jp, de)  # read as one stack's update, it would name some
    (tmp_path / "jp.json").write_text(json.dumps(jp))
    (tmp_path / "de.json").write_text(json.dumps(de))
    assert main(["diff", str(tmp_path / "jp.json"), str(tmp_path / "de.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert not [x for x in out if x.startswith("hazard:")]
    notes = [x for x in out if x.startswith("No apply hazards")]
    assert notes == [
        "No apply hazards: the plans are of different stacks (korefw/example-jp-aws and "
        "korefw/example-de-both), which share no resources."
    ]
    same = doc(rule("old-443"))
    other = json.loads(json.dumps(doc(rule("new-443"))).replace("urn:pulumi:s::", "urn:pulumi:t::"))
    assert diff_plans(same, other).hazards == [] and diff_plans(same, other).note
    assert diff_plans(same, doc(rule("new-443"))).hazards  # one stack: the duplicate is named


@pytest.mark.parametrize("kind", ["relabel", "port", "address"])
@pytest.mark.parametrize("mode", ["cidr", "prefix-list", "auto"])
def test_other_single_row_changes_print_no_hazard(mode: str, kind: str) -> None:
    """A row relabeled, its port or its address changed: korefw diff prints no hazard."""
    full = load_rules("jp")
    index = _ip_row(full)
    other = changed(full, index, kind)
    assert other is not None
    a, b = aws_plan(full, mode=mode), aws_plan(other, mode=mode)
    assert {c.op for c in changes(a, b).values()} - {"same"}
    for old, new in ((a, b), (b, a)):
        assert "hazard:" not in diff_plans(old, new).markdown(), (mode, kind)


def _first_refused(rules: RuleSet, kind: str, mode: str) -> tuple[RuleSet, str]:
    """A change of ``kind`` that the census finds refusing a flow in ``mode``."""
    from census import aws_hazards

    from korefw.core.plan.aws_options import AwsOptions
    from korefw.core.plan.aws_plan import plan_aws

    opts = AwsOptions(mode=mode)
    for _, _, other in row_changes(rules, (kind,)):
        found = aws_hazards(plan_aws(rules, opts), plan_aws(other, opts))
        if any(h.startswith("refused:") for h in found):
            return other, next(h for h in found if h.startswith("refused:"))
    raise AssertionError(f"no refused {kind} change in {mode}")


def test_a_list_move_is_named_with_the_way_around() -> None:
    """The known refusal of prefix lists (a port range moved), planned blind: named, with
    the way to order it (plan with what is deployed) or else two steps."""
    au = load_rules("au")
    other, _ = _first_refused(au, "port", "prefix-list")
    a, b = aws_plan(au, mode="prefix-list"), aws_plan(other, mode="prefix-list")
    lines = [x for x in diff_plans(a, b).markdown().splitlines() if x.startswith("hazard:")]
    assert lines and all("stay allowed but change prefix list or egress rule" in x for x in lines)
    assert "Way around: the update is not ordered (planned without what the cloud holds): " \
        "plan with `korefw plan --state STATE.json`, or preview with the cloud readable, so " \
        "the update is ordered (kf-prefix-lists-pl-voice-gateway-ipv4-udp-6000-65535 then " \
        "waits for kf-prefix-lists-pl-voice-gateway-ipv4-udp-5999-65534)" in lines[0]
    assert "; or apply in two steps: first `pulumi up --target <URN of " in lines[0]
    assert "kf-prefix-lists-pl-voice-gateway-ipv4-udp-5999-65534> --target-dependents`" in lines[0]


def test_an_existing_nsg_merged_rule_move_is_named() -> None:
    """merge 'all' on an existing NSG: an address whose ports change moves between rules."""
    au = load_rules("au")
    where = {"network_security_group_name": "nsg-app", "deny_other_outbound": True}
    a, b = azure_plan(au, **where), azure_plan(without_row(au, 0), **where)
    (h,) = [h for h in apply_hazards(a, b) if h.kind == "flow-gap"]
    assert "stay allowed but change NSG rule" in h.problem and "54.153.137.7/32" in h.problem
    flow = {**where, "merge": "flow"}  # one NSG rule per vendor flow: the address stays put
    assert apply_hazards(azure_plan(au, **flow), azure_plan(without_row(au, 0), **flow)) == []
    inline = {"location": "australiaeast", "deny_other_outbound": True}
    assert apply_hazards(azure_plan(au, **inline), azure_plan(without_row(au, 0), **inline)) == []


UPGRADE = Path(__file__).parent / "fixtures" / "upgrade"


def test_an_upgrade_from_the_previous_layout_is_named_with_the_way_around() -> None:
    """A prefix-list stack planned by the release before per-flow lists (2026-11-26).

    The fixture is ``tests/golden/example-de-both.json`` of commit ea2017c (the previous
    layout: one list per set of addresses with the same flows, keyed by their digest),
    with the prefix lists' URNs as the engine names them (their parent's whole type chain,
    which that release's offline runtime left out). The update creates the per-flow lists
    and their egress rules before it deletes the old ones: the existing group holds both.
    """
    old = json.loads((UPGRADE / "example-de-both-before-per-flow-lists.json").read_text())
    new = stack_plan("example-de-both")
    moves = changes(old, new)
    kept = [u for u, c in moves.items() if c.op == "update" and c.new and c.new["type"] == PL]
    assert len(kept) == 1  # a list of one flow keeps its resource (an alias)
    assert not [c for c in moves.values() if c.op == "replace"]
    (h,) = apply_hazards(old, new)
    assert h.kind == "quota-peak"
    assert "holds 93 IPv4 quota units mid-update" in h.problem and "(ends at 50)" in h.problem
    assert "RulesPerSecurityGroupLimitExceeded" in h.problem
    lines = [x for x in diff_plans(old, new).markdown().splitlines() if x.startswith("hazard:")]
    assert lines == [h.line()]
    assert (
        "raise the 'Inbound or outbound rules per security group' quota to at least 93" in lines[0]
    )
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index("**Upgrading a `prefix-list` or `auto` stack**") :]
    section = section[: section.index("- **Limits the plan checks.**")]
    assert "93 quota units at the peak, 50 after" in section
    assert "pulumi destroy --target" in section and "korefw diff" in section


# ------------------------------------------------- ordered updates (the engine's dependencies)


def two_lists(a: list[str], b: list[str], b_port: int = 443, **waits: list[str]) -> dict[str, Any]:
    """pl-a and pl-b, read by a tcp 443 and a tcp ``b_port`` egress rule; ``waits`` adds
    ``dependencies`` (by short name: ``pl_a=["via-pl-b"]`` makes pl-a's step wait for that
    rule's)."""
    pls = [
        res(PL, name, name, addressFamily="IPv4", maxEntries=4,
            entries=[{"cidr": c} for c in cidrs])
        for name, cidrs in (("pl-a", a), ("pl-b", b))
    ]  # fmt: skip
    refs = []
    for pl, port in ((pls[0], 443), (pls[1], b_port)):
        r = rule(f"via-{pl['id']}", port=port, prefixListId=pl["id"],
                 deps={"prefixListId": [pl["urn"]]})  # fmt: skip
        del r["inputs"]["cidrIpv4"]
        refs.append(r)
    states = [*pls, *refs]
    urns = {s["urn"].rsplit("::", 1)[-1]: s["urn"] for s in states}
    for s in states:
        name = s["urn"].rsplit("::", 1)[-1]
        if name.replace("-", "_") in waits:
            s["dependencies"] = [urns[w] for w in waits[name.replace("-", "_")]]
    return doc(*states)


OLD_LISTS = (["10.0.0.1/32", "10.0.0.2/32"], ["10.0.1.0/24"])
MOVED = (["10.0.0.1/32"], ["10.0.1.0/24", "10.0.0.2/32"])  # 10.0.0.2 moves from pl-a to pl-b


@pytest.mark.parametrize("waits_for", [["via-pl-b"], ["pl-b"], ["pl-b", "via-pl-b"]])
def test_a_list_that_waits_for_the_new_home_of_its_entry_opens_no_gap(waits_for: list) -> None:
    old = two_lists(*OLD_LISTS)
    assert kinds(apply_hazards(old, two_lists(*MOVED))) == {"flow-gap"}  # unordered: a gap
    ordered = two_lists(*MOVED, pl_a=waits_for)
    assert apply_hazards(old, ordered) == []
    assert "hazard:" not in diff_plans(old, ordered).markdown()


def test_a_wait_for_an_unrelated_or_a_later_resource_hides_no_gap() -> None:
    old = two_lists(*OLD_LISTS)
    other = rule("other", cidr="10.9.0.0/24", port=8443)  # created: allows another flow
    unrelated = two_lists(*MOVED)
    unrelated["steps"].append({"op": "create", "urn": other["urn"], "newState": other})
    unrelated["steps"][0]["newState"]["dependencies"] = [other["urn"]]
    (h,) = apply_hazards(old, unrelated)
    assert h.kind == "flow-gap" and "10.0.0.2/32" in h.problem
    # the new home waits for the loser: the wrong way round, the loser still runs first
    (h,) = apply_hazards(old, two_lists(*MOVED, pl_b=["pl-a"]))
    assert h.kind == "flow-gap" and "pl-a stops allowing them in place" in h.problem


def test_a_dependency_cycle_is_named_as_undecidable(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    old = two_lists(*OLD_LISTS)
    ring = two_lists(*MOVED, pl_a=["via-pl-b"], pl_b=["pl-a"])  # via-pl-b reads pl-b
    (h,) = apply_hazards(old, ring)
    assert h.kind == "flow-order" and "cannot be decided" in h.problem
    assert "pl-a → via-pl-b → pl-b → pl-a" in h.problem
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(ring))
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("hazard:")]
    assert lines == [h.line()]


def nsg_rule(name: str, ports: list[str], cidrs: list[str], priority: int) -> dict[str, Any]:
    return res(AZ_RULE, name, resourceGroupName="rg", networkSecurityGroupName="nsg-app",
               securityRuleName=name, priority=priority, access="Allow", direction="Outbound",
               protocol="Tcp", sourceAddressPrefix="VirtualNetwork", sourcePortRange="*",
               destinationPortRanges=ports, destinationAddressPrefixes=cidrs)  # fmt: skip


def test_an_nsg_rule_that_waits_for_the_new_home_of_its_address_opens_no_gap() -> None:
    """merge 'all' on an existing NSG: an address whose ports change moves between rules."""
    old = doc(nsg_rule("a", ["443"], ["10.0.0.1/32", "10.0.0.2/32"], 1100),
              nsg_rule("b", ["443", "8443"], ["10.0.1.0/24"], 1101))  # fmt: skip
    new_a = nsg_rule("a", ["443"], ["10.0.0.1/32"], 1100)
    new_b = nsg_rule("b", ["443", "8443"], ["10.0.1.0/24", "10.0.0.2/32"], 1101)
    (h,) = apply_hazards(old, doc(new_a, new_b))
    assert h.kind == "flow-gap" and "tcp 443 → 10.0.0.2/32" in h.problem
    assert "stay allowed but change NSG rule: a stops allowing them" in h.problem
    assert apply_hazards(old, doc({**new_a, "dependencies": [new_b["urn"]]}, new_b)) == []
    # b waiting for a does not help: a still runs first
    assert kinds(apply_hazards(old, doc(new_a, {**new_b, "dependencies": [new_a["urn"]]}))) == {
        "flow-gap"
    }


def with_waits(plan: dict[str, Any], after: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """An offline plan with the ``dependencies`` the components add for ``after`` (a URN's
    last name -> the last names of the resources its step waits for)."""
    states = [s["newState"] for s in plan["steps"]]
    urn_of = {s["urn"].rsplit("::", 1)[-1]: s["urn"] for s in states}
    out = json.loads(json.dumps(plan))
    for step in out["steps"]:
        waits = after.get(step["newState"]["urn"].rsplit("::", 1)[-1], ())
        if waits:
            step["newState"]["dependencies"] = [urn_of[w] for w in waits]
    return out


def test_a_planned_list_move_ordered_by_what_the_cloud_holds_prints_no_hazard() -> None:
    """The au port change that moves a voice-gateway range between prefix lists, with the
    waits the planner decides from the old plan's held state (``PrefixListPlan.after``)."""
    from korefw.core.plan.aws_options import AwsOptions
    from korefw.core.plan.aws_plan import plan_aws

    au = load_rules("au")
    other, _ = _first_refused(au, "port", "prefix-list")
    opts = AwsOptions(mode="prefix-list")
    ordered = plan_aws(other, opts, plan_aws(au, opts).held())
    after = {f"kf-prefix-lists-pl-{pl.key}": tuple(f"kf-{n}" for n in pl.after)
             for pl in ordered.prefix_lists if pl.after}  # fmt: skip
    assert after
    a, b = aws_plan(au, mode="prefix-list"), aws_plan(other, mode="prefix-list")
    assert kinds(apply_hazards(a, b)) == {"flow-gap"}
    assert apply_hazards(a, with_waits(b, after)) == []
    assert "hazard:" not in diff_plans(a, with_waits(b, after)).markdown()


def test_a_planned_nsg_rule_move_ordered_by_what_the_cloud_holds_prints_no_hazard() -> None:
    """merge 'all' on an existing NSG (test_an_existing_nsg_merged_rule_move_is_named), with
    the waits the planner decides from the old plan's held rules (``NsgRule.after``)."""
    from korefw.core.plan.azure_options import AzureOptions
    from korefw.core.plan.azure_plan import plan_azure

    au, fewer = load_rules("au"), without_row(load_rules("au"), 0)
    opts = AzureOptions(deny_other_outbound=True)
    ordered = plan_azure(fewer, opts, plan_azure(au, opts).held())
    where = {"network_security_group_name": "nsg-app", "deny_other_outbound": True}
    a, b = azure_plan(au, **where), azure_plan(fewer, **where)
    news = [s["newState"] for s in b["steps"]]
    short = {s["inputs"].get("securityRuleName"): s["urn"].rsplit("::", 1)[-1] for s in news}
    after = {short[r.name]: tuple(short[n] for n in r.after) for r in ordered.nsg_rules if r.after}
    assert after
    assert kinds(apply_hazards(a, b)) == {"flow-gap"}
    assert apply_hazards(a, with_waits(b, after)) == []
    assert "hazard:" not in diff_plans(a, with_waits(b, after)).markdown()


def test_the_way_around_a_gap_says_to_order_the_update_only_when_it_is_not_ordered() -> None:
    old = two_lists(*OLD_LISTS)
    (h,) = apply_hazards(old, two_lists(*MOVED))
    assert h.way_around.startswith("the update is not ordered")
    assert "(pl-a then waits for pl-b); or apply in two steps" in h.way_around
    # the new home waits for the loser: ordering the loser after it would be a cycle
    (h,) = apply_hazards(old, two_lists(*MOVED, pl_b=["pl-a"]))
    assert h.way_around.startswith("apply in two steps")
    # the loser already waits (for something else): it was planned with what is deployed
    other = rule("other", cidr="10.9.0.0/24", port=8443)
    waits_elsewhere = two_lists(*MOVED)
    waits_elsewhere["steps"].append({"op": "create", "urn": other["urn"], "newState": other})
    waits_elsewhere["steps"][0]["newState"]["dependencies"] = [other["urn"]]
    (h,) = apply_hazards(old, waits_elsewhere)
    assert h.way_around.startswith("apply in two steps")
    # a delete-first replacement is no matter of order
    dbr = {**rule("r", securityGroupId="sg-b"), "deleteBeforeReplace": True}
    back = rule("again", securityGroupId="sg-a")
    (h,) = apply_hazards(doc(rule("r", securityGroupId="sg-a")), doc(dbr, back))
    assert "not ordered" not in h.way_around


PORTS, ADDRS = ("443", "8443"), ("10.0.0.1/32", "10.0.0.2/32")
_allows = st.tuples(st.sets(st.sampled_from(PORTS), min_size=1),
                    st.sets(st.sampled_from(ADDRS), min_size=1))  # fmt: skip


@st.composite
def _ordered_updates(draw: st.DrawFn) -> tuple[list, list, dict[int, set[int]]]:
    """NSG rules 0..n-1, each (old allows or None, new allows or None), and waits i -> {j < i}."""
    n = draw(st.integers(2, 4))
    rules = []
    for _ in range(n):
        old, new = draw(st.one_of(st.none(), _allows)), draw(st.one_of(st.none(), _allows))
        rules.append((old, new if old or new else draw(_allows)))
    waits = {i: draw(st.sets(st.integers(0, i - 1))) if i else set() for i in range(n)}
    return [o for o, _ in rules], [w for _, w in rules], waits


def _flows(allows: Any) -> set[tuple[str, str]]:
    return {(p, a) for p in allows[0] for a in allows[1]} if allows else set()


@given(_ordered_updates())
@examples(max_examples=60, deadline=None)
def test_flow_gaps_agree_with_every_moment_the_engine_can_reach(case: tuple) -> None:
    """A gap is named iff some set of finished steps, closed under the dependencies, leaves
    a flow both plans allow with no rule allowing it (deletes at the end)."""
    olds, news, waits = case

    def state(i: int, allows: Any) -> dict[str, Any]:
        ports, addrs = sorted(allows[0]), sorted(allows[1])
        return nsg_rule(f"r{i}", ports, addrs, 1100 + i)

    old = [state(i, a) for i, a in enumerate(olds) if a]
    new_states = []
    for i, a in enumerate(news):
        if a:
            s = state(i, a)
            s["dependencies"] = [f"urn:pulumi:s::p::{AZ_RULE}::r{j}" for j in sorted(waits[i])
                                 if news[j]]  # fmt: skip
            new_states.append(s)
    new = new_states
    before = set().union(*(_flows(a) for a in olds))
    still = before & set().union(*(_flows(a) for a in news))
    steps = [i for i, a in enumerate(news) if a]
    refused = False
    for k in range(len(steps) + 1):
        for done in itertools.combinations(steps, k):
            if any(j not in done for i in done for j in waits[i] if news[j]):
                continue  # not closed: a step never runs before what it waits for
            now = set()
            for i in range(len(olds)):
                if i in done:
                    now |= _flows(news[i])
                elif olds[i]:
                    now |= _flows(olds[i])  # not yet updated, or deleted at the end
            refused = refused or bool(still - now)
    found = [h for h in apply_hazards(old, new) if h.kind == "flow-gap"]
    assert bool(found) == refused, (olds, news, waits)


def _deployed(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The resource states a stack holds once ``plan`` is applied (what --state reads)."""
    return list(states(plan).values())


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_components_planned_with_what_is_deployed_apply_without_a_gap(cloud: str) -> None:
    """End to end: the components read what the cloud holds (here the old plan's states,
    as ``korefw plan --state`` answers), add ``depends_on``, the offline plan records it as
    ``dependencies``, and ``korefw diff`` honours it."""
    au = load_rules("au")
    if cloud == "aws":
        other, _ = _first_refused(au, "port", "prefix-list")

        def make(rules: RuleSet, held: Any = ()) -> dict[str, Any]:
            return run_offline(lambda: EgressSecurityGroup("kf", rules=rules, vpc_id=VPC,
                                                           mode="prefix-list"),
                               held=held).to_preview_json()  # fmt: skip
    else:
        other = without_row(au, 0)

        def make(rules: RuleSet, held: Any = ()) -> dict[str, Any]:
            return run_offline(lambda: EgressNetworkSecurityGroup(
                "egress", rules=rules, resource_group_name="rg-egress",
                network_security_group_name="nsg-app", deny_other_outbound=True,
            ), held=held).to_preview_json()  # fmt: skip

    a = make(au)
    blind, ordered = make(other), make(other, _deployed(a))
    assert kinds(apply_hazards(a, blind)) == {"flow-gap"}
    (h,) = apply_hazards(a, blind)
    assert h.way_around.startswith("the update is not ordered")
    assert any(s["newState"].get("dependencies") for s in ordered["steps"])
    assert apply_hazards(a, ordered) == []
    assert "hazard:" not in diff_plans(a, ordered).markdown()


def test_a_streamed_preview_shows_no_order_and_its_gap_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """An engine event stream leaves out ``dependencies`` (apitype.StepEventStateMetadata
    has no such field), so its update is taken as unordered, and the gap says why."""
    old = two_lists(*OLD_LISTS)
    ordered = two_lists(*MOVED, pl_a=["via-pl-b"])
    drop = ("dependencies", "propertyDependencies")
    events = [
        {"sequence": i, "resourcePreEvent": {"metadata": {
            "op": s["op"], "urn": s["urn"], "type": s["newState"]["type"],
            "new": {k: v for k, v in s["newState"].items() if k not in drop},
        }}}
        for i, s in enumerate(ordered["steps"])
    ]  # fmt: skip
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "ordered.json").write_text(json.dumps(ordered))
    (tmp_path / "stream.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "ordered.json")]) == 0
    assert "hazard:" not in capsys.readouterr().out
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "stream.jsonl")]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("hazard:")]
    assert "pl-a stops allowing them in place" in line
    assert "Way around: the document does not show the update's order (an engine event " \
        "stream leaves out the resources' `dependencies`): diff the `pulumi preview --json` " \
        "document, which shows it; if the gap stays, apply in two steps" in line
