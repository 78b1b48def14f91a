"""Every shell example of the README runs as written, in a fresh clone of the repository.

The examples are the lines of the README's ```sh blocks, and the lines of any other code
block that start with ``korefw`` or ``.venv/bin/korefw`` (a ``\\`` continues a line). They
run in order (later ones read what earlier ones wrote), each from the root of a clone: the
tracked files of this checkout, committed in a new git repository. The test's own Python
stands in for the clone's ``.venv`` (``.venv/bin/korefw`` and ``.venv/bin/python`` call it,
with the clone first on ``PYTHONPATH``), and every ``korefw`` command runs in one process
(``tests/readme_runner.py``), so the whole README costs one interpreter start.

What cannot run here is skipped by :data:`SKIP`, a named pattern and its reason each;
:data:`EXIT` names the examples that exit non-zero on purpose. Any other failure (a
non-zero exit, a traceback) fails the test, so a wrong example fails CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: (pattern searched in each ``&&`` part of a command line, why it is not run here)
SKIP: list[tuple[str, str]] = [
    (r"^python3 -m venv ", "creates the virtualenv; the test's own stands in for it "
     "(tests/test_docs.py checks the two setup commands)"),
    (r"^\.venv/bin/pip install ", "installs packages from the network; the test "
     "environment has every extra"),
    (r"^\( ?cd policy\b", "installs the policy pack's own virtualenv from the network"),
    (r"^\.venv/bin/python scripts/test_tools\.py", "installs Debian packages (CI runs it)"),
    (r"^\.venv/bin/ruff check \.", "part of the test command, which CI runs itself"),
    (r"^\.venv/bin/python -m pytest", "the test suite itself"),
    (r"^pulumi ", "needs the Pulumi CLI, a backend and cloud credentials"),
    (r"\| (\.venv/bin/)?korefw ", "reads the output of a command before the pipe that "
     "needs the Pulumi CLI"),
    (r"\b(preview|state)\.json\b", "reads what a skipped pulumi command writes"),
    (r"^kubectl ", "needs a Kubernetes cluster"),
    (r"korefw fetch(?!.*--source-url http://127\.0\.0\.1)", "downloads Kore's pages from "
     "GitHub (network)"),
    (r"korefw (audit|probe)\b", "reads a cloud account or sends packets to Kore (cloud "
     "credentials, network)"),
]

#: (pattern, the exit code the README's example has on purpose)
EXIT: list[tuple[str, int]] = [
    # the library example's media rules use another stack's prefix lists: undecided
    (r"korefw verify app-plan\.json", 2),
]


class Example(NamedTuple):
    line: int
    text: str


def examples(text: str = README) -> list[Example]:
    """The README's command lines, with their line numbers."""
    out: list[Example] = []
    fence: str | None = None
    pending: Example | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opening = re.match(r"^```(\w*)\s*$", line)
        if opening and pending is None:
            fence = None if fence is not None else opening.group(1)
            continue
        if fence is None:
            continue
        wanted = fence == "sh" or re.match(r"(\.venv/bin/)?korefw ", line) or pending
        if not wanted:
            continue
        if pending is not None:
            pending = Example(pending.line, pending.text + " " + line.strip())
        else:
            pending = Example(number, line.strip())
        if pending.text.endswith("\\"):
            pending = Example(pending.line, pending.text[:-1].rstrip())
            continue
        if pending.text and not pending.text.startswith("#"):
            out.append(pending)
        pending = None
    return out


EXAMPLES = examples()


def _tracked_files() -> list[str]:
    try:
        cp = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):  # an unpacked sdist: no git metadata
        skip = {".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis"}
        return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]  # fmt: skip
    return [name for name in cp.stdout.decode().split("\0") if name]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[dict[str, Any]]]:
    if shutil.which("git") is None:
        pytest.skip("needs git (the README's examples use it)")
    clone = tmp_path_factory.mktemp("readme") / "korefw"
    for name in _tracked_files():
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    git = ["git", "-c", "user.name=readme", "-c", "user.email=readme@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run([*git, *args], cwd=clone, check=True, capture_output=True)
    bin_dir = clone / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, target in (("python", ""), ("korefw", " -m korefw.cli")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {sys.executable}{target} "$@"\n')
        (bin_dir / name).chmod(0o755)
    spec = clone.parent / "commands.json"
    spec.write_text(json.dumps({"commands": [e._asdict() for e in EXAMPLES], "skip": SKIP}))
    out = clone.parent / "results.json"
    env = {**os.environ, "PYTHONPATH": str(clone), "NO_COLOR": "1", "COLUMNS": "120"}
    cp = subprocess.run([sys.executable, str(ROOT / "tests" / "readme_runner.py"), str(spec),
                         str(out)], cwd=clone, env=env, capture_output=True, text=True,
                        check=False)  # fmt: skip
    assert cp.returncode == 0, cp.stderr
    by_line: dict[int, list[dict[str, Any]]] = {}
    for r in json.loads(out.read_text()):
        by_line.setdefault(r["line"], []).append(r)
    return by_line


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"README:{e.line}" for e in EXAMPLES])
def test_readme_example_runs(example: Example, results: dict[int, list[dict[str, Any]]]) -> None:
    for r in results[example.line]:
        if "skipped" in r:
            continue
        expected = next((code for pattern, code in EXIT if re.search(pattern, r["text"])), 0)
        assert r["code"] == expected and "Traceback" not in r["stderr"], (
            f"README line {example.line}: `{r['text']}` exited {r['code']} "
            f"(expected {expected})\n{r['stderr']}"
        )


def test_most_examples_run_and_every_skip_is_named(
    results: dict[int, list[dict[str, Any]]],
) -> None:
    ran = [r for rs in results.values() for r in rs if "skipped" not in r]
    korefw = [r for r in ran if r["how"] == "in-process"]
    assert len(korefw) >= 10, [r["text"] for r in ran]
    reasons = {why for _, why in SKIP}
    assert all(r["skipped"] in reasons for rs in results.values() for r in rs if "skipped" in r)


def test_the_extractor_reads_blocks_continuations_and_korefw_lines() -> None:
    text = (
        "Run `korefw rules jp` inline: not an example.\n"
        "```sh\n.venv/bin/korefw render jp --platform nftables \\\n    -o out/   # note\n"
        "# a comment line\n\n```\n"
        "```\nkorefw rules jp\nsome output\n```\n"
        "```python\nx = 1\n```\n"
    )
    assert examples(text) == [
        Example(3, ".venv/bin/korefw render jp --platform nftables -o out/   # note"),
        Example(9, "korefw rules jp"),
    ]
