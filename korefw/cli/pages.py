"""``korefw import`` and ``korefw fetch``: vendor pages into rules files."""

from __future__ import annotations

import argparse
import sys

from ..core.check.lint import lint
from ..core.errors import KorefwError
from ..core.read.regions import (
    DATA_DIR,
    PAGES_DIR,
    import_vendor_page,
    region_codes,
    render_region,
)
from ..core.read.ruledata import dump
from ..core.safewrite import check_output_dir, check_output_file, write_files
from .common import (
    EXIT_OK,
    eprint,
)

#: Bounds of `korefw fetch --timeout` (seconds, the whole download) and `--max-bytes`.
MAX_FETCH_TIMEOUT = 3600
MAX_FETCH_BYTES = 100_000_000


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
        if args.page or args.output is not None or args.region:
            raise KorefwError("--all takes no PAGE, --region or --output", where="import")
        return _import_all(args)
    if not args.page:
        raise KorefwError("give a vendor PAGE, or --all", where="import")
    output = check_output_file(args.output, where="--output") if args.output is not None else None
    rules, prov = import_vendor_page(args.page, region=args.region or "", retrieved=args.retrieved)
    if not prov.region:
        raise KorefwError(
            f"sources.toml does not list this page; pass --region ({', '.join(region_codes())})",
            where=args.page,
        )
    text = dump(rules, prov)
    for w in lint(rules):
        eprint(w)
    if output:
        write_files({output: text.encode()})
        eprint(f"wrote {output} ({len(rules)} egress rules)")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _import_all(args: argparse.Namespace) -> int:
    pages = check_output_dir(args.pages, where="--pages") if args.pages is not None else None
    out_dir = (DATA_DIR if args.out_dir is None
               else check_output_dir(args.out_dir, where="--out-dir"))  # fmt: skip
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
        eprint(f"out of date: {', '.join(stale)}; run `korefw import --all` and review the diff")
        return 1
    return EXIT_OK


# --------------------------------------------------------------------------- fetch


def add_fetch_command(sub: argparse._SubParsersAction) -> None:
    """``korefw fetch``."""
    from ..core.read.regions import DEFAULT_MAX_BYTES, DEFAULT_REF, DEFAULT_TIMEOUT, RAW_ROOT

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
    from ..core.read.fetch import fetch_pages, save_pages

    if args.all == bool(args.regions):
        raise KorefwError("give REGION codes or --all (not both)", where="fetch")
    if not 0 < args.timeout <= MAX_FETCH_TIMEOUT:  # also refuses nan
        raise KorefwError(f"expected seconds, more than 0 and at most {MAX_FETCH_TIMEOUT}",
                          where="--timeout", value=args.timeout)  # fmt: skip
    if not 0 < args.max_bytes <= MAX_FETCH_BYTES:
        raise KorefwError(f"expected a size from 1 to {MAX_FETCH_BYTES} bytes",
                          where="--max-bytes", value=args.max_bytes)  # fmt: skip
    pages = check_output_dir(args.pages, where="--pages") if args.pages is not None else PAGES_DIR
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
        eprint("now run `korefw import --all` and review the diff")
    return EXIT_OK
