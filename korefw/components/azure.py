"""Azure egress components: an NSG allowlist, and Azure Firewall rules for FQDN egress.

The components are thin: :func:`korefw.core.plan.azure_plan.plan_azure` computes every name,
merge, priority and limit check as plain data, and validates the options, before the
first resource is registered. The components only materialize that plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

import pulumi
from pulumi_azure_native import network

from ..core.errors import ConfigError
from ..core.plan.azure_data import AzurePlan, FirewallPlan, FirewallRule, NsgRule
from ..core.plan.azure_options import (
    APPLICATION_COLLECTION_PRIORITY,
    NETWORK_COLLECTION_PRIORITY,
    AzureOptions,
    check_location,
    check_name,
    check_resource_group,
    check_tags,
    parse_firewall_policy_id,
)
from ..core.plan.azure_plan import plan_azure
from ..core.plan.options import COMPONENT_OPTIONS, resolve
from ..core.plan.ordering import dependencies_first
from ..core.read.regions import select_rules
from ..core.rules.model import RuleSet
from .args import EgressNetworkSecurityGroupArgs
from .held_azure import NOT_ORDERED, read_held
from .outputs import known
from .warn import warn_plan

NSG_TYPE = "korefw:azure:EgressNetworkSecurityGroup"
FQDN_TYPE = "korefw:azure:FqdnAllowlist"


def _given(value: object) -> bool:
    return value is not None and value != ""


def plan_for(
    args: EgressNetworkSecurityGroupArgs | None = None,
    /,
    **kwargs: Any,
) -> AzurePlan:
    """Validate :class:`EgressNetworkSecurityGroup`'s arguments and plan, creating nothing.

    Raises :class:`~korefw.core.errors.ConfigError` or ``PlanError`` with one line naming
    the argument and the bad value.
    """
    return plan_azure(*_checked(_args(args, kwargs)))


def _checked(a: Mapping[str, Any]) -> tuple[RuleSet, AzureOptions]:
    """The selected rules and the options, every argument checked."""
    resource_group_name, location = a["resource_group_name"], a["location"]
    network_security_group_name, tags = a["network_security_group_name"], a["tags"]
    firewall_policy_id, create_firewall_policy = (
        a["firewall_policy_id"],
        a["create_firewall_policy"],
    )
    if not _given(resource_group_name):
        raise ConfigError(
            "required: the resource group of the NSG", where="resource_group_name",
            value=resource_group_name,
        )  # fmt: skip
    new, existing = _given(location), _given(network_security_group_name)
    if new == existing:
        raise ConfigError(
            "pass location (create a new NSG there) or network_security_group_name (add "
            "rules to that existing NSG), " + ("not both" if new else "one of them"),
            where="network_security_group_name" if new else "location",
            value=network_security_group_name if new else location,
        )
    if not isinstance(create_firewall_policy, bool):
        raise ConfigError(
            "expected true or false", where="create_firewall_policy", value=create_firewall_policy
        )
    if _given(firewall_policy_id) and create_firewall_policy:
        raise ConfigError(
            "pass firewall_policy_id (existing policy) or create_firewall_policy=True, not both",
            where="create_firewall_policy",
            value=create_firewall_policy,
        )
    if isinstance(firewall_policy_id, str):
        parse_firewall_policy_id(firewall_policy_id)
    check_resource_group(resource_group_name)
    check_location(location)
    check_name(network_security_group_name, "network_security_group_name")
    check_tags(tags)
    policy = (
        "existing" if _given(firewall_policy_id) else "new" if create_firewall_policy else "none"
    )
    options = AzureOptions(
        **{k: v for k, v in a.items() if k in _OPTION_FIELDS},  # type: ignore[arg-type]
        firewall_policy=policy,
    )
    if a["rules"] is None:
        raise ConfigError("a rule set or region code is required", where="rules")
    return select_rules(a["rules"], a["sections"], a["components"]), options


_OPTION_FIELDS = frozenset(f.name for f in fields(AzureOptions))


def _args(args: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    name = "EgressNetworkSecurityGroup"
    return resolve(COMPONENT_OPTIONS[name], name, args, kwargs)


class EgressNetworkSecurityGroup(pulumi.ComponentResource):
    """Kore.ai egress rules as outbound Allow rules of an Azure network security group.

    Pass ``location`` to create a new ``NetworkSecurityGroup`` there, with every NSG rule
    inline in ``security_rules``; or pass ``network_security_group_name`` to add the rules
    to that existing NSG as ``SecurityRule`` resources. Never manage one NSG both ways:
    the provider documents that inline ``security_rules`` and standalone ``SecurityRule``
    resources conflict and delete each other's rules. An existing NSG must therefore not
    be one whose rules a Pulumi program sets inline, and ``priority_band`` must not hold
    priorities its other rules use (Azure refuses two rules with one priority). Inline
    rules change in one NSG update; standalone rules change one by one. On an existing NSG
    the component first reads its rules (``getNetworkSecurityGroup``, through this
    component's provider): rules it holds keep their priorities, new ones take free
    priorities, and a rule giving up a flow another rule takes over waits for that rule
    (``depends_on``). If the read cannot be made (names not known yet) or fails, the plan
    warns and is planned as for a new NSG.

    Rules are Allow, Outbound, protocol ``Tcp`` or ``Udp`` (never ``*``), source port
    ``*``, sources ``source_address_prefixes``. Merging (``merge``: ``none``, ``section``
    or ``all``) is exact: the rules allow exactly the rule set's (protocol, port,
    address) flows. Names come from content; priorities hash names into
    ``priority_band``. ``priorities`` pins names to priorities: use it when the plan's
    ``displaced`` list shows a rule that a hash collision moved, to keep it in place.

    ``deny_other_outbound`` adds a Deny rule to ``Internet`` at the band's last (lowest
    precedence) priority. Without it the NSG does not restrict egress at all: Azure's
    default rule ``AllowInternetOutBound`` (65001) lets every other Internet flow out.
    The Deny rule also blocks FQDN egress that passes this NSG (an NSG sees addresses,
    not names) and other Internet egress your workloads need: allow those at lower
    numbers.

    FQDN egress rules cannot be NSG rules. With ``firewall_policy_id`` (an existing
    Firewall Policy) or ``create_firewall_policy=True`` a child :class:`FqdnAllowlist`
    adds a rule collection group: application rules (``Https`` on the listed ports) for
    ``*.`` wildcard names, network rules with ``destination_fqdns`` for exact names (they
    need the policy's DNS proxy, which a created policy enables), and network rules for
    the IP egress rules. ``ip_groups=True`` creates one IP group per NSG Allow rule's
    destination set. FQDN rules nothing enforces are listed in ``unenforced_fqdn_rules``
    and logged as a warning, never dropped silently.

    Outputs: ``network_security_group_id``, ``network_security_group_name``, ``rules``
    (``[{name, priority}]`` by priority), ``ip_group_ids`` (name to id),
    ``firewall_policy_id``, ``unenforced_fqdn_rules`` and ``plan`` (the plan as data).
    """

    network_security_group_id: pulumi.Output[str | None]
    network_security_group_name: pulumi.Output[str]
    rules: pulumi.Output[list[dict[str, Any]]]
    ip_group_ids: pulumi.Output[dict[str, str]]
    firewall_policy_id: pulumi.Output[str | None]
    unenforced_fqdn_rules: pulumi.Output[list[dict[str, Any]]]
    plan: pulumi.Output[dict[str, Any]]

    _TYPE = NSG_TYPE

    def __init__(
        self,
        name: str,
        args: EgressNetworkSecurityGroupArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        a = _args(args, kwargs)
        rules, options = _checked(a)
        plan = plan_azure(rules, options)  # every check, before any read or resource
        super().__init__(self._TYPE, name, None, opts)
        rg, nsg_name = a["resource_group_name"], a["network_security_group_name"]
        if _given(nsg_name):
            held = read_held(rg, nsg_name, self)
            if not held.known:
                shown = nsg_name if isinstance(nsg_name, str) else "(not known yet)"
                why = NOT_ORDERED.format(nsg=shown, why=held.why_unknown)
                plan = replace(plan, warnings=(why, *plan.warnings))
            elif held.nsg_rules:  # nothing held plans as without a read
                plan = plan_azure(rules, options, held)
        self.azure_plan = plan
        if _given(nsg_name):
            nsg = self._rules_on_existing(name, plan, rg, nsg_name)
        else:
            nsg = self._new_nsg(name, plan, rg, a["location"], a["tags"])
        self._fqdn_allowlist(name, plan, a)
        self._outputs(name, plan, *nsg)

    def _fqdn_allowlist(self, name: str, plan: AzurePlan, a: Mapping[str, Any]) -> None:
        """An ``FqdnAllowlist`` when the plan has firewall rules or IP groups; its outputs."""
        ip_group_ids: pulumi.Input[dict[str, str]] = {}
        policy_id: pulumi.Input[str | None] = None
        if plan.firewall or plan.ip_groups:
            fqdn = FqdnAllowlist(
                f"{name}-fqdn",
                plan=plan,
                resource_group_name=a["resource_group_name"],
                location=a["location"],
                firewall_policy_id=a["firewall_policy_id"],
                tags=a["tags"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            ip_group_ids, policy_id = fqdn.ip_group_ids, fqdn.firewall_policy_id
        self.ip_group_ids = pulumi.Output.from_input(ip_group_ids)
        self.firewall_policy_id = pulumi.Output.from_input(policy_id)

    def _outputs(
        self,
        name: str,
        plan: AzurePlan,
        nsg_name: pulumi.Output[str],
        nsg_id: pulumi.Output[str | None],
    ) -> None:
        """The plan's figures as outputs, its warnings logged, and every output registered."""
        warn_plan(self, (f"{name}: {w}" for w in plan.warnings))
        self.network_security_group_id = nsg_id
        self.network_security_group_name = nsg_name
        self.rules = known(plan.rule_priorities())
        self.unenforced_fqdn_rules = known([u.to_dict() for u in plan.unenforced_fqdn_rules])
        self.plan = known(plan.to_dict())
        self.register_outputs(
            {
                "network_security_group_id": self.network_security_group_id,
                "network_security_group_name": self.network_security_group_name,
                "rules": self.rules,
                "ip_group_ids": self.ip_group_ids,
                "firewall_policy_id": self.firewall_policy_id,
                "unenforced_fqdn_rules": self.unenforced_fqdn_rules,
                "plan": self.plan,
            }
        )

    def _rules_on_existing(
        self,
        name: str,
        plan: AzurePlan,
        resource_group_name: pulumi.Input[str],
        network_security_group_name: pulumi.Input[str],
    ) -> tuple[pulumi.Output[str], pulumi.Output[str | None]]:
        """``SecurityRule`` resources on an existing NSG; its name and id."""
        # Keyed by priority (see NsgRule.resource_name): a new rule never lands on a
        # priority an old rule still holds. A renamed rule (namePrefix) is replaced
        # delete-first, because its successor takes the same priority: a moment
        # without that rule (or, for the Deny rule, without the Deny) is the lesser
        # harm than an update that fails with SecurityRuleConflict. The alias is the
        # logical name korefw 0.x gave the rule.
        # A rule that gives up flows another rule takes over (NsgRule.after) depends on
        # that rule, so its update runs once the other is in place: registered after it.
        by_name: dict[str, network.SecurityRule] = {}
        rule_of = {r.name: r for r in plan.nsg_rules}
        for n in dependencies_first(rule_of, lambda n: rule_of[n].after):
            r = rule_of[n]
            by_name[r.name] = network.SecurityRule(
                f"{name}-{r.resource_name}",
                security_rule_name=r.name,
                resource_group_name=resource_group_name,
                network_security_group_name=network_security_group_name,
                **_rule_fields(r, plan.options.source_address_prefixes),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    aliases=[pulumi.Alias(name=f"{name}-{r.name}")],
                    delete_before_replace=True,
                    depends_on=[by_name[n] for n in r.after] or None,
                ),
            )
        created = [by_name[r.name] for r in plan.nsg_rules]
        nsg_name = pulumi.Output.from_input(network_security_group_name)
        nsg_id: pulumi.Output[str | None] = (
            created[0].id.apply(lambda i: i.rsplit("/securityRules/", 1)[0])
            if created
            else pulumi.Output.from_input(None)
        )
        return nsg_name, nsg_id

    def _new_nsg(
        self,
        name: str,
        plan: AzurePlan,
        resource_group_name: pulumi.Input[str],
        location: pulumi.Input[str] | None,
        tags: Mapping[str, str] | None,
    ) -> tuple[pulumi.Output[str], pulumi.Output[str | None]]:
        """A new NSG holding every rule inline; its name and id."""
        sources = plan.options.source_address_prefixes
        nsg = network.NetworkSecurityGroup(
            name,
            resource_group_name=resource_group_name,
            location=location,
            security_rules=[
                network.SecurityRuleArgs(name=r.name, **_rule_fields(r, sources))
                for r in plan.nsg_rules
            ],
            tags=dict(tags) if tags else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return nsg.name, nsg.id


def _rule_fields(r: NsgRule, sources: Sequence[str]) -> dict[str, Any]:
    """SecurityRule arguments; one value goes in the singular field, as Azure returns it."""
    out: dict[str, Any] = {
        "priority": r.priority,
        "access": network.SecurityRuleAccess(r.access),
        "direction": network.SecurityRuleDirection.OUTBOUND,
        "protocol": network.SecurityRuleProtocol(r.protocol),
        "description": r.description,
        "source_port_range": "*",
    }
    for field, values in (
        ("source_address_prefix", tuple(sources)),
        ("destination_address_prefix", r.destination_address_prefixes),
        ("destination_port_range", r.destination_port_ranges),
    ):
        if len(values) == 1:
            out[field] = values[0]
        else:
            out[field.replace("prefix", "prefixes").replace("range", "ranges")] = list(values)
    return out


class FqdnAllowlist(pulumi.ComponentResource):
    """Azure Firewall rules and IP groups for a plan's egress rules.

    Materializes ``plan.ip_groups`` (one ``IpGroup`` each) and ``plan.firewall``: a
    ``FirewallPolicyRuleCollectionGroup`` on the policy ``firewall_policy_id`` (existing)
    or on a new ``FirewallPolicy`` with DNS proxy enabled, holding a network rule
    collection (IP egress rules, by address or IP group, and exact FQDNs) and an
    application rule collection (``Https`` on the listed ports to ``*.`` wildcard FQDNs).
    An existing policy needs DNS proxy enabled for the FQDN network rules to match.

    Outputs: ``ip_group_ids`` (name to id), ``firewall_policy_id``,
    ``rule_collection_group_id``.
    """

    ip_group_ids: pulumi.Output[dict[str, str]]
    firewall_policy_id: pulumi.Output[str | None]
    rule_collection_group_id: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        *,
        plan: AzurePlan,
        resource_group_name: pulumi.Input[str],
        location: pulumi.Input[str] | None = None,
        firewall_policy_id: pulumi.Input[str] | None = None,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        fw = plan.firewall
        existing = fw is not None and fw.policy == "existing"
        if existing != _given(firewall_policy_id):
            raise ConfigError(
                "needed exactly when the plan adds rules to an existing Firewall Policy",
                where="firewall_policy_id",
                value=firewall_policy_id,
            )
        if isinstance(firewall_policy_id, str):
            parse_firewall_policy_id(firewall_policy_id)  # a bad id fails before registering
        if not _given(resource_group_name):
            raise ConfigError("required", where="resource_group_name", value=resource_group_name)
        super().__init__(FQDN_TYPE, name, None, opts)
        tag_map = dict(tags) if tags else None
        groups = {
            g.name: network.IpGroup(
                f"{name}-ip-group-{g.key}",
                ip_groups_name=g.name,
                resource_group_name=resource_group_name,
                location=location,
                ip_addresses=list(g.addresses),
                tags=tag_map,
                opts=pulumi.ResourceOptions(
                    parent=self, aliases=[pulumi.Alias(name=f"{name}-{g.name}")]
                ),
            )
            for g in plan.ip_groups
        }
        ids: dict[str, pulumi.Output[str]] = {n: g.id for n, g in groups.items()}
        policy_id, rcg_id = (
            self._firewall(name, fw, ids, resource_group_name, location, firewall_policy_id, tags)
            if fw is not None
            else (None, None)
        )
        self.ip_group_ids = pulumi.Output.from_input(ids)
        self.firewall_policy_id = pulumi.Output.from_input(policy_id)
        self.rule_collection_group_id = pulumi.Output.from_input(rcg_id)
        self.register_outputs(
            {
                "ip_group_ids": self.ip_group_ids,
                "firewall_policy_id": self.firewall_policy_id,
                "rule_collection_group_id": self.rule_collection_group_id,
            }
        )


    def _firewall(
        self,
        name: str,
        fw: FirewallPlan,
        ids: Mapping[str, pulumi.Output[str]],
        resource_group_name: pulumi.Input[str],
        location: pulumi.Input[str] | None,
        firewall_policy_id: pulumi.Input[str] | None,
        tags: Mapping[str, str] | None,
    ) -> tuple[pulumi.Input[str | None], pulumi.Input[str | None]]:
        """The Firewall Policy (new, or the one given) and the rule collection group on it;
        their ids."""
        policy_id: pulumi.Input[str | None] = None
        rcg_id: pulumi.Input[str | None] = None
        policy_rg: pulumi.Input[str]
        policy_name: pulumi.Input[str]
        if fw.policy == "new":
            policy = network.FirewallPolicy(
                name,
                resource_group_name=resource_group_name,
                location=location,
                dns_settings=network.DnsSettingsArgs(enable_proxy=True),
                tags=dict(tags) if tags else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            policy_rg, policy_name, policy_id = resource_group_name, policy.name, policy.id
        elif isinstance(firewall_policy_id, str):
            policy_rg, policy_name = parse_firewall_policy_id(firewall_policy_id)
            policy_id = firewall_policy_id
        else:  # an Output: split it once it is known
            parts = pulumi.Output.from_input(firewall_policy_id).apply(
                lambda i: parse_firewall_policy_id(str(i))
            )
            policy_rg, policy_name = parts[0], parts[1]
            policy_id = firewall_policy_id
        collections = _collections(fw, ids)
        if collections:
            rcg = network.FirewallPolicyRuleCollectionGroup(
                f"{name}-rule-collection-group",
                rule_collection_group_name=fw.rule_collection_group,
                firewall_policy_name=policy_name,
                resource_group_name=policy_rg,
                priority=fw.priority,
                rule_collections=collections,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    aliases=[pulumi.Alias(name=f"{name}-{fw.rule_collection_group}")],
                ),
            )
            rcg_id = rcg.id
        return policy_id, rcg_id


def _collections(
    fw: FirewallPlan, ip_group_ids: Mapping[str, pulumi.Output[str]]
) -> list[network.FirewallPolicyFilterRuleCollectionArgs]:
    allow = network.FirewallPolicyFilterRuleCollectionActionArgs(
        type=network.FirewallPolicyFilterRuleCollectionActionType.ALLOW
    )
    out = []
    for coll, priority, rules in (
        (fw.network_collection, NETWORK_COLLECTION_PRIORITY, fw.network_rules),
        (fw.application_collection, APPLICATION_COLLECTION_PRIORITY, fw.application_rules),
    ):
        if rules:
            out.append(
                network.FirewallPolicyFilterRuleCollectionArgs(
                    rule_collection_type="FirewallPolicyFilterRuleCollection",
                    name=coll,
                    priority=priority,
                    action=allow,
                    rules=[_firewall_rule(r, fw.source_addresses, ip_group_ids) for r in rules],
                )
            )
    return out


def _firewall_rule(
    r: FirewallRule, sources: Sequence[str], ip_group_ids: Mapping[str, pulumi.Output[str]]
) -> network.NetworkRuleArgs | network.ApplicationRuleArgs:
    if r.kind == "application":
        return network.ApplicationRuleArgs(
            rule_type="ApplicationRule",
            name=r.name,
            description=r.description,
            source_addresses=list(sources),
            target_fqdns=list(r.target_fqdns),
            protocols=[
                network.FirewallPolicyRuleApplicationProtocolArgs(
                    protocol_type=network.FirewallPolicyRuleApplicationProtocolType(proto),
                    port=int(port),
                )
                for proto in r.protocols
                for port in r.ports
            ],
        )
    return network.NetworkRuleArgs(
        rule_type="NetworkRule",
        name=r.name,
        description=r.description,
        ip_protocols=[network.FirewallPolicyRuleNetworkProtocol(p) for p in r.protocols],
        source_addresses=list(sources),
        destination_ports=list(r.ports),
        destination_addresses=list(r.destination_addresses) or None,
        destination_ip_groups=[ip_group_ids[r.destination_ip_group]]
        if r.destination_ip_group
        else None,
        destination_fqdns=list(r.destination_fqdns) or None,
    )
