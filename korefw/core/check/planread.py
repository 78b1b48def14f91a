"""Read the resources after an update back into effective egress rules.

It reads what the cloud would be told, not korefw's intent: AWS standalone egress
rules (``aws.vpc.SecurityGroupEgressRule`` and the older ``aws.ec2.SecurityGroupRule``),
inline ``egress`` blocks, managed prefix lists and their entries; Azure inline
``securityRules`` and ``SecurityRule`` resources, in priority order with Deny rules.
References are resolved by id, or through ``propertyDependencies`` when a real
preview does not know the id yet. The resources come from :mod:`korefw.core.check.pulumidoc`
(a preview applied to the current state, or a stack export).

A value that decides the allow set (protocol, port, address, access, priority) that is
secret, unknown or malformed raises :class:`DocumentError` naming the resource and field:
the question cannot be decided. Read resources (``external``) count as they were read:
their ``outputs``.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..rules.addresses import IPNetwork
from ..rules.allowset import AllowSet, Box, Interval
from .pulumidoc import (
    SECRET,
    UNKNOWN_VALUES,
    DocumentError,
    PulumiDocument,
    parse_document,
    state_after,
)

__all__ = ["UNKNOWN_VALUES", "DocumentError", "EffectiveRule", "PlanReading", "read_plan",
           "read_states"]  # fmt: skip

AWS_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
AWS_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_SG = "aws:ec2/securityGroup:SecurityGroup"
AWS_PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
AWS_PREFIX_LIST_ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AZ_RULE = "azure-native:network:SecurityRule"

_V4_ALL = (0, 2**32 - 1)
_V6_ALL = (0, 2**128 - 1)
_AZ_ANY = {"*", "internet", "0.0.0.0/0", "::/0", "any"}
_ACCESS = {"allow": "Allow", "deny": "Deny"}
_DIRECTION = {"inbound": "Inbound", "outbound": "Outbound"}


@dataclass(frozen=True)
class EffectiveRule:
    """One egress rule as a cloud would apply it."""

    cloud: str  # aws | azure
    group: str  # security group or NSG identity
    urn: str
    protocol: str  # as written: tcp, udp, -1, Tcp, *, ...
    ports: tuple[Interval, ...]
    destinations: tuple[str, ...]  # CIDRs, or an unresolved reference
    description: str = ""
    access: str = "Allow"  # Allow | Deny (any letter case in the input)
    priority: int = 0
    name: str = ""

    @property
    def l4(self) -> str | None:
        """``tcp`` or ``udp``; ``None`` when the rule is wider (all, ``*``, ICMP, ...)."""
        return _L4.get(str(self.protocol).lower())

    def boxes(self) -> list[Box]:
        """The flows of this rule; a protocol wider than TCP or UDP counts as both."""
        protos = [self.l4] if self.l4 else ["tcp", "udp"]
        out: list[Box] = []
        for dest in self.destinations:
            for version, span in _spans(dest):
                out.extend(Box(p, version, ports, span) for p in protos for ports in self.ports)
        return out


_L4 = {"tcp": "tcp", "udp": "udp", "6": "tcp", "17": "udp"}


@dataclass
class PlanReading:
    """Effective egress rules of a plan, and what could not be read exactly."""

    rules: list[EffectiveRule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cannot be decided (exit 2)
    rejected: list[str] = field(default_factory=list)  # the cloud would reject (exit 1)
    notes: list[str] = field(default_factory=list)
    #: NSGs where nothing denies other outbound traffic (Azure's AllowInternetOutBound).
    open_nsgs: list[str] = field(default_factory=list)

    def clouds(self) -> list[str]:
        """Clouds with at least one security group or NSG in the plan."""
        return sorted({r.cloud for r in self.rules} | set(self._groups.values()))

    _groups: dict[str, str] = field(default_factory=dict)  # group -> cloud
    # (NSG, direction, priority, rule name) of every NSG rule, inbound too
    _priorities: list[tuple[str, str, int, str]] = field(default_factory=list)

    def groups(self, cloud: str | None = None) -> list[str]:
        """Security group / NSG identities, sorted."""
        return sorted(g for g, c in self._groups.items() if cloud in (None, c))

    def allow_set(self, cloud: str, group: str | None = None) -> AllowSet:
        """What ``cloud`` (or one of its groups) allows: Allow rules minus earlier Denies."""
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
                mine = AllowSet(r.boxes())
                if r.access == "Deny":
                    denied = denied | mine
                else:
                    out = out | (mine - denied)
        return out

    def wider_than_l4(self) -> list[EffectiveRule]:
        """Allow rules whose protocol is neither TCP nor UDP."""
        return [r for r in self.rules if r.access == "Allow" and r.l4 is None]


def read_plan(doc: Mapping[str, Any] | PulumiDocument, base: Any = None) -> PlanReading:
    """Read a preview (``pulumi preview --json``, streamed, or ``korefw plan --json``) or a
    stack export; with ``base`` (a stack export), the preview is applied on top of it."""
    parsed = parse_document(doc)
    return read_states(state_after(parsed, None if base is None else parse_document(base)))


class _Fields:
    """Typed access to one resource's properties, failing with the resource and field named."""

    def __init__(self, urn: str, props: Mapping[str, Any], prefix: str = "") -> None:
        self.urn, self.props, self.prefix = urn, props, prefix

    def where(self, key: str) -> str:
        return f"{self.urn}: {self.prefix}{key}"

    def get(self, key: str, *, decides: bool = True) -> Any:
        value = self.props.get(key)
        if decides and value is SECRET:
            raise DocumentError("secret or encrypted, so the allow set cannot be decided "
                                "(previews never print secrets; `pulumi stack export "
                                "--show-secrets` does)", where=self.where(key))  # fmt: skip
        if decides and isinstance(value, str) and value in UNKNOWN_VALUES:
            raise DocumentError("unknown until the update runs, so the allow set cannot be "
                                "decided", where=self.where(key))  # fmt: skip
        if decides and isinstance(value, list):
            for item in value:
                if item is SECRET or (isinstance(item, str) and item in UNKNOWN_VALUES):
                    raise DocumentError("holds a secret or unknown value, so the allow set "
                                        "cannot be decided", where=self.where(key))  # fmt: skip
        return value

    def text(self, key: str, default: str = "", *, decides: bool = True) -> str:
        value = self.get(key, decides=decides)
        if value is None:
            return default
        if value is SECRET or (not decides and not isinstance(value, str)):
            return default
        if not isinstance(value, str):
            raise DocumentError("expected a string", where=self.where(key), value=value)
        return value

    def strings(self, key: str) -> list[str]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DocumentError("expected a list of strings", where=self.where(key), value=value)
        return list(value)

    def port(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DocumentError("expected a port number", where=self.where(key), value=value)
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except ValueError:
            number = None
        if number is None or not -1 <= number <= 65535:
            raise DocumentError("expected a port number 0-65535 (or -1)",
                                where=self.where(key), value=value)  # fmt: skip
        return number

    def each(self, key: str) -> list[_Fields]:
        """The objects of a list property (``egress``, ``securityRules``, ``entries``)."""
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise DocumentError("expected a list", where=self.where(key), value=value)
        return [self.sub(n, key, v) for n, v in enumerate(value)]

    def sub(self, index: int, key: str, value: Any) -> _Fields:
        if not isinstance(value, Mapping):
            raise DocumentError("expected an object", where=f"{self.urn}: {key}[{index}]",
                                value=value)  # fmt: skip
        return _Fields(self.urn, value, f"{key}[{index}].")


def _known_id(s: Mapping[str, Any]) -> bool:
    rid = s.get("id")
    return isinstance(rid, str) and bool(rid) and rid not in UNKNOWN_VALUES


def _props(s: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a resource is: its outputs when it was read (external), else its inputs."""
    if s.get("external") and s.get("outputs"):
        return s["outputs"]
    return s.get("inputs") or {}


def read_states(states: Iterable[Mapping[str, Any]]) -> PlanReading:
    """Effective egress rules of a list of resource states (as after an update)."""
    states = [s for s in states if s.get("type")]
    reading = PlanReading()
    by_id = {s["id"]: s for s in states if _known_id(s)}
    by_urn = {s["urn"]: s for s in states}
    lists = _prefix_lists(states)
    existing: dict[str, str] = {}  # literal group id or name -> cloud

    def ref(s: Mapping[str, Any], key: str) -> Mapping[str, Any] | str | None:
        """The resource a reference input points at, or the literal value (existing)."""
        value = _props(s).get(key)
        if value is SECRET:
            raise DocumentError("secret, so the group cannot be identified",
                                where=f"{s['urn']}: {key}")  # fmt: skip
        if isinstance(value, str) and value and value not in UNKNOWN_VALUES:
            return by_id.get(value, value)
        for urn in s.get("propertyDependencies", {}).get(key, []):
            if urn in by_urn:
                return by_urn[urn]
        return None

    for s in states:
        t, f = s["type"], _Fields(s["urn"], _props(s))
        if t == AWS_SG:
            reading._groups[s["urn"]] = "aws"
            for blk in f.each("egress"):
                reading.rules.append(_aws_inline(s, blk, lists, reading))
        elif t in (AWS_EGRESS, AWS_SG_RULE):
            if t == AWS_SG_RULE and f.text("type") != "egress":
                continue
            group = ref(s, "securityGroupId")
            gid = group["urn"] if isinstance(group, Mapping) else (group or "<unknown group>")
            if not isinstance(group, Mapping):
                existing[gid] = "aws"
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
                gid = f"{f.text('resourceGroupName', '?', decides=False)}/{nsg or '<unknown NSG>'}"
                existing[gid] = "azure"
            reading._groups.setdefault(gid, "azure")
            rule = _azure_rule(gid, s["urn"], f, reading)
            if rule is not None:
                reading.rules.append(rule)
    for gid, cloud in sorted(existing.items()):
        kind = "security group" if cloud == "aws" else "NSG"
        reading.notes.append(
            f"existing {kind} {gid}: rules korefw does not manage are unseen unless the state "
            "export includes them"
        )
    _check_azure(reading)
    return reading


def _check_azure(reading: PlanReading) -> None:
    """Duplicate priorities, priorities out of range, and NSGs open to the Internet."""
    for gid in reading.groups("azure"):
        mine = [r for r in reading.rules if r.cloud == "azure" and r.group == gid]
        denies_rest = any(
            r.access == "Deny" and r.l4 is None and _covers_all(r.destinations)
            and (0, 65535) in r.ports
            for r in mine
        )  # fmt: skip
        if not denies_rest:
            reading.open_nsgs.append(gid)
    seen: dict[tuple[str, str, int], str] = {}
    for p in sorted(reading._priorities, key=lambda p: (p[0], p[1], p[2], p[3])):
        gid, direction, priority, name = p
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


def _prefix_lists(states: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Prefix list id and URN -> CIDRs (entries inline or as separate resources)."""
    out: dict[str, list[str]] = {}
    urn_of_id: dict[str, str] = {}
    for s in states:
        if s["type"] == AWS_PREFIX_LIST:
            f = _Fields(s["urn"], _props(s))
            cidrs = [e.text("cidr") for e in f.each("entries")]
            out[s["urn"]] = cidrs
            if _known_id(s):
                out[s["id"]] = cidrs
                urn_of_id[s["id"]] = s["urn"]
    for s in states:
        if s["type"] == AWS_PREFIX_LIST_ENTRY:
            f = _Fields(s["urn"], _props(s))
            key = f.get("prefixListId", decides=False)
            key = key if isinstance(key, str) and key not in UNKNOWN_VALUES else None
            deps = s.get("propertyDependencies", {}).get("prefixListId", [])
            cidr = f.text("cidr")
            for k in {key, *deps} - {None}:
                out.setdefault(k, []).append(cidr)
                if k in urn_of_id:
                    out[urn_of_id[k]].append(cidr)
    return out


def _ports(f: _Fields, protocol: str) -> tuple[Interval, ...]:
    lo, hi = f.port("fromPort"), f.port("toPort")
    if protocol.lower() in ("-1", "all") or lo in (None, -1) or hi in (None, -1):
        return ((0, 65535),)
    assert lo is not None and hi is not None
    if lo > hi:
        raise DocumentError("fromPort above toPort", where=f.where("fromPort"), value=lo)
    return ((lo, hi),)


def _aws_rule(s, f, gid, lists, ref, reading) -> list[EffectiveRule]:  # type: ignore[no-untyped-def]
    proto = f.text("ipProtocol") or f.text("protocol")
    ports = _ports(f, proto)
    dests = _aws_cidrs(f, "cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks")
    single = bool(f.get("prefixListId", decides=False) or _dep(s, "prefixListId"))
    values = [f.get("prefixListId", decides=False)] if single else f.strings("prefixListIds")
    for value in values:
        target = ref(s, "prefixListId") if single else value
        key = target["urn"] if isinstance(target, Mapping) else target
        if key in lists:
            dests += lists[key]
        elif isinstance(key, str) and key.startswith("pl-"):
            reading.problems.append(
                f"{s['urn']}: prefix list {key} is not in the plan; its entries cannot be checked"
            )
        else:
            reading.problems.append(f"{s['urn']}: unresolved prefix list reference {value!r}")
    if f.get("referencedSecurityGroupId", decides=False) or f.get(
        "sourceSecurityGroupId", decides=False
    ):
        reading.problems.append(f"{s['urn']}: egress to a security group cannot be checked")
    desc = f.text("description", decides=False)
    return [EffectiveRule("aws", gid, s["urn"], proto, ports, tuple(dests), desc)]


def _aws_cidrs(f: _Fields, *keys: str) -> list[str]:
    """The CIDRs of AWS address fields (one string, or a list of them)."""
    out: list[str] = []
    for key in keys:
        many = key.endswith("Blocks")
        values = f.strings(key) if many else ([f.text(key)] if f.get(key) else [])
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise DocumentError("expected a CIDR", where=f.where(key), value=value) from None
            out.append(value)
    return out


def _dep(s: Mapping[str, Any], key: str) -> bool:
    return bool(s.get("propertyDependencies", {}).get(key))


def _aws_inline(s, f, lists, reading) -> EffectiveRule:  # type: ignore[no-untyped-def]
    proto = f.text("protocol")
    dests = _aws_cidrs(f, "cidrBlocks", "ipv6CidrBlocks")
    for pl in f.strings("prefixListIds"):
        if pl in lists:
            dests += lists[pl]
        else:
            reading.problems.append(f"{s['urn']}: unresolved prefix list reference {pl!r}")
    desc = f.text("description", decides=False)
    return EffectiveRule("aws", s["urn"], s["urn"], proto, _ports(f, proto), tuple(dests), desc)


def _azure_port_ranges(f: _Fields) -> tuple[Interval, ...]:
    ranges = f.strings("destinationPortRanges")
    if f.get("destinationPortRange"):
        ranges.append(f.text("destinationPortRange"))
    ports: list[Interval] = []
    for text in ranges:
        if text.strip() == "*":
            ports.append((0, 65535))
            continue
        lo, _, hi = text.partition("-")
        if not lo.strip().isdigit() or not (hi or lo).strip().isdigit():
            raise DocumentError("expected a port, a port range or *",
                                where=f.where("destinationPortRange(s)"), value=text)  # fmt: skip
        a, b = int(lo), int(hi or lo)
        if not 0 <= a <= b <= 65535:
            raise DocumentError("port range outside 0-65535",
                                where=f.where("destinationPortRange(s)"), value=text)  # fmt: skip
        ports.append((a, b))
    return tuple(ports)


def _azure_rule(gid: str, urn: str, f: _Fields, reading: PlanReading) -> EffectiveRule | None:
    direction = _DIRECTION.get(f.text("direction").lower())
    if direction is None:
        raise DocumentError("expected Inbound or Outbound", where=f.where("direction"),
                            value=f.get("direction"))  # fmt: skip
    priority = f.get("priority")
    if isinstance(priority, str) and priority.strip().isdigit():
        priority = int(priority)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise DocumentError("expected an NSG priority number", where=f.where("priority"),
                            value=priority)  # fmt: skip
    name = f.text("name", decides=False) or urn.rsplit("::", 1)[-1]
    reading._priorities.append((gid, direction, priority, name))
    if direction != "Outbound":
        return None
    access = _ACCESS.get(f.text("access").lower())
    if access is None:
        raise DocumentError("expected Allow or Deny", where=f.where("access"),
                            value=f.get("access"))  # fmt: skip
    proto = f.text("protocol")
    if not proto:
        raise DocumentError("missing protocol", where=f.where("protocol"))
    dests = f.strings("destinationAddressPrefixes")
    if f.get("destinationAddressPrefix"):
        dests.append(f.text("destinationAddressPrefix"))
    if f.get("destinationApplicationSecurityGroups", decides=False):
        reading.problems.append(f"{urn}: destination application security groups cannot be checked")
    return EffectiveRule(
        "azure", gid, urn, proto, _azure_port_ranges(f), tuple(dests),
        f.text("description", decides=False), access, priority, name,
    )  # fmt: skip


def _covers_all(dests: Iterable[str]) -> bool:
    return any(str(d).lower() in _AZ_ANY for d in dests)


def _spans(dest: str) -> list[tuple[int, Interval]]:
    """A destination as (IP version, address interval); service tags ``*``/``Internet`` = all."""
    if str(dest).lower() in _AZ_ANY:
        return [(4, _V4_ALL), (6, _V6_ALL)] if dest != "0.0.0.0/0" else [(4, _V4_ALL)]
    try:
        net: IPNetwork = ipaddress.ip_network(dest, strict=False)
    except ValueError:
        # An unresolvable destination (service tag, unknown reference) is treated as
        # everything, so it can only ever show up as "extra", never hide a gap.
        return [(4, _V4_ALL), (6, _V6_ALL)]
    return [(net.version, (int(net.network_address), int(net.broadcast_address)))]
