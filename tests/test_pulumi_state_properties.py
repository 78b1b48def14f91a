"""Properties of the state after an update, for random updates of an existing stack.

A random existing stack of AWS egress rules is exported (``apitype.DeploymentV3``), then
updated: each rule is kept, deleted, updated in place or replaced, and new rules are
created. The preview is printed the three ways ``shouldShow`` in
``pkg/backend/display/display.go`` allows (default; ``--show-sames``;
``--show-replacement-steps``), with ``changeSummary`` counting every logical step as the
engine does (``OnResourceStepPost`` in ``pkg/engine/update.go``). The expected state after
the update is computed from the choices directly, not through korefw's reader.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.check.plandiff import diff_update
from korefw.core.check.pulumidoc import DocumentError, parse_document, state_after
from korefw.core.check.verify import verify
from korefw.core.rules.model import Rule, RuleSet
from korefw.core.rules.ports import PortRange

P = "urn:pulumi:prod::korefw::"
ROOT = P + "pulumi:pulumi:Stack::korefw-prod"
SG = P + "aws:ec2/securityGroup:SecurityGroup::kore-sg"
EGT = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ACTIONS = ("same", "delete", "update", "replace")


def egress(i: int, *, live: bool, desc: str = "rule") -> dict:
    state = {
        "urn": f"{P}{EGT}::r{i}", "custom": True, "type": EGT,
        "inputs": {"__defaults": [], "cidrIpv4": f"10.0.{i}.0/24", "fromPort": 1000 + i,
                   "toPort": 1000 + i, "ipProtocol": "udp" if i % 2 else "tcp",
                   "description": desc, "securityGroupId": "sg-0aa11bb22cc33dd44",
                   "region": "ap-northeast-1"},
        "propertyDependencies": {"securityGroupId": [SG]},
    }  # fmt: skip
    if live:
        state["id"] = f"sgr-{i:04d}"
    return state


ROOT_STATE = {"urn": ROOT, "custom": False, "type": "pulumi:pulumi:Stack"}
SG_STATE = {"urn": SG, "custom": True, "type": "aws:ec2/securityGroup:SecurityGroup",
            "id": "sg-0aa11bb22cc33dd44", "inputs": {"vpcId": "vpc-1"}}  # fmt: skip


def step(op: str, old: dict | None, new: dict | None) -> dict:
    out: dict = {"op": op, "urn": (new or old)["urn"], "detailedDiff": None}  # type: ignore[index]
    if old is not None:
        out["oldState"] = old
    if new is not None:
        out["newState"] = new
    return out


@st.composite
def updates(draw: st.DrawFn) -> tuple[dict[int, str], list[int]]:
    existing = draw(st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True))
    actions = {i: draw(st.sampled_from(ACTIONS)) for i in existing}
    created = draw(st.lists(st.integers(41, 60), max_size=3, unique=True))
    return actions, created


def documents(actions: dict[int, str], created: list[int]) -> dict[str, dict]:
    """The stack export and the preview printed three ways."""
    export = {"version": 3, "deployment": {"resources": [
        ROOT_STATE, SG_STATE, *[egress(i, live=True) for i in actions]]}}  # fmt: skip
    sames = [step("same", ROOT_STATE, ROOT_STATE), step("same", SG_STATE, SG_STATE)]
    changes, replacement_steps, deleted_replaced = [], [], []
    for i, action in sorted(actions.items()):
        old = egress(i, live=True)
        if action == "same":
            sames.append(step("same", old, old))
        elif action == "delete":
            changes.append(step("delete", old, None))
        elif action == "update":
            changes.append(step("update", old, egress(i, live=True, desc="changed")))
        else:
            new = egress(i, live=False, desc="replaced")
            changes.append(step("replace", old, new))
            replacement_steps += [step("create-replacement", old, new), step("replace", old, new)]
            deleted_replaced.append(step("delete-replaced", {**old, "delete": True}, None))
        if action != "replace":
            replacement_steps.append(changes[-1] if action != "same" else sames[-1])
    creates = [step("create", None, egress(i, live=False)) for i in created]
    summary: dict[str, int] = {"same": len(sames)}
    for s in [*changes, *creates]:
        summary[s["op"]] = summary.get(s["op"], 0) + 1
    plain_changes = [s for s in replacement_steps if s["op"] != "same"]
    return {
        "export": export,
        "default": {"steps": [sames[0], *changes, *creates], "changeSummary": summary},
        "show-sames": {"steps": [*sames, *changes, *creates], "changeSummary": summary},
        "replacement-steps": {
            "steps": [sames[0], *plain_changes, *creates, *deleted_replaced],
            "changeSummary": summary,
        },
    }


def expected_after(actions: dict[int, str], created: list[int]) -> dict[str, str]:
    """URN -> description after the update, from the choices alone."""
    out = {ROOT: "", SG: ""}
    desc = {"same": "rule", "update": "changed", "replace": "replaced"}
    for i, action in actions.items():
        if action != "delete":
            out[f"{P}{EGT}::r{i}"] = desc[action]
    for i in created:
        out[f"{P}{EGT}::r{i}"] = "rule"
    return out


def rules_for(indices: list[int]) -> RuleSet:
    return RuleSet(tuple(
        Rule(f"S{i}", "", ("udp" if i % 2 else "tcp",), (PortRange(1000 + i, 1000 + i),),  # type: ignore[arg-type]
             (ipaddress.ip_network(f"10.0.{i}.0/24"),))
        for i in indices
    ))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(update=updates())
def test_state_after_is_the_same_however_the_preview_is_printed(
    update: tuple[dict[int, str], list[int]],
) -> None:
    actions, created = update
    docs = documents(actions, created)
    base = parse_document(docs["export"], "state")
    want = expected_after(actions, created)

    def described(states: list[dict]) -> dict[str, str]:
        return {s["urn"]: s.get("inputs", {}).get("description", "") for s in states}

    for kind in ("default", "show-sames", "replacement-steps"):
        got = described(state_after(parse_document(docs[kind], kind), base))
        assert got == want, kind
    assert described(state_after(parse_document(docs["show-sames"], "s"))) == want
    # Without the state, the default preview leaves out the unchanged security group.
    with pytest.raises(DocumentError, match="leaves out"):
        state_after(parse_document(docs["default"], "default"))

    survivors = sorted([i for i, a in actions.items() if a != "delete"] + created)
    everything = sorted([*actions, *created])
    for kind in ("default", "replacement-steps"):
        assert verify(docs[kind], rules_for(survivors), state=docs["export"]).exit_code == 0
        result = verify(docs[kind], rules_for(everything), state=docs["export"])
        assert result.exit_code == (1 if len(survivors) < len(everything) else 0)
    d = diff_update(docs["default"], docs["export"])
    assert len(d.removed.get("aws", [])) == sum(a == "delete" for a in actions.values())
    assert len(d.added.get("aws", [])) == len(created)
    assert d.resources.get("replace", 0) == len(d.replaced)
