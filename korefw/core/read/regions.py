"""Region codes, the shipped data behind them, and the vendor pages they come from.

``load_rules("jp")`` reads ``korefw/data/jp.toml`` (shipped with the package). Kore's
pages themselves ship too, in ``korefw/data/pages/``, with ``sources.toml`` saying where
each came from (repository, path, commit or ETag, retrieval date, sha256).
``korefw fetch`` refreshes them; :func:`render_region` re-imports a page into the exact
text of its data file; ``korefw import --all`` writes them and a test proves the shipped
files byte-identical, so vendor drift shows up as a reviewable diff.
``load_rules(path)`` reads a shipped-format ``.toml`` file or imports a vendor page in
any format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import ConfigError, KorefwError, VendorDataError
from ..inputfile import read_input_text
from ..rules.model import RuleSet
from .ruledata import Provenance, check_provenance_values, dump, load_toml, toml_str
from .ruledata import read as read_data
from .vendor import import_page

#: The repository Kore publishes the pages in.
VENDOR_REPOSITORY = "Koredotcom/docs"
#: The folder of the pages in that repository.
VENDOR_FOLDER = "docs/xo/channels/voice-gateway"

# `korefw fetch`'s defaults (core/read/fetch.py), here so the command line can show them
# without importing the HTTP client.
#: The default branch of Kore's documentation repository.
DEFAULT_REF = "main"
#: Raw files of Kore's repository at a ref.
RAW_ROOT = "https://raw.githubusercontent.com/" + VENDOR_REPOSITORY + "/{ref}/"
DEFAULT_TIMEOUT = 30.0
#: The largest page accepted; Kore's pages are a few kilobytes.
DEFAULT_MAX_BYTES = 1_000_000

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
#: The vendor pages shipped with korefw, and their provenance file.
PAGES_DIR = DATA_DIR / "pages"
SOURCES_FILE = "sources.toml"


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


# --------------------------------------------------------------------------- sources.toml


@dataclass(frozen=True)
class PageSource:
    """Where one vendor page came from: one ``[[page]]`` entry of ``sources.toml``."""

    file: str
    region: str
    repository: str = VENDOR_REPOSITORY
    path: str = ""
    commit: str = ""
    etag: str = ""
    url: str = ""
    retrieved: str = ""
    sha256: str = ""


_PAGE_KEYS = tuple(f.name for f in fields(PageSource))


def sha256_hex(data: bytes) -> str:
    """The sha256 digest of ``data`` as lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def read_sources(pages_dir: Path | None = None) -> dict[str, PageSource]:
    """The pages listed in ``<pages_dir>/sources.toml``, by file name."""
    path = (pages_dir or PAGES_DIR) / SOURCES_FILE
    text = read_input_text(path, what="the pages' provenance", error=VendorDataError)
    return loads_sources(text, file=str(path))


def loads_sources(text: str, *, file: str) -> dict[str, PageSource]:
    """Parse and validate ``sources.toml`` text; ``file`` names it in error messages."""
    data = load_toml(text, file=file)
    if set(data) - {"format", "page"} or data.get("format") != 1:
        raise VendorDataError("expected format = 1 and [[page]] entries only", where=file)
    pages: dict[str, PageSource] = {}
    for i, raw in enumerate(data.get("page", []), 1):
        where = f"{file}: page {i}"
        if not isinstance(raw, dict):
            raise VendorDataError("expected a table", where=where)
        for key, value in raw.items():
            if key not in _PAGE_KEYS:
                raise VendorDataError("unknown key", where=f"{where} {key}", value=key)
            if not isinstance(value, str):
                raise VendorDataError("expected a string", where=f"{where} {key}", value=value)
        src = PageSource(**raw)
        if not src.file or "/" in src.file or "\\" in src.file or src.file.startswith("."):
            raise VendorDataError("file must be a plain file name", where=f"{where} file",
                                  value=src.file)  # fmt: skip
        if src.region not in REGIONS:
            raise VendorDataError(f"unknown region code (known: {', '.join(region_codes())})",
                                  where=f"{where} region", value=src.region)  # fmt: skip
        check_provenance_values(raw, where=lambda key, w=where: f"{w} {key}")
        if src.file in pages or any(p.region == src.region for p in pages.values()):
            raise VendorDataError("page listed twice", where=where, value=src.file)
        pages[src.file] = src
    return pages


def dump_sources(pages: Iterable[PageSource]) -> str:
    """The text of ``sources.toml`` for ``pages``, sorted by region code (deterministic)."""
    out = [
        "# Where each of Kore.ai's vendor pages in this folder came from. The pages are the",
        "# vendor's data, kept byte for byte as fetched: do not edit them or this file by hand.",
        "# `korefw fetch` rewrites a page and its entry together; `korefw import --all` then",
        "# regenerates korefw/data/<region>.toml from them. The first copies were made on",
        "# 2026-11-25 from the project's reference copy of Koredotcom/docs, whose notes gave",
        "# the short commits below (and none for the Japan page).",
        "",
        "format = 1",
    ]
    for src in sorted(pages, key=lambda s: s.region):
        out += ["", "[[page]]"]
        out += [f"{key} = {toml_str(getattr(src, key))}" for key in _PAGE_KEYS]
    return "\n".join(out) + "\n"


def region_page(code: str, pages_dir: Path | None = None) -> tuple[Path, PageSource]:
    """A region's shipped page and its provenance."""
    region = get_region(code)
    docs = pages_dir or PAGES_DIR
    pages = read_sources(docs)
    src = next((s for s in pages.values() if s.region == region.code), None)
    if src is None:
        raise VendorDataError("no page listed for the region", where=str(docs / SOURCES_FILE),
                              value=region.code)  # fmt: skip
    return docs / src.file, src


# --------------------------------------------------------------------------- importing


def import_region(code: str, pages_dir: Path | None = None) -> tuple[RuleSet, Provenance]:
    """Import a region's vendor page, with provenance from ``sources.toml``."""
    page, src = region_page(code, pages_dir)
    return import_vendor_page(page, region=src.region, source=src)


def import_vendor_page(
    path: str | Path,
    *,
    region: str = "",
    retrieved: str = "",
    source: PageSource | None = None,
) -> tuple[RuleSet, Provenance]:
    """Import one vendor page; region, source path, commit and date default from the
    ``sources.toml`` beside it when it lists the page."""
    p = Path(path)
    if source is None and (p.parent / SOURCES_FILE).is_file():
        source = read_sources(p.parent).get(p.name)
    code = region or (source.region if source else "")
    if code:
        code = get_region(code).code
        if source and source.region != code:
            raise KorefwError(f"{SOURCES_FILE} lists this page for region {source.region!r}",
                              where=str(p), value=code)  # fmt: skip
    retrieved = retrieved or (source.retrieved if source else "")
    rules = import_page(p, region=code, retrieved=retrieved)
    prov = Provenance(
        region=code,
        page=p.name,
        repository=source.repository if source else "",
        path=source.path if source else "",
        commit=source.commit if source else "",
        etag=source.etag if source else "",
        retrieved=retrieved,
        sha256=sha256_hex(p.read_bytes()),
    )
    return rules, prov


def render_region(code: str, pages_dir: Path | None = None) -> str:
    """The exact text ``korefw/data/<code>.toml`` should hold for the current vendor page."""
    return dump(*import_region(code, pages_dir))


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
