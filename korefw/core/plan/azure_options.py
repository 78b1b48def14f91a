"""Azure planner options, the Azure limits every Azure plan keeps, and names and texts
within them.

A new Azure limit goes here as one constant, with the Azure documentation it comes from,
and is checked where the planner builds that resource (:mod:`.azure_plan`,
:mod:`.azure_firewall`).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
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

#: Azure resource names: start with a letter or digit, end with one or ``_``. NSGs and
#: security rules: 1-80 alphanumerics, underscores, periods and hyphens, starting with an
#: alphanumeric and ending with one or an underscore (Naming rules and restrictions for
#: Azure resources, Microsoft.Network,
#: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules).
#: ``..`` is refused too: a name is a segment of the resource's URL path, and ARM reads
#: dot segments there as path steps.
NAME_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$"
NAME_RE = re.compile(NAME_PATTERN)
#: Resource groups (same page, Microsoft.Resources): 1-90 alphanumerics, underscores,
#: parentheses, hyphens and periods (Unicode letters too; korefw keeps to ASCII), not
#: ending in a period.
RESOURCE_GROUP_PATTERN = r"(?a)^(?!.*\.\.)[-\w.()]{0,89}[-\w()]$"
RESOURCE_GROUP_RE = re.compile(RESOURCE_GROUP_PATTERN)
#: A location: a name (``japaneast``) or display name (``Japan East``); never blank.
LOCATION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9 ]{0,40}$")
#: Azure tags (https://learn.microsoft.com/azure/azure-resource-manager/management/
#: tag-resources#limitations): at most 50 per resource; a name at most 512 characters and
#: case-insensitive (so ``Env`` and ``env`` are one tag), without ``< > % & \ ? /``; a value
#: at most 256 characters.
MAX_TAGS = 50
MAX_TAG_NAME_LEN = 512
MAX_TAG_VALUE_LEN = 256
TAG_NAME_BAD = frozenset("<>%&\\?/")
#: Sources an egress rule must not name: every address (``*``, ``Any``, ``0.0.0.0/0``,
#: ``::/0``) or the Internet service tag. An NSG rule's source is "Any, or an individual
#: IP address, CIDR block, service tag, or application security group"
#: (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
#: #security-rules); korefw's Allow rules are for the customer's own sources.
FORBIDDEN_SOURCES = frozenset({"*", "any", "internet", "0.0.0.0/0", "::/0"})
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
        for src in sources:
            if src.casefold() in FORBIDDEN_SOURCES or _is_everything(src):
                raise ConfigError(
                    "a source of every address or the Internet would let anything egress "
                    "through korefw's rules (name your own networks, or VirtualNetwork)",
                    where="source_address_prefixes",
                    value=src,
                )
        object.__setattr__(self, "source_address_prefixes", sources)
        for key in ("deny_other_outbound", "ip_groups"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError("expected true or false", where=key, value=getattr(self, key))
        prefix = self.name_prefix
        if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix) or ".." in prefix:
            raise ConfigError(
                "expected 1-24 letters, digits, _ . - starting with a letter or digit, no '..'",
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
            if not isinstance(name, str) or not NAME_RE.fullmatch(name):
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


def _is_everything(prefix: str) -> bool:
    try:
        return ipaddress.ip_network(prefix, strict=False).prefixlen == 0
    except ValueError:
        return False


def check_name(value: object, where: str, *, kind: str = "an NSG name") -> None:
    """Refuse a resource name Azure rejects (see :data:`NAME_RE`); non-text (an output) passes."""
    if isinstance(value, str) and not NAME_RE.fullmatch(value):
        raise ConfigError(
            f"not {kind}: 1-80 letters, digits, _ . - starting with a letter or digit, ending "
            "with one or _, no '..'",
            where=where,
            value=value,
        )


def check_resource_group(value: object, where: str = "resource_group_name") -> None:
    """Refuse a resource group name Azure rejects (see :data:`RESOURCE_GROUP_RE`)."""
    if isinstance(value, str) and not RESOURCE_GROUP_RE.fullmatch(value):
        raise ConfigError(
            "not a resource group name: 1-90 letters, digits, _ - . ( ), not ending in '.', "
            "no '..'",
            where=where,
            value=value,
        )


def check_location(value: object, where: str = "location") -> None:
    """Refuse a blank or malformed location (see :data:`LOCATION_RE`)."""
    if isinstance(value, str) and not LOCATION_RE.fullmatch(value):
        raise ConfigError(
            "not an Azure location (like japaneast or Japan East)", where=where, value=value
        )


def check_tags(tags: object, *, where: str = "tags") -> None:
    """Refuse tags Azure rejects (see :data:`MAX_TAGS`); ``None`` is no tags."""
    if tags is None:
        return
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise ConfigError("expected a mapping of text to text", where=where, value=tags)
    seen: dict[str, str] = {}
    for k, v in tags.items():
        if not 1 <= len(k) <= MAX_TAG_NAME_LEN or TAG_NAME_BAD & set(k):
            raise ConfigError(
                f"tag names are 1-{MAX_TAG_NAME_LEN} characters without < > % & \\ ? /",
                where=where,
                value=k,
            )
        if len(v) > MAX_TAG_VALUE_LEN:
            raise ConfigError(
                f"tag values are at most {MAX_TAG_VALUE_LEN} characters", where=where, value=k
            )
        if k.casefold() in seen:
            raise ConfigError(
                f"Azure tag names ignore case: this is the tag {seen[k.casefold()]!r} again",
                where=where,
                value=k,
            )
        seen[k.casefold()] = k
    if len(tags) > MAX_TAGS:
        raise ConfigError(
            f"Azure allows {MAX_TAGS} tags per resource", where=where, value=len(tags)
        )


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
        return "tag" if _SERVICE_TAG_RE.fullmatch(text) else None
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
    """Text with only the characters Azure descriptions take: no control or format
    characters (bidi overrides and isolates such as U+202E, zero-width characters), which
    would make a description read other than it is; runs of whitespace collapse."""
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    return " ".join(kept.split())


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
