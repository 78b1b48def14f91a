"""EgressSecurityGroup reads what its prefix lists hold and orders the update (issue 19).

A plan is made from the resource states of the stack as deployed (``run_offline(held=)``,
``korefw plan --state``); a prefix list that loses entries an egress rule of the new plan
keeps allowing depends on that rule, so the engine updates it only after the rule exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from conftest import japan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from korefw.components.aws import DestinationPrefixLists, EgressSecurityGroup
from korefw.components.held_aws import LIST_TAG, OWNER_TAG, owner_id, read_held
from korefw.core.check.steps import states
from korefw.core.rules.model import RuleSet
from korefw.runtime import heldcalls, offline
from korefw.runtime.offline import OfflinePlan, run_offline

ROOT = Path(__file__).resolve().parent.parent
PL = "aws:ec2/managedPrefixList:ManagedPrefixList"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
VPC = "vpc-0123456789abcdef0"
LISTS = "aws:ec2/getManagedPrefixLists:getManagedPrefixLists"
ONE_LIST = "aws:ec2/getManagedPrefixList:getManagedPrefixList"

#: Japan's first row (AudioCodes, tcp/udp 5060 among others), moved to a section of its own:
#: the AudioCodes lists lose its address to the new section's lists.
MOVED_ROW = 0
LOSER = "audiocodes-ipv4-tcp-5060"
GAINER_RULE = "kf-tcp-5060-to-pl-audiocodes-moved-ipv4-tcp-5060"


def moved(rules: RuleSet, index: int = MOVED_ROW) -> RuleSet:
    """``rules`` with one row moved to another section (``bench/census.py``'s ``section``)."""
    rows = list(rules.rules)
    rows[index] = rows[index].with_(section=f"{rows[index].section} (moved)")
    return replace(rules, rules=tuple(rows))


def plan(rules: RuleSet, held: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> OfflinePlan:
    """One prefix-list-mode EgressSecurityGroup ``kf`` for ``rules``, from ``held``."""
    return run_offline(
        lambda: EgressSecurityGroup("kf", rules=rules, vpc_id=VPC, mode="prefix-list", **kwargs),
        held=held,
    )


def held_of(p: OfflinePlan) -> list[Mapping[str, Any]]:
    """The resource states a stack holds once ``p`` is applied (as ``--state`` reads it)."""
    return list(states(p.to_preview_json()).values())


def by_key(p: OfflinePlan) -> dict[str, offline.Resource]:
    return {r.inputs["tags"][LIST_TAG]: r for r in p.of_type(PL)}


def urn_of(p: OfflinePlan, name: str) -> str:
    (urn,) = [r.urn for r in p.resources if r.name == name]
    return urn


@pytest.fixture(scope="module")
def japan_a() -> OfflinePlan:
    return plan(japan())


@pytest.fixture(scope="module")
def japan_b(japan_a: OfflinePlan) -> OfflinePlan:
    return plan(moved(japan()), held_of(japan_a))


def test_lists_carry_their_owner_and_key(japan_a: OfflinePlan) -> None:
    owner = owner_id("korefw", "dev", "kf")
    lists = japan_a.of_type(PL)
    assert lists
    for r in lists:
        assert r.inputs["tags"][OWNER_TAG] == owner
        assert r.inputs["tags"]["Name"] == r.inputs["name"]
    assert len(by_key(japan_a)) == len(lists)
    assert owner not in {owner_id("korefw", "prod", "kf"), owner_id("korefw", "dev", "kf2")}


def test_the_losing_list_waits_for_the_gaining_rule(
    japan_a: OfflinePlan, japan_b: OfflinePlan
) -> None:
    loser = by_key(japan_b)[LOSER]
    assert urn_of(japan_b, GAINER_RULE) in loser.depends
    doc = json.loads(japan_b.dumps())
    (state,) = [s["newState"] for s in doc["steps"] if s["urn"] == loser.urn]
    assert urn_of(japan_b, GAINER_RULE) in state["dependencies"]
    # Every resource of A keeps its URN; the new ones are the moved section's.
    old, new = {r.urn for r in japan_a.resources}, {r.urn for r in japan_b.resources}
    assert old <= new
    assert new - old and all("-moved-" in u for u in new - old)
    # No list waits for anything but egress rules; the lists that do are in the plan output.
    waiting = {k for k, r in by_key(japan_b).items() if r.depends}
    assert LOSER in waiting
    assert all(
        u.split("::")[-2].endswith(EGRESS) for k in waiting for u in by_key(japan_b)[k].depends
    )
    planned = {
        p["key"]: p.get("after", []) for p in _component(japan_b).outputs["plan"]["prefix_lists"]
    }
    assert {k for k, a in planned.items() if a} == waiting


def _component(p: OfflinePlan) -> offline.Resource:
    (comp,) = p.of_type("korefw:aws:EgressSecurityGroup")
    return comp


def test_what_is_held_only_adds_dependencies(japan_b: OfflinePlan) -> None:
    """The same rules planned from nothing held: the same resources, parents and inputs."""
    fresh = plan(moved(japan()))
    a, b = fresh.by_urn(), japan_b.by_urn()
    assert a.keys() == b.keys()
    for urn, r in b.items():
        assert (r.parent, r.inputs, r.dependencies, r.aliases) == (
            a[urn].parent,
            a[urn].inputs,
            a[urn].dependencies,
            a[urn].aliases,
        ), urn
        if r.type == PL:
            assert not a[urn].depends
    assert any(r.depends for r in japan_b.of_type(PL))


def test_a_replan_from_its_own_state_orders_nothing(japan_b: OfflinePlan) -> None:
    again = plan(moved(japan()), held_of(japan_b))
    assert {r.urn for r in again.resources} == {r.urn for r in japan_b.resources}
    assert not any(r.depends for r in again.of_type(PL))
    assert not _warned(again)


def test_nothing_held_plans_as_before(japan_a: OfflinePlan) -> None:
    assert not any(r.depends for r in japan_a.of_type(PL))
    assert not _warned(japan_a)


def _warned(p: OfflinePlan) -> list[str]:
    return [w for w in p.warnings if "not ordered" in w]


def test_two_lists_with_one_key_cannot_decide(japan_a: OfflinePlan) -> None:
    held = [dict(s) for s in held_of(japan_a)]
    twin = next(s for s in held if s["type"] == PL)
    held.append({**twin, "id": "pl-twin", "urn": twin["urn"] + "-twin"})
    p = plan(moved(japan()), held)
    (warning,) = _warned(p)
    assert "both have korefw:list=" in warning and "pl-twin" in warning
    assert "korefw diff" in warning and "\n" not in warning
    assert not any(r.depends for r in p.of_type(PL))


def test_an_invoke_failure_cannot_decide(
    japan_a: OfflinePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(args: Mapping[str, Any], held: heldcalls.States) -> dict[str, Any]:
        raise RuntimeError("UnauthorizedOperation: not allowed\nsecond line")

    monkeypatch.setitem(heldcalls.HANDLERS, ONE_LIST, refuse)
    p = plan(moved(japan()), held_of(japan_a))
    (warning,) = _warned(p)
    assert "UnauthorizedOperation: not allowed" in warning and "second line" not in warning
    assert not any(r.depends for r in p.of_type(PL))
    assert {r.urn for r in p.resources} == {r.urn for r in plan(moved(japan())).resources}


def test_an_unreadable_entry_cannot_decide(japan_a: OfflinePlan) -> None:
    held = [json.loads(json.dumps(s)) for s in held_of(japan_a)]
    pl = next(s for s in held if s["type"] == PL)
    pl["inputs"]["entries"].append({"cidr": "not-a-cidr", "description": ""})
    (warning,) = _warned(plan(moved(japan()), held))
    assert "unreadable entry" in warning


def test_a_list_without_its_key_tag_cannot_decide(japan_a: OfflinePlan) -> None:
    held = [json.loads(json.dumps(s)) for s in held_of(japan_a)]
    pl = next(s for s in held if s["type"] == PL)
    del pl["inputs"]["tags"][LIST_TAG]
    (warning,) = _warned(plan(moved(japan()), held))
    assert f"has no {LIST_TAG} tag" in warning


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maxEntries", [1]),
        ("version", "x"),
        ("name", {"a": 1}),
        ("addressFamily", 5),
        ("entries", [{"cidr": ["192.0.2.0/24"]}]),
        ("entries", [{"cidr": "192.0.2.0/24", "description": [1]}]),
        ("tags", {LIST_TAG: "k", "Owner": [1, 2]}),
    ],
)
def test_an_ill_typed_field_of_a_held_list_cannot_decide(
    japan_a: OfflinePlan, field: str, value: Any
) -> None:
    """A hand-edited export whose list state has a field of the wrong type: a warning and
    an unordered plan, not a failure inside the Pulumi SDK."""
    held = [json.loads(json.dumps(s)) for s in held_of(japan_a)]
    pl = next(s for s in held if s["type"] == PL)
    if field == "tags":
        value = {**pl["inputs"]["tags"], "Owner": value["Owner"]}
    pl["inputs"][field] = value
    p = plan(moved(japan()), held)
    (warning,) = _warned(p)
    assert field in warning and "\n" not in warning
    assert not any(r.depends for r in p.of_type(PL))


@pytest.mark.parametrize("tags", [["korefw:owner", "x"], "korefw:list=x"])
def test_a_held_list_whose_tags_are_no_mapping_cannot_decide(
    japan_a: OfflinePlan, tags: Any
) -> None:
    """Its owner cannot be told, so neither can what the lists hold: a warning, not a
    silent "nothing held"."""
    held = [json.loads(json.dumps(s)) for s in held_of(japan_a)]
    pl = next(s for s in held if s["type"] == PL)
    pl["inputs"]["tags"] = tags
    p = plan(moved(japan()), held)
    (warning,) = _warned(p)
    assert "tags" in warning and pl["id"] in warning


def test_lists_without_ids_are_read_by_urn(japan_a: OfflinePlan, japan_b: OfflinePlan) -> None:
    """A `pulumi preview --json` document read as the state shows no id for a resource it
    creates or keeps (``same``): the lists are still told apart (by URN) and the update
    is ordered as from a stack export."""
    held = [json.loads(json.dumps(s)) for s in held_of(japan_a)]
    for s in held:
        if s["type"] == PL:
            s.pop("id", None)
            s["inputs"].pop("id", None)
    p = plan(moved(japan()), held)
    assert not _warned(p)
    assert {r.urn: r.depends for r in p.of_type(PL)} == {
        r.urn: r.depends for r in japan_b.of_type(PL)
    }
    assert any(r.depends for r in p.of_type(PL))


def test_null_fields_of_a_held_list_still_read(japan_a: OfflinePlan, japan_b: OfflinePlan) -> None:
    """``null`` for an unset field (an entry's description, the address family) is what
    the SDK accepts too: the read still succeeds and the update is ordered."""
    held = [json.loads(json.dumps(s)) for s in held_of(japan_a)]
    for s in held:
        if s["type"] == PL:
            s["inputs"]["addressFamily"] = None
            s["inputs"]["entries"] = [{**e, "description": None} for e in s["inputs"]["entries"]]
    p = plan(moved(japan()), held)
    assert not _warned(p)
    assert {r.urn: r.depends for r in p.of_type(PL)} == {
        r.urn: r.depends for r in japan_b.of_type(PL)
    }


def test_other_stacks_lists_are_not_read(japan_a: OfflinePlan) -> None:
    """Lists of another component (another owner tag) are none of this one's."""
    p = run_offline(
        lambda: EgressSecurityGroup("other", rules=moved(japan()), vpc_id=VPC, mode="prefix-list"),
        held=held_of(japan_a),
    )
    assert not any(r.depends for r in p.of_type(PL))
    assert not _warned(p)


def test_bad_input_fails_before_any_read(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def record(args: Mapping[str, Any], held: heldcalls.States) -> dict[str, Any]:
        calls.append("read")
        return {"ids": []}

    monkeypatch.setitem(heldcalls.HANDLERS, LISTS, record)
    with pytest.raises(Exception, match="rule_limit"):
        plan(japan(), rule_limit=0)
    assert calls == []
    plan(japan())
    assert calls == ["read"]


def test_reads_use_the_components_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    call = offline._Mocks.call

    def spy(self: offline._Mocks, args: pulumi.runtime.MockCallArgs) -> Any:
        seen.append(args.provider)
        return call(self, args)

    monkeypatch.setattr(offline._Mocks, "call", spy)

    def program() -> None:
        tokyo = aws.Provider("tokyo", region="ap-northeast-1")
        EgressSecurityGroup(
            "kf", rules=japan(), vpc_id=VPC, mode="prefix-list",
            opts=pulumi.ResourceOptions(providers=[tokyo]),
        )  # fmt: skip

    run_offline(program)
    assert seen and all("pulumi:providers:aws::tokyo" in p for p in seen)


def test_offline_answers_as_the_provider(japan_a: OfflinePlan) -> None:
    held = held_of(japan_a)
    owner = owner_id("korefw", "dev", "kf")
    tagged = {"filters": [{"name": f"tag:{OWNER_TAG}", "values": [owner]}]}
    found = heldcalls.answer(LISTS, tagged, held)
    assert sorted(found["ids"]) == sorted(r.id for r in japan_a.of_type(PL))
    assert heldcalls.answer(LISTS, tagged, ())["ids"] == []
    one = heldcalls.answer(ONE_LIST, {"id": found["ids"][0]}, held)
    assert set(one) >= {"addressFamily", "entries", "id", "maxEntries", "name", "tags"}
    assert all(set(e) == {"cidr", "description"} for e in one["entries"])
    with pytest.raises(RuntimeError, match="no EC2 Managed Prefix List"):
        heldcalls.answer(ONE_LIST, {"id": "pl-nope"}, held)


def test_read_held_builds_the_held_state(japan_a: OfflinePlan) -> None:
    def program() -> None:
        got.append(read_held(owner_id("korefw", "dev", "kf"), pulumi.InvokeOptions()))

    got: list[Any] = []
    run_offline(program, held=held_of(japan_a))
    (held,) = got
    assert held.known
    assert held.prefix_lists == {
        k: frozenset(e["cidr"] for e in r.inputs["entries"]) for k, r in by_key(japan_a).items()
    }


# --------------------------------------------------------------------------- the CLI


def _project(tmp_path: Path) -> Path:
    """A copy of the project whose example-jp-aws stack uses prefix lists."""
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    stack = (ROOT / "stacks" / "Pulumi.example-jp-aws.yaml").read_text()
    assert "korefw:awsMode: cidr" in stack
    stack = stack.replace("korefw:awsMode: cidr", "korefw:awsMode: prefix-list")
    (tmp_path / "stacks" / "Pulumi.example-jp-aws.yaml").write_text(stack)
    return tmp_path


def _korefw_plan(project: Path, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "korefw.cli", "plan", "--stack", "example-jp-aws",
           "--cwd", str(project), "--json", *extra]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


def test_korefw_plan_state_orders_the_update(tmp_path: Path) -> None:
    """State A: the stack as deployed when one address sat in another list of the same flow
    (tcp 5060): the voice gateway's list held the AudioCodes address. Planning today's rules
    from A, that list loses the address and waits for the AudioCodes reference rule."""
    project = _project(tmp_path)
    today = _korefw_plan(project)
    lists = {
        s["newState"]["inputs"]["tags"][LIST_TAG]: s["newState"]
        for s in today["steps"]
        if s["newState"]["type"] == PL
    }
    giver, taker = lists["audiocodes-ipv4-tcp-5060"], lists["voice-gateway-vg-ipv4-tcp-5060"]
    entry = giver["inputs"]["entries"].pop(0)
    taker["inputs"]["entries"].append(entry)
    state = tmp_path / "A.json"
    state.write_text(json.dumps(today))
    ordered = _korefw_plan(project, "--state", str(state))
    new = {s["urn"]: s["newState"] for s in ordered["steps"]}
    assert new.keys() == {s["urn"] for s in today["steps"]}
    rule = next(
        u for u, s in new.items()
        if s["type"] == EGRESS and s["inputs"].get("prefixListId") == giver["id"]
        and s["inputs"]["fromPort"] == 5060
    )  # fmt: skip
    assert new[taker["urn"]]["dependencies"] == [rule]
    waiting = [u for u, s in new.items() if s["type"] == PL and s.get("dependencies")]
    assert waiting == [taker["urn"]]
    # From its own state, the plan orders nothing.
    state.write_text(json.dumps(ordered))
    again = _korefw_plan(project, "--state", str(state))
    assert not any(s["newState"].get("dependencies") for s in again["steps"]
                   if s["newState"]["type"] == PL)  # fmt: skip


def test_lists_used_alone_carry_no_owner_and_read_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setitem(heldcalls.HANDLERS, LISTS, lambda a, h: calls.append("read") or {})
    p = run_offline(lambda: DestinationPrefixLists("pl", rules=japan()))
    assert p.of_type(PL) and calls == []
    assert all(set(r.inputs["tags"]) == {"Name"} for r in p.of_type(PL))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(japan().rules) - 1), kind=st.sampled_from(["section", "row"]))
def test_each_list_depends_on_exactly_the_rules_it_waits_for(
    japan_a: OfflinePlan, index: int, kind: str
) -> None:
    """For any row moved or removed: a list's dependencies are its planned ``after``'s rules."""
    rules = japan()
    rows = list(rules.rules)
    if kind == "row":
        del rows[index]
    else:
        rows[index] = rows[index].with_(section=f"{rows[index].section} (moved)")
    p = plan(replace(rules, rules=tuple(rows)), held_of(japan_a))
    planned = {q["key"]: q.get("after", []) for q in _component(p).outputs["plan"]["prefix_lists"]}
    for key, r in by_key(p).items():
        assert r.depends == sorted(urn_of(p, f"kf-{n}") for n in planned[key])
