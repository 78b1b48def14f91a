"""AWS FQDN enforcement: Network Firewall (Suricata) and DNS Firewall plans for FQDN rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError
from ..rules.model import Protocol, RuleSet
from ..rules.ports import PortRange
from .aws_options import AwsOptions, description
from .fqdn import FqdnFlow, UnenforcedFqdnRule, fqdn_flows
from .naming import digest

_SID_BASE = 1_000_000
_SID_SPAN = 8_999_999


@dataclass(frozen=True)
class NetworkFirewallPlan:
    """A stateful Suricata rule group passing TLS SNI and HTTP Host to the vendor's names."""

    capacity: int
    rules: tuple[str, ...]
    description: str = ""

    resource_name = "nfw"

    @property
    def rules_string(self) -> str:
        """The Suricata rules, one a line."""
        return "\n".join(self.rules) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "capacity": self.capacity,
            "description": self.description,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class DnsFirewallPlan:
    """A Route 53 Resolver DNS Firewall domain list and a rule group that ALLOWs it."""

    name: str  # AWS name of the domain list, rule group and rule
    domains: tuple[str, ...]
    priority: int  # of the VPC association
    rule_priority: int = 100

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name,
            "domains": list(self.domains),
            "association_priority": self.priority,
            "rule_priority": self.rule_priority,
        }


@dataclass(frozen=True)
class FqdnPlan:
    """Where the FQDN egress rules go, and which are left unenforced."""

    flows: tuple[FqdnFlow, ...]
    network_firewall: NetworkFirewallPlan | None
    dns_firewall: DnsFirewallPlan | None
    unenforced: tuple[UnenforcedFqdnRule, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        """A warning naming the unenforced flows, when there are any."""
        if not self.unenforced:
            return ()
        flows = "; ".join(
            f"{u.flow.protocol} {u.flow.ports_text} to {u.flow.fqdn}" for u in self.unenforced
        )
        return (
            f"{len(self.unenforced)} FQDN egress rule(s) are not enforced: {flows}. "
            "Set fqdn_enforcement (network-firewall, dns-firewall) or allow them elsewhere; "
            "see the unenforced_fqdn_rules output",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "flows": [f.to_dict() for f in self.flows],
            "network_firewall": self.network_firewall.to_dict() if self.network_firewall else None,
            "dns_firewall": self.dns_firewall.to_dict() if self.dns_firewall else None,
            "unenforced_fqdn_rules": [u.to_dict() for u in self.unenforced],
        }


def plan_fqdn(rules: RuleSet, options: AwsOptions | None = None) -> FqdnPlan:
    """Plan the FQDN egress rules: Network Firewall, DNS Firewall, or reported unenforced.

    Network Firewall gets Suricata ``pass`` rules, one for TLS SNI and one for HTTP Host
    per name and TCP port set, restricted to the vendor's ports (a plain domain list
    would pass any port). ``*.kore.ai`` matches names ending in ``.kore.ai`` but not
    ``kore.ai`` itself, as the vendor writes it. UDP has neither SNI nor Host, so UDP
    FQDN flows cannot be matched there. A TCP flow that is neither TLS nor HTTP (plain
    SIP on 5060, say) is not matched by name either: such flows need an address rule.
    DNS Firewall allows resolving the names; it does not restrict ports or protocols.
    """
    opts = options or AwsOptions()
    flows = fqdn_flows(
        (fqdn, str(proto), p, r.describe())
        for r in rules.fqdn_rules()
        for fqdn in r.fqdns
        for proto in r.protocols
        for p in r.ports
    )
    enforce = set(opts.fqdn_enforcement)
    nfw = None
    if "network-firewall" in enforce:
        lines = _suricata_rules([f for f in flows if f.protocol == Protocol.TCP])
        if lines:
            need = len(lines)
            capacity = opts.network_firewall_capacity
            if capacity is None:
                capacity = max(100, math.ceil(need / 100) * 100)
            elif capacity < need:
                raise PlanError(
                    f"the Network Firewall rule group needs capacity {need} (one per rule)",
                    where="network_firewall_capacity",
                    value=capacity,
                )
            where = f", region {rules.region}" if rules.region else ""
            nfw = NetworkFirewallPlan(
                capacity=capacity,
                rules=tuple(lines),
                description=description(f"{opts.name_prefix}: Kore.ai FQDN egress rules{where}"),
            )
    dns = None
    if "dns-firewall" in enforce and flows:
        name = "-".join(p for p in (opts.name_prefix, rules.region, "fqdn") if p)
        dns = DnsFirewallPlan(
            name=name,
            domains=tuple(sorted({f.fqdn for f in flows})),
            priority=opts.dns_firewall_priority,
        )
    unenforced = []
    for f in flows:
        if "dns-firewall" in enforce:
            continue
        if "network-firewall" in enforce and f.protocol == Protocol.TCP:
            continue
        if not enforce:
            reason = (
                "no FQDN enforcement chosen (fqdn_enforcement is empty); a security group "
                "cannot match names"
            )
        else:
            reason = "network-firewall matches TLS SNI and HTTP Host only, which UDP does not carry"
        unenforced.append(UnenforcedFqdnRule(f, reason))
    return FqdnPlan(tuple(flows), nfw, dns, tuple(unenforced))


def _suricata_rules(flows: list[FqdnFlow]) -> list[str]:
    lines: list[tuple[str, str]] = []  # (identity, rule without sid)
    for f in flows:
        ports = _suricata_ports(f.ports)
        if f.fqdn.startswith("*."):
            suffix = f.fqdn[1:]  # ".kore.ai": the dot keeps "kore.ai" and "evilkore.ai" out
            sni = f'content:"{suffix}"; nocase; endswith;'
            host = f'content:"{suffix}"; endswith;'
        else:
            sni = f'content:"{f.fqdn}"; nocase; startswith; endswith;'
            host = f'content:"{f.fqdn}"; startswith; endswith;'
        msg = _suricata_text(f"korefw {f.fqdn} tcp {f.ports_text}: {'; '.join(f.sources)}")
        for app, buffer, match in (("tls", "tls.sni", sni), ("http", "http.host", host)):
            body = (
                f"pass {app} $HOME_NET any -> $EXTERNAL_NET {ports} "
                f'(msg:"{msg}"; flow:to_server,established; {buffer}; {match}'
            )
            lines.append((f"{app}|{f.fqdn}|{ports}", body))
    used: set[int] = set()
    out = []
    for identity, body in sorted(lines):
        sid = _SID_BASE + int(digest(identity, length=12), 16) % _SID_SPAN
        while sid in used:  # rare; deterministic because lines are sorted
            sid = _SID_BASE + (sid - _SID_BASE + 1) % _SID_SPAN
        used.add(sid)
        out.append(f"{body} sid:{sid}; rev:1;)")
    return out


def _suricata_ports(ports: tuple[PortRange, ...]) -> str:
    parts = [str(p.lo) if p.lo == p.hi else f"{p.lo}:{p.hi}" for p in ports]
    return parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"


def _suricata_text(text: str) -> str:
    return description(text).replace(";", ",")[:200]
