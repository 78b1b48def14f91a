"""The README's library example: korefw components inside another Pulumi program."""

from __future__ import annotations

import ipaddress
import json
import runpy
from pathlib import Path

from korefw.core.check.planread import read_plan
from korefw.core.read.regions import load_rules
from korefw.core.rules.allowset import AllowSet
from korefw.runtime.offline import run_offline

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
    ids = SHARED_OUTPUTS["awsPrefixListIds"]
    turn = {r.inputs["fromPort"]: r for r in plan.resources if r.name.startswith("media-turn-")}
    assert set(turn) == {3478, 5349}
    for port, r in turn.items():  # each rule uses the shared list of exactly its flow
        assert r.inputs["prefixListId"] == ids[f"twilio-stun-ipv4-tcp-{port}"]
        assert (r.inputs["ipProtocol"], r.inputs["toPort"]) == ("tcp", port)
    # and through the shared list each rule allows nothing the vendor's German page does not
    entries = {
        st["id"]: [e["cidr"] for e in st["inputs"]["entries"]]
        for st in (step["newState"] for step in SHARED["steps"])
        if st["type"] == "aws:ec2/managedPrefixList:ManagedPrefixList"
    }
    de = load_rules("de").allow_set()
    for port, r in turn.items():
        nets = [ipaddress.ip_network(c) for c in entries[r.inputs["prefixListId"]]]
        piece = AllowSet.of("tcp", [(port, port)], nets)
        assert nets and piece and not piece - de, port
