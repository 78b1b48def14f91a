"""Pulumi components for AWS: egress security groups, prefix lists and FQDN allowlists.

The components only materialize a plan from :mod:`korefw.core.plan.aws_plan`; every name,
merge, quota count and shard is decided there, and every bad argument fails there,
before any resource is registered. Each component exports its plan as the ``plan``
output.

Design notes:

* Egress rules are standalone ``aws.vpc.SecurityGroupEgressRule`` resources, one per
  protocol, port range and destination. New security groups never set the inline
  ``egress`` argument: the provider removes AWS's default allow-all egress rule when it
  creates a group, and mixing inline ``egress`` with standalone rules makes the two fight
  (a diff on every update).
* Egress rules are children of the component, not of a security group, so a rule that
  moves to another shard (when the number of groups changes, or a stack too full to
  hash evenly falls back; see :mod:`korefw.core.plan.aws_shard`) keeps its URN (a
  replacement, created before the old is deleted).
* An existing group (``security_group_id``) keeps whatever else it has, including AWS's
  default allow-all egress rule if nobody removed it; korefw does not touch other rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import pulumi
import pulumi_aws.ec2 as aws_ec2
import pulumi_aws.networkfirewall as aws_networkfirewall
import pulumi_aws.route53 as aws_route53
import pulumi_aws.vpc as aws_vpc

from ..core.errors import ConfigError
from ..core.plan.aws_data import AwsPlan, EgressRulePlan, PrefixListPlan
from ..core.plan.aws_fqdn import DnsFirewallPlan, FqdnPlan, NetworkFirewallPlan, plan_fqdn
from ..core.plan.aws_options import AwsOptions, check_tags
from ..core.plan.aws_plan import plan_aws, plan_prefix_lists, prefix_list_quota_note
from ..core.plan.options import COMPONENT_OPTIONS, resolve
from ..core.plan.ordering import UNKNOWN, HeldState, dependencies_first
from ..core.read.regions import select_rules
from ..core.rules.model import RuleSet
from .args import DestinationPrefixListsArgs, EgressSecurityGroupArgs, FqdnAllowlistArgs
from .held_aws import LIST_TAG, OWNER_TAG, owner_id, read_held, unordered_warning
from .outputs import known
from .warn import warn_plan

__all__ = [
    "DestinationPrefixLists",
    "EgressSecurityGroup",
    "FqdnAllowlist",
    "plan_for",
]

EGRESS_SECURITY_GROUP = "korefw:aws:EgressSecurityGroup"
DESTINATION_PREFIX_LISTS = "korefw:aws:DestinationPrefixLists"
FQDN_ALLOWLIST = "korefw:aws:FqdnAllowlist"


# --------------------------------------------------------------------------- planning


def plan_for(args: EgressSecurityGroupArgs | None = None, /, **kwargs: Any) -> AwsPlan:
    """Check :class:`EgressSecurityGroup`'s arguments (an args mapping and/or keywords,
    both keyed as :class:`~korefw.components.args.EgressSecurityGroupArgs`) and plan,
    registering nothing."""
    return _plan(_args("EgressSecurityGroup", args, kwargs))


def _plan(a: Mapping[str, Any], held: HeldState = UNKNOWN) -> AwsPlan:
    """Check resolved ``EgressSecurityGroup`` arguments and plan, from what the cloud holds."""
    vpc_id, security_group_id = a["vpc_id"], a["security_group_id"]
    if vpc_id is None and security_group_id is None:
        raise ConfigError(
            "give vpc_id (create security groups) or security_group_id (add egress rules "
            "to an existing group)",
            where="vpc_id",
        )
    if vpc_id is not None and security_group_id is not None:
        raise ConfigError("give vpc_id or security_group_id, not both", where="security_group_id")
    options = _options(a, existing_group=security_group_id is not None)
    _check_dns_vpc(a["dns_firewall_vpc_id"], options)
    check_tags(a["tags"])
    return plan_aws(_rules(a), options, held)


def _args(
    component: str, args: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    return resolve(COMPONENT_OPTIONS[component], component, args, kwargs)


_OPTION_FIELDS = frozenset(f.name for f in fields(AwsOptions))


def _options(a: Mapping[str, Any], **extra: Any) -> AwsOptions:
    """The planner's options: every argument that is an ``AwsOptions`` field."""
    return AwsOptions(**{k: v for k, v in a.items() if k in _OPTION_FIELDS}, **extra)


def _rules(a: Mapping[str, Any]) -> RuleSet:
    if a["rules"] is None:
        raise ConfigError("a rule set or region code is required", where="rules")
    return select_rules(a["rules"], a["sections"], a["components"])


def _check_dns_vpc(vpc: object, options: AwsOptions) -> None:
    if vpc is not None and "dns-firewall" not in options.fqdn_enforcement:
        raise ConfigError(
            "dns_firewall_vpc_id needs 'dns-firewall' in fqdn_enforcement",
            where="dns_firewall_vpc_id",
        )


def _child(parent: pulumi.Resource, *, former: str | None = None) -> pulumi.ResourceOptions:
    """Options of a child; ``former`` is the logical name korefw 0.x gave it (an alias)."""
    aliases = [pulumi.Alias(name=former)] if former else None
    return pulumi.ResourceOptions(parent=parent, aliases=aliases)


def _with_name(tags: Mapping[str, str] | None, name: str) -> dict[str, str]:
    return {**(tags or {}), "Name": name}


# --------------------------------------------------------------------------- prefix lists


class DestinationPrefixLists(pulumi.ComponentResource):
    """One ``aws.ec2.ManagedPrefixList`` per vendor flow of a rule set.

    A list holds the CIDRs of one vendor section (or section and component) and one IP
    version whose rows ask for one flow, a protocol and port range; its key says which
    (``twilio-stun-ipv4-udp-3478``), and :attr:`prefix_lists` too, so other stacks can
    reference a list (``prefix_list_ids`` via a StackReference) and allow exactly that
    flow. A row added or removed changes only the lists of its own flows.
    ``max_entries`` is the entry count plus ``prefix_list_headroom``; remember that a
    security group rule referencing a list costs ``max_entries`` rules of quota.

    Outputs: ``prefix_list_ids`` (list key -> id), ``prefix_lists`` (key -> name,
    address family, max_entries, flows, entries) and ``plan``.
    """

    prefix_list_ids: pulumi.Output[dict[str, str]]
    prefix_lists: pulumi.Output[dict[str, dict[str, Any]]]
    plan: pulumi.Output[list[dict[str, Any]]]
    #: Each list's id by list key, so that each egress rule depends on its own list only.
    list_ids: dict[str, pulumi.Output[str]]

    _TYPE = DESTINATION_PREFIX_LISTS

    def __init__(
        self,
        name: str,
        args: DestinationPrefixListsArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        plan: Sequence[PrefixListPlan] | None = None,
        owner: str | None = None,
        deferred: bool = False,
        **kwargs: Any,
    ) -> None:
        """``plan``: lists planned already (by :func:`plan_for`); then ``rules`` and the
        planning arguments are not read, and the planner's caller reports the quota.
        ``owner``: tag each list with it (``korefw:owner``) and its key (``korefw:list``),
        so that the owner can read what its lists hold. ``deferred`` (with ``plan``): the
        owner registers each list with :meth:`add` and then calls :meth:`finish`."""
        a = _args("DestinationPrefixLists", args, kwargs)
        self._list_tags: Mapping[str, str] | None = a["tags"]
        warnings: tuple[str, ...] = ()
        if plan is None:  # plan first, so bad input registers nothing
            if deferred:
                raise ConfigError("deferred needs plan", where="deferred")
            options = _options(a, mode="prefix-list")
            check_tags(self._list_tags)
            plan = plan_prefix_lists(_rules(a), options)
            quota = prefix_list_quota_note(len(plan))
            warnings = (quota,) if quota else ()
        self._base = name
        self._list_owner = owner
        self._planned = tuple(plan)
        self.list_ids = {}
        super().__init__(self._TYPE, name, None, opts)
        warn_plan(self, warnings)
        if not deferred:
            for pl in self._planned:
                self.add(pl)
            self.finish()

    def add(
        self, pl: PrefixListPlan, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.Output[str]:
        """Register one planned list (after ``depends_on``); its id."""
        tags = _with_name(self._list_tags, pl.name)
        if self._list_owner is not None:
            tags |= {OWNER_TAG: self._list_owner, LIST_TAG: pl.key}
        opts = _child(
            self, former=pl.former_resource_name and f"{self._base}-{pl.former_resource_name}"
        )
        if depends_on:
            opts.depends_on = list(depends_on)
        res = aws_ec2.ManagedPrefixList(
            f"{self._base}-{pl.resource_name}",
            name=pl.name,
            address_family=pl.address_family,
            max_entries=pl.max_entries,
            entries=[{"cidr": e.cidr, "description": e.description} for e in pl.entries],
            tags=tags,
            opts=opts,
        )
        self.list_ids[pl.key] = res.id
        return res.id

    def finish(self) -> None:
        """Set and register the outputs, once every list is registered."""
        ids = {pl.key: self.list_ids[pl.key] for pl in self._planned}
        lists = self._planned
        self.prefix_list_ids = pulumi.Output.all(**ids) if ids else pulumi.Output.from_input({})
        self.prefix_lists = known({
            pl.key: {k: v for k, v in pl.to_dict().items() if k != "key"} for pl in lists
        })  # fmt: skip
        self.plan = known([pl.to_dict() for pl in lists])
        self.register_outputs(
            {
                "prefix_list_ids": self.prefix_list_ids,
                "prefix_lists": self.prefix_lists,
                "plan": self.plan,
            }
        )


# --------------------------------------------------------------------------- FQDN


class FqdnAllowlist(pulumi.ComponentResource):
    """FQDN egress rules, which no security group can hold, where they can be enforced.

    ``network-firewall``: an ``aws.networkfirewall.RuleGroup`` (stateful, Suricata rules)
    passing TLS SNI and HTTP Host for the vendor's names on the vendor's TCP ports only
    (a plain domain-list rule group would pass any port). Add it to your firewall policy;
    its rule order is the default action order. Capacity cannot change in place, so it is
    rounded up to a multiple of 100 unless ``network_firewall_capacity`` is given.
    ``dns-firewall``: a Route 53 Resolver DNS Firewall domain list and a rule group with
    one ALLOW rule, associated with ``dns_firewall_vpc_id`` when given (at
    ``dns_firewall_priority``). DNS Firewall restricts names, not ports.

    FQDN flows that no chosen enforcement covers are in ``unenforced_fqdn_rules`` and
    logged as a warning, never dropped silently.

    Outputs: ``network_firewall_rule_group_arn``, ``dns_firewall_rule_group_id``,
    ``dns_firewall_domain_list_id`` (each ``None`` when not created),
    ``unenforced_fqdn_rules`` and ``plan``.
    """

    network_firewall_rule_group_arn: pulumi.Output[str | None]
    dns_firewall_rule_group_id: pulumi.Output[str | None]
    dns_firewall_domain_list_id: pulumi.Output[str | None]
    unenforced_fqdn_rules: pulumi.Output[list[dict[str, Any]]]
    plan: pulumi.Output[dict[str, Any]]

    _TYPE = FQDN_ALLOWLIST

    def __init__(
        self,
        name: str,
        args: FqdnAllowlistArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        plan: FqdnPlan | None = None,
        **kwargs: Any,
    ) -> None:
        """``plan``: planned already (by :func:`plan_for`); then ``rules`` and the planning
        arguments are not read, and the planner's caller reports its warnings."""
        a = _args("FqdnAllowlist", args, kwargs)
        dns_firewall_vpc_id, tags = a["dns_firewall_vpc_id"], a["tags"]
        warnings: tuple[str, ...] = ()
        if plan is None:
            options = _options(a)
            _check_dns_vpc(dns_firewall_vpc_id, options)
            check_tags(tags)
            plan = plan_fqdn(_rules(a), options)
            warnings = plan.warnings
        super().__init__(self._TYPE, name, None, opts)
        arn = self._network_firewall(name, plan.network_firewall, tags)
        dns = plan.dns_firewall
        group_id, domains_id = self._dns_firewall(name, dns, dns_firewall_vpc_id, tags)
        self.network_firewall_rule_group_arn = pulumi.Output.from_input(arn)
        self.dns_firewall_rule_group_id = pulumi.Output.from_input(group_id)
        self.dns_firewall_domain_list_id = pulumi.Output.from_input(domains_id)
        self.unenforced_fqdn_rules = known([u.to_dict() for u in plan.unenforced])
        self.plan = known(plan.to_dict())
        warn_plan(self, warnings)
        self.register_outputs(
            {
                "network_firewall_rule_group_arn": self.network_firewall_rule_group_arn,
                "dns_firewall_rule_group_id": self.dns_firewall_rule_group_id,
                "dns_firewall_domain_list_id": self.dns_firewall_domain_list_id,
                "unenforced_fqdn_rules": self.unenforced_fqdn_rules,
                "plan": self.plan,
            }
        )

    def _network_firewall(
        self, name: str, nfw: NetworkFirewallPlan | None, tags: Mapping[str, str] | None
    ) -> pulumi.Output[str] | None:
        if nfw is None:
            return None
        group = aws_networkfirewall.RuleGroup(
            f"{name}-{nfw.resource_name}",
            type="STATEFUL",
            capacity=nfw.capacity,
            description=nfw.description,
            rule_group={"rules_source": {"rules_string": nfw.rules_string}},
            tags=dict(tags or {}) or None,
            opts=_child(self),
        )
        return group.arn

    def _dns_firewall(
        self,
        name: str,
        dns: DnsFirewallPlan | None,
        vpc_id: pulumi.Input[str] | None,
        tags: Mapping[str, str] | None,
    ) -> tuple[pulumi.Output[str] | None, pulumi.Output[str] | None]:
        """The DNS Firewall rule group's and domain list's ids (None when not planned)."""
        if dns is None:
            return None, None
        # The DNS Firewall names carry name_prefix but are cosmetic and cannot change in
        # place: a rename would replace the domain list, rule group, rule and VPC
        # association, and the new association would ask for the priority the old one
        # still holds ("a unique priority for each rule group that you associate with
        # a single VPC", AssociateFirewallRuleGroup). So a name stays as created; the
        # tags follow the settings.
        keep_name = pulumi.ResourceOptions(parent=self, ignore_changes=["name"])
        domains = aws_route53.ResolverFirewallDomainList(
            f"{name}-domains",
            name=dns.name,
            domains=list(dns.domains),
            tags=dict(tags or {}) or None,
            opts=keep_name,
        )
        group_dns = aws_route53.ResolverFirewallRuleGroup(
            f"{name}-dns-rules",
            name=dns.name,
            tags=dict(tags or {}) or None,
            opts=keep_name,
        )
        aws_route53.ResolverFirewallRule(
            f"{name}-dns-allow",
            name=f"{dns.name}-allow",
            action="ALLOW",
            firewall_rule_group_id=group_dns.id,
            firewall_domain_list_id=domains.id,
            priority=dns.rule_priority,
            opts=keep_name,
        )
        if vpc_id is not None:
            aws_route53.ResolverFirewallRuleGroupAssociation(
                f"{name}-dns-vpc",
                name=dns.name,
                firewall_rule_group_id=group_dns.id,
                vpc_id=vpc_id,
                priority=dns.priority,
                tags=dict(tags or {}) or None,
                opts=keep_name,
            )
        return group_dns.id, domains.id


# --------------------------------------------------------------------------- security groups


class EgressSecurityGroup(pulumi.ComponentResource):
    """Kore.ai's egress rules as AWS security group egress rules.

    Give exactly one of ``vpc_id`` (create ``aws.ec2.SecurityGroup``\\ s, as many as the
    quota needs when ``shard`` is on) or ``security_group_id`` (add egress rules to that
    existing group; over the quota is then an error, and ``rule_limit`` should be the
    quota the group has left). ``rules`` is a
    :class:`~korefw.core.rules.model.RuleSet` or a region code (``"jp"``), narrowed by
    ``sections`` and ``components`` (case-insensitive globs).

    ``mode``: ``cidr`` (one egress rule per protocol, port range and CIDR), ``prefix-list``
    (one egress rule per ``DestinationPrefixLists`` list, one list per section and vendor
    flow) or ``auto`` (per list, a list where it costs no more quota than its CIDR rules).
    ``rule_limit`` is the egress quota per group and IP version (AWS default 60); a
    prefix-list reference costs the list's ``max_entries``. ``fqdn_enforcement`` creates
    an ``FqdnAllowlist`` for the FQDN rules; see there. Every argument is checked, and
    the whole plan made, before the first resource is registered.

    Outputs: ``security_group_ids`` (in group order), ``prefix_list_ids`` (list key ->
    id), ``rule_count``, ``quota_used`` (per group: ipv4, ipv6), ``unenforced_fqdn_rules``,
    ``network_firewall_rule_group_arn``, ``dns_firewall_rule_group_id`` and ``plan``.
    """

    security_group_ids: pulumi.Output[list[str]]
    prefix_list_ids: pulumi.Output[dict[str, str]]
    rule_count: pulumi.Output[int]
    quota_used: pulumi.Output[list[dict[str, int]]]
    unenforced_fqdn_rules: pulumi.Output[list[dict[str, Any]]]
    network_firewall_rule_group_arn: pulumi.Output[str | None]
    dns_firewall_rule_group_id: pulumi.Output[str | None]
    plan: pulumi.Output[dict[str, Any]]

    _TYPE = EGRESS_SECURITY_GROUP

    def __init__(
        self,
        name: str,
        args: EgressSecurityGroupArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        a = _args("EgressSecurityGroup", args, kwargs)
        plan = _plan(a)  # every check, before the first invoke or resource
        super().__init__(self._TYPE, name, None, opts)
        owner = owner_id(pulumi.get_project(), pulumi.get_stack(), name)
        if plan.prefix_lists:
            # parent=self: the invokes use the provider the component's lists will use.
            held = read_held(owner, pulumi.InvokeOptions(parent=self))
            if not held.known:
                warn_plan(self, [unordered_warning(held.why_unknown)])
            elif held.prefix_lists:
                plan = _plan(a, held)
        lists = self._prefix_lists(name, plan, a, owner)
        group_ids = self._security_groups(name, plan, a)
        self._register(name, plan, lists, group_ids, a["tags"])
        self._fqdn_allowlist(name, plan, a)
        self._outputs(plan, group_ids)

    def _prefix_lists(
        self, name: str, plan: AwsPlan, a: Mapping[str, Any], owner: str
    ) -> DestinationPrefixLists | None:
        """The ``DestinationPrefixLists`` for the planned lists (registered by
        :meth:`_register`), or None without lists."""
        self.prefix_list_ids = pulumi.Output.from_input({})
        if not plan.prefix_lists:
            return None
        lists = DestinationPrefixLists(
            f"{name}-prefix-lists",
            name_prefix=a["name_prefix"],
            tags=a["tags"],
            opts=_child(self),
            plan=plan.prefix_lists,
            owner=owner,
            deferred=True,
        )
        return lists

    def _register(
        self,
        name: str,
        plan: AwsPlan,
        lists: DestinationPrefixLists | None,
        group_ids: Sequence[pulumi.Input[str]],
        tags: Mapping[str, str] | None,
    ) -> None:
        """Register the prefix lists and egress rules, each after what it depends on.

        An egress rule needs its prefix list's id; a list that loses entries waits for the
        egress rules that keep allowing them (``PrefixListPlan.after``), which in turn
        need their own lists. The planner leaves no cycle (:func:`.ordering.waits`).
        """
        rules = {r.name: r for r in plan.rules}
        planned = {pl.key: pl for pl in plan.prefix_lists}
        made: dict[str, pulumi.Resource] = {}

        def needs(node: str) -> tuple[str, ...]:
            kind, key = node.split(":", 1)
            if kind == "list":
                return tuple(f"rule:{n}" for n in planned[key].after)
            listed = rules[key].prefix_list
            return (f"list:{listed}",) if listed is not None else ()

        nodes = [*(f"list:{k}" for k in planned), *(f"rule:{n}" for n in rules)]
        for node in dependencies_first(nodes, needs):
            kind, key = node.split(":", 1)
            if kind == "list" and lists is not None:
                lists.add(planned[key], [made[f"rule:{n}"] for n in planned[key].after])
            elif kind == "rule":
                ids = lists.list_ids if lists is not None else {}
                made[node] = self._egress_rule(name, rules[key], group_ids, ids, tags)
        if lists is not None:
            lists.finish()
            self.prefix_list_ids = lists.prefix_list_ids

    def _security_groups(
        self, name: str, plan: AwsPlan, a: Mapping[str, Any]
    ) -> list[pulumi.Input[str]]:
        """The ids of the groups the egress rules go to: the existing one, or new ones."""
        if a["security_group_id"] is not None:
            return [a["security_group_id"]]
        return self._groups(name, plan, a["vpc_id"], a["name_prefix"], a["tags"])

    def _fqdn_allowlist(self, name: str, plan: AwsPlan, a: Mapping[str, Any]) -> None:
        """An ``FqdnAllowlist`` when the plan enforces FQDN rules; its outputs either way."""
        arn: pulumi.Output[str] | None = None
        dns_group: pulumi.Output[str] | None = None
        fqdn = plan.fqdn
        if fqdn.network_firewall is not None or fqdn.dns_firewall is not None:
            allowlist = FqdnAllowlist(
                f"{name}-fqdn",
                dns_firewall_vpc_id=a["dns_firewall_vpc_id"],
                name_prefix=a["name_prefix"],
                tags=a["tags"],
                opts=_child(self),
                plan=fqdn,
            )
            arn = allowlist.network_firewall_rule_group_arn
            dns_group = allowlist.dns_firewall_rule_group_id
        self.network_firewall_rule_group_arn = pulumi.Output.from_input(arn)
        self.dns_firewall_rule_group_id = pulumi.Output.from_input(dns_group)

    def _outputs(self, plan: AwsPlan, group_ids: Sequence[pulumi.Input[str]]) -> None:
        """The plan's figures as outputs, its warnings logged, and every output registered."""
        self.security_group_ids = pulumi.Output.all(*group_ids)
        self.rule_count = known(plan.rule_count)
        self.quota_used = known(plan.quota_used)
        self.unenforced_fqdn_rules = known([u.to_dict() for u in plan.unenforced_fqdn_rules])
        self.plan = known(plan.to_dict())
        warn_plan(self, plan.warnings)
        self.register_outputs(
            {
                "security_group_ids": self.security_group_ids,
                "prefix_list_ids": self.prefix_list_ids,
                "rule_count": self.rule_count,
                "quota_used": self.quota_used,
                "unenforced_fqdn_rules": self.unenforced_fqdn_rules,
                "network_firewall_rule_group_arn": self.network_firewall_rule_group_arn,
                "dns_firewall_rule_group_id": self.dns_firewall_rule_group_id,
                "plan": self.plan,
            }
        )

    def _groups(
        self,
        name: str,
        plan: AwsPlan,
        vpc_id: pulumi.Input[str],
        name_prefix: str,
        tags: Mapping[str, str] | None,
    ) -> list[pulumi.Input[str]]:
        """Create the planned security groups; their ids in group order."""
        group_ids: list[pulumi.Input[str]] = []
        for g in plan.groups:
            tag_name = "-".join(p for p in (name_prefix, plan.region, "egress", str(g.index)) if p)
            sg = aws_ec2.SecurityGroup(
                f"{name}-{g.resource_name}",
                vpc_id=vpc_id,
                description=g.description,
                tags=_with_name(tags, tag_name),
                # AWS cannot change a description in place: a new one would replace
                # the group (and strand its network interfaces on the old one). The
                # description is cosmetic; groups korefw 0.x described with the
                # namePrefix keep theirs.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["description"]),
            )
            group_ids.append(sg.id)
        return group_ids

    def _egress_rule(
        self,
        name: str,
        r: EgressRulePlan,
        group_ids: Sequence[pulumi.Input[str]],
        list_ids: Mapping[str, pulumi.Output[str]],
        tags: Mapping[str, str] | None,
    ) -> aws_vpc.SecurityGroupEgressRule:
        """One planned rule as an ``aws.vpc.SecurityGroupEgressRule`` in its planned group."""
        destination: dict[str, pulumi.Input[str]]
        if r.prefix_list is not None:
            destination = {"prefix_list_id": list_ids[r.prefix_list]}
        elif r.family == 4:
            destination = {"cidr_ipv4": r.cidr or ""}
        else:
            destination = {"cidr_ipv6": r.cidr or ""}
        return aws_vpc.SecurityGroupEgressRule(
            f"{name}-{r.name}",
            security_group_id=group_ids[r.group - 1],
            ip_protocol=r.protocol,
            from_port=r.from_port,
            to_port=r.to_port,
            description=r.description,
            tags=dict(tags or {}) or None,
            opts=_child(self, former=r.former_name and f"{name}-{r.former_name}"),
            **destination,
        )
