"""Lint: doubtful vendor data is reported, never fixed."""

from __future__ import annotations

from korefw.core.check.lint import (
    ALIAS_CONFLICT,
    DUPLICATE,
    LABEL_MISMATCH,
    NO_PROTOCOL,
    TURN_3478,
    Warning,
    lint,
)
from korefw.core.read.regions import load_region
from korefw.core.read.vendor import import_text

HEADER = (
    "## {section}\n\n"
    "| Component | Protocol | Source IP | Source Port | Destination | Destination Port |\n"
    "|---|---|---|---|---|---|\n"
)


def page(*rows: str, section: str = "Voice Gateway") -> str:
    return HEADER.format(section=section) + "".join(f"| {r} |\n" for r in rows)


def codes(text: str) -> list[tuple[int, str]]:
    return [(w.line, w.code) for w in lint(import_text(text, file="p.md"))]


def test_label_mismatch_between_twin_sbcs() -> None:
    text = page(
        "SBC | TCP | ANY | ANY | 192.0.2.1 | 8443",
        " | TLS | ANY | ANY | 192.0.2.2 | 8443",
        " | WSS | ANY | ANY | 192.0.2.3 | 8443",
        " | TCP/UDP | ANY | ANY | 192.0.2.1 | 5060",
        " | TCP, UDP | ANY | ANY | 192.0.2.2 | 5060",
    )
    assert codes(text) == [(6, LABEL_MISMATCH), (7, LABEL_MISMATCH)]
    (first, _) = lint(import_text(text, file="p.md"))
    assert "'TLS'" in first.message and "'TCP'" in first.message and "line 5" in first.message


def test_label_mismatch_needs_same_section_component_and_protocols() -> None:
    text = page(
        "A | TCP | ANY | ANY | 192.0.2.1 | 8443",
        "B | TLS | ANY | ANY | 192.0.2.2 | 8443",
        "B | TCP/UDP | ANY | ANY | 192.0.2.2 | 5060",
        "B | TCP | ANY | ANY | sbc.kore.ai | 5060",
    ) + page("A | WSS | ANY | ANY | 192.0.2.9 | 8443", section="Other")
    assert codes(text) == []


def test_turn_tls_on_3478() -> None:
    text = page(
        " | TCP (TURN TLS) | ANY | ANY | 198.51.100.0 - 198.51.100.31 | 443/5349",
        " | TCP (TURN TLS) | ANY | ANY | 198.51.100.0 - 198.51.100.31 | 3478",
        " | TCP, UDP (TURN) | ANY | ANY | 198.51.100.32 - 198.51.100.63 | 3478",
        section="Twilio STUN",
    )
    assert codes(text) == [(6, TURN_3478)]
    (w,) = lint(import_text(text, file="p.md"))
    assert "UDP 3478" in w.message and "not allowed" in w.message


def test_alias_belonging_to_another_address() -> None:
    text = page(
        "SBC | TCP | ANY | ANY | 192.0.2.1 (sbc.kore.ai) | 5060",
        " | TLS | ANY | ANY | 192.0.2.1 (sbc.kore.ai) | 5061",
        " | TCP | ANY | ANY | 192.0.2.7 (sbc.kore.ai) | 10081",
    )
    assert codes(text) == [(7, ALIAS_CONFLICT)]
    (w,) = lint(import_text(text, file="p.md"))
    assert "192.0.2.7/32" in w.message and "192.0.2.1/32" in w.message


def test_duplicates() -> None:
    text = page(
        "SBC | TCP | ANY | ANY | 192.0.2.1 | 5060",
        " | UDP | ANY | ANY | 192.0.2.1 | 5060",
        " | TCP | ANY | ANY | 192.0.2.1/32 | 5060",
    )
    assert codes(text) == [(7, DUPLICATE)]


def test_rows_without_protocol() -> None:
    text = page("public FQDN |  |  |  | *.kore.ai | 443")
    assert codes(text) == [(5, NO_PROTOCOL)]


def test_lint_does_not_change_rules() -> None:
    rules = import_text(page("public FQDN |  |  |  | *.kore.ai | 443"), file="p.md")
    before = [(r, r.label, r.origin) for r in rules]
    lint(rules)
    assert [(r, r.label, r.origin) for r in rules] == before


def test_warning_renders_as_one_line() -> None:
    w = Warning("p.md", 5, NO_PROTOCOL, "row names no protocol")
    assert str(w) == "p.md:5: warning [no-protocol]: row names no protocol"


def test_shipped_regions() -> None:
    found = {
        code: [(w.line, w.code) for w in lint(load_region(code))]
        for code in ("jp", "us", "de", "eu", "uk", "au", "in", "uae")
    }
    assert found["jp"] == [(32, LABEL_MISMATCH)]
    assert found["us"] == [(31, NO_PROTOCOL), (32, NO_PROTOCOL)]
    for code in ("de", "eu", "uk"):
        assert found[code] == [(14, LABEL_MISMATCH)] + [(n, TURN_3478) for n in range(42, 49)]
    for code in ("au", "in", "uae"):
        assert found[code] == [(14, LABEL_MISMATCH)] + [(n, TURN_3478) for n in range(38, 41)]
