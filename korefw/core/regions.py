"""Region codes, the shipped data behind them, and where the vendor pages live.

``load_rules("jp")`` reads ``korefw/data/jp.toml`` (shipped with the package, so it works
without the vendor pages). ``load_rules(path)`` reads a shipped-format ``.toml`` file or
imports a vendor page in any format. :func:`render_region` re-imports a vendor page into
the exact text of its data file; ``korefw import --all`` writes them and a test proves
the shipped files byte-identical, so vendor drift shows up as a reviewable diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, KorefwError, VendorDataError
from .model import RuleSet
from .ruledata import Provenance, dump
from .ruledata import read as read_data
from .vendor import import_page

#: The repository Kore publishes the pages in.
VENDOR_REPOSITORY = "Koredotcom/docs"
#: Environment variable overriding where the vendor pages are.
DOCS_ENV = "KOREFW_VENDOR_DOCS"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Region:
    """A Kore.ai region: its code, its name and its vendor page's file name."""

    code: str
    name: str
    page: str


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("us", "United States", "us-firewall-rules.md"),
        Region("jp", "Japan", "japan-firewall-rules.md"),
        Region("de", "Germany", "germany-firewall-rules.md"),
        Region("eu", "Europe", "eu-firewall-rules.md"),
        Region("uk", "United Kingdom", "uk-firewall-rules.md"),
        Region("au", "Australia", "au-firewall-rules.md"),
        Region("in", "India", "in-firewall-rules.md"),
        Region("uae", "United Arab Emirates", "uae-firewall-rules.md"),
    )
}


def region_codes() -> list[str]:
    """The known region codes, sorted."""
    return sorted(REGIONS)


def get_region(code: str) -> Region:
    """The region for ``code`` (any case); an unknown code lists the known ones."""
    try:
        return REGIONS[code.strip().lower()]
    except KeyError:
        raise KorefwError(
            f"unknown region (known: {', '.join(region_codes())})", where="region", value=code
        ) from None


def data_path(code: str) -> Path:
    """The shipped data file for a region code."""
    return DATA_DIR / f"{get_region(code).code}.toml"


def vendor_docs_dir() -> Path:
    """Where the vendor pages are: ``$KOREFW_VENDOR_DOCS``, else ``<repo>/../shared/kore-docs``."""
    env = os.environ.get(DOCS_ENV)
    return Path(env) if env else _REPO_ROOT.parent / "shared" / "kore-docs"


# --------------------------------------------------------------------------- SOURCES.md


@dataclass(frozen=True)
class PageSource:
    """One row of the vendor pages' ``SOURCES.md``."""

    file: str
    region: str
    path: str
    commit: str


def read_sources(docs_dir: Path | None = None) -> tuple[dict[str, PageSource], str]:
    """The pages listed in ``SOURCES.md`` (by file name) and the date they were copied."""
    docs = docs_dir or vendor_docs_dir()
    sources_md = docs / "SOURCES.md"
    try:
        text = sources_md.read_text(encoding="utf-8")
    except OSError as exc:
        raise VendorDataError(
            f"cannot read the vendor pages' SOURCES.md ({exc.strerror}); "
            f"set {DOCS_ENV} to the folder holding the pages",
            where=str(sources_md),
        ) from None
    m = re.search(r"copied\b.*?\bon\s+(\d{4}-\d{2}-\d{2})", text, re.S)
    retrieved = m.group(1) if m else ""
    pages: dict[str, PageSource] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        cells = [c.strip().strip("`") for c in raw.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].endswith((".md", ".mdx", ".html", ".htm")):
            continue
        file, code, path, commit = cells
        if code.lower() not in REGIONS:
            raise VendorDataError(
                f"unknown region code (known: {', '.join(region_codes())})",
                where=f"{sources_md}:{lineno}",
                value=code,
            )
        pages[file] = PageSource(file, code.lower(), path, commit)
    return pages, retrieved


# --------------------------------------------------------------------------- importing


def import_region(code: str, docs_dir: Path | None = None) -> tuple[RuleSet, Provenance]:
    """Import a region's vendor page, with provenance from ``SOURCES.md``."""
    region = get_region(code)
    docs = docs_dir or vendor_docs_dir()
    pages, retrieved = read_sources(docs)
    src = next((s for s in pages.values() if s.region == region.code), None)
    page = src.file if src else region.page
    return import_vendor_page(docs / page, region=region.code, sources=(pages, retrieved))


def import_vendor_page(
    path: str | Path,
    *,
    region: str = "",
    retrieved: str = "",
    sources: tuple[dict[str, PageSource], str] | None = None,
) -> tuple[RuleSet, Provenance]:
    """Import one vendor page; region, source path, commit and date default from the
    ``SOURCES.md`` beside it when it lists the page."""
    p = Path(path)
    if sources is None:
        try:
            sources = read_sources(p.parent)
        except VendorDataError:
            sources = ({}, "")
    pages, copied = sources
    src = pages.get(p.name)
    code = region or (src.region if src else "")
    if code:
        code = get_region(code).code
        if src and src.region != code:
            raise KorefwError(
                f"SOURCES.md lists this page for region {src.region!r}", where=str(p), value=code
            )
    retrieved = retrieved or (copied if src else "")
    rules = import_page(p, region=code, retrieved=retrieved)
    prov = Provenance(
        region=code,
        page=p.name,
        repository=VENDOR_REPOSITORY if src else "",
        path=src.path if src else "",
        commit=src.commit if src else "",
        retrieved=retrieved,
    )
    return rules, prov


def render_region(code: str, docs_dir: Path | None = None) -> str:
    """The exact text ``korefw/data/<code>.toml`` should hold for the current vendor page."""
    return dump(*import_region(code, docs_dir))


# --------------------------------------------------------------------------- loading


def load_region(code: str) -> RuleSet:
    """A region's shipped rules (validated again on load)."""
    region = get_region(code)
    path = data_path(region.code)
    if not path.exists():
        raise KorefwError(
            "no shipped data for the region; run `korefw import --all`",
            where=str(path),
            value=region.code,
        )
    rules, prov = read_data(path)
    if prov.region != region.code:
        raise VendorDataError("data file is for another region", where=str(path), value=prov.region)
    return rules


def load_rules(region_code_or_path: str | Path) -> RuleSet:
    """Rules from a region code, a shipped-format ``.toml`` file, or a vendor page
    (Markdown, MDX or HTML, in any of Kore's table styles)."""
    if isinstance(region_code_or_path, str) and region_code_or_path.strip().lower() in REGIONS:
        return load_region(region_code_or_path)
    p = Path(region_code_or_path)
    if p.is_file():
        if p.suffix.lower() == ".toml":
            return read_data(p)[0]
        return import_vendor_page(p)[0]
    text = str(region_code_or_path)
    if p.exists():
        raise KorefwError("not a file", value=text)
    if "/" in text or "\\" in text or p.suffix:
        raise KorefwError("no such file", value=text)
    raise KorefwError(
        f"unknown region or file (known regions: {', '.join(region_codes())})", value=text
    )


def select_rules(
    rules: RuleSet | str,
    sections: Sequence[str] | None = None,
    components: Sequence[str] | None = None,
) -> RuleSet:
    """A rule set, or the rules :func:`load_rules` finds for a string, narrowed by filters."""
    if isinstance(rules, str):
        rules = load_rules(rules)
    if not isinstance(rules, RuleSet):
        raise ConfigError("expected a RuleSet or a region code", where="rules", value=rules)
    return rules.filter(sections=sections, components=components)
