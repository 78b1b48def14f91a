"""A relative ``korefw:rulesFile`` is read from the stack's project folder (``--cwd`` too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from korefw.cli import main
from korefw.core.errors import KorefwError
from korefw.core.read.regions import PAGES_DIR
from korefw.runtime.preview import plan_stack

ROOT = Path(__file__).resolve().parent.parent
EXTRA = "| ↳ | UDP | ANY | ANY | 13.115.244.64 - 13.115.244.95 | 3478 |"


def _project(tmp_path: Path, rules_file: str) -> Path:
    """A copy of the project elsewhere whose jp-aws stack names ``rules_file``."""
    project = tmp_path / "elsewhere"
    (project / "stacks").mkdir(parents=True)
    (project / "vendor").mkdir()
    page = (PAGES_DIR / "japan-firewall-rules.md").read_text().rstrip("\n") + "\n" + EXTRA + "\n"
    (project / "vendor" / "jp.md").write_text(page)
    shutil.copy(ROOT / "__main__.py", project / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    stack = (ROOT / "stacks" / "Pulumi.example-jp-aws.yaml").read_text()
    stack += f"  korefw:rulesFile: {rules_file}\n"
    (project / "stacks" / "Pulumi.example-jp-aws.yaml").write_text(stack)
    return project


def test_relative_rules_file_resolves_against_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, "vendor/jp.md")
    monkeypatch.chdir(tmp_path)  # the working directory is not the project
    plan = plan_stack("example-jp-aws", project_dir=project)
    outputs = plan.stack_outputs
    assert outputs["rulesSource"] == "jp.md"
    assert outputs["ruleCount"] == 30  # the 29 Japan rows and the extra one
    cidrs = {
        r.inputs.get("cidrIpv4")
        for r in plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    }
    assert "13.115.244.64/27" in cidrs


def test_plan_cwd_reads_the_rules_file_of_that_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "vendor/jp.md")
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--stack", "example-jp-aws", "--cwd", str(project), "--json"]) == 0
    assert "13.115.244.64/27" in capsys.readouterr().out


def test_missing_rules_file_names_the_stack_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "vendor/missing.md")
    with pytest.raises(KorefwError) as info:
        plan_stack("example-jp-aws", project_dir=project)
    assert str(info.value) == (
        "stacks/Pulumi.example-jp-aws.yaml: korefw:rulesFile: no such file "
        f"(got {str(project / 'vendor' / 'missing.md')!r})"
    )
    code = main(["plan", "--stack", "example-jp-aws", "--cwd", str(project)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "stacks/Pulumi.example-jp-aws.yaml: korefw:rulesFile: no such file" in err


def test_bad_row_in_the_rules_file_names_stack_key_page_and_cell(tmp_path: Path) -> None:
    project = _project(tmp_path, "vendor/jp.md")
    page = project / "vendor" / "jp.md"
    page.write_text(page.read_text().replace("13.115.244.64 - 13.115.244.95", "13.115.244.999"))
    with pytest.raises(KorefwError) as info:
        plan_stack("example-jp-aws", project_dir=project)
    text = str(info.value)
    assert text.startswith("stacks/Pulumi.example-jp-aws.yaml: korefw:rulesFile: jp.md:"), text
    assert "13.115.244.999" in text
