"""The ``korefw`` command line.

Each command is two functions: ``add_<name>_command(subparsers)`` declares its arguments
and sets ``func``, and ``cmd_<name>(args) -> int`` does the work and returns the exit
code. To add a command, write both and call the adder from :func:`build_parser`;
:func:`add_source_argument` and :func:`load_source` give it the usual ``REGION|FILE``
argument (:mod:`.cli_common`). Any :class:`KorefwError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.check.lint import lint
from ..core.errors import KorefwError, printable
from ..core.read.regions import (
    load_rules,
    region_codes,
)
from ..core.rules.model import Protocol, Rule, RuleSet, normalize_fqdn
from .audit import add_audit_command
from .common import (
    EXIT_ERROR,
    EXIT_NOT_ALLOWED,
    EXIT_OK,
    add_filter_arguments,
    add_source_argument,
    eprint,
    load_source,
    rules_to_json,
)
from .complete import add_completion_command, complete_main
from .pages import add_fetch_command, add_import_command
from .probe import add_probe_command
from .stacks import (
    add_diff_command,
    add_export_command,
    add_plan_command,
    add_render_command,
    add_verify_command,
)

# --------------------------------------------------------------------------- rules


def add_rules_command(sub: argparse._SubParsersAction) -> None:
    """``korefw rules``."""
    p = sub.add_parser(
        "rules",
        help="show a region's egress rules",
        description="Show the egress rules of a region or file, as a table or as JSON. "
        "Lint warnings about the vendor data go to stderr.",
    )
    add_source_argument(p)
    add_filter_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_rules)


def cmd_rules(args: argparse.Namespace) -> int:
    """Print the (filtered) rules; lint warnings for the shown rules go to stderr."""
    full = load_source(args)
    rules = full.filter(args.section or None, args.component or None)
    shown = {(r.origin.file, r.origin.line) for r in rules}
    warnings = [w for w in lint(full) if (w.file, w.line) in shown]
    if args.json:
        print(json.dumps(rules_to_json(rules), indent=2, ensure_ascii=False))
    else:
        _print_rules_table(rules)
    for w in warnings:
        eprint(w)
    return EXIT_OK


def _protocol_text(rule: Rule) -> str:
    """``tcp/udp``, plus what the vendor's wording adds (``tcp (TLS)``, ``tcp (TURN TLS)``)."""
    plain = "/".join(rule.protocols)
    if not rule.label:
        return f"{plain} (assumed)"
    bare = re.sub(r"\([^()]*\)", " ", rule.label)
    extra = [w for w in re.split(r"[\s/,&+]+", bare) if w and w.lower() not in {"tcp", "udp"}]
    extra += re.findall(r"\(([^()]*)\)", rule.label)
    return f"{plain} ({', '.join(extra)})" if extra else plain


def _print_rules_table(rules: RuleSet) -> None:
    """One table per section; a component is named on its first row only."""
    from .table import Column, render

    columns = (
        Column("Component", max_width=28),
        Column("Protocol"),
        Column("Ports"),
        Column("Destination"),
        Column("Line", right=True),
    )
    where = f"from {rules.source}" + (f", retrieved {rules.retrieved}" if rules.retrieved else "")
    print(printable(f"{rules.region or rules.source}: {len(rules)} egress rules {where}"))
    for section in rules.sections():
        rows = []
        previous = None
        for r in (r for r in rules if r.section == section):
            dests = [str(c) for c in r.cidrs] + list(r.fqdns)
            if r.aliases:
                dests.append(f"({', '.join(r.aliases)})")
            rows.append(
                (
                    r.component if r.component != previous else "",
                    _protocol_text(r),
                    ", ".join(map(str, r.ports)),
                    "\n".join(dests),
                    str(r.origin.line),
                )
            )
            previous = r.component
        print(render(section, columns, rows))


# --------------------------------------------------------------------------- check


def add_check_command(sub: argparse._SubParsersAction) -> None:
    """``korefw check``."""
    p = sub.add_parser(
        "check",
        help="is one flow allowed?",
        description="Say whether the egress rules allow one flow and name the rules "
        "that allow it. Exit 0 when allowed, 1 when not, 2 on bad input.",
    )
    add_source_argument(p)
    p.add_argument("--protocol", required=True, metavar="tcp|udp")
    p.add_argument("--port", required=True, metavar="N", help="destination port")
    p.add_argument("--to", required=True, metavar="ADDRESS|FQDN", help="destination")
    p.set_defaults(func=cmd_check)


def parse_port_argument(text: str, *, where: str = "--port") -> int:
    """One destination port 0-65535."""
    raw = text.strip()
    if not (raw.isascii() and raw.isdigit()):  # str.isdigit takes any script's digits
        raise KorefwError("expected a port number", where=where, value=text)
    port = int(raw)
    if port > 65535:
        raise KorefwError("port outside 0-65535", where=where, value=text)
    return port


def parse_target_argument(text: str, *, where: str = "--to") -> str:
    """An IP address or a host name (no wildcard)."""
    raw = text.strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    if "/" in raw:
        raise KorefwError("a CIDR is not accepted; give one address (or host name)",
                          where=where, value=text)  # fmt: skip
    if ":" in raw or raw.replace(".", "").isdigit():
        raise KorefwError("malformed IP address", where=where, value=text)
    if raw.startswith("*"):
        raise KorefwError("expected one host name, not a wildcard", where=where, value=text)
    return normalize_fqdn(raw, where=where)


def cmd_check(args: argparse.Namespace) -> int:
    """Print allowed / not allowed and the matching rules; exit 0 or 1."""
    protocol = Protocol.parse(args.protocol, where="--protocol")
    port = parse_port_argument(args.port)
    target = parse_target_argument(args.to)
    rules = load_source(args)
    hits = rules.matching(protocol, target, port)
    flow = f"{protocol} port {port} to {target}"
    if not hits:
        print(f"not allowed: {flow} (no {rules.region or rules.source} egress rule matches)")
        return EXIT_NOT_ALLOWED
    print(f"allowed: {flow}, by {len(hits)} egress rule{'s' if len(hits) != 1 else ''}:")
    for r in hits:
        dests = ", ".join([*map(str, r.cidrs), *r.fqdns])
        label = f" {r.label!r}" if r.label else ""
        print(printable(
            f"  {r.origin}: {r.describe()}:{label} {'/'.join(r.protocols)} "
            f"{', '.join(map(str, r.ports))} to {dests}"
        ))  # fmt: skip
    return EXIT_OK


# --------------------------------------------------------------------------- lint


def add_lint_command(sub: argparse._SubParsersAction) -> None:
    """``korefw lint``."""
    p = sub.add_parser(
        "lint",
        help="report doubtful vendor data",
        description="Report vendor data that reads but is probably not what Kore meant "
        "(label mismatches, TURN TLS on 3478, duplicates, ...). Rules are never changed.",
    )
    p.add_argument(
        "sources",
        nargs="*",
        metavar="REGION|FILE",
        help="regions or files to lint (default: every region)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    p.set_defaults(func=cmd_lint)


def cmd_lint(args: argparse.Namespace) -> int:
    """Print each source's warnings and a count."""
    total = 0
    for source in args.sources or region_codes():
        warnings = lint(load_rules(source))
        for w in warnings:
            print(printable(str(w)))
        total += len(warnings)
        eprint(f"{source}: {len(warnings)} warning{'s' if len(warnings) != 1 else ''}")
    return 1 if args.strict and total else EXIT_OK


# --------------------------------------------------------------------------- schema


def add_schema_command(sub: argparse._SubParsersAction) -> None:
    """``korefw schema``."""
    p = sub.add_parser(
        "schema",
        help="print the Pulumi package schema of korefw's components",
        description="Print the Pulumi package schema (JSON) that the component package in "
        "provider/ serves: the components, their typed inputs and outputs.",
    )
    p.set_defaults(func=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the package schema."""
    from ..runtime.package import schema

    print(json.dumps(schema(), indent=2))
    return EXIT_OK


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``korefw`` parser with every command."""
    parser = argparse.ArgumentParser(
        prog="korefw",
        description="Kore.ai voice-gateway egress firewall rules: read, check, import, plan, "
        "diff, verify and audit.",
    )
    parser.add_argument("--version", action="version", version=f"korefw {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_rules_command(sub)
    add_check_command(sub)
    add_import_command(sub)
    add_fetch_command(sub)
    add_lint_command(sub)
    add_plan_command(sub)
    add_diff_command(sub)
    add_verify_command(sub)
    add_audit_command(sub)
    add_export_command(sub)
    add_render_command(sub)
    add_schema_command(sub)
    add_probe_command(sub)
    add_completion_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``korefw``; returns the exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["__complete"]:  # what the completion scripts call; not a documented command
        return complete_main(argv[1:], parser)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:  # no command: say what there is, as a usage error
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(func(args))
    except KorefwError as exc:
        eprint(f"korefw: error: {exc}")
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly. Point stdout at devnull so that
        # the interpreter's final flush does not fail again (Python's signal docs).
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    # Last resort; the readers name the file and field where they can.
    except RecursionError:
        eprint("korefw: error: input nested too deeply to read")
        return EXIT_ERROR
    except UnicodeDecodeError as exc:
        eprint(f"korefw: error: input is not UTF-8 text (byte {exc.start})")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
