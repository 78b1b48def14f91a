"""What every ``korefw`` command shares: exit codes, the ``REGION|FILE`` argument, JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..core.errors import printable
from ..core.read.regions import (
    load_rules,
    region_codes,
)
from ..core.rules.model import Rule, RuleSet

EXIT_OK = 0
EXIT_NOT_ALLOWED = 1
EXIT_ERROR = 2


# --------------------------------------------------------------------------- shared helpers


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """The positional ``REGION|FILE`` argument most commands take."""
    parser.add_argument(
        "source",
        metavar="REGION|FILE",
        help=f"a region code ({', '.join(region_codes())}), a shipped .toml data file, "
        "or a Kore.ai vendor page (Markdown, MDX or HTML)",
    )


def add_filter_arguments(parser: argparse.ArgumentParser, verb: str = "keep") -> None:
    """``--section`` and ``--component``: narrow the rules to sections and components (globs,
    case-insensitive, each may repeat); ``verb`` says what the command does with them."""
    for flag, metavar, which in (("--section", "S", "in this section"),
                                 ("--component", "C", "of this component")):  # fmt: skip
        parser.add_argument(
            flag,
            action="append",
            default=[],
            metavar=metavar,
            help=f"{verb} rules {which} (glob, case-insensitive; may repeat)",
        )


def load_source(args: argparse.Namespace) -> RuleSet:
    """The rules named by ``args.source``."""
    return load_rules(args.source)


def load_filtered(args: argparse.Namespace, attr: str = "source") -> RuleSet:
    """The rules named by ``args.<attr>``, narrowed by ``--section`` and ``--component``."""
    return load_rules(getattr(args, attr)).filter(args.section, args.component)


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """One rule as plain JSON values."""
    return {
        "section": rule.section,
        "component": rule.component,
        "protocols": [str(p) for p in rule.protocols],
        "ports": [[p.lo, p.hi] for p in rule.ports],
        "cidrs": [str(c) for c in rule.cidrs],
        "fqdns": list(rule.fqdns),
        "label": rule.label,
        "destination": rule.destination,
        "aliases": list(rule.aliases),
        "origin": {"file": rule.origin.file, "line": rule.origin.line},
    }


def rules_to_json(rules: RuleSet) -> dict[str, Any]:
    """A rule set as plain JSON values (what ``korefw rules --json`` prints)."""
    return {
        "region": rules.region,
        "source": rules.source,
        "retrieved": rules.retrieved,
        "rules": [rule_to_json(r) for r in rules],
    }


def eprint(*parts: object) -> None:
    """One line on stderr, its control characters escaped (names come from vendor pages)."""
    print(printable(" ".join(map(str, parts))), file=sys.stderr)
