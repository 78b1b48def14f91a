"""Pulumi's private runtime API lives behind korefw/runtime/_pulumi_internals.py, checked at
import."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from korefw.runtime import _pulumi_internals as internals

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_RUNTIME = {"Mocks", "MockResourceArgs", "MockCallArgs", "set_mocks"}


def _pulumi_imports(path: Path) -> list[str]:
    """Dotted names a module imports from ``pulumi`` (``from pulumi.x import y`` -> x.y)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("pulumi.runtime")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi"):
            out += [f"{node.module}.{a.name}" for a in node.names]
    return out


def test_only_the_internals_module_imports_private_pulumi_runtime() -> None:
    offenders = []
    for path in sorted((ROOT / "korefw").rglob("*.py")):
        if path.name == "_pulumi_internals.py":
            continue
        for name in _pulumi_imports(path):
            last = name.rsplit(".", 1)[-1]
            private = name.startswith("pulumi.runtime") and last not in PUBLIC_RUNTIME
            if private or "._" in name:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_a_missing_internal_fails_at_import_naming_it_and_the_pulumi_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pulumi.runtime.sync_await as sync_await

    monkeypatch.delattr(sync_await, "_sync_await")
    with pytest.raises(internals.PulumiInternalsError) as err:
        internals._load()
    message = str(err.value)
    assert "pulumi.runtime.sync_await._sync_await" in message
    assert f"pulumi {internals.pulumi_version()}" in message
    assert re.search(r"pulumi \d+\.\d+\.\d+ does not have", message)


def test_a_context_variable_that_changed_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi.runtime.settings as settings

    monkeypatch.setattr(settings, "ROOT", None)
    with pytest.raises(internals.PulumiInternalsError, match="ROOT to be a ContextVar"):
        internals._load()


def test_ci_tests_the_lowest_pulumi_the_pin_allows() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if re.match(r"pulumi\s*[<>=]", d)]
    floor = re.search(r">=\s*([\d.]+)", pin)
    assert floor, f"pulumi pin {pin!r} has no lower bound"
    lowest = (ROOT / ".ci" / "lowest-pulumi.txt").read_text()
    assert re.search(rf"^pulumi=={re.escape(floor.group(1))}$", lowest, re.M), (pin, lowest)
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert ".ci/lowest-pulumi.txt" in ci and "PIP_CONSTRAINT" in ci


def test_settings_without_the_pending_outputs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi.runtime.settings as settings

    monkeypatch.setattr(settings, "SETTINGS", object())
    with pytest.raises(internals.PulumiInternalsError, match=r"SETTINGS\.outputs"):
        internals._load()
