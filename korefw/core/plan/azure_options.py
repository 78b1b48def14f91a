"""Azure planner options, the Azure limits every Azure plan keeps, and names and texts
within them.

A new Azure limit goes here as one constant, with the Azure documentation it comes from,
and is checked where the planner builds that resource (:mod:`.azure_plan`,
:mod:`.azure_firewall`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..rules.ports import PortRange
from .naming import digest, slug

MERGE_MODES = ("none", "section", "all", "flow")
FIREWALL_POLICY_MODES = ("none", "existing", "new")
#: NSG rule priorities Azure accepts.
PRIORITY_RANGE = (100, 4096)
#: Azure's limits: rules per NSG, address prefixes per NSG (source and destination counted
#: apart; see the module docstring), name and description lengths.
MAX_NSG_RULES = 1000
MAX_PREFIXES_PER_NSG = 4000
MAX_NAME_LEN = 80
MAX_DESCRIPTION_LEN = 140
#: Azure Firewall: rule collection group priorities, application rule ports.
FIREWALL_PRIORITY_RANGE = (100, 65000)
MAX_APPLICATION_PORT = 64000
#: A wildcard FQDN port range up to this size is spelled out port by port.
MAX_APPLICATION_PORTS_PER_RANGE = 16

DENY_RULE_SUFFIX = "deny-internet-outbound"
#: What the Allow rules' priorities leave free at the end of the band, always.
RESERVED_FOR_DENY = 1
NETWORK_COLLECTION_PRIORITY = 100
APPLICATION_COLLECTION_PRIORITY = 200

#: Azure resource names: start with a letter or digit, end with one or ``_``.
NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$")
_SERVICE_TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)?$")
_POLICY_ID_RE = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.Network/firewallPolicies/(?P<name>[^/]+)$",
    re.IGNORECASE,
)

# Room kept at the end of a name for "-<digest>" and a chunk suffix up to "-1000".
_NAME_TAIL = 1 + 8 + 5


@dataclass(frozen=True)
class AzureOptions:
    """How to turn a rule set into NSG rules and Azure Firewall rules.

    ``priority_band`` is the first and last NSG priority korefw may use; the last one is
    kept for the Deny rule (``deny_other_outbound``) whether or not there is one, so
    turning the Deny rule on or off moves no Allow rule. ``priorities`` pins NSG rules,
    by name or key, to priorities (the escape hatch when a hash collision would move a
    rule).
    ``firewall_policy`` is ``none``, ``existing`` or ``new``: where FQDN rules (and
    network rules for the IP rules) go. ``ip_groups`` plans one IP group per NSG Allow
    rule's destination set. ``firewall_priority`` is the rule collection group's priority
    and ``firewall_source_addresses`` the sources of Azure Firewall rules (``*`` or CIDRs).
    """

    merge: str = "all"
    priority_band: tuple[int, int] = (1000, 1999)
    source_address_prefixes: tuple[str, ...] = ("VirtualNetwork",)
    deny_other_outbound: bool = False
    priorities: Mapping[str, int] | None = None
    name_prefix: str = "korefw"
    firewall_policy: str = "none"
    ip_groups: bool = False
    firewall_priority: int = 1000
    firewall_source_addresses: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        if self.merge not in MERGE_MODES:
            raise ConfigError(
                "unknown merge mode (expected none, section, all or flow)",
                where="merge",
                value=self.merge,
            )
        band = _check_band(self.priority_band)
        object.__setattr__(self, "priority_band", band)
        sources = _check_prefixes(self.source_address_prefixes, "source_address_prefixes")
        object.__setattr__(self, "source_address_prefixes", sources)
        for key in ("deny_other_outbound", "ip_groups"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError("expected true or false", where=key, value=getattr(self, key))
        if not isinstance(self.name_prefix, str) or not _PREFIX_RE.match(self.name_prefix):
            raise ConfigError(
                "expected 1-24 letters, digits, _ . - starting with a letter or digit",
                where="name_prefix",
                value=self.name_prefix,
            )
        object.__setattr__(self, "priorities", self._check_pins(band))
        if self.firewall_policy not in FIREWALL_POLICY_MODES:
            raise ConfigError(
                "expected none, existing or new",
                where="firewall_policy",
                value=self.firewall_policy,
            )
        lo, hi = FIREWALL_PRIORITY_RANGE
        fp = self.firewall_priority
        if not _is_int(fp) or not lo <= fp <= hi:
            raise ConfigError(
                f"expected an integer within {lo}-{hi}", where="firewall_priority", value=fp
            )
        fw_sources = _check_prefixes(
            self.firewall_source_addresses, "firewall_source_addresses", tags=False
        )
        object.__setattr__(self, "firewall_source_addresses", fw_sources)

    @property
    def deny_priority(self) -> int | None:
        """The Deny rule's priority (the band's last), or ``None`` without one."""
        return self.priority_band[1] if self.deny_other_outbound else None

    @property
    def deny_rule_name(self) -> str:
        """The name the Deny rule gets."""
        return f"{self.name_prefix}-{DENY_RULE_SUFFIX}"

    @property
    def allow_band(self) -> tuple[int, int]:
        """The priorities Allow rules may take: the band without its last priority."""
        lo, hi = self.priority_band
        return lo, hi - RESERVED_FOR_DENY

    def _check_pins(self, band: tuple[int, int]) -> dict[str, int]:
        pins = self.priorities or {}
        if not isinstance(pins, Mapping):
            raise ConfigError(
                "expected a mapping of NSG rule name to priority", where="priorities", value=pins
            )
        lo, hi = band
        last = hi - RESERVED_FOR_DENY
        seen: dict[int, str] = {}
        for name, prio in sorted(pins.items(), key=lambda kv: str(kv[0])):
            where = f"priorities.{name}"
            if not isinstance(name, str) or not NAME_RE.match(name):
                raise ConfigError("not an NSG rule name", where="priorities", value=name)
            if name in (self.deny_rule_name, DENY_RULE_SUFFIX):
                raise ConfigError(
                    "the Deny rule always takes the band's last priority", where=where, value=prio
                )
            if not _is_int(prio) or not lo <= prio <= last:
                raise ConfigError(
                    f"pinned priority must lie within the allow rules' band {lo}-{last}",
                    where=where,
                    value=prio,
                )
            if prio in seen:
                raise ConfigError(
                    f"priority already pinned for {seen[prio]!r}", where=where, value=prio
                )
            seen[prio] = name
        return dict(sorted(pins.items()))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_band(band: object) -> tuple[int, int]:
    if not (isinstance(band, (tuple, list)) and len(band) == 2 and all(map(_is_int, band))):
        raise ConfigError("expected two integers (first, last)", where="priority_band", value=band)
    lo, hi = band
    if lo > hi:
        raise ConfigError("first priority is after the last", where="priority_band", value=band)
    if lo < PRIORITY_RANGE[0] or hi > PRIORITY_RANGE[1]:
        raise ConfigError(
            "NSG priorities must lie within 100-4096", where="priority_band", value=band
        )
    if hi - lo < RESERVED_FOR_DENY:
        raise ConfigError(
            "the band needs at least two priorities (its last is kept for the Deny rule)",
            where="priority_band",
            value=band,
        )
    return (lo, hi)


def _check_prefixes(value: object, where: str, *, tags: bool = True) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (tuple, list)) or not items:
        raise ConfigError("expected at least one source", where=where, value=value)
    out: list[str] = []
    special = False
    for item in items:
        kind = prefix_kind(item) if isinstance(item, str) else None
        if kind is None or (kind == "tag" and not tags):
            expected = "a CIDR, an IP address, a service tag or *" if tags else "a CIDR or *"
            raise ConfigError(f"expected {expected}", where=where, value=item)
        if item in out:
            raise ConfigError("listed twice", where=where, value=item)
        special = special or kind != "cidr"
        out.append(item)
    if special and len(out) > 1:
        raise ConfigError(
            "a service tag or * must be the only source (Azure lists several sources only as "
            "CIDRs)",
            where=where,
            value=list(out),
        )
    return tuple(out)


def prefix_kind(text: str) -> str | None:
    """``cidr``, ``tag`` (a service tag) or ``*`` for an address prefix; None for anything else."""
    if text == "*":
        return "*"
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return "tag" if _SERVICE_TAG_RE.match(text) else None
    return "cidr"


def parse_firewall_policy_id(policy_id: str) -> tuple[str, str]:
    """The resource group and name of a Firewall Policy resource id."""
    m = _POLICY_ID_RE.match(policy_id.strip()) if isinstance(policy_id, str) else None
    if not m:
        raise ConfigError(
            "expected /subscriptions/<id>/resourceGroups/<rg>/providers/"
            "Microsoft.Network/firewallPolicies/<name>",
            where="firewall_policy_id",
            value=policy_id,
        )
    return m["rg"], m["name"]


def ports_text(ports: Iterable[PortRange]) -> str:
    """``443, 5060-5061``."""
    return "_".join(str(p) for p in ports)


def azure_name(
    prefix: str,
    scope: str,
    protocol: str,
    version: int,
    ports: Iterable[PortRange],
    identity: tuple[str, ...],
) -> str:
    """``<prefix>[-<scope>]-<tcp|udp>[6]-<ports>-<digest>``, valid for Azure, <= 80 chars."""
    parts = [
        prefix,
        slug(scope, max_len=24),
        protocol + ("6" if version == 6 else ""),
        ports_text(ports),
    ]
    readable = "-".join(p for p in parts if p)[: MAX_NAME_LEN - _NAME_TAIL].rstrip("-_.")
    return f"{readable}-{digest(*identity)}"


def clean_text(text: str) -> str:
    """Text with only the characters Azure descriptions take."""
    return " ".join(text.split())


def description(region: str, owners: Iterable[tuple[str, str]]) -> str:
    """``Kore.ai jp: Section / Component; ...`` within 140 characters."""
    head = f"Kore.ai {region}: " if region else "Kore.ai: "
    items = sorted({clean_text(f"{s} / {c}" if c else s) for s, c in owners})
    text = head + "; ".join(items)
    if len(text) <= MAX_DESCRIPTION_LEN:
        return text
    for k in range(len(items) - 1, 0, -1):
        text = head + "; ".join(items[:k]) + f"; +{len(items) - k} more"
        if len(text) <= MAX_DESCRIPTION_LEN:
            return text
    more = f" +{len(items) - 1} more" if len(items) > 1 else ""
    room = MAX_DESCRIPTION_LEN - len(head) - len(more) - 3
    return head + items[0][:room] + "..." + more


def port_interval(text: str) -> tuple[int, int]:
    """``"5060-5061"`` as ``(5060, 5061)``."""
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)
