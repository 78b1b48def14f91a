"""The korefw Pulumi program: stack settings -> rule selection -> components -> exports.

``__main__.py`` calls :func:`main`. Everything that can fail on bad input (settings,
vendor data, selection, both clouds' plans) is checked before the first resource is
registered.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi

from ..core.errors import KorefwError
from ..core.plan.config import PROJECT, StackConfig, validate
from ..core.plan.options import COMPONENT_OPTIONS
from ..core.rules.model import RuleSet

PROJECT_DIR = Path(__file__).resolve().parents[2]


def stack_file(stack: str) -> str:
    """Where a stack's settings live, relative to the project."""
    return f"stacks/Pulumi.{stack}.yaml"


def read_config() -> dict[str, Any]:
    """Every config value the engine handed the program (full ``project:key`` names)."""
    from ._pulumi_internals import engine_config

    return engine_config()


def stack_rules(cfg: StackConfig, base_dir: Path = PROJECT_DIR) -> RuleSet:
    """The stack's rule set: shipped region data or ``rulesFile``, then the filters."""
    from ..core.read.regions import load_rules

    source = cfg["rulesFile"]
    if source:
        path = Path(source).expanduser()
        try:
            rules = load_rules(path if path.is_absolute() else base_dir / path)
        except KorefwError as exc:
            where = f"{cfg.where}: {PROJECT}:rulesFile"
            raise type(exc)(exc.detail, where=f"{where}: {exc.where}" if exc.where else where,
                            value=exc.value) from None  # fmt: skip
        if not rules.region:  # a page sources.toml does not name: the stack says which
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


def component_kwargs(cfg: StackConfig, component: str) -> dict[str, Any]:
    """A component's arguments from stack settings: every option that is a stack setting.

    An empty setting (``""``, or ``0`` for an integer with no default) leaves the
    argument unset; lists become tuples.
    """
    out: dict[str, Any] = {}
    for o in COMPONENT_OPTIONS[component]:
        if o.setting_key is None:
            continue
        value = cfg[o.setting_key]
        if o.default is None and value in ("", 0) and not isinstance(value, bool):
            value = None
        out[o.name] = tuple(value) if isinstance(value, list) else value
    out["tags"] = cfg.tags()
    return out


def aws_kwargs(cfg: StackConfig) -> dict[str, Any]:
    """``korefw.components.aws.EgressSecurityGroup`` arguments from stack settings."""
    out = component_kwargs(cfg, "EgressSecurityGroup")
    # The DNS Firewall guards the stack's VPC unless the stack names another one.
    dns = "dns-firewall" in cfg["awsFqdnEnforcement"]
    out["dns_firewall_vpc_id"] = (
        (cfg["awsDnsFirewallVpcId"] or cfg["awsVpcId"] or None) if dns else None
    )
    return out


def azure_kwargs(cfg: StackConfig) -> dict[str, Any]:
    """``korefw.components.azure.EgressNetworkSecurityGroup`` arguments from stack settings."""
    return component_kwargs(cfg, "EgressNetworkSecurityGroup")


def preflight(cfg: StackConfig, rules: RuleSet) -> None:
    """Plan every target cloud as plain data; the first problem raises before any resource."""
    try:
        if "aws" in cfg["targets"]:
            from ..components.aws import plan_for

            plan_for(rules=rules, **aws_kwargs(cfg))
        if "azure" in cfg["targets"]:
            from ..components.azure import plan_for as azure_plan_for

            azure_plan_for(rules=rules, **azure_kwargs(cfg))
    except KorefwError as exc:
        if exc.where and not exc.where.startswith(cfg.where):
            where = f"{cfg.where}: {exc.where}"
            raise type(exc)(exc.detail, where=where, value=exc.value) from None
        raise


def build(cfg: StackConfig, base_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """Create the components the settings ask for and return the stack outputs."""
    rules = stack_rules(cfg, base_dir)
    preflight(cfg, rules)
    # Component names are fixed: namePrefix shapes cloud names and tags, never URNs, so a
    # new prefix updates resources in place instead of creating a second set beside the
    # first. The alias is the name korefw 0.x derived from the prefix (children follow).
    prefix = cfg["namePrefix"]

    def named(cloud: str) -> tuple[str, pulumi.ResourceOptions | None]:
        name, old = f"korefw-{cloud}", f"{prefix}-{cloud}"
        return name, None if old == name else pulumi.ResourceOptions(
            aliases=[pulumi.Alias(name=old)]
        )

    outputs: dict[str, Any] = {
        "region": rules.region,
        "rulesSource": rules.source,
        "rulesRetrieved": rules.retrieved,
        "ruleCount": len(rules),
    }
    if "aws" in cfg["targets"]:
        from ..components.aws import EgressSecurityGroup

        name, opts = named("aws")
        sg = EgressSecurityGroup(name, rules=rules, **aws_kwargs(cfg), opts=opts)
        outputs.update(
            awsSecurityGroupIds=sg.security_group_ids,
            awsPrefixListIds=sg.prefix_list_ids,
            awsRuleCount=sg.rule_count,
            awsQuotaUsed=sg.quota_used,
            awsUnenforcedFqdnRules=sg.unenforced_fqdn_rules,
        )
    if "azure" in cfg["targets"]:
        from ..components.azure import EgressNetworkSecurityGroup

        name, opts = named("azure")
        nsg = EgressNetworkSecurityGroup(name, rules=rules, **azure_kwargs(cfg), opts=opts)
        outputs.update(
            azureNetworkSecurityGroupId=nsg.network_security_group_id,
            azureNetworkSecurityGroupName=nsg.network_security_group_name,
            azureRules=nsg.rules,
            azureIpGroupIds=nsg.ip_group_ids,
            azureUnenforcedFqdnRules=nsg.unenforced_fqdn_rules,
        )
    return outputs


def project_dir() -> Path:
    """The folder of the running Pulumi project: the nearest one holding ``Pulumi.yaml``
    above the program's ``__main__.py`` (``korefw plan --cwd DIR`` runs ``DIR/__main__.py``),
    else the working directory. A relative ``korefw:rulesFile`` is read from here."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    start = Path(main_file).resolve().parent if main_file else Path.cwd()
    return nearest_project(start, start)


def nearest_project(start: Path, default: Path) -> Path:
    """The nearest folder from ``start`` upwards that holds ``Pulumi.yaml`` (the folder
    ``pulumi`` itself would use), else ``default``."""
    return next((d for d in (start, *start.parents) if (d / "Pulumi.yaml").is_file()), default)


def main() -> None:
    """Entry point of ``__main__.py``: validate, build, export."""
    cfg = validate(read_config(), where=stack_file(pulumi.get_stack()))
    for key, value in build(cfg, project_dir()).items():
        pulumi.export(key, value)
