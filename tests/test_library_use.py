"""The README's library example: korefw components inside another Pulumi program."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from korefw.core.check.planread import read_plan
from korefw.core.read.regions import load_rules
from korefw.offline import run_offline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "library_use" / "__main__.py"
SHARED = json.loads((ROOT / "tests" / "golden" / "example-de-both.json").read_text())
SHARED_OUTPUTS = SHARED["steps"][0]["newState"]["outputs"]


def _run():  # type: ignore[no-untyped-def]
    return run_offline(
        lambda: runpy.run_path(str(EXAMPLE), run_name="__main__"),
        project="app",
        stack="prod",
        config={"app:koreNetworkStack": "acme/korefw/example-de-both"},
        stack_references={"acme/korefw/example-de-both": SHARED_OUTPUTS},
    )


def test_library_example_builds_exact_rules_for_the_selected_sections() -> None:
    plan = _run()
    types = {r.type for r in plan.resources}
    assert {"korefw:aws:EgressSecurityGroup", "korefw:azure:EgressNetworkSecurityGroup"} <= types
    rules = load_rules("jp").filter(sections=["AudioCodes", "Voice Gateway*", "Twilio STUN"])
    doc = plan.to_preview_json()
    kore_only = {
        "steps": [
            s for s in doc["steps"] if "::media" not in s["urn"] and "media-turn" not in s["urn"]
        ]
    }
    reading = read_plan(kore_only)
    assert reading.allow_set("aws") == rules.allow_set()
    assert reading.allow_set("azure") == rules.allow_set()
    priorities = [r.priority for r in reading.rules if r.cloud == "azure"]
    assert priorities and all(3000 <= p <= 3099 for p in priorities)


def test_stack_reference_prefix_list_id_reaches_the_egress_rule() -> None:
    plan = _run()
    wanted = SHARED_OUTPUTS["awsPrefixListIds"]["twilio-stun-ipv4-c1e4c9"]
    turn = [r for r in plan.resources if r.name.startswith("media-turn-")]
    assert len(turn) == 2
    assert {r.inputs["prefixListId"] for r in turn} == {wanted}
    assert {r.inputs["ipProtocol"] for r in turn} == {"tcp", "udp"}
