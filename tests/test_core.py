"""The rules of the house for ``korefw.core``: pure, and one stage per folder, imports one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import korefw.core

CORE = Path(korefw.core.__file__).resolve().parent
#: What each stage may import from the rest of the core (besides errors, safewrite, inputfile).
ALLOWED = {
    "read": {"rules"},
    "rules": set(),
    "plan": {"rules"},
    "check": {"rules"},
    "probe": {"rules"},
}


def test_core_never_imports_pulumi() -> None:
    code = (
        "import sys, pkgutil, importlib, korefw.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'korefw.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'pulumi' or n.startswith('pulumi'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _core_imports(path: Path) -> set[str]:
    """The core stages (or top-level modules) one module imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level == 2:
                out.add(node.module.split(".")[0])
            elif node.level == 0 and node.module.startswith("korefw.core."):
                out.add(node.module.split(".")[2])
            elif node.level == 0 and node.module.startswith("korefw"):
                out.add("korefw (outside the core)")
    return out


def test_stages_import_one_way() -> None:
    bad = {}
    for stage, allowed in ALLOWED.items():
        for path in sorted((CORE / stage).glob("*.py")):
            extra = _core_imports(path) - allowed - {"errors", "safewrite", "inputfile"}
            if extra:
                bad[f"{stage}/{path.name}"] = sorted(extra)
    assert not bad, bad
    assert sorted(
        p.name for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__"
    ) == sorted(ALLOWED)


def test_no_test_module_imports_another() -> None:
    tests = Path(__file__).resolve().parent
    names = {p.stem for p in tests.glob("test_*.py")}
    bad = {}
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in names:
                bad[path.name] = node.module
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in names:
                        bad[path.name] = alias.name
    assert not bad, bad


def test_each_part_of_korefw_has_its_folder() -> None:
    """The top of ``korefw/`` holds the package marker and folders only (docs/architecture.md):
    the core, the components, the runtime, the command line, the probe, the cloud readers of
    ``korefw audit`` and the shipped data."""
    top = Path(korefw.core.__file__).resolve().parent.parent
    files = sorted(p.name for p in top.iterdir() if p.is_file())
    folders = sorted(p.name for p in top.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert files == ["__init__.py", "py.typed"]
    assert folders == ["audit", "cli", "components", "core", "data", "probe", "runtime"]
