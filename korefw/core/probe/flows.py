"""Which flows ``korefw probe`` tries for a rule set, how, and what it may contact.

Every flow is one (protocol, destination, port) a rule allows, with the check that can
show it is open from here (:class:`Check`). CIDRs and port ranges are sampled, never
swept: the first host addresses of each CIDR and the first ports of each range
(:class:`Sampling`). UDP flows with no STUN responder are listed as unverifiable, since
UDP gives no answer without a peer. The sockets are in :mod:`korefw.probe`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..errors import KorefwError
from ..rules.addresses import IPNetwork
from ..rules.model import Protocol, Rule, RuleSet, fqdn_matches, normalize_fqdn
from ..rules.ports import PortRange

#: Sampling limits: how far ``--addresses-per-cidr`` and ``--ports-per-range`` may widen.
MAX_ADDRESSES_PER_CIDR = 16
MAX_PORTS_PER_RANGE = 16
#: The most flows one probe tries; narrow with --section or --component beyond it.
MAX_FLOWS = 1024
#: Ports where TURN speaks TLS first (RFC 5766 and Twilio's pages): a TCP handshake only.
TURN_TLS_PORTS = frozenset({443, 5349})
#: Ports where a host-named (FQDN) rule's server speaks TLS first.
TLS_PORTS = frozenset({443, 5061, 5349, 8443})


class Check(StrEnum):
    """How one flow is tried."""

    TCP = "tcp-connect"
    STUN_UDP = "stun-udp"
    STUN_TCP = "stun-tcp"
    TLS = "tls-handshake"
    #: Not tried: nothing answers without a peer, or no concrete host name is known.
    NONE = "none"


class Verdict(StrEnum):
    """What one flow's probe found."""

    OPEN = "open"
    REFUSED = "refused"
    TIMED_OUT = "timed-out"
    UNREACHABLE = "unreachable"
    DNS_FAILED = "dns-failed"
    TLS_FAILED = "tls-failed"
    STUN_FAILED = "stun-failed"
    UNVERIFIABLE = "unverifiable"
    #: The --deadline came before the flow's turn.
    NOT_RUN = "not-run"


#: Verdicts that do not fail a probe: proven open, or not provable by a probe at all.
PASSING = frozenset({Verdict.OPEN, Verdict.UNVERIFIABLE})


@dataclass(frozen=True)
class Sampling:
    """How many addresses of each CIDR and ports of each range a probe tries (first ones)."""

    addresses_per_cidr: int = 1
    ports_per_range: int = 1

    def __post_init__(self) -> None:
        for name, value, top in (
            ("--addresses-per-cidr", self.addresses_per_cidr, MAX_ADDRESSES_PER_CIDR),
            ("--ports-per-range", self.ports_per_range, MAX_PORTS_PER_RANGE),
        ):
            if not 1 <= value <= top:
                raise KorefwError(f"expected 1-{top}", where=name, value=value)


@dataclass(frozen=True)
class Flow:
    """One flow to try: ``protocol`` to ``target`` (an address or host name) on ``port``."""

    protocol: Protocol
    target: str
    port: int
    check: Check
    rule: Rule
    #: The rule's destination and ports this flow samples (``13.115.244.0/27``, ``6000-65535``).
    destination: str
    ports: str
    #: Why the flow is checked this way (or not at all), for the report.
    note: str = ""

    @property
    def key(self) -> tuple[str, str, int, str]:
        """Identity: the same flow from two rules is tried once."""
        return (self.protocol.value, self.target, self.port, self.check.value)


@dataclass(frozen=True)
class ProbePlan:
    """The flows of a rule set, in vendor order, and how they were sampled."""

    rules: RuleSet
    flows: tuple[Flow, ...]
    sampling: Sampling

    def probed(self) -> list[Flow]:
        """The flows that are really tried."""
        return [f for f in self.flows if f.check is not Check.NONE]


def _is_stun(rule: Rule) -> bool:
    text = f"{rule.section} {rule.component} {rule.label}".lower()
    return "stun" in text or "turn" in text


def _is_tls(rule: Rule, port: int) -> bool:
    label = rule.label.lower()
    return port in TLS_PORTS or any(w in label for w in ("tls", "wss", "https", "ssl"))


def _check(rule: Rule, protocol: Protocol, ports: PortRange, *, host_name: bool) -> Check:
    stun = _is_stun(rule) and ports.size == 1 and ports.lo not in TURN_TLS_PORTS
    if protocol is Protocol.UDP:
        return Check.STUN_UDP if stun else Check.NONE
    if stun:
        return Check.STUN_TCP
    if host_name and _is_tls(rule, ports.lo):
        return Check.TLS
    return Check.TCP


def sample_addresses(net: IPNetwork, count: int) -> list[str]:
    """The first ``count`` host addresses of ``net`` (the address itself for a /32 or /128)."""
    first = net.network_address
    last = net.broadcast_address
    if net.num_addresses > 2:
        first, last = first + 1, last - 1
    span = int(last) - int(first) + 1
    return [str(first + i) for i in range(min(count, span))]


def _note(check: Check, rule: Rule, protocol: Protocol, ports: PortRange) -> str:
    if check is Check.NONE:
        return "UDP gives no answer without a peer: unverifiable by probe"
    if check is Check.TCP and _is_stun(rule) and ports.lo in TURN_TLS_PORTS:
        return "TURN over TLS: TCP handshake only"
    if check is Check.TCP and _is_tls(rule, ports.lo):
        return "TLS to an address: TCP handshake only (no name to verify)"
    return ""


def plan_probe(
    rules: RuleSet, sampling: Sampling = Sampling(), hosts: Sequence[str] = ()
) -> ProbePlan:
    """The flows to try for ``rules``; ``hosts`` name hosts under wildcard FQDN rules."""
    names = [normalize_fqdn(h, where="--host") for h in hosts]
    for name in names:
        if name.startswith("*") or not any(
            fqdn_matches(f, name) for r in rules for f in r.fqdns if f.startswith("*.")
        ):
            raise KorefwError("no wildcard FQDN rule covers this host", where="--host", value=name)
    flows: dict[tuple[str, str, int, str], Flow] = {}
    for rule in rules:
        for flow in _rule_flows(rule, sampling, names):
            flows.setdefault(flow.key, flow)
    plan = ProbePlan(rules, tuple(flows.values()), sampling)
    if len(plan.probed()) > MAX_FLOWS:
        raise KorefwError(
            f"more than {MAX_FLOWS} flows to probe; narrow with --section or --component, "
            "or sample fewer addresses or ports",
            where=rules.source or rules.region,
            value=len(plan.probed()),
        )
    return plan


def _rule_flows(rule: Rule, sampling: Sampling, hosts: Sequence[str]) -> Iterable[Flow]:
    dests: list[tuple[str, list[str], bool]] = [
        (str(net), sample_addresses(net, sampling.addresses_per_cidr), False) for net in rule.cidrs
    ]
    for fqdn in rule.fqdns:
        if fqdn.startswith("*."):
            dests.append((fqdn, [h for h in hosts if fqdn_matches(fqdn, h)], True))
        else:
            dests.append((fqdn, [fqdn], True))
    for protocol in rule.protocols:
        for ports in rule.ports:
            for destination, targets, host_name in dests:
                check = _check(rule, protocol, ports, host_name=host_name)
                note = _note(check, rule, protocol, ports)
                if check is not Check.NONE and not targets:
                    check, note = Check.NONE, "wildcard: name a host under it with --host"
                if check is Check.NONE:
                    yield Flow(
                        protocol, destination, ports.lo, check, rule, destination, str(ports), note
                    )
                    continue
                count = min(sampling.ports_per_range, ports.size)
                for target in targets:
                    for port in range(ports.lo, ports.lo + count):
                        yield Flow(
                            protocol, target, port, check, rule, destination, str(ports), note
                        )


# --------------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class Endpoint:
    """A host (address or name) and an optional port."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def parse_endpoint(text: str, *, where: str) -> Endpoint:
    """``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
    raw = text.strip()
    host, port = raw, None
    if raw.startswith("["):
        inner, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise KorefwError("malformed address", where=where, value=text)
        host, port = inner, rest[1:] or None
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    if not host:
        raise KorefwError("missing host", where=where, value=text)
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if ":" in host:
            raise KorefwError("malformed IP address", where=where, value=text) from None
        host = normalize_fqdn(host, where=where) if "." in host else host.lower()
    if port is None:
        return Endpoint(host)
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise KorefwError("expected a port 1-65535", where=where, value=text)
    return Endpoint(host, int(port))


def parse_override(text: str) -> tuple[Endpoint, Endpoint]:
    """``ADDR[:PORT]=HOST[:PORT]``: where to send the flows to Kore's ADDR (and PORT)."""
    where = "--target-override"
    source, sep, dest = text.partition("=")
    if not sep:
        raise KorefwError("expected ADDR[:PORT]=HOST[:PORT]", where=where, value=text)
    return parse_endpoint(source, where=where), _loopback(parse_endpoint(dest, where=where),
                                                          where=where, text=text)


def _loopback(end: Endpoint, *, where: str, text: str) -> Endpoint:
    """Overrides are for tests: they may send probe traffic to this machine only."""
    if end.host != "localhost":
        try:
            ok = ipaddress.ip_address(end.host).is_loopback
        except ValueError:
            ok = False
        if not ok:
            raise KorefwError(
                "overrides send probe traffic to loopback only (127.0.0.0/8, ::1, localhost)",
                where=where,
                value=text,
            )
    return end


@dataclass(frozen=True)
class Overrides:
    """Where flows really go: Kore's published address unless a test maps it elsewhere."""

    by_target: Mapping[Endpoint, Endpoint]
    all_to: str | None = None

    def route(self, flow: Flow) -> Endpoint | None:
        """The endpoint to contact instead of the flow's own (None: the flow's own)."""
        hit = self.by_target.get(Endpoint(flow.target, flow.port)) or self.by_target.get(
            Endpoint(flow.target)
        )
        if hit is None and self.all_to is not None:
            hit = Endpoint(self.all_to)
        if hit is None:
            return None
        return Endpoint(hit.host, hit.port if hit.port is not None else flow.port)

    def check_used(self, plan: ProbePlan) -> None:
        """Every override names a probed flow, so a typo cannot go unnoticed."""
        probed = plan.probed()
        for key in self.by_target:
            if not any(f.target == key.host and key.port in (None, f.port) for f in probed):
                raise KorefwError(
                    "names no probed flow (an address or host name the probe tries)",
                    where="--target-override",
                    value=str(key),
                )


def make_overrides(texts: Sequence[str], all_to: str | None = None) -> Overrides:
    """Parse ``--target-override`` and ``--target-override-all``."""
    pairs = dict(parse_override(t) for t in texts)
    host = None
    if all_to is not None:
        end = parse_endpoint(all_to, where="--target-override-all")
        if end.port is not None:
            raise KorefwError(
                "expected a host without a port", where="--target-override-all", value=all_to
            )
        host = _loopback(end, where="--target-override-all", text=all_to).host
    return Overrides(pairs, host)


def exit_code(verdicts: Iterable[Verdict]) -> int:
    """0 when every probed flow is open (or unverifiable by probe), else 1."""
    return 0 if all(v in PASSING for v in verdicts) else 1
