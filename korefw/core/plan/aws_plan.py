"""The AWS planner: security groups, egress rules, prefix lists and FQDN allowlists as data.

Everything the Pulumi components in :mod:`korefw.aws` create is decided here, before any
resource exists: logical names, port merges, destination sets, quota counts, shards,
prefix-list entries, descriptions and FQDN rules. Bad options and plans that cannot fit
AWS's limits raise :class:`~korefw.core.errors.ConfigError` or
:class:`~korefw.core.errors.PlanError` here, so nothing is half-created.

How AWS counts, as modelled here:

* Each security group holds ``rule_limit`` (default 60) egress rules, counted apart for
  IPv4 and IPv6. One egress rule names one protocol, one port range and one destination.
* A rule that references a customer-managed prefix list costs the list's ``max_entries``,
  counted in the list's address family. (AWS documents that an *AWS-managed* list or
  security group reference counts once in each family; it does not say which family a
  customer-managed list counts in, and korefw only creates single-family lists.)
* A prefix list holds at most 1,000 entries.
* Defaults the plan warns about, because AWS lets you raise them: 5 security groups per
  network interface, and 100 customer-managed prefix lists per Region. (Amazon VPC
  quotas, https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html:
  "Security groups per network interface" 5, adjustable, and rules per group times groups
  per interface at most 1,000; "Prefix lists per Region" 100.)

Identity: every logical name derives from what a resource allows (protocol, ports,
destination, destination set), never from the position of a vendor row, so adding a row
only creates, removing one only deletes, and reordering changes nothing.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError
from ..rules.addresses import IPNetwork
from ..rules.model import RuleSet
from .aws_data import AwsPlan, EgressRulePlan, GroupPlan, PrefixListEntryPlan, PrefixListPlan
from .aws_fqdn import plan_fqdn
from .aws_options import (
    DEFAULT_GROUPS_PER_INTERFACE,
    DEFAULT_PREFIX_LISTS_PER_REGION,
    MAX_PREFIX_LIST_ENTRIES,
    AwsOptions,
    bounded,
    description,
    ports_name,
)
from .naming import digest, slug


def plan_aws(rules: RuleSet, options: AwsOptions | None = None) -> AwsPlan:
    """Plan security groups, egress rules, prefix lists and FQDN enforcement for ``rules``."""
    opts = options or AwsOptions()
    contribs = _contributions(rules, opts)
    sets = _destination_sets(contribs, opts, rules.region)
    use_list = {s.key: _choose_list(s, opts) for s in sets}
    lists = tuple(s.plan for s in sets if use_list[s.key])
    egress = _cidr_rules(c for s in sets if not use_list[s.key] for c in s.contribs)
    for pl in lists:
        egress.extend(_reference_rules(pl))
    rules_out, groups = _shard(egress, opts, rules.region)
    notes = []
    if opts.existing_group:
        notes.append(
            "egress rules go into an existing security group: remove its default allow-all "
            "egress rule yourself, or these rules change nothing"
        )
    if len(groups) > DEFAULT_GROUPS_PER_INTERFACE:
        notes.append(
            f"the egress rules need {len(groups)} security groups, and an instance needs all "
            f"of them on its network interface: AWS allows {DEFAULT_GROUPS_PER_INTERFACE} "
            "security groups per network interface by default (adjustable; rules per group "
            "times groups per interface may not exceed 1000)"
        )
    too_many = prefix_list_quota_note(len(lists))
    if too_many:
        notes.append(too_many)
    return AwsPlan(
        region=rules.region,
        options=opts,
        groups=groups,
        rules=rules_out,
        prefix_lists=lists,
        fqdn=plan_fqdn(rules, opts),
        notes=tuple(notes),
    )


def plan_prefix_lists(
    rules: RuleSet, options: AwsOptions | None = None
) -> tuple[PrefixListPlan, ...]:
    """Every destination set of ``rules`` as a prefix list (for reuse by other stacks)."""
    opts = options or AwsOptions()
    sets = _destination_sets(_contributions(rules, opts), opts, rules.region)
    for s in sets:
        _check_list_size(s.plan)
    return tuple(s.plan for s in sets)


def prefix_list_quota_note(count: int) -> str | None:
    """A warning when ``count`` prefix lists pass AWS's default quota per Region."""
    if count <= DEFAULT_PREFIX_LISTS_PER_REGION:
        return None
    return (
        f"the plan creates {count} managed prefix lists; AWS allows "
        f"{DEFAULT_PREFIX_LISTS_PER_REGION} customer-managed prefix lists per Region by "
        "default (adjustable), counting those other stacks already created there"
    )


@dataclass(frozen=True)
class _Contribution:
    """One (destination set, CIDR, protocol, port range) a vendor row asks for."""

    label: str
    net: IPNetwork
    protocol: str
    lo: int
    hi: int
    source: str


def _contributions(rules: RuleSet, opts: AwsOptions) -> list[_Contribution]:
    out = []
    for r in rules.ip_rules():
        label = (
            r.section
            if opts.prefix_list_grouping == "section" or not r.component
            else (f"{r.section} / {r.component}")
        )
        source = r.describe()
        for net in r.cidrs:
            if net.prefixlen == 0:
                raise PlanError(
                    "refusing an egress rule to every address", where=str(r.origin), value=str(net)
                )
            for proto in r.protocols:
                for p in r.ports:
                    out.append(_Contribution(label, net, str(proto), p.lo, p.hi, source))
    return out


def _merge_sourced(items: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Merge overlapping or adjacent port ranges exactly, keeping where each came from."""
    out: list[tuple[int, int, set[str]]] = []
    for lo, hi, src in sorted(items):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi), out[-1][2] | {src})
        else:
            out.append((lo, hi, {src}))
    return [(lo, hi, tuple(sorted(srcs))) for lo, hi, srcs in out]


def _net_key(net: IPNetwork) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def _cidr_rules(contribs: Iterable[_Contribution]) -> list[EgressRulePlan]:
    """One egress rule per (protocol, merged port range, CIDR)."""
    by_dest: dict[tuple[str, IPNetwork], list[tuple[int, int, str]]] = defaultdict(list)
    for c in contribs:
        by_dest[(c.protocol, c.net)].append((c.lo, c.hi, c.source))
    out = []
    for (proto, net), items in by_dest.items():
        for lo, hi, sources in _merge_sourced(items):
            dest = str(net).replace(":", "_").replace("/", "-")
            out.append(
                EgressRulePlan(
                    name=bounded(f"{proto}-{ports_name(lo, hi)}-to-{dest}"),
                    protocol=proto,
                    from_port=lo,
                    to_port=hi,
                    family=net.version,
                    description=description("; ".join(sources)),
                    cost=1,
                    group=0,
                    cidr=str(net),
                )
            )
    return out


def _reference_rules(pl: PrefixListPlan) -> list[EgressRulePlan]:
    family = 4 if pl.address_family == "IPv4" else 6
    text = "; ".join(pl.sources)
    return [
        EgressRulePlan(
            name=bounded(f"{proto}-{ports_name(lo, hi)}-to-pl-{pl.key}"),
            former_name=(
                bounded(f"{proto}-{ports_name(lo, hi)}-to-pl-{pl.former_key}")
                if pl.former_key
                else None
            ),
            protocol=proto,
            from_port=lo,
            to_port=hi,
            family=family,
            description=description(f"prefix list {pl.name}: {text}"),
            cost=pl.max_entries,
            group=0,
            prefix_list=pl.key,
        )
        for proto, lo, hi in pl.flows
    ]


@dataclass(frozen=True)
class _DestSet:
    key: str
    contribs: tuple[_Contribution, ...]
    plan: PrefixListPlan


def _destination_sets(
    contribs: list[_Contribution], opts: AwsOptions, region: str
) -> list[_DestSet]:
    """Partition destinations by (label, IP version, the exact flows each CIDR needs).

    Within one set every CIDR needs the same flows, so egress rules referencing the set's
    prefix list with each of those flows allow exactly the vendor's flows, nothing more.
    Keys: ``<label slug>-ipv4-<digest of the flows>``, from the set's own content only, so
    adding or removing a row moves no CIDR whose flows stay the same: only the lists whose
    entries change are touched. (korefw 0.x gave the profile with most CIDRs the plain
    ``<label slug>-ipv4``, so a row could swap two lists' keys; that key is kept as
    ``former_key`` for an alias.)
    """
    # (label, version) -> net -> protocol -> [(lo, hi, source)]
    per_net: dict[tuple[str, int], dict[IPNetwork, list[_Contribution]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for c in contribs:
        per_net[(c.label, c.net.version)][c.net].append(c)
    bases = _label_bases({label for label, _ in per_net})
    out = []
    for (label, version), nets in sorted(per_net.items()):
        by_profile: dict[tuple[tuple[str, int, int], ...], list[IPNetwork]] = defaultdict(list)
        for net, cs in nets.items():
            by_proto: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
            for c in cs:
                by_proto[c.protocol].append((c.lo, c.hi, c.source))
            profile = tuple(
                (proto, lo, hi)
                for proto in sorted(by_proto)
                for lo, hi, _ in _merge_sourced(by_proto[proto])
            )
            by_profile[profile].append(net)
        ranked = sorted(by_profile.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for rank, (profile, members) in enumerate(ranked):
            key = f"{bases[label]}-ipv{version}-{digest(*profile, length=6)}"
            former = None if rank else f"{bases[label]}-ipv{version}"
            members.sort(key=_net_key)
            entries = []
            sources: set[str] = set()
            for net in members:
                srcs = sorted({c.source for c in nets[net]})
                sources.update(srcs)
                entries.append(PrefixListEntryPlan(str(net), description("; ".join(srcs))))
            name = "-".join(p for p in (opts.name_prefix, region, key) if p)
            plan = PrefixListPlan(
                key=key,
                name=name,
                address_family=f"IPv{version}",
                entries=tuple(entries),
                max_entries=len(entries) + opts.prefix_list_headroom,
                flows=profile,
                sources=tuple(sorted(sources)),
                former_key=former,
            )
            mine = tuple(c for n in members for c in nets[n])
            out.append(_DestSet(key, mine, plan))
    if len({s.key for s in out}) != len(out):  # a 6-digit digest collision; never seen
        raise PlanError("two destination sets got the same prefix-list key; rename a section")
    return out


def _label_bases(labels: set[str]) -> dict[str, str]:
    """A short slug per label; labels that slug alike get a digest to stay apart."""
    first = {label: slug(label, max_len=60) or "rules" for label in labels}
    count: dict[str, int] = defaultdict(int)
    for base in first.values():
        count[base] += 1
    return {
        label: base if count[base] == 1 else f"{base[:53]}-{digest(label, length=6)}"
        for label, base in first.items()
    }


def _check_list_size(pl: PrefixListPlan) -> None:
    if pl.max_entries > MAX_PREFIX_LIST_ENTRIES:
        raise PlanError(
            f"prefix list {pl.key} needs max_entries {len(pl.entries)} entries + "
            f"{pl.max_entries - len(pl.entries)} headroom = {pl.max_entries}, over AWS's "
            f"limit of {MAX_PREFIX_LIST_ENTRIES} (use prefix_list_grouping='component', "
            "less headroom, or mode 'cidr' or 'auto')",
            where="prefix_list_headroom",
            value=pl.max_entries,
        )


def _choose_list(s: _DestSet, opts: AwsOptions) -> bool:
    """Whether a destination set becomes a prefix list referenced by the security group."""
    pl = s.plan
    if opts.mode == "cidr":
        return False
    fits = pl.max_entries <= min(opts.rule_limit, MAX_PREFIX_LIST_ENTRIES)
    if opts.mode == "prefix-list":
        _check_list_size(pl)
        if not fits:
            raise PlanError(
                f"a reference to prefix list {pl.key} costs {pl.max_entries} quota units "
                f"(its max_entries), over the rule_limit of {opts.rule_limit}: no security "
                "group can hold it (raise rule_limit, or use mode 'auto' or 'cidr')",
                where="rule_limit",
                value=opts.rule_limit,
            )
        return True
    if not fits:
        return False
    as_list = len(pl.flows) * pl.max_entries
    as_cidrs = len(pl.flows) * len(pl.entries)
    # Equal cost (no headroom): a list means fewer egress rules and one place to update.
    return as_list < as_cidrs or (as_list == as_cidrs and len(pl.entries) >= 2)


def _shard(
    egress: list[EgressRulePlan], opts: AwsOptions, region: str
) -> tuple[tuple[EgressRulePlan, ...], tuple[GroupPlan, ...]]:
    """Assign egress rules to security groups, each within ``rule_limit`` per IP version.

    Rules are filled in a fixed content order (destination, protocol, ports) into as few
    groups as that order allows, IPv4 and IPv6 each on their own. Stable, not perfectly
    so: adding or removing a one-unit rule moves at most one rule across each later group
    boundary (a replacement, created before the old one is deleted); a prefix-list
    reference, which costs its ``max_entries``, can move a few more. Hash placement would
    avoid those moves but needs spare room in every group, i.e. more security groups per
    network interface (AWS allows 5 by default).
    """
    limit = opts.rule_limit
    assigned: dict[str, int] = {}
    used: dict[int, dict[int, int]] = defaultdict(lambda: {4: 0, 6: 0})
    for family in (4, 6):
        mine = sorted((r for r in egress if r.family == family), key=_shard_key)
        total = sum(r.cost for r in mine)
        if total > limit and (opts.existing_group or not opts.shard):
            why = (
                "an existing security group cannot be sharded"
                if opts.existing_group
                else "sharding is off (shard=False)"
            )
            raise PlanError(
                f"the egress rules need {total} IPv{family} quota units in one security group, "
                f"over the rule_limit of {limit}; {why} (raise rule_limit if your quota allows, "
                "or select fewer sections)",
                where="rule_limit",
                value=limit,
            )
        group, room = 1, limit
        for r in mine:
            if r.cost > limit:  # only a prefix-list reference can; _choose_list prevents it
                raise PlanError(
                    f"egress rule {r.name} costs {r.cost} quota units, over the rule_limit",
                    where="rule_limit",
                    value=limit,
                )
            if r.cost > room:
                group, room = group + 1, limit
            assigned[r.name] = group
            used[group][family] += r.cost
            room -= r.cost
    count = max([1, *used])
    out_rules = tuple(
        sorted(
            (_with_group(r, assigned[r.name]) for r in egress),
            key=lambda r: (r.group, _shard_key(r)),
        )
    )
    names: dict[int, list[str]] = defaultdict(list)
    for r in out_rules:
        names[r.group].append(r.name)
    # No name_prefix in the description: AWS replaces a group whose description changes,
    # and the network interfaces would stay on the old one.
    where = f" {region}" if region else ""
    groups = tuple(
        GroupPlan(
            index=i,
            description=description(f"korefw: egress rules for Kore.ai{where}, group {i}"),
            rules=tuple(names[i]),
            ipv4=used[i][4] if i in used else 0,
            ipv6=used[i][6] if i in used else 0,
        )
        for i in range(1, count + 1)
    )
    return out_rules, groups


def _shard_key(r: EgressRulePlan) -> tuple[Any, ...]:
    if r.cidr is not None:
        dest: tuple[Any, ...] = (0, *_net_key(ipaddress.ip_network(r.cidr)), "")
    else:
        dest = (1, 0, 0, 0, r.prefix_list or "")
    return (*dest, r.protocol, r.from_port, r.to_port)


def _with_group(r: EgressRulePlan, group: int) -> EgressRulePlan:
    return EgressRulePlan(
        name=r.name,
        protocol=r.protocol,
        from_port=r.from_port,
        to_port=r.to_port,
        family=r.family,
        description=r.description,
        cost=r.cost,
        group=group,
        cidr=r.cidr,
        prefix_list=r.prefix_list,
        former_name=r.former_name,
    )
