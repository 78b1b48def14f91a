"""Start-up and warm-plan figures, before and after, measured side by side in one run.

Two figures a user feels: a cold ``korefw rules jp`` (a fresh interpreter: start, imports,
reading and linting the page, printing the table) and a warm offline plan of
``example-jp-aws`` (``plan_stack`` again in a process that has already planned once). Each
is measured for this tree and for earlier commits, exported from git into a temporary
folder and run with the same interpreter and packages, so the columns differ only in
korefw's own code. Wall time is the median over fresh processes; CPU time (user + system,
all threads) is reported beside it because it moves less when the machine is busy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Earlier commits to compare with, and why each is there.
BASELINES: tuple[tuple[str, str], ...] = (
    ("132c12e", "the 117 ms reference issue 21 names"),
    ("3df9234", "main before the speed work of issue 21"),
)

# Runs in the tree under test (old trees have korefw.preview, new ones korefw.runtime.preview).
_WARM = """
import json, sys, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)
try:
    from korefw.runtime.preview import plan_stack
except ImportError:
    from korefw.preview import plan_stack
stack, count = sys.argv[1], int(sys.argv[2])
plan_stack(stack)
wall, cpu = [], []
for _ in range(count):
    t0, c0 = time.perf_counter(), time.process_time()
    plan_stack(stack)
    cpu.append(time.process_time() - c0)
    wall.append(time.perf_counter() - t0)
print(json.dumps({"wall": wall, "cpu": cpu}))
"""


@contextmanager
def trees(commits: Sequence[str | None]) -> Iterator[list[Path]]:
    """This repository's tree (``None``) or each commit's, exported into temporary folders."""
    with tempfile.TemporaryDirectory(prefix="korefw-bench-") as tmp:
        out = []
        for commit in commits:
            if commit is None:
                out.append(ROOT)
                continue
            data = subprocess.run(
                ["git", "archive", "--format=tar", commit],
                cwd=ROOT,
                capture_output=True,
                check=True,
            ).stdout
            where = Path(tmp) / commit
            with tarfile.open(fileobj=BytesIO(data)) as tar:
                tar.extractall(where, filter="data")
            out.append(where)
        yield out


def _env(where: Path) -> dict[str, str]:
    # PYTHONPATH comes before the editable install's finder, so `korefw` is this tree's.
    return {**os.environ, "PYTHONPATH": str(where)}


def _cold_rules(where: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python -m korefw.cli rules jp`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "korefw.cli", "rules", "jp"],
        cwd=where,
        env=_env(where),
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _warm_plans(where: Path, count: int, stack: str = "example-jp-aws") -> dict[str, list[float]]:
    """Wall and CPU seconds of ``count`` warm ``plan_stack`` runs in one process."""
    proc = subprocess.run(
        [sys.executable, "-c", _WARM, stack, str(count)],
        cwd=where,
        env=_env(where),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(
    reps: int, baselines: Sequence[tuple[str, str]] = BASELINES
) -> list[dict[str, object]]:
    """Both figures for each baseline commit and for this tree, in one run.

    The trees take turns (one cold start, one warm-plan process each, ``reps`` rounds), so
    a change in the machine's load lands on all of them alike.
    """
    commits = [c for c, _ in baselines] + [None]
    whys = [w for _, w in baselines] + ["this tree"]
    cold: list[list[tuple[float, float]]] = [[] for _ in commits]
    warm: list[dict[str, list[float]]] = [{"wall": [], "cpu": []} for _ in commits]
    with trees(commits) as where:
        for w in where:  # compile each tree's bytecode once, as an installed package has it
            _cold_rules(w)
        for _ in range(reps):
            for i, w in enumerate(where):
                cold[i].append(_cold_rules(w))
                runs = _warm_plans(w, 5)
                warm[i]["wall"] += runs["wall"]
                warm[i]["cpu"] += runs["cpu"]
    return [
        {
            "tree": commit or "this tree",
            "why": why,
            "rules": {
                "wall": statistics.median(x for x, _ in cold[i]),
                "cpu": statistics.median(c for _, c in cold[i]),
            },
            "plan": {k: statistics.median(v) for k, v in warm[i].items()},
        }
        for i, (commit, why) in enumerate(zip(commits, whys, strict=True))
    ]


def section(reps: int, ms: object) -> tuple[list[str], list[dict[str, object]]]:
    """The report's section: a table with one row per tree; ``ms`` formats seconds."""
    # The earlier commits draw their tables with rich, which korefw no longer installs.
    have_rich = importlib.util.find_spec("rich") is not None
    rows = measure(reps, BASELINES if have_rich else ())

    def cell(fig: dict[str, float]) -> str:
        return f"{ms(fig['wall'])} ({ms(fig['cpu'])} CPU)"  # type: ignore[operator]

    lines = [
        "## Start-up and warm plan, before and after",
        "",
        "*Cold `korefw rules jp`*: `python -m korefw.cli rules jp` in a fresh interpreter "
        f"(start, imports, reading and linting Japan's page, printing the tables; median of "
        f"{reps} processes). *Warm plan*: `plan_stack('example-jp-aws')` again in a process "
        f"that has planned it once (median of {reps * 5} runs in {reps} processes). Each "
        "earlier commit is exported from git and run with the same interpreter and packages; "
        "the trees take turns, so the machine's load falls on all alike. Goals: cold start "
        "under 150 ms, warm plan under 100 ms."
        + ("" if have_rich else " The earlier commits need `rich` (`pip install rich`), "
           "which korefw no longer depends on: this run measured this tree only."),
        "",
        "| Tree | Why | Cold `korefw rules jp` | Warm plan `example-jp-aws` |",
        "| :--- | :--- | ---: | ---: |",
    ]
    for row in rows:
        tree_name = row["tree"] if row["tree"] == "this tree" else f"`{row['tree']}`"
        lines.append(
            f"| {tree_name} | {row['why']} | {cell(row['rules'])} | "  # type: ignore[arg-type]
            f"{cell(row['plan'])} |"  # type: ignore[arg-type]
        )
    lines.append("")
    return lines, rows


if __name__ == "__main__":
    text, _ = section(int(sys.argv[1]) if len(sys.argv) > 1 else 5, lambda s: f"{s * 1000:.1f} ms")
    print("\n".join(text))
