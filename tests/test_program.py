"""The Pulumi program end to end under the mock runtime: golden plans, verify, diff, errors.

Golden plans live in tests/golden/<stack>.json. After an intended change, regenerate with
    KOREFW_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_program.py
and review the diff like any other change.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from korefw.cli import main
from korefw.core.check.plandiff import diff_plans
from korefw.core.check.verify import verify
from korefw.core.read.regions import PAGES_DIR, load_rules
from korefw.runtime.preview import plan_stack, render_text, stacks

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = {"example-jp-aws": "jp", "example-jp-azure": "jp", "example-de-both": "de"}
# Stacks whose NSG has no Deny for other outbound traffic: they verify only when Internet
# egress is filtered elsewhere (Azure Firewall), which the user states with a flag.
FILTERED_ELSEWHERE = {"example-de-both"}


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return {s: json.loads(plan_stack(s).dumps()) for s in EXAMPLES}


def test_every_example_stack_is_tested() -> None:
    assert set(stacks()) == set(EXAMPLES)


@pytest.mark.parametrize("stack", sorted(EXAMPLES))
def test_plan_matches_golden_file(stack: str) -> None:
    text = plan_stack(stack).dumps()
    path = GOLDEN / f"{stack}.json"
    if os.environ.get("KOREFW_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden plan; run KOREFW_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == path.read_text(), (
        f"{stack}: plan differs from {path.relative_to(ROOT)}; if intended, regenerate with "
        "KOREFW_UPDATE_GOLDEN=1 and review the diff"
    )


def test_plan_json_is_byte_identical_across_runs_and_hash_seeds() -> None:
    golden = (GOLDEN / "example-jp-aws.json").read_text()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cmd = [sys.executable, "-m", "korefw.cli", "plan", "--stack", "example-jp-aws", "--json"]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        diff = difflib.unified_diff(
            golden.splitlines(keepends=True), out.splitlines(keepends=True),
            "tests/golden/example-jp-aws.json", f"plan with PYTHONHASHSEED={seed}",
        )  # fmt: skip
        assert out == golden, "".join(diff)


def _real_token(token: str) -> bool:
    """True when the installed provider SDK defines a resource class registering ``token``."""
    pkg, module, name = token.split(":")
    if pkg == "aws":
        mod = importlib.import_module(f"pulumi_aws.{module.split('/')[0]}")
    elif pkg == "azure-native":
        mod = importlib.import_module(f"pulumi_azure_native.{module}")
    else:
        return False
    cls = getattr(mod, name, None)
    return cls is not None and f"'{token}'" in inspect.getsource(cls)


@pytest.mark.parametrize("stack", sorted(EXAMPLES))
def test_plans_use_only_real_types(plans: dict[str, dict], stack: str) -> None:
    for step in plans[stack]["steps"]:
        state = step["newState"]
        t = state["type"]
        if t == "pulumi:pulumi:Stack" or t.startswith("korefw:"):
            assert not state["custom"], t
            continue
        assert state["custom"] and state["id"], t
        assert _real_token(t), f"{t} is not a resource type of the installed providers"


@pytest.mark.parametrize("stack", sorted(EXAMPLES))
def test_plans_allow_exactly_the_vendor_ip_rules(plans: dict[str, dict], stack: str) -> None:
    filtered = stack in FILTERED_ELSEWHERE
    result = verify(plans[stack], load_rules(EXAMPLES[stack]), egress_filtered_elsewhere=filtered)
    assert result.ok, result.render()
    if filtered:  # without the flag, Azure's default AllowInternetOutBound is reported
        assert verify(plans[stack], load_rules(EXAMPLES[stack])).exit_code == 1
    clouds = {c.cloud for c in result.clouds}
    assert clouds == {"aws"} if stack.endswith("aws") else True
    inputs = json.dumps(plans[stack])
    assert '"0.0.0.0/0"' not in inputs and '"ipProtocol": "-1"' not in inputs


@pytest.mark.parametrize("stack", sorted(EXAMPLES))
def test_every_fqdn_rule_is_enforced_or_reported(plans: dict[str, dict], stack: str) -> None:
    rules = load_rules(EXAMPLES[stack])
    outputs = plans[stack]["steps"][0]["newState"]["outputs"]
    unenforced = json.dumps(
        [outputs.get("awsUnenforcedFqdnRules", []), outputs.get("azureUnenforcedFqdnRules", [])]
    )
    enforcing = json.dumps(
        [
            s["newState"]["inputs"]
            for s in plans[stack]["steps"]
            if any(k in s["newState"]["type"] for k in ("resolverFirewall", "networkfirewall",
                                                        "FirewallPolicyRuleCollectionGroup"))
        ]
    )  # fmt: skip
    for rule in rules.fqdn_rules():
        for fqdn in rule.fqdns:
            bare = fqdn.removeprefix("*")
            assert fqdn in unenforced or bare in enforcing or fqdn in enforcing, (stack, fqdn)


def test_japan_aws_plan_numbers(plans: dict[str, dict]) -> None:
    outputs = plans["example-jp-aws"]["steps"][0]["newState"]["outputs"]
    assert outputs["awsRuleCount"] == 29
    assert outputs["awsQuotaUsed"] == [{"group": 1, "ipv4": 29, "ipv6": 0}]
    assert outputs["ruleCount"] == 29


def test_japan_azure_plan_has_at_most_seven_nsg_rules(plans: dict[str, dict]) -> None:
    (nsg,) = [s for s in plans["example-jp-azure"]["steps"]
              if s["newState"]["type"] == "azure-native:network:NetworkSecurityGroup"]  # fmt: skip
    rules = nsg["newState"]["inputs"]["securityRules"]
    assert len(rules) <= 7
    assert all(r["protocol"] in ("Tcp", "Udp") for r in rules if r["access"] == "Allow")


def _project_with_extra_row(tmp_path: Path) -> Path:
    """A copy of the project whose jp-aws stack reads a Japan page with one more vendor row."""
    page = (PAGES_DIR / "japan-firewall-rules.md").read_text()
    extra = "| ↳               | UDP               | ANY       | ANY           | 13.115.244.64 - 13.115.244.95       | 3478                   |"  # noqa: E501
    page = page.rstrip("\n") + "\n" + extra + "\n"
    (tmp_path / "japan-firewall-rules.md").write_text(page)
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    stack = (ROOT / "stacks" / "Pulumi.example-jp-aws.yaml").read_text()
    stack += f"  korefw:rulesFile: {tmp_path / 'japan-firewall-rules.md'}\n"
    (tmp_path / "stacks" / "Pulumi.example-jp-aws.yaml").write_text(stack)
    return tmp_path


def test_diff_of_one_extra_vendor_row_reports_exactly_that_rule(
    plans: dict[str, dict], tmp_path: Path
) -> None:
    project = _project_with_extra_row(tmp_path)
    new = json.loads(plan_stack("example-jp-aws", project_dir=project).dumps())
    d = diff_plans(plans["example-jp-aws"], new)
    assert d.lines() == ["+ aws: udp 3478 → 13.115.244.64/27 (Twilio STUN)"]
    assert d.resources["create"] == 1
    assert d.resources["delete"] == d.resources["replace"] == 0
    assert d.resources["update"] == 0


def test_diff_cli_on_plan_files_and_rule_sources(
    plans: dict[str, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project_with_extra_row(tmp_path)
    new = plan_stack("example-jp-aws", project_dir=project).dumps()
    (tmp_path / "old.json").write_text(json.dumps(plans["example-jp-aws"]))
    (tmp_path / "new.json").write_text(new)
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out
    assert "+ aws: udp 3478 → 13.115.244.64/27 (Twilio STUN)" in out
    assert "1 to create, 0 to delete, 0 to replace" in out
    assert main(["diff", "jp", str(project / "japan-firewall-rules.md")]) == 0
    out = capsys.readouterr().out
    assert "+ rules: udp 3478 → 13.115.244.64/27 (Twilio STUN)" in out
    assert "1 added, 0 removed" in out


def _write(tmp_path: Path, doc: dict) -> str:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _edit_first(doc: dict, type_: str, edit) -> dict:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(doc)
    for step in doc["steps"]:
        if step["newState"]["type"] == type_ and edit(step["newState"]["inputs"]):
            return doc
    raise AssertionError(f"nothing edited in {type_}")


EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def test_verify_cli_passes_every_example_plan(
    plans: dict[str, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for stack, region in EXAMPLES.items():
        flag = ["--egress-filtered-elsewhere"] if stack in FILTERED_ELSEWHERE else []
        argv = ["verify", _write(tmp_path, plans[stack]), "--rules", region, *flag]
        assert main(argv) == 0, stack
        assert "FAIL" not in capsys.readouterr().out


def test_verify_cli_names_hand_edits(
    plans: dict[str, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def widen(i: dict) -> bool:
        if i.get("cidrIpv4") == "13.115.244.0/27":
            i["cidrIpv4"] = "13.115.244.0/26"
            return True
        return False

    def drop_port(i: dict) -> bool:
        if i.get("fromPort") == 5060 and i.get("toPort") == 5061:
            i["toPort"] = 5060
            return True
        return False

    def all_protocols(i: dict) -> bool:
        i["ipProtocol"] = "-1"
        return True

    base = plans["example-jp-aws"]
    cases = [
        (widen, "extra   tcp 3478 → 13.115.244.32/27"),
        (drop_port, "missing tcp 5061 →"),
        (all_protocols, "wider than TCP or UDP: protocol '-1'"),
    ]
    for edit, expected in cases:
        doc = _edit_first(base, EGRESS, edit)
        assert main(["verify", _write(tmp_path, doc), "--rules", "jp"]) == 1
        assert expected in capsys.readouterr().out


def test_verify_cli_catches_a_widened_azure_prefix(
    plans: dict[str, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = copy.deepcopy(plans["example-jp-azure"])
    for step in doc["steps"]:
        for rule in step["newState"]["inputs"].get("securityRules", []):
            prefixes = rule.get("destinationAddressPrefixes") or []
            if "13.115.244.0/27" in prefixes:
                prefixes[prefixes.index("13.115.244.0/27")] = "13.115.244.0/26"
    assert main(["verify", _write(tmp_path, doc), "--rules", "jp"]) == 1
    assert "extra   tcp 3478 → 13.115.244.32/27" in capsys.readouterr().out


def test_plan_text_output_is_a_tree_with_a_summary() -> None:
    text = render_text(plan_stack("example-jp-aws"))
    assert "aws:vpc:SecurityGroupEgressRule" in text  # the type as `pulumi preview` shows it
    assert "udp 3478 → 13.115.244.0/27" in text
    assert "Resources: + 37 to create (1 stack, " in text
    assert "korefw-aws (korefw:aws:EgressSecurityGroup): 29 egress rules, group 1 quota" in text


def test_plan_fits_120_columns_and_its_counts_add_up() -> None:
    import re

    plan = plan_stack("example-de-both")
    text = render_text(plan, width=120)
    assert max(len(line) for line in text.splitlines()) <= 120
    lines = text.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("Type"))
    name_at, plan_at = header.index("Name"), header.index("Plan")
    names: list[str] = []
    start = lines.index(header) + 1
    for line in lines[start : lines.index("", start)]:
        cell = line[name_at:plan_at].strip()
        if line.startswith("+"):
            names.append(cell)
        else:  # a long name folded onto the next line
            names[-1] += cell
    assert names == [r.name for r in plan.resources]
    m = re.search(r"Resources: \+ (\d+) to create \((\d+) stack, (\d+) components, "
                  r"(\d+) cloud resources\)", text)  # fmt: skip
    assert m and int(m[1]) == len(plan.resources) == sum(map(int, m.groups()[1:]))
    m = re.search(r"unenforced FQDN rules: (\d+) \(aws (\d+), azure (\d+)\)", text)
    outputs = plan.stack_outputs
    assert m and (int(m[2]), int(m[3])) == (
        len(outputs["awsUnenforcedFqdnRules"]), len(outputs["azureUnenforcedFqdnRules"])
    )
    assert int(m[1]) == int(m[2]) + int(m[3]) > 0
    assert text.count("warning: ") == len(plan.warnings)


def _stack_project(tmp_path: Path, body: str) -> Path:
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "stacks" / "Pulumi.bad.yaml").write_text(body)
    return tmp_path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "config:\n  korefw:regoin: jp\n  korefw:awsVpcId: vpc-0a1b2c3d4e5f67890\n",
            "stacks/Pulumi.bad.yaml: korefw:regoin: unknown setting; did you mean korefw:region?",
        ),
        (
            "config:\n  korefw:awsVpcId: vpc-12\n",
            "stacks/Pulumi.bad.yaml: korefw:awsVpcId: expected a VPC id like "
            "vpc-0123456789abcdef0 (got 'vpc-12')",
        ),
        (
            "config:\n  korefw:awsVpcId: vpc-0a1b2c3d4e5f67890\n  korefw:sections: [Nope]\n",
            "stacks/Pulumi.bad.yaml: korefw:sections: no rule has a section matching it",
        ),
    ],
)
def test_bad_stack_settings_fail_with_one_line_before_any_resource(
    tmp_path: Path, body: str, expected: str
) -> None:
    project = _stack_project(tmp_path, body)
    cmd = [sys.executable, "-m", "korefw.cli", "plan", "--stack", "bad", "--cwd", str(project)]
    cp = subprocess.run(cmd, capture_output=True, text=True)
    assert cp.returncode == 2, cp.stderr
    lines = cp.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], cp.stderr
    assert cp.stdout == ""
