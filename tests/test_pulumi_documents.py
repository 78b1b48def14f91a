"""``korefw verify`` and ``korefw diff`` on documents shaped as the real Pulumi CLI prints them.

The fixtures under tests/fixtures/pulumi/ are written by hand, following the engine's
source (pulumi/pulumi), not korefw's own output:

- ``*.preview.json``: ``display.PreviewDigest`` / ``PreviewStep`` (``pkg/display/json.go``)
  as ``ShowPreviewDigest`` prints it (``pkg/backend/display/json.go``), each step's states
  taken from its ``ResourcePreEvent``, deep-copied before the step runs (``NewEvent`` and
  ``makeStepEventMetadata`` in ``pkg/engine/events.go``), so a newState is what
  ``pkg/resource/deploy/step_generator.go`` built: no ``id`` and no ``outputs`` for same,
  create, update, replace and import (``ID: ""``, ``Outputs: nil``; ``ResourceV3`` omits
  empty fields), an id but no outputs for read, the old state itself for refresh
  (``NewRefreshStep``); a replace step's oldState already ``delete: true`` (set by its
  create-replacement's ``CreateStep.Apply``); ``same`` steps only
  with ``--show-sames`` (``*.show-sames.*``), ``create-replacement`` / ``delete-replaced``
  only with ``--show-replacement-steps`` (``*.replacement-steps.*``), the root stack step
  always (``shouldShow`` in ``pkg/backend/display/display.go``); ``detailedDiff`` printed
  as ``null`` when absent (no ``omitempty``); new resources without ``id``; unknown values
  as ``04da6b54-80e4-46f7-96ec-b56ff0331ba9``; provider-added inputs ``__defaults`` and
  ``region``, outputs ``tagsAll``; which op carries ``oldState`` / ``newState`` as in
  ``pkg/resource/deploy/step.go`` (``Old()`` / ``New()`` of each step type).
- ``*.stream.jsonl``: ``apitype.EngineEvent`` a line (``sdk/go/common/apitype/events.go``)
  as ``ShowJSONEvents`` prints it with ``PULUMI_ENABLE_STREAMING_JSON_PREVIEW`` (no
  ``shouldShow`` filter, so sames are there); ``resourcePreEvent.metadata`` is a
  ``StepEventMetadata`` (``op``, ``urn``, ``type``, ``old``, ``new``, ...; a state's ``id``
  and ``outputs`` always printed, ``""`` and ``{}`` before the step runs, and no
  ``propertyDependencies``: ``apitype.StepEventStateMetadata``); secrets blinded
  to ``{sig, "ciphertext": "[secret]"}`` (``convertStepEventStateMetadata``).
- ``*.state.json`` / ``aws-state*.json``: ``pulumi stack export``, ``apitype.DeploymentV3`` /
  ``ResourceV3`` (``sdk/go/common/apitype/core.go``); secrets as ``{sig, "ciphertext"}`` or,
  with ``--show-secrets``, ``{sig, "plaintext": "<JSON text>"}`` (``SerializePropertyValue``
  in ``pkg/resource/stack/deployment.go``).

The stack: one AWS security group with three egress rules (STUN TCP and UDP 3478 to
13.115.244.0/27, SBC TCP 5060-5061 to 18.177.19.211/32); ``RULES_V2`` adds one vendor
row (UDP 3478 to 13.115.244.64/27).
"""

from __future__ import annotations

import io
import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.cli import main
from korefw.core.check import policycheck
from korefw.core.check.plandiff import diff_plans, diff_update
from korefw.core.check.pulumidoc import load_document, parse_document, state_after
from korefw.core.check.verify import verify
from korefw.core.errors import KorefwError
from korefw.core.read.ruledata import Provenance, dump
from korefw.core.rules.model import Rule, RuleSet
from korefw.core.rules.ports import PortRange

FIX = Path(__file__).resolve().parent / "fixtures" / "pulumi"
STATE = str(FIX / "aws-state.json")


def _rule(section: str, protos: tuple[str, ...], lo: int, hi: int, cidr: str) -> Rule:
    return Rule(section, "", protos, (PortRange(lo, hi),), (ipaddress.ip_network(cidr),))  # type: ignore[arg-type]


RULES_V1 = RuleSet((
    _rule("Twilio STUN", ("tcp", "udp"), 3478, 3478, "13.115.244.0/27"),
    _rule("SBC", ("tcp",), 5060, 5061, "18.177.19.211/32"),
))  # fmt: skip
RULES_V2 = RuleSet((*RULES_V1, _rule("Twilio STUN", ("udp",), 3478, 3478, "13.115.244.64/27")))


@pytest.fixture(scope="module")
def rules_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = {}
    folder = tmp_path_factory.mktemp("rules")
    for name, rules in (("v1", RULES_V1), ("v2", RULES_V2)):
        path = folder / f"{name}.toml"
        path.write_text(dump(rules, Provenance(region="jp", page="fixture.md")))
        out[name] = str(path)
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def fx(name: str) -> str:
    return str(FIX / name)


# (fixture, extra arguments, rules, exit code, text in the output)
CASES = [
    # a new stack: creates only, complete without --show-sames
    ("aws-new.preview.json", [], "v1", 0, "OK: aws: 1 security group, "),
    # an unchanged existing stack
    ("aws-unchanged.preview.json", ["--state", STATE], "v1", 0, "OK: aws"),
    ("aws-unchanged.show-sames.preview.json", [], "v1", 0, "OK: aws"),
    ("aws-state.json", [], "v1", 0, "OK: aws"),  # what is deployed now (encrypted tag only)
    # a preview that adds a vendor row, checked against the new rules
    ("aws-add-row.preview.json", ["--state", STATE], "v2", 0, "OK: aws"),
    ("aws-add-row.show-sames.preview.json", [], "v2", 0, "OK: aws"),
    ("aws-add-row.preview.json", ["--state", STATE], "v1", 1,
     "extra   udp 3478 → 13.115.244.64/27"),
    # a preview that deletes a required rule
    ("aws-delete-rule.preview.json", ["--state", STATE], "v1", 1,
     "missing tcp 5060-5061 → 18.177.19.211/32"),
    ("aws-delete-rule.show-sames.preview.json", [], "v1", 1,
     "missing tcp 5060-5061 → 18.177.19.211/32"),
    ("aws-delete-rule.stream.jsonl", [], "v1", 1, "missing tcp 5060-5061 → 18.177.19.211/32"),
    ("aws-delete-rule.stream.jsonl", ["--state", STATE], "v1", 1,
     "missing tcp 5060-5061 → 18.177.19.211/32"),
    # update in place, replaced security group (default and --show-replacement-steps)
    ("aws-update.preview.json", ["--state", STATE], "v1", 0, "OK: aws"),
    ("aws-replace-sg.preview.json", ["--state", STATE], "v1", 0, "OK: aws: 1 security group, "),
    ("aws-replace-sg.replacement-steps.preview.json", ["--state", STATE], "v1", 0,
     "OK: aws: 1 security group, "),
    # read (as read: outputs), import, refresh and discard
    ("aws-read-import-refresh-discard.show-sames.preview.json", [], "v1", 0, "OK: aws"),
    ("aws-read-import-refresh-discard.show-sames.preview.json",
     ["--state", fx("aws-read-import-refresh-discard.state.json")], "v1", 0, "OK: aws"),
    # stack export with secrets: plaintext (--show-secrets) decides, ciphertext cannot
    ("aws-state-show-secrets.json", [], "v1", 0, "OK: aws"),
    # Azure
    ("azure-new.preview.json", [], "v1", 0, "OK: azure"),
    ("azure-star-lowercase-allow.preview.json", [], "v1", 1, "wider than TCP or UDP: protocol '*'"),
    ("azure-duplicate-priority.preview.json", [], "v1", 1,
     "'kore-tcp-3478' and 'kore-udp-3478' in rg-network/nsg-app-egress share priority 1100 and "
     "direction Outbound"),
    ("azure-no-deny.preview.json", [], "v1", 1, "AllowInternetOutBound (65001)"),
    ("azure-no-deny.preview.json", ["--egress-filtered-elsewhere"], "v1", 0, "OK: azure"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "extra", "rules", "code", "text"), CASES,
                         ids=[f"{c[0]}{'+state' if '--state' in c[1] else ''}-{c[2]}"
                              for c in CASES])  # fmt: skip
def test_verdicts(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str],
    name: str, extra: list[str], rules: str, code: int, text: str,
) -> None:  # fmt: skip
    """Each op as ``ShowPreviewDigest`` prints it (pkg/backend/display/json.go), applied as
    its step's ``Apply`` would (pkg/resource/deploy/step.go) to the state before."""
    got, out, err = run(capsys, "verify", fx(name), "--rules", rules_files[rules], *extra)
    assert (got, text in out) == (code, True), out + err


# Incomplete or undecidable: exit 2 and one line naming the resource and the field.
UNDECIDED = [
    ("aws-unchanged.preview.json", [], "leaves out 5 unchanged resources"),
    ("aws-add-row.preview.json", [], "--show-sames"),
    ("aws-delete-rule.preview.json", [], "`--state` (from `pulumi stack export`)"),
    ("aws-state-encrypted-cidr.json", [],
     "SecurityGroupEgressRule::kore-tcp-5060-5061-to-18.177.19.211-32: cidrIpv4: secret"),
    ("aws-secret-port.stream.jsonl", [],
     "SecurityGroupEgressRule::kore-tcp-3478-to-13.115.244.0-27: fromPort: secret"),
    ("malformed/secret-cidr.json", [],
     "SecurityGroupEgressRule::kore-tcp-5060-5061-to-18.177.19.211-32: cidrIpv4: secret"),
    ("malformed/secret-port.json", [], "18.177.19.211-32: toPort: secret"),
    ("malformed/step-is-a-string.json", [], "steps[3]: expected a step object"),
    ("malformed/newstate-without-urn.json", [], "steps[2]: newState: resource state has no urn"),
    ("malformed/port-abc.json", [], "fromPort: expected a port number 0-65535 (or -1) (got 'abc')"),
    ("malformed/id-is-a-list.json", [], "kore-sg: id: expected a string"),
    ("malformed/priority-high.json", [],
     "securityRules[0].priority: expected an NSG priority number (got 'high')"),
    ("malformed/unknown-op.json", [], "steps[3]: op: unknown step op (got 'upsert')"),
    ("malformed/steps-not-a-list.json", [], "steps: expected a list"),
    ("malformed/truncated.json", [], "not JSON"),
    ("malformed/top-level-list.json", [], "expected a JSON object (got 'list')"),
    ("malformed/stream-cut-line.jsonl", [], "stream-cut-line.jsonl:4: not a JSON engine event"),
    ("malformed/export-version.json", [], "version: unsupported stack export version"),
    ("aws-new.preview.json", ["--state", STATE], "it creates urn:pulumi:prod::korefw::"),
    ("aws-state.json", ["--state", STATE], "--state needs a preview as PLAN"),
    ("no-such-file.json", [], "cannot read: No such file or directory"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "extra", "text"), UNDECIDED, ids=[c[0] for c in UNDECIDED])
def test_undecided_documents_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str],
    name: str, extra: list[str], text: str,
) -> None:  # fmt: skip
    got, out, err = run(capsys, "verify", fx(name), "--rules", rules_files["v1"], *extra)
    assert got == 2, out + err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("korefw: error: "), err
    assert text in err
    assert "Traceback" not in err


def test_unresolvable_prefix_list_is_undecided_not_a_verdict(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str], tmp_path: Path
) -> None:
    doc = json.loads((FIX / "aws-new.preview.json").read_text())
    inputs = doc["steps"][3]["newState"]["inputs"]
    del inputs["cidrIpv4"]
    inputs["prefixListId"] = "pl-0123456789abcdef0"
    (tmp_path / "p.json").write_text(json.dumps(doc))
    got, out, _ = run(capsys, "verify", str(tmp_path / "p.json"), "--rules", rules_files["v1"])
    assert got == 2
    assert "UNDECIDED" in out and "prefix list pl-0123456789abcdef0 is not in the plan" in out


def test_standard_input(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    text = (FIX / "aws-delete-rule.preview.json").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    got, out, _ = run(capsys, "verify", "-", "--rules", rules_files["v1"], "--state", STATE)
    assert got == 1 and "missing tcp 5060-5061 → 18.177.19.211/32" in out


def test_existing_group_rules_are_said_to_be_unseen(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str]
) -> None:
    _, out, _ = run(capsys, "verify", fx("azure-duplicate-priority.preview.json"),
                    "--rules", rules_files["v1"])  # fmt: skip
    assert ("note: existing NSG rg-network/nsg-app-egress: rules korefw does not manage are "
            "unseen unless the state export includes them") in out  # fmt: skip


def test_every_engine_op_is_in_some_fixture() -> None:
    """Every op of ``pkg/resource/deploy/step.go`` that a preview prints for these resources."""
    ops = set()
    for path in FIX.glob("*.json"):
        doc = load_document(str(path))
        ops |= {s.op for s in doc.steps}
    ops |= {s.op for s in load_document(fx("aws-delete-rule.stream.jsonl")).steps}
    assert ops >= {"create", "same", "update", "delete", "replace", "create-replacement",
                   "delete-replaced", "read", "import", "refresh", "discard"}  # fmt: skip


def test_replacement_steps_give_the_same_state_as_the_default() -> None:
    """``shouldShow`` (pkg/backend/display/display.go) hides create-replacement and
    delete-replaced without ``--show-replacement-steps``; the replace step alone carries the
    same new state (``NewReplaceStep``, step.go), without id until ``CreateStep.Apply``."""
    state = load_document(STATE)
    a = state_after(load_document(fx("aws-replace-sg.preview.json")), state)
    b = state_after(load_document(fx("aws-replace-sg.replacement-steps.preview.json")), state)
    assert a == b
    assert all("id" not in s for s in a if s["type"].startswith("aws:"))  # all new copies


# ---------------------------------------------------------------- korefw diff


def test_diff_of_a_deletion_shows_the_flow_removed(capsys: pytest.CaptureFixture[str]) -> None:
    """A ``delete`` step carries its oldState only (``DeleteStep.New`` is nil, step.go)."""
    preview = fx("aws-delete-rule.preview.json")
    d = diff_plans(load_document(STATE), load_document(preview))
    assert d.lines() == ["- aws: tcp 5060-5061 → 18.177.19.211/32 (SBC)"]
    assert d.resources == {"delete": 1, "same": 5}
    code, out, _ = run(capsys, "diff", STATE, preview)
    assert code == 0
    assert "0 to create, 1 to delete, 0 to replace, 0 to update" in out
    assert "- aws: tcp 5060-5061 → 18.177.19.211/32 (SBC)" in out
    # the same from a complete preview alone, and from the stream
    for doc in ("aws-delete-rule.show-sames.preview.json", "aws-delete-rule.stream.jsonl"):
        code, alone, _ = run(capsys, "diff", fx(doc))
        assert code == 0 and "- aws: tcp 5060-5061 → 18.177.19.211/32 (SBC)" in alone, doc


def test_diff_of_plan_folders_with_a_stack_on_one_side_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "prod.json").write_text((FIX / "aws-new.preview.json").read_text())
    code, out, _ = run(capsys, "diff", str(tmp_path / "old"), str(tmp_path / "new"))
    assert code == 0
    assert "### korefw plan diff: prod" in out and "6 to create, 0 to delete" in out
    assert "+ aws: tcp 5060-5061 → 18.177.19.211/32 (SBC)" in out


def test_diff_of_an_incomplete_preview_alone_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", fx("aws-delete-rule.preview.json"))
    assert code == 2 and out == "" and "--show-sames" in err


def test_diff_shows_a_replacement_as_such() -> None:
    """``replace`` steps (``NewReplaceStep``, step.go), counted once each by the summary."""
    for name in ("aws-replace-sg.preview.json", "aws-replace-sg.replacement-steps.preview.json"):
        d = diff_update(load_document(fx(name)), load_document(STATE))
        assert d.lines() == [], name  # the same flows before and after
        assert d.resources == {"replace": 4, "same": 2}
        assert len(d.replaced) == 4
        md = d.markdown()
        assert "0 to create, 0 to delete, 4 to replace, 0 to update" in md
        assert "**Replaced** (deleted and created again): `kore-sg`" in md


def test_diff_of_an_added_row_counts_what_pulumi_up_does() -> None:
    """A ``create`` step's newState has neither id nor outputs (``NewCreateStep``, step.go,
    printed before ``CreateStep.Apply``); ``changeSummary`` from the ``SummaryEvent``."""
    d = diff_update(load_document(fx("aws-add-row.preview.json")), load_document(STATE))
    assert d.lines() == ["+ aws: udp 3478 → 13.115.244.64/27 (Twilio STUN)"]
    assert d.resources == {"create": 1, "same": 6}


def test_verify_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = capsys.readouterr().out
    for line in ("0  every cloud allows exactly", "1  the plan differs", "2  the question cannot"):
        assert line in text


# ---------------------------------------------------------------- never a traceback

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 70000) | st.floats(allow_nan=False)
    | st.sampled_from(["", "abc", "[secret]", "*", "-1", "tcp", "Allow", "allow", "Outbound",
                       "13.115.244.0/27", "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "same"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
DOCS = ["aws-new.preview.json", "aws-delete-rule.show-sames.preview.json", "aws-state.json",
        "aws-widen-cidr.show-sames.preview.json", "aws-rule-on-group-by-id.show-sames.preview.json",
        "azure-new.preview.json", "azure-duplicate-priority.preview.json",
        "aws-read-import-refresh-discard.show-sames.preview.json"]  # fmt: skip


def _paths(value: object, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_edit_of_a_document_gives_a_verdict_or_one_line(data: st.DataObject) -> None:
    """One value anywhere in a real-shaped document replaced by any JSON value: verify and
    diff answer 0, 1 or 2 (a :class:`KorefwError`), never another exception."""
    doc = json.loads((FIX / data.draw(st.sampled_from(DOCS))).read_text())
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(JSON)
    try:
        result = verify(doc, RULES_V1)
        assert result.exit_code in (0, 1, 2)
        result.render()
        diff_update(doc).markdown()
    except KorefwError:
        pass


def test_readme_check_a_real_preview_commands_parse() -> None:
    """Every korefw command of the README's "Check a real preview" section is one the CLI takes."""
    from korefw.cli import build_parser

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Check a real preview", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("korefw ", 1)[1].split("#")[0].split()
                for line in section.splitlines() if ".venv/bin/korefw " in line]  # fmt: skip
    assert {c[0] for c in commands} == {"verify", "diff"} and len(commands) >= 4
    for argv in commands:
        build_parser().parse_args(argv)  # exits on an unknown option
    assert "--show-sames" in section and "pulumi refresh" in section
    assert "compliance.yml" in section


# --- defects found by a hostile tester -------------------------------------------------


def _state() -> dict:
    return json.loads(Path(STATE).read_text())


def _egress(doc: dict) -> list[dict]:
    return [r for r in doc["deployment"]["resources"]
            if r["type"].endswith("SecurityGroupEgressRule")]  # fmt: skip


def _allow_all(rule: dict) -> dict:
    wide = json.loads(json.dumps(rule))
    wide["urn"] += "-wide"
    wide["inputs"].update(ipProtocol="-1", cidrIpv4="0.0.0.0/0")
    return wide


def test_a_rule_pending_delete_in_an_export_still_counts() -> None:
    """``"delete": true`` marks a resource still deployed (deleted at the next update)."""
    doc = _state()
    wide = _allow_all(_egress(doc)[0])
    wide["delete"] = True
    doc["deployment"]["resources"].append(wide)
    assert verify(doc, RULES_V1).exit_code == 1


def test_a_pending_operation_in_an_export_is_undecided() -> None:
    doc = _state()
    wide = _allow_all(_egress(doc)[0])
    doc["deployment"]["pending_operations"] = [{"resource": wide, "type": "creating"}]
    with pytest.raises(KorefwError, match=r"pending operation 'creating' on .*-wide"):
        verify(doc, RULES_V1)


@pytest.mark.parametrize("where", ["rule", "group"])
def test_outputs_of_an_export_widened_outside_pulumi_are_caught(where: str) -> None:
    """After `pulumi refresh` the cloud's view is in ``outputs``: the union is allowed."""
    doc = _state()
    if where == "rule":
        rule = _egress(doc)[0]
        rule["outputs"] = {**rule["inputs"], "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}
    else:
        sg = next(r for r in doc["deployment"]["resources"]
                  if r["type"] == "aws:ec2/securityGroup:SecurityGroup")  # fmt: skip
        sg["outputs"] = {"id": sg["id"], "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                                     "cidrBlocks": ["0.0.0.0/0"]}]}  # fmt: skip
    result = verify(doc, RULES_V1)
    assert result.exit_code == 1 and result.clouds[0].extra


def test_outputs_equal_to_inputs_keep_an_export_exact() -> None:
    doc = _state()
    for rule in _egress(doc):
        rule["outputs"] = dict(rule["inputs"])
    assert verify(doc, RULES_V1).exit_code == 0


@pytest.mark.parametrize(("value", "code"), [
    (None, 1), ("", 1), ([], 1), (["sg-0aa11bb22cc33dd44"], 1), ("sg-other", 1),
    ("04da6b54-80e4-46f7-96ec-b56ff0331ba9", 2),
])  # fmt: skip
def test_an_egress_rule_on_no_group_or_another_group_does_not_count(value: object,
                                                                    code: int) -> None:
    doc = _state()
    rule = _egress(doc)[0]
    if value is None:
        del rule["inputs"]["securityGroupId"]
    else:
        rule["inputs"]["securityGroupId"] = value
    rule.get("propertyDependencies", {}).pop("securityGroupId", None)
    result = verify(doc, RULES_V1)
    assert result.exit_code == code
    assert rule["urn"] in result.render()


def test_secret_wrapped_inputs_are_one_line(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path,
                                            rules_files: dict[str, str]) -> None:
    doc = _state()
    _egress(doc)[0]["inputs"] = {"4dabf18193072939515e22adb298388d":
                                 "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    for argv in (["verify", str(path), "--rules", rules_files["v1"]], ["diff", STATE, str(path)]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "inputs: the whole property map is a secret" in err


@pytest.mark.parametrize("data", [b"[" * 100000 + b"]" * 100000, b"[" * 5000 + b"]" * 5000,
                                  b'{"steps": [{"op": "\xff"}]}'])  # fmt: skip
def test_deep_or_non_utf8_documents_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rules_files: dict[str, str], data: bytes
) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(data)
    for argv in (["verify", str(path), "--rules", rules_files["v1"]], ["diff", STATE, str(path)]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1 and "d.json" in err


def test_a_fifo_document_is_refused_not_waited_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rules_files: dict[str, str]
) -> None:
    import os

    os.mkfifo(tmp_path / "p.json")
    code, _, err = run(capsys, "verify", str(tmp_path / "p.json"), "--rules", rules_files["v1"])
    assert code == 2 and "not a regular file" in err


def _preview(name: str) -> dict:
    return json.loads((FIX / name).read_text())


@pytest.mark.parametrize("edit", ["diagnostic", "maybeCorrupt"])
def test_a_failed_preview_is_incomplete(edit: str) -> None:
    doc = _preview("aws-new.preview.json")
    if edit == "diagnostic":
        doc["diagnostics"] = [{"message": "error: boom", "severity": "error"}]
    else:
        doc["maybeCorrupt"] = True
    with pytest.raises(KorefwError, match="incomplete"):
        verify(doc, RULES_V1)


def test_a_warning_diagnostic_is_not_a_failure() -> None:
    doc = _preview("aws-new.preview.json")
    doc["diagnostics"] = [{"message": "warning: x", "severity": "warning"}]
    assert verify(doc, RULES_V1).exit_code == 0


@pytest.mark.parametrize("event", [
    {"diagnosticEvent": {"message": "error: program failed", "severity": "error"}},
    {"cancelEvent": {}},
    {"resOpFailedEvent": {"metadata": {"op": "create", "urn": "u"}, "status": 1, "steps": 1}},
    {"summaryEvent": {"maybeCorrupt": True, "resourceChanges": {}}},
])  # fmt: skip
def test_a_failed_or_cancelled_stream_is_incomplete(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rules_files: dict[str, str], event: dict
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text((FIX / "aws-delete-rule.stream.jsonl").read_text() + json.dumps(event) + "\n")
    code, _, err = run(capsys, "verify", str(path), "--rules", rules_files["v1"])
    assert code == 2 and "incomplete" in err


def test_two_nsg_rules_with_one_name_are_rejected() -> None:
    doc = _preview("azure-new.preview.json")
    for step in doc["steps"]:
        rules = (step.get("newState") or {}).get("inputs", {}).get("securityRules")
        if rules:
            rules[1]["name"] = rules[0]["name"]
    result = verify(doc, RULES_V1)
    assert result.exit_code == 1 and "two NSG rules named 'kore-tcp-3478'" in result.render()


# --- the engine's real preview shape (issue 18 §1) -------------------------------------

#: Ops whose printed newState has neither id nor outputs: the state ``step_generator.go``
#: builds (``ID: ""``, ``Outputs: nil``), copied into the ResourcePreEvent before
#: ``SameStep``/``CreateStep``/``UpdateStep``/``ImportStep.Apply`` fill them.
_BEFORE_APPLY = {"same", "create", "update", "replace", "create-replacement", "import"}


def _all_steps() -> list[tuple[str, str, dict | None, dict | None]]:
    out = []
    for path in sorted(FIX.glob("*.preview.json")):
        for s in json.loads(path.read_text())["steps"]:
            out.append((path.name, s["op"], s.get("oldState"), s.get("newState")))
    for path in sorted(FIX.glob("*.stream.jsonl")):
        for line in path.read_text().splitlines():
            m = json.loads(line).get("resourcePreEvent", {}).get("metadata")
            if m:
                out.append((path.name, m["op"], m.get("old"), m.get("new")))
    return out


def test_fixtures_are_in_the_engines_preview_shape() -> None:
    """Each op's states as the engine prints them before the step runs.

    ``ShowPreviewDigest`` / ``getPreviewMetadataStep`` (pkg/backend/display/json.go) serialize
    ``m.Old.State`` / ``m.New.State`` of the ResourcePreEvent, deep-copied by ``NewEvent``
    (pkg/engine/events.go) before ``Apply``: step_generator.go's new state (``ID: ""``,
    ``Outputs: nil``, omitted by ``apitype.ResourceV3``'s omitempty); ``NewReadStep`` needs
    an id and gets ``Outputs: make(PropertyMap)``; ``NewImportStep`` has no id, an
    ``importID``; ``NewRefreshStep`` sets ``new = old``; a replace's old copy is marked
    ``Delete`` by its create-replacement (``CreateStep.Apply``). The stream
    (``apitype.StepEventStateMetadata``) prints ``"id": ""`` and ``"outputs": {}``.
    """
    ops = set()
    for name, op, old, new in _all_steps():
        ops.add(op)
        at = f"{name}: {op} {(new or old or {}).get('urn')}"
        if op in _BEFORE_APPLY:
            assert not new.get("id") and not new.get("outputs"), at
        if op == "import":
            assert new.get("importID"), at
        if op == "read":
            assert new["id"] and new["external"] and not new.get("outputs"), at
        if op == "refresh":
            assert new == old, at
        if op == "replace":
            assert old["delete"], at
        if op in ("same", "update", "delete", "replace", "refresh", "delete-replaced"):
            assert old.get("id") or not old.get("custom"), at
    assert ops >= {"create", "same", "update", "delete", "replace", "create-replacement",
                   "delete-replaced", "read", "import", "refresh", "discard"}  # fmt: skip


OK_V1 = "OK: aws: 1 security group, 3 egress rules allow exactly the vendor's 3 flows"


def _fail(rules: int) -> str:
    return f"FAIL: aws: 1 security group, {rules} egress rules checked against the vendor's 3 flows"


# (fixture, verify's whole output, diff's flow lines)
REAL_CHANGES = [
    ("aws-unchanged.show-sames.preview.json", [OK_V1], []),
    ("aws-widen-cidr.show-sames.preview.json",
     [_fail(3), "  extra   tcp 3478 → 13.115.244.32/27"],
     ["+ aws: tcp 3478 → 13.115.244.32/27 (Twilio STUN)"]),
    ("aws-delete-rule.show-sames.preview.json",
     [_fail(2), "  missing tcp 5060-5061 → 18.177.19.211/32"],
     ["- aws: tcp 5060-5061 → 18.177.19.211/32 (SBC)"]),
    ("aws-delete-rule.stream.jsonl",
     [_fail(2), "  missing tcp 5060-5061 → 18.177.19.211/32"],
     ["- aws: tcp 5060-5061 → 18.177.19.211/32 (SBC)"]),
    # an out-of-band rule on korefw's group by its literal id, no propertyDependencies
    ("aws-rule-on-group-by-id.show-sames.preview.json",
     [_fail(4), "  extra   tcp 22 → 198.51.100.0/24"],
     ["+ aws: tcp 22 → 198.51.100.0/24"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "verdict", "flows"), REAL_CHANGES,
                         ids=[c[0] for c in REAL_CHANGES])  # fmt: skip
def test_a_real_preview_of_an_existing_stack_names_the_real_change_and_nothing_else(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str],
    name: str, verdict: list[str], flows: list[str],
) -> None:  # fmt: skip
    """``same``/``update`` newStates without id: the rules reach their group through the
    old state's id, which ``SameStep.Apply`` / ``UpdateStep.Apply`` (step.go) copy over."""
    code, out, err = run(capsys, "verify", fx(name), "--rules", rules_files["v1"])
    assert (code, out.splitlines()) == (0 if len(verdict) == 1 else 1, verdict), err
    assert diff_update(load_document(fx(name))).lines() == flows
    code, out, _ = run(capsys, "diff", fx(name))
    assert code == 0
    assert [ln for ln in out.splitlines() if ln[:2] in ("+ ", "- ")] == flows


def _unchanged() -> dict:
    return _preview("aws-unchanged.show-sames.preview.json")


def _step_of(doc: dict, suffix: str) -> dict:
    return next(s for s in doc["steps"] if s["urn"].endswith(suffix))


@pytest.mark.parametrize("shape", ["id-present", "no-old-state", "dependencies-only"])
def test_rules_reach_their_group_by_every_engine_link(shape: str) -> None:
    """The id may be printed (a state that already ran); without any id, the rule's
    ``propertyDependencies`` name its group, or, from an SDK that records none,
    ``dependencies`` (``ResourceV3``, sdk/go/common/apitype/core.go)."""
    doc = _unchanged()
    sg = _step_of(doc, "::kore-sg")
    if shape == "id-present":
        for s in doc["steps"]:
            if s["oldState"].get("id"):
                s["newState"]["id"] = s["oldState"]["id"]
    else:
        sg.pop("oldState")
    if shape == "dependencies-only":
        for s in doc["steps"]:
            s["newState"].pop("propertyDependencies", None)
    result = verify(doc, RULES_V1)
    assert (result.exit_code, result.render()) == (0, OK_V1)


def test_a_first_read_prefix_list_is_undecided_a_reread_uses_its_last_outputs() -> None:
    """``NewReadStep`` (step.go): the new state has the id, no outputs; the old one, when the
    resource was read before, the outputs as the stack export holds them."""
    doc = _preview("aws-read-import-refresh-discard.show-sames.preview.json")
    assert verify(doc, RULES_V1).exit_code == 0
    read = next(s for s in doc["steps"] if s["op"] == "read")
    del read["oldState"]
    result = verify(doc, RULES_V1)
    assert result.exit_code == 2
    assert "twilio-stun is read during the update" in result.render()


def test_diff_of_a_replacement_alone_keeps_the_replaced_copies_before() -> None:
    """A replace step's oldState is ``delete: true`` (its create-replacement ran first),
    yet it is what the stack had before the update."""
    doc = _preview("aws-replace-sg.preview.json")
    root = doc["steps"][0]
    doc["steps"].insert(1, {**root, "urn": root["urn"].replace(
        "pulumi:pulumi:Stack::korefw-prod", "korefw:aws:EgressSecurityGroup::kore")})
    for side in ("oldState", "newState"):
        doc["steps"][1][side] = {"urn": doc["steps"][1]["urn"], "custom": False,
                                 "type": "korefw:aws:EgressSecurityGroup"}
    d = diff_update(doc)
    assert d.lines() == [] and d.resources == {"replace": 4, "same": 2}


# --- ambiguity is exit 2, never a guess ------------------------------------------------


def test_two_states_for_one_urn_in_a_preview_are_ambiguous(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str], tmp_path: Path
) -> None:
    doc = _unchanged()
    twin = json.loads(json.dumps(_step_of(doc, "kore-tcp-3478-to-13.115.244.0-27")))
    twin["newState"]["inputs"]["cidrIpv4"] = "0.0.0.0/0"
    doc["steps"].append(twin)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    for argv in (["verify", str(path), "--rules", rules_files["v1"]], ["diff", str(path)]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, ""), err
        assert "ambiguous: two states for" in err and "kore-tcp-3478" in err


def test_two_states_for_one_urn_in_a_stream_are_ambiguous(tmp_path: Path) -> None:
    lines = (FIX / "aws-delete-rule.stream.jsonl").read_text().splitlines()
    pre = next(ln for ln in lines if '"resourcePreEvent"' in ln and "kore-tcp-3478" in ln)
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join([*lines[:-1], pre, lines[-1]]) + "\n")
    with pytest.raises(KorefwError, match="ambiguous: two states for"):
        verify(load_document(str(path)), RULES_V1)


def test_a_duplicate_urn_in_a_stack_export_is_ambiguous(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str], tmp_path: Path
) -> None:
    doc = _state()
    twin = json.loads(json.dumps(_egress(doc)[0]))
    twin["inputs"]["cidrIpv4"] = "0.0.0.0/0"
    doc["deployment"]["resources"].append(twin)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    for argv in (["verify", str(path), "--rules", rules_files["v1"]], ["diff", STATE, str(path)]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, ""), err
        assert "ambiguous: two resources with URN" in err and err.count("\n") == 1
    twin["delete"] = True  # the old copy of a replacement, pending delete: still deployed
    assert verify(doc, RULES_V1).exit_code == 1


SG_TYPE = "aws:ec2/securityGroup:SecurityGroup"


def _prefix_list(name: str, rid: str, cidr: str) -> dict:
    return {"urn": f"urn:pulumi:prod::korefw::aws:ec2/managedPrefixList:ManagedPrefixList::{name}",
            "custom": True, "type": "aws:ec2/managedPrefixList:ManagedPrefixList", "id": rid,
            "inputs": {"addressFamily": "IPv4", "maxEntries": 1, "entries": [{"cidr": cidr}]}}


@pytest.mark.parametrize("link", ["literal", "propertyDependencies", "inline"])
def test_two_prefix_lists_with_one_id_are_ambiguous(link: str) -> None:
    doc = _state()
    a = _prefix_list("a", "pl-0123456789abcdef0", "13.115.244.0/27")
    b = _prefix_list("b", "pl-0123456789abcdef0", "0.0.0.0/0")
    doc["deployment"]["resources"] += [a, b]
    rule = next(r for r in _egress(doc) if r["inputs"]["fromPort"] == 3478)
    if link == "inline":
        sg = next(r for r in doc["deployment"]["resources"] if r["type"] == SG_TYPE)
        sg["inputs"]["egress"] = [{"protocol": "tcp", "fromPort": 3478, "toPort": 3478,
                                   "prefixListIds": [a["id"]]}]
    else:
        del rule["inputs"]["cidrIpv4"]
        rule["inputs"]["prefixListId"] = a["id"]
    if link == "propertyDependencies":
        rule["propertyDependencies"]["prefixListId"] = [a["urn"]]
    result = verify(doc, RULES_V1)
    assert result.exit_code == 2
    assert "more than one" in result.render() and a["id"] in result.render()


def test_two_security_groups_with_one_id_are_ambiguous() -> None:
    doc = _state()
    sg = next(r for r in doc["deployment"]["resources"] if r["type"] == SG_TYPE)
    twin = json.loads(json.dumps(sg))
    twin["urn"] += "-twin"
    twin["inputs"]["egress"] = [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                 "cidrBlocks": ["0.0.0.0/0"]}]
    doc["deployment"]["resources"].append(twin)
    result = verify(doc, RULES_V1)
    assert result.exit_code == 2 and "fits more than one resource" in result.render()


def test_a_same_step_keeps_the_old_id_and_outputs_a_component_its_outputs() -> None:
    """``SameStep.Apply`` (step.go) copies ``s.old.ID`` and ``s.old.Outputs``; a component has
    no id, and its outputs (korefw's plan) are still what the update leaves."""
    doc = _unchanged()
    comp = _step_of(doc, "korefw:aws:EgressSecurityGroup::kore")
    comp["oldState"]["outputs"] = {"plan": {"options": {"rule_limit": 60}}}
    after = {s["urn"]: s for s in state_after(parse_document(doc))}
    assert after[comp["urn"]]["outputs"] == comp["oldState"]["outputs"]
    sg = _step_of(doc, "::kore-sg")
    assert "id" not in sg["newState"]
    assert after[sg["urn"]]["id"] == sg["oldState"]["id"] == "sg-0aa11bb22cc33dd44"
    assert after[sg["urn"]]["outputs"] == sg["oldState"]["outputs"]


def test_a_refresh_outcome_before_the_programs_step_is_not_ambiguous() -> None:
    """``ShowPreviewDigest`` (pkg/backend/display/json.go) swaps a refresh step that found
    drift for its ResourceOutputsEvent: op ``update``, newState as read back (with its id);
    the program's step for the URN follows and is what the update leaves."""
    doc = _unchanged()
    rule = _step_of(doc, "kore-tcp-3478-to-13.115.244.0-27")
    drift = json.loads(json.dumps(rule))
    drift["op"] = "update"
    drift["newState"] = {**drift["oldState"], "inputs": {**drift["oldState"]["inputs"],
                                                         "cidrIpv4": "13.115.244.0/24"}}
    doc["steps"].insert(doc["steps"].index(rule), drift)
    assert verify(doc, RULES_V1).exit_code == 0  # the program's same step decides
    del drift["newState"]["id"]  # a second program step for one URN: which one?
    with pytest.raises(KorefwError, match="ambiguous: two states for"):
        verify(doc, RULES_V1)


# ------------------------------------------- every way to allow more, verify and the pack
#
# Each case edits one resource of a real-shaped preview the way a hostile user could, then
# asks both readers: ``korefw verify`` on the document (exit code and a line of its output)
# and the policy pack's reader (policycheck) on that resource's properties, which must give
# a finding. Field names are pulumi-aws's and pulumi-azure-native's, camelCase as the engine
# prints them (aws.vpc.SecurityGroupEgressRule, aws.ec2.SecurityGroupRule, the inline
# aws.ec2.SecurityGroup egress block, azure-native network SecurityRule).

SG_ID = "sg-0123456789abcdef0"
EGRESS_STEP, SG_STEP, NSG_STEP = 5, 2, 2  # the SBC egress rule, the group, the NSG


def _sbc(**fields: object):  # type: ignore[no-untyped-def]
    """Edit the SBC egress rule (tcp 5060-5061 to 18.177.19.211/32); None deletes a field."""

    def edit(doc: dict) -> dict:
        state = doc["steps"][EGRESS_STEP]["newState"]
        state["inputs"].update(fields)
        state["inputs"] = {k: v for k, v in state["inputs"].items() if v is not None}
        return state

    return edit


def _sg_rule(**fields: object):  # type: ignore[no-untyped-def]
    """The SBC rule as an aws.ec2.SecurityGroupRule of type egress, plus ``fields``."""

    def edit(doc: dict) -> dict:
        step = doc["steps"][EGRESS_STEP]
        state = step["newState"]
        old, new = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", (
            "aws:ec2/securityGroupRule:SecurityGroupRule")  # fmt: skip
        state["type"] = new
        step["urn"] = state["urn"] = state["urn"].replace(old, new)
        state["inputs"] = {"type": "egress", "protocol": "tcp", "fromPort": 5060, "toPort": 5061,
                           "cidrBlocks": ["18.177.19.211/32"],
                           "securityGroupId": state["inputs"]["securityGroupId"], **fields}
        return state

    return edit


def _inline(**fields: object):  # type: ignore[no-untyped-def]
    """The security group with the SBC rule also inline, plus ``fields`` in that block."""

    def edit(doc: dict) -> dict:
        state = doc["steps"][SG_STEP]["newState"]
        state["inputs"]["egress"] = [{"protocol": "tcp", "fromPort": 5060, "toPort": 5061,
                                      "cidrBlocks": ["18.177.19.211/32"], **fields}]
        return state

    return edit


def _nsg(index: int, **fields: object):  # type: ignore[no-untyped-def]
    """Edit NSG rule ``index`` (2: the SBC Allow, 3: the closing Deny); None deletes a field."""

    def edit(doc: dict) -> dict:
        state = doc["steps"][NSG_STEP]["newState"]
        rule = state["inputs"]["securityRules"][index]
        rule.update(fields)
        for key in [k for k, v in rule.items() if v is None]:
            del rule[key]
        return state

    return edit


def _nsg_add(*rules: dict):  # type: ignore[no-untyped-def]
    def edit(doc: dict) -> dict:
        state = doc["steps"][NSG_STEP]["newState"]
        state["inputs"]["securityRules"] += [
            {"direction": "Outbound", "sourceAddressPrefix": "*", "sourcePortRange": "*", **r}
            for r in rules
        ]
        return state

    return edit


DENY_GAP = "NSG rule 'kore-deny-other-outbound' does not deny all other outbound traffic: "
AWS, AZURE = "aws-new.preview.json", "azure-new.preview.json"
# A rule to every address is written as the covering block less Kore's address, not 60 CIDRs.
EVERYWHERE_BUT_SBC = "extra   tcp 5060-5061 → 0.0.0.0/0 except 18.177.19.211/32"
# (id, fixture, edit, exit code, verify says, the pack's finding says)
HOSTILE = [
    # AWS egress to a security group, or to its own group: whatever that group holds.
    ("vpc-rule-referenced-group", AWS, _sbc(cidrIpv4=None, referencedSecurityGroupId=SG_ID), 1,
     f"egress to security group {SG_ID} allows whatever addresses its members hold",
     f"egress to security group {SG_ID} allows whatever addresses its members hold"),
    ("vpc-rule-group-not-known-yet", AWS,
     _sbc(referencedSecurityGroupId="04da6b54-80e4-46f7-96ec-b56ff0331ba9"), 1,
     EVERYWHERE_BUT_SBC, "egress to security group"),
    ("inline-security-groups", AWS, _inline(securityGroups=[SG_ID]), 1,
     EVERYWHERE_BUT_SBC, f"egress to security group {SG_ID}"),
    ("inline-self", AWS, _inline(self=True), 1,
     "SecurityGroup::kore-sg allows whatever addresses its members hold",
     "SecurityGroup::kore-sg allows whatever addresses its members hold"),
    ("sg-rule-self", AWS, _sg_rule(self=True), 1, EVERYWHERE_BUT_SBC,
     "egress to security group"),
    ("sg-rule-source-group", AWS, _sg_rule(cidrBlocks=None, sourceSecurityGroupId=SG_ID), 1,
     f"egress to security group {SG_ID}", f"egress to security group {SG_ID}"),
    # ICMP: fromPort is the type, toPort the code (-1: all); an extra rule, not a bad range.
    ("icmp-echo", AWS, _sbc(ipProtocol="icmp", fromPort=8, toPort=0), 1,
     "wider than TCP or UDP: protocol 'icmp'", "protocol 'icmp' (not TCP/UDP)"),
    ("icmp-all", AWS, _sbc(ipProtocol="icmp", fromPort=-1, toPort=-1), 1,
     "wider than TCP or UDP: protocol 'icmp'", "protocol 'icmp' (not TCP/UDP)"),
    ("icmpv6-by-number", AWS, _sbc(ipProtocol="58", fromPort=128, toPort=0), 1,
     "wider than TCP or UDP: protocol '58'", "protocol '58' (not TCP/UDP)"),
    # Refused in one line, never skipped, never a traceback.
    ("netmask-cidr", AWS, _sbc(cidrIpv4="18.177.19.211/255.255.255.255"), 2,
     "cidrIpv4: expected an IPv4 CIDR (got '18.177.19.211/255.255.255.255')",
     "cannot be checked: cidrIpv4: expected an IPv4 CIDR"),
    ("hostmask-cidr", AWS, _sbc(cidrIpv4="18.177.19.211/0.0.0.0"), 2,
     "cidrIpv4: expected an IPv4 CIDR", "cannot be checked: cidrIpv4"),
    ("superscript-port", AWS, _sbc(toPort="506²"), 2,
     "toPort: expected a port number 0-65535 (or -1) (got '506²')",
     "cannot be checked: toPort: expected a port number"),
    ("two-ports-in-one", AWS, _sbc(fromPort="5060,8443"), 2, "fromPort: expected a port number",
     "cannot be checked: fromPort: expected a port number 0-65535 (or -1) (got '5060,8443')"),
    ("nan-port", AWS, _sbc(fromPort="nan"), 2, "fromPort: expected a port number",
     "cannot be checked: fromPort"),
    ("inf-port", AWS, _sbc(toPort=float("inf")), 2, "toPort: expected a port number",
     "cannot be checked: toPort"),
    ("half-port", AWS, _sbc(toPort=5061.5), 2, "toPort: expected a port number",
     "cannot be checked: toPort"),
    ("bool-port", AWS, _sbc(fromPort=True), 2, "fromPort: expected a port number",
     "cannot be checked: fromPort"),
    ("nested-list-port", AWS, _sbc(fromPort=[[5060]]), 2, "fromPort: expected a port number",
     "cannot be checked: fromPort"),
    ("inverted-range", AWS, _sbc(fromPort=5062), 2, "fromPort: fromPort above toPort 5061",
     "cannot be checked: fromPort: fromPort above toPort"),
    ("empty-azure-port", AZURE, _nsg(2, destinationPortRanges=None, destinationPortRange=""), 2,
     "securityRules[2].destinationPortRange(s): expected a port, a port range or * (got '')",
     "cannot be checked: securityRules[2].destinationPortRange(s)"),
    ("no-azure-port", AZURE, _nsg(2, destinationPortRanges=[]), 2,
     "securityRules[2].destinationPortRange(s): missing destination port",
     "cannot be checked: securityRules[2].destinationPortRange(s): missing"),
    ("superscript-azure-port", AZURE, _nsg(2, destinationPortRanges=["5060-506¹"]), 2,
     "expected a port, a port range or * (got '5060-506¹')",
     "cannot be checked: securityRules[2].destinationPortRange(s)"),
    ("superscript-priority", AZURE, _nsg(2, priority="12⁰⁰"), 2,
     "securityRules[2].priority: expected an NSG priority number (got '12⁰⁰')",
     "cannot be checked: securityRules[2].priority"),
    ("allow-trailing-space", AZURE, _nsg(2, access="Allow "), 2,
     "securityRules[2].access: expected Allow or Deny (got 'Allow ')",
     "cannot be checked: securityRules[2].access: expected Allow or Deny (got 'Allow ')"),
    ("azure-netmask", AZURE,
     _nsg(2, destinationAddressPrefixes=["18.177.19.211/255.255.255.255"]), 2,
     "expected a CIDR (prefix length, not a netmask) (got '18.177.19.211/255.255.255.255')",
     "cannot be checked: securityRules[2].destinationAddressPrefix(es)"),
    # A closing Deny that does not cover everything: the NSG is open, and verify says why.
    ("deny-one-source", AZURE, _nsg(3, sourceAddressPrefix="10.1.2.3/32"), 1,
     DENY_GAP + "limited by sourceAddressPrefix/sourceAddressPrefixes 10.1.2.3/32",
     DENY_GAP + "limited by sourceAddressPrefix/sourceAddressPrefixes 10.1.2.3/32"),
    ("deny-source-prefixes", AZURE,
     _nsg(3, sourceAddressPrefix=None, sourceAddressPrefixes=["10.0.0.0/8", "172.16.0.0/12"]), 1,
     "limited by sourceAddressPrefix/sourceAddressPrefixes 10.0.0.0/8, 172.16.0.0/12",
     "limited by sourceAddressPrefix/sourceAddressPrefixes 10.0.0.0/8"),
    ("deny-source-port", AZURE, _nsg(3, sourcePortRange="1024-65535"), 1,
     DENY_GAP + "limited by sourcePortRange/sourcePortRanges 1024-65535",
     "limited by sourcePortRange/sourcePortRanges 1024-65535"),
    ("deny-source-asg", AZURE, _nsg(3, sourceApplicationSecurityGroups=[{"id": "/asg/web"}]), 1,
     "limited by sourceApplicationSecurityGroups", "limited by sourceApplicationSecurityGroups"),
    ("deny-ipv4-only", AZURE, _nsg(3, destinationAddressPrefix="0.0.0.0/0"), 1,
     DENY_GAP + "no IPv6 destination", DENY_GAP + "no IPv6 destination"),
    ("deny-ipv6-only", AZURE, _nsg(3, destinationAddressPrefix="::/0"), 1,
     DENY_GAP + "no IPv4 destination", DENY_GAP + "no IPv4 destination"),
    ("deny-one-port", AZURE, _nsg(3, destinationPortRange="443"), 1,
     DENY_GAP + "leaves tcp 0-442", DENY_GAP + "leaves tcp 0-442"),
    ("deny-one-protocol", AZURE, _nsg(3, protocol="Tcp"), 1,
     DENY_GAP + "protocol 'Tcp' only", DENY_GAP + "protocol 'Tcp' only"),
    # A Deny limited by source denies nothing for certain, so it hides no wider Allow.
    ("source-limited-deny-before-wide-allow", AZURE, _nsg_add(
        {"name": "hide", "priority": 1000, "access": "Deny", "protocol": "*",
         "sourceAddressPrefix": "10.9.9.9/32", "destinationAddressPrefix": "128.0.0.0/1",
         "destinationPortRange": "*"},
        {"name": "wide", "priority": 1500, "access": "Allow", "protocol": "Tcp",
         "destinationAddressPrefix": "128.0.0.0/1", "destinationPortRange": "443"}), 1,
     "extra   tcp 443 → 128.0.0.0/1", "NSG rule 'wide': wider than Kore's published jp rules"),
]  # fmt: skip


@pytest.mark.parametrize(("fixture", "edit", "code", "says", "finding"),
                         [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])  # fmt: skip
def test_every_way_to_allow_more_is_caught_by_verify_and_the_pack(
    capsys: pytest.CaptureFixture[str], rules_files: dict[str, str], tmp_path: Path,
    fixture: str, edit, code: int, says: str, finding: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    doc = _preview(fixture)
    state = edit(doc)
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    got, out, err = run(capsys, "verify", str(path), "--rules", rules_files["v1"])
    assert (got, says in out + err) == (code, True), out + err
    assert "Traceback" not in err
    if code == 2:  # undecidable: one line, naming the resource and the field
        assert out == "" and err.count("\n") == 1 and state["urn"] in err, err
    # The policy pack's reader, on the same properties (as the engine hands them over).
    allowed = RULES_V1.allow_set()
    found = policycheck.resource_findings(
        state["type"], state["urn"], state["inputs"], allowed, "jp", "korefw-managed"
    )
    found += policycheck.closing_deny_findings(
        [policycheck.StackResource(state["type"], state["urn"], state["inputs"])]
    )
    assert any(finding in f.message for f in found), found


@pytest.mark.parametrize("fmt", ["term", "markdown"])
def test_control_characters_in_a_document_or_title_cannot_forge_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    """Names, labels and the title reach a terminal or a PR comment: their control
    characters are shown escaped, so a crafted preview cannot add lines or drive a terminal."""
    evil = "\\u001b[2J\\n### forged"
    for name, old in (("aws-replace-sg.preview.json", "kore-sg"), ("aws-state.json", "kore-sg"),
                      ("aws-new.preview.json", "SBC")):  # fmt: skip
        text = (FIX / name).read_text()
        assert f'{old}"' in text, (name, old)
        (tmp_path / name).write_text(text.replace(f'{old}"', f'{old}{evil}"'))
    for docs in ([tmp_path / "aws-state.json", tmp_path / "aws-replace-sg.preview.json"],
                 [tmp_path / "aws-new.preview.json"]):  # fmt: skip
        code, out, err = run(capsys, "diff", *map(str, docs), "--format", fmt,
                             "--title", "t\x1b]0;x\x07\n### forged title")  # fmt: skip
        assert code == 0, err
        assert "\\x1b[2J\\n### forged" in out, out
        for line in out.splitlines():
            assert line.isprintable() and "### forged" not in line[:10], repr(line)
