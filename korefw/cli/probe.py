"""``korefw probe``: are a region's egress flows really open from this machine?

Only the parser is declared here at import; :func:`cmd_probe` imports the probe's
modules (sockets, TLS, threads) when the command runs, so other commands never load them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from .common import add_filter_arguments, add_source_argument, eprint, load_filtered

if TYPE_CHECKING:
    from ..core.probe.flows import ProbePlan
    from ..probe.runner import Result, Settings


def add_probe_command(sub: argparse._SubParsersAction) -> None:
    """``korefw probe``."""
    p = sub.add_parser(
        "probe",
        help="check from this machine that each egress flow is really open",
        description="Try each flow the egress rules allow, from this machine: a TCP "
        "handshake to each SBC port, a STUN Binding request over UDP and TCP to the STUN/TURN "
        "addresses, DNS and a verified TLS handshake (SNI = the name) for host-named rules. "
        "Nothing is sent after a handshake. CIDRs and port ranges are sampled (the first "
        "host address, the first port); UDP flows with no STUN responder are reported "
        "unverifiable. Exit 0 when every probed flow is open, 1 when any is not, 2 on bad input.",
    )
    add_source_argument(p)
    add_filter_arguments(p, "probe")
    p.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host under a wildcard FQDN rule to probe (e.g. a name under "
        "*.kore.ai; may repeat); wildcard rules are unverifiable without one",
    )
    p.add_argument(
        "--addresses-per-cidr",
        type=int,
        default=1,
        metavar="N",
        help="probe the first N host addresses of each CIDR (default 1, at most 16)",
    )
    p.add_argument(
        "--ports-per-range",
        type=int,
        default=1,
        metavar="N",
        help="probe the first N ports of each TCP port range (default 1, at most 16)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="per attempt (default 3, at most 60)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="for the whole probe; flows not done by then fail (default 60, at most 600)",
    )
    p.add_argument(
        "--parallel",
        type=int,
        default=16,
        metavar="N",
        help="flows probed at once (default 16, at most 64)",
    )
    p.add_argument(
        "--attempts",
        type=int,
        default=1,
        metavar="N",
        help="tries per flow when an attempt times out (default 1, at most 5)",
    )
    p.add_argument(
        "--ca-file",
        metavar="PEM",
        help="verify TLS certificates against these CAs instead of the system's",
    )
    p.add_argument(
        "--target-override",
        action="append",
        default=[],
        metavar="ADDR[:PORT]=HOST[:PORT]",
        help="send the flows to Kore's ADDR (or host name; on PORT only, if given) "
        "to HOST instead, for tests (may repeat)",
    )
    p.add_argument(
        "--target-override-all",
        metavar="HOST",
        help="send every flow to HOST (same ports), for tests",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    """Plan the flows, probe them, print the verdicts; exit 0 or 1."""
    from ..core.probe.flows import Sampling, exit_code, make_overrides, plan_probe
    from ..probe.runner import Settings, run_probe, verdicts

    settings = Settings(args.timeout, args.deadline, args.parallel, args.attempts, args.ca_file)
    rules = load_filtered(args)
    plan = plan_probe(rules, Sampling(args.addresses_per_cidr, args.ports_per_range), args.host)
    overrides = make_overrides(args.target_override, args.target_override_all)
    results = run_probe(plan, settings, overrides)
    code = exit_code(verdicts(results))
    if args.json:
        print(json.dumps(_to_json(plan, settings, results, code), indent=2, ensure_ascii=False))
    else:
        _print_table(plan, results)
    if not plan.probed():
        eprint("korefw probe: no flow of these rules can be probed (see the notes)")
    return code


def _sampling_text(plan: ProbePlan) -> str:
    s = plan.sampling
    addrs = (
        "the first host address"
        if s.addresses_per_cidr == 1
        else (f"the first {s.addresses_per_cidr} host addresses")
    )
    ports = "the first port" if s.ports_per_range == 1 else f"the first {s.ports_per_range} ports"
    return (
        f"Sampled, not swept: {addrs} of each CIDR and {ports} of each range "
        "(--addresses-per-cidr, --ports-per-range)."
    )


def _to_json(
    plan: ProbePlan, settings: Settings, results: list[Result], code: int
) -> dict[str, Any]:
    counts = Counter(r.outcome.verdict.value for r in results)
    return {
        "region": plan.rules.region,
        "source": plan.rules.source,
        "sampling": {
            "addresses_per_cidr": plan.sampling.addresses_per_cidr,
            "ports_per_range": plan.sampling.ports_per_range,
        },
        "settings": {
            "timeout": settings.timeout,
            "deadline": settings.deadline,
            "parallel": settings.parallel,
            "attempts": settings.attempts,
        },
        "flows": [
            {
                "protocol": r.flow.protocol.value,
                "target": r.flow.target,
                "port": r.flow.port,
                "check": r.flow.check.value,
                "verdict": r.outcome.verdict.value,
                "detail": r.outcome.detail,
                "contacted": r.outcome.contacted,
                "overridden_to": str(r.routed) if r.routed else None,
                "rule": {
                    "destination": r.flow.destination,
                    "ports": r.flow.ports,
                    "section": r.flow.rule.section,
                    "component": r.flow.rule.component,
                    "file": r.flow.rule.origin.file,
                    "line": r.flow.rule.origin.line,
                },
            }
            for r in results
        ],
        "summary": dict(sorted(counts.items())),
        "exit_code": code,
    }


def _print_table(plan: ProbePlan, results: list[Result]) -> None:
    from .table import Column, render

    columns = (
        Column("Verdict"),
        Column("Protocol"),
        Column("Port"),
        Column("Destination"),
        Column("Check"),
        Column("Detail"),
        Column("Line", right=True),
    )
    rows = []
    for r in results:
        dest = r.flow.target
        if r.flow.destination not in (dest, f"{dest}/32", f"{dest}/128"):
            dest += f"\n(of {r.flow.destination})"
        if r.routed:
            dest += f"\n→ {r.routed} (override)"
        probed = r.flow.check.value != "none"
        port = str(r.flow.port) if probed else r.flow.ports
        if port != r.flow.ports:
            port += f"\n(of {r.flow.ports})"
        rows.append((r.outcome.verdict.value, r.flow.protocol.value, port, dest,
                     r.flow.check.value, r.outcome.detail, str(r.flow.rule.origin.line)))
    rules = plan.rules
    title = f"{rules.region or rules.source}: {len(results)} flows, {len(plan.probed())} probed"
    print(render(title, columns, rows))
    counts = Counter(r.outcome.verdict.value for r in results)
    print(", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    print(_sampling_text(plan))
