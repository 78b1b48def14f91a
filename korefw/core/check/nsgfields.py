"""Azure NSG rules, read with :mod:`.rulefields`' :class:`~.rulefields.Fields` (one reader
for verify, diff and the policy pack), and whether an NSG's Deny rules close it.

Azure's default ``AllowInternetOutBound`` (65001) lets all Internet egress out, so an NSG
restricts egress only when its Deny rules together deny every other outbound flow:
:func:`closing_gaps`, for ``korefw verify`` and the pack's advisory alike. A Deny limited by
source (address, prefixes, port or application security group) or by destination
application security group denies nothing for certain
(:meth:`~.rulefields.EffectiveRule.denied`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..rules.allowset import AllowSet, Interval
from .pulumidoc import DocumentError
from .rulefields import PREVIEW_UNKNOWNS, EffectiveRule, Fields, parse_cidr, whole_number

_ALL_PORTS: Interval = (0, 65535)
_ACCESS = {"allow": "Allow", "deny": "Deny"}
_DIRECTION = {"inbound": "Inbound", "outbound": "Outbound"}
#: Azure sources that hold every packet a VM sends: ``*``, and ``VirtualNetwork`` (a VM's
#: source address is always in its virtual network's address space).
_ANY_SOURCE = {"*", "virtualnetwork"}
_PORT_RANGE = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")
#: An address prefix spelled like an address (digits and dots, or a ``:`` or ``/``) must
#: be a plain CIDR; anything else is a word (``*``, a service tag).
_LOOKS_LIKE_ADDRESS = re.compile(r"[0-9.]+(?:/.*)?|.*[:/].*")


def azure_position(f: Fields, default_name: str) -> tuple[str, int, str]:
    """An NSG rule's direction, priority and name (``default_name`` when it has none).

    Lenient: a direction not known yet counts as Outbound (so the rule is checked), an
    absent or unknown priority as 0.
    """
    if not f.strict and f.unknown("direction"):
        direction = "Outbound"
    else:
        direction = _word(f, "direction", _DIRECTION, "Inbound or Outbound")
    name = f.text("name", decides=False) or default_name
    if not f.strict and (f.get("priority") is None or f.unknown("priority")):
        return direction, 0, name
    value = f.get("priority")
    priority = whole_number(value)
    if priority is None:
        raise f.bad("priority", "expected an NSG priority number", value)
    return direction, priority, name


def azure_rule(f: Fields, group: str, priority: int, name: str) -> EffectiveRule:
    """An outbound NSG rule (inline in ``securityRules`` or a ``SecurityRule``).

    Lenient: an access not known yet counts as Allow (so the rule is checked).
    """
    if not f.strict and (f.get("access") is None or f.unknown("access")):
        access = "Allow"
    else:
        access = _word(f, "access", _ACCESS, "Allow or Deny")
    proto = f.text("protocol")
    if not proto and f.strict:
        raise DocumentError("missing protocol", where=f.where("protocol"))
    dests = f.strings("destinationAddressPrefixes")
    if f.get("destinationAddressPrefix") is not None:
        dests.append(f.text("destinationAddressPrefix"))
    for dest in dests:
        _azure_prefix(f, "destinationAddressPrefix(es)", dest)
    return EffectiveRule(
        "azure", group, f.urn, proto, _azure_port_ranges(f), tuple(dests),
        f.text("description", decides=False), access, priority, name,
        _azure_limits(f) if access == "Deny" else (),
    )  # fmt: skip


def _azure_prefix(f: Fields, key: str, prefix: str) -> None:
    """Refuse an address prefix that is neither a plain CIDR nor a word (``*``, a tag)."""
    if not f.strict and prefix in PREVIEW_UNKNOWNS:
        return
    if not prefix or prefix != prefix.strip():
        raise f.bad(key, "expected an address prefix, a service tag or *", prefix)
    if _LOOKS_LIKE_ADDRESS.fullmatch(prefix) and parse_cidr(prefix) is None:
        raise f.bad(key, "expected a CIDR (prefix length, not a netmask)", prefix)


def _azure_limits(f: Fields) -> tuple[str, ...]:
    """What keeps a Deny from denying every source: ``field 'value'`` texts (empty: none).

    Lenient: a value not known yet limits the rule (it cannot be shown to deny all).
    """
    out: list[str] = []
    for keys, everything in (
        (("sourceAddressPrefix", "sourceAddressPrefixes"), _ANY_SOURCE),
        (("sourcePortRange", "sourcePortRanges"), {"*", "0-65535"}),
    ):
        values: list[str] = []
        for key in keys:
            if not f.strict and f.unknown(key):
                return (f"{key} not known yet",)
            if key.endswith("s"):
                values += f.strings(key)
            elif f.get(key) is not None:
                values.append(f.text(key))
        if values and not any(v.lower() in everything for v in values):
            out.append(f"{'/'.join(keys)} {', '.join(values)}")
    for key in ("sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups"):
        if f.get(key) not in (None, []):
            out.append(f"{key} (only those groups' members)")
    return tuple(out)


def _word(f: Fields, key: str, words: Mapping[str, str], expected: str) -> str:
    """A keyword in its canonical spelling (any letter case in the input, no stray spaces)."""
    text = f.text(key)
    word = words.get(text.lower())
    if word is None:
        raise f.bad(key, f"expected {expected}", f.get(key))
    return word


def _azure_port_ranges(f: Fields) -> tuple[Interval, ...]:
    """The destination ports; an empty or missing port is refused (lenient: unknown defers)."""
    ranges = f.strings("destinationPortRanges")
    single = f.get("destinationPortRange")
    if single is not None:
        ranges.append(f.text("destinationPortRange"))
    elif not ranges and not f.unknown("destinationPortRanges"):
        raise f.bad("destinationPortRange(s)", "missing destination port (a port, a range or *)")
    ports: list[Interval] = []
    for text in ranges:
        if not f.strict and text in PREVIEW_UNKNOWNS:
            continue  # not known until the update: nothing to check yet
        if text == "*":
            ports.append(_ALL_PORTS)
            continue
        match = _PORT_RANGE.fullmatch(text)
        if not match:
            raise f.bad("destinationPortRange(s)", "expected a port, a port range or *", text)
        a, b = int(match[1]), int(match[2] or match[1])
        if not 0 <= a <= b <= 65535:
            raise f.bad("destinationPortRange(s)", "port range outside 0-65535", text)
        ports.append((a, b))
    return tuple(ports)


#: Every TCP and UDP flow, both address families: what a closing Deny must deny.
_EVERYTHING = AllowSet(EffectiveRule("azure", "", "", "*", (_ALL_PORTS,), ("*",)).boxes())


def closing_gaps(rules: Iterable[EffectiveRule]) -> list[str] | None:
    """``None`` when the NSG's Deny rules among ``rules`` deny every other outbound flow
    (all protocols, ports and addresses of both families, from every source) before
    Azure's ``AllowInternetOutBound`` (65001); else why each Deny falls short ([] for none).
    """
    denies = [r for r in rules if r.access == "Deny"]
    closing = [r for r in denies if r.protocol == "*" and not r.limits]
    if not _EVERYTHING - AllowSet(b for r in closing for b in r.denied()):
        return None
    return [f"NSG rule {r.name!r} does not deny all other outbound traffic: "
            f"{'; '.join(_shortfalls(r))}" for r in denies]  # fmt: skip


def _shortfalls(rule: EffectiveRule) -> list[str]:
    """Why one Deny rule alone does not deny everything."""
    out = [f"limited by {limit}" for limit in rule.limits]
    if rule.protocol != "*":
        out.append(f"protocol {rule.protocol!r} only")
    left = _EVERYTHING - AllowSet(rule.denies())
    for version in (4, 6):
        family = AllowSet(b for b in _EVERYTHING.boxes() if b.version == version)
        if not family - left:
            out.append(f"no IPv{version} destination")
            left = left - family
    boxes = list(left.boxes())
    if boxes:
        more = f" and {len(boxes) - 2} more" if len(boxes) > 2 else ""
        out.append("leaves " + "; ".join(str(b) for b in boxes[:2]) + more)
    return out
