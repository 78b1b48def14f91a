"""Shipped region data: provenance, byte-identical re-import, allowed flows, validation."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest

from korefw.cli import main
from korefw.core.errors import KorefwError, VendorDataError
from korefw.core.read import regions
from korefw.core.read.regions import (
    PAGES_DIR,
    REGIONS,
    data_path,
    load_region,
    load_rules,
    read_sources,
    region_codes,
    render_region,
    sha256_hex,
)
from korefw.core.read.ruledata import Provenance, dump, loads
from korefw.core.read.ruledata import read as read_data
from korefw.core.rules.allowset import AllowSet

CODES = ["au", "de", "eu", "in", "jp", "uae", "uk", "us"]
FIXTURES = Path(__file__).parent / "fixtures" / "vendor"


def test_region_codes_match_sources_toml() -> None:
    assert region_codes() == CODES
    pages = read_sources()
    assert {s.region: s.file for s in pages.values()} == {c: REGIONS[c].page for c in CODES}
    assert pages["us-firewall-rules.md"].commit == "0a17bb6d"
    assert pages["japan-firewall-rules.md"].path == (
        "docs/xo/channels/voice-gateway/japan-firewall-rules.md"
    )
    assert {s.retrieved for s in pages.values()} == {"2026-11-25"}
    assert {s.repository for s in pages.values()} == {"Koredotcom/docs"}


@pytest.mark.parametrize("code", CODES)
def test_shipped_pages_match_their_recorded_sha256(code: str) -> None:
    src = next(s for s in read_sources().values() if s.region == code)
    assert sha256_hex((PAGES_DIR / src.file).read_bytes()) == src.sha256


def test_the_repository_reads_no_sibling_folder() -> None:
    """The pages ship inside the package: nothing points outside the repository."""
    root = Path(regions.__file__).resolve().parents[3]
    assert PAGES_DIR.is_relative_to(root / "korefw")
    files = [*root.glob("korefw/**/*.py"), *root.glob("scripts/*.py"), *root.glob("bench/*.py")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "KOREFW_VENDOR_DOCS" not in text, path


@pytest.mark.parametrize("code", CODES)
def test_shipped_data_is_byte_identical_to_a_fresh_import(code: str) -> None:
    fresh = render_region(code)
    shipped = data_path(code).read_text(encoding="utf-8")
    assert shipped == fresh, (
        f"korefw/data/{code}.toml differs from a fresh import of {REGIONS[code].page} "
        f"(vendor drift?). Regenerate with `korefw import --all` and review the diff."
    )


@pytest.mark.parametrize("code", CODES)
def test_every_region_loads_with_provenance(code: str) -> None:
    rules, prov = read_data(data_path(code))
    assert rules.region == prov.region == code
    assert rules.source == prov.page == REGIONS[code].page
    assert rules.retrieved == prov.retrieved == "2026-11-25"
    assert prov.repository == "Koredotcom/docs"
    assert prov.sha256 == sha256_hex((PAGES_DIR / REGIONS[code].page).read_bytes())
    assert prov.path == f"docs/xo/channels/voice-gateway/{REGIONS[code].page}"
    assert all(r.region == code and r.origin.file == REGIONS[code].page for r in rules)
    text = data_path(code).read_text(encoding="utf-8")
    assert "do not edit by hand" in text and "korefw import --all" in text


def test_import_all_check_reports_vendor_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "pages"
    shutil.copytree(PAGES_DIR, docs)
    page = docs / "japan-firewall-rules.md"
    page.write_text(page.read_text().replace("35.76.183.247", "35.76.183.248"))
    assert main(["import", "--all", "--check", "--pages", str(docs)]) == 1
    out = capsys.readouterr()
    assert "jp.toml: OUT OF DATE" in out.out and "de.toml: up to date" in out.out
    assert "korefw import --all" in out.err
    # Regenerating into another folder gives the reviewable diff.
    (tmp_path / "data").mkdir()
    assert main(["import", "--all", "--pages", str(docs), "--out-dir", str(tmp_path / "data")]) == 0
    new = (tmp_path / "data" / "jp.toml").read_text()
    assert "35.76.183.248/32" in new and "35.76.183.247" not in new
    assert f'sha256 = "{sha256_hex(page.read_bytes())}"' in new


# --------------------------------------------------------------------------- load_rules


def test_load_rules_by_code_file_and_page() -> None:
    by_code = load_rules("jp")
    assert len(by_code) == 29
    assert (by_code.region, by_code.source, by_code.retrieved) == (
        "jp",
        "japan-firewall-rules.md",
        "2026-11-25",
    )
    assert load_rules("JP").rules == by_code.rules
    by_file = load_rules(str(data_path("jp")))
    by_page = load_rules(PAGES_DIR / "japan-firewall-rules.md")
    for other in (by_file, by_page):
        assert other.rules == by_code.rules
        assert [r.origin for r in other] == [r.origin for r in by_code]
        assert [(r.label, r.destination, r.aliases) for r in other] == [
            (r.label, r.destination, r.aliases) for r in by_code
        ]
        assert (other.region, other.retrieved) == ("jp", "2026-11-25")


def test_load_rules_of_a_page_without_sources_md() -> None:
    rules = load_rules(FIXTURES / "page.mdx")
    assert (rules.region, rules.source, rules.retrieved) == ("", "page.mdx", "")
    assert len(rules) == 6


def test_unknown_region_lists_the_known_codes() -> None:
    with pytest.raises(KorefwError) as info:
        load_rules("xx")
    assert str(info.value) == (
        "unknown region or file (known regions: au, de, eu, in, jp, uae, uk, us) (got 'xx')"
    )
    with pytest.raises(KorefwError, match="no such file"):
        load_rules("missing-page.md")


def test_load_region_refuses_another_regions_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jp.toml").write_text(data_path("de").read_text())
    monkeypatch.setattr(regions, "DATA_DIR", tmp_path)
    with pytest.raises(VendorDataError, match="data file is for another region"):
        load_region("jp")


# --------------------------------------------------------------------------- allowed flows


def flows(protocol: str, ports: list[tuple[int, int]], *nets: str) -> AllowSet:
    return AllowSet.of(protocol, ports, [ipaddress.ip_network(n) for n in nets])


JP_SBC = ["18.177.19.211/32", "18.182.77.145/32", "35.76.183.247/32", "54.248.11.38/32"]
JP_STUN = ["13.115.244.0/27", "18.180.220.128/25", "54.65.63.192/26"]


def test_japan_allow_set_in_full() -> None:
    expected = (
        flows("tcp", [(5060, 5061)], *JP_SBC)
        | flows("udp", [(5060, 5060), (6000, 65535)], *JP_SBC)
        | flows("tcp", [(10081, 10081)], "18.177.19.211/32", "18.182.77.145/32")
        | flows("tcp", [(8443, 8443)], "35.76.183.247/32", "54.248.11.38/32")
        | flows("udp", [(10000, 65535)], "168.86.128.0/18")
        | flows("tcp", [(443, 443), (3478, 3478), (5349, 5349)], *JP_STUN)
        | flows("udp", [(3478, 3478)], *JP_STUN)
    )
    got = load_region("jp").allow_set()
    assert got.triples() == expected.triples()
    assert got == expected


def test_japan_fqdn_rules() -> None:
    fq = {
        (f, "/".join(r.protocols), ",".join(map(str, r.ports)))
        for r in load_region("jp").fqdn_rules()
        for f in r.fqdns
    }
    assert fq == {
        ("audiocodes-jp-sbc-prod.kore.ai", "tcp", "5060"),
        ("audiocodes-jp-sbc-prod.kore.ai", "tcp", "5061"),
        ("audiocodes-jp-webrtc-prod.kore.ai", "tcp", "5060"),
        ("audiocodes-jp-webrtc-prod.kore.ai", "tcp", "5061"),
        ("*.kore.ai", "tcp", "443,8443"),
        ("*.twilio.com", "tcp", "443,8443"),
    }


SPOT_FLOWS = [
    # region, protocol, port, address, allowed
    ("us", "udp", 3478, "34.203.254.17", True),
    ("us", "tcp", 5349, "44.234.69.127", True),
    ("us", "tcp", 5349, "44.234.69.128", False),
    ("us", "tcp", 8443, "3.224.189.218", True),
    ("us", "udp", 8443, "3.224.189.218", False),
    ("us", "udp", 6000, "54.210.75.166", True),
    ("us", "tcp", 10081, "54.161.251.110", True),
    ("us", "udp", 10000, "168.86.191.255", True),
    ("us", "udp", 10000, "168.86.192.0", False),
    ("de", "tcp", 8443, "18.158.223.171", True),
    ("de", "udp", 5060, "3.70.125.14", True),
    ("de", "tcp", 3478, "52.59.186.5", True),
    ("de", "udp", 3478, "52.59.186.5", False),  # the page says TURN TLS on 3478: TCP only
    ("de", "tcp", 443, "52.215.253.63", True),
    ("de", "tcp", 443, "52.215.253.64", False),
    ("eu", "udp", 5060, "18.133.179.73", True),
    ("eu", "tcp", 5349, "54.171.127.200", True),
    ("eu", "tcp", 5061, "13.43.133.73", True),
    ("eu", "udp", 5061, "13.43.133.73", False),
    ("uk", "tcp", 8443, "18.133.179.73", True),
    ("uk", "tcp", 3478, "3.249.63.200", True),
    ("uk", "udp", 3478, "3.249.63.200", False),
    ("au", "udp", 65535, "13.237.170.233", True),
    ("au", "tcp", 5349, "13.210.2.159", True),
    ("au", "tcp", 5349, "13.210.2.160", False),
    ("au", "udp", 5999, "54.153.137.7", False),
    ("in", "tcp", 5061, "20.244.87.83", True),
    ("in", "tcp", 443, "52.66.193.96", True),
    ("in", "tcp", 443, "52.66.193.95", False),
    ("in", "udp", 6000, "20.197.5.84", True),
    ("uae", "udp", 6000, "3.28.132.111", True),
    ("uae", "udp", 6000, "40.172.158.151", False),  # UAE media runs on other addresses
    ("uae", "tcp", 8443, "40.172.133.71", True),
    ("uae", "tcp", 443, "54.169.127.191", True),
    ("uae", "udp", 10000, "168.86.128.0", True),
    ("jp", "udp", 3478, "13.115.244.7", True),
    ("jp", "udp", 3479, "13.115.244.7", False),
]


@pytest.mark.parametrize(("code", "protocol", "port", "address", "allowed"), SPOT_FLOWS)
def test_spot_flows(code: str, protocol: str, port: int, address: str, allowed: bool) -> None:
    addr = ipaddress.ip_address(address)
    assert load_region(code).allow_set().contains(protocol, port, int(addr), 4) is allowed


@pytest.mark.parametrize("code", CODES)
def test_every_region_allows_twilio_media_and_kore_fqdns(code: str) -> None:
    rules = load_region(code)
    media = ipaddress.ip_address("168.86.130.1")
    assert rules.allow_set().contains("udp", 20000, int(media), 4)
    assert rules.matching("tcp", "api.kore.ai", 443)
    assert not rules.matching("udp", "api.kore.ai", 443)


# --------------------------------------------------------------------------- data format


def _jp_text() -> str:
    return data_path("jp").read_text(encoding="utf-8")


def test_dump_and_load_round_trip() -> None:
    rules, prov = read_data(data_path("us"))
    again, prov2 = loads(dump(rules, prov), file="us.toml")
    assert again.rules == rules.rules and prov2 == prov
    assert [(r.origin, r.label, r.destination) for r in again] == [
        (r.origin, r.label, r.destination) for r in rules
    ]


def test_dump_escapes_strings() -> None:
    rules, _ = read_data(data_path("jp"))
    odd = rules.rules[0].with_(section='Quote " and \\ back\tslash', component="↳ – é\x7f")
    prov = Provenance(region="jp", page="p.md", commit="line\nbreak")
    (back,), _ = loads(dump(type(rules)((odd,)), prov), file="x.toml")
    assert (back.section, back.component) == (odd.section, odd.component)


def _edit(tmp_path: Path, old: str, new: str, *, count: int = 1) -> tuple[Path, int, int]:
    """Write jp.toml with one edit; return the path, the edited line and its rule number."""
    text = _jp_text()
    assert old in text
    before = text[: text.index(old)]
    line = before.count("\n") + 1
    index = sum(1 for ln in before.splitlines() if ln.strip() == "[[rule]]")
    path = tmp_path / "jp.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path, line, index


@pytest.mark.parametrize(
    ("old", "new", "key", "message", "value"),
    [
        ('"13.115.244.0/27"', '"13.115.244.0/33"', "cidrs", "malformed IP or CIDR", None),
        ('"13.115.244.0/27"', '"13.115.244.1/27"', "cidrs", "host bits set", None),
        ('"13.115.244.0/27"', '"10.0.0.0/8"', "cidrs", "broader than /16", None),
        ('ports = ["5060"]', 'ports = ["70000"]', "ports", "port outside 0-65535", "70000"),
        ('ports = ["5060"]', 'ports = ["6000-5000"]', "ports", "reversed port range", None),
        ('protocols = ["tcp", "udp"]', 'protocols = ["icmp"]', "protocols", "unknown", None),
        ('fqdns = ["*.kore.ai"]', 'fqdns = ["bad host"]', "fqdns", "malformed FQDN", None),
        ("line = 9\n", "line = -1\n", "line", "line number", "-1"),
        ('label = "TLS"', "label = 5", "label", "expected a string", "5"),
        ('label = "TLS"', 'colour = "red"', "colour", "unknown rule key", "colour"),
    ],
)
def test_hand_edited_data_fails_with_file_line_rule_and_value(
    tmp_path: Path, old: str, new: str, key: str, message: str, value: str | None
) -> None:
    path, line, index = _edit(tmp_path, old, new)
    with pytest.raises(VendorDataError) as info:
        load_rules(path)
    text = str(info.value)
    assert text.startswith(f"{path}:{line}: rule {index} {key}: "), text
    assert message in text
    bad = value if value is not None else new.split('"')[1]
    assert text.endswith(f"(got {bad!r})") or text.endswith(f"(got {int(bad)!r})"), text


def test_rule_without_destination(tmp_path: Path) -> None:
    path, _, _ = _edit(tmp_path, 'cidrs = ["18.177.19.211/32"]', "cidrs = []")
    header = _jp_text().splitlines().index("[[rule]]") + 1
    with pytest.raises(VendorDataError) as info:
        load_rules(path)
    assert str(info.value) == (
        f"{path}:{header}: rule 1: rule has an empty destination (got '18.177.19.211')"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("format = 1", "format = 2", "unsupported data format"),
        ("format = 1", "format = [", "not valid TOML"),
        ('[source]\nregion = "jp"', '[source]\nregion = ""', "[source] needs region"),
        ('[source]\nregion = "jp"', '[source]\nregion = "-jp"', "a region code is 1-32"),
        ('[source]\nregion = "jp"', '[source]\nregion = "JP"', "a region code is 1-32"),
        ('retrieved = "2026-11-25"', 'retrieved = "yesterday"', "retrieved must be a date"),
    ],
)
def test_bad_data_file_headers(tmp_path: Path, old: str, new: str, message: str) -> None:
    path, _, _ = _edit(tmp_path, old, new)
    with pytest.raises(VendorDataError) as info:
        load_rules(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("content", "text"),
    [(b"\xff\xfe not text", "not UTF-8 text"), (b"format = [", "not valid TOML")],
)
def test_a_broken_sources_file_is_one_error_naming_it(
    tmp_path: Path, content: bytes, text: str
) -> None:
    (tmp_path / "sources.toml").write_bytes(content)
    with pytest.raises(VendorDataError, match=text) as info:
        read_sources(tmp_path)
    assert info.value.where == str(tmp_path / "sources.toml") and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "key", "message", "value"),
    [
        # A hand-widened CIDR no longer says what the vendor's destination says.
        (
            'cidrs = ["18.177.19.211/32"]',
            'cidrs = ["18.177.19.0/24"]',
            "cidrs",
            "does not match destination '18.177.19.211' (which says 18.177.19.211/32)",
            ["18.177.19.0/24"],
        ),
        (
            'destination = "18.177.19.211"',
            'destination = "18.177.19.212"',
            "cidrs",
            "does not match destination '18.177.19.212'",
            ["18.177.19.211/32"],
        ),
        # The label says TCP, the protocols add UDP.
        (
            'label = "TCP"\nprotocols = ["tcp"]',
            'label = "TCP"\nprotocols = ["tcp", "udp"]',
            "protocols",
            "label 'TCP' does not say these protocols",
            ["tcp", "udp"],
        ),
        # An FQDN row given CIDRs, with or without its destination text.
        (
            'cidrs = []\nfqdns = ["*.kore.ai"]',
            'cidrs = ["13.0.0.0/16"]\nfqdns = ["*.kore.ai"]',
            "cidrs",
            "does not match destination '*.kore.ai' (which says none)",
            ["13.0.0.0/16"],
        ),
        (
            'destination = "*.kore.ai"\ncidrs = []',
            'cidrs = ["13.0.0.0/16"]',
            "cidrs",
            "an FQDN rule has CIDRs",
            ["13.0.0.0/16"],
        ),
        (
            'destination = "*.kore.ai"\ncidrs = []\nfqdns = ["*.kore.ai"]',
            'destination = "*.kore.ai"\ncidrs = []\nfqdns = ["*.kore.ai", "evil.example"]',
            "fqdns",
            "does not match destination '*.kore.ai' (which says *.kore.ai)",
            ["*.kore.ai", "evil.example"],
        ),
    ],
)
def test_rows_whose_values_disagree_with_their_vendor_text_are_refused(
    tmp_path: Path, old: str, new: str, key: str, message: str, value: list[str]
) -> None:
    path, _, index = _edit(tmp_path, old, new)
    with pytest.raises(VendorDataError) as info:
        load_rules(path)
    text = str(info.value)
    assert f": rule {index} {key}: {message}" in text, text
    assert text.startswith(f"{path}:") and text.endswith(f"(got {value!r})"), text
    assert "\n" not in text


def _data_with_page(folder: Path, *, pages: bool) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    path = folder / "jp.toml"
    path.write_text(_jp_text(), encoding="utf-8")
    (folder / "pages").mkdir(exist_ok=True)
    page = (folder / "pages" if pages else folder) / REGIONS["jp"].page
    shutil.copyfile(PAGES_DIR / REGIONS["jp"].page, page)
    return path, page


@pytest.mark.parametrize("pages", [False, True])
def test_rules_file_whose_page_digest_does_not_match_the_page(tmp_path: Path, pages: bool) -> None:
    path, page = _data_with_page(tmp_path / "d", pages=pages)
    assert len(load_rules(path)) == len(load_region("jp"))  # the right page reads
    page.write_bytes(page.read_bytes() + b"\n| extra | TCP | 10.9.9.9 | 443 |\n")
    with pytest.raises(VendorDataError) as info:
        load_rules(path)
    recorded = sha256_hex((PAGES_DIR / REGIONS["jp"].page).read_bytes())
    line = _jp_text().splitlines().index(f'sha256 = "{recorded}"') + 1
    text = str(info.value)
    assert text.startswith(f"{path}:{line}: [source] sha256: does not match the page {page}")
    assert text.endswith(f"(got {recorded!r})")


def test_rules_file_page_is_a_file_name(tmp_path: Path) -> None:
    path, _, _ = _edit(tmp_path, 'page = "japan-firewall-rules.md"', 'page = "../../etc/passwd"')
    with pytest.raises(VendorDataError, match="page must be a file name, not a path"):
        load_rules(path)


def test_rules_file_rows_that_together_tile_a_broad_block(tmp_path: Path) -> None:
    # The first two rows (tcp 5060 to one address each) become adjacent /16s.
    path, line, index = _edit(tmp_path, 'cidrs = ["18.177.19.211/32"]', 'cidrs = ["10.0.0.0/16"]')
    text = path.read_text(encoding="utf-8")
    text = text.replace('destination = "18.177.19.211"', 'destination = "10.0.0.0/16"', 1)
    text = text.replace('cidrs = ["18.182.77.145/32"]', 'cidrs = ["10.1.0.0/16"]', 1)
    text = text.replace('destination = "18.182.77.145"', 'destination = "10.1.0.0/16"', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VendorDataError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: rule {index} cidrs: 2 rows (lines "), message
    assert "together allow tcp 5060 to a destination broader than /16" in message
    assert message.endswith("(got '10.0.0.0/15')")


def test_multi_line_destination_cells_survive_the_rules_file() -> None:
    from korefw.core.read.vendor import import_text

    page = (
        "## S\n\n| Protocol | Destination | Port |\n|---|---|---|\n"
        "| TCP | 192.0.2.1 – 192.0.2.3<br>203.0.113.9 (a.kore.ai)<br>b.kore.ai | 443 |\n"
    )
    rules = import_text(page, file="t.md", region="jp")
    assert rules.rules[0].destination == "192.0.2.1 – 192.0.2.3 203.0.113.9 (a.kore.ai) b.kore.ai"
    text = dump(rules, Provenance(region="jp", page="t.md"))
    assert loads(text, file="x.toml")[0] == rules
    widened = text.replace('"192.0.2.2/31"', '"192.0.2.2/31", "192.0.2.4/32"')
    assert widened != text
    with pytest.raises(VendorDataError, match=r"cidrs: does not match destination"):
        loads(widened, file="x.toml")


def test_a_data_file_is_parsed_once_and_again_when_it_changes(tmp_path: Path) -> None:
    """Warm plans reuse a parsed data file; an edited file is parsed and validated anew."""
    from korefw.core.read.ruledata import read

    path = tmp_path / "jp.toml"
    text = (regions.DATA_DIR / "jp.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first, _ = read(path)
    assert read(path)[0] is first
    path.write_text(text.replace('ports = ["5061"]', 'ports = ["5062"]', 1), encoding="utf-8")
    changed, _ = read(path)
    assert changed is not first
    assert {p.lo for r in changed for p in r.ports} - {p.lo for r in first for p in r.ports} == {
        5062
    }
    path.write_text(text.replace('ports = ["5061"]', 'ports = ["70000"]', 1), encoding="utf-8")
    with pytest.raises(VendorDataError, match="70000"):
        read(path)
