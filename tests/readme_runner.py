"""Run README command lines in one process from the root of a clone (test_readme_examples.py).

Usage: ``python readme_runner.py COMMANDS.json RESULTS.json``, with the clone as the working
directory and first on ``PYTHONPATH`` (so its own ``korefw`` is imported). COMMANDS.json is a
list of ``{"line": N, "text": "..."}`` with ``"skip"`` patterns and their reasons; each line
runs from the clone's root, its ``&&`` parts in order. ``korefw`` commands (bare or
``.venv/bin/korefw``, with at most a ``> FILE`` redirection) run in this process through
``korefw.cli.main``; everything else runs in ``bash``. RESULTS.json gets one entry per part.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import traceback
from pathlib import Path

OPERATORS = {"&&", "||", "|", ">", ">>", "<", "(", ")", ";", "&"}
KOREFW = {"korefw", ".venv/bin/korefw"}


def tokens(text: str) -> list[str]:
    """Shell words and operators, comments dropped."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def parts(words: list[str]) -> list[list[str]]:
    """The ``&&`` parts of a command line."""
    out: list[list[str]] = [[]]
    for w in words:
        if w == "&&":
            out.append([])
        else:
            out[-1].append(w)
    return [p for p in out if p]


def shell_text(words: list[str]) -> str:
    return " ".join(w if w in OPERATORS else shlex.quote(w) for w in words)


def run_korefw(argv: list[str]) -> tuple[int, str, str]:
    from korefw.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # a traceback is a failed example, never a crash of the runner
            traceback.print_exc()
            code = 99
    return code, out.getvalue(), err.getvalue()


def run_part(words: list[str], root: Path) -> tuple[int, str, str, str]:
    """Run one part; returns (exit code, stdout, stderr, how)."""
    if words[0] == "cd" and len(words) == 2:
        os.chdir(words[1])
        return 0, "", "", "cd"
    plain = not (set(words) & (OPERATORS - {">"}))
    redirect = words[-2] if len(words) > 2 else None
    if words[0] in KOREFW and plain and (">" not in words or redirect == ">"):
        argv = words[1:-2] if redirect == ">" else words[1:]
        code, out, err = run_korefw(argv)
        if redirect == ">":
            Path(words[-1]).write_text(out)
            out = ""
        return code, out, err, "in-process"
    env = dict(os.environ, PATH=f"{root / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cp = subprocess.run(["bash", "-c", shell_text(words)], capture_output=True, text=True,
                        env=env, check=False)  # fmt: skip
    return cp.returncode, cp.stdout, cp.stderr, "bash"


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    root = Path.cwd()
    results = []
    for command in spec["commands"]:
        os.chdir(root)
        for words in parts(tokens(command["text"])):
            text = " ".join(words)
            result = {"line": command["line"], "text": text}
            reason = next((why for pattern, why in spec["skip"] if re.search(pattern, text)), None)
            if reason is not None:
                results.append({**result, "skipped": reason})
                continue
            code, out, err, how = run_part(words, root)
            results.append({**result, "code": code, "stdout": out[-2000:], "stderr": err[-4000:],
                            "how": how})  # fmt: skip
    os.chdir(root)
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
