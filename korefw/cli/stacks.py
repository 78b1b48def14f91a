"""``korefw plan``, ``diff``, ``verify``, ``export`` and ``render``: stacks and rendered output."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..core.errors import KorefwError
from ..core.read.regions import (
    load_rules,
)
from ..core.rules.model import RuleSet
from ..core.safewrite import check_output_dir, check_output_file, new_folders, write_files
from .common import (
    EXIT_OK,
    add_filter_arguments,
    add_source_argument,
    eprint,
    load_filtered,
    load_source,
)

# --------------------------------------------------------------------------- plan, diff, verify


def add_plan_command(sub: argparse._SubParsersAction) -> None:
    """``korefw plan [--cwd DIR] [--stack NAME] [--json]``."""
    p = sub.add_parser(
        "plan",
        help="offline preview of a stack under Pulumi's mock runtime",
        description="Run a Pulumi Python program (korefw's own, or yours that uses korefw's "
        "components) for one stack in-process under Pulumi's mock runtime (no CLI, no "
        "credentials, no network) and print what `pulumi preview` would create. The project "
        "is read as Pulumi reads it: Pulumi.yaml (name, main, stackConfigDir and its config "
        "values) and Pulumi.STACK.yaml beside it or in stackConfigDir.",
    )
    p.add_argument("--stack", default=None, metavar="NAME",
                   help="stack name (Pulumi.NAME.yaml); may be left out when the project has "
                   "one stack, and the stacks are listed when it has several")  # fmt: skip
    p.add_argument("--json", action="store_true", help="the shape of `pulumi preview --json`")
    p.add_argument(
        "--cwd",
        type=Path,
        default=None,
        metavar="DIR",
        help="project folder holding Pulumi.yaml (default: the nearest one from the working "
        "directory up, else korefw's own project)",
    )
    p.add_argument(
        "--state",
        default=None,
        metavar="STATE.json",
        help="what the stack has deployed: a `pulumi stack export` (or a plan document, read "
        "as the state after its update). The components' reads of what the cloud holds (the "
        "prefix lists' entries, an existing NSG's rules) are answered from it, so the plan "
        "orders its update as `pulumi preview` would against that stack; without it, as "
        "against a cloud holding nothing of the stack yet",
    )
    p.set_defaults(func=cmd_plan)


def choose_stack(project_dir: Path, stack: str | None) -> str:
    """``stack``, or the project's only stack; with several, one error listing them."""
    from ..runtime.preview import check_stack_name, load_project

    if stack is not None:
        return check_stack_name(stack, where="--stack")
    project = load_project(project_dir)
    names = project.stacks()
    if len(names) == 1:
        return names[0]
    where = os.path.relpath(project.config_dir) if names else str(project.config_dir)
    if not names:
        raise KorefwError("no stack settings (Pulumi.NAME.yaml) in this project", where=where)
    raise KorefwError(f"which stack? give --stack NAME, one of: {', '.join(names)}",
                      where=where)  # fmt: skip


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the offline plan of one stack."""
    from ..runtime.preview import find_project, plan_stack, render_text

    held: list[Any] = []
    if args.state is not None:
        from ..core.check.pulumidoc import load_document
        from ..core.check.steps import states

        held = list(states(load_document(args.state)).values())
    project_dir = (args.cwd or find_project()).resolve()
    plan = plan_stack(choose_stack(project_dir, args.stack), project_dir, held)
    if args.json:
        sys.stdout.write(plan.dumps())
        return EXIT_OK
    width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 120
    sys.stdout.write(render_text(plan, width=max(width, 80)))
    return EXIT_OK


def add_diff_command(sub: argparse._SubParsersAction) -> None:
    """``korefw diff OLD [NEW] [--format term|markdown]``."""
    p = sub.add_parser(
        "diff",
        help="rule-level diff of two plans, plan folders or rule sources",
        description="Compare two plan JSON files (korefw plan --json, pulumi preview --json, "
        "streamed or not), two folders of them (paired by file name), or two rule sources "
        "(region codes, vendor pages or rule files). `korefw diff STATE.json PREVIEW.json` "
        "(STATE from `pulumi stack export`) shows what the update changes, with the counts "
        "`pulumi up` reports; so does `korefw diff PREVIEW.json` alone for a preview made "
        "with --show-sames. Printed in colour on a terminal, as Markdown for a pull-request "
        "comment otherwise. Exit 0, or 2 when a document cannot be read or is incomplete.",
    )
    p.add_argument("old", metavar="OLD", help="a plan, a stack export, a folder, or rules")
    p.add_argument("new", metavar="NEW", nargs="?", help="a plan, a folder, or rules")
    p.add_argument("--title", default="korefw plan diff", help="heading of the comment")
    p.add_argument("--format", choices=("term", "markdown"), default=None,
                   help="term: coloured lines (the default on a terminal); markdown: a "
                   "pull-request comment (the default otherwise)")  # fmt: skip
    p.set_defaults(func=cmd_diff)


def _is_plan_path(text: str) -> bool:
    return text == "-" or Path(text).suffix.lower() in (".json", ".jsonl")


def _diffs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(title, Diff) for each comparison the arguments ask for."""
    from ..core.check.plandiff import diff_plans, diff_rules, diff_update
    from ..core.check.pulumidoc import load_document

    if args.new is None:
        if not _is_plan_path(args.old):
            raise KorefwError("give OLD and NEW, or one preview JSON file", where="diff",
                              value=args.old)  # fmt: skip
        return [(args.title, diff_update(load_document(args.old)))]
    old, new = Path(args.old), Path(args.new)
    if old.is_dir() and new.is_dir():
        names = sorted({p.name for p in old.glob("*.json")} | {p.name for p in new.glob("*.json")})
        parts = []
        for name in names:
            a = load_document(str(old / name)) if (old / name).exists() else None
            b = load_document(str(new / name)) if (new / name).exists() else None
            parts.append((f"{args.title}: {name[: -len('.json')]}", diff_plans(a, b)))
        return parts
    if _is_plan_path(args.old) and _is_plan_path(args.new):
        return [(args.title, diff_plans(load_document(args.old), load_document(args.new)))]
    return [(args.title, diff_rules(load_rules(args.old), load_rules(args.new)))]


# ANSI SGR colours of the terminal form: bold title, yellow hazards, green +, red -.
_STYLES = {"title": "1", "summary": "", "hazard": "1;33", "add": "32", "remove": "31"}


def _colour() -> bool:
    """Colour on a terminal, unless NO_COLOR is set; FORCE_COLOR asks for it anyway
    (https://no-color.org, https://force-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def cmd_diff(args: argparse.Namespace) -> int:
    """Print the diff: coloured lines on a terminal, Markdown otherwise (or ``--format``)."""
    diffs = _diffs(args)
    fmt = args.format or ("term" if sys.stdout.isatty() else "markdown")
    if fmt == "markdown":
        text = "\n".join(d.markdown(title) for title, d in diffs)
        sys.stdout.write(text if diffs else f"### {args.title}\n\nNo stacks.\n")
        return EXIT_OK
    colour = _colour()
    out = [] if diffs else [f"{args.title}: no stacks"]
    for i, (title, d) in enumerate(diffs):
        out += [""] if i else []
        for style, line in d.styled(title):
            code = _STYLES[style]
            out.append(f"\x1b[{code}m{line}\x1b[0m" if colour and code else line)
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


VERIFY_EXIT_CODES = """exit codes:
  0  every cloud allows exactly the vendor's flows
  1  the plan differs: each missing or extra flow is named (egress to a security group
     counts as every address), and each rule the cloud would reject or that is wider
     than TCP/UDP (a * or -1 protocol, ICMP, two NSG rules with one priority and
     direction, an NSG open to the Internet through AllowInternetOutBound)
  2  the question cannot be decided: the document is unreadable or incomplete (a preview
     of an existing stack without --show-sames and without --state), or a value that
     decides the allow set is secret, encrypted, unknown or malformed; the message names
     the resource and the field
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
    add_filter_arguments(p)
    p.add_argument("--allow-dns", action="append", default=[], metavar="CIDR",
                   help="rendered output: the resolver it was rendered with (UDP/TCP 53 "
                   "expected too)")  # fmt: skip
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Print the verification report; exit 0, 1 or 2."""
    from ..core.check.pulumidoc import load_document
    from ..core.check.verify import verify

    rules = load_filtered(args, "rules")
    from ..core.check.rendered import is_rendered

    if args.plan != "-" and is_rendered(args.plan):
        from ..core.check.rendered import verify_rendered
        from ..core.plan.aerleon_export import parse_dns

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
    from ..core.plan.aerleon_export import RenderOptions, parse_dns

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
    from ..core.plan.aerleon_export import omitted_by_family, one_line, unenforced_fqdn_rules

    # Page text goes to a terminal: one_line keeps escape sequences and line breaks out.
    for r in unenforced_fqdn_rules(rules):
        eprint(f"not enforced (FQDN destination): {one_line(str(r.origin))}: "
               f"{one_line(r.describe())}: {', '.join(r.fqdns)} {'/'.join(r.protocols)} "
               f"{','.join(map(str, r.ports))}")  # fmt: skip
    for r, nets in omitted_by_family(rules, options):
        eprint(f"not rendered for --family {options.family}: {one_line(str(r.origin))}: "
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
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output folder (created if missing)")
    p.add_argument("--platform", action="append", default=[], metavar="P",
                   help="header targets to include (default: all of render's platforms)")
    _add_render_options(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the policy and definitions."""
    from ..core.plan.aerleon_export import PLATFORMS, export_files

    out = check_output_dir(args.output, where="--output", create=True)
    options = _render_options(args)
    rules = load_source(args)
    return _write_rendered(out, export_files(rules, options, args.platform or PLATFORMS),
                           rules, options)  # fmt: skip


def _write_rendered(out: Path, files: Any, rules: RuleSet, options: Any) -> int:
    """Write ``files`` (relative name -> text) under ``out`` as one step, creating the
    folders they need (none is left behind if a write fails), and report."""
    with new_folders(out, files, where="--output"):
        write_files({check_output_file(out / rel, where="--output"): text.encode()
                     for rel, text in files.items()})  # fmt: skip
    for rel in files:
        print(f"wrote {out / rel}")
    _report_unenforced(rules, options)
    return EXIT_OK


def add_render_command(sub: argparse._SubParsersAction) -> None:
    """``korefw render REGION|FILE --platform P ... -o DIR``."""
    from ..core.plan.aerleon_export import PLATFORMS

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
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output folder (created if missing)")
    _add_render_options(p)
    p.set_defaults(func=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    """Generate and write every platform's file."""
    from ..core.plan.aerleon_export import generate

    out = check_output_dir(args.output, where="--output", create=True)
    options = _render_options(args)
    rules = load_source(args)
    return _write_rendered(out, generate(rules, list(dict.fromkeys(args.platform)), options),
                           rules, options)  # fmt: skip
