"""The Azure plan as data: NSG rules, IP groups, Firewall rules and :class:`AzurePlan`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..rules.allowset import AllowSet
from .azure_options import (
    MAX_NSG_RULES,
    MAX_PREFIXES_PER_NSG,
    AzureOptions,
    port_interval,
    prefix_kind,
)
from .fqdn import UnenforcedFqdnRule
from .ordering import HeldRule, HeldState


@dataclass(frozen=True)
class NsgRule:
    """One outbound NSG rule as Azure will be told it."""

    name: str  # the Azure name: name_prefix and key
    priority: int
    access: str  # Allow | Deny
    protocol: str  # Tcp | Udp (Allow rules); * only for the Deny rule
    destination_address_prefixes: tuple[str, ...]
    destination_port_ranges: tuple[str, ...]
    description: str
    #: The slot the name hashes to; differs from ``priority`` when pinned or displaced.
    home: int = 0
    pinned: bool = False
    #: The identity without ``name_prefix``; the priority hashes this.
    key: str = ""
    #: NSG rules (names) this rule's update waits for: they allow what it stops allowing,
    #: so they must be in place first (:mod:`.ordering`; existing NSGs only).
    after: tuple[str, ...] = ()

    @property
    def resource_name(self) -> str:
        """Logical name suffix of a ``SecurityRule`` on an existing NSG: its priority.

        Keyed by priority, a rule of the new plan whose priority an old rule holds is that
        same resource (updated, or replaced delete-first), never a second rule on one
        priority while the old one still exists.
        """
        return f"priority-{self.priority}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "key": self.key,
            "priority": self.priority,
            "access": self.access,
            "protocol": self.protocol,
            "destination_address_prefixes": list(self.destination_address_prefixes),
            "destination_port_ranges": list(self.destination_port_ranges),
            "description": self.description,
            "home": self.home,
            "pinned": self.pinned,
            **({"after": list(self.after)} if self.after else {}),
        }

    def allow_set(self) -> AllowSet:
        """The flows the rule matches (Allow rules only carry CIDRs)."""
        ports = [port_interval(p) for p in self.destination_port_ranges]
        nets = [ipaddress.ip_network(p) for p in self.destination_address_prefixes]
        return AllowSet.of(self.protocol.lower(), ports, nets)


@dataclass(frozen=True)
class IpGroupPlan:
    """One Azure IP group: the destinations of one NSG Allow rule."""

    name: str
    addresses: tuple[str, ...]
    nsg_rule: str
    key: str = ""  # the NSG rule's key: the logical name, without name_prefix

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "addresses": list(self.addresses), "nsg_rule": self.nsg_rule}


@dataclass(frozen=True)
class FirewallRule:
    """One Azure Firewall rule: a network rule (addresses, IP group or exact FQDNs) or an
    application rule (``Https`` on listed ports to FQDNs, ``*.`` wildcards allowed)."""

    name: str
    kind: str  # network | application
    protocols: tuple[str, ...]  # network: TCP / UDP; application: Https
    ports: tuple[str, ...]
    description: str
    destination_addresses: tuple[str, ...] = ()
    destination_ip_group: str = ""
    destination_fqdns: tuple[str, ...] = ()
    target_fqdns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "protocols": list(self.protocols),
            "ports": list(self.ports),
            "description": self.description,
        }
        for key in ("destination_addresses", "destination_fqdns", "target_fqdns"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.destination_ip_group:
            out["destination_ip_group"] = self.destination_ip_group
        return out


@dataclass(frozen=True)
class FirewallPlan:
    """The rule collection group korefw adds to an existing or new Firewall Policy."""

    policy: str  # existing | new
    rule_collection_group: str
    priority: int
    source_addresses: tuple[str, ...]
    network_collection: str
    application_collection: str
    network_rules: tuple[FirewallRule, ...]
    application_rules: tuple[FirewallRule, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "policy": self.policy,
            "rule_collection_group": self.rule_collection_group,
            "priority": self.priority,
            "source_addresses": list(self.source_addresses),
            "network_collection": self.network_collection,
            "application_collection": self.application_collection,
            "network_rules": [r.to_dict() for r in self.network_rules],
            "application_rules": [r.to_dict() for r in self.application_rules],
        }


@dataclass(frozen=True)
class AzurePlan:
    """Everything korefw will tell Azure, as plain data; ``to_dict()`` is deterministic."""

    region: str
    options: AzureOptions
    nsg_rules: tuple[NsgRule, ...]  # sorted by priority
    displaced: tuple[tuple[str, int, int], ...]  # (name, home, priority)
    ip_groups: tuple[IpGroupPlan, ...]
    firewall: FirewallPlan | None
    unenforced_fqdn_rules: tuple[UnenforcedFqdnRule, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def rule_count(self) -> int:
        """How many NSG rules (the Deny rule too)."""
        return len(self.nsg_rules)

    def allow_rules(self) -> list[NsgRule]:
        """The Allow rules, by priority."""
        return [r for r in self.nsg_rules if r.access == "Allow"]

    def held(self) -> HeldState:
        """What an existing NSG holds once this plan is applied: the next plan's start."""
        return HeldState(
            known=True,
            nsg_rules=tuple(
                HeldRule(
                    r.name,
                    r.priority,
                    "Outbound",
                    r.access,
                    r.allow_set() if r.access == "Allow" else AllowSet(),
                )
                for r in self.nsg_rules
            ),
        )

    def rule_priorities(self) -> list[dict[str, Any]]:
        """``[{"name", "priority"}]`` of every NSG rule, by priority."""
        return [{"name": r.name, "priority": r.priority} for r in self.nsg_rules]

    def allow_set(self) -> AllowSet:
        """What the planned Allow rules allow (the component's output is checked separately)."""
        return AllowSet(b for r in self.allow_rules() for b in r.allow_set().boxes())

    def limits(self) -> dict[str, Any]:
        """What the plan uses of the Azure limits that apply to it, and what each is per."""
        o = self.options
        cidr_sources = sum(1 for p in o.source_address_prefixes if prefix_kind(p) == "cidr")
        return {
            "rules": {"used": len(self.nsg_rules), "limit": MAX_NSG_RULES, "per": "NSG"},
            "destination_prefixes": {
                "used": sum(len(r.destination_address_prefixes) for r in self.allow_rules()),
                "limit": MAX_PREFIXES_PER_NSG,
                "per": "NSG (sources and destinations apart; not per rule)",
            },
            "source_prefixes": {
                "used": cidr_sources * len(self.nsg_rules),
                "limit": MAX_PREFIXES_PER_NSG,
                "per": "NSG (sources and destinations apart; not per rule)",
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, deterministic form."""
        o = self.options
        return {
            "region": self.region,
            "merge": o.merge,
            "priority_band": list(o.priority_band),
            "source_address_prefixes": list(o.source_address_prefixes),
            "deny_other_outbound": o.deny_other_outbound,
            "nsg_rules": [r.to_dict() for r in self.nsg_rules],
            "displaced": [{"name": n, "home": h, "priority": p} for n, h, p in self.displaced],
            "limits": self.limits(),
            "ip_groups": [g.to_dict() for g in self.ip_groups],
            "firewall": self.firewall.to_dict() if self.firewall else None,
            "unenforced_fqdn_rules": [u.to_dict() for u in self.unenforced_fqdn_rules],
            "warnings": list(self.warnings),
        }
