"""The AWS plan as data: prefix lists, egress rules, security groups and :class:`AwsPlan`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..rules.allowset import AllowSet
from .aws_fqdn import FqdnPlan
from .aws_options import AwsOptions, flow_text
from .fqdn import UnenforcedFqdnRule
from .ordering import HeldState


@dataclass(frozen=True)
class PrefixListEntryPlan:
    """One prefix-list entry."""

    cidr: str
    description: str


@dataclass(frozen=True)
class PrefixListPlan:
    """One managed prefix list: every CIDR of a section that needs one vendor flow."""

    key: str  # stable set name; also the key of the ``prefix_list_ids`` output
    name: str  # the AWS name
    address_family: str  # IPv4 | IPv6
    entries: tuple[PrefixListEntryPlan, ...]
    max_entries: int
    #: (protocol, from port, to port) every entry needs; one referencing egress rule each.
    flows: tuple[tuple[str, int, int], ...]
    sources: tuple[str, ...]  # "section / component" the entries come from
    #: The key an earlier korefw gave this list, where it differs (an alias keeps it).
    former_key: str | None = None
    #: Egress rules (``EgressRulePlan.name``) this list's update waits for: they allow
    #: what it stops holding, so they must exist first (:mod:`.ordering`).
    after: tuple[str, ...] = ()

    @property
    def resource_name(self) -> str:
        """Logical name suffix of the ``ManagedPrefixList``."""
        return f"pl-{self.key}"

    @property
    def former_resource_name(self) -> str | None:
        """The logical name suffix an earlier korefw used, where it differs."""
        return f"pl-{self.former_key}" if self.former_key else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "key": self.key,
            "name": self.name,
            "address_family": self.address_family,
            "max_entries": self.max_entries,
            "entries": [{"cidr": e.cidr, "description": e.description} for e in self.entries],
            "flows": [flow_text(*f) for f in self.flows],
            "sources": list(self.sources),
            **({"after": list(self.after)} if self.after else {}),
        }


@dataclass(frozen=True)
class EgressRulePlan:
    """One ``SecurityGroupEgressRule``: a protocol, a port range and one destination."""

    name: str  # logical name suffix, from content
    protocol: str
    from_port: int
    to_port: int
    family: int  # 4 | 6
    description: str
    cost: int  # quota units in ``family``
    group: int  # 1-based index of the security group
    cidr: str | None = None
    prefix_list: str | None = None  # PrefixListPlan.key
    #: The name an earlier korefw gave this rule, where it differs (an alias keeps it).
    former_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out: dict[str, Any] = {
            "name": self.name,
            "group": self.group,
            "protocol": self.protocol,
            "from_port": self.from_port,
            "to_port": self.to_port,
            "ip_version": self.family,
            "cost": self.cost,
            "description": self.description,
        }
        if self.cidr is not None:
            out["cidr"] = self.cidr
        if self.prefix_list is not None:
            out["prefix_list"] = self.prefix_list
        return out


@dataclass(frozen=True)
class GroupPlan:
    """One security group (or the existing one) and the quota its egress rules use."""

    index: int  # 1-based
    description: str
    rules: tuple[str, ...]  # EgressRulePlan.name
    ipv4: int
    ipv6: int

    @property
    def resource_name(self) -> str:
        """Logical name suffix of the ``SecurityGroup``."""
        return f"sg-{self.index}"

    def quota(self) -> dict[str, int]:
        """Quota units used, per IP version."""
        return {"group": self.index, "ipv4": self.ipv4, "ipv6": self.ipv6}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**self.quota(), "description": self.description, "rules": list(self.rules)}


@dataclass(frozen=True)
class AwsPlan:
    """Everything korefw will create on AWS for one rule set, as plain data."""

    region: str
    options: AwsOptions
    groups: tuple[GroupPlan, ...]
    rules: tuple[EgressRulePlan, ...]
    prefix_lists: tuple[PrefixListPlan, ...]
    fqdn: FqdnPlan
    notes: tuple[str, ...] = field(default=())  # AWS limits the plan is near (adjustable)

    @property
    def rule_count(self) -> int:
        """How many egress rules."""
        return len(self.rules)

    @property
    def quota_used(self) -> list[dict[str, int]]:
        """Quota units per security group and IP version."""
        return [g.quota() for g in self.groups]

    @property
    def unenforced_fqdn_rules(self) -> tuple[UnenforcedFqdnRule, ...]:
        """FQDN flows no enforcement point expresses."""
        return self.fqdn.unenforced

    @property
    def warnings(self) -> tuple[str, ...]:
        """The unenforced FQDN flows, if any, then the :attr:`notes` on AWS's limits."""
        return (*self.fqdn.warnings, *self.notes)

    def prefix_list(self, key: str) -> PrefixListPlan:
        """The prefix list with ``key``."""
        return next(p for p in self.prefix_lists if p.key == key)

    def allow_set(self) -> AllowSet:
        """The IP flows the planned egress rules allow (prefix lists expanded)."""
        return AllowSet(b for a in self.rule_allows().values() for b in a.boxes())

    def rule_allows(self) -> dict[str, AllowSet]:
        """Egress rule name -> the IP flows it allows (its prefix list expanded)."""
        lists = {p.key: p for p in self.prefix_lists}
        out = {}
        for r in self.rules:
            if r.cidr is not None:
                cidrs = [r.cidr]
            else:
                cidrs = [e.cidr for e in lists[r.prefix_list or ""].entries]
            nets = [ipaddress.ip_network(c) for c in cidrs]
            out[r.name] = AllowSet.of(r.protocol, [(r.from_port, r.to_port)], nets)
        return out

    def held(self) -> HeldState:
        """What the cloud holds once this plan is applied: the next plan's starting point."""
        return HeldState(
            known=True,
            prefix_lists={p.key: frozenset(e.cidr for e in p.entries) for p in self.prefix_lists},
        )

    def to_dict(self) -> dict[str, Any]:
        """The plan as deterministic JSON-able data (the components' ``plan`` output)."""
        return {
            "region": self.region,
            "options": self.options.to_dict(),
            "rule_count": self.rule_count,
            "quota_used": self.quota_used,
            "security_groups": [g.to_dict() for g in self.groups],
            "egress_rules": [r.to_dict() for r in self.rules],
            "prefix_lists": [p.to_dict() for p in self.prefix_lists],
            "fqdn": self.fqdn.to_dict(),
            "notes": list(self.notes),
        }
