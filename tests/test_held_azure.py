"""Rules on an existing NSG, planned with what the NSG holds now (issue 19, make before break).

The component reads the NSG (``getNetworkSecurityGroup``) before registering its
``SecurityRule`` resources; under the mock runtime that read is answered from the deployed
stack's resource states (``run_offline(..., held=states)``). Everything here checks what
the recorded resources say (URNs, inputs, ``depends_on``), not only the plan.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from conftest import without_row
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from korefw.components.azure import NSG_TYPE, EgressNetworkSecurityGroup, plan_for
from korefw.components.held_azure import held_rule
from korefw.core.check.steps import states
from korefw.core.errors import ConfigError
from korefw.core.plan.azure_options import MERGE_MODES
from korefw.core.read.regions import load_rules
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import RuleSet
from korefw.runtime import heldcalls, offline
from korefw.runtime.offline import OfflinePlan, run_offline

SECURITY_RULE = "azure-native:network:SecurityRule"
TOKEN = "azure-native:network:getNetworkSecurityGroup"
RG, NSG = "rg-egress", "nsg-app"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def jp() -> RuleSet:
    return load_rules("jp")


def record_dependencies(mp: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """URN -> the URNs of its ``depends_on`` and input dependencies, as registered."""
    seen: dict[str, list[str]] = {}
    original = offline._Recorder.RegisterResource

    def record(self: Any, request: Any) -> Any:
        response = original(self, request)
        seen[response.urn] = sorted(request.dependencies)
        return response

    mp.setattr(offline._Recorder, "RegisterResource", record)
    return seen


@pytest.fixture
def depends(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """URN -> the URNs of its ``depends_on`` and input dependencies, as registered."""
    return record_dependencies(monkeypatch)


def run(
    rules: RuleSet, held: Sequence[Mapping[str, Any]] = (), **kwargs: Any
) -> OfflinePlan:
    kwargs.setdefault("resource_group_name", RG)
    kwargs.setdefault("network_security_group_name", NSG)
    kwargs.setdefault("deny_other_outbound", True)
    return run_offline(
        lambda: EgressNetworkSecurityGroup("egress", rules=rules, **kwargs), held=held
    )


def held_states(plan: OfflinePlan) -> list[Mapping[str, Any]]:
    """The plan read as the deployed stack's resource states."""
    return list(states(plan.to_preview_json()).values())


def security_rules(plan: OfflinePlan) -> dict[str, dict[str, Any]]:
    """URN -> the recorded inputs of each ``SecurityRule``."""
    return {r.urn: r.inputs for r in plan.of_type(SECURITY_RULE)}


def allows(inputs: Mapping[str, Any]) -> AllowSet:
    return held_rule({"name": inputs["securityRuleName"], **inputs}).allows


def foreign_rule(priority: int, name: str = "corp-dns") -> dict[str, Any]:
    """A rule another team's stack manages on the same NSG."""
    return {
        "type": SECURITY_RULE,
        "urn": f"urn:pulumi:corp::net::{SECURITY_RULE}::{name}",
        "id": f"/x/securityRules/{name}",
        "inputs": {
            "resourceGroupName": RG,
            "networkSecurityGroupName": NSG,
            "securityRuleName": name,
            "priority": priority,
            "direction": "Outbound",
            "access": "Allow",
            "protocol": "Udp",
            "destinationAddressPrefix": "10.20.0.53/32",
            "destinationPortRange": "53",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
        },
    }


# ---------------------------------------------------------------- merge section


def _first_handover(jp: RuleSet) -> tuple[OfflinePlan, OfflinePlan]:
    """A (nothing held) and B (one row removed, planned with A held) for the first row
    whose removal makes a rule hand flows to another."""
    a = run(jp, merge="section")
    states_a = held_states(a)
    for i in range(len(jp.rules)):
        b = run(without_row(jp, i), states_a, merge="section")
        if any(r.get("after") for r in component(b).outputs["plan"]["nsg_rules"]):
            return a, b
    raise AssertionError("no row removal hands a flow from one NSG rule to another")


def component(plan: OfflinePlan) -> Any:
    (c,) = plan.of_type(NSG_TYPE)
    return c


def test_removed_row_keeps_priorities_and_orders_the_handover(
    jp: RuleSet, depends: dict[str, list[str]]
) -> None:
    a, b = _first_handover(jp)
    rules_a, rules_b = security_rules(a), security_rules(b)
    prio_a = {r["securityRuleName"]: r["priority"] for r in rules_a.values()}
    urn_a = {r["securityRuleName"]: u for u, r in rules_a.items()}
    kept = 0
    for urn, r in rules_b.items():
        name = r["securityRuleName"]
        if name in prio_a:  # a rule that stays keeps its priority and its URN
            assert (r["priority"], urn) == (prio_a[name], urn_a[name])
            kept += 1
        else:  # a new rule takes no priority A holds
            assert r["priority"] not in prio_a.values(), name
    assert kept
    # Every flow a rule stops allowing that B still allows: the rules of B that allow it
    # are registered before it, and its update depends on them.
    still = AllowSet(x for r in rules_b.values() for x in allows(r).boxes())
    ordered = 0
    for urn, r in rules_b.items():
        if urn not in rules_a:
            continue
        lost = (allows(rules_a[urn]) - allows(r)) & still
        if not lost:
            continue
        gainers = {u for u, g in rules_b.items() if u != urn and allows(g) & lost}
        assert gainers and gainers <= set(depends[urn]), r["securityRuleName"]
        ordered += 1
    assert ordered


_FIRST: dict[str, OfflinePlan] = {}


_ROWS = len(load_rules("jp").rules)


@given(
    merge=st.sampled_from(MERGE_MODES),
    row=st.integers(0, _ROWS - 1),
    removed=st.booleans(),
)
@example(merge="section", row=0, removed=True)  # a handover between merged rules
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_a_row_change_against_the_held_nsg(merge: str, row: int, removed: bool) -> None:
    """Any one row removed or added back, planned against the other plan's state: rules
    that stay keep their priority and URN, new rules take no held priority, priorities
    stay unique, and every flow a rule gives up that the new plan allows is allowed by
    rules its update depends on."""
    jp = load_rules("jp")
    i = row
    if merge not in _FIRST:
        _FIRST[merge] = run(jp, merge=merge)
    full = _FIRST[merge]
    with pytest.MonkeyPatch.context() as mp:
        seen = record_dependencies(mp)
        if removed:
            a, b = full, run(without_row(jp, i), held_states(full), merge=merge)
        else:
            a = run(without_row(jp, i), merge=merge)
            b = run(jp, held_states(a), merge=merge)
    rules_a, rules_b = security_rules(a), security_rules(b)
    by_name_a = {r["securityRuleName"]: (u, r["priority"]) for u, r in rules_a.items()}
    held_prios = {p for _, p in by_name_a.values()}
    for urn, r in rules_b.items():
        name = r["securityRuleName"]
        if name in by_name_a:
            assert (urn, r["priority"]) == by_name_a[name]
        else:
            assert r["priority"] not in held_prios, name
    assert len({r["priority"] for r in rules_b.values()}) == len(rules_b)
    cyclic = " ".join(w for w in b.warnings if "hands flows" in w)
    still = AllowSet(x for r in rules_b.values() for x in allows(r).boxes())
    for urn, r in rules_b.items():
        lost = (allows(rules_a[urn]) - allows(r)) & still if urn in rules_a else AllowSet()
        if lost and r["securityRuleName"] not in cyclic:
            gainers = {u for u, g in rules_b.items() if u != urn and allows(g) & lost}
            assert gainers <= set(seen[urn]), r["securityRuleName"]


def test_nothing_held_plans_as_without_a_read(jp: RuleSet) -> None:
    plan = run(jp, merge="section")
    _as_planned_blind(plan, jp)
    assert not any("could not be read" in w for w in plan.warnings)


def test_same_rules_against_their_own_state_change_nothing(
    jp: RuleSet, depends: dict[str, list[str]]
) -> None:
    a = run(jp, merge="section")
    b = run(jp, held_states(a), merge="section")
    assert security_rules(b) == security_rules(a)
    assert not any(depends[u] != [component(b).urn] and depends[u] for u in security_rules(b))


# ---------------------------------------------------------------- collisions


def test_foreign_rule_at_a_new_rules_home_is_never_touched(jp: RuleSet) -> None:
    plain = plan_for(
        rules=jp, resource_group_name=RG, network_security_group_name=NSG, merge="none",
        deny_other_outbound=True,
    )  # fmt: skip
    victim = plain.allow_rules()[0]
    plan = run(jp, [foreign_rule(victim.priority)], merge="none")
    rules = {r["securityRuleName"]: r for r in security_rules(plan).values()}
    assert "corp-dns" not in rules  # the foreign rule is read, never registered
    assert victim.priority not in {r["priority"] for r in rules.values()}
    assert rules[victim.name]["priority"] != victim.priority
    lo, hi = plain.options.allow_band
    assert lo <= rules[victim.name]["priority"] <= hi
    # Only the rule that collided moved.
    assert {n: r["priority"] for n, r in rules.items() if n != victim.name} == {
        r.name: r.priority for r in plain.nsg_rules if r.name != victim.name
    }


def test_pinned_rule_at_a_new_rules_home_keeps_it(jp: RuleSet) -> None:
    full = plan_for(
        rules=jp, resource_group_name=RG, network_security_group_name=NSG, merge="none",
        deny_other_outbound=True,
    )  # fmt: skip
    a0 = plan_for(
        rules=without_row(jp, 0), resource_group_name=RG, network_security_group_name=NSG,
        merge="none", deny_other_outbound=True,
    )  # fmt: skip
    old = {r.name for r in a0.nsg_rules}
    new = next(r for r in full.allow_rules() if r.name not in old)  # made by row 0 only
    other = next(r for r in a0.allow_rules() if r.priority != new.priority)
    pins = {other.name: new.priority}  # A pins another rule on the new rule's home slot
    a = run(without_row(jp, 0), merge="none", priorities=pins)
    held_prios = {r["priority"] for r in security_rules(a).values()}
    assert new.priority in held_prios
    # B keeps the pin, or drops it: either way the pinned rule stays where the NSG holds
    # it (the same resource, untouched) and the new rule takes a slot nothing holds.
    for b_pins in (pins, {}):
        b = run(jp, held_states(a), merge="none", priorities=b_pins)
        rules = {r["securityRuleName"]: r for r in security_rules(b).values()}
        assert rules[other.name]["priority"] == new.priority, b_pins
        assert rules[new.name]["priority"] not in held_prios, b_pins
        assert len({r["priority"] for r in rules.values()}) == len(rules)


# ---------------------------------------------------------------- nothing read


def _refuse(args: Mapping[str, Any], states_: Any) -> dict[str, Any]:
    class Refused(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNKNOWN

        def details(self) -> str:
            return "ResourceNotFound: the NSG nsg-app was not found\nsecond line"

    raise Refused()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Mapping[str, Any]]]:
    """The reads the component makes (answered as usual)."""
    seen: list[Mapping[str, Any]] = []

    def counting(args: Mapping[str, Any], states_: Any) -> dict[str, Any]:
        seen.append(dict(args))
        return answer(args, states_)

    answer = heldcalls.HANDLERS[TOKEN]
    monkeypatch.setitem(heldcalls.HANDLERS, TOKEN, counting)
    yield seen


def _as_planned_blind(plan: OfflinePlan, rules: RuleSet) -> None:
    """The registered priorities are those of the plan from nothing held (hashed)."""
    expected = plan_for(
        rules=rules, resource_group_name=RG, network_security_group_name=NSG,
        merge="section", deny_other_outbound=True,
    )  # fmt: skip
    got = {r["securityRuleName"]: r["priority"] for r in security_rules(plan).values()}
    assert got == {r.name: r.priority for r in expected.nsg_rules}


def _hashed(plan: OfflinePlan, rules: RuleSet) -> None:
    _as_planned_blind(plan, rules)
    warned = [w for w in plan.warnings if "could not be read" in w]
    assert len(warned) == 1 and "not ordered" in warned[0] and "korefw diff" in warned[0]


def test_a_failed_read_warns_and_plans_hashed(
    jp: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(heldcalls.HANDLERS, TOKEN, _refuse)
    plan = run(jp, merge="section")
    _hashed(plan, jp)
    (w,) = [w for w in plan.warnings if "could not be read" in w]
    assert "ResourceNotFound" in w and "second line" not in w and "Traceback" not in w


def test_names_not_known_warn_and_plan_hashed(
    jp: RuleSet, calls: list[Mapping[str, Any]]
) -> None:
    def program() -> None:
        EgressNetworkSecurityGroup(
            "egress", rules=jp, resource_group_name=RG, merge="section",
            network_security_group_name=pulumi.Output.from_input(NSG).apply(str),
            deny_other_outbound=True,
        )  # fmt: skip

    plan = run_offline(program)
    _hashed(plan, jp)
    assert calls == []  # nothing to read by


def test_bad_input_fails_before_any_read(jp: RuleSet, calls: list[Mapping[str, Any]]) -> None:
    with pytest.raises(ConfigError, match="merge"):
        run(jp, merge="bogus")
    assert calls == []
    run(jp, merge="section")
    assert calls == [{"resourceGroupName": RG, "networkSecurityGroupName": NSG}]


def test_a_new_nsg_reads_nothing(jp: RuleSet, calls: list[Mapping[str, Any]]) -> None:
    run_offline(
        lambda: EgressNetworkSecurityGroup(
            "egress", rules=jp, resource_group_name=RG, location="japaneast"
        )
    )
    assert calls == []


# ---------------------------------------------------------------- the offline answer


def test_offline_answer_in_the_providers_shape(jp: RuleSet) -> None:
    a = run(jp, merge="section")
    inline = {
        "type": "azure-native:network:NetworkSecurityGroup",
        "urn": "urn:pulumi:x::p::azure-native:network:NetworkSecurityGroup::other",
        "inputs": {
            "resourceGroupName": RG,
            "networkSecurityGroupName": NSG,
            "securityRules": [
                {"name": "inline-web", "priority": 300, "direction": "Outbound",
                 "access": "Allow", "protocol": "Tcp",
                 "destinationAddressPrefixes": ["192.0.2.0/24", "198.51.100.7/32"],
                 "destinationPortRanges": ["443", "8000-8080"]},
            ],
        },
    }  # fmt: skip
    elsewhere = foreign_rule(400, "other-nsg")
    elsewhere["inputs"]["networkSecurityGroupName"] = "nsg-other"
    got = heldcalls.answer(
        TOKEN,
        {"resourceGroupName": RG, "networkSecurityGroupName": NSG},
        [*held_states(a), inline, foreign_rule(500), elsewhere],
    )
    names = [r["name"] for r in got["securityRules"]]
    assert names == sorted(names) and "other-nsg" not in names
    assert {"inline-web", "corp-dns"} <= set(names)
    assert len(names) == len(security_rules(a)) + 2
    web = next(r for r in got["securityRules"] if r["name"] == "inline-web")
    assert web["destinationPortRanges"] == ["443", "8000-8080"]
    rule = held_rule(web)
    assert (rule.priority, rule.direction, rule.access) == (300, "Outbound", "Allow")
    assert rule.allows == AllowSet.of(
        "tcp",
        [(443, 443), (8000, 8080)],
        [ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("198.51.100.7/32")],
    )
    empty = heldcalls.answer(TOKEN, {"resourceGroupName": RG, "networkSecurityGroupName": NSG}, [])
    assert empty["securityRules"] == [] and empty["name"] == NSG


@pytest.mark.parametrize(
    "fields",
    [
        {"access": "Deny", "protocol": "Tcp", "destinationAddressPrefix": "10.0.0.0/8",
         "destinationPortRange": "443"},
        {"access": "Allow", "protocol": "*", "destinationAddressPrefix": "10.0.0.0/8",
         "destinationPortRange": "443"},
        {"access": "Allow", "protocol": "Tcp", "destinationAddressPrefix": "Internet",
         "destinationPortRange": "443"},
        {"access": "Allow", "protocol": "Tcp", "destinationAddressPrefix": "10.0.0.0/8",
         "destinationPortRange": "*"},
        {"access": "Allow", "protocol": "Icmp", "destinationAddressPrefix": "10.0.0.0/8"},
    ],
)  # fmt: skip
def test_rules_korefw_cannot_read_allow_nothing(fields: dict[str, Any]) -> None:
    rule = held_rule({"name": "x", "priority": 200, "direction": "Outbound", **fields})
    assert rule.allows == AllowSet() and rule.priority == 200


# ---------------------------------------------------------------- korefw plan --state


def test_korefw_plan_state_keeps_held_priorities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack on an existing NSG, planned against the state of its last update, except
    that one of its rules was deleted by hand and another team's rule put on that slot:
    the foreign rule is left alone, and every other rule keeps its priority."""
    from korefw.cli import main

    project = tmp_path / "app"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project)
    shutil.copy(ROOT / "__main__.py", project)
    settings = (ROOT / "stacks" / "Pulumi.example-jp-azure.yaml").read_text()
    settings = settings.replace(
        "  korefw:azureLocation: japaneast\n",
        f"  korefw:azureNetworkSecurityGroupName: {NSG}\n",
    ).replace("azureResourceGroupName: rg-kore-egress", f"azureResourceGroupName: {RG}")
    (project / "stacks" / "Pulumi.existing.yaml").write_text(settings)
    args = ["plan", "--cwd", str(project), "--stack", "existing", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    rules = [s["newState"] for s in first["steps"] if s["newState"]["type"] == SECURITY_RULE]
    assert len(rules) > 2
    victim = min(rules, key=lambda s: s["inputs"]["priority"])
    prio = victim["inputs"]["priority"]
    foreign = {**foreign_rule(prio), "custom": True}
    first["steps"] = [s for s in first["steps"] if s["urn"] != victim["urn"]]
    first["steps"].append({"op": "create", "urn": foreign["urn"], "newState": foreign})
    state = tmp_path / "state.json"
    state.write_text(json.dumps(first))
    assert main([*args, "--state", str(state)]) == 0
    second = json.loads(capsys.readouterr().out)
    got = {
        s["newState"]["inputs"]["securityRuleName"]: s["newState"]["inputs"]["priority"]
        for s in second["steps"]
        if s["newState"]["type"] == SECURITY_RULE
    }
    assert "corp-dns" not in got and prio not in got.values()
    assert len(got) == len(rules)
    kept = {s["inputs"]["securityRuleName"]: s["inputs"]["priority"] for s in rules}
    del kept[victim["inputs"]["securityRuleName"]]
    assert {n: p for n, p in got.items() if n in kept} == kept


# ---------------------------------------------------------------- hostile states


def test_held_rules_sharing_a_priority_keep_distinct_priorities(jp: RuleSet) -> None:
    """A state whose rules all claim one priority (Azure never holds that; a hand-edited
    export can): one rule keeps it, the others take other free priorities, and no rule
    of the plan is lost."""
    a = run(jp, merge="section")
    held = held_states(a)
    prio = min(s["inputs"]["priority"] for s in held if s["type"] == SECURITY_RULE)
    for s in held:
        if s["type"] == SECURITY_RULE:
            s["inputs"]["priority"] = prio
    b = run(jp, held, merge="section")
    got = [r["priority"] for r in security_rules(b).values()]
    assert len(got) == len(security_rules(a)) == len(set(got))
    assert prio in got
    assert sorted(r["securityRuleName"] for r in security_rules(b).values()) == sorted(
        r["securityRuleName"] for r in security_rules(a).values()
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", [1]),
        ("priority", "abc"),
        ("priority", True),
        ("protocol", ["Tcp"]),
        ("destinationPortRanges", [443, None]),
        ("description", 5),
    ],
)
def test_an_ill_typed_field_of_a_held_rule_warns_and_plans_hashed(
    jp: RuleSet, field: str, value: Any
) -> None:
    """A hand-edited state whose rule has a field of the wrong type: the read fails (a
    warning naming the field, hashed priorities), not the program inside the Pulumi SDK."""
    held = [dict(s) for s in held_states(run(jp, merge="section"))]
    victim = next(s for s in held if s["type"] == SECURITY_RULE)
    held[held.index(victim)] = {**victim, "inputs": {**victim["inputs"], field: value}}
    plan = run(jp, held, merge="section")
    _hashed(plan, jp)
    (w,) = [w for w in plan.warnings if "could not be read" in w]
    assert field in w


def test_a_foreign_rule_on_the_deny_rules_priority_is_warned(jp: RuleSet) -> None:
    """The Deny rule's priority is fixed (the band's last); another rule the NSG holds
    there would make Azure refuse its create, so the plan says so before pulumi up."""
    plain = plan_for(
        rules=jp, resource_group_name=RG, network_security_group_name=NSG, merge="section",
        deny_other_outbound=True,
    )  # fmt: skip
    deny = next(r for r in plain.nsg_rules if r.access == "Deny")
    plan = run(jp, [foreign_rule(deny.priority)], merge="section")
    (w,) = [w for w in plan.warnings if "corp-dns" in w]
    assert str(deny.priority) in w and deny.name in w and "\n" not in w
    quiet = run(jp, [foreign_rule(deny.priority - 1)], merge="section")
    assert not [w for w in quiet.warnings if "corp-dns" in w]
