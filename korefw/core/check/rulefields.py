"""One reader for the rule properties of a single cloud resource, for every check.

``korefw verify``/``diff`` (:mod:`.planread`) and the policy pack (:mod:`.policycheck`)
read the same AWS and Azure properties into :class:`EffectiveRule`. They differ only in
what an undecidable value means, so that is the one parameter, ``strict``:

* strict (verify, diff): a secret, unknown or malformed value that decides the allow set
  raises :class:`DocumentError` naming the resource and field;
* lenient (policy, on preview properties): unknown values stay as Pulumi's sentinels (an
  unknown port makes the rule's ports empty: nothing to check yet), nothing is validated.

Resolving prefix lists and group references needs the whole stack: callers do that,
reading the lists' entries with :func:`prefix_list_cidrs`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..rules.addresses import IPNetwork
from ..rules.allowset import Box, Interval
from .pulumidoc import SECRET, UNKNOWN_VALUES, DocumentError

AWS_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
AWS_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_SG = "aws:ec2/securityGroup:SecurityGroup"
AWS_PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
AWS_PREFIX_LIST_ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AZ_RULE = "azure-native:network:SecurityRule"

#: Pulumi's sentinels for values a preview does not know yet, as a policy pack sees them
#: (strings, numbers, lists, ...).
PREVIEW_UNKNOWNS = frozenset(
    {
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
#: A destination that names a managed prefix list; the rest of the string is its id.
PREFIX_LIST = "prefix-list:"

_ALL_PORTS: Interval = (0, 65535)
_V4_ALL = (0, 2**32 - 1)
_V6_ALL = (0, 2**128 - 1)
_AZ_ANY = {"*", "internet", "0.0.0.0/0", "::/0", "any"}
_ACCESS = {"allow": "Allow", "deny": "Deny"}
_DIRECTION = {"inbound": "Inbound", "outbound": "Outbound"}
_L4 = {"tcp": "tcp", "udp": "udp", "6": "tcp", "17": "udp"}


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


class Fields:
    """Typed access to one resource's properties; strict access fails naming the field."""

    def __init__(
        self, urn: str, props: Mapping[str, Any], prefix: str = "", *, strict: bool = True
    ) -> None:
        self.urn, self.props, self.prefix, self.strict = urn, props, prefix, strict

    def where(self, key: str) -> str:
        """``URN: field`` for error messages."""
        return f"{self.urn}: {self.prefix}{key}"

    def unknown(self, key: str) -> bool:
        """True when the value is one of Pulumi's not-yet-known sentinels."""
        value = self.props.get(key)
        return isinstance(value, str) and value in (UNKNOWN_VALUES if self.strict
                                                    else PREVIEW_UNKNOWNS)  # fmt: skip

    def get(self, key: str, *, decides: bool = True) -> Any:
        """The raw value; strict and ``decides``: never a secret or an unknown."""
        value = self.props.get(key)
        if not (self.strict and decides):
            return value
        if value is SECRET:
            raise DocumentError("secret or encrypted, so the allow set cannot be decided "
                                "(previews never print secrets; `pulumi stack export "
                                "--show-secrets` does)", where=self.where(key))  # fmt: skip
        if isinstance(value, str) and value in UNKNOWN_VALUES:
            raise DocumentError("unknown until the update runs, so the allow set cannot be "
                                "decided", where=self.where(key))  # fmt: skip
        if isinstance(value, list):
            for item in value:
                if item is SECRET or (isinstance(item, str) and item in UNKNOWN_VALUES):
                    raise DocumentError("holds a secret or unknown value, so the allow set "
                                        "cannot be decided", where=self.where(key))  # fmt: skip
        return value

    def text(self, key: str, default: str = "", *, decides: bool = True) -> str:
        """A string value (``default`` when absent)."""
        value = self.get(key, decides=decides)
        if value is None:
            return default
        if not self.strict:
            return str(value)
        if value is SECRET or (not decides and not isinstance(value, str)):
            return default
        if not isinstance(value, str):
            raise DocumentError("expected a string", where=self.where(key), value=value)
        return value

    def strings(self, key: str) -> list[str]:
        """A list of strings ([] when absent; lenient: a whole unknown list is one item)."""
        value = self.get(key)
        if value is None:
            return []
        if not self.strict:
            return [value] if isinstance(value, str) else [str(v) for v in value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DocumentError("expected a list of strings", where=self.where(key), value=value)
        return list(value)

    def number(self, key: str) -> int | None:
        """An integer; lenient: ``None`` when unknown."""
        value = self.get(key)
        if not self.strict:
            return None if value is None or self.unknown(key) else int(float(value))
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

    def each(self, key: str) -> list[Fields]:
        """The objects of a list property (``egress``, ``securityRules``, ``entries``)."""
        value = self.get(key)
        if not self.strict:
            items = value if isinstance(value, list) else []
            return [self.sub(n, key, v) for n, v in enumerate(items) if isinstance(v, Mapping)]
        if value is None:
            return []
        if not isinstance(value, list):
            raise DocumentError("expected a list", where=self.where(key), value=value)
        return [self.sub(n, key, v) for n, v in enumerate(value)]

    def sub(self, index: int, key: str, value: Any) -> Fields:
        """The object at ``key[index]``."""
        if not isinstance(value, Mapping):
            raise DocumentError("expected an object", where=f"{self.urn}: {key}[{index}]",
                                value=value)  # fmt: skip
        return Fields(self.urn, value, f"{key}[{index}].", strict=self.strict)


def aws_rule(f: Fields, group: str) -> EffectiveRule:
    """An AWS egress rule (standalone, or an inline ``egress`` block) as written.

    Its prefix lists appear as ``prefix-list:ID`` destinations, for the caller to resolve.
    """
    proto = f.text("ipProtocol") or f.text("protocol")
    ports = _aws_ports(f, proto)
    dests = _aws_cidrs(f, "cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks")
    lists = f.props.get("prefixListIds")
    if isinstance(lists, str) and not f.strict:
        dests.append(lists)  # a whole unknown list
    else:
        dests += [PREFIX_LIST + p for p in f.strings("prefixListIds")]
    single = f.get("prefixListId", decides=False)
    if single:
        dests.append(PREFIX_LIST + str(single))
    desc = f.text("description", decides=False)
    return EffectiveRule("aws", group, f.urn, proto, ports, tuple(dests), desc)


def _aws_ports(f: Fields, protocol: str) -> tuple[Interval, ...]:
    if not f.strict and (f.unknown("fromPort") or f.unknown("toPort")):
        return ()  # not known until the update: no flow to check yet (the protocol still is)
    lo, hi = f.number("fromPort"), f.number("toPort")
    if protocol.lower() in ("-1", "all") or lo is None or hi is None or lo < 0 or hi < 0:
        return (_ALL_PORTS,)
    if lo > hi and f.strict:
        raise DocumentError("fromPort above toPort", where=f.where("fromPort"), value=lo)
    return ((lo, hi),)


def _aws_cidrs(f: Fields, *keys: str) -> list[str]:
    """The CIDRs of AWS address fields (one string, or a list of them)."""
    out: list[str] = []
    for key in keys:
        many = key.endswith("Blocks")
        values = f.strings(key) if many else ([f.text(key)] if f.get(key) else [])
        for value in values:
            if f.strict:
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise DocumentError("expected a CIDR", where=f.where(key),
                                        value=value) from None  # fmt: skip
            out.append(value)
    return out


class ResourceView(NamedTuple):
    """One resource as a check sees it: its properties, dependencies and id (when known)."""

    type: str
    urn: str
    props: Mapping[str, Any]
    dependencies: Mapping[str, Sequence[str]]
    id: str | None = None


def prefix_list_cidrs(
    resources: Iterable[ResourceView], *, strict: bool = True
) -> dict[str, list[str]]:
    """Prefix list URN (and id, when known) -> its CIDRs.

    The entries are inline (``entries``) or separate entry resources, which name their list
    by id or through ``propertyDependencies``. Strict: a secret, unknown or malformed CIDR
    raises. Lenient: entries without a known CIDR are skipped.
    """
    resources = list(resources)
    out: dict[str, list[str]] = {}
    for r in resources:
        if r.type == AWS_PREFIX_LIST:
            f = Fields(r.urn, r.props, strict=strict)
            cidrs = [c for e in f.each("entries") if (c := _entry_cidr(e)) is not None]
            out[r.urn] = cidrs
            if r.id is not None:
                out[r.id] = cidrs  # the same list: an entry added by id shows under the URN
    for r in resources:
        if r.type != AWS_PREFIX_LIST_ENTRY:
            continue
        f = Fields(r.urn, r.props, strict=strict)
        cidr = _entry_cidr(f)
        if cidr is None:
            continue
        key = f.get("prefixListId", decides=False)
        key = key if isinstance(key, str) and not f.unknown("prefixListId") else None
        for k in {key, *r.dependencies.get("prefixListId", ())} - {None}:
            out.setdefault(k, []).append(cidr)
    return out


def _entry_cidr(f: Fields) -> str | None:
    """A prefix list entry's CIDR; lenient: ``None`` when absent or not known yet."""
    if not f.strict and (not f.get("cidr") or f.unknown("cidr")):
        return None
    return f.text("cidr")


def azure_position(f: Fields, default_name: str) -> tuple[str, int, str]:
    """An NSG rule's direction, priority and name (``default_name`` when it has none)."""
    direction = _word(f, "direction", _DIRECTION, "Inbound or Outbound")
    if not f.strict:
        return direction, f.number("priority") or 0, f.text("name") or default_name
    priority = f.get("priority")
    if isinstance(priority, str) and priority.strip().isdigit():
        priority = int(priority)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise DocumentError("expected an NSG priority number", where=f.where("priority"),
                            value=priority)  # fmt: skip
    return direction, priority, f.text("name", decides=False) or default_name


def azure_rule(f: Fields, group: str, priority: int, name: str) -> EffectiveRule:
    """An outbound NSG rule (inline in ``securityRules`` or a ``SecurityRule``)."""
    access = _word(f, "access", _ACCESS, "Allow or Deny", "" if f.strict else "Allow")
    proto = f.text("protocol")
    if not proto and f.strict:
        raise DocumentError("missing protocol", where=f.where("protocol"))
    dests = f.strings("destinationAddressPrefixes")
    if f.get("destinationAddressPrefix"):
        dests.append(f.text("destinationAddressPrefix"))
    return EffectiveRule(
        "azure", group, f.urn, proto, _azure_port_ranges(f), tuple(dests),
        f.text("description", decides=False), access, priority, name,
    )  # fmt: skip


def _word(f: Fields, key: str, words: Mapping[str, str], expected: str, default: str = "") -> str:
    """A keyword in its canonical spelling (any letter case in the input); lenient: as written."""
    text = f.text(key, default)
    word = words.get(text.lower())
    if word is None and f.strict:
        raise DocumentError(f"expected {expected}", where=f.where(key), value=f.get(key))
    return text if word is None else word


def _azure_port_ranges(f: Fields) -> tuple[Interval, ...]:
    ranges = f.strings("destinationPortRanges")
    if f.get("destinationPortRange"):
        ranges.append(f.text("destinationPortRange"))
    ports: list[Interval] = []
    for text in ranges:
        if text.strip() == "*":
            ports.append(_ALL_PORTS)
            continue
        lo, _, hi = text.partition("-")
        if f.strict and (not lo.strip().isdigit() or not (hi or lo).strip().isdigit()):
            raise DocumentError("expected a port, a port range or *",
                                where=f.where("destinationPortRange(s)"), value=text)  # fmt: skip
        a, b = int(lo), int(hi or lo)
        if f.strict and not 0 <= a <= b <= 65535:
            raise DocumentError("port range outside 0-65535",
                                where=f.where("destinationPortRange(s)"), value=text)  # fmt: skip
        ports.append((a, b))
    return tuple(ports)


def covers_all(dests: Iterable[str]) -> bool:
    """True when a destination means everywhere (``*``, ``Internet``, ``0.0.0.0/0``, ...)."""
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
