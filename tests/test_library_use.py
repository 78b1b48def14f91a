"""The README's library example: korefw components inside another Pulumi program."""

from __future__ import annotations

import ipaddress
import json
import runpy
import shutil
from pathlib import Path

import pytest

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


def test_plan_cwd_previews_a_users_own_project_with_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`korefw plan --cwd examples/library_use`: Pulumi.yaml and Pulumi.prod.yaml beside it
    (the standard layout), no korefw settings, its only stack chosen, warnings shown."""
    from korefw.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--cwd", str(EXAMPLE.parent)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Previewing stack prod of project app")
    assert "kore-egress (korefw:aws:EgressSecurityGroup): " in out
    assert "unenforced FQDN rules: 4 (aws 2, azure 2)" in out
    assert "warning: 2 FQDN egress rule(s) are not enforced" in out
    assert "warning: kore-egress-azure: 2 FQDN egress rule(s) are not enforced" in out
    assert "StackReference 'acme/korefw/example-de-both': its outputs are unknown" in out
    assert max(len(line) for line in out.splitlines()) <= 120


def test_verify_and_diff_read_the_plan_of_a_users_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from korefw.cli import main

    assert main(["plan", "--cwd", str(EXAMPLE.parent), "--stack", "prod", "--json"]) == 0
    plan = tmp_path / "plan.json"
    plan.write_text(capsys.readouterr().out)
    sections = ["--section", "AudioCodes", "--section", "Voice Gateway*",
                "--section", "Twilio STUN"]  # fmt: skip
    code = main(["verify", str(plan), "--rules", "jp", *sections, "--egress-filtered-elsewhere"])
    out = capsys.readouterr().out
    # korefw's own rules are exact; the media rules use the shared stack's prefix lists,
    # unknown here, so the whole cannot be decided (never a verdict on half of it).
    assert code == 2 and "OK: aws" in out and "OK: azure" in out, out
    assert "media-turn-tcp-3478: unresolved prefix list reference '<computed>'" in out
    assert main(["diff", str(plan), str(plan)]) == 0
    assert "No change to egress rules or resources." in capsys.readouterr().out


def test_several_stacks_are_listed_when_none_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from korefw.cli import main

    project = tmp_path / "app"
    shutil.copytree(EXAMPLE.parent, project)
    (project / "Pulumi.yaml").write_text(
        (project / "Pulumi.yaml").read_text() + "stackConfigDir: settings\n"
    )
    (project / "settings").mkdir()
    for stack in ("prod", "staging"):
        shutil.copy(project / "Pulumi.prod.yaml", project / "settings" / f"Pulumi.{stack}.yaml")
    (project / "Pulumi.prod.yaml").unlink()
    assert main(["plan", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "which stack? give --stack NAME, one of: prod, staging" in err
    assert main(["plan", "--cwd", str(project), "--stack", "staging", "--json"]) == 0
    assert '"urn:pulumi:staging::app::' in capsys.readouterr().out
    assert main(["plan", "--cwd", str(project), "--stack", "qa"]) == 2
    err = capsys.readouterr().err
    assert "settings/Pulumi.qa.yaml: no such stack; known: prod, staging" in err


def test_the_readme_run_offline_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from korefw.cli import main

    readme = (ROOT / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "run_offline(" in b)
    for name in ("examples", "tests"):  # the paths it names, from the root of the clone
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert "warning: 2 FQDN egress rule(s) are not enforced" in capsys.readouterr().out
    plan = json.loads((tmp_path / "app-plan.json").read_text())
    ids = SHARED_OUTPUTS["awsPrefixListIds"]
    media = [s["newState"]["inputs"] for s in plan["steps"] if "media-turn" in s["urn"]]
    assert {m["prefixListId"] for m in media} == {
        ids["twilio-stun-ipv4-tcp-3478"], ids["twilio-stun-ipv4-tcp-5349"]
    }
    assert main(["diff", "app-plan.json", "app-plan.json"]) == 0


def test_a_project_read_as_pulumi_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main:` a folder whose own modules import, stackConfigDir, a key without namespace,
    a project-level default; a `korefw:` key of the user's is the program's business."""
    from korefw.cli import main

    project = tmp_path / "edge"
    (project / "src").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(
        "name: edge\nruntime: python\nmain: src/\nstackConfigDir: config\n"
        "config:\n  sections:\n    default: Twilio STUN\n  aws:region: eu-central-1\n"
    )
    (project / "src" / "names.py").write_text("PREFIX = 'edge'\n")
    (project / "src" / "__main__.py").write_text(
        "import pulumi\nfrom names import PREFIX\n"
        "from korefw.components.aws import EgressSecurityGroup\n"
        "cfg = pulumi.Config()\n"
        "EgressSecurityGroup(PREFIX, rules=cfg.require('region'),\n"
        "                    sections=[cfg.require('sections')], vpc_id=cfg.require('vpc'))\n"
        "pulumi.export('region', pulumi.Config('aws').require('region'))\n"
    )
    (project / "config").mkdir()
    (project / "config" / "Pulumi.dev.yaml").write_text(
        "config:\n  region: de\n  edge:vpc: vpc-0a1b2c3d4e5f67890\n  korefw:region: whatever\n"
    )
    assert main(["plan", "--cwd", str(project), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    stack = doc["steps"][0]["newState"]
    assert stack["outputs"] == {"region": "eu-central-1"}
    rules = [s["newState"]["inputs"] for s in doc["steps"]
             if s["newState"]["type"].endswith("SecurityGroupEgressRule")]  # fmt: skip
    de_stun = load_rules("de").filter(sections=["Twilio STUN"])
    assert rules and all(r["description"].startswith("Twilio STUN") for r in rules), rules
    assert len({r["cidrIpv4"] for r in rules}) == len({c for r in de_stun for c in r.cidrs})
    (project / "config" / "Pulumi.dev.yaml").write_text("config:\n  edge:vpc:\n    secure: v1:x\n")
    assert main(["plan", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err == ("korefw: error: config/Pulumi.dev.yaml: edge:vpc: an encrypted secret: "
                   "korefw plan cannot decrypt it offline; use a stack with plain values\n")


def _tiny_project(tmp_path: Path) -> Path:
    project = tmp_path / "tiny"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        "name: tiny\nruntime: python\nconfig:\n  tiny:greeting: hello\n"
    )
    (project / "__main__.py").write_text(
        "import pulumi\npulumi.export('greeting', pulumi.Config().require('greeting'))\n"
    )
    return project


@pytest.mark.parametrize("text", ["", "encryptionsalt: v1:abc:def\n", "config:\n"])
def test_a_stack_file_without_settings_is_a_stack_with_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """`pulumi stack init` with a passphrase writes only `encryptionsalt:`; Pulumi reads a
    stack file with no `config:` (or an empty one) as a stack with no settings."""
    from korefw.cli import main

    project = _tiny_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text(text)
    assert main(["plan", "--cwd", str(project), "--json"]) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["steps"][0]["newState"]["outputs"] == {"greeting": "hello"}


@pytest.mark.parametrize("stack", ["../tiny/dev", "a/b", "dev\x1b", "", "x" * 101, "dév"])
def test_a_stack_name_pulumi_would_refuse_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack: str
) -> None:
    """Stack names are Pulumi's: letters, digits, '-', '_' and '.', at most 100, so a name
    never reaches a file outside the settings folder."""
    from korefw.cli import main

    project = _tiny_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text("")
    assert main(["plan", "--cwd", str(project), "--stack", stack]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stack: " in err and repr(stack)[1:-1] in err, err


@pytest.mark.parametrize("value", [
    "\n    secure: v1:x", "\n    inner:\n      secure: v1:x", "\n    - a\n    - secure: v1:x",
])  # fmt: skip
def test_a_secret_anywhere_in_a_setting_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """Pulumi encrypts values inside structured settings too; offline, their ciphertext
    must not reach the program as if it were the value."""
    from korefw.cli import main

    project = _tiny_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text(f"config:\n  tiny:token:{value}\n")
    assert main(["plan", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err == ("korefw: error: Pulumi.dev.yaml: tiny:token: an encrypted secret: "
                   "korefw plan cannot decrypt it offline; use a stack with plain values\n")
    (project / "Pulumi.dev.yaml").write_text("")
    (project / "Pulumi.yaml").write_text(
        "name: tiny\nruntime: python\nconfig:\n  tiny:token:\n    default:"
        + value.replace("\n", "\n  ") + "\n"
    )
    assert main(["plan", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pulumi.yaml: tiny:token: " in err and "secret" in err


@pytest.mark.parametrize(("body", "message"), [
    ("x = 1\nraise ValueError('boom\\nmore')\n",
     "__main__.py:2: the program failed: ValueError: boom"),
    ("x = (\n", "__main__.py:1: the program failed: SyntaxError: '(' was never closed"),
    ("import helper\n", "helper.py:1: the program failed: ZeroDivisionError: division by zero"),
])  # fmt: skip
def test_a_failing_program_is_one_line_naming_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    """A bug in the user's program is exit 2 with the program's file and line, not a
    traceback through korefw (and not exit 1, which means 'differs' elsewhere)."""
    from korefw.cli import main

    project = _tiny_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text("")
    (project / "__main__.py").write_text(body)
    (project / "helper.py").write_text("1 / 0\n")
    assert main(["plan", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
