"""Read a plan in ``pulumi preview --json`` shape back into effective egress rules.

It reads what the cloud would be told, not korefw's intent: AWS standalone egress
rules (``aws.vpc.SecurityGroupEgressRule`` and the older ``aws.ec2.SecurityGroupRule``),
inline ``egress`` blocks, managed prefix lists and their entries; Azure inline
``securityRules`` and ``SecurityRule`` resources, in priority order with Deny rules.
References are resolved by id, or through ``propertyDependencies`` when a real
preview does not know the id yet.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .addresses import IPNetwork
from .allowset import AllowSet, Box, Interval

#: Pulumi's marker for a value not known during a preview (and korefw's offline one).
UNKNOWN_VALUES = {"04da6b54-80e4-46f7-96ec-b56ff0331ba9", "<computed>"}

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
    access: str = "Allow"
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
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def clouds(self) -> list[str]:
        """Clouds with at least one security group or NSG in the plan."""
        return sorted({r.cloud for r in self.rules} | set(self._groups))

    _groups: dict[str, str] = field(default_factory=dict)  # group -> cloud

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
                if r.access.lower() == "deny":
                    denied = denied | mine
                else:
                    out = out | (mine - denied)
        return out

    def wider_than_l4(self) -> list[EffectiveRule]:
        """Allow rules whose protocol is neither TCP nor UDP."""
        return [r for r in self.rules if r.access == "Allow" and r.l4 is None]


def read_plan(doc: Mapping[str, Any]) -> PlanReading:
    """Read ``pulumi preview --json`` (or ``korefw plan --json``) output."""
    states = [s.get("newState") or s.get("oldState") or {} for s in doc.get("steps", [])]
    states = [s for s in states if s.get("type")]
    reading = PlanReading()
    by_id = {s["id"]: s for s in states if s.get("id") and s["id"] not in UNKNOWN_VALUES}
    by_urn = {s["urn"]: s for s in states}
    lists = _prefix_lists(states)

    def ref(state: Mapping[str, Any], key: str) -> Mapping[str, Any] | str | None:
        """The resource a reference input points at, or the literal value (existing)."""
        value = state.get("inputs", {}).get(key)
        if isinstance(value, str) and value and value not in UNKNOWN_VALUES:
            return by_id.get(value, value)
        for urn in state.get("propertyDependencies", {}).get(key, []):
            if urn in by_urn:
                return by_urn[urn]
        return None

    for s in states:
        t, inputs = s["type"], s.get("inputs", {})
        if t == AWS_SG:
            reading._groups[s["urn"]] = "aws"
            for blk in inputs.get("egress", []) or []:
                reading.rules.append(_aws_inline(s, blk, lists, reading))
        elif t in (AWS_EGRESS, AWS_SG_RULE):
            if t == AWS_SG_RULE and inputs.get("type") != "egress":
                continue
            group = ref(s, "securityGroupId")
            gid = group["urn"] if isinstance(group, Mapping) else (group or "<unknown group>")
            reading._groups.setdefault(gid, "aws")
            reading.rules.extend(_aws_rule(s, gid, lists, ref, reading))
        elif t == AZ_NSG:
            reading._groups[s["urn"]] = "azure"
            for sr in inputs.get("securityRules", []) or []:
                if str(sr.get("direction", "")).lower() == "outbound":
                    reading.rules.append(_azure_rule(s["urn"], s["urn"], sr, reading))
        elif t == AZ_RULE:
            if str(inputs.get("direction", "")).lower() != "outbound":
                continue
            nsg = ref(s, "networkSecurityGroupName")
            gid = (
                nsg["urn"]
                if isinstance(nsg, Mapping)
                else f"{inputs.get('resourceGroupName', '?')}/{nsg or '<unknown NSG>'}"
            )
            reading._groups.setdefault(gid, "azure")
            reading.rules.append(_azure_rule(gid, s["urn"], inputs, reading))
    if any(c == "azure" for c in reading._groups.values()):
        denies_internet = any(
            r.cloud == "azure" and r.access.lower() == "deny" and _covers_all(r.destinations)
            for r in reading.rules
        )
        if not denies_internet:
            reading.notes.append(
                "no NSG rule denies other outbound traffic: Azure's default "
                "AllowInternetOutBound (65001) still lets all Internet egress out"
            )
    return reading


def _prefix_lists(states: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Prefix list id and URN -> CIDRs (entries inline or as separate resources)."""
    out: dict[str, list[str]] = {}
    urn_of_id: dict[str, str] = {}
    for s in states:
        if s["type"] == AWS_PREFIX_LIST:
            cidrs = [e["cidr"] for e in s.get("inputs", {}).get("entries", []) or []]
            out[s["urn"]] = cidrs
            if s.get("id") and s["id"] not in UNKNOWN_VALUES:
                out[s["id"]] = cidrs
                urn_of_id[s["id"]] = s["urn"]
    for s in states:
        if s["type"] == AWS_PREFIX_LIST_ENTRY:
            inputs = s.get("inputs", {})
            key = inputs.get("prefixListId")
            deps = s.get("propertyDependencies", {}).get("prefixListId", [])
            for k in {key, *deps} - {None}:
                out.setdefault(k, []).append(inputs["cidr"])
                if k in urn_of_id:
                    out[urn_of_id[k]].append(inputs["cidr"])
    return out


def _ports(lo: Any, hi: Any, protocol: str) -> tuple[Interval, ...]:
    if str(protocol) in ("-1", "all") or lo in (None, -1) or hi in (None, -1):
        return ((0, 65535),)
    return ((int(lo), int(hi)),)


def _aws_rule(s, gid, lists, ref, reading) -> list[EffectiveRule]:  # type: ignore[no-untyped-def]
    i = s.get("inputs", {})
    proto = str(i.get("ipProtocol", i.get("protocol", "")))
    ports = _ports(i.get("fromPort"), i.get("toPort"), proto)
    dests: list[str] = []
    for key in ("cidrIpv4", "cidrIpv6"):
        if i.get(key):
            dests.append(i[key])
    dests += list(i.get("cidrBlocks", []) or []) + list(i.get("ipv6CidrBlocks", []) or [])
    pl_keys = ["prefixListId"] if i.get("prefixListId") or _dep(s, "prefixListId") else []
    pl_values = [i.get("prefixListId")] if pl_keys else list(i.get("prefixListIds", []) or [])
    for value in pl_values:
        target = ref(s, "prefixListId") if pl_keys else value
        key = target["urn"] if isinstance(target, Mapping) else target
        if key in lists:
            dests += lists[key]
        elif isinstance(key, str) and key.startswith("pl-"):
            reading.problems.append(
                f"{s['urn']}: prefix list {key} is not in the plan; its entries cannot be checked"
            )
        else:
            reading.problems.append(f"{s['urn']}: unresolved prefix list reference {value!r}")
    if i.get("referencedSecurityGroupId") or i.get("sourceSecurityGroupId"):
        reading.problems.append(f"{s['urn']}: egress to a security group cannot be checked")
    return [
        EffectiveRule("aws", gid, s["urn"], proto, ports, tuple(dests), i.get("description", ""))
    ]


def _dep(s: Mapping[str, Any], key: str) -> bool:
    return bool(s.get("propertyDependencies", {}).get(key))


def _aws_inline(s, blk, lists, reading) -> EffectiveRule:  # type: ignore[no-untyped-def]
    proto = str(blk.get("protocol", ""))
    dests = list(blk.get("cidrBlocks", []) or []) + list(blk.get("ipv6CidrBlocks", []) or [])
    for pl in blk.get("prefixListIds", []) or []:
        if pl in lists:
            dests += lists[pl]
        else:
            reading.problems.append(f"{s['urn']}: unresolved prefix list reference {pl!r}")
    ports = _ports(blk.get("fromPort"), blk.get("toPort"), proto)
    return EffectiveRule("aws", s["urn"], s["urn"], proto, ports, tuple(dests),
                         blk.get("description", ""))  # fmt: skip


def _azure_rule(gid: str, urn: str, r: Mapping[str, Any], reading: PlanReading) -> EffectiveRule:
    proto = str(r.get("protocol", ""))
    ranges = list(r.get("destinationPortRanges", []) or [])
    if r.get("destinationPortRange"):
        ranges.append(r["destinationPortRange"])
    ports: list[Interval] = []
    for text in ranges:
        if text == "*":
            ports.append((0, 65535))
        else:
            lo, _, hi = str(text).partition("-")
            ports.append((int(lo), int(hi or lo)))
    dests = list(r.get("destinationAddressPrefixes", []) or [])
    if r.get("destinationAddressPrefix"):
        dests.append(r["destinationAddressPrefix"])
    if r.get("destinationApplicationSecurityGroups"):
        reading.problems.append(f"{urn}: destination application security groups cannot be checked")
    return EffectiveRule(
        "azure", gid, urn, proto, tuple(ports), tuple(dests), r.get("description", ""),
        str(r.get("access", "Allow")), int(r.get("priority", 0) or 0), str(r.get("name", "")),
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
