"""Read the resources after an update back into effective egress rules.

It reads what the cloud would be told, not korefw's intent: AWS standalone egress
rules (``aws.vpc.SecurityGroupEgressRule`` and the older ``aws.ec2.SecurityGroupRule``),
inline ``egress`` blocks, managed prefix lists and their entries; Azure inline
``securityRules`` and ``SecurityRule`` resources, in priority order with Deny rules.
References are resolved by id (an NSG by resource group and name), or through the engine's
links (``propertyDependencies``, else ``dependencies``) when the document does not show the
id; a reference that fits two resources is a problem (exit 2), never a guess. The
resources come from :mod:`korefw.core.check.pulumidoc` (a preview applied to the current
state, or a stack export).

A value that decides the allow set (protocol, port, address, access, priority) that is
secret, unknown or malformed raises :class:`DocumentError` naming the resource and field:
the question cannot be decided. Read resources (``external``) count as they were read:
their ``outputs``; a prefix list read for the first time, whose preview shows none yet, is
a problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..rules.allowset import AllowSet
from .nsgfields import azure_position, azure_rule, closing_gaps
from .pulumidoc import (
    SECRET,
    UNKNOWN_VALUES,
    DocumentError,
    PulumiDocument,
    known_id,
    parse_document,
    state_after,
)
from .rulefields import (
    AWS_EGRESS,
    AWS_PREFIX_LIST,
    AWS_PREFIX_LIST_ENTRY,
    AWS_SG,
    AWS_SG_RULE,
    AZ_NSG,
    AZ_RULE,
    PREFIX_LIST,
    SECURITY_GROUP,
    EffectiveRule,
    Fields,
    ResourceView,
    aws_rule,
    prefix_list_cidrs,
)

__all__ = ["UNKNOWN_VALUES", "DocumentError", "EffectiveRule", "PlanReading", "read_plan",
           "read_states"]  # fmt: skip


@dataclass
class PlanReading:
    """Effective egress rules of a plan, and what could not be read exactly."""

    rules: list[EffectiveRule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cannot be decided (exit 2)
    rejected: list[str] = field(default_factory=list)  # the cloud would reject (exit 1)
    notes: list[str] = field(default_factory=list)
    #: AWS egress rules on no group, or on a group outside a plan that has its own (exit 1).
    misplaced: list[str] = field(default_factory=list)
    #: NSGs where nothing denies other outbound traffic (Azure's AllowInternetOutBound).
    open_nsgs: list[str] = field(default_factory=list)

    def clouds(self) -> list[str]:
        """Clouds with at least one security group or NSG in the plan."""
        return sorted({r.cloud for r in self.rules} | set(self._groups.values()))

    _groups: dict[str, str] = field(default_factory=dict)  # group -> cloud
    # (NSG, direction, priority, rule name) of every NSG rule, inbound too
    _priorities: list[tuple[str, str, int, str]] = field(default_factory=list)
    #: Readings of one state through different views (inputs, outputs): allows their union.
    _views: list[PlanReading] = field(default_factory=list)
    #: Resources read during the update, whose properties a preview does not show yet.
    _unread: set[str] = field(default_factory=set)
    #: Ids that more than one resource of the document holds.
    _ambiguous: set[str] = field(default_factory=set)

    def groups(self, cloud: str | None = None) -> list[str]:
        """Security group / NSG identities, sorted."""
        return sorted(g for g, c in self._groups.items() if cloud in (None, c))

    def allow_set(self, cloud: str, group: str | None = None) -> AllowSet:
        """What ``cloud`` (or one of its groups) allows: Allow rules minus earlier Denies."""
        if self._views:
            union = AllowSet()
            for view in self._views:
                union = union | view.allow_set(cloud, group)
            return union
        rules = [r for r in self.rules if r.cloud == cloud and group in (None, r.group)]
        if cloud == "aws":
            return AllowSet(b for r in rules if r.access == "Allow" for b in r.boxes())
        out = AllowSet()
        by_group: dict[str, list[EffectiveRule]] = defaultdict(list)
        for r in rules:
            by_group[r.group].append(r)
        for grp in by_group.values():
            denied = AllowSet()
            for r in sorted(grp, key=lambda r: r.priority):
                if r.access == "Deny":
                    denied = denied | AllowSet(r.denied())  # a source-limited Deny: none
                else:
                    out = out | (AllowSet(r.boxes()) - denied)
        return out

    def wider_than_l4(self) -> list[EffectiveRule]:
        """Allow rules whose protocol is neither TCP nor UDP."""
        return [r for r in self.rules if r.access == "Allow" and r.l4 is None]


def read_plan(doc: Mapping[str, Any] | PulumiDocument, base: Any = None) -> PlanReading:
    """Read a preview (``pulumi preview --json``, streamed, or ``korefw plan --json``) or a
    stack export; with ``base`` (a stack export), the preview is applied on top of it."""
    parsed = parse_document(doc)
    states = state_after(parsed, None if base is None else parse_document(base))
    if parsed.kind != "export" or base is not None:
        return read_states(states)
    # A deployed state: ``inputs`` are what the program asked for, ``outputs`` what the
    # cloud reported at the last update or `pulumi refresh`. Either may be what is live,
    # so the cloud allows what either view allows (a rule widened outside Pulumi shows
    # only in the outputs).
    return _union(read_states(states), read_states(_output_view(states)))


#: Output fields that show a resource's rule properties as the cloud reported them.
_RULE_OUTPUTS = {
    AWS_EGRESS: ("ipProtocol", "cidrIpv4", "cidrIpv6", "fromPort", "toPort", "prefixListId"),
    AWS_SG_RULE: ("protocol", "cidrBlocks", "ipv6CidrBlocks", "fromPort", "toPort"),
    AWS_SG: ("egress",),
    AWS_PREFIX_LIST: ("entries",),
    AWS_PREFIX_LIST_ENTRY: ("cidr",),
    AZ_NSG: ("securityRules",),
    AZ_RULE: ("access", "direction", "protocol", "priority", "destinationAddressPrefix",
              "destinationAddressPrefixes", "destinationPortRange", "destinationPortRanges"),
}  # fmt: skip


def _output_view(states: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The states as the cloud reported them: outputs over inputs where outputs carry rules."""
    out: list[Mapping[str, Any]] = []
    standalone = {  # NSG rules kept as their own resources: an NSG's outputs list them too
        str(v) for s in states if s.get("type") == AZ_RULE
        for v in ((s.get("outputs") or {}).get("name"), (s.get("inputs") or {}).get("name"),
                  (s.get("inputs") or {}).get("securityRuleName"), s["urn"].rsplit("::", 1)[-1])
        if v
    }  # fmt: skip
    for s in states:
        outputs = s.get("outputs") or {}
        if s.get("external") or not any(k in outputs for k in _RULE_OUTPUTS.get(s["type"], ())):
            out.append(s)
            continue
        props = {**(s.get("inputs") or {}), **outputs}
        if s["type"] == AZ_NSG and isinstance(props.get("securityRules"), list):
            props["securityRules"] = [
                r for r in props["securityRules"]
                if not (isinstance(r, Mapping) and r.get("name") in standalone)
            ]  # fmt: skip
        out.append({**s, "inputs": props})
    return out


def _union(a: PlanReading, b: PlanReading) -> PlanReading:
    """A reading that allows what either ``a`` or ``b`` allows, with both's findings."""

    def both(x: list[Any], y: list[Any]) -> list[Any]:
        return list(dict.fromkeys([*x, *y]))

    out = PlanReading(both(a.rules, b.rules), both(a.problems, b.problems),
                      both(a.rejected, b.rejected), both(a.notes, b.notes),
                      both(a.open_nsgs, b.open_nsgs))  # fmt: skip
    out.misplaced = both(a.misplaced, b.misplaced)
    out._groups = {**b._groups, **a._groups}
    out._views = [a, b]
    return out


def _props(s: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a resource is: its outputs when it was read (external), else its inputs."""
    if s.get("external") and s.get("outputs"):
        return s["outputs"]
    return s.get("inputs") or {}


#: The type a reference input points at.
_REF_TYPES = {"securityGroupId": AWS_SG, "prefixListId": AWS_PREFIX_LIST,
              "networkSecurityGroupName": AZ_NSG}  # fmt: skip


class _Ambiguous(Exception):
    """A reference that fits more than one resource of the document (exit 2, never a guess)."""


def _unread(s: Mapping[str, Any]) -> bool:
    """A resource read during the update (``read``), whose preview shows no outputs yet.

    ``step_generator.go`` builds a read's new state with ``Outputs: make(PropertyMap)``;
    ``ReadStep.Apply`` fills them only when it runs, after the preview printed the step.
    """
    return bool(s.get("external")) and not s.get("outputs")


def read_states(states: Iterable[Mapping[str, Any]]) -> PlanReading:
    """Effective egress rules of a list of resource states (as after an update)."""
    states = [s for s in states if s.get("type")]
    reading = PlanReading()
    by_id: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_urn: dict[str, Mapping[str, Any]] = {}
    nsg_names: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for s in states:
        if known_id(s):
            by_id[s["id"]].append(s)
        if s["urn"] not in by_urn or not s.get("delete"):  # a replaced copy pending delete
            by_urn[s["urn"]] = s  # shares its URN with the live one
        if s["type"] == AZ_NSG:  # Azure names are case-insensitive
            p, o = _props(s), s.get("outputs") or {}
            names = {n.lower() for n in (p.get("networkSecurityGroupName"), p.get("name"),
                                         o.get("name"))
                     if isinstance(n, str) and n and n not in UNKNOWN_VALUES}  # fmt: skip
            for name in names:
                nsg_names[(str(p.get("resourceGroupName", "")).lower(), name)].append(s)
    named = {x["urn"] for found in nsg_names.values() for x in found}
    unread = {s["urn"] for s in states if _unread(s)}
    reading._unread = unread
    reading._ambiguous = {i for i, found in by_id.items() if len(found) > 1}
    lists = prefix_list_cidrs(
        ResourceView(s["type"], s["urn"], _props(s), s.get("propertyDependencies", {}),
                     s["id"] if known_id(s) else None)
        for s in states if s["urn"] not in unread
    )  # fmt: skip
    existing: dict[str, str] = {}  # literal group id or name -> cloud
    managed_sgs = {s["urn"] for s in states if s["type"] == AWS_SG}

    def one(found: list[Mapping[str, Any]], what: str, s: Mapping[str, Any]) -> Mapping[str, Any]:
        if len({x["urn"] for x in found}) > 1:
            urns = ", ".join(sorted({x["urn"] for x in found}))
            raise _Ambiguous(f"{s['urn']}: {what} fits more than one resource ({urns}), so the "
                             "rule's target cannot be decided")  # fmt: skip
        return found[0]

    def linked(s: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        """The resources of the referenced type the engine links ``key`` to.

        ``propertyDependencies`` (the resources the input's value came from), else, for a
        state that records none at all (an SDK that does not send them), ``dependencies``.
        """
        deps = s.get("propertyDependencies") or {}
        urns = deps.get(key, []) if deps else (s.get("dependencies") or [])
        return [by_urn[u] for u in dict.fromkeys(urns)
                if u in by_urn and by_urn[u]["type"] == _REF_TYPES.get(key)]  # fmt: skip

    def by_name(s: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
        rg = str(_props(s).get("resourceGroupName", "")).lower()
        return nsg_names.get((rg, name.lower()), [])

    def ref(s: Mapping[str, Any], key: str) -> Mapping[str, Any] | str | None:
        """The resource a reference input points at, or the literal value (existing).

        A literal value is the id of a resource in the document (for a ``same`` or
        ``update`` step, the old state's id), an NSG's name, or, when the engine links the
        input to one resource whose id the document does not show, that resource.
        """
        value = _props(s).get(key)
        if value is SECRET:
            raise DocumentError("secret, so the group cannot be identified",
                                where=f"{s['urn']}: {key}")  # fmt: skip
        if not isinstance(value, str) or not value:
            return None  # no reference at all, whatever the rule depends on
        links = linked(s, key)
        if value not in UNKNOWN_VALUES:
            azure = key == "networkSecurityGroupName"
            found = by_name(s, value) if azure else [
                r for r in by_id.get(value, []) if r["type"] == _REF_TYPES[key]
            ]  # a resource of another type holding the id is not the group or list
            if found:
                return one(found, f"{key} {value!r}", s)
            if len(links) == 1 and not (links[0]["urn"] in named if azure else known_id(links[0])):
                return links[0]
            return value
        return one(links, f"{key} (linked by the engine)", s) if links else None

    for s in states:
        try:
            t, f = s["type"], Fields(s["urn"], _props(s))
            if t == AWS_SG:
                reading._groups[s["urn"]] = "aws"
                for blk in f.each("egress"):
                    reading.rules.append(_aws_inline(s, blk, lists, reading))
            elif t in (AWS_EGRESS, AWS_SG_RULE):
                if t == AWS_SG_RULE and f.text("type") != "egress":
                    continue
                group = ref(s, "securityGroupId")
                if group is None:
                    _no_group(s, reading)
                    continue
                gid = group["urn"] if isinstance(group, Mapping) else group
                if not isinstance(group, Mapping):
                    existing[gid] = "aws"
                    if managed_sgs:
                        reading.misplaced.append(
                            f"{s['urn']}: on security group {gid}, which is not in the plan "
                            f"(the plan's: {', '.join(sorted(managed_sgs))}); it does not "
                            "apply to the plan's group"
                        )
                        continue
                reading._groups.setdefault(gid, "aws")
                reading.rules.extend(_aws_rule(s, f, gid, lists, ref, reading))
            elif t == AZ_NSG:
                reading._groups[s["urn"]] = "azure"
                for sr in f.each("securityRules"):
                    rule = _azure_rule(s["urn"], s["urn"], sr, reading)
                    if rule is not None:
                        reading.rules.append(rule)
            elif t == AZ_RULE:
                nsg = ref(s, "networkSecurityGroupName")
                if isinstance(nsg, Mapping):
                    gid = nsg["urn"]
                else:
                    rg = f.text("resourceGroupName", "?", decides=False)
                    gid = f"{rg}/{nsg or '<unknown NSG>'}"
                    existing[gid] = "azure"
                reading._groups.setdefault(gid, "azure")
                rule = _azure_rule(gid, s["urn"], f, reading)
                if rule is not None:
                    reading.rules.append(rule)
        except _Ambiguous as exc:
            reading.problems.append(str(exc))
    for gid, cloud in sorted(existing.items()):
        kind = "security group" if cloud == "aws" else "NSG"
        reading.notes.append(
            f"existing {kind} {gid}: rules korefw does not manage are unseen unless the state "
            "export includes them"
        )
    _check_azure(reading)
    return reading


def _no_group(s: Mapping[str, Any], reading: PlanReading) -> None:
    """An egress rule whose security group cannot be placed: unknown (exit 2) or none (1)."""
    value = _props(s).get("securityGroupId")
    if isinstance(value, str) and value in UNKNOWN_VALUES:
        reading.problems.append(f"{s['urn']}: securityGroupId is unknown until the update "
                                "runs, so the rule's group cannot be identified")  # fmt: skip
    else:
        reading.misplaced.append(f"{s['urn']}: securityGroupId {value!r} is not a security "
                                 "group id, so the rule is on no group")  # fmt: skip


def _check_azure(reading: PlanReading) -> None:
    """Duplicate priorities, priorities out of range, and NSGs open to the Internet."""
    for gid in reading.groups("azure"):
        gaps = closing_gaps(r for r in reading.rules if r.cloud == "azure" and r.group == gid)
        if gaps is not None:
            reading.open_nsgs.append(gid)
            reading.notes += [f"{gid}: {gap}" for gap in gaps]
    seen: dict[tuple[str, str, int], str] = {}
    names: set[tuple[str, str]] = set()
    for p in sorted(reading._priorities, key=lambda p: (p[0], p[1], p[2], p[3])):
        gid, direction, priority, name = p
        if (gid, name) in names:  # a rule's name is its identity within its NSG
            reading.rejected.append(f"two NSG rules named {name!r} in {gid}")
        names.add((gid, name))
        if not 100 <= priority <= 4096:
            reading.rejected.append(
                f"NSG rule {name!r} in {gid}: priority {priority} outside 100-4096"
            )
        key = (gid, direction, priority)
        if key in seen:
            reading.rejected.append(
                f"NSG rules {seen[key]!r} and {name!r} in {gid} share priority {priority} "
                f"and direction {direction}"
            )
        else:
            seen[key] = name


def _prefix_list(urn: str, key: object, value: object, lists: Mapping[str, list[str]],
                 reading: PlanReading) -> list[str]:  # fmt: skip
    """The CIDRs of the prefix list ``key`` (a URN or id); [] and a problem when undecidable."""
    if key in reading._ambiguous:
        reading.problems.append(f"{urn}: prefix list id {key} is held by more than one "
                                "resource, so which entries apply cannot be decided")  # fmt: skip
    elif key in reading._unread:
        reading.problems.append(f"{urn}: prefix list {key} is read during the update, so the "
                                "preview does not show its entries; verify the stack export "
                                "after the update")  # fmt: skip
    elif isinstance(key, str) and key in lists:
        return lists[key]
    elif isinstance(key, str) and key.startswith("pl-"):
        reading.problems.append(
            f"{urn}: prefix list {key} is not in the plan; its entries cannot be checked"
        )
    else:
        reading.problems.append(f"{urn}: unresolved prefix list reference {value!r}")
    return []


def _aws_rule(s, f, gid, lists, ref, reading) -> list[EffectiveRule]:  # type: ignore[no-untyped-def]
    rule = aws_rule(f, gid)
    dests = [d for d in rule.destinations if not d.startswith(PREFIX_LIST)]
    single = bool(f.get("prefixListId", decides=False) or _dep(s, "prefixListId"))
    values = [f.get("prefixListId", decides=False)] if single else f.strings("prefixListIds")
    for value in values:
        target = ref(s, "prefixListId") if single else value
        key = target["urn"] if isinstance(target, Mapping) else target
        dests += _prefix_list(s["urn"], key, value, lists, reading)
    _to_groups(rule, reading)
    return [EffectiveRule("aws", gid, s["urn"], rule.protocol, rule.ports, tuple(dests),
                          rule.description)]  # fmt: skip


def _to_groups(rule: EffectiveRule, reading: PlanReading) -> None:
    """Say which egress goes to a security group: counted as every address (extra)."""
    for dest in rule.destinations:
        if dest.startswith(SECURITY_GROUP):
            reading.notes.append(
                f"{rule.urn}: egress to security group {dest[len(SECURITY_GROUP):]} allows "
                "whatever addresses its members hold, so it counts as every address"
            )


def _dep(s: Mapping[str, Any], key: str) -> bool:
    return bool(s.get("propertyDependencies", {}).get(key))


def _aws_inline(s, f, lists, reading) -> EffectiveRule:  # type: ignore[no-untyped-def]
    rule = aws_rule(f, s["urn"])
    _to_groups(rule, reading)
    dests = [d for d in rule.destinations if not d.startswith(PREFIX_LIST)]
    for pl in f.strings("prefixListIds"):
        dests += _prefix_list(s["urn"], pl, pl, lists, reading)
    return EffectiveRule("aws", s["urn"], s["urn"], rule.protocol, rule.ports, tuple(dests),
                         rule.description)  # fmt: skip


def _azure_rule(gid: str, urn: str, f: Fields, reading: PlanReading) -> EffectiveRule | None:
    direction, priority, name = azure_position(f, urn.rsplit("::", 1)[-1])
    reading._priorities.append((gid, direction, priority, name))
    if direction != "Outbound":
        return None
    rule = azure_rule(f, gid, priority, name)
    if f.get("destinationApplicationSecurityGroups", decides=False):
        reading.problems.append(f"{urn}: destination application security groups cannot be checked")
    return rule
