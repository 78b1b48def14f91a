"""Audit what a cloud reports (security groups, NSGs) against the vendor's rules.

``korefw audit`` reads live firewalls through a small adapter per cloud
(:mod:`korefw.audit.aws`, :mod:`korefw.audit.azure`), which turns the API's answers into
the plain data below. This module compares that data with a rule set the way
``korefw verify`` compares a stack: each item becomes the resource state
:func:`~korefw.core.check.planread.read_states` reads, so the same allow-set algebra,
the same "wider than TCP or UDP" check and, for Azure, the same priority order, Deny
rules and closing-Deny check decide. Exit codes are verify's: 0 exact, 1 differs,
2 cannot be decided.

AWS groups are compared per account, Region and VPC: the groups korefw plans share one
network interface, so together they must allow exactly the vendor's flows. Each NSG is
compared on its own (a subnet or interface has one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..rules.model import RuleSet
from .planread import read_states
from .rulefields import AWS_EGRESS, AWS_PREFIX_LIST, AWS_SG, AZ_NSG, AZ_RULE
from .verify import CloudVerdict, Verification, cloud_verdict


@dataclass(frozen=True)
class AwsEgressRule:
    """One egress rule as ``DescribeSecurityGroupRules`` reports it."""

    rule_id: str
    protocol: str  # IpProtocol: tcp, udp, -1, icmp, 6, 17, ...
    from_port: int | None
    to_port: int | None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    prefix_list_id: str | None = None
    referenced_group_id: str | None = None
    description: str = ""


@dataclass(frozen=True)
class AwsGroup:
    """One security group and its egress rules."""

    group_id: str
    name: str
    vpc_id: str
    account: str
    region: str
    egress: tuple[AwsEgressRule, ...] = ()

    @property
    def label(self) -> str:
        """``sg-... (name)``."""
        return f"{self.group_id} ({self.name})" if self.name else self.group_id


@dataclass(frozen=True)
class PrefixList:
    """A managed prefix list's entries (``GetManagedPrefixListEntries``)."""

    list_id: str
    account: str
    region: str
    cidrs: tuple[str, ...]


@dataclass(frozen=True)
class NsgRule:
    """One NSG security rule (custom or default) as the Azure API reports it."""

    name: str
    priority: int
    direction: str
    access: str
    protocol: str
    destination_address_prefix: str | None = None
    destination_address_prefixes: tuple[str, ...] = ()
    destination_port_range: str | None = None
    destination_port_ranges: tuple[str, ...] = ()
    description: str = ""
    #: True when the rule names destination application security groups.
    to_application_groups: bool = False
    source_address_prefix: str | None = None
    source_address_prefixes: tuple[str, ...] = ()
    source_port_range: str | None = None
    source_port_ranges: tuple[str, ...] = ()
    #: True when the rule names source application security groups.
    from_application_groups: bool = False

    def properties(self) -> dict[str, Any]:
        """The rule as a ``securityRules`` item (Azure's property names)."""
        out: dict[str, Any] = {
            "name": self.name, "priority": self.priority, "direction": self.direction,
            "access": self.access, "protocol": self.protocol, "description": self.description,
            "destinationAddressPrefixes": list(self.destination_address_prefixes),
            "destinationPortRanges": list(self.destination_port_ranges),
        }  # fmt: skip
        if self.destination_address_prefix:
            out["destinationAddressPrefix"] = self.destination_address_prefix
        if self.destination_port_range:
            out["destinationPortRange"] = self.destination_port_range
        if self.source_address_prefix:
            out["sourceAddressPrefix"] = self.source_address_prefix
        if self.source_address_prefixes:
            out["sourceAddressPrefixes"] = list(self.source_address_prefixes)
        if self.source_port_range:
            out["sourcePortRange"] = self.source_port_range
        if self.source_port_ranges:
            out["sourcePortRanges"] = list(self.source_port_ranges)
        for flag, key in ((self.to_application_groups, "destinationApplicationSecurityGroups"),
                          (self.from_application_groups, "sourceApplicationSecurityGroups")):
            if flag:
                out[key] = ["(application security group)"]
        return out


@dataclass(frozen=True)
class Nsg:
    """One network security group with its custom rules (Azure's default rules are the
    same in every NSG: :func:`audit_azure` reasons about them)."""

    nsg_id: str
    name: str
    subscription: str
    resource_group: str
    rules: tuple[NsgRule, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``subscription/resource group/name``."""
        return f"{self.subscription}/{self.resource_group}/{self.name}"


#: Azure's default outbound rule to the virtual network: traffic inside the VNet (and
#: peered or connected networks), not Internet egress, so audit leaves it out as verify does.
AZURE_VNET_DEFAULT = "AllowVnetOutBound"


def tags_by_key(tags: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``--tag KEY=VALUE`` selections by key: a resource is selected when, for every key,
    its tag has one of that key's values (as AWS's ``tag:KEY`` filters read them)."""
    by_key: dict[str, list[str]] = {}
    for key, value in tags:
        by_key.setdefault(key, []).append(value)
    return by_key


def audit_aws(
    groups: Iterable[AwsGroup], prefix_lists: Iterable[PrefixList], rules: RuleSet
) -> Verification:
    """Compare the security groups, per account, Region and VPC, with ``rules``' IP flows."""
    scopes: dict[tuple[str, str, str], list[AwsGroup]] = defaultdict(list)
    for g in groups:
        scopes[(g.account, g.region, g.vpc_id)].append(g)
    lists: dict[tuple[str, str], list[PrefixList]] = defaultdict(list)
    for pl in prefix_lists:
        lists[(pl.account, pl.region)].append(pl)
    expected = rules.allow_set()
    verdicts: list[CloudVerdict] = []
    problems: list[str] = []
    notes: list[str] = []
    for (account, region, vpc), members in sorted(scopes.items()):
        members.sort(key=lambda g: g.group_id)
        reading = read_states(_aws_states(members, lists[(account, region)]))
        label = f"aws account {account} {region} {vpc or '(no VPC)'}"
        verdict = cloud_verdict(reading, "aws", expected, notes, label=label)
        notes.append(f"{label}: security groups {', '.join(g.label for g in members)}")
        verdict.extra_in = {g.label: reading.allow_set("aws", g.label) for g in members}
        verdicts.append(verdict)
        problems += reading.problems
        notes += reading.notes
    return Verification(verdicts, problems, notes)


def _aws_states(groups: list[AwsGroup], lists: list[PrefixList]) -> list[dict[str, Any]]:
    """The groups, their egress rules and the prefix lists as resource states."""
    states: list[dict[str, Any]] = [
        {"type": AWS_PREFIX_LIST, "urn": f"prefix list {pl.list_id}", "id": pl.list_id,
         "inputs": {"entries": [{"cidr": c} for c in pl.cidrs]}}
        for pl in lists
    ]  # fmt: skip
    for g in groups:
        states.append({"type": AWS_SG, "urn": g.label, "id": g.group_id, "inputs": {}})
        for r in g.egress:
            inputs: dict[str, Any] = {"securityGroupId": g.group_id, "ipProtocol": r.protocol,
                                      "fromPort": r.from_port, "toPort": r.to_port,
                                      "description": r.description}  # fmt: skip
            for key, value in (("cidrIpv4", r.cidr_ipv4), ("cidrIpv6", r.cidr_ipv6),
                               ("prefixListId", r.prefix_list_id),
                               ("referencedSecurityGroupId", r.referenced_group_id)):  # fmt: skip
                if value:
                    inputs[key] = value
            states.append({"type": AWS_EGRESS, "urn": f"{g.group_id} egress rule {r.rule_id}",
                           "id": r.rule_id, "inputs": inputs})  # fmt: skip
    return states


def audit_azure(
    nsgs: Iterable[Nsg], rules: RuleSet, *, egress_filtered_elsewhere: bool = False
) -> Verification:
    """Compare each NSG's outbound rules, in priority order, with ``rules``' IP flows.

    Custom rules are read as verify reads an NSG. Azure's default rules are the same in
    every NSG and cannot be changed: AllowInternetOutBound (65001) allows all Internet
    egress unless a custom Deny for all protocols, ports and Internet addresses comes
    first (otherwise the NSG is open to the Internet, exit 1); :data:`AZURE_VNET_DEFAULT`
    is left out (a note says so).
    """
    expected = rules.allow_set()
    verdicts: list[CloudVerdict] = []
    problems: list[str] = []
    notes: list[str] = []
    nsgs = sorted(nsgs, key=lambda n: n.label)
    for nsg in nsgs:
        # Each rule as its own resource on the NSG, so findings name the rule.
        where = {"resourceGroupName": nsg.resource_group}
        states: list[dict[str, Any]] = [
            {"type": AZ_NSG, "urn": nsg.label, "id": nsg.nsg_id,
             "inputs": {**where, "name": nsg.name}},
            *({"type": AZ_RULE, "urn": f"{nsg.label} rule {r.name}",
               "inputs": {**r.properties(), **where, "networkSecurityGroupName": nsg.name}}
              for r in nsg.rules),
        ]  # fmt: skip
        reading = read_states(states)
        verdicts.append(cloud_verdict(reading, "azure", expected, notes, label=f"azure {nsg.label}",
                                      egress_filtered_elsewhere=egress_filtered_elsewhere))
        problems += reading.problems
        notes += reading.notes
    if nsgs:
        notes.append(f"Azure's default {AZURE_VNET_DEFAULT} (65000) allows traffic to the virtual "
                     "network and is not Internet egress; it is not compared")  # fmt: skip
    return Verification(verdicts, problems, notes)

