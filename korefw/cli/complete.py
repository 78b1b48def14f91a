"""Shell completion: ``korefw completion bash|zsh`` prints a script, and the script asks
``korefw __complete INDEX WORDS...`` for the candidates of the word under the cursor.

The candidates come from the parser itself (commands, options, ``choices``) and from the
data: region codes for a ``REGION`` argument, the platforms for ``--platform``, and the
stacks of the project (``--cwd``, else the one ``korefw plan`` would use) for ``--stack``.
Where a file may go, the script adds the shell's own file completion.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import KorefwError
from ..core.read.regions import region_codes

#: The line ``__complete`` prints when the shell should also complete file names.
FILES = ":files"

BASH = """# korefw completion for bash: eval "$(korefw completion bash)" (or save it to
# ~/.local/share/bash-completion/completions/korefw)
_korefw() {
    local IFS=$'\\n' cur=${COMP_WORDS[COMP_CWORD]} line files=0
    COMPREPLY=()
    for line in $("${COMP_WORDS[0]}" __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null); do
        if [[ $line == ":files" ]]; then files=1; else COMPREPLY+=("$line"); fi
    done
    if (( files )); then COMPREPLY+=($(compgen -f -- "$cur")); compopt -o filenames; fi
}
complete -F _korefw korefw
"""

ZSH = """#compdef korefw
# korefw completion for zsh: eval "$(korefw completion zsh)" (after compinit), or save it
# as _korefw in a folder of $fpath
_korefw() {
    local -a out cands
    out=("${(@f)$("${words[1]}" __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
    cands=(${out:#:files})
    compadd -a cands
    if (( ${out[(Ie):files]} )); then _files; fi
}
compdef _korefw korefw
"""


def add_completion_command(sub: argparse._SubParsersAction) -> None:
    """``korefw completion bash|zsh``."""
    p = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for bash or zsh: commands, options, region "
        "codes, platforms and the project's stacks. Load it with "
        'eval "$(korefw completion bash)" in ~/.bashrc (zsh: after compinit in ~/.zshrc).',
    )
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    """Print the script."""
    print(BASH if args.shell == "bash" else ZSH, end="")
    return 0


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def _stacks(words: Sequence[str]) -> list[str]:
    from ..runtime.preview import find_project, load_project

    cwd = next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "--cwd"), None)
    try:
        project_dir = Path(cwd).resolve() if cwd else find_project()
        return load_project(project_dir).stacks()
    except (KorefwError, OSError):
        return []


def _values(action: argparse.Action, words: Sequence[str]) -> list[str]:
    """What may follow ``action`` (an option that takes a value, or a positional)."""
    from ..core.plan.aerleon_export import PLATFORMS

    if action.choices is not None:
        return [str(c) for c in action.choices]
    if action.dest == "stack":
        return _stacks(words)
    if action.dest == "platform":
        return list(PLATFORMS)
    metavar = str(action.metavar or "")
    regions = list(region_codes()) if "REGION" in metavar or metavar == "CODE" else []
    if metavar in ("REGION", "CODE"):
        return regions
    if action.dest in ("rules", "source", "sources", "old", "new") or "FILE" in metavar:
        return [*regions, FILES]
    if action.type is int or metavar in ("N", "S", "C", "NAME", "YYYY-MM-DD", "TITLE"):
        return []
    return [FILES]


def candidates(parser: argparse.ArgumentParser, words: Sequence[str], current: str) -> list[str]:
    """Completions of ``current`` after ``words`` (the command line's words before it,
    without the program name); :data:`FILES` asks the shell for file names too."""
    commands = _subparsers(parser)
    at = next((i for i, w in enumerate(words) if w in commands), None)
    if at is None:
        found = list(commands) if not current.startswith("-") else list(_options(parser))
    else:
        sub = commands[words[at]]
        options = _options(sub)
        rest = list(words[at + 1 :])
        takes_value = [w for w in rest if w in options and options[w].nargs != 0]
        if rest and rest[-1] in takes_value:
            found = _values(options[rest[-1]], words)
        elif current.startswith("-"):
            found = [s for s in options if s.startswith("--") or s in ("-o", "-h")]
        else:
            found = _positional(sub, options, rest, words)
    return [c for c in found if c == FILES or c.startswith(current)]


def _positional(parser: argparse.ArgumentParser, options: dict[str, argparse.Action],
                rest: list[str], words: Sequence[str]) -> list[str]:  # fmt: skip
    """Candidates for the next positional argument of a command."""
    given, skip = 0, False
    for w in rest:
        if skip:
            skip = False
        elif w in options:
            skip = options[w].nargs != 0
        elif not w.startswith("-"):
            given += 1
    positionals = [a for a in parser._actions if not a.option_strings]
    for action in positionals:
        if action.nargs in ("*", "+"):
            return _values(action, words)
        if given == 0:
            return _values(action, words)
        given -= 1
    return []


def complete_main(argv: Sequence[str], parser: argparse.ArgumentParser) -> int:
    """``korefw __complete INDEX WORDS...``: print one candidate a line."""
    try:
        index = int(argv[0])
    except (IndexError, ValueError):
        return 2
    words = list(argv[1:])
    current = words[index] if index < len(words) else ""
    for c in candidates(parser, words[1:index], current):
        print(c)
    return 0
