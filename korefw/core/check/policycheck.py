"""Policy checks: is a cloud egress rule within Kore's published rules, and if not, why.

The CrossGuard policy pack in ``policy/`` is a thin shell over this module: it hands each
resource's type, URN and properties here and reports what comes back.

**korefw-managed.** A resource is korefw-managed when a korefw component (a type token
``korefw:…``) is among its ancestors. Pulumi writes the ancestors' types into the URN
(``urn:pulumi:STACK::PROJECT::korefw:aws:EgressSecurityGroup$aws:vpc/…::NAME``), whatever
language registered the component, and tags or descriptions can be edited by hand, so the
URN is the evidence. The inline rules of a korefw-managed security group or NSG are
korefw-managed too.

**Scopes.** ``korefw-managed`` checks korefw-managed rules only. ``kore-addresses`` checks,
besides, every other egress rule whose destination overlaps Kore's published addresses
(catch-all destinations such as ``0.0.0.0/0`` or ``Internet`` concern all egress, not Kore's,
and are left to other policies).

A rule is *within* the vendor's rules when every flow it allows (protocol × port × address)
is one the vendor's rules for the region allow: :class:`~korefw.core.rules.allowset.AllowSet`
arithmetic, the same as ``korefw verify``'s. Deny rules never widen anything.

**Never a crash.** A value the reader refuses (a port ``'443,8443'`` or ``'nan'``, a
netmask CIDR, ``'Allow '``) is a finding naming the field, for korefw-managed resources and,
in scope ``kore-addresses``, for every egress rule (unread, it cannot be shown to stay off
Kore's addresses). An egress rule to a security group allows whatever addresses that
group's members hold: a finding when korefw manages it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..rules.allowset import AllowSet, Box, Interval
from .nsgfields import azure_position, azure_rule, closing_gaps
from .rulefields import (
    AWS_EGRESS,
    AWS_PREFIX_LIST,
    AWS_SG,
    AWS_SG_RULE,
    AZ_NSG,
    AZ_RULE,
    PREFIX_LIST,
    SECURITY_GROUP,
    DocumentError,
    EffectiveRule,
    Fields,
    ResourceView,
    aws_rule,
    prefix_list_cidrs,
)
from .rulefields import PREVIEW_UNKNOWNS as UNKNOWN

Scope = Literal["korefw-managed", "kore-addresses"]
SCOPES: tuple[Scope, ...] = ("korefw-managed", "kore-addresses")

#: Destinations that mean "everywhere" (AWS CIDRs, Azure prefixes and service tags).
CATCH_ALL = frozenset({"*", "internet", "any", "0.0.0.0/0", "::/0"})
_ALL_PORTS: Interval = (0, 65535)
_WIDE_PROTOCOLS = {"-1", "all", "*", "any"}


@dataclass(frozen=True)
class Finding:
    """One reason a resource breaks a policy."""

    urn: str
    message: str


def managed_by_korefw(urn: str) -> bool:
    """True when a korefw component is among the ancestors named in the URN's type chain."""
    parts = urn.split("::")
    if len(parts) < 4:
        return False
    return any(t.startswith("korefw:") for t in parts[2].split("$")[:-1])


def resource_rules(type_: str, urn: str, props: Mapping[str, Any]) -> list[EffectiveRule]:
    """The egress rules one resource declares (outbound NSG rules on Azure); [] for others.

    ``props`` are the resource's Pulumi properties (camelCase). Prefix-list destinations
    appear as ``prefix-list:ID``; values a preview does not know yet stay as Pulumi's
    unknown sentinels. Raises :class:`DocumentError` for a value the reader refuses.
    """
    f = Fields(urn, props, strict=False)
    if type_ == AWS_SG:
        return [aws_rule(blk, urn) for blk in f.each("egress")]
    if type_ == AWS_EGRESS or (type_ == AWS_SG_RULE and _egress_type(f)):
        group = props.get("securityGroupId")
        return [aws_rule(f, group if isinstance(group, str) else "")]
    if type_ == AZ_NSG:
        return [r for sr in f.each("securityRules") if (r := _azure(urn, sr)) is not None]
    if type_ == AZ_RULE:
        group = f"{props.get('resourceGroupName', '')}/{props.get('networkSecurityGroupName', '')}"
        return [r for r in [_azure(group, f)] if r is not None]
    return []


def read_rules(type_: str, urn: str, props: Mapping[str, Any]) -> tuple[list[EffectiveRule], str]:
    """:func:`resource_rules`, never raising: the rules, or [] and why they cannot be read."""
    try:
        return resource_rules(type_, urn, props), ""
    except DocumentError as exc:
        return [], f"cannot be checked: {str(exc).removeprefix(urn + ': ')}"


def _egress_type(f: Fields) -> bool:
    """A ``SecurityGroupRule``'s type is egress (or not known yet); anything else but
    ``ingress`` is refused."""
    if f.unknown("type"):
        return True
    kind = f.text("type")
    if kind not in ("egress", "ingress"):
        raise f.bad("type", "expected ingress or egress", kind)
    return kind == "egress"


def _azure(group: str, f: Fields) -> EffectiveRule | None:
    """An outbound NSG rule; None for an inbound one."""
    direction, priority, name = azure_position(f, f.text("securityRuleName", decides=False))
    return azure_rule(f, group, priority, name) if direction == "Outbound" else None


def rule_findings(rule: EffectiveRule, allowed: AllowSet, region: str) -> list[str]:
    """Why an Allow rule is not within ``allowed`` (the vendor's rules); [] when it is.

    Prefix-list and unknown destinations cannot be expanded here: for them only the
    protocol and the ports are checked (:func:`stack_findings` expands prefix lists).
    """
    if rule.access != "Allow":
        return []
    if rule.l4 is None:
        what = "all protocols" if str(rule.protocol).lower() in _WIDE_PROTOCOLS else "not TCP/UDP"
        return [
            f"protocol {rule.protocol!r} ({what}) is wider than Kore's published {region} "
            "rules, which name only tcp and udp"
        ]
    out = [
        f"egress to security group {d[len(SECURITY_GROUP):]} allows whatever addresses its "
        f"members hold, not only Kore's published {region} addresses"
        for d in rule.destinations
        if d.startswith(SECURITY_GROUP)
    ]
    literal = tuple(d for d in rule.destinations if not _deferred(d) and not _group(d))
    if len(literal) < len(rule.destinations):
        extra_ports = _port_view(AllowSet(_port_boxes(rule))) - _port_view(allowed)
        if extra_ports:
            ports = ", ".join(_ports_text(b.ports) for b in extra_ports.boxes())
            out.append(
                f"{rule.l4} port(s) {ports} are not in any of Kore's published {region} "
                f"{rule.l4} rules"
            )
    if literal:
        extra = AllowSet(replace(rule, destinations=literal).boxes()) - allowed
        if extra:
            out.append(f"wider than Kore's published {region} rules: {_flows(extra)}")
    return out


def touches_kore(rule: EffectiveRule, allowed: AllowSet) -> bool:
    """True when a (non catch-all) destination of the rule overlaps one of Kore's addresses."""
    dests = [
        d
        for d in rule.destinations
        if not _deferred(d) and not _group(d) and str(d).lower() not in CATCH_ALL
    ]
    if not dests:
        return False
    mine = _address_view(AllowSet(replace(rule, destinations=tuple(dests)).boxes()))
    return mine != mine - _address_view(allowed)


def in_scope(rule: EffectiveRule, managed: bool, scope: Scope, allowed: AllowSet) -> bool:
    """Whether the policy checks this rule under ``scope``."""
    return managed or (scope == "kore-addresses" and touches_kore(rule, allowed))


def resource_findings(
    type_: str, urn: str, props: Mapping[str, Any], allowed: AllowSet, region: str, scope: Scope
) -> list[Finding]:
    """Every in-scope egress rule of one resource that is not within the vendor's rules."""
    managed = managed_by_korefw(urn)
    rules, unread = read_rules(type_, urn, props)
    if unread:
        return [Finding(urn, unread)] if managed or scope == "kore-addresses" else []
    out: list[Finding] = []
    for rule in rules:
        if in_scope(rule, managed, scope, allowed):
            label = f"NSG rule {rule.name!r}: " if rule.name and type_ == AZ_NSG else ""
            out += [Finding(urn, label + m) for m in rule_findings(rule, allowed, region)]
    return out


@dataclass(frozen=True)
class StackResource:
    """A resource as a stack policy sees it."""

    type: str
    urn: str
    props: Mapping[str, Any]
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


def stack_findings(
    resources: Sequence[StackResource], allowed: AllowSet, region: str, scope: Scope
) -> list[Finding]:
    """What only the whole stack shows: rules through prefix lists, and out-of-band rules.

    - An egress rule whose prefix lists (``prefixListId``, ``prefixListIds``) are in the
      stack is checked with the lists' entries (unless its ports are already wider, which
      the resource policy reports); a korefw rule through a list the stack lacks cannot
      be checked, a finding.
    - An egress rule or NSG rule that korefw does not manage, attached to a security group
      or NSG that korefw created, is out of band: korefw's groups hold only korefw's rules.
    - A prefix list entry the reader refuses, in a list korefw manages or a korefw rule uses
      (any list, in scope ``kore-addresses``): the list cannot be shown to stay within.
    """
    unread: list[DocumentError] = []
    lists = prefix_list_cidrs(
        (ResourceView(r.type, r.urn, r.props, r.property_dependencies, _id(r)) for r in resources),
        strict=False,
        errors=unread,
    )
    korefw_groups = {
        r.urn for r in resources if r.type in (AWS_SG, AZ_NSG) and managed_by_korefw(r.urn)
    }
    by_key = _group_keys(resources)
    list_ids = _ids(r for r in resources if r.type == AWS_PREFIX_LIST)
    out = _unread_entries(resources, unread, scope)
    for res in resources:
        managed = managed_by_korefw(res.urn)
        rules, why = read_rules(res.type, res.urn, res.props)
        if not managed and (rules or why):
            for group in sorted(_attached_groups(res, by_key) & korefw_groups):
                out.append(
                    Finding(
                        res.urn,
                        f"out-of-band rule on {group.rsplit('::', 1)[-1]!r}, which korefw "
                        "created: add egress to Kore through korefw's own options instead",
                    )
                )
        deps = [u for k in ("prefixListId", "prefixListIds", "egress")
                for u in res.property_dependencies.get(k, ()) if u in lists]  # fmt: skip
        for rule in rules:
            if in_scope(rule, managed, scope, allowed) and rule_findings(rule, allowed, region):
                continue  # the resource policy reports it
            urns, why = _rule_lists(rule, deps, list_ids)
            if why:
                # A list outside the stack (an AWS-managed one, say) is only korefw's
                # business on korefw's own rules; a list id held twice is always ambiguous.
                if managed or "more than one" in why:
                    out.append(Finding(res.urn, why))
                continue
            own = tuple(d for d in rule.destinations if not d.startswith(PREFIX_LIST))
            cidrs = tuple(c for u in urns if u in lists for c in lists[u])
            resolved = replace(rule, destinations=own + cidrs)
            if urns and in_scope(resolved, managed, scope, allowed):
                out += [
                    Finding(res.urn, f"through its prefix list: {m}")
                    for m in rule_findings(resolved, allowed, region)
                ]
    return out


def _rule_lists(
    rule: EffectiveRule, deps: Sequence[str], list_ids: Mapping[str, list[str]]
) -> tuple[list[str], str]:
    """The prefix lists (URNs) a rule sends to, or why they cannot be decided.

    Each ``prefix-list:ID`` destination is the stack's list holding that id; an id not known
    yet, or one the stack lacks while the engine links the rule to lists, is those linked
    lists. A known id the stack does not hold is a list whose entries are unseen.
    """
    urns: list[str] = []
    linked = False
    for dest in rule.destinations:
        if not dest.startswith(PREFIX_LIST):
            continue
        pid = dest[len(PREFIX_LIST):]
        held = list_ids.get(pid, [])
        if len(held) > 1:
            return [], (f"prefix list id {pid} is held by more than one prefix list, so "
                        "which entries apply cannot be decided")  # fmt: skip
        if held:
            urns += held
        elif deps:
            linked = True
        elif pid not in UNKNOWN:
            return [], (f"prefix list {pid} is not in the stack, so its entries cannot be "
                        "shown to stay within Kore's published rules")  # fmt: skip
    return list(dict.fromkeys([*urns, *(deps if linked else ())])), ""


def _unread_entries(
    resources: Sequence[StackResource], unread: Sequence[DocumentError], scope: Scope
) -> list[Finding]:
    """Findings for refused prefix list entries whose list is in scope."""
    deps = {r.urn: r.property_dependencies.get("prefixListId", ()) for r in resources}
    used = {u for r in resources if managed_by_korefw(r.urn) for u in deps[r.urn]}
    out: list[Finding] = []
    for exc in unread:
        urn = (exc.where or "").split(": ", 1)[0]  # where: "URN: field"
        lists = {urn, *deps.get(urn, ())}
        if scope == "kore-addresses" or any(managed_by_korefw(u) or u in used for u in lists):
            out.append(Finding(urn, f"cannot be checked: {str(exc).removeprefix(urn + ': ')}"))
    return out


def _id(r: StackResource) -> str | None:
    """A resource's id when known: ``id`` is among its outputs, which are the properties a
    stack policy sees (``AnalyzeResources`` in pkg/resource/deploy/step_generator.go)."""
    rid = r.props.get("id")
    return rid if isinstance(rid, str) and rid and rid not in UNKNOWN else None


def _ids(resources: Iterable[StackResource]) -> dict[str, list[str]]:
    """Id -> URNs of the resources holding it."""
    out: dict[str, list[str]] = defaultdict(list)
    for r in resources:
        if (rid := _id(r)) is not None:
            out[rid].append(r.urn)
    return out


def _group_keys(resources: Sequence[StackResource]) -> dict[tuple[str, ...], list[str]]:
    """How a rule can name a group literally -> the groups' URNs.

    AWS: ``("aws", id)``. Azure: ``("azure", resource group, NSG name)``, both lower case
    (Azure names are case-insensitive), the resource group from the NSG's inputs or its
    ARM id (``/resourceGroups/RG/.../networkSecurityGroups/NAME``).
    """
    out: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for rid, urns in _ids(r for r in resources if r.type == AWS_SG).items():
        out[("aws", rid)] += urns
    for r in resources:
        if r.type != AZ_NSG:
            continue
        arm = str(r.props.get("id") or "").split("/")
        low = [p.lower() for p in arm]
        rg = r.props.get("resourceGroupName") or (
            arm[low.index("resourcegroups") + 1] if "resourcegroups" in low[:-1] else ""
        )
        for name in (r.props.get("name"), r.props.get("networkSecurityGroupName")):
            if isinstance(name, str) and name and isinstance(rg, str) and rg:
                out[("azure", rg.lower(), name.lower())].append(r.urn)
    return out


def _attached_groups(res: StackResource, by_key: Mapping[tuple[str, ...], list[str]]) -> set[str]:
    """The groups a rule resource is attached to: through ``propertyDependencies``, or by the
    group's literal id (AWS) or resource group and name (Azure) without them."""
    groups: set[str] = set()
    for key in ("securityGroupId", "networkSecurityGroupName"):
        groups.update(res.property_dependencies.get(key, ()))
    sg, nsg = res.props.get("securityGroupId"), res.props.get("networkSecurityGroupName")
    if res.type in (AWS_EGRESS, AWS_SG_RULE) and isinstance(sg, str):
        groups.update(by_key.get(("aws", sg), ()))
    if res.type == AZ_RULE and isinstance(nsg, str):
        rg = str(res.props.get("resourceGroupName") or "").lower()
        groups.update(by_key.get(("azure", rg, nsg.lower()), ()))
    return groups


def closing_deny_findings(resources: Sequence[StackResource]) -> list[Finding]:
    """NSGs holding korefw's Allow rules with no Deny for other outbound traffic after them.

    Azure's default ``AllowInternetOutBound`` rule (65001) lets all Internet egress out, so
    without a closing Deny korefw's Allow rules restrict nothing. The Deny rules after them
    must together deny every protocol, port and address of both families from every source
    (:func:`~korefw.core.check.nsgfields.closing_gaps`, the same test as verify's).
    """
    groups: dict[str, list[EffectiveRule]] = defaultdict(list)
    korefw: dict[str, str] = {}  # group -> URN of a korefw-managed resource in it
    for res in resources:
        if res.type not in (AZ_NSG, AZ_RULE):
            continue
        deps = res.property_dependencies.get("networkSecurityGroupName", ())
        for rule in read_rules(res.type, res.urn, res.props)[0]:
            group = deps[0] if deps and res.type == AZ_RULE else rule.group
            groups[group].append(rule)
            if managed_by_korefw(res.urn) and rule.access == "Allow":
                korefw.setdefault(group, res.urn)
    out: list[Finding] = []
    for group, urn in korefw.items():
        rules = groups[group]
        last = max(r.priority for r in rules if r.access == "Allow")
        gaps = closing_gaps(r for r in rules if r.priority > last)
        if gaps is not None:
            name = group.rsplit("::", 1)[-1]
            out.append(
                Finding(
                    urn,
                    f"NSG {name!r} has korefw's Allow rules but no Deny rule for other outbound "
                    f"traffic after them (priority > {last}): Azure's default "
                    "AllowInternetOutBound (65001) still lets all Internet egress out; set "
                    "deny_other_outbound (korefw:azureDenyOtherOutbound)"
                    + "".join(f"; {gap}" for gap in gaps),
                )
            )
    return out


def _deferred(dest: str) -> bool:
    return dest.startswith(PREFIX_LIST) or dest in UNKNOWN


def _group(dest: str) -> bool:
    return dest.startswith(SECURITY_GROUP)


def _port_boxes(rule: EffectiveRule) -> list[Box]:
    return [Box(str(rule.l4), 4, p, (0, 0)) for p in rule.ports]


def _port_view(s: AllowSet) -> AllowSet:
    """Protocols and ports only, whatever the addresses."""
    return AllowSet(Box(b.protocol, 4, b.ports, (0, 0)) for b in s.boxes())


def _address_view(s: AllowSet) -> AllowSet:
    """Addresses only, whatever the protocol and ports."""
    return AllowSet(Box("ip", b.version, _ALL_PORTS, b.addresses) for b in s.boxes())


def _ports_text(ports: Interval) -> str:
    return str(ports[0]) if ports[0] == ports[1] else f"{ports[0]}-{ports[1]}"


def _flows(extra: AllowSet, limit: int = 3) -> str:
    boxes = list(extra.boxes())
    text = "; ".join(f"also allows {b}" for b in boxes[:limit])
    return text + (f"; and {len(boxes) - limit} more" if len(boxes) > limit else "")
