"""korefw benchmarks: resource and quota figures per region, plan time, scaling and memory.

Run from the repository root::

    .venv/bin/python bench/run.py            # full run, prints the report
    .venv/bin/python bench/run.py --quick    # smoke run (no 10,000-rule or 100-stack runs)
    .venv/bin/python bench/run.py --write    # full run, (re)writes docs/benchmarks.md

Timings are wall-clock (``time.perf_counter``). Whatever must start cold (imports) or
should not share a process with other measurements (the large mock-runtime runs, the
stack sequences, whose peak RSS is reported) runs in a fresh subprocess of this script
(``bench/worker.py``). Nothing here touches the network or a cloud account.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]


from measure import maxrss_mb, python_calls, synthetic, timed, traced_peak  # noqa: E402
from startup import section as startup_section  # noqa: E402
from worker import VPC, worker  # noqa: E402

from korefw.core.errors import KorefwError, PlanError  # noqa: E402
from korefw.core.plan.aws_options import AwsOptions  # noqa: E402
from korefw.core.plan.aws_plan import plan_aws  # noqa: E402
from korefw.core.plan.azure_options import AzureOptions  # noqa: E402
from korefw.core.plan.azure_plan import plan_azure  # noqa: E402
from korefw.core.plan.fqdn import CloudPlan  # noqa: E402
from korefw.core.read.regions import load_rules, region_codes  # noqa: E402
from korefw.core.rules.model import RuleSet  # noqa: E402
from korefw.core.rules.ports import merge_ports  # noqa: E402

OUTPUT = ROOT / "docs" / "benchmarks.md"
AWS_MODES = ("cidr", "prefix-list", "auto")
AZURE_MERGES = ("none", "section", "all")
JP_STACKS = ("example-jp-aws", "example-jp-azure")
PACKAGES = ("korefw", "pulumi", "pulumi_aws", "pulumi_azure_native", "grpcio", "protobuf")
OFFLINE_KINDS = ("azure-all", "aws-prefix-list", "aws-cidr")


def secs(value: float) -> str:
    """Seconds, readable: ms below one second."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def mib(value: float) -> str:
    return f"{value:.0f} MiB"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A GitHub-flavoured Markdown table, first column left-aligned, the rest right."""
    align = [":---", *("---:" for _ in header[1:])]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


# --------------------------------------------------------------------------- 1. figures


def aws_naive(rules: RuleSet) -> int:
    """One SG rule per vendor row x protocol x CIDR x port range."""
    return sum(len(r.protocols) * len(r.cidrs) * len(r.ports) for r in rules.ip_rules())


def aws_lower_bound(rules: RuleSet) -> int:
    """Distinct (protocol, merged port range, CIDR): per (protocol, CIDR), merged port runs."""
    ports: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rules.ip_rules():
        for proto in r.protocols:
            for net in r.cidrs:
                ports[(str(proto), str(net))].extend(r.ports)
    return sum(len(merge_ports(p)) for p in ports.values())


def azure_naive(rules: RuleSet) -> int:
    """One NSG rule per vendor row x protocol."""
    return sum(len(r.protocols) for r in rules.ip_rules())


def aws_figures(rules: RuleSet, mode: str) -> tuple[str, str]:
    """(quota units, cloud resources) of a new-group EgressSecurityGroup in ``mode``."""
    from korefw.components.aws import EgressSecurityGroup
    from korefw.runtime.offline import run_offline

    try:
        plan = plan_aws(rules, AwsOptions(mode=mode))
    except KorefwError as exc:
        return f"error: {exc.detail[:40]}", "-"
    quota = sum(q["ipv4"] + q["ipv6"] for q in plan.quota_used)
    offline = run_offline(lambda: EgressSecurityGroup("kf", rules=rules, vpc_id=VPC, mode=mode))
    return str(quota), str(sum(r.custom for r in offline.resources))


def figures() -> list[str]:
    """Resource and quota figures for every region and both clouds."""
    rows = []
    for code in region_codes():
        rules = load_rules(code)
        aws = [aws_figures(rules, m) for m in AWS_MODES]
        nsg = [len(plan_azure(rules, AzureOptions(merge=m)).allow_rules()) for m in AZURE_MERGES]
        rows.append(
            [
                code,
                len(rules),
                len(rules.ip_rules()),
                aws_naive(rules),
                aws_lower_bound(rules),
                *(f"{q} / {n}" for q, n in aws),
                azure_naive(rules),
                *nsg,
            ]
        )
    header = [
        "Region",
        "Vendor rows",
        "IP rows",
        "AWS naive rules",
        "AWS lower bound",
        "korefw cidr",
        "korefw prefix-list",
        "korefw auto",
        "Azure naive",
        "NSG none",
        "NSG section",
        "NSG all",
    ]
    return [
        "## Resources and quota per region",
        "",
        "korefw AWS columns are *quota units / cloud resources* for new security groups",
        "(`rule_limit` 60, sharding on): quota units are what the egress rules cost against",
        "the per-group rule quota, summed over groups and IP versions (a prefix-list reference",
        "costs the list's `max_entries`); resources are the custom resources registered under",
        "the mock runtime (security groups, egress rules, prefix lists; the component wrappers",
        "are not counted). *AWS naive*: one rule per vendor row x protocol x CIDR x port range",
        "(after korefw's per-row normalisation, which already merges a row's ports and CIDRs).",
        "*AWS lower bound*: distinct (protocol, merged port range, CIDR) triples, the fewest",
        "CIDR-addressed rules that can express the rows exactly. Azure columns count NSG Allow",
        "rules (no Deny rule): *naive* is one per vendor row x protocol; then korefw's",
        "`merge` modes. FQDN-only rows need no IP rule and are in neither count.",
        "",
        *table(header, rows),
        "",
    ]


# --------------------------------------------------------------------------- 2. Japan


def japan(reps: int) -> tuple[list[str], dict[str, Any]]:
    """Import, planning and mock-runtime registration time for the Japan stacks."""
    import korefw.runtime.program as program
    from korefw.components.aws import plan_for as aws_plan_for
    from korefw.components.azure import plan_for as azure_plan_for
    from korefw.core.plan.config import validate
    from korefw.runtime.preview import load_stack
    from korefw.runtime.program import component_kwargs

    stack_rules = program.stack_rules

    imports = [worker("import") for _ in range(reps)]
    imp = {k: statistics.median(i[k] for i in imports) for k in imports[0]}
    rows = []
    head: dict[str, Any] = {"import": imp}
    warm = reps * 5
    for stack in JP_STACKS:
        cfg = validate(load_stack(stack), where=stack)
        rules = stack_rules(cfg)
        planner, kwargs = (
            (aws_plan_for, component_kwargs(cfg, "EgressSecurityGroup"))
            if "aws" in cfg["targets"]
            else (azure_plan_for, component_kwargs(cfg, "EgressNetworkSecurityGroup"))
        )
        t_plan = timed(lambda p=planner, r=rules, k=kwargs: p(rules=r, **k), reps * 10)  # type: ignore[misc]
        res = worker("stacks", stack, str(warm))
        rows.append(
            [
                f"`{stack}`",
                res["resources"],
                secs(t_plan),
                secs(res["first"]),
                secs(res["median"]),
                secs(res["median"] - t_plan),
            ]
        )
        head[stack] = {"plan": t_plan, **res}
    lines = [
        "## Plan time: the Japan stacks",
        "",
        f"Import, in a fresh interpreter (median of {reps}): `import pulumi` "
        f"{secs(imp['pulumi'])}, then `import korefw.runtime.program, korefw.components.aws, "
        f"korefw.components.azure` "
        f"{secs(imp['korefw'])}, then loading the provider submodules korefw registers "
        f"resources from (`pulumi_aws.ec2`, `pulumi_aws.vpc`, "
        f"`pulumi_azure_native.network`; the SDKs load submodules lazily) "
        f"{secs(imp['providers'])}: **{secs(imp['total'])} in all**, peak RSS "
        f"{mib(imp['maxrss_mb'])}.",
        "",
        "*Planner*: the pure planner (`plan_for`: the stack's rules and options to a plan, "
        f"no resources; median of {reps * 10}). *Cold plan_stack*: the first offline plan "
        "in a fresh interpreter, after the imports above (`__main__.py` under the mock "
        "runtime; includes loading provider submodules and reading the data file). *Warm "
        f"plan_stack*: median of {warm} further runs in that process: settings, rule "
        "selection, planning and registration of every resource. *Registration*: warm "
        "minus planner, what the mock runtime and the SDK resource classes cost.",
        "",
        *table(
            ["Stack", "Resources", "Planner", "Cold plan_stack", "Warm plan_stack", "Registration"],
            rows,
        ),
        "",
    ]
    return lines, head


# --------------------------------------------------------------------------- 3. scaling


def scaling(sizes: Sequence[int], offline_sizes: dict[str, Sequence[int]]) -> tuple[
    list[str], dict[str, Any]
]:  # fmt: skip
    """Pure planners and mock-runtime runs on synthetic sets of growing size."""
    planners: dict[str, Callable[[RuleSet], CloudPlan]] = {
        "AWS cidr (planner)": lambda r: plan_aws(r, AwsOptions(mode="cidr")),
        "AWS prefix-list (planner)": lambda r: plan_aws(r, AwsOptions(mode="prefix-list")),
        "Azure all (planner)": lambda r: plan_azure(r, AzureOptions(merge="all")),
    }
    times: dict[str, dict[int, float]] = defaultdict(dict)
    sizes_out: dict[str, dict[int, int]] = defaultdict(dict)
    peaks: dict[str, int] = {}
    calls: dict[str, dict[int, int]] = defaultdict(dict)
    refused: dict[str, set[int]] = defaultdict(set)
    biggest = max(sizes)
    for n in sizes:
        rules = synthetic(n)
        reps = 5 if n <= 1000 else 3
        for name, fn in planners.items():
            try:
                fn(rules)
            except PlanError:  # over Azure's 4,000 addresses per NSG: nothing to time
                if not name.startswith("Azure"):
                    raise
                refused[name].add(n)
                continue
            times[name][n] = timed(lambda f=fn, r=rules: f(r), reps)  # type: ignore[misc]
            out = fn(rules)
            sizes_out[name][n] = out.rule_count
            if n in (1_000, 10_000):
                calls[name][n] = python_calls(lambda f=fn, r=rules: f(r))  # type: ignore[misc]
            if n == biggest:
                peaks[name] = traced_peak(lambda f=fn, r=rules: f(r))  # type: ignore[misc]
    rss: dict[str, tuple[float, float]] = {}
    for kind in OFFLINE_KINDS:
        name = {
            "azure-all": "Azure all (mock runtime)",
            "aws-prefix-list": "AWS prefix-list (mock runtime)",
            "aws-cidr": "AWS cidr (mock runtime)",
        }[kind]
        for n in offline_sizes[kind]:
            if kind == "azure-all" and n in refused["Azure all (planner)"]:
                refused[name].add(n)
                continue
            res = worker("offline", kind, str(n))
            times[name][n] = res["seconds"]
            sizes_out[name][n] = res["resources"]
            if n == biggest:
                rss[name] = (res["maxrss_before_mb"], res["maxrss_mb"])

    def cell(name: str, n: int) -> str:
        if n in refused[name]:
            return "refused: over Azure's 4,000 addresses per NSG"
        if n not in times[name]:
            return "not run"
        return f"{secs(times[name][n])} ({sizes_out[name][n]:,})"

    def ratio(t: dict[int, Any]) -> str:
        return f"{t[10_000] / t[1_000]:.1f}x" if 10_000 in t and 1_000 in t else "-"

    rows = [
        [name, *(cell(name, n) for n in sizes), ratio(times[name]), ratio(calls.get(name, {}))]
        for name in times
    ]
    lines = [
        "## Scaling: synthetic rule sets",
        "",
        "Synthetic sets (`bench/synthetic.py`): *n* vendor rows, each one distinct "
        "destination (75 % IPv4 /32, 20 % /28, 5 % IPv6 /64) and one of six Kore-like port "
        "profiles (HTTPS, SIP tcp+udp, RTP 10000-60000/udp, TURN, DNS), over "
        "max(10, n/100) sections. Each cell is wall time and, in brackets, the output size: "
        "egress rules or NSG rules for planners, registered cloud resources for mock-runtime "
        "runs. Planner cells are the median of 5 runs (3 at 10,000); each mock-runtime cell "
        "is one run in a fresh interpreter after a small warm-up run.",
        "",
        *table(
            ["Work", *(f"{n:,} rules" for n in sizes), "10k / 1k time", "10k / 1k calls"],
            rows,
        ),
        "",
    ]
    if biggest >= 10_000:
        lines += [
            "The *calls* column counts the Python function calls a planner makes "
            "(`sys.setprofile`), a measure of work free of timing noise: tenfold rules, "
            "about tenfold calls, so the planners' work is linear. Wall time can grow "
            "faster than the work (memory locality, and the garbage collector's full "
            "passes, which scan every live object, get dearer as the heap grows).",
            "",
        ]
    lines += [
        f"### Memory at {biggest:,} rules",
        "",
        *table(
            ["Work", "Peak"],
            [[f"{k} (tracemalloc peak)", mib(v / 2**20)] for k, v in peaks.items()]
            + [
                [f"{k} (max RSS, after imports -> after run)", f"{mib(a)} -> {mib(b)}"]
                for k, (a, b) in rss.items()
            ],
        ),
        "",
    ]
    return lines, {"times": times, "sizes": sizes_out, "peaks": peaks, "rss": rss}


def stacks(counts: Sequence[int]) -> tuple[list[str], dict[str, Any]]:
    """1, 10, 100 offline plans of each Japan stack in sequence, in one process each."""
    rows = []
    out: dict[str, Any] = {}
    for stack in JP_STACKS:
        for count in counts:
            res = worker("stacks", stack, str(count))
            out[f"{stack} x{count}"] = res
            rows.append(
                [
                    f"`{stack}`",
                    count,
                    secs(res["seconds"]),
                    secs(res["seconds"] / count),
                    f"{mib(res['maxrss_before_mb'])} -> {mib(res['maxrss_mb'])}",
                ]
            )
    lines = [
        "## Scaling: many stacks in sequence",
        "",
        "`plan_stack` of the same stack *k* times in one process (after one warm-up run), "
        "as a CI job checking many stacks would. Max RSS after the warm-up -> after the "
        "*k* plans shows whether repeated mock-runtime runs accumulate memory.",
        "",
        *table(["Stack", "Plans", "Total", "Per plan", "Max RSS"], rows),
        "",
    ]
    return lines, out


# --------------------------------------------------------------------------- transitions


def transitions() -> list[str]:
    """The transition census (bench/census.py) and each AWS layout's cost per region."""
    from census import KINDS, census, layouts

    counts = census()
    targets = sorted({k[1] for k in counts if k[0] == "checked"})
    hazards = ("refused", "quota", "duplicate", "priority", "name")
    rows = []
    for target in targets:
        checked = sum(counts["checked", target, k] for k in KINDS)
        cells = []
        for kind in KINDS:
            found = {h: counts[h, target, kind] for h in hazards if counts[h, target, kind]}
            cells.append(", ".join(f"{n} {h}" for h, n in found.items()) or "0")
        rows.append([f"`{target}`", checked, *cells])
    total = sum(v for k, v in counts.items() if k[0] == "checked")
    flagged = {h: sum(v for k, v in counts.items() if k[0] == h) for h in hazards}
    regroup = sum(v for k, v in counts.items() if k[0] == "groups")
    blind = sum(v for k, v in counts.items() if k[0] == "blind")
    cost_rows = []
    for code in region_codes():
        lay = layouts(load_rules(code))
        cost_rows.append([code, *(f"{lay[m][0]} / {lay[m][1]}" for m in AWS_MODES)])
    return [
        "## Transitions: every single-row change, simulated in Pulumi's order",
        "",
        "`bench/census.py` (asserted by `tests/test_transitions.py`): every row of every "
        "shipped region, changed one way at a time (*row*: removed and added back; "
        "*relabel*: its component and protocol text renamed; *port*: its first port range "
        "moved by one; *address*: its first address replaced by the next block; *section*: "
        "moved to a section of its own), planned before and after in each AWS mode on a new "
        "and an existing security group (defaults: `rule_limit` 60, no headroom) and in each "
        "Azure merge mode on a new and an existing NSG (Deny rule on), each transition in "
        "both directions. Each update is planned against what the cloud holds (the old "
        "plan's state), as the components plan it, so it is ordered: a prefix list or NSG "
        "rule that stops allowing what another takes over waits for that one. The model: "
        "creates and updates first, a resource after what it depends on, deletes at the "
        "end, a replacement created first unless delete-first. *refused*: a flow both plans "
        "allow that, at some moment allowed by the dependencies, no rule allows; *quota*: a "
        "security group "
        "over its quota at the peak; *duplicate*: an identical egress rule created while "
        "the old one exists; *priority* / *name*: an NSG rule created on a priority or name "
        "still held.",
        "",
        f"- {total} transitions checked; {flagged['quota']} pass a quota at the peak, "
        f"{flagged['duplicate']} duplicate an egress rule, {flagged['priority']} reuse a "
        f"held priority; {regroup} change the number of security groups (named as such).",
        f"- {flagged['refused']} refuse a still-allowed flow for a moment and "
        f"{flagged['name']} create an NSG rule on a name still held. Planned from the new "
        f"data alone (nothing held, so nothing ordered), {blind} of them would refuse a flow "
        "or conflict on a priority or name (AWS `prefix-list` when an address changes "
        "lists; existing NSGs when merged rules exchange an address or a hash collision "
        "moves a rule): `tests/test_transitions.py` checks the model still sees those.",
        "",
        *table(["Layout", "Checked", *KINDS], rows),
        "",
        "Quota cost of each AWS layout per region (new security group, defaults): "
        "*prefix lists / quota units*. `cidr` and `auto` cost the same quota by design "
        "(`auto` takes a list only where it costs no more than its CIDR rules); "
        "`prefix-list` costs more where references cannot merge adjacent ports.",
        "",
        *table(["Region", *AWS_MODES], cost_rows),
        "",
    ]


# --------------------------------------------------------------------------- report


def machine() -> list[str]:
    """Date, machine and versions."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for pkg in PACKAGES:
        try:
            versions.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    return [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {cpus} CPUs (`nproc`){f', {model}' if model else ''}, "
        f"{platform.system()} {platform.release()} {platform.machine()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- Packages: {', '.join(versions)}",
    ]


def report(quick: bool) -> tuple[str, dict[str, Any]]:
    """Run everything and render the Markdown report."""
    started = time.perf_counter()
    sizes = (100, 1_000) if quick else (100, 1_000, 10_000)
    offline_sizes = {k: sizes for k in OFFLINE_KINDS}
    counts = (1, 10) if quick else (1, 10, 100)
    parts = [figures()]
    jp_lines, jp = japan(1 if quick else 3)
    parts.append(jp_lines)
    start_lines, start = startup_section(3 if quick else 9, secs)
    parts.append(start_lines)
    scale_lines, scale = scaling(sizes, offline_sizes)
    parts.append(scale_lines)
    stack_lines, many = stacks(counts)
    parts.append(stack_lines)
    parts.append(transitions())
    elapsed = time.perf_counter() - started
    head = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py`; do not edit by hand. Rerun from the repository root "
        "with `.venv/bin/python bench/run.py --write` (add `--quick` for a smoke run that "
        "skips the 10,000-rule and 100-stack runs; without `--write` it only prints).",
        "",
        *machine(),
        f"- Mode: {'quick' if quick else 'full'}; the whole run took {elapsed:.0f} s; "
        f"peak RSS of the main process {mib(maxrss_mb())}",
        "",
        "Everything runs offline: planners are pure Python, and components run under "
        "Pulumi's mock runtime (`korefw.runtime.offline.run_offline`) with the real `pulumi-aws` "
        "and `pulumi-azure-native` resource classes, no engine, plugins or credentials. "
        "Real `pulumi preview`/`up` adds engine, plugin and cloud API time on top.",
        "",
    ]
    text = "\n".join(head + [line for p in parts for line in p]).rstrip() + "\n"
    return text, {
        "japan": jp, "startup": start, "scaling": scale, "stacks": many, "elapsed": elapsed
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run")
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(ROOT)}")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    parser.add_argument(
        "--transitions", action="store_true", help="print only the transition census section"
    )
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    if args.transitions:
        print("\n".join(transitions()))
        return 0
    text, _ = report(args.quick)
    print(text)
    if args.write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
