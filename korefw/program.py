"""The korefw Pulumi program: stack settings -> rule selection -> components -> exports.

``__main__.py`` calls :func:`main`. Everything that can fail on bad input (settings,
vendor data, selection, both clouds' plans) is checked before the first resource is
registered.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi

from .core.config import PROJECT, StackConfig, validate
from .core.errors import KorefwError
from .core.model import RuleSet

PROJECT_DIR = Path(__file__).resolve().parent.parent


def stack_file(stack: str) -> str:
    """Where a stack's settings live, relative to the project."""
    return f"stacks/Pulumi.{stack}.yaml"


def read_config() -> dict[str, Any]:
    """Every config value the engine handed the program (full ``project:key`` names)."""
    from ._pulumi_internals import engine_config

    return engine_config()


def stack_rules(cfg: StackConfig, base_dir: Path = PROJECT_DIR) -> RuleSet:
    """The stack's rule set: shipped region data or ``rulesFile``, then the filters."""
    from .core.regions import load_rules

    source = cfg["rulesFile"]
    if source:
        path = Path(source)
        rules = load_rules(str(path if path.is_absolute() else base_dir / path))
        if not rules.region:  # a page Kore's SOURCES.md does not name: the stack says which
            region = cfg["region"]
            rules = replace(
                rules, region=region, rules=tuple(r.with_(region=region) for r in rules)
            )
    else:
        rules = load_rules(cfg["region"])
    try:
        return rules.filter(sections=cfg["sections"], components=cfg["components"])
    except KorefwError as exc:
        where = f"{cfg.where}: {PROJECT}:{exc.where}s"
        raise KorefwError(exc.detail, where=where, value=exc.value) from None


def aws_kwargs(cfg: StackConfig) -> dict[str, Any]:
    """``korefw.aws.EgressSecurityGroup`` arguments from stack settings."""
    return {
        "vpc_id": cfg["awsVpcId"] or None,
        "security_group_id": cfg["awsSecurityGroupId"] or None,
        "mode": cfg["awsMode"],
        "rule_limit": cfg["awsRuleLimit"],
        "shard": cfg["awsShard"],
        "prefix_list_headroom": cfg["awsPrefixListHeadroom"],
        "prefix_list_grouping": cfg["awsPrefixListGrouping"],
        "fqdn_enforcement": tuple(cfg["awsFqdnEnforcement"]),
        "dns_firewall_vpc_id": (
            cfg["awsDnsFirewallVpcId"] or cfg["awsVpcId"] or None
            if "dns-firewall" in cfg["awsFqdnEnforcement"]
            else None
        ),
        "dns_firewall_priority": cfg["awsDnsFirewallPriority"],
        "network_firewall_capacity": cfg["awsNetworkFirewallCapacity"] or None,
        "name_prefix": cfg["namePrefix"],
        "tags": cfg.tags(),
    }


def azure_kwargs(cfg: StackConfig) -> dict[str, Any]:
    """``korefw.azure.EgressNetworkSecurityGroup`` arguments from stack settings."""
    return {
        "resource_group_name": cfg["azureResourceGroupName"],
        "location": cfg["azureLocation"] or None,
        "network_security_group_name": cfg["azureNetworkSecurityGroupName"] or None,
        "merge": cfg["azureMerge"],
        "priority_band": tuple(cfg["azurePriorityBand"]),
        "source_address_prefixes": tuple(cfg["azureSourceAddressPrefixes"]),
        "deny_other_outbound": cfg["azureDenyOtherOutbound"],
        "firewall_policy_id": cfg["azureFirewallPolicyId"] or None,
        "create_firewall_policy": cfg["azureCreateFirewallPolicy"],
        "ip_groups": cfg["azureIpGroups"],
        "name_prefix": cfg["namePrefix"],
        "tags": cfg.tags(),
    }


def preflight(cfg: StackConfig, rules: RuleSet) -> None:
    """Plan every target cloud as plain data; the first problem raises before any resource."""
    try:
        if "aws" in cfg["targets"]:
            from .aws import plan_for

            plan_for(rules, **aws_kwargs(cfg))
        if "azure" in cfg["targets"]:
            from .azure import plan_for as azure_plan_for

            azure_plan_for(rules, **azure_kwargs(cfg))
    except KorefwError as exc:
        if exc.where and not exc.where.startswith(cfg.where):
            where = f"{cfg.where}: {exc.where}"
            raise type(exc)(exc.detail, where=where, value=exc.value) from None
        raise


def build(cfg: StackConfig, base_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """Create the components the settings ask for and return the stack outputs."""
    rules = stack_rules(cfg, base_dir)
    preflight(cfg, rules)
    name = cfg["namePrefix"]
    outputs: dict[str, Any] = {
        "region": rules.region,
        "rulesSource": rules.source,
        "rulesRetrieved": rules.retrieved,
        "ruleCount": len(rules),
    }
    if "aws" in cfg["targets"]:
        from .aws import EgressSecurityGroup

        sg = EgressSecurityGroup(f"{name}-aws", rules=rules, **aws_kwargs(cfg))
        outputs.update(
            awsSecurityGroupIds=sg.security_group_ids,
            awsPrefixListIds=sg.prefix_list_ids,
            awsRuleCount=sg.rule_count,
            awsQuotaUsed=sg.quota_used,
            awsUnenforcedFqdnRules=sg.unenforced_fqdn_rules,
        )
    if "azure" in cfg["targets"]:
        from .azure import EgressNetworkSecurityGroup

        nsg = EgressNetworkSecurityGroup(f"{name}-azure", rules=rules, **azure_kwargs(cfg))
        outputs.update(
            azureNetworkSecurityGroupId=nsg.network_security_group_id,
            azureNetworkSecurityGroupName=nsg.network_security_group_name,
            azureRules=nsg.rules,
            azureIpGroupIds=nsg.ip_group_ids,
            azureUnenforcedFqdnRules=nsg.unenforced_fqdn_rules,
        )
    return outputs


def main() -> None:
    """Entry point of ``__main__.py``: validate, build, export."""
    cfg = validate(read_config(), where=stack_file(pulumi.get_stack()))
    for key, value in build(cfg).items():
        pulumi.export(key, value)
