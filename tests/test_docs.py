"""The README stays true: generated parts current, the two commands, and .ci/run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _sync_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "sync_readme", ROOT / "scripts" / "sync_readme.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_readme_parts_are_current() -> None:
    assert _sync_module().render(README) == README, "run .venv/bin/python scripts/sync_readme.py"


def _commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv .venv && [^\n]+)\n```", README)


def test_readme_has_the_two_commands() -> None:
    main_job, tests = _commands()[:2]
    assert main_job.endswith("korefw plan --stack example-jp-aws")
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    tests = _commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests


def test_every_example_stack_is_named_in_the_readme() -> None:
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        assert path.name[len("Pulumi.") : -len(".yaml")] in README


def test_args_types_are_generated_from_the_options() -> None:
    generated = (ROOT / "korefw" / "components" / "args.py").read_text()
    assert _sync_module().args_source() == generated, "run .venv/bin/python scripts/sync_readme.py"


def test_pulumi_yaml_config_block_is_generated() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    assert _sync_module().pulumi_yaml(text) == text, "run .venv/bin/python scripts/sync_readme.py"


def test_architecture_note_names_only_files_that_exist() -> None:
    """docs/architecture.md points a new engineer at real modules."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:core/|korefw/|bench/|tests/)[\w/]+\.py)`", text))
    assert named, "the note names no module"
    for path in sorted(named):
        where = ROOT / path if not path.startswith("core/") else ROOT / "korefw" / path
        assert where.exists(), path
    for stage in ("read", "rules", "plan", "check"):
        assert f"core/{stage}/" in text
