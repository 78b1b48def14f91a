"""The transition census: every shipped region x single-row change x layout, simulated.

A model of how Pulumi applies an update, independent of ``korefw diff``: creates and
updates run first (in parallel, in dependency order), deletes at the end; a resource
whose logical name (URN) is in both plans is the same resource, updated in place, or
replaced (created before the old one is deleted, unless delete-first). At the worst
moment every update in place has run and no create has. For two plans of one stack it
answers:

* a flow both plans allow that, at that moment, no rule allows (*refused*);
* AWS: an egress rule created while an identical one still exists
  (``InvalidPermission.Duplicate``), a security group over its quota at the peak (a
  prefix-list reference costs ``max_entries``), a change in the number of groups;
* Azure: two NSG rules on one priority, or one created onto a name another still holds.

``tests/test_transitions.py`` asserts on it and ``bench/run.py`` reports its figures.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from korefw.core.errors import PlanError
from korefw.core.plan.aws_data import AwsPlan, PrefixListPlan
from korefw.core.plan.aws_options import MODES, AwsOptions
from korefw.core.plan.aws_plan import plan_aws
from korefw.core.plan.azure_data import AzurePlan
from korefw.core.plan.azure_options import MERGE_MODES, AzureOptions
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.plan.ordering import closure
from korefw.core.read.regions import load_rules, region_codes
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import RuleSet
from korefw.core.rules.ports import PortRange

#: Single-row changes: a row added or removed, its label (component and protocol text)
#: renamed, its first port range moved by one, its first address replaced by the next
#: block of the same size, and the row moved to a section of its own.
KINDS = ("row", "relabel", "port", "address", "section")


def changed(rules: RuleSet, index: int, kind: str) -> RuleSet | None:
    """``rules`` with row ``index`` changed by ``kind`` (``row``: removed); None if n/a."""
    rows = list(rules.rules)
    r = rows[index]
    if kind == "row":
        del rows[index]
    elif kind == "relabel":
        rows[index] = r.with_(component=f"{r.component or r.section} (renamed)", label="renamed")
    elif kind == "section":
        rows[index] = r.with_(section=f"{r.section} (moved)")
    elif kind == "port":
        p = r.ports[0]
        step = 1 if p.hi < 65535 else -1
        rows[index] = r.with_(ports=(PortRange(p.lo + step, p.hi + step), *r.ports[1:]))
    elif kind == "address":
        if not r.cidrs:
            return None
        net = r.cidrs[0]
        after = int(net.broadcast_address) + 1
        if after >= 2**net.max_prefixlen:
            return None
        nxt = ipaddress.ip_network(f"{ipaddress.ip_address(after)}/{net.prefixlen}")
        rows[index] = r.with_(cidrs=(nxt, *r.cidrs[1:]))
    else:
        raise ValueError(kind)
    return replace(rules, rules=tuple(rows))


def row_changes(
    rules: RuleSet, kinds: tuple[str, ...] = KINDS
) -> Iterator[tuple[int, str, RuleSet]]:
    """(row, kind, changed rule set) for every row and kind that applies to it."""
    for index in range(len(rules.rules)):
        for kind in kinds:
            other = changed(rules, index, kind)
            if other is not None:
                yield index, kind, other


# --------------------------------------------------------------------------- AWS model


@dataclass(frozen=True)
class Egress:
    """What AWS holds for one egress rule."""

    group: str
    protocol: str
    ports: tuple[int, int]
    destination: str  # a CIDR, or "pl:<key>"
    family: int
    cost: int


def egress(plan: AwsPlan) -> dict[str, Egress]:
    """URN suffix -> what AWS holds for that egress rule."""
    existing = plan.options.existing_group
    return {
        r.name: Egress(
            "existing" if existing else f"sg-{r.group}",
            r.protocol,
            (r.from_port, r.to_port),
            r.cidr if r.cidr is not None else f"pl:{r.prefix_list}",
            r.family,
            r.cost,
        )
        for r in plan.rules
    }


def aws_refused(old: AwsPlan, new: AwsPlan) -> AllowSet:
    """Flows both plans allow that no rule allows once every update in place has run.

    CIDR rules are named after what they allow, so an old one lives until the deletes
    (kept, or replaced create-first); a reference to a prefix list allows the entries the
    list keeps, or all of them if the list is deleted at the end.
    """
    still = old.allow_set() & new.allow_set()
    lists = {p.key: p for p in new.prefix_lists}
    edges = {p.key: p.after for p in new.prefix_lists}
    listed = {r.name: r.prefix_list for r in new.rules}
    allows = new.rule_allows()
    kept = []
    for r in old.rules:
        if r.cidr is not None:
            kept += AllowSet.of(r.protocol, [(r.from_port, r.to_port)],
                                [ipaddress.ip_network(r.cidr)]).boxes()  # fmt: skip
    for p in old.prefix_lists:
        cidrs = {e.cidr for e in p.entries}
        was = _list_allows(p, cidrs)
        if p.key in lists:
            # Updated in place, once every rule it waits for (and their lists) has run.
            first = closure(p.key, edges, listed.get)
            ready = AllowSet(b for n in first for b in allows[n].boxes())
            cidrs &= {e.cidr for e in lists[p.key].entries}
            kept += (was & ready).boxes()
        kept += _list_allows(p, cidrs).boxes()
    return still - AllowSet(kept)


def _list_allows(p: PrefixListPlan, cidrs: set[str]) -> AllowSet:
    nets = [ipaddress.ip_network(c) for c in sorted(cidrs)]
    return AllowSet(
        b for proto, lo, hi in p.flows for b in AllowSet.of(proto, [(lo, hi)], nets).boxes()
    )


def aws_hazards(old: AwsPlan, new: AwsPlan) -> list[str]:
    """Every way the update from ``old`` to ``new`` fails or opens a gap, as text."""
    out: list[str] = []
    before, after = egress(old), egress(new)
    # A rule whose group changes is replaced: security_group_id cannot change in place.
    created = {n: e for n, e in after.items() if n not in before or before[n].group != e.group}
    identity = {(e.group, e.protocol, e.ports, e.destination): n for n, e in before.items()}
    for name, e in sorted(created.items()):
        twin = identity.get((e.group, e.protocol, e.ports, e.destination))
        if twin is not None and twin != name:
            out.append(f"duplicate egress rule: {name} while {twin} still exists")
    # Peak quota: every old rule lives until the end; created rules join it; a rule
    # updated in place (a prefix list resized) counts at its larger cost.
    peak: dict[tuple[str, int], int] = defaultdict(int)
    for name, e in before.items():
        kept = after.get(name)
        cost = max(e.cost, kept.cost) if kept and kept.group == e.group else e.cost
        peak[(e.group, e.family)] += cost
    for e in created.values():
        peak[(e.group, e.family)] += e.cost
    limit = new.options.rule_limit
    out += [f"quota: {g} IPv{f} holds {n} > {limit}" for (g, f), n in peak.items() if n > limit]
    if not new.options.existing_group and old.groups and not old.options.existing_group:
        gone = {g.index for g in old.groups} - {g.index for g in new.groups}
        added = {g.index for g in new.groups} - {g.index for g in old.groups}
        out += [f"security group sg-{i} deleted" for i in sorted(gone)]
        out += [f"new shard group sg-{i} that no interface uses yet" for i in sorted(added)]
    refused = aws_refused(old, new)
    out += [f"refused: {b}" for b in refused.boxes()]
    return out


# --------------------------------------------------------------------------- Azure model


def azure_refused(old: AzurePlan, new: AzurePlan, *, existing: bool) -> AllowSet:
    """Flows both plans allow that no NSG rule allows at some moment of the update.

    A new NSG's inline rules change in one PUT: never. On an existing NSG each rule is a
    ``SecurityRule`` keyed by priority: kept until the deletes when its priority leaves
    the plan, switched in place when it keeps priority and name (once every rule it waits
    for, ``NsgRule.after``, has run), and deleted first when its name changes on a priority
    it keeps.
    """
    if not existing:
        return AllowSet()
    still = old.allow_set() & new.allow_set()
    at = {r.priority: r for r in new.allow_rules()}
    allows = {r.name: r.allow_set() for r in new.allow_rules()}
    edges = {r.name: r.after for r in new.allow_rules()}
    kept = []
    for r in old.allow_rules():
        successor = at.get(r.priority)
        if successor is None:
            kept += r.allow_set().boxes()
        elif successor.name == r.name:
            first = {r.name} | closure(r.name, edges, lambda _: None)
            ready = AllowSet(b for n in first for b in allows[n].boxes())
            kept += (r.allow_set() & ready).boxes()
    return still - AllowSet(kept)


def azure_conflicts(old: AzurePlan, new: AzurePlan, *, existing: bool) -> dict[str, list[str]]:
    """Priority and name conflicts at any moment of the update, worst case over orders."""
    out: dict[str, list[str]] = {"priority": [], "name": []}
    for plan in (old, new):  # each plan, and so each PUT of a new NSG's inline list
        prios = [r.priority for r in plan.nsg_rules]
        names = [r.name for r in plan.nsg_rules]
        if len(set(prios)) != len(prios):
            out["priority"].append("two rules on one priority within one plan")
        if len(set(names)) != len(names):
            out["name"].append("two rules with one name within one plan")
    if not existing:
        return out  # inline rules: the old list is replaced by the new one in one PUT
    before = {r.resource_name: r for r in old.nsg_rules}
    after = {r.resource_name: r for r in new.nsg_rules}
    for urn, r in sorted(after.items()):
        prev = before.get(urn)
        if prev is not None and prev.name == r.name and prev.priority == r.priority:
            continue  # updated in place: the rule it was
        # Created, or replaced delete-first (its own old version is gone first). Any rule
        # of another URN, old or new, may exist at the same moment.
        for other_urn in set(before) | set(after):
            if other_urn == urn:
                continue
            for o in (before.get(other_urn), after.get(other_urn)):
                if o is None or o is r:
                    continue
                if o.priority == r.priority:
                    out["priority"].append(f"{r.name} on {r.priority} held by {o.name}")
                if o.name == r.name:
                    out["name"].append(f"{r.name} created while {other_urn} holds the name")
    return out


def azure_hazards(old: AzurePlan, new: AzurePlan, *, existing: bool) -> list[str]:
    """Every way the Azure update fails or opens a gap, as text."""
    found = azure_conflicts(old, new, existing=existing)
    out = [f"priority: {c}" for c in found["priority"]] + [f"name: {c}" for c in found["name"]]
    return out + [f"refused: {b}" for b in azure_refused(old, new, existing=existing).boxes()]


# --------------------------------------------------------------------------- the census


def census(codes: list[str] | None = None) -> Counter[tuple[str, ...]]:
    """Counts over every region x row change x layout x placement, both directions.

    Keys: ``("checked", target, kind)`` transitions simulated; ``("refused" | "quota" |
    "duplicate" | "priority" | "name", target, kind)`` transitions with that hazard;
    ``("blind", target, kind)`` transitions that, planned from the new data alone (nothing
    held, nothing ordered), would refuse a flow or conflict on an existing NSG;
    ``("groups", target, kind)`` transitions that change the number of security groups
    (named by ``korefw diff`` as a new or deleted group); ``("unplannable", ...)`` plans
    over an existing group's quota. ``target`` is ``aws-<mode>-<new|existing>`` or
    ``azure-<merge>-<new|existing>``.
    """
    counts: Counter[tuple[str, ...]] = Counter()
    for code in codes or region_codes():
        rules = load_rules(code)
        # The region's own plans, once per layout (each row change is planned against them).
        base_aws: dict[tuple[str, bool], AwsPlan | None] = {}
        for mode in MODES:
            for existing in (False, True):
                try:
                    base_aws[mode, existing] = plan_aws(
                        rules, AwsOptions(mode=mode, existing_group=existing)
                    )
                except PlanError:
                    base_aws[mode, existing] = None
        az_opts = {m: AzureOptions(merge=m, deny_other_outbound=True) for m in MERGE_MODES}
        base_azure = {m: plan_azure(rules, az_opts[m]) for m in MERGE_MODES}
        for _, kind, other in row_changes(rules):
            for mode in MODES:
                for existing in (False, True):
                    target = f"aws-{mode}-{'existing' if existing else 'new'}"
                    opts = AwsOptions(mode=mode, existing_group=existing)
                    try:
                        a = base_aws[mode, existing]
                        if a is None:
                            raise PlanError("the region's own plan failed")
                        b = plan_aws(other, opts)
                    except PlanError:
                        counts["unplannable", target, kind] += 1
                        continue
                    # Each update is planned against what the cloud holds: the old plan.
                    for old, new in ((a, plan_aws(other, opts, a.held())),
                                     (b, plan_aws(rules, opts, b.held()))):  # fmt: skip
                        _count(counts, target, kind, aws_hazards(old, new),
                               len(old.groups) != len(new.groups))  # fmt: skip
                    for old, new in ((a, b), (b, a)):  # blind: from the new data alone
                        if any(h.startswith("refused:") for h in aws_hazards(old, new)):
                            counts["blind", target, kind] += 1
            for merge in MERGE_MODES:
                o = az_opts[merge]
                a, b = base_azure[merge], plan_azure(other, o)
                for existing in (False, True):
                    target = f"azure-{merge}-{'existing' if existing else 'new'}"
                    # An existing NSG's update is planned against the rules it holds.
                    pairs = ((a, b), (b, a))
                    if existing:
                        for old, new in pairs:  # blind: from the new data alone
                            found = azure_hazards(old, new, existing=True)
                            counts["blind", target, kind] += bool(found)
                        pairs = ((a, plan_azure(other, o, a.held())),
                                 (b, plan_azure(rules, o, b.held())))  # fmt: skip
                    for old, new in pairs:
                        _count(counts, target, kind,
                               azure_hazards(old, new, existing=existing), False)  # fmt: skip
    return counts


def _count(
    counts: Counter[tuple[str, ...]], target: str, kind: str, found: list[str], regroup: bool
) -> None:
    counts["checked", target, kind] += 1
    if regroup:
        counts["groups", target, kind] += 1
    for what in sorted({h.split(":", 1)[0].split(" ", 1)[0] for h in found}):
        name = {"new": "groups", "security": "groups"}.get(what, what)
        if name != "groups":
            counts[name, target, kind] += 1


def layouts(rules: RuleSet) -> dict[str, tuple[int, int]]:
    """AWS mode -> (prefix lists, quota units) of a new security group at the defaults."""
    out = {}
    for mode in MODES:
        plan = plan_aws(rules, AwsOptions(mode=mode))
        out[mode] = (len(plan.prefix_lists), sum(r.cost for r in plan.rules))
    return out
