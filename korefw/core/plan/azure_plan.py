"""Plan Azure egress rules as plain data: NSG rules, priorities, Firewall rules, limits.

The planner is pure: it computes names, exact merges, priorities and limit checks and
validates every option before a Pulumi resource exists. :mod:`korefw.components.azure` only
materializes an :class:`AzurePlan`.

Merging is exact. An Azure NSG rule allows the cartesian product of its destination
prefixes and port ranges, so destinations are merged only where that product is
exactly what the vendor rules allow: per protocol (and IP version), the address space
is cut into pieces that each carry the union of the ports the rules allow there, and
the pieces with identical port sets become one NSG rule. ``merge="none"`` keeps one NSG
rule per vendor rule and protocol, ``"section"`` merges within a vendor section,
``"all"`` across the whole rule set, and ``"flow"`` keeps one NSG rule per vendor flow
(protocol and port range) with every address that asks for it: more rules, but on an
existing NSG an address that keeps a flow stays in that flow's rule when rows change.

Names and priorities come from content, never from list position or cosmetic settings.
A rule's ``key`` is its merge identity (scope, protocol, port set) plus a digest of it;
its Azure ``name`` is ``name_prefix`` and the key. The priority is a hash of the key (not
the name, so a new ``name_prefix`` moves nothing) into the band minus its last priority,
which is always kept for the Deny rule, so toggling ``deny_other_outbound`` moves no Allow
rule either. Collisions are resolved deterministically: pins (``priorities``) first,
then every rule whose hashed slot is free, then the rest probe upward; the plan reports
probe-displaced rules in ``displaced``. No stateless rule can promise that adding a rule
never moves another one when hashes collide; a pin keeps a rule where it is.

During an update old and new rules coexist (Pulumi creates and updates first and deletes
last). Inline rules of a new NSG change in one PUT, so they only have to be unique
within the new list. ``SecurityRule`` resources on an existing NSG are keyed by priority
(:attr:`NsgRule.resource_name`), so a new rule can only land on a priority no rule of the
old plan holds: a priority that stays in use is the same resource, updated in place, or
replaced delete-first when its name changes (see :mod:`korefw.components.azure`).

Limits (https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits#azure-resource-manager-virtual-networking-limits):
1,000 rules per NSG, and 4,000 "IP addresses and ranges specified for source or
destination in a security group (the limit applies separately to source and
destination)": a limit per NSG, not per rule, so the plan counts korefw's destination
prefixes (and source prefixes times rules) against the NSG's 4,000.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..errors import PlanError
from ..rules.addresses import IPNetwork, collapse, network_span
from ..rules.allowset import AllowSet
from ..rules.model import Rule, RuleSet
from ..rules.ports import PortRange, merge_ports
from .azure_data import AzurePlan, IpGroupPlan, NsgRule
from .azure_firewall import plan_firewall
from .azure_options import (
    DENY_RULE_SUFFIX,
    MAX_NSG_RULES,
    MAX_PREFIXES_PER_NSG,
    AzureOptions,
    azure_name,
    description,
    ports_text,
    prefix_kind,
)
from .fqdn import UnenforcedFqdnRule
from .ordering import UNKNOWN, HeldRule, HeldState, cycle_warning, waits


@dataclass
class _Group:
    """Destinations of one protocol and IP version that share one port set."""

    identity: tuple[str, ...]
    scope: str
    protocol: str
    version: int
    ports: tuple[PortRange, ...]
    networks: list[IPNetwork] = field(default_factory=list)
    owners: set[tuple[str, str]] = field(default_factory=set)


def plan_azure(
    rules: RuleSet, options: AzureOptions | None = None, held: HeldState = UNKNOWN
) -> AzurePlan:
    """Plan ``rules`` for Azure: NSG rules, priorities, Firewall rules, unenforced FQDNs.

    ``held``: the rules an existing NSG holds now. A rule it holds by name keeps its
    priority there, a new rule takes a priority no held rule has (so nothing is created on
    a priority or name still in use), and a rule that stops allowing what another keeps
    allowing waits for that one (``NsgRule.after``). Raises :class:`PlanError` when the
    plan cannot fit Azure's limits or the options.
    """
    o = options or AzureOptions()
    if not len(rules):
        raise PlanError("the rule set is empty: nothing to allow", where="rules")
    groups = _ip_groups(rules, o.merge)
    allow: list[tuple[str, str, _Group]] = []  # (key, name, group)
    for g in groups:
        parts = (g.scope, g.protocol, g.version, g.ports, g.identity)
        allow.append((azure_name("", *parts), azure_name(o.name_prefix, *parts), g))
        rules.check_emitted(g.networks, f"NSG rule {allow[-1][1]}")
    names = [n for _, n, _ in allow]
    if len(set(names)) != len(names):  # digest collision: never silently merge two rules
        dup = sorted(n for n in set(names) if names.count(n) > 1)
        raise PlanError("two NSG rules got the same name", where="name_prefix", value=dup[0])
    _check_fits(o, allow)
    by_name = {n: k for k, n, _ in allow}
    keys = set(by_name.values())
    if len(keys) != len(allow):  # digest collision: never silently merge two rules
        raise PlanError("two NSG rules got the same key", where="rules", value=len(allow))
    pins = _pins(o, by_name, keys)
    outbound = [r for r in held.nsg_rules if r.direction.lower() == "outbound"]
    a_lo, a_hi = o.allow_band
    kept = set(pins.values())
    # A rule the NSG holds keeps its priority, unless pinned elsewhere or already kept by
    # another rule (a hand-edited state may give several rules one priority).
    for r in sorted(outbound, key=lambda r: (r.priority, r.name)):
        key = by_name.get(r.name)
        free = r.priority not in kept
        if key is not None and key not in pins and a_lo <= r.priority <= a_hi and free:
            pins[key] = r.priority
            kept.add(r.priority)
    taken = {r.priority for r in outbound}
    slots, moved = assign_priorities(keys, o.allow_band, pins, taken)
    name_of = {k: n for k, n, _ in allow}
    displaced = [(name_of[k], h, p) for k, h, p in moved]
    nsg_rules = [
        NsgRule(
            name=name,
            priority=slots[key][0],
            access="Allow",
            protocol=g.protocol.capitalize(),
            destination_address_prefixes=tuple(str(n) for n in g.networks),
            destination_port_ranges=tuple(str(p) for p in g.ports),
            description=description(rules.region, g.owners),
            home=slots[key][1],
            pinned=key in pins,
            key=key,
        )
        for key, name, g in allow
    ]
    cyclic: tuple[str, ...] = ()
    if outbound:
        nsg_rules, cyclic = _ordered(nsg_rules, outbound)
    if o.deny_other_outbound:
        nsg_rules.append(_deny_rule(o))
    nsg_rules.sort(key=lambda r: r.priority)
    allow_rules = [r for r in nsg_rules if r.access == "Allow"]
    ip_groups = (
        tuple(
            IpGroupPlan(r.name, r.destination_address_prefixes, r.name, key=r.key)
            for r in allow_rules
        )
        if o.ip_groups
        else ()
    )
    firewall, unenforced = plan_firewall(rules, o, allow_rules, bool(ip_groups))
    return AzurePlan(
        region=rules.region,
        options=o,
        nsg_rules=tuple(nsg_rules),
        displaced=tuple(sorted(displaced)),
        ip_groups=ip_groups,
        firewall=firewall,
        unenforced_fqdn_rules=unenforced,
        warnings=_warnings(rules, o, allow_rules, unenforced)
        + tuple(cycle_warning(f"NSG rule {name}", "rules") for name in cyclic)
        + _held_conflicts(nsg_rules, outbound),
    )


def _held_conflicts(nsg_rules: list[NsgRule], held: list[HeldRule]) -> tuple[str, ...]:
    """Warnings for planned rules on a priority another rule of the NSG holds (a pinned
    priority, or the Deny rule's): Azure refuses to create two rules on one priority."""
    out = []
    for r in nsg_rules:
        others = sorted({h.name for h in held if h.priority == r.priority and h.name != r.name})
        if others:
            out.append(
                f"NSG rule {r.name} is planned on priority {r.priority}, which the NSG's rule "
                f"{others[0]} holds: Azure will refuse to create it there; move or remove "
                f"{others[0]}, or choose another priority_band"
            )
    return tuple(out)


def _ordered(
    nsg_rules: list[NsgRule], held: list[HeldRule]
) -> tuple[list[NsgRule], tuple[str, ...]]:
    """The Allow rules, each that stops allowing what another allows waiting for it; and
    the rules on a cycle, left unordered."""
    now = {r.name: r.allows for r in held if r.access == "Allow"}
    planned = {r.name: r.allow_set() for r in nsg_rules}
    losers = {n: (now[n], a) for n, a in planned.items() if n in now}
    still = AllowSet(b for a in planned.values() for b in a.boxes())
    edges, cyclic = waits(losers, planned, lambda _: None, still)
    return [replace(r, after=edges.get(r.name, ())) for r in nsg_rules], cyclic


def _check_fits(o: AzureOptions, allow: list[tuple[str, str, _Group]]) -> None:
    """The Allow rules (and the Deny rule) fit one NSG and the priority band."""
    needed = len(allow) + (1 if o.deny_other_outbound else 0)
    if needed > MAX_NSG_RULES:
        raise PlanError(
            f"the plan needs {needed} NSG rules but an NSG holds at most {MAX_NSG_RULES} "
            f"(merge={o.merge!r}; merge='all' or fewer sections need fewer)",
            where="merge",
            value=o.merge,
        )
    _check_prefix_limit(o, [len(g.networks) for _, _, g in allow])
    lo, hi = o.priority_band
    a_lo, a_hi = o.allow_band
    if len(allow) > a_hi - a_lo + 1:
        raise PlanError(
            f"band {lo}-{hi} holds {a_hi - a_lo + 1} priorities for Allow rules ({hi} is "
            f"kept for the Deny rule) but the plan needs {len(allow)} Allow rules",
            where="priority_band",
            value=[lo, hi],
        )


def _pins(o: AzureOptions, by_name: Mapping[str, str], keys: set[str]) -> dict[str, int]:
    """``priorities`` (by rule name or key) as key -> priority."""
    pins: dict[str, int] = {}
    for pin, prio in (o.priorities or {}).items():
        key = by_name.get(pin, pin)
        if key not in keys:
            shown = sorted(by_name)
            raise PlanError(
                f"no NSG rule has this name or key (names: {', '.join(shown[:5])}"
                + (", ..." if len(shown) > 5 else "")
                + ")",
                where="priorities",
                value=pin,
            )
        if key in pins:
            raise PlanError("pinned twice (by name and by key)", where="priorities", value=pin)
        pins[key] = prio
    return pins


def _deny_rule(o: AzureOptions) -> NsgRule:
    """The Deny rule to ``Internet`` at the band's last priority."""
    hi = o.priority_band[1]
    return NsgRule(
        name=o.deny_rule_name,
        priority=hi,
        access="Deny",
        protocol="*",
        destination_address_prefixes=("Internet",),
        destination_port_ranges=("*",),
        description="korefw: deny other Internet egress (Azure allows it by default "
        "through AllowInternetOutBound, 65001)",
        home=hi,
        key=DENY_RULE_SUFFIX,
    )


def _check_prefix_limit(o: AzureOptions, destinations: list[int]) -> None:
    """Azure's 4,000 addresses and ranges per NSG, destinations and sources counted apart."""
    sources = sum(1 for p in o.source_address_prefixes if prefix_kind(p) == "cidr")
    rules = len(destinations) + (1 if o.deny_other_outbound else 0)
    for side, count, where in (
        ("destination", sum(destinations), "rules"),
        ("source", sources * rules, "source_address_prefixes"),
    ):
        if count > MAX_PREFIXES_PER_NSG:
            raise PlanError(
                f"the NSG rules list {count} {side} addresses and ranges; Azure allows "
                f"{MAX_PREFIXES_PER_NSG} per NSG (a limit per network security group, not per "
                "rule, counted apart for sources and destinations)",
                where=where,
                value=count,
            )


def home_priority(name: str, band: tuple[int, int]) -> int:
    """The priority ``name`` hashes to within ``band`` (inclusive)."""
    lo, hi = band
    h = int(hashlib.sha256(name.encode()).hexdigest()[:16], 16)
    return lo + h % (hi - lo + 1)


def assign_priorities(
    names: Iterable[str],
    band: tuple[int, int],
    pins: Mapping[str, int],
    held: Iterable[int] = (),
) -> tuple[dict[str, tuple[int, int]], list[tuple[str, int, int]]]:
    """Unique priorities in ``band``: ``{name: (priority, home)}`` and the displaced ones.

    Pins first; then each rule whose home slot is free takes it (the smallest name wins
    a shared slot); the rest probe upward from home, wrapping within the band. ``held``:
    priorities other rules hold during the update, never given to an unpinned rule. The
    result depends on the set of names (and ``held``) only, never on their order.
    """
    lo, hi = band
    taken: set[int] = {p for p in held if lo <= p <= hi} - set(pins.values())
    size = hi - lo + 1 - len(taken)
    todo = sorted(set(names))
    if len(todo) > size:
        raise PlanError(
            f"{len(todo)} NSG rules do not fit band {lo}-{hi}"
            + (f" beside the {len(taken)} priorities other rules hold" if taken else ""),
            where="priority_band",
        )
    homes = {n: home_priority(n, band) for n in todo}
    out: dict[str, tuple[int, int]] = {}
    for n in todo:
        if n in pins:
            out[n] = (pins[n], homes[n])
            taken.add(pins[n])
    waiting: list[str] = []
    for n in todo:
        if n in out:
            continue
        if homes[n] in taken:
            waiting.append(n)
        else:
            out[n] = (homes[n], homes[n])
            taken.add(homes[n])
    displaced: list[tuple[str, int, int]] = []
    for n in waiting:
        p = homes[n]
        while p in taken:
            p = lo if p == hi else p + 1
        taken.add(p)
        out[n] = (p, homes[n])
        displaced.append((n, homes[n], p))
    return out, displaced


def _ip_groups(rules: RuleSet, merge: str) -> list[_Group]:
    """Exact NSG rule groups, sorted by identity."""
    if merge == "none":
        seen: dict[tuple[str, ...], _Group] = {}
        for r in rules.ip_rules():
            for proto in r.protocols:
                for version in sorted({n.version for n in r.cidrs}):
                    ident = ("none", r.key, str(proto), str(version))
                    g = seen.get(ident)
                    if g is None:
                        nets = [n for n in r.cidrs if n.version == version]
                        g = seen[ident] = _Group(
                            ident, r.section, str(proto), version, r.ports, nets
                        )
                    g.owners.add((r.section, r.component))
        return sorted(seen.values(), key=lambda g: g.identity)
    if merge == "flow":
        return _flow_groups(rules)
    # (scope, protocol, version) -> [(ports, network, rule)]
    buckets: dict[tuple[str, str, int], list[tuple[tuple[PortRange, ...], IPNetwork, Rule]]] = (
        defaultdict(list)
    )
    for r in rules.ip_rules():
        scope = r.section if merge == "section" else ""
        for proto in r.protocols:
            for net in r.cidrs:
                buckets[(scope, str(proto), net.version)].append((r.ports, net, r))
    out: list[_Group] = []
    for (scope, proto, version), items in buckets.items():
        for ports, nets, owners in _regroup(items, version):
            ident = (merge, scope, proto, str(version), ports_text(ports))
            out.append(_Group(ident, scope, proto, version, ports, nets, owners))
    return sorted(out, key=lambda g: g.identity)


def _flow_groups(rules: RuleSet) -> list[_Group]:
    """One NSG rule per vendor flow (protocol, IP version, port range) with every address
    that asks for it: exact, and an address's rules depend on its own rows' flows only, so
    on an existing NSG a row change moves no address between rules."""
    seen: dict[tuple[str, ...], _Group] = {}
    for r in rules.ip_rules():
        for proto in r.protocols:
            for p in r.ports:
                for net in r.cidrs:
                    ident = ("flow", "", str(proto), str(net.version), ports_text((p,)))
                    g = seen.get(ident)
                    if g is None:
                        g = seen[ident] = _Group(ident, "", str(proto), net.version, (p,))
                    g.networks.append(net)
                    g.owners.add((r.section, r.component))
    for g in seen.values():
        g.networks = list(collapse(g.networks))
    return sorted(seen.values(), key=lambda g: g.identity)


def _regroup(
    items: list[tuple[tuple[PortRange, ...], IPNetwork, Rule]], version: int
) -> list[tuple[tuple[PortRange, ...], list[IPNetwork], set[tuple[str, str]]]]:
    """Cut the address space into pieces carrying the union of their ports; group by ports.

    A sweep over address boundaries: at each piece the live rules' port sets are
    unioned. The product of each group's ports and addresses, summed over the groups,
    is exactly the product the items allow.
    """
    events: dict[int, list[tuple[int, tuple[PortRange, ...]]]] = defaultdict(list)
    for ports, net, _ in items:
        lo, hi = network_span(net)
        events[lo].append((1, ports))
        events[hi + 1].append((-1, ports))
    live: dict[tuple[PortRange, ...], int] = {}
    unions: dict[frozenset[tuple[PortRange, ...]], tuple[PortRange, ...]] = {}
    segments: list[tuple[int, int, tuple[PortRange, ...]]] = []
    points = sorted(events)
    for i, p in enumerate(points):
        for delta, ports in events[p]:
            count = live.get(ports, 0) + delta
            if count:
                live[ports] = count
            else:
                del live[ports]
        if not live or i + 1 == len(points):
            continue
        key = frozenset(live)
        union = unions.get(key)
        if union is None:
            union = unions[key] = merge_ports(pr for ps in key for pr in ps)
        end = points[i + 1] - 1
        if segments and segments[-1][2] == union and segments[-1][1] + 1 == p:
            segments[-1] = (segments[-1][0], end, union)
        else:
            segments.append((p, end, union))
    starts = [s for s, _, _ in segments]
    owners: dict[tuple[PortRange, ...], set[tuple[str, str]]] = defaultdict(set)
    for _, net, rule in items:
        lo, hi = network_span(net)
        k = bisect.bisect_right(starts, lo) - 1
        while k < len(segments) and segments[k][0] <= hi:
            owners[segments[k][2]].add((rule.section, rule.component))
            k += 1
    spans: dict[tuple[PortRange, ...], list[tuple[int, int]]] = defaultdict(list)
    for s, e, union in segments:
        spans[union].append((s, e))
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    out = []
    for union, ivs in spans.items():
        nets: list[IPNetwork] = []
        for s, e in ivs:
            nets.extend(ipaddress.summarize_address_range(make(s), make(e)))  # type: ignore[arg-type]
        out.append((union, nets, owners[union]))
    return out


def _warnings(
    rules: RuleSet,
    o: AzureOptions,
    allow_rules: list[NsgRule],
    unenforced: tuple[UnenforcedFqdnRule, ...],
) -> tuple[str, ...]:
    out: list[str] = []
    if unenforced:
        shown = "; ".join(u.describe() for u in unenforced[:5])
        more = f"; +{len(unenforced) - 5} more" if len(unenforced) > 5 else ""
        out.append(
            f"{len(unenforced)} FQDN egress rule(s) are not enforced (NSG rules match "
            f"addresses only; see unenforced_fqdn_rules): {shown}{more}"
        )
    if o.deny_other_outbound and rules.fqdn_rules():
        out.append(
            "deny_other_outbound: the Deny rule also blocks FQDN egress through this NSG "
            "(an NSG sees the destination address, not the name); allow that traffic by "
            "address at a lower priority number"
        )
    return tuple(out)
