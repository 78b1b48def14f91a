"""The AWS planner: security groups, egress rules, prefix lists and FQDN allowlists as data.

Everything the Pulumi components in :mod:`korefw.components.aws` create is decided here, before any
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
* A prefix list holds at most 1,000 entries, and one request creates it with at most
  100 (the provider sends all of a new list's entries in one), so korefw plans lists of
  at most 100 entries.
* Defaults the plan warns about, because AWS lets you raise them: 5 security groups per
  network interface, and 100 customer-managed prefix lists per Region. (Amazon VPC
  quotas, https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html:
  "Security groups per network interface" 5, adjustable, and rules per group times groups
  per interface at most 1,000; "Prefix lists per Region" 100.)

Identity: every logical name derives from what a resource allows (protocol, ports,
destination; a prefix list's section, IP version and flow), never from the position of a
vendor row, so adding a row only creates (or adds entries to its flows' lists), removing
one only deletes, and reordering changes nothing. Which security group a rule goes to is
decided in :mod:`.aws_shard`.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from ..errors import PlanError
from ..rules.addresses import IPNetwork
from ..rules.allowset import AllowSet
from ..rules.model import RuleSet
from .aws_data import AwsPlan, EgressRulePlan, GroupPlan, PrefixListEntryPlan, PrefixListPlan
from .aws_fqdn import plan_fqdn
from .aws_options import (
    DEFAULT_GROUPS_PER_INTERFACE,
    DEFAULT_PREFIX_LISTS_PER_REGION,
    MAX_PREFIX_LIST_ENTRIES,
    MAX_PREFIX_LIST_ENTRIES_PER_REQUEST,
    AwsOptions,
    bounded,
    description,
    ports_name,
)
from .aws_shard import net_key, shard
from .naming import digest, slug
from .ordering import UNKNOWN, HeldState, cycle_warning, waits

#: The key prefix of ``auto`` mode's lists, one per vendor flow of the whole rule set.
AUTO_LIST_BASE = "kore"


def plan_aws(
    rules: RuleSet, options: AwsOptions | None = None, held: HeldState = UNKNOWN
) -> AwsPlan:
    """Plan security groups, egress rules, prefix lists and FQDN enforcement for ``rules``.

    ``held``: what the prefix lists hold now; a list that loses entries another rule keeps
    allowing then waits for that rule (``PrefixListPlan.after``, :mod:`.ordering`).
    """
    opts = options or AwsOptions()
    contribs = _contributions(rules, opts)
    sets = _destination_sets(contribs, opts, rules.region)
    merging = _merging_sets(sets) if opts.mode == "auto" else set()
    use_list = {s.key: _choose_list(s, opts, s.key in merging) for s in sets}
    lists = tuple(s.plan for s in sets if use_list[s.key])
    egress = _cidr_rules(c for s in sets if not use_list[s.key] for c in s.contribs)
    _check_emitted(rules, lists, egress)
    for pl in lists:
        egress.extend(_reference_rules(pl))
    rules_out, groups = shard(egress, opts, rules.region)
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
    notes += _tight_notes(rules_out, groups, opts)
    too_many = prefix_list_quota_note(len(lists))
    if too_many:
        notes.append(too_many)
    plan = AwsPlan(
        region=rules.region,
        options=opts,
        groups=groups,
        rules=rules_out,
        prefix_lists=lists,
        fqdn=plan_fqdn(rules, opts),
        notes=tuple(notes),
    )
    return _ordered(plan, held) if held.prefix_lists else plan


def _ordered(plan: AwsPlan, held: HeldState) -> AwsPlan:
    """``plan`` with each prefix list that loses entries waiting for what allows them."""
    allows = plan.rule_allows()
    losers = {}
    for pl in plan.prefix_lists:
        now = held.prefix_lists.get(pl.key)
        if now is None:
            continue
        after = {e.cidr for e in pl.entries}
        if not now - after:
            continue
        losers[pl.key] = (_list_allows(pl, now), _list_allows(pl, after))
    if not losers:
        return plan
    listed = {r.name: r.prefix_list for r in plan.rules}
    edges, cyclic = waits(losers, allows, listed.get, plan.allow_set())
    lists = tuple(replace(pl, after=edges.get(pl.key, ())) for pl in plan.prefix_lists)
    notes = plan.notes + tuple(cycle_warning(f"prefix list {k}", "lists") for k in cyclic)
    return replace(plan, prefix_lists=lists, notes=notes)


def _list_allows(pl: PrefixListPlan, cidrs: Iterable[str]) -> AllowSet:
    nets = [ipaddress.ip_network(c) for c in sorted(cidrs)]
    return AllowSet(
        b for proto, lo, hi in pl.flows for b in AllowSet.of(proto, [(lo, hi)], nets).boxes()
    )


def _tight_notes(
    rules: tuple[EgressRulePlan, ...], groups: tuple[GroupPlan, ...], opts: AwsOptions
) -> list[str]:
    """Groups with less free quota than their dearest egress rule takes.

    During an update an egress rule that is replaced (a port merge makes a new CIDR rule),
    moves group, or (``auto``) turns from a list reference into CIDR rules or back exists
    twice until the deletes run: the group needs that rule's cost free, or the update
    passes its quota.
    """
    dearest: dict[tuple[int, int], EgressRulePlan] = {}  # one pass: (group, family) -> rule
    for r in rules:
        best = dearest.get((r.group, r.family))
        if best is None or (r.cost, r.name) > (best.cost, best.name):
            dearest[(r.group, r.family)] = r
    out = []
    for g in groups:
        for family, used in ((4, g.ipv4), (6, g.ipv6)):
            worst = dearest.get((g.index, family))
            if worst is None or used + worst.cost <= opts.rule_limit:
                continue
            where = "the security group" if opts.existing_group else f"security group {g.index}"
            what = f"prefix list {worst.prefix_list}" if worst.prefix_list else "a CIDR rule"
            out.append(
                f"{where} holds {used} of its {opts.rule_limit} IPv{family} quota units, less "
                f"room than its dearest egress rule takes ({what}: {worst.cost}): a row change "
                "that replaces or moves such a rule (a port merge; in auto mode, a list that "
                "turns into CIDR rules or back) holds old and new side by side for the length "
                "of the update, over the quota (korefw diff names it); raise rule_limit, or "
                "use mode 'cidr' (rules of one unit each)"
            )
    return out


def plan_prefix_lists(
    rules: RuleSet, options: AwsOptions | None = None
) -> tuple[PrefixListPlan, ...]:
    """Every destination set of ``rules`` as a prefix list (for reuse by other stacks)."""
    opts = options or AwsOptions()
    sets = _destination_sets(_contributions(rules, opts), opts, rules.region)
    for s in sets:
        _check_list_size(s.plan, opts, has_mode=False)
    _check_emitted(rules, [s.plan for s in sets], [])
    return tuple(s.plan for s in sets)


def _check_emitted(
    rules: RuleSet, lists: Iterable[PrefixListPlan], egress: Iterable[EgressRulePlan]
) -> None:
    """No prefix list, and no egress rule, allows a block broader than a vendor row may."""
    for pl in lists:
        nets = [ipaddress.ip_network(e.cidr) for e in pl.entries]
        rules.check_emitted(nets, f"prefix list {pl.key}")
    for r in egress:
        if r.cidr is not None:
            rules.check_emitted([ipaddress.ip_network(r.cidr)], f"egress rule {r.name}")


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
    """One destination set per vendor flow: (label, IP version, protocol, port range).

    A set holds every CIDR whose rows ask for that exact flow, so the one egress rule that
    references its prefix list allows exactly the vendor's flow, nothing more. A CIDR that
    several rows name (one row per port, say) sits in one list per flow, and its
    membership of a list depends on that flow alone: adding or removing a row adds or
    removes entries of its own flows' lists only, and no entry ever moves between lists
    (which, with Pulumi's creates-first order, would leave the flow refused until the new
    list is updated). Keys: ``<label slug>-ipv4-<protocol>-<ports>``, from content only.
    """
    # Labels that slug alike ("Voice SIP", "Voice-SIP") share their lists: a list of one
    # flow is exact whoever asks for it, and a key that depended on which other labels
    # exist would rename a list when a row of another section comes or goes.
    bases = {label: slug(label, max_len=60) or "rules" for label in {c.label for c in contribs}}
    if opts.mode != "auto":
        per_flow = _per_flow(contribs, lambda c: bases[c.label])
    else:
        # auto's lists are its own saving, not for reuse: one per flow across sections, so a
        # row that moves section (or is relabeled) moves no address between lists. A flow
        # too big for one list keeps one per section, as other modes do.
        cap = min(opts.rule_limit, MAX_PREFIX_LIST_ENTRIES_PER_REQUEST) - opts.prefix_list_headroom
        whole = _per_flow(contribs, lambda c: AUTO_LIST_BASE)
        big = {k[1:] for k, nets in whole.items() if len(nets) > cap}
        per_flow = _per_flow(
            contribs,
            lambda c: bases[c.label] if (c.net.version, c.protocol, c.lo, c.hi) in big
            else AUTO_LIST_BASE,
        )  # fmt: skip
    out = []
    for (base, version, proto, lo, hi), nets in sorted(per_flow.items()):
        flow = (proto, lo, hi)
        key = f"{base}-ipv{version}-{proto}-{ports_name(lo, hi)}"
        members = sorted(nets, key=net_key)
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
            flows=(flow,),
            sources=tuple(sorted(sources)),
            # Earlier korefw keyed a list by the digest of all its CIDRs' flows; a list of one
            # flow had this key, and keeps its resource through an alias.
            former_key=f"{base}-ipv{version}-{digest(flow, length=6)}",
        )
        mine = tuple(c for n in members for c in nets[n])
        out.append(_DestSet(key, mine, plan))
    return out


def _per_flow(
    contribs: list[_Contribution], base: Callable[[_Contribution], str]
) -> dict[tuple[str, int, str, int, int], dict[IPNetwork, list[_Contribution]]]:
    """(list base, version, protocol, lo, hi) -> net -> the contributions asking for it."""
    out: dict[tuple[str, int, str, int, int], dict[IPNetwork, list[_Contribution]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for c in contribs:
        out[(base(c), c.net.version, c.protocol, c.lo, c.hi)][c.net].append(c)
    return out


def _check_list_size(pl: PrefixListPlan, opts: AwsOptions, *, has_mode: bool = True) -> None:
    """Fail on a list AWS cannot create; ``has_mode``: the caller has a ``mode`` to name."""
    if len(pl.entries) > MAX_PREFIX_LIST_ENTRIES_PER_REQUEST:
        way = ", or mode 'cidr' or 'auto'" if has_mode else ""
        raise PlanError(
            f"prefix list {pl.key} would hold {len(pl.entries)} entries; AWS takes at most "
            f"{MAX_PREFIX_LIST_ENTRIES_PER_REQUEST} entries per request and the provider "
            f"creates a list in one (use prefix_list_grouping 'component'{way})",
            where="mode" if has_mode else "prefix_list_grouping",
            value=opts.mode if has_mode else opts.prefix_list_grouping,
        )
    if pl.max_entries > MAX_PREFIX_LIST_ENTRIES:
        raise PlanError(
            f"prefix list {pl.key} needs max_entries {len(pl.entries)} entries + "
            f"{opts.prefix_list_headroom} headroom = {pl.max_entries}, over AWS's limit of "
            f"{MAX_PREFIX_LIST_ENTRIES}",
            where="prefix_list_headroom",
            value=opts.prefix_list_headroom,
        )


def _choose_list(s: _DestSet, opts: AwsOptions, merges: bool) -> bool:
    """Whether a destination set becomes a prefix list referenced by the security group.

    In ``auto`` mode, ``merges`` says that a CIDR rule of the set would merge ports with
    another set's (tcp 5060 and tcp 5061 make one tcp 5060-5061 rule).
    """
    pl = s.plan
    if opts.mode == "cidr":
        return False
    fits = pl.max_entries <= min(opts.rule_limit, MAX_PREFIX_LIST_ENTRIES) and (
        len(pl.entries) <= MAX_PREFIX_LIST_ENTRIES_PER_REQUEST
    )
    if opts.mode == "prefix-list":
        _check_list_size(pl, opts)
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
    # A list costs max_entries; its CIDR rules cost one per entry, or less where their
    # ports merge with another set's. So a list never costs less, and costs the same only
    # with no headroom and no merge: then it means fewer egress rules, one place to update.
    # Only a single port: a row whose port range changes but overlaps its old one would
    # move the overlap's addresses from one range's list to another's, both updated in
    # parallel (a moment refused); as CIDR rules the new one is created before the old goes.
    _, lo, hi = pl.flows[0]
    return pl.max_entries == len(pl.entries) >= 2 and not merges and lo == hi


def _merging_sets(sets: list[_DestSet]) -> set[str]:
    """Sets with a CIDR whose port range overlaps or adjoins another set's there."""
    at: dict[tuple[str, IPNetwork], list[tuple[int, int, str]]] = defaultdict(list)
    for s in sets:
        for c in s.contribs:
            at[(c.protocol, c.net)].append((c.lo, c.hi, s.key))
    return {
        key
        for items in at.values()
        for _, _, keys in _merge_sourced(items)
        if len(keys) > 1
        for key in keys
    }
