"""The rule model: validation, flow checks and allow-set algebra."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from korefw.core.errors import KorefwError
from korefw.core.rules.allowset import AllowSet, Box
from korefw.core.rules.model import Origin, Protocol, Rule, RuleSet, normalize_fqdn
from korefw.core.rules.ports import PortRange, parse_ports


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def rule_of(**kw: object) -> Rule:
    base: dict[str, object] = {
        "section": "S",
        "component": "C",
        "protocols": ("tcp",),
        "ports": (PortRange(443, 443),),
        "cidrs": (net("10.1.2.0/24"),),
    }
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def test_rule_normalizes_ports_and_protocols() -> None:
    r = rule_of(
        protocols=("udp", "tcp", "tcp"), ports=(PortRange(5061, 5061), PortRange(5060, 5060))
    )
    assert r.protocols == (Protocol.TCP, Protocol.UDP)
    assert r.ports == (PortRange(5060, 5061),)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"protocols": ()}, "no protocol"),
        ({"protocols": ("icmp",)}, "icmp"),
        ({"ports": ()}, "no destination port"),
        ({"cidrs": ()}, "empty destination"),
        ({"cidrs": (net("10.0.0.0/8"),)}, "broader than /16"),
        ({"fqdns": ("bad_name!.com",)}, "malformed FQDN"),
    ],
)
def test_rule_rejects_bad_input_naming_origin(kw: dict[str, object], message: str) -> None:
    with pytest.raises((KorefwError, ValueError)) as info:
        rule_of(origin=Origin("jp.md", 12), **kw)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("70000", "outside 0-65535"), ("6000-5000", "reversed port range"), ("http", "malformed")],
)
def test_bad_ports(text: str, message: str) -> None:
    with pytest.raises(KorefwError, match=message):
        parse_ports(text, where="cell")


def test_protocol_parse_refuses_all() -> None:
    for bad in ("-1", "*", "all", "icmp"):
        with pytest.raises(KorefwError, match="unknown protocol"):
            Protocol.parse(bad)


def test_fqdn_rules_and_wildcards() -> None:
    r = rule_of(cidrs=(), fqdns=("*.Kore.ai",), ports=(PortRange(443, 443), PortRange(8443, 8443)))
    assert r.fqdns == ("*.kore.ai",)
    assert r.allows("tcp", "api.kore.ai", 443)
    assert r.allows("tcp", "a.b.kore.ai", 8443)
    assert not r.allows("tcp", "kore.ai", 443)
    assert not r.allows("tcp", "evilkore.ai", 443)
    assert not r.allows("udp", "api.kore.ai", 443)
    assert normalize_fqdn("audiocodes-jp-sbc-prod.kore.ai.") == "audiocodes-jp-sbc-prod.kore.ai"


def test_ruleset_filter_and_matching() -> None:
    rs = RuleSet(
        (
            rule_of(
                section="Twilio STUN",
                component="",
                protocols=("udp",),
                ports=(PortRange(3478, 3478),),
                cidrs=(net("13.115.244.0/27"),),
            ),
            rule_of(section="AudioCodes", component="Session Border Controller (SBC) (Agent SBC)"),
        ),
        region="jp",
    )
    assert len(rs.filter(sections=["twilio*"])) == 1
    assert len(rs.filter(components=["*agent sbc*"])) == 1
    with pytest.raises(KorefwError, match="no rule has a section matching"):
        rs.filter(sections=["Nope"])
    assert rs.matching("udp", "13.115.244.7", 3478)
    assert not rs.matching("udp", "13.115.244.7", 3479)
    assert not rs.matching("udp", "13.115.244.32", 3478)


def test_rule_key_is_content_not_position() -> None:
    a = rule_of(origin=Origin("x.md", 3))
    b = rule_of(origin=Origin("y.md", 99))
    assert a.key == b.key and a.id == b.id
    assert rule_of(ports=(PortRange(444, 444),)).id != a.id


boxes_st = st.builds(
    lambda p, lo, span, a, asp: Box(
        p, 4, (lo, min(lo + span, 65535)), (a, min(a + asp, 2**32 - 1))
    ),
    st.sampled_from(["tcp", "udp"]),
    st.integers(0, 200),
    st.integers(0, 50),
    st.integers(0, 300),
    st.integers(0, 60),
)


def _points(bs: list[Box]) -> set[tuple[str, int, int]]:
    return {
        (b.protocol, p, a)
        for b in bs
        for p in range(b.ports[0], b.ports[1] + 1)
        for a in range(b.addresses[0], b.addresses[1] + 1)
    }


@given(st.lists(boxes_st, max_size=6), st.lists(boxes_st, max_size=6))
def test_allowset_equality_and_difference_match_point_sets(x: list[Box], y: list[Box]) -> None:
    a, b = AllowSet(x), AllowSet(y)
    pa, pb = _points(x), _points(y)
    assert (a == b) == (pa == pb)
    assert _points(list((a - b).boxes())) == pa - pb
    assert _points(list((a | b).boxes())) == pa | pb
    assert _points(list(a.boxes())) == pa


def _tiles(n: int, *, ports: tuple[int, int] = (443, 443), base: int = 10) -> list[Rule]:
    return [
        rule_of(
            ports=(PortRange(*ports),),
            cidrs=(net(f"{base}.{i}.0.0/16"),),
            origin=Origin("tiles.toml", i + 3),
        )
        for i in range(n)
    ]


def test_rows_that_together_tile_a_slash_8_are_refused_like_one() -> None:
    with pytest.raises(KorefwError) as info:
        RuleSet(tuple(_tiles(256)))
    text = str(info.value)
    assert text.startswith("tiles.toml:3: 256 rows (lines 3, 4, 5, 6, 7 +251 more)")
    assert "tcp 443" in text and "'10.0.0.0/8'" in text and "\n" not in text


def test_two_adjacent_slash_16_rows_merge_to_a_broad_slash_15() -> None:
    with pytest.raises(KorefwError, match=r"'10.0.0.0/15'"):
        RuleSet(tuple(_tiles(2)))
    RuleSet(tuple(_tiles(1) + _tiles(3)[2:]))  # 10.0/16 and 10.2/16 do not merge


def test_union_breadth_is_per_flow() -> None:
    # The same tiles on different ports never merge into one flow's block.
    half = [r.with_(ports=(PortRange(80, 80),)) for r in _tiles(2)[1:]]
    RuleSet((*_tiles(1), *half))
    # ... nor on different protocols.
    RuleSet((*_tiles(1), *(r.with_(protocols=("udp",)) for r in _tiles(2)[1:])))
    # A port range that overlaps joins the flow.
    wide = [r.with_(ports=(PortRange(400, 500),)) for r in _tiles(2)[1:]]
    with pytest.raises(KorefwError, match="tcp 443"):
        RuleSet((*_tiles(1), *wide))


def test_union_breadth_accepts_rows_marked_allow_broad() -> None:
    RuleSet(tuple(r.with_(allow_broad=True) for r in _tiles(256)))
    broad = rule_of(cidrs=(net("10.0.0.0/8"),), allow_broad=True)
    RuleSet((broad, *_tiles(256)))  # all inside what is broad on purpose
    with pytest.raises(KorefwError, match=r"'11.0.0.0/8'"):
        RuleSet((broad, *_tiles(256, base=11)))


def test_union_breadth_of_ipv6_rows_through_nat64() -> None:
    rows = [
        rule_of(cidrs=(ipaddress.ip_network(f"64:ff9b::a{i:02x}:0/112"),), origin=Origin("v6", i))
        for i in range(2)
    ]
    with pytest.raises(KorefwError, match="64:ff9b::/96"):
        RuleSet(tuple(rows))


@pytest.mark.parametrize("text", ["*.1.2.3.4", "1.2.3.4", "10.0.0.1.", "*.kore.123", "a.b.0"])
def test_names_with_an_all_numeric_top_label_are_not_fqdns(text: str) -> None:
    with pytest.raises(KorefwError) as info:
        normalize_fqdn(text, where="jp.toml:7")
    assert str(info.value) == (
        f"jp.toml:7: not an FQDN: its top-level label is all digits (RFC 1123, RFC 3696) "
        f"(got {text!r})"
    )
    with pytest.raises(KorefwError, match="all digits"):
        rule_of(cidrs=(), fqdns=(text,))


@pytest.mark.parametrize("text", ["*.1.2.3.kore.ai", "1.2.3.4.nip.io", "123.example.com"])
def test_numeric_labels_below_a_named_top_level_are_fine(text: str) -> None:
    assert normalize_fqdn(text) == text
