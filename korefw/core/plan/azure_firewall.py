"""Azure Firewall rules for the FQDN egress rules (and IP rules through IP groups)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from ..rules.model import Rule, RuleSet
from ..rules.ports import PortRange, merge_ports
from .azure_data import FirewallPlan, FirewallRule, NsgRule
from .azure_options import (
    MAX_APPLICATION_PORT,
    MAX_APPLICATION_PORTS_PER_RANGE,
    AzureOptions,
    azure_name,
    description,
    ports_text,
)
from .fqdn import UnenforcedFqdnRule, fqdn_flows

_NO_POLICY = "no Azure Firewall policy (pass firewall_policy_id or create_firewall_policy=True)"
_WILDCARD_UDP = (
    "Azure Firewall matches wildcard FQDNs only in application rules, which carry HTTP(S) over TCP"
)
_WILDCARD_PORTS = (
    f"application rules take single ports up to {MAX_APPLICATION_PORT}; "
    f"wider ranges (over {MAX_APPLICATION_PORTS_PER_RANGE} ports) are not spelled out"
)


def plan_firewall(
    rules: RuleSet, o: AzureOptions, allow_rules: list[NsgRule], ip_groups: bool
) -> tuple[FirewallPlan | None, tuple[UnenforcedFqdnRule, ...]]:
    # reason -> [(fqdn, protocol, ports, source)]
    """Azure Firewall rules for ``rules``, and the FQDN flows left unenforced."""
    skipped: dict[str, list[tuple[str, str, PortRange, str]]] = defaultdict(list)
    # (kind, scope, protocol) -> fqdn -> ports; owners per (kind, scope, protocol, fqdn)
    fq: dict[tuple[str, str, str], dict[str, list[PortRange]]] = defaultdict(
        lambda: defaultdict(list)
    )
    fq_owners: dict[tuple[str, str, str, str], set[tuple[str, str]]] = defaultdict(set)

    def skip(
        r: Rule, proto: str, ports: Iterable[PortRange], fqdns: Iterable[str], why: str
    ) -> None:
        skipped[why].extend((f, proto, p, r.describe()) for f in fqdns for p in ports)

    def add(kind: str, r: Rule, proto: str, fqdns: list[str], ports: Iterable[PortRange]) -> None:
        scope = {"none": r.key, "section": r.section}.get(o.merge, "")  # all, flow: one
        bucket = fq[(kind, scope, proto)]
        for f in fqdns:
            bucket[f].extend(ports)
            fq_owners[(kind, scope, proto, f)].add((r.section, r.component))

    for r in rules.fqdn_rules():
        for proto in map(str, r.protocols):
            if o.firewall_policy == "none":
                skip(r, proto, r.ports, r.fqdns, _NO_POLICY)
                continue
            wild = [f for f in r.fqdns if f.startswith("*.")]
            exact = [f for f in r.fqdns if not f.startswith("*.")]
            if exact:
                add("network", r, proto, exact, r.ports)
            if not wild:
                continue
            if proto != "tcp":
                skip(r, proto, r.ports, wild, _WILDCARD_UDP)
                continue
            fits = [p for p in r.ports if _spelled(p)]
            if fits:
                add("application", r, proto, wild, fits)
            if len(fits) < len(r.ports):
                skip(r, proto, [p for p in r.ports if not _spelled(p)], wild, _WILDCARD_PORTS)
    unenforced = tuple(
        sorted(
            (UnenforcedFqdnRule(f, why) for why, e in skipped.items() for f in fqdn_flows(e)),
            key=lambda u: (u.flow.fqdn, u.flow.protocol, u.reason),
        )
    )
    if o.firewall_policy == "none":
        return None, unenforced

    net_rules: list[FirewallRule] = [
        FirewallRule(
            name=r.name,
            kind="network",
            protocols=(r.protocol.upper(),),
            ports=r.destination_port_ranges,
            description=r.description,
            destination_addresses=() if ip_groups else r.destination_address_prefixes,
            destination_ip_group=r.name if ip_groups else "",
        )
        for r in sorted(allow_rules, key=lambda r: r.name)
    ]
    app_rules: list[FirewallRule] = []
    for fr in _fqdn_rules(rules, o, fq, fq_owners):
        (net_rules if fr.kind == "network" else app_rules).append(fr)
    prefix = o.name_prefix
    plan = FirewallPlan(
        policy=o.firewall_policy,
        rule_collection_group=f"{prefix}-egress",
        priority=o.firewall_priority,
        source_addresses=o.firewall_source_addresses,
        network_collection=f"{prefix}-network",
        application_collection=f"{prefix}-application",
        network_rules=tuple(net_rules),
        application_rules=tuple(app_rules),
    )
    return plan, unenforced


def _spelled(p: PortRange) -> bool:
    return p.hi <= MAX_APPLICATION_PORT and p.size <= MAX_APPLICATION_PORTS_PER_RANGE


def _fqdn_rules(
    rules: RuleSet,
    o: AzureOptions,
    fq: Mapping[tuple[str, str, str], Mapping[str, list[PortRange]]],
    owners_of: Mapping[tuple[str, str, str, str], set[tuple[str, str]]],
) -> list[FirewallRule]:
    """Network rules for exact names and application rules for ``*.`` names: one per
    (kind, scope, protocol) and merged port set, holding every name with those ports."""
    out: list[FirewallRule] = []
    for (kind, scope, proto), by_fqdn in sorted(fq.items()):
        by_ports: dict[tuple[PortRange, ...], list[str]] = defaultdict(list)
        for f, ports in by_fqdn.items():
            by_ports[merge_ports(ports)].append(f)
        for ports, fqdns in sorted(by_ports.items()):
            fqdns.sort()
            owners = set().union(*(owners_of[(kind, scope, proto, f)] for f in fqdns))
            ident = (o.merge, kind, scope, proto, ports_text(ports), ",".join(fqdns))
            label = scope if o.merge == "section" else ""
            name = azure_name(o.name_prefix, label, f"fqdn-{proto}", 4, ports, ident)
            if kind == "network":
                out.append(
                    FirewallRule(
                        name,
                        "network",
                        (proto.upper(),),
                        tuple(str(p) for p in ports),
                        description(rules.region, owners),
                        destination_fqdns=tuple(fqdns),
                    )
                )
            else:
                spelled = tuple(str(n) for p in ports for n in range(p.lo, p.hi + 1))
                out.append(
                    FirewallRule(
                        name,
                        "application",
                        ("Https",),
                        spelled,
                        description(rules.region, owners),
                        target_fqdns=tuple(fqdns),
                    )
                )
    return out
