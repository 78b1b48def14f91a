"""One reader for the rule properties of a single cloud resource, for every check.

This module holds the rule model, typed field access and the AWS forms; :mod:`.nsgfields`
reads Azure NSG rules with the same :class:`Fields`.

``korefw verify``/``diff`` (:mod:`.planread`) and the policy pack (:mod:`.policycheck`)
read the same AWS and Azure properties into :class:`EffectiveRule`. They differ only in
what an undecidable value means, so that is the one parameter, ``strict``:

* strict (verify, diff): a secret or unknown value that decides the allow set raises
  :class:`DocumentError` naming the resource and field;
* lenient (policy, on preview properties): unknown values stay as Pulumi's sentinels (an
  unknown port makes the rule's ports empty: nothing to check yet).

Both modes refuse a malformed value with :class:`DocumentError` naming the resource and
field (the policy pack turns it into a violation): a port that is not an ASCII integer
(``'443,8443'``, ``'nan'``, ``'²'``, ``True``, ``443.5``), an empty Azure port, a CIDR in
netmask form, a keyword with stray spaces (``'Allow '``). A value is never skipped.

What a rule allows is read as the cloud applies it: an AWS egress rule to a security group
(``referencedSecurityGroupId``, ``sourceSecurityGroupId``, inline ``securityGroups``,
``self``) allows whatever addresses that group's members hold, so it counts as every
address; an ICMP rule's ``fromPort``/``toPort`` are the ICMP type and code, not ports. An
Azure Deny limited by source (address, prefixes, port or application security group) or by
destination application security group denies nothing for certain.

Resolving prefix lists and group references needs the whole stack: callers do that,
reading the lists' entries with :func:`prefix_list_cidrs`.
"""

from __future__ import annotations

import ipaddress
import math
import re
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
#: A destination that names a security group (its members' addresses); the rest is its id.
SECURITY_GROUP = "security-group:"

_ALL_PORTS: Interval = (0, 65535)
_V4_ALL = (0, 2**32 - 1)
_V6_ALL = (0, 2**128 - 1)
_AZ_ANY = {"*", "internet", "any"}
_L4 = {"tcp": "tcp", "udp": "udp", "6": "tcp", "17": "udp"}
_INTEGER = re.compile(r"-?[0-9]+")
#: What an IP address or CIDR may be spelled with; anything else is a service tag.
_ADDRESS = re.compile(r"[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?")


@dataclass(frozen=True)
class EffectiveRule:
    """One egress rule as a cloud would apply it."""

    cloud: str  # aws | azure
    group: str  # security group or NSG identity
    urn: str
    protocol: str  # as written: tcp, udp, -1, Tcp, *, ...
    ports: tuple[Interval, ...]
    destinations: tuple[str, ...]  # CIDRs, tags, or a prefix-list:/security-group: reference
    description: str = ""
    access: str = "Allow"  # Allow | Deny (any letter case in the input)
    priority: int = 0
    name: str = ""
    #: What narrows the rule besides protocol, port and destination (a Deny's source
    #: address, source port, application security groups), as ``field 'value'`` texts.
    limits: tuple[str, ...] = ()

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

    def denied(self) -> list[Box]:
        """The flows a Deny rule denies whatever their source; none when it is limited."""
        return [] if self.limits else self.denies()

    def denies(self) -> list[Box]:
        """The TCP and UDP flows a Deny rule denies from the sources it names.

        Only what it denies for certain: a protocol other than TCP, UDP or ``*`` (ICMP,
        ESP, AH) denies no TCP or UDP flow, and a service tag other than ``*`` or
        ``Internet`` (``Storage``, ``AzureCloud``) is some addresses, never all, so it
        denies none either (read as everything, it would hide a later, wider Allow).
        """
        if self.access != "Deny" or not (self.l4 or self.protocol == "*"):
            return []
        dests = tuple(d for d in self.destinations
                      if str(d).lower() in _AZ_ANY or parse_cidr(d) is not None)  # fmt: skip
        return EffectiveRule(self.cloud, self.group, self.urn, self.protocol, self.ports,
                             dests).boxes()  # fmt: skip


class Fields:
    """Typed access to one resource's properties; a malformed value fails naming the field."""

    def __init__(
        self, urn: str, props: Mapping[str, Any], prefix: str = "", *, strict: bool = True
    ) -> None:
        self.urn, self.props, self.prefix, self.strict = urn, props, prefix, strict

    def where(self, key: str) -> str:
        """``URN: field`` for error messages."""
        return f"{self.urn}: {self.prefix}{key}"

    def bad(self, key: str, expected: str, value: Any = None) -> DocumentError:
        """The one-line error for a malformed value of ``key``."""
        return DocumentError(expected, where=self.where(key), value=value)

    def unknown(self, key: str) -> bool:
        """True when the value is one of Pulumi's not-yet-known sentinels."""
        return _is_unknown(self.props.get(key), self.strict)

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
        """A string value (``default`` when absent; not deciding: also when not a string)."""
        value = self.get(key, decides=decides)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if not decides:
            return default
        raise self.bad(key, "expected a string", value)

    def strings(self, key: str) -> list[str]:
        """A list of strings ([] when absent; lenient: a whole unknown list is one item)."""
        value = self.get(key)
        if value is None:
            return []
        if self.unknown(key):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.bad(key, "expected a list of strings", value)
        return list(value)

    def number(self, key: str) -> int | None:
        """A port number (-1 to 65535); ``None`` when absent, lenient: also when unknown."""
        if not self.strict and self.unknown(key):
            return None
        value = self.get(key)
        if value is None:
            return None
        number = whole_number(value)
        if number is None or not -1 <= number <= 65535:
            raise self.bad(key, "expected a port number 0-65535 (or -1)", value)
        return number

    def flag(self, key: str) -> bool:
        """A true/false value (absent: false); lenient: an unknown one counts as true."""
        value = self.get(key)
        if value is None or value is False:
            return False
        if value is True or (not self.strict and self.unknown(key)):
            return True
        raise self.bad(key, "expected true or false", value)

    def each(self, key: str) -> list[Fields]:
        """The objects of a list property (``egress``, ``securityRules``, ``entries``).

        Lenient: a whole unknown list, or an unknown item, is nothing to check yet.
        """
        value = self.get(key)
        if value is None or self.unknown(key):
            return []
        if not isinstance(value, list):
            raise self.bad(key, "expected a list", value)
        return [
            self.sub(n, key, v) for n, v in enumerate(value) if not _is_unknown(v, self.strict)
        ]

    def sub(self, index: int, key: str, value: Any) -> Fields:
        """The object at ``key[index]``."""
        if not isinstance(value, Mapping):
            raise DocumentError("expected an object", where=f"{self.urn}: {self.prefix}{key}"
                                f"[{index}]", value=value)  # fmt: skip
        return Fields(self.urn, value, f"{self.prefix}{key}[{index}].", strict=self.strict)


def _is_unknown(value: Any, strict: bool) -> bool:
    return isinstance(value, str) and value in (UNKNOWN_VALUES if strict else PREVIEW_UNKNOWNS)


def whole_number(value: Any) -> int | None:
    """An integer as JSON or the engine writes it (``443``, ``443.0``, ``'443'``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)  # ASCII digits only: '²' and '٤' pass isdigit() but are no port
    return None


def aws_rule(f: Fields, group: str) -> EffectiveRule:
    """An AWS egress rule (standalone, or an inline ``egress`` block) as written.

    Its prefix lists appear as ``prefix-list:ID`` destinations, for the caller to resolve;
    security groups it names (``self`` is ``group``) as ``security-group:ID``.
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
    dests += _aws_groups(f, group)
    desc = f.text("description", decides=False)
    return EffectiveRule("aws", group, f.urn, proto, ports, tuple(dests), desc)


def _aws_ports(f: Fields, protocol: str) -> tuple[Interval, ...]:
    """The rule's port range; every port unless the protocol is TCP or UDP.

    AWS (EC2 API ``IpPermission``): for ``icmp``/``icmpv6`` ``fromPort`` is the ICMP type
    and ``toPort`` the code (``-1``: all); for ``-1`` or any other protocol number "traffic
    on all ports is allowed, regardless of any port range you specify".
    """
    if not f.strict and (f.unknown("fromPort") or f.unknown("toPort")):
        return ()  # not known until the update: no flow to check yet (the protocol still is)
    lo, hi = f.number("fromPort"), f.number("toPort")
    if _L4.get(protocol.lower()) is None:
        return (_ALL_PORTS,)
    if lo is None or hi is None or lo < 0 or hi < 0:
        return (_ALL_PORTS,)
    if lo > hi:
        raise f.bad("fromPort", f"fromPort above toPort {hi}", lo)
    return ((lo, hi),)


def _aws_groups(f: Fields, group: str) -> list[str]:
    """``security-group:ID`` for each group the rule sends to, ``self`` being ``group``.

    Present is enough: whichever group it is (even one not known yet), the rule allows
    whatever addresses its members hold.
    """
    out: list[str] = []
    for key in ("referencedSecurityGroupId", "sourceSecurityGroupId", "securityGroups"):
        value = f.props.get(key)
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, list) else [value]:
            out.append(SECURITY_GROUP + (item if isinstance(item, str) else "?"))
    if f.flag("self"):
        out.append(SECURITY_GROUP + group)
    return out


def _aws_cidrs(f: Fields, *keys: str) -> list[str]:
    """The CIDRs of AWS address fields (one string, or a list of them)."""
    out: list[str] = []
    for key in keys:
        many = key.endswith("Blocks")
        value = f.get(key)
        # "" is how some provider states leave an unset string; any other value is read
        values = f.strings(key) if many else ([] if value in (None, "") else [f.text(key)])
        version = 6 if "6" in key else 4
        for text in values:
            if not f.strict and text in PREVIEW_UNKNOWNS:
                out.append(text)
                continue
            net = parse_cidr(text)
            if net is None or net.version != version:
                raise f.bad(key, f"expected an IPv{version} CIDR", text)
            out.append(text)
    return out


def parse_cidr(text: str) -> IPNetwork | None:
    """An address or CIDR in plain notation; ``None`` for anything else.

    Plain means what the clouds take: ``1.2.3.0/24``, ``2001:db8::/32``, a bare address.
    :mod:`ipaddress` alone also reads a netmask (``1.2.3.4/255.255.255.0``) or a host mask,
    which the clouds refuse or read differently.
    """
    if not isinstance(text, str) or not text.isascii() or not _ADDRESS.fullmatch(text):
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


class ResourceView(NamedTuple):
    """One resource as a check sees it: its properties, dependencies and id (when known)."""

    type: str
    urn: str
    props: Mapping[str, Any]
    dependencies: Mapping[str, Sequence[str]]
    id: str | None = None


def prefix_list_cidrs(
    resources: Iterable[ResourceView],
    *,
    strict: bool = True,
    errors: list[DocumentError] | None = None,
) -> dict[str, list[str]]:
    """Prefix list URN (and id, when known) -> its CIDRs.

    The entries are inline (``entries``) or separate entry resources, which name their list
    by id or through ``propertyDependencies``; an entry on a list that is not among
    ``resources`` adds nothing (the list's other entries are unseen). Strict: a secret or
    unknown CIDR raises. Lenient: entries without a known CIDR are skipped. A malformed
    entry raises, or, given ``errors``, is added there (for the caller to report) and left
    out.
    """

    def read(f: Fields, how: Any) -> Any:
        try:
            return how(f)
        except DocumentError as exc:
            if errors is None:
                raise
            errors.append(exc)
            return None

    resources = list(resources)
    out: dict[str, list[str]] = {}
    for r in resources:
        if r.type == AWS_PREFIX_LIST:
            f = Fields(r.urn, r.props, strict=strict)
            entries = read(f, lambda f: f.each("entries")) or []
            cidrs = [c for e in entries if (c := read(e, _entry_cidr)) is not None]
            out[r.urn] = cidrs
            if r.id is not None:
                out[r.id] = cidrs  # the same list: an entry added by id shows under the URN
    for r in resources:
        if r.type != AWS_PREFIX_LIST_ENTRY:
            continue
        f = Fields(r.urn, r.props, strict=strict)
        cidr = read(f, _entry_cidr)
        if cidr is None:
            continue
        key = f.get("prefixListId", decides=False)
        key = key if isinstance(key, str) and not f.unknown("prefixListId") else None
        for k in {key, *r.dependencies.get("prefixListId", ())} - {None}:
            if k in out:  # a list outside the document has entries it does not show
                out[k].append(cidr)
    return out


def _entry_cidr(f: Fields) -> str | None:
    """A prefix list entry's CIDR; lenient: ``None`` when absent or not known yet."""
    if not f.strict and (f.get("cidr") is None or f.unknown("cidr")):
        return None
    cidr = f.text("cidr")
    if parse_cidr(cidr) is None:
        raise f.bad("cidr", "expected a CIDR", cidr)
    return cidr


def _spans(dest: str) -> list[tuple[int, Interval]]:
    """A destination as (IP version, address interval); ``*``/``Internet`` = all of both.

    An unresolvable destination (a security group, another service tag, an unknown
    reference) is treated as everything, so it can only ever show up as "extra", never hide
    a gap.
    """
    if str(dest).lower() in _AZ_ANY:
        return [(4, _V4_ALL), (6, _V6_ALL)]
    net = parse_cidr(dest)
    if net is None:
        return [(4, _V4_ALL), (6, _V6_ALL)]
    return [(net.version, (int(net.network_address), int(net.broadcast_address)))]
