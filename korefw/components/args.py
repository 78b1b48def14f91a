"""The args type of each korefw component. GENERATED from korefw/core/plan/options.py by
scripts/sync_readme.py: edit the options there, then rerun the script.

Pulumi's component analyzer reads these annotations as objects, so this module has no
``from __future__ import annotations``, and its types are TypedDicts of plain types
(no unions, tuples or dataclasses). Each attribute's docstring is its schema description.
"""

from collections.abc import Mapping, Sequence
from typing import Required, TypedDict

import pulumi

__all__ = [
    "DestinationPrefixListsArgs",
    "EgressNetworkSecurityGroupArgs",
    "EgressSecurityGroupArgs",
    "FqdnAllowlistArgs",
]


class EgressSecurityGroupArgs(TypedDict, total=False):
    """Arguments of ``korefw.aws.EgressSecurityGroup``."""

    rules: Required[str]
    (
        "Kore region code (us, jp, de, eu, uk, au, in, uae) or path of a vendor page or korefw "
        "rule file (absolute when used through the package: the plugin reads it); from Python "
        "also a korefw RuleSet."
    )

    sections: Sequence[str]
    """Vendor sections to keep (case-insensitive globs); empty keeps all."""

    components: Sequence[str]
    """Vendor components to keep (case-insensitive globs); empty keeps all."""

    vpc_id: pulumi.Input[str]
    """VPC in which to create new egress security groups (or securityGroupId)."""

    security_group_id: pulumi.Input[str]
    """Existing security group to add egress rules to (or vpcId)."""

    mode: str
    (
        "How egress rules name destinations: cidr, prefix-list, or auto (cheaper in quota). "
        "Default: \"cidr\"."
    )

    rule_limit: int
    """Egress rule quota per security group. Default: 60."""

    shard: bool
    """Spread rules over several security groups when over the quota. Default: true."""

    prefix_list_headroom: int
    """Spare entries in each managed prefix list (max_entries = entries + this). Default: 0."""

    prefix_list_grouping: str
    """Prefix lists per vendor flow of each section, or of each component. Default: \"section\"."""

    fqdn_enforcement: Sequence[str]
    (
        "Where FQDN egress rules are enforced: network-firewall, dns-firewall (empty: reported as"
        " unenforced)."
    )

    dns_firewall_vpc_id: pulumi.Input[str]
    """VPC to associate the DNS Firewall rule group with (empty: no association)."""

    dns_firewall_priority: int
    """Priority of the DNS Firewall rule group association (100-9900). Default: 101."""

    network_firewall_capacity: int
    """Capacity of the Network Firewall rule group (0: what the rules need, rounded up to 100)."""

    name_prefix: str
    """Prefix of every resource name. Default: \"korefw\"."""

    tags: Mapping[str, str]
    """Tags for every taggable resource."""


class DestinationPrefixListsArgs(TypedDict, total=False):
    """Arguments of ``korefw.aws.DestinationPrefixLists``."""

    rules: Required[str]
    (
        "Kore region code (us, jp, de, eu, uk, au, in, uae) or path of a vendor page or korefw "
        "rule file (absolute when used through the package: the plugin reads it); from Python "
        "also a korefw RuleSet."
    )

    sections: Sequence[str]
    """Vendor sections to keep (case-insensitive globs); empty keeps all."""

    components: Sequence[str]
    """Vendor components to keep (case-insensitive globs); empty keeps all."""

    prefix_list_headroom: int
    """Spare entries in each managed prefix list (max_entries = entries + this). Default: 0."""

    prefix_list_grouping: str
    """Prefix lists per vendor flow of each section, or of each component. Default: \"section\"."""

    name_prefix: str
    """Prefix of every resource name. Default: \"korefw\"."""

    tags: Mapping[str, str]
    """Tags for every taggable resource."""


class FqdnAllowlistArgs(TypedDict, total=False):
    """Arguments of ``korefw.aws.FqdnAllowlist``."""

    rules: Required[str]
    (
        "Kore region code (us, jp, de, eu, uk, au, in, uae) or path of a vendor page or korefw "
        "rule file (absolute when used through the package: the plugin reads it); from Python "
        "also a korefw RuleSet."
    )

    sections: Sequence[str]
    """Vendor sections to keep (case-insensitive globs); empty keeps all."""

    components: Sequence[str]
    """Vendor components to keep (case-insensitive globs); empty keeps all."""

    fqdn_enforcement: Sequence[str]
    (
        "Where FQDN egress rules are enforced: network-firewall, dns-firewall (empty: reported as"
        " unenforced). Default: [\"network-firewall\"]."
    )

    dns_firewall_vpc_id: pulumi.Input[str]
    """VPC to associate the DNS Firewall rule group with (empty: no association)."""

    dns_firewall_priority: int
    """Priority of the DNS Firewall rule group association (100-9900). Default: 101."""

    network_firewall_capacity: int
    """Capacity of the Network Firewall rule group (0: what the rules need, rounded up to 100)."""

    name_prefix: str
    """Prefix of every resource name. Default: \"korefw\"."""

    tags: Mapping[str, str]
    """Tags for every taggable resource."""


class EgressNetworkSecurityGroupArgs(TypedDict, total=False):
    """Arguments of ``korefw.azure.EgressNetworkSecurityGroup``."""

    rules: Required[str]
    (
        "Kore region code (us, jp, de, eu, uk, au, in, uae) or path of a vendor page or korefw "
        "rule file (absolute when used through the package: the plugin reads it); from Python "
        "also a korefw RuleSet."
    )

    sections: Sequence[str]
    """Vendor sections to keep (case-insensitive globs); empty keeps all."""

    components: Sequence[str]
    """Vendor components to keep (case-insensitive globs); empty keeps all."""

    resource_group_name: Required[pulumi.Input[str]]
    """Resource group of the network security group."""

    location: pulumi.Input[str]
    """Azure location of a new NSG (required unless networkSecurityGroupName is set)."""

    network_security_group_name: pulumi.Input[str]
    """Existing NSG to add rules to as SecurityRule resources (empty: create a new NSG)."""

    merge: str
    (
        "How NSG rules merge: none, section, all, or flow (one rule per vendor flow, stable on an"
        " existing NSG); always exact. Default: \"all\"."
    )

    priority_band: Sequence[int]
    """First and last NSG priority korefw may use (100-4096). Default: [1000, 1999]."""

    source_address_prefixes: Sequence[str]
    """Sources allowed to egress (CIDRs or service tags). Default: [\"VirtualNetwork\"]."""

    deny_other_outbound: bool
    (
        "Add a Deny rule for other Internet egress at the end of the band (Azure otherwise allows"
        " all Internet egress by default). Default: false."
    )

    priorities: Mapping[str, int]
    (
        "NSG rule names pinned to priorities, to keep a rule in place that a priority hash "
        "collision would move (the plan's displaced list names it)."
    )

    firewall_policy_id: pulumi.Input[str]
    (
        "Existing Azure Firewall Policy to hold FQDN application rules and the IP rules as "
        "network rules (enable its DNS proxy for FQDN network rules)."
    )

    create_firewall_policy: bool
    (
        "Create a Firewall Policy (DNS proxy on) holding FQDN application rules and the IP rules."
        " Default: false."
    )

    ip_groups: bool
    """Create an IP group per destination set for Azure Firewall rules. Default: false."""

    name_prefix: str
    """Prefix of every resource name. Default: \"korefw\"."""

    tags: Mapping[str, str]
    """Tags for every taggable resource."""
