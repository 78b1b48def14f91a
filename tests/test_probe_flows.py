"""Which flows korefw probe tries (korefw/core/probe/flows.py): checks, samples, overrides."""

from __future__ import annotations

import ipaddress

import pytest
from conftest import japan, rule
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.errors import KorefwError
from korefw.core.probe.flows import (
    MAX_FLOWS,
    Check,
    Endpoint,
    Sampling,
    Verdict,
    exit_code,
    make_overrides,
    parse_override,
    plan_probe,
    sample_addresses,
)
from korefw.core.rules.model import Protocol, RuleSet

TCP, UDP = Protocol.TCP, Protocol.UDP


def _checks(rules: RuleSet, **kw: object) -> dict[tuple[str, str, int], Check]:
    plan = plan_probe(rules, **kw)  # type: ignore[arg-type]
    return {(f.protocol.value, f.target, f.port): f.check for f in plan.flows}


def test_japan_flows_get_the_check_that_can_show_them_open() -> None:
    checks = _checks(japan(), hosts=["voice.kore.ai"])
    assert checks[("tcp", "18.177.19.211", 5060)] is Check.TCP  # SBC
    assert checks[("tcp", "18.177.19.211", 5061)] is Check.TCP  # TLS to an address: no name
    assert checks[("tcp", "audiocodes-jp-sbc-prod.kore.ai", 5061)] is Check.TLS
    assert checks[("tcp", "audiocodes-jp-sbc-prod.kore.ai", 5060)] is Check.TCP
    assert checks[("tcp", "voice.kore.ai", 443)] is Check.TLS
    assert checks[("tcp", "13.115.244.1", 3478)] is Check.STUN_TCP  # Twilio STUN/TURN
    assert checks[("udp", "13.115.244.1", 3478)] is Check.STUN_UDP
    assert checks[("tcp", "13.115.244.1", 5349)] is Check.TCP  # TURN TLS: handshake only
    # UDP without a STUN responder, and a wildcard with no --host under it: not probed.
    assert checks[("udp", "18.177.19.211/32", 6000)] is Check.NONE
    assert checks[("udp", "18.177.19.211/32", 5060)] is Check.NONE
    assert checks[("udp", "168.86.128.0/18", 10000)] is Check.NONE
    assert checks[("tcp", "*.twilio.com", 443)] is Check.NONE


def test_unverifiable_flows_say_why() -> None:
    flows = {(f.target, f.port): f for f in plan_probe(japan()).flows}
    media = flows[("168.86.128.0/18", 10000)]
    assert media.ports == "10000-65535" and "unverifiable by probe" in media.note
    assert "--host" in flows[("*.kore.ai", 443)].note


def test_every_probed_flow_is_allowed_by_the_rules_and_every_rule_is_listed() -> None:
    rules = japan()
    plan = plan_probe(rules, Sampling(3, 4), hosts=["voice.kore.ai", "a.b.twilio.com"])
    for f in plan.probed():
        assert rules.matching(f.protocol, f.target, f.port), f
    listed = {id(f.rule) for f in plan.flows}
    assert all(id(r) in listed for r in rules)


def test_sampling_takes_the_first_hosts_and_ports_and_can_widen() -> None:
    rules = RuleSet((rule(protocols=(TCP,), ports=((6000, 6010),), cidrs=("10.1.0.0/24",)),))
    one = [(f.target, f.port) for f in plan_probe(rules).probed()]
    assert one == [("10.1.0.1", 6000)]
    wide = [(f.target, f.port) for f in plan_probe(rules, Sampling(2, 3)).probed()]
    assert wide == [(a, p) for a in ("10.1.0.1", "10.1.0.2") for p in (6000, 6001, 6002)]


@pytest.mark.parametrize(
    ("net", "count", "expected"),
    [("192.0.2.7/32", 3, ["192.0.2.7"]), ("192.0.2.6/31", 5, ["192.0.2.6", "192.0.2.7"]),
     ("192.0.2.0/30", 9, ["192.0.2.1", "192.0.2.2"]), ("2001:db8::/64", 1, ["2001:db8::1"])],
)  # fmt: skip
def test_sample_addresses(net: str, count: int, expected: list[str]) -> None:
    assert sample_addresses(ipaddress.ip_network(net), count) == expected


@settings(max_examples=40, deadline=None)
@given(
    net=st.ip_addresses(v=4).flatmap(
        lambda a: st.integers(16, 32).map(lambda p: ipaddress.ip_network(f"{a}/{p}", strict=False))
    ),
    count=st.integers(1, 16),
)
def test_samples_stay_inside_the_cidr(net: ipaddress.IPv4Network, count: int) -> None:
    sample = sample_addresses(net, count)
    assert 1 <= len(sample) <= count
    assert all(ipaddress.ip_address(a) in net for a in sample)
    assert len(set(sample)) == len(sample)


@pytest.mark.parametrize(
    ("kw", "where"),
    [({"addresses_per_cidr": 0}, "--addresses-per-cidr"),
     ({"ports_per_range": 17}, "--ports-per-range")],
)  # fmt: skip
def test_sampling_is_bounded(kw: dict[str, int], where: str) -> None:
    with pytest.raises(KorefwError, match=where):
        Sampling(**kw)


def test_too_many_flows_is_one_error() -> None:
    nets = [f"10.{i}.0.0/24" for i in range(MAX_FLOWS // 16 + 1)]  # apart: none collapse
    rules = RuleSet((rule(ports=((6000, 6100),), cidrs=nets),), source="big.toml")
    with pytest.raises(KorefwError, match="narrow with --section"):
        plan_probe(rules, Sampling(4, 4))


def test_a_host_must_fall_under_a_wildcard_rule() -> None:
    with pytest.raises(KorefwError, match="--host: no wildcard FQDN rule covers"):
        plan_probe(japan(), hosts=["example.com"])
    with pytest.raises(KorefwError, match="--host"):
        plan_probe(japan(), hosts=["*.kore.ai"])


@pytest.mark.parametrize(
    ("text", "source", "dest"),
    [("18.177.19.211=127.0.0.1", Endpoint("18.177.19.211"), Endpoint("127.0.0.1")),
     ("18.177.19.211:5061=127.0.0.1:40000", Endpoint("18.177.19.211", 5061),
      Endpoint("127.0.0.1", 40000)),
     ("Voice.Kore.AI=localhost:8443", Endpoint("voice.kore.ai"), Endpoint("localhost", 8443)),
     ("[2001:db8::1]:443=::1", Endpoint("2001:db8::1", 443), Endpoint("::1"))],
)  # fmt: skip
def test_parse_override(text: str, source: Endpoint, dest: Endpoint) -> None:
    assert parse_override(text) == (source, dest)


@pytest.mark.parametrize(
    "text", ["18.177.19.211", "1.2.3.4=127.0.0.1:0", "1.2.3.4=127.0.0.1:x", "1.2.3=:5", "[::1=x"]
)
def test_a_bad_override_is_one_error(text: str) -> None:
    with pytest.raises(KorefwError, match="--target-override"):
        parse_override(text)


def test_overrides_route_port_first_then_address_then_all() -> None:
    plan = plan_probe(japan())
    flows = {(f.target, f.port, f.protocol): f for f in plan.probed()}
    overrides = make_overrides(
        ["18.177.19.211:5061=127.0.0.1:40001", "18.177.19.211=127.0.0.2"], all_to="127.0.0.9"
    )
    overrides.check_used(plan)
    assert overrides.route(flows[("18.177.19.211", 5061, TCP)]) == Endpoint("127.0.0.1", 40001)
    assert overrides.route(flows[("18.177.19.211", 5060, TCP)]) == Endpoint("127.0.0.2", 5060)
    assert overrides.route(flows[("13.115.244.1", 3478, UDP)]) == Endpoint("127.0.0.9", 3478)
    assert make_overrides([]).route(flows[("13.115.244.1", 3478, UDP)]) is None


def test_an_override_naming_no_probed_flow_is_refused() -> None:
    plan = plan_probe(japan())
    for text in ("18.177.19.212=127.0.0.1", "18.177.19.211:9=127.0.0.1", "13.115.244.0=::1"):
        with pytest.raises(KorefwError, match="names no probed flow"):
            make_overrides([text]).check_used(plan)
    with pytest.raises(KorefwError, match="--target-override-all"):
        make_overrides([], all_to="127.0.0.1:80")


def test_exit_code() -> None:
    assert exit_code([Verdict.OPEN, Verdict.UNVERIFIABLE]) == 0
    assert exit_code([]) == 0
    for bad in set(Verdict) - {Verdict.OPEN, Verdict.UNVERIFIABLE}:
        assert exit_code([Verdict.OPEN, bad]) == 1


@pytest.mark.parametrize(
    "text",
    ["18.177.19.211=8.8.8.8", "18.177.19.211=10.0.0.1:80", "voice.kore.ai=example.com",
     "18.177.19.211=[2001:db8::1]:443", "18.177.19.211=0.0.0.0", "18.177.19.211=::"],
)  # fmt: skip
def test_an_override_may_only_send_traffic_to_loopback(text: str) -> None:
    with pytest.raises(KorefwError, match=r"--target-override: .*loopback"):
        parse_override(text)


@pytest.mark.parametrize("host", ["8.8.8.8", "example.com", "192.168.1.1", "::"])
def test_override_all_may_only_send_traffic_to_loopback(host: str) -> None:
    with pytest.raises(KorefwError, match=r"--target-override-all: .*loopback"):
        make_overrides([], all_to=host)
    assert make_overrides([], all_to="127.0.0.2").all_to == "127.0.0.2"
    assert make_overrides([], all_to="LocalHost").all_to == "localhost"
