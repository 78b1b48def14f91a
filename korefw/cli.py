"""The ``korefw`` command line.

Each command is two functions: ``add_<name>_command(subparsers)`` declares its arguments
and sets ``func``, and ``cmd_<name>(args) -> int`` does the work and returns the exit
code. To add a command, write both and call the adder from :func:`build_parser`;
:func:`add_source_argument` and :func:`load_source` give it the usual ``REGION|FILE``
argument. Any :class:`KorefwError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .core.check.lint import lint
from .core.errors import KorefwError
from .core.read.regions import (
    DATA_DIR,
    PAGES_DIR,
    import_vendor_page,
    load_rules,
    region_codes,
    render_region,
)
from .core.read.ruledata import dump
from .core.rules.model import Protocol, Rule, RuleSet, normalize_fqdn
from .core.safewrite import check_output_dir, check_output_file, write_files

EXIT_OK = 0
EXIT_NOT_ALLOWED = 1
EXIT_ERROR = 2
#: Bounds of `korefw fetch --timeout` (seconds, the whole download) and `--max-bytes`.
MAX_FETCH_TIMEOUT = 3600
MAX_FETCH_BYTES = 100_000_000


# --------------------------------------------------------------------------- shared helpers


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """The positional ``REGION|FILE`` argument most commands take."""
    parser.add_argument(
        "source",
        metavar="REGION|FILE",
        help=f"a region code ({', '.join(region_codes())}), a shipped .toml data file, "
        "or a Kore.ai vendor page (Markdown, MDX or HTML)",
    )


def load_source(args: argparse.Namespace) -> RuleSet:
    """The rules named by ``args.source``."""
    return load_rules(args.source)


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


def _eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)


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
    p.add_argument(
        "--section",
        action="append",
        default=[],
        metavar="S",
        help="keep rules in this section (glob, case-insensitive; may repeat)",
    )
    p.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="C",
        help="keep rules of this component (glob, case-insensitive; may repeat)",
    )
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
        _eprint(w)
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
    """One rich table per section; a component is named on its first row only."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    where = f"from {rules.source}" + (f", retrieved {rules.retrieved}" if rules.retrieved else "")
    console.print(f"[bold]{rules.region or rules.source}[/bold]: {len(rules)} egress rules {where}")
    for section in rules.sections():
        table = Table(title=section, title_justify="left", expand=False)
        table.add_column("Component", overflow="fold", max_width=28)
        table.add_column("Protocol", overflow="fold")
        table.add_column("Ports", overflow="fold")
        table.add_column("Destination", overflow="fold")
        table.add_column("Line", justify="right")
        previous = None
        for r in (r for r in rules if r.section == section):
            dests = [str(c) for c in r.cidrs] + list(r.fqdns)
            if r.aliases:
                dests.append(f"({', '.join(r.aliases)})")
            table.add_row(
                r.component if r.component != previous else "",
                _protocol_text(r),
                ", ".join(map(str, r.ports)),
                "\n".join(dests),
                str(r.origin.line),
            )
            previous = r.component
        console.print(table)


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
        print(
            f"  {r.origin}: {r.describe()}:{label} {'/'.join(r.protocols)} "
            f"{', '.join(map(str, r.ports))} to {dests}"
        )
    return EXIT_OK


# --------------------------------------------------------------------------- import


def add_import_command(sub: argparse._SubParsersAction) -> None:
    """``korefw import``."""
    p = sub.add_parser(
        "import",
        help="import vendor pages into shipped region data",
        description="Import a Kore.ai vendor page into the shipped data format, or "
        "regenerate every region's data file from the shipped pages with --all.",
    )
    p.add_argument("page", nargs="?", metavar="PAGE", help="a vendor page to import")
    p.add_argument("--region", metavar="CODE", help="its region code (default: from sources.toml)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--retrieved", metavar="YYYY-MM-DD", default="", help="when it was copied")
    p.add_argument("--all", action="store_true", help="regenerate the data file of every region")
    p.add_argument(
        "--pages",
        metavar="DIR",
        help=f"with --all: the vendor pages and their sources.toml (default: {PAGES_DIR})",
    )
    p.add_argument(
        "--out-dir", metavar="DIR", help=f"with --all: where to write (default: {DATA_DIR})"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="with --all: write nothing, exit 1 if any data file is out of date",
    )
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    """Import one page (to stdout or ``-o``) or every region (``--all``)."""
    if args.all:
        if args.page or args.output or args.region:
            raise KorefwError("--all takes no PAGE, --region or --output", where="import")
        return _import_all(args)
    if not args.page:
        raise KorefwError("give a vendor PAGE, or --all", where="import")
    output = check_output_file(args.output, where="--output") if args.output else None
    rules, prov = import_vendor_page(args.page, region=args.region or "", retrieved=args.retrieved)
    if not prov.region:
        raise KorefwError(
            f"sources.toml does not list this page; pass --region ({', '.join(region_codes())})",
            where=args.page,
        )
    text = dump(rules, prov)
    for w in lint(rules):
        _eprint(w)
    if output:
        write_files({output: text.encode()})
        _eprint(f"wrote {output} ({len(rules)} egress rules)")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _import_all(args: argparse.Namespace) -> int:
    pages = check_output_dir(args.pages, where="--pages") if args.pages else None
    out_dir = check_output_dir(args.out_dir, where="--out-dir") if args.out_dir else DATA_DIR
    texts = {code: render_region(code, pages) for code in region_codes()}  # all or nothing
    stale, changed, report = [], {}, []
    for code, text in texts.items():
        path = check_output_file(out_dir / f"{code}.toml", where="--out-dir")
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            stale.append(code)
            changed[path] = text.encode()
        if args.check:
            report.append(f"{path}: {'up to date' if old == text else 'OUT OF DATE'}")
        else:
            report.append(f"{path}: {'unchanged' if old == text else 'written'}")
    if not args.check:
        write_files(changed)
    print("\n".join(report))
    if args.check and stale:
        _eprint(f"out of date: {', '.join(stale)}; run `korefw import --all` and review the diff")
        return 1
    return EXIT_OK


# --------------------------------------------------------------------------- fetch


def add_fetch_command(sub: argparse._SubParsersAction) -> None:
    """``korefw fetch``."""
    from .core.read.fetch import DEFAULT_MAX_BYTES, DEFAULT_REF, DEFAULT_TIMEOUT, RAW_ROOT

    p = sub.add_parser(
        "fetch",
        help="download Kore's current vendor pages",
        description="Download the current vendor pages from Kore's documentation repository, "
        "check that each is a firewall-rule page korefw can read, and keep the changed ones "
        "with their provenance (sources.toml). Then run `korefw import --all` to regenerate "
        "the rule data. A failed fetch changes no file.",
    )
    p.add_argument("regions", nargs="*", metavar="REGION", help="region codes to fetch")
    p.add_argument("--all", action="store_true", help="fetch every region's page")
    p.add_argument(
        "--ref", default=DEFAULT_REF, help=f"branch, tag or commit (default: {DEFAULT_REF})"
    )
    p.add_argument(
        "--source-url",
        metavar="URL",
        help=f"fetch <URL>/<page path> instead of {RAW_ROOT.format(ref='<ref>')}<page path>",
    )
    p.add_argument(
        "--pages", metavar="DIR", help=f"the pages and their sources.toml (default: {PAGES_DIR})"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"for each page's whole download (default: {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help=f"largest page accepted (default: {DEFAULT_MAX_BYTES})",
    )
    p.add_argument(
        "--allow-http", action="store_true", help="accept plain HTTP from a non-loopback host"
    )
    p.set_defaults(func=cmd_fetch)


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch, check and keep the pages; one line per page."""
    from .core.read.fetch import fetch_pages, save_pages

    if args.all == bool(args.regions):
        raise KorefwError("give REGION codes or --all (not both)", where="fetch")
    if not 0 < args.timeout <= MAX_FETCH_TIMEOUT:  # also refuses nan
        raise KorefwError(f"expected seconds, more than 0 and at most {MAX_FETCH_TIMEOUT}",
                          where="--timeout", value=args.timeout)  # fmt: skip
    if not 0 < args.max_bytes <= MAX_FETCH_BYTES:
        raise KorefwError(f"expected a size from 1 to {MAX_FETCH_BYTES} bytes",
                          where="--max-bytes", value=args.max_bytes)  # fmt: skip
    pages = check_output_dir(args.pages, where="--pages") if args.pages else PAGES_DIR
    fetched = fetch_pages(
        region_codes() if args.all else args.regions,
        source_url=args.source_url,
        ref=args.ref,
        pages_dir=pages,
        timeout=args.timeout,
        max_bytes=args.max_bytes,
        allow_http=args.allow_http,
    )
    save_pages(fetched, pages)
    for f in fetched:
        state = "updated" if f.changed else "unchanged"
        print(f"{pages / f.source.file}: {state} ({len(f.rules)} egress rules)")
    if any(f.changed for f in fetched):
        _eprint("now run `korefw import --all` and review the diff")
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
            print(w)
        total += len(warnings)
        _eprint(f"{source}: {len(warnings)} warning{'s' if len(warnings) != 1 else ''}")
    return 1 if args.strict and total else EXIT_OK


# --------------------------------------------------------------------------- plan, diff, verify


def add_plan_command(sub: argparse._SubParsersAction) -> None:
    """``korefw plan [--stack NAME] [--json]``."""
    p = sub.add_parser(
        "plan",
        help="offline preview of a stack under Pulumi's mock runtime",
        description="Run the korefw Pulumi program for a stack in-process under Pulumi's mock "
        "runtime (no CLI, no credentials, no network) and print what `pulumi preview` would "
        "create.",
    )
    p.add_argument("--stack", default="example-jp-aws", help="stack name (stacks/Pulumi.NAME.yaml)")
    p.add_argument("--json", action="store_true", help="the shape of `pulumi preview --json`")
    p.add_argument(
        "--cwd",
        type=Path,
        default=None,
        help="project directory holding __main__.py and stacks/ (default: this project)",
    )
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the offline plan of one stack."""
    from .preview import plan_stack, render_text

    plan = plan_stack(args.stack) if args.cwd is None else plan_stack(args.stack, args.cwd)
    sys.stdout.write(plan.dumps() if args.json else render_text(plan))
    return EXIT_OK


def add_diff_command(sub: argparse._SubParsersAction) -> None:
    """``korefw diff OLD [NEW]``."""
    p = sub.add_parser(
        "diff",
        help="rule-level Markdown diff of two plans, plan folders or rule sources",
        description="Compare two plan JSON files (korefw plan --json, pulumi preview --json, "
        "streamed or not), two folders of them (paired by file name), or two rule sources "
        "(region codes, vendor pages or rule files), and print Markdown for a pull-request "
        "comment. `korefw diff STATE.json PREVIEW.json` (STATE from `pulumi stack export`) "
        "shows what the update changes, with the counts `pulumi up` reports; so does "
        "`korefw diff PREVIEW.json` alone for a preview made with --show-sames. "
        "Exit 0, or 2 when a document cannot be read or is incomplete.",
    )
    p.add_argument("old", metavar="OLD", help="a plan, a stack export, a folder, or rules")
    p.add_argument("new", metavar="NEW", nargs="?", help="a plan, a folder, or rules")
    p.add_argument("--title", default="korefw plan diff", help="heading of the comment")
    p.set_defaults(func=cmd_diff)


def _is_plan_path(text: str) -> bool:
    return text == "-" or Path(text).suffix.lower() in (".json", ".jsonl")


def cmd_diff(args: argparse.Namespace) -> int:
    """Print the Markdown diff."""
    from .core.check.plandiff import diff_plans, diff_rules, diff_update
    from .core.check.pulumidoc import load_document

    if args.new is None:
        if not _is_plan_path(args.old):
            raise KorefwError("give OLD and NEW, or one preview JSON file", where="diff",
                              value=args.old)  # fmt: skip
        sys.stdout.write(diff_update(load_document(args.old)).markdown(args.title))
        return EXIT_OK
    old, new = Path(args.old), Path(args.new)
    if old.is_dir() and new.is_dir():
        names = sorted({p.name for p in old.glob("*.json")} | {p.name for p in new.glob("*.json")})
        parts = []
        for name in names:
            a = load_document(str(old / name)) if (old / name).exists() else None
            b = load_document(str(new / name)) if (new / name).exists() else None
            parts.append(diff_plans(a, b).markdown(f"{args.title}: {name[: -len('.json')]}"))
        sys.stdout.write("\n".join(parts) if parts else f"### {args.title}\n\nNo stacks.\n")
    elif _is_plan_path(args.old) and _is_plan_path(args.new):
        d = diff_plans(load_document(args.old), load_document(args.new))
        sys.stdout.write(d.markdown(args.title))
    else:
        sys.stdout.write(
            diff_rules(load_rules(args.old), load_rules(args.new)).markdown(args.title)
        )
    return EXIT_OK


VERIFY_EXIT_CODES = """exit codes:
  0  every cloud allows exactly the vendor's flows
  1  the plan differs: each missing or extra flow is named, and each rule the cloud would
     reject or that is wider than TCP/UDP (a * or -1 protocol, two NSG rules with one
     priority and direction, an NSG open to the Internet through AllowInternetOutBound)
  2  the question cannot be decided: the document is unreadable or incomplete (a preview
     of an existing stack without --show-sames and without --state), or a value that
     decides the allow set is secret, encrypted or unknown; the message names the
     resource and the field
"""


def add_verify_command(sub: argparse._SubParsersAction) -> None:
    """``korefw verify PLAN --rules REGION|FILE [--state STATE.json]``."""
    p = sub.add_parser(
        "verify",
        help="prove a plan allows exactly the vendor's flows",
        description="PLAN may also be rendered output of `korefw render` (a GCE .gce/.json "
        "file, a Kubernetes .yml/.yaml manifest, or a folder of them): its effective allow "
        "set is compared the same way, and each FQDN rule is named as enforced (Cilium "
        "toFQDNs) or not. Compare each cloud's effective egress allow set after the update with "
        "the rules. PLAN is `pulumi preview --json` output (with or without --show-sames or "
        "--show-replacement-steps, or streamed with PULUMI_ENABLE_STREAMING_JSON_PREVIEW), "
        "`korefw plan --json` output, or a `pulumi stack export` (what is deployed now); '-' "
        "reads standard input. With --state, the preview is applied to that exported state, "
        "so a default preview of an existing stack is enough.",
        epilog=VERIFY_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("plan", metavar="PLAN", help="preview or stack export JSON file, or '-'")
    p.add_argument("--rules", required=True, metavar="REGION|FILE")
    p.add_argument(
        "--state",
        metavar="STATE.json",
        help="the stack's current state, from `pulumi stack export` (PLAN is then a preview)",
    )
    p.add_argument(
        "--egress-filtered-elsewhere",
        action="store_true",
        help="Azure: other Internet egress is filtered elsewhere (an Azure Firewall with a "
        "route table), so an NSG without a Deny for other outbound traffic is accepted and "
        "korefw's Allow rules are checked alone",
    )
    p.add_argument("--section", action="append", default=[], help="keep only this section")
    p.add_argument("--component", action="append", default=[], help="keep only this component")
    p.add_argument("--allow-dns", action="append", default=[], metavar="CIDR",
                   help="rendered output: the resolver it was rendered with (UDP/TCP 53 "
                   "expected too)")  # fmt: skip
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Print the verification report; exit 0, 1 or 2."""
    from .core.check.pulumidoc import load_document
    from .core.check.verify import verify

    rules = load_rules(args.rules).filter(sections=args.section, components=args.component)
    from .core.check.rendered import is_rendered

    if args.plan != "-" and is_rendered(args.plan):
        from .core.check.rendered import verify_rendered
        from .core.plan.aerleon_export import parse_dns

        rendered = verify_rendered(args.plan, rules, allow_dns=parse_dns(args.allow_dns))
        print(rendered.render())
        return rendered.exit_code
    if args.state is not None and args.state == args.plan == "-":
        raise KorefwError("only one of PLAN and --state can be standard input", where="verify")
    state = None if args.state is None else load_document(args.state)
    result = verify(
        load_document(args.plan),
        rules,
        state=state,
        egress_filtered_elsewhere=args.egress_filtered_elsewhere,
    )
    print(result.render())
    return result.exit_code


# --------------------------------------------------------------------------- export, render


def _add_render_options(p: argparse.ArgumentParser) -> None:
    """The per-platform header options ``export`` and ``render`` share."""
    g = p.add_argument_group("platform options (aerleon header targets)")
    g.add_argument("--filter-name", default="korefw-egress",
                   help="Junos and Cisco filter name (default: korefw-egress)")
    g.add_argument("--family", default="mixed", choices=("inet", "inet6", "mixed"),
                   help="address family (default: mixed; iptables takes the one present)")
    g.add_argument("--default-action", default="drop", choices=("drop", "accept"),
                   help="iptables and nftables chain policy (default: drop); a closing deny "
                   "term denies other flows anyway")
    g.add_argument("--iptables-chain", default="OUTPUT", help="iptables chain (default: OUTPUT)")
    g.add_argument("--nftables-hook", default="output", choices=("input", "output", "forward"),
                   help="nftables base chain hook (default: output)")
    g.add_argument("--nftables-priority", type=int, default=0,
                   help="nftables base chain priority (default: 0)")
    g.add_argument("--gce-network", default="default", help="GCE VPC network (default: default)")
    g.add_argument("--from-zone", default="trust", help="Palo Alto source zone (default: trust)")
    g.add_argument("--to-zone", default="untrust", help="Palo Alto destination zone")
    g.add_argument("--allow-dns", action="append", default=[], metavar="CIDR",
                   help="also allow UDP and TCP 53 to this resolver (the cluster's kube-dns "
                   "service address, say): an egress policy selecting every pod blocks DNS "
                   "otherwise; may repeat")  # fmt: skip


def _render_options(args: argparse.Namespace) -> Any:
    from .core.plan.aerleon_export import RenderOptions, parse_dns

    if not -(2**31) <= args.nftables_priority <= 2**31 - 1:  # nft's priority is a 32-bit int
        raise KorefwError(f"expected an integer from {-(2**31)} to {2**31 - 1}",
                          where="--nftables-priority", value=args.nftables_priority)  # fmt: skip
    return RenderOptions(
        filter_name=args.filter_name, family=args.family, default_action=args.default_action,
        iptables_chain=args.iptables_chain, nftables_hook=args.nftables_hook,
        nftables_priority=args.nftables_priority, gce_network=args.gce_network,
        from_zone=args.from_zone, to_zone=args.to_zone, allow_dns=parse_dns(args.allow_dns),
    )  # fmt: skip


def _report_unenforced(rules: RuleSet, options: Any) -> None:
    from .core.plan.aerleon_export import omitted_by_family, unenforced_fqdn_rules

    for r in unenforced_fqdn_rules(rules):
        _eprint(f"not enforced (FQDN destination): {r.origin}: {r.describe()}: "
                f"{', '.join(r.fqdns)} {'/'.join(r.protocols)} {','.join(map(str, r.ports))}")
    for r, nets in omitted_by_family(rules, options):
        _eprint(f"not rendered for --family {options.family}: {r.origin}: "
                f"{', '.join(map(str, nets))}")  # fmt: skip


def add_export_command(sub: argparse._SubParsersAction) -> None:
    """``korefw export REGION|FILE --format aerleon -o DIR``."""
    p = sub.add_parser(
        "export",
        help="write the rules as an aerleon policy and definitions",
        description="Write an aerleon (capirca successor) policy, policies/pol/korefw-REGION.yaml, "
        "and its network and service definitions, def/korefw-REGION.yaml, under DIR: one term "
        "per egress rule named from its stable identity, the vendor's section and component "
        "as comments, and a closing deny term. Run aerleon's `aclgen --base_directory "
        "DIR/policies --definitions_directory DIR/def` on it, or copy both files into an "
        "existing aerleon repository. FQDN rules are listed on stderr and in the policy "
        "header: no platform here enforces them.",
    )
    add_source_argument(p)
    p.add_argument("--format", default="aerleon", choices=("aerleon",))
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="an existing folder")
    p.add_argument("--platform", action="append", default=[], metavar="P",
                   help="header targets to include (default: all of render's platforms)")
    _add_render_options(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the policy and definitions."""
    from .core.plan.aerleon_export import PLATFORMS, export_files

    out = check_output_dir(args.output, where="--output")
    options = _render_options(args)
    rules = load_source(args)
    files = export_files(rules, options, args.platform or PLATFORMS)
    created: list[Path] = []  # folders this command made, removed again if it fails
    try:
        for rel in files:
            for folder in reversed((out / rel).parents):
                if folder.is_relative_to(out) and folder != out and not folder.exists():
                    try:
                        folder.mkdir()
                    except OSError as exc:
                        raise KorefwError(f"cannot create folder: {exc.strerror or exc}",
                                          where="--output", value=str(folder)) from None
                    created.append(folder)
        return _write_rendered(out, files, rules, options)
    except BaseException:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _write_rendered(out: Path, files: Any, rules: RuleSet, options: Any) -> int:
    """Write ``files`` (relative name -> text) under ``out`` as one step, and report."""
    write_files({check_output_file(out / rel, where="--output"): text.encode()
                 for rel, text in files.items()})  # fmt: skip
    for rel in files:
        print(f"wrote {out / rel}")
    _report_unenforced(rules, options)
    return EXIT_OK


def add_render_command(sub: argparse._SubParsersAction) -> None:
    """``korefw render REGION|FILE --platform P ... -o DIR``."""
    from .core.plan.aerleon_export import PLATFORMS

    p = sub.add_parser(
        "render",
        help="generate firewall configurations through aerleon",
        description="Generate each platform's configuration from the rules in-process through "
        "aerleon's API (pip install 'korefw[aerleon]'), with the file names aerleon's aclgen "
        "uses: korefw-REGION.nft, korefw-REGION (iptables: the chain's rules), .ipt "
        "(speedway: a whole iptables-restore file), .jcl, .acl, .xml, .gce (JSON) and .yml "
        "(Kubernetes NetworkPolicyList). FQDN rules are listed on "
        "stderr: no platform here enforces them.",
    )
    add_source_argument(p)
    p.add_argument("--platform", action="append", required=True, choices=PLATFORMS, metavar="P",
                   help=f"one of {', '.join(PLATFORMS)}; may repeat")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="an existing folder")
    _add_render_options(p)
    p.set_defaults(func=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    """Generate and write every platform's file."""
    from .core.plan.aerleon_export import generate

    out = check_output_dir(args.output, where="--output")
    options = _render_options(args)
    rules = load_source(args)
    return _write_rendered(out, generate(rules, list(dict.fromkeys(args.platform)), options),
                           rules, options)  # fmt: skip


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
    from .package import schema

    print(json.dumps(schema(), indent=2))
    return EXIT_OK


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``korefw`` parser with every command."""
    parser = argparse.ArgumentParser(
        prog="korefw",
        description="Kore.ai voice-gateway egress firewall rules: read, check, import, plan, "
        "diff and verify.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_rules_command(sub)
    add_check_command(sub)
    add_import_command(sub)
    add_fetch_command(sub)
    add_lint_command(sub)
    add_plan_command(sub)
    add_diff_command(sub)
    add_verify_command(sub)
    add_export_command(sub)
    add_render_command(sub)
    add_schema_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``korefw``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(func(args))
    except KorefwError as exc:
        _eprint(f"korefw: error: {exc}")
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly. Point stdout at devnull so that
        # the interpreter's final flush does not fail again (Python's signal docs).
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    # Last resort; the readers name the file and field where they can.
    except RecursionError:
        _eprint("korefw: error: input nested too deeply to read")
        return EXIT_ERROR
    except UnicodeDecodeError as exc:
        _eprint(f"korefw: error: input is not UTF-8 text (byte {exc.start})")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
