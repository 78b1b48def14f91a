"""Plan Azure egress rules as plain data: NSG rules, priorities, Firewall rules, limits.

The planner is pure: it computes names, exact merges, priorities and limit checks and
validates every option before a Pulumi resource exists. :mod:`korefw.azure` only
materializes an :class:`AzurePlan`.

Merging is exact. An Azure NSG rule allows the cartesian product of its destination
prefixes and port ranges, so destinations are merged only where that product is
exactly what the vendor rules allow: per protocol (and IP version), the address space
is cut into pieces that each carry the union of the ports the rules allow there, and
the pieces with identical port sets become one NSG rule. ``merge="none"`` keeps one NSG
rule per vendor rule and protocol, ``"section"`` merges within a vendor section,
``"all"`` across the whole rule set.

Names and priorities come from content, never from list position or cosmetic settings.
A rule's ``key`` is its merge identity (scope, protocol, port set) plus a digest of it;
its Azure ``name`` is ``name_prefix`` and the key. The priority is a hash of the key (not
the name, so a new ``name_prefix`` moves nothing) into the band minus its last priority,
which is always kept for the Deny rule, so toggling ``deny_other_outbound`` moves no Allow
rule either. Collisions are resolved deterministically: pins (``priorities``) first,
then every rule whose hashed slot is free, then the rest probe upward; the plan reports
probe-displaced rules in ``displaced``. No stateless rule can promise that adding a rule
never moves another one when hashes collide; a pin keeps a rule where it is.

During an update old and new rules coexist (Pulumi creates and updates first and deletes
last). Inline rules of a new NSG change in one PUT, so they only have to be unique
within the new list. ``SecurityRule`` resources on an existing NSG are keyed by priority
(:attr:`NsgRule.resource_name`), so a new rule can only land on a priority no rule of the
old plan holds: a priority that stays in use is the same resource, updated in place, or
replaced delete-first when its name changes (see :mod:`korefw.azure`).

Limits (https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits#azure-resource-manager-virtual-networking-limits):
1,000 rules per NSG, and 4,000 "IP addresses and ranges specified for source or
destination in a security group (the limit applies separately to source and
destination)": a limit per NSG, not per rule, so the plan counts korefw's destination
prefixes (and source prefixes times rules) against the NSG's 4,000.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, PlanError
from ..rules.addresses import IPNetwork, network_span
from ..rules.allowset import AllowSet
from ..rules.model import Rule, RuleSet
from ..rules.ports import PortRange, merge_ports
from .naming import digest, slug

MERGE_MODES = ("none", "section", "all")
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
_NO_POLICY = "no Azure Firewall policy (pass firewall_policy_id or create_firewall_policy=True)"
_WILDCARD_UDP = (
    "Azure Firewall matches wildcard FQDNs only in application rules, which carry HTTP(S) over TCP"
)
_WILDCARD_PORTS = (
    f"application rules take single ports up to {MAX_APPLICATION_PORT}; "
    f"wider ranges (over {MAX_APPLICATION_PORTS_PER_RANGE} ports) are not spelled out"
)


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
                "unknown merge mode (expected none, section or all)",
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
        kind = _prefix_kind(item) if isinstance(item, str) else None
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


def _prefix_kind(text: str) -> str | None:
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


# ---------------------------------------------------------------------------- plan data


@dataclass(frozen=True)
class NsgRule:
    """One outbound NSG rule as Azure will be told it."""

    name: str  # the Azure name: name_prefix and key
    priority: int
    access: str  # Allow | Deny
    protocol: str  # Tcp | Udp (Allow rules); * only for the Deny rule
    destination_address_prefixes: tuple[str, ...]
    destination_port_ranges: tuple[str, ...]
    description: str
    #: The slot the name hashes to; differs from ``priority`` when pinned or displaced.
    home: int = 0
    pinned: bool = False
    #: The identity without ``name_prefix``; the priority hashes this.
    key: str = ""

    @property
    def resource_name(self) -> str:
        """Logical name suffix of a ``SecurityRule`` on an existing NSG: its priority.

        Keyed by priority, a rule of the new plan whose priority an old rule holds is that
        same resource (updated, or replaced delete-first), never a second rule on one
        priority while the old one still exists.
        """
        return f"priority-{self.priority}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "key": self.key,
            "priority": self.priority,
            "access": self.access,
            "protocol": self.protocol,
            "destination_address_prefixes": list(self.destination_address_prefixes),
            "destination_port_ranges": list(self.destination_port_ranges),
            "description": self.description,
            "home": self.home,
            "pinned": self.pinned,
        }

    def allow_set(self) -> AllowSet:
        """The flows the rule matches (Allow rules only carry CIDRs)."""
        ports = [_port_interval(p) for p in self.destination_port_ranges]
        nets = [ipaddress.ip_network(p) for p in self.destination_address_prefixes]
        return AllowSet.of(self.protocol.lower(), ports, nets)


@dataclass(frozen=True)
class IpGroupPlan:
    """One Azure IP group: the destinations of one NSG Allow rule."""

    name: str
    addresses: tuple[str, ...]
    nsg_rule: str
    key: str = ""  # the NSG rule's key: the logical name, without name_prefix

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "addresses": list(self.addresses), "nsg_rule": self.nsg_rule}


@dataclass(frozen=True)
class FirewallRule:
    """One Azure Firewall rule: a network rule (addresses, IP group or exact FQDNs) or an
    application rule (``Https`` on listed ports to FQDNs, ``*.`` wildcards allowed)."""

    name: str
    kind: str  # network | application
    protocols: tuple[str, ...]  # network: TCP / UDP; application: Https
    ports: tuple[str, ...]
    description: str
    destination_addresses: tuple[str, ...] = ()
    destination_ip_group: str = ""
    destination_fqdns: tuple[str, ...] = ()
    target_fqdns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "protocols": list(self.protocols),
            "ports": list(self.ports),
            "description": self.description,
        }
        for key in ("destination_addresses", "destination_fqdns", "target_fqdns"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.destination_ip_group:
            out["destination_ip_group"] = self.destination_ip_group
        return out


@dataclass(frozen=True)
class FirewallPlan:
    """The rule collection group korefw adds to an existing or new Firewall Policy."""

    policy: str  # existing | new
    rule_collection_group: str
    priority: int
    source_addresses: tuple[str, ...]
    network_collection: str
    application_collection: str
    network_rules: tuple[FirewallRule, ...]
    application_rules: tuple[FirewallRule, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "policy": self.policy,
            "rule_collection_group": self.rule_collection_group,
            "priority": self.priority,
            "source_addresses": list(self.source_addresses),
            "network_collection": self.network_collection,
            "application_collection": self.application_collection,
            "network_rules": [r.to_dict() for r in self.network_rules],
            "application_rules": [r.to_dict() for r in self.application_rules],
        }


@dataclass(frozen=True)
class UnenforcedFqdnRule:
    """FQDN egress (one name, one protocol, merged ports) that nothing planned enforces.

    ``to_dict()`` has the shape of the AWS planner's entries, so stack outputs agree.
    """

    fqdn: str
    protocol: str
    ports: tuple[PortRange, ...]
    sources: tuple[str, ...]  # "section / component" of the vendor rules
    reason: str

    @property
    def ports_text(self) -> str:
        """``443, 8443`` style."""
        return ", ".join(map(str, self.ports))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "fqdn": self.fqdn,
            "protocol": self.protocol,
            "ports": self.ports_text,
            "sources": list(self.sources),
            "reason": self.reason,
        }

    def describe(self) -> str:
        """``*.kore.ai tcp 443, 8443``."""
        return f"{self.fqdn} {self.protocol} {self.ports_text}"


@dataclass(frozen=True)
class AzurePlan:
    """Everything korefw will tell Azure, as plain data; ``to_dict()`` is deterministic."""

    region: str
    options: AzureOptions
    nsg_rules: tuple[NsgRule, ...]  # sorted by priority
    displaced: tuple[tuple[str, int, int], ...]  # (name, home, priority)
    ip_groups: tuple[IpGroupPlan, ...]
    firewall: FirewallPlan | None
    unenforced_fqdn_rules: tuple[UnenforcedFqdnRule, ...]
    warnings: tuple[str, ...] = field(default=())

    def allow_rules(self) -> list[NsgRule]:
        """The Allow rules, by priority."""
        return [r for r in self.nsg_rules if r.access == "Allow"]

    def rule_priorities(self) -> list[dict[str, Any]]:
        """``[{"name", "priority"}]`` of every NSG rule, by priority."""
        return [{"name": r.name, "priority": r.priority} for r in self.nsg_rules]

    def allow_set(self) -> AllowSet:
        """What the planned Allow rules allow (the component's output is checked separately)."""
        return AllowSet(b for r in self.allow_rules() for b in r.allow_set().boxes())

    def limits(self) -> dict[str, Any]:
        """What the plan uses of the Azure limits that apply to it, and what each is per."""
        o = self.options
        cidr_sources = sum(1 for p in o.source_address_prefixes if _prefix_kind(p) == "cidr")
        return {
            "rules": {"used": len(self.nsg_rules), "limit": MAX_NSG_RULES, "per": "NSG"},
            "destination_prefixes": {
                "used": sum(len(r.destination_address_prefixes) for r in self.allow_rules()),
                "limit": MAX_PREFIXES_PER_NSG,
                "per": "NSG (sources and destinations apart; not per rule)",
            },
            "source_prefixes": {
                "used": cidr_sources * len(self.nsg_rules),
                "limit": MAX_PREFIXES_PER_NSG,
                "per": "NSG (sources and destinations apart; not per rule)",
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, deterministic form."""
        o = self.options
        return {
            "region": self.region,
            "merge": o.merge,
            "priority_band": list(o.priority_band),
            "source_address_prefixes": list(o.source_address_prefixes),
            "deny_other_outbound": o.deny_other_outbound,
            "nsg_rules": [r.to_dict() for r in self.nsg_rules],
            "displaced": [{"name": n, "home": h, "priority": p} for n, h, p in self.displaced],
            "limits": self.limits(),
            "ip_groups": [g.to_dict() for g in self.ip_groups],
            "firewall": self.firewall.to_dict() if self.firewall else None,
            "unenforced_fqdn_rules": [u.to_dict() for u in self.unenforced_fqdn_rules],
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------- planning


@dataclass
class _Group:
    """Destinations of one protocol and IP version that share one port set."""

    identity: tuple[str, ...]
    scope: str
    protocol: str
    version: int
    ports: tuple[PortRange, ...]
    networks: list[IPNetwork] = field(default_factory=list)
    owners: set[tuple[str, str]] = field(default_factory=set)


def plan_azure(rules: RuleSet, options: AzureOptions | None = None) -> AzurePlan:
    """Plan ``rules`` for Azure: NSG rules, priorities, Firewall rules, unenforced FQDNs.

    Raises :class:`PlanError` when the plan cannot fit Azure's limits or the options.
    """
    o = options or AzureOptions()
    if not len(rules):
        raise PlanError("the rule set is empty: nothing to allow", where="rules")
    groups = _ip_groups(rules, o.merge)
    allow: list[tuple[str, str, _Group]] = []  # (key, name, group)
    for g in groups:
        parts = (g.scope, g.protocol, g.version, g.ports, g.identity)
        allow.append((_name("", *parts), _name(o.name_prefix, *parts), g))
    names = [n for _, n, _ in allow]
    if len(set(names)) != len(names):  # digest collision: never silently merge two rules
        dup = sorted(n for n in set(names) if names.count(n) > 1)
        raise PlanError("two NSG rules got the same name", where="name_prefix", value=dup[0])
    needed = len(allow) + (1 if o.deny_other_outbound else 0)
    if needed > MAX_NSG_RULES:
        raise PlanError(
            f"the plan needs {needed} NSG rules but an NSG holds at most {MAX_NSG_RULES} "
            f"(merge={o.merge!r}; merge='all' or fewer sections need fewer)",
            where="merge",
            value=o.merge,
        )
    _check_prefix_limit(o, [len(g.networks) for _, _, g in allow])
    lo, hi = o.priority_band
    a_lo, a_hi = o.allow_band
    if len(allow) > a_hi - a_lo + 1:
        raise PlanError(
            f"band {lo}-{hi} holds {a_hi - a_lo + 1} priorities for Allow rules ({hi} is "
            f"kept for the Deny rule) but the plan needs {len(allow)} Allow rules",
            where="priority_band",
            value=[lo, hi],
        )
    by_name = {n: k for k, n, _ in allow}
    keys = set(by_name.values())
    if len(keys) != len(allow):  # digest collision: never silently merge two rules
        raise PlanError("two NSG rules got the same key", where="rules", value=len(allow))
    pins: dict[str, int] = {}
    for pin, prio in (o.priorities or {}).items():
        key = by_name.get(pin, pin)
        if key not in keys:
            shown = sorted(names)
            raise PlanError(
                f"no NSG rule has this name or key (names: {', '.join(shown[:5])}"
                + (", ..." if len(shown) > 5 else "")
                + ")",
                where="priorities",
                value=pin,
            )
        if key in pins:
            raise PlanError("pinned twice (by name and by key)", where="priorities", value=pin)
        pins[key] = prio
    slots, moved = assign_priorities(keys, o.allow_band, pins)
    name_of = {k: n for k, n, _ in allow}
    displaced = [(name_of[k], h, p) for k, h, p in moved]
    nsg_rules = [
        NsgRule(
            name=name,
            priority=slots[key][0],
            access="Allow",
            protocol=g.protocol.capitalize(),
            destination_address_prefixes=tuple(str(n) for n in g.networks),
            destination_port_ranges=tuple(str(p) for p in g.ports),
            description=_description(rules.region, g.owners),
            home=slots[key][1],
            pinned=key in pins,
            key=key,
        )
        for key, name, g in allow
    ]
    if o.deny_other_outbound:
        nsg_rules.append(
            NsgRule(
                name=o.deny_rule_name,
                priority=hi,
                access="Deny",
                protocol="*",
                destination_address_prefixes=("Internet",),
                destination_port_ranges=("*",),
                description="korefw: deny other Internet egress (Azure allows it by default "
                "through AllowInternetOutBound, 65001)",
                home=hi,
                key=DENY_RULE_SUFFIX,
            )
        )
    nsg_rules.sort(key=lambda r: r.priority)
    allow_rules = [r for r in nsg_rules if r.access == "Allow"]
    ip_groups = (
        tuple(
            IpGroupPlan(r.name, r.destination_address_prefixes, r.name, key=r.key)
            for r in allow_rules
        )
        if o.ip_groups
        else ()
    )
    firewall, unenforced = _firewall(rules, o, allow_rules, bool(ip_groups))
    return AzurePlan(
        region=rules.region,
        options=o,
        nsg_rules=tuple(nsg_rules),
        displaced=tuple(sorted(displaced)),
        ip_groups=ip_groups,
        firewall=firewall,
        unenforced_fqdn_rules=unenforced,
        warnings=_warnings(rules, o, allow_rules, unenforced),
    )


def _check_prefix_limit(o: AzureOptions, destinations: list[int]) -> None:
    """Azure's 4,000 addresses and ranges per NSG, destinations and sources counted apart."""
    sources = sum(1 for p in o.source_address_prefixes if _prefix_kind(p) == "cidr")
    rules = len(destinations) + (1 if o.deny_other_outbound else 0)
    for side, count, where in (
        ("destination", sum(destinations), "rules"),
        ("source", sources * rules, "source_address_prefixes"),
    ):
        if count > MAX_PREFIXES_PER_NSG:
            raise PlanError(
                f"the NSG rules list {count} {side} addresses and ranges; Azure allows "
                f"{MAX_PREFIXES_PER_NSG} per NSG (a limit per network security group, not per "
                "rule, counted apart for sources and destinations)",
                where=where,
                value=count,
            )


def home_priority(name: str, band: tuple[int, int]) -> int:
    """The priority ``name`` hashes to within ``band`` (inclusive)."""
    lo, hi = band
    h = int(hashlib.sha256(name.encode()).hexdigest()[:16], 16)
    return lo + h % (hi - lo + 1)


def assign_priorities(
    names: Iterable[str], band: tuple[int, int], pins: Mapping[str, int]
) -> tuple[dict[str, tuple[int, int]], list[tuple[str, int, int]]]:
    """Unique priorities in ``band``: ``{name: (priority, home)}`` and the displaced ones.

    Pins first; then each rule whose home slot is free takes it (the smallest name wins
    a shared slot); the rest probe upward from home, wrapping within the band. The
    result depends on the set of names only, never on their order.
    """
    lo, hi = band
    size = hi - lo + 1
    todo = sorted(set(names))
    if len(todo) > size:
        raise PlanError(f"{len(todo)} NSG rules do not fit band {lo}-{hi}", where="priority_band")
    homes = {n: home_priority(n, band) for n in todo}
    out: dict[str, tuple[int, int]] = {}
    taken: set[int] = set()
    for n in todo:
        if n in pins:
            out[n] = (pins[n], homes[n])
            taken.add(pins[n])
    waiting: list[str] = []
    for n in todo:
        if n in out:
            continue
        if homes[n] in taken:
            waiting.append(n)
        else:
            out[n] = (homes[n], homes[n])
            taken.add(homes[n])
    displaced: list[tuple[str, int, int]] = []
    for n in waiting:
        p = homes[n]
        while p in taken:
            p = lo if p == hi else p + 1
        taken.add(p)
        out[n] = (p, homes[n])
        displaced.append((n, homes[n], p))
    return out, displaced


def _ip_groups(rules: RuleSet, merge: str) -> list[_Group]:
    """Exact NSG rule groups, sorted by identity."""
    if merge == "none":
        seen: dict[tuple[str, ...], _Group] = {}
        for r in rules.ip_rules():
            for proto in r.protocols:
                for version in sorted({n.version for n in r.cidrs}):
                    ident = ("none", r.key, str(proto), str(version))
                    g = seen.get(ident)
                    if g is None:
                        nets = [n for n in r.cidrs if n.version == version]
                        g = seen[ident] = _Group(
                            ident, r.section, str(proto), version, r.ports, nets
                        )
                    g.owners.add((r.section, r.component))
        return sorted(seen.values(), key=lambda g: g.identity)
    # (scope, protocol, version) -> [(ports, network, rule)]
    buckets: dict[tuple[str, str, int], list[tuple[tuple[PortRange, ...], IPNetwork, Rule]]] = (
        defaultdict(list)
    )
    for r in rules.ip_rules():
        scope = r.section if merge == "section" else ""
        for proto in r.protocols:
            for net in r.cidrs:
                buckets[(scope, str(proto), net.version)].append((r.ports, net, r))
    out: list[_Group] = []
    for (scope, proto, version), items in buckets.items():
        for ports, nets, owners in _regroup(items, version):
            ident = (merge, scope, proto, str(version), _ports_text(ports))
            out.append(_Group(ident, scope, proto, version, ports, nets, owners))
    return sorted(out, key=lambda g: g.identity)


def _regroup(
    items: list[tuple[tuple[PortRange, ...], IPNetwork, Rule]], version: int
) -> list[tuple[tuple[PortRange, ...], list[IPNetwork], set[tuple[str, str]]]]:
    """Cut the address space into pieces carrying the union of their ports; group by ports.

    A sweep over address boundaries: at each piece the live rules' port sets are
    unioned. The product of each group's ports and addresses, summed over the groups,
    is exactly the product the items allow.
    """
    events: dict[int, list[tuple[int, tuple[PortRange, ...]]]] = defaultdict(list)
    for ports, net, _ in items:
        lo, hi = network_span(net)
        events[lo].append((1, ports))
        events[hi + 1].append((-1, ports))
    live: dict[tuple[PortRange, ...], int] = {}
    unions: dict[frozenset[tuple[PortRange, ...]], tuple[PortRange, ...]] = {}
    segments: list[tuple[int, int, tuple[PortRange, ...]]] = []
    points = sorted(events)
    for i, p in enumerate(points):
        for delta, ports in events[p]:
            count = live.get(ports, 0) + delta
            if count:
                live[ports] = count
            else:
                del live[ports]
        if not live or i + 1 == len(points):
            continue
        key = frozenset(live)
        union = unions.get(key)
        if union is None:
            union = unions[key] = merge_ports(pr for ps in key for pr in ps)
        end = points[i + 1] - 1
        if segments and segments[-1][2] == union and segments[-1][1] + 1 == p:
            segments[-1] = (segments[-1][0], end, union)
        else:
            segments.append((p, end, union))
    starts = [s for s, _, _ in segments]
    owners: dict[tuple[PortRange, ...], set[tuple[str, str]]] = defaultdict(set)
    for _, net, rule in items:
        lo, hi = network_span(net)
        k = bisect.bisect_right(starts, lo) - 1
        while k < len(segments) and segments[k][0] <= hi:
            owners[segments[k][2]].add((rule.section, rule.component))
            k += 1
    spans: dict[tuple[PortRange, ...], list[tuple[int, int]]] = defaultdict(list)
    for s, e, union in segments:
        spans[union].append((s, e))
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    out = []
    for union, ivs in spans.items():
        nets: list[IPNetwork] = []
        for s, e in ivs:
            nets.extend(ipaddress.summarize_address_range(make(s), make(e)))  # type: ignore[arg-type]
        out.append((union, nets, owners[union]))
    return out


def _ports_text(ports: Iterable[PortRange]) -> str:
    return "_".join(str(p) for p in ports)


def _name(
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
        _ports_text(ports),
    ]
    readable = "-".join(p for p in parts if p)[: MAX_NAME_LEN - _NAME_TAIL].rstrip("-_.")
    return f"{readable}-{digest(*identity)}"


def _clean(text: str) -> str:
    return " ".join(text.split())


def _description(region: str, owners: Iterable[tuple[str, str]]) -> str:
    """``Kore.ai jp: Section / Component; ...`` within 140 characters."""
    head = f"Kore.ai {region}: " if region else "Kore.ai: "
    items = sorted({_clean(f"{s} / {c}" if c else s) for s, c in owners})
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


def _port_interval(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


# ---------------------------------------------------------------------------- FQDN rules


def _firewall(
    rules: RuleSet, o: AzureOptions, allow_rules: list[NsgRule], ip_groups: bool
) -> tuple[FirewallPlan | None, tuple[UnenforcedFqdnRule, ...]]:
    # (fqdn, protocol, reason) -> [(ports, source)]
    skipped: dict[tuple[str, str, str], list[tuple[PortRange, str]]] = defaultdict(list)
    # (kind, scope, protocol) -> fqdn -> ports; owners per (kind, scope, protocol, fqdn)
    fq: dict[tuple[str, str, str], dict[str, list[PortRange]]] = defaultdict(
        lambda: defaultdict(list)
    )
    fq_owners: dict[tuple[str, str, str, str], set[tuple[str, str]]] = defaultdict(set)

    def skip(
        r: Rule, proto: str, ports: Iterable[PortRange], fqdns: Iterable[str], why: str
    ) -> None:
        for f in fqdns:
            skipped[(f, proto, why)].extend((p, r.describe()) for p in ports)

    def add(kind: str, r: Rule, proto: str, fqdns: list[str], ports: Iterable[PortRange]) -> None:
        scope = {"none": r.key, "section": r.section, "all": ""}[o.merge]
        bucket = fq[(kind, scope, proto)]
        for f in fqdns:
            bucket[f].extend(ports)
            fq_owners[(kind, scope, proto, f)].add((r.section, r.component))

    for r in rules.fqdn_rules():
        for proto in map(str, r.protocols):
            if o.firewall_policy == "none":
                skip(r, proto, r.ports, r.fqdns, _NO_POLICY)
                continue
            wild = [f for f in r.fqdns if f.startswith("*.")]
            exact = [f for f in r.fqdns if not f.startswith("*.")]
            if exact:
                add("network", r, proto, exact, r.ports)
            if not wild:
                continue
            if proto != "tcp":
                skip(r, proto, r.ports, wild, _WILDCARD_UDP)
                continue
            fits = [p for p in r.ports if _spelled(p)]
            if fits:
                add("application", r, proto, wild, fits)
            if len(fits) < len(r.ports):
                skip(r, proto, [p for p in r.ports if not _spelled(p)], wild, _WILDCARD_PORTS)
    unenforced = tuple(
        UnenforcedFqdnRule(
            fqdn,
            proto,
            merge_ports(p for p, _ in items),
            tuple(sorted({src for _, src in items})),
            why,
        )
        for (fqdn, proto, why), items in sorted(skipped.items())
    )
    if o.firewall_policy == "none":
        return None, unenforced

    net_rules: list[FirewallRule] = [
        FirewallRule(
            name=r.name,
            kind="network",
            protocols=(r.protocol.upper(),),
            ports=r.destination_port_ranges,
            description=r.description,
            destination_addresses=() if ip_groups else r.destination_address_prefixes,
            destination_ip_group=r.name if ip_groups else "",
        )
        for r in sorted(allow_rules, key=lambda r: r.name)
    ]
    app_rules: list[FirewallRule] = []
    for (kind, scope, proto), by_fqdn in sorted(fq.items()):
        by_ports: dict[tuple[PortRange, ...], list[str]] = defaultdict(list)
        for f, ports in by_fqdn.items():
            by_ports[merge_ports(ports)].append(f)
        for ports, fqdns in sorted(by_ports.items()):
            fqdns.sort()
            owners = set().union(*(fq_owners[(kind, scope, proto, f)] for f in fqdns))
            ident = (o.merge, kind, scope, proto, _ports_text(ports), ",".join(fqdns))
            label = scope if o.merge == "section" else ""
            name = _name(o.name_prefix, label, f"fqdn-{proto}", 4, ports, ident)
            if kind == "network":
                net_rules.append(
                    FirewallRule(
                        name,
                        "network",
                        (proto.upper(),),
                        tuple(str(p) for p in ports),
                        _description(rules.region, owners),
                        destination_fqdns=tuple(fqdns),
                    )
                )
            else:
                spelled = tuple(str(n) for p in ports for n in range(p.lo, p.hi + 1))
                app_rules.append(
                    FirewallRule(
                        name,
                        "application",
                        ("Https",),
                        spelled,
                        _description(rules.region, owners),
                        target_fqdns=tuple(fqdns),
                    )
                )
    prefix = o.name_prefix
    plan = FirewallPlan(
        policy=o.firewall_policy,
        rule_collection_group=f"{prefix}-egress",
        priority=o.firewall_priority,
        source_addresses=o.firewall_source_addresses,
        network_collection=f"{prefix}-network",
        application_collection=f"{prefix}-application",
        network_rules=tuple(net_rules),
        application_rules=tuple(app_rules),
    )
    return plan, unenforced


def _spelled(p: PortRange) -> bool:
    return p.hi <= MAX_APPLICATION_PORT and p.size <= MAX_APPLICATION_PORTS_PER_RANGE


def _warnings(
    rules: RuleSet,
    o: AzureOptions,
    allow_rules: list[NsgRule],
    unenforced: tuple[UnenforcedFqdnRule, ...],
) -> tuple[str, ...]:
    out: list[str] = []
    if unenforced:
        shown = "; ".join(u.describe() for u in unenforced[:5])
        more = f"; +{len(unenforced) - 5} more" if len(unenforced) > 5 else ""
        out.append(
            f"{len(unenforced)} FQDN egress rule(s) are not enforced (NSG rules match "
            f"addresses only; see unenforced_fqdn_rules): {shown}{more}"
        )
    if o.deny_other_outbound and rules.fqdn_rules():
        out.append(
            "deny_other_outbound: the Deny rule also blocks FQDN egress through this NSG "
            "(an NSG sees the destination address, not the name); allow that traffic by "
            "address at a lower priority number"
        )
    return tuple(out)
