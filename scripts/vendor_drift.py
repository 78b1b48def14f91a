"""Follow Kore's pages: fetch, import, lint, and write the pull-request body for any change.

Run by ``.github/workflows/vendor-drift.yml`` (weekly and on demand)::

    python scripts/vendor_drift.py --body body.md --github-output "$GITHUB_OUTPUT"

1. ``korefw fetch --all`` downloads every region's current page (``--source-url`` and
   ``--ref`` are passed through; tests use a server on 127.0.0.1);
2. ``korefw import --all`` regenerates the rule data from the pages;
3. every region is linted.

When a page changed, the body starts with Kore's relabellings (a row whose protocol
label changed, such as 3478 becoming ``TCP (TURN TLS)``), then the rule-level diff of
each changed region (``korefw diff`` of the old and new data), the lint warnings and the
new provenance. ``changed=true|false`` goes to ``--github-output``. Exit 0 on success
(changed or not), 2 when a page cannot be fetched or read; then no file changes.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from korefw.cli import main as korefw
from korefw.core.check.lint import lint
from korefw.core.check.plandiff import diff_rules
from korefw.core.errors import KorefwError
from korefw.core.read.regions import DATA_DIR, PAGES_DIR, REGIONS, read_sources, region_codes
from korefw.core.read.ruledata import loads
from korefw.core.rules.model import Rule, RuleSet


def relabellings(old: RuleSet, new: RuleSet) -> list[str]:
    """Rows Kore kept (same section, component, ports and destination) but relabelled."""
    before: dict[tuple, list[Rule]] = defaultdict(list)
    for r in old:
        before[_row_key(r)].append(r)
    out = []
    for r in new:
        olds = before.get(_row_key(r))
        if not olds:
            continue
        o = olds.pop(0)
        if o.label != r.label:
            gone = sorted(set(o.protocols) - set(r.protocols))
            came = sorted(set(r.protocols) - set(o.protocols))
            effect = "; ".join(
                [*(f"{p.upper()} no longer allowed" for p in gone),
                 *(f"{p.upper()} now allowed" for p in came)]
            )  # fmt: skip
            dest = ", ".join([*map(str, r.cidrs), *r.fqdns])
            out.append(
                f"{r.describe()}: port {', '.join(map(str, r.ports))} to {dest}: "
                f"{o.label or '(no protocol)'!r} → {r.label or '(no protocol)'!r}"
                + (f" ({effect})" if effect else "")
                + f" (line {o.origin.line} → {r.origin.line})"
            )
    return out


def _row_key(r: Rule) -> tuple:
    return (r.section, r.component, r.ports, r.cidrs, r.fqdns)


def pr_body(
    old: dict[str, RuleSet], new: dict[str, RuleSet], pages_dir: Path, changed: Sequence[str]
) -> str:
    """The Markdown body of the vendor-drift pull request."""
    names = ", ".join(f"{REGIONS[c].name} ({c})" for c in changed)
    md = [
        "## Kore's firewall-rule pages changed",
        "",
        f"Changed pages: {names}. Review the rule-level diff before merging: every `+` "
        "line opens egress, every `-` line closes it.",
        "",
    ]
    relabelled = {c: relabellings(old[c], new[c]) for c in changed}
    if any(relabelled.values()):
        md += ["### ⚠ Relabelled by Kore", ""]
        md += [f"- **{c}** {line}" for c in changed for line in relabelled[c]]
        md.append("")
    for c in changed:
        md.append(diff_rules(old[c], new[c]).markdown(f"{REGIONS[c].name} ({c})"))
    warnings = [str(w) for c in changed for w in lint(new[c])]
    others = sum(len(lint(new[c])) for c in region_codes() if c not in changed)
    md += [f"### Lint warnings of the changed pages ({len(warnings)})", ""]
    md += ["```", *warnings, "```"] if warnings else ["None."]
    md += ["", f"Unchanged: other regions: {others} warnings (`korefw lint`)."]
    md += ["", "### Provenance", "", "| region | page | sha256 | ETag | commit | URL |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    sources = {s.region: s for s in read_sources(pages_dir).values()}
    for c in changed:
        s = sources[c]
        md.append(
            f"| {c} | `{s.file}` | `{s.sha256[:16]}…` | `{s.etag or '-'}` | "
            f"`{s.commit or '-'}` | {s.url or s.repository} |"
        )
    return "\n".join(md) + "\n"


def _data(data_dir: Path) -> dict[str, tuple[str, RuleSet]]:
    out = {}
    for code in region_codes():
        path = data_dir / f"{code}.toml"
        text = path.read_text(encoding="utf-8")
        out[code] = (text, loads(text, file=str(path))[0])
    return out


def run(argv: Sequence[str] | None = None) -> int:
    """The script; returns the exit code."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source-url", help="passed to korefw fetch")
    p.add_argument("--ref", help="passed to korefw fetch")
    p.add_argument("--pages", type=Path, default=PAGES_DIR, help="the vendor pages folder")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="the rule data folder")
    p.add_argument("--body", type=Path, required=True, help="write the PR body here")
    p.add_argument("--github-output", type=Path, help="append changed=true|false here")
    args = p.parse_args(argv)

    before = _data(args.data)
    fetch = ["fetch", "--all", "--pages", str(args.pages)]
    fetch += ["--source-url", args.source_url] if args.source_url else []
    fetch += ["--ref", args.ref] if args.ref else []
    if korefw(fetch) != 0:
        return 2
    if korefw(["import", "--all", "--pages", str(args.pages), "--out-dir", str(args.data)]):
        return 2
    try:
        after = _data(args.data)
    except KorefwError as exc:
        print(f"vendor-drift: error: {exc}", file=sys.stderr)
        return 2
    changed = [c for c in region_codes() if before[c][0] != after[c][0]]
    if changed:
        old = {c: rs for c, (_, rs) in before.items()}
        new = {c: rs for c, (_, rs) in after.items()}
        args.body.write_text(pr_body(old, new, args.pages, changed), encoding="utf-8")
        print(f"vendor-drift: changed: {', '.join(changed)}; PR body in {args.body}")
    else:
        print("vendor-drift: no page changed")
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as fh:
            fh.write(f"changed={'true' if changed else 'false'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(run())
