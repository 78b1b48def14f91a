"""The AWS planner: security groups, egress rules, prefix lists and FQDN allowlists as data.

Everything the Pulumi components in :mod:`korefw.aws` create is decided here, before any
resource exists: logical names, port merges, destination sets, quota counts, shards,
prefix-list entries, descriptions and FQDN rules. Bad options and plans that cannot fit
AWS's limits raise :class:`~korefw.core.errors.ConfigError` or
:class:`~korefw.core.errors.PlanError` here, so nothing is half-created.

How AWS counts, as modelled here:

* Each security group holds ``rule_limit`` (default 60) egress rules, counted apart for
  IPv4 and IPv6. One egress rule names one protocol, one port range and one destination.
* A rule that references a customer-managed prefix list costs the list's ``max_entries``,
  counted in the list's address family. (AWS documents that an *AWS-managed* list or
  security group reference counts once in each family; it does not say which family a
  customer-managed list counts in, and korefw only creates single-family lists.)
* A prefix list holds at most 1,000 entries.
* Defaults the plan warns about, because AWS lets you raise them: 5 security groups per
  network interface, and 100 customer-managed prefix lists per Region. (Amazon VPC
  quotas, https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html:
  "Security groups per network interface" 5, adjustable, and rules per group times groups
  per interface at most 1,000; "Prefix lists per Region" 100.)

Identity: every logical name derives from what a resource allows (protocol, ports,
destination, destination set), never from the position of a vendor row, so adding a row
only creates, removing one only deletes, and reordering changes nothing.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, PlanError
from ..rules.addresses import IPNetwork
from ..rules.allowset import AllowSet
from ..rules.model import Protocol, RuleSet
from .naming import digest, slug

MODES = ("cidr", "prefix-list", "auto")
GROUPINGS = ("section", "component")
ENFORCEMENTS = ("network-firewall", "dns-firewall")

#: AWS: entries per managed prefix list.
MAX_PREFIX_LIST_ENTRIES = 1000
#: AWS: rules per security group times groups per network interface may not exceed 1000.
MAX_RULE_LIMIT = 1000
#: AWS defaults (adjustable, so the plan warns): security groups per network interface,
#: customer-managed prefix lists per Region.
DEFAULT_GROUPS_PER_INTERFACE = 5
DEFAULT_PREFIX_LISTS_PER_REGION = 100
#: AWS: characters in a security group, egress rule or prefix-list entry description.
MAX_DESCRIPTION = 255
#: AWS Network Firewall: the largest capacity of a stateful rule group.
MAX_NETWORK_FIREWALL_CAPACITY = 30000
#: Longest logical name korefw gives a child resource (before the component's own name).
MAX_NAME = 100

_NAME_PREFIX_RX = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
# Characters AWS accepts in VPC security group (rule) descriptions; anything else is mapped away.
_DESCRIPTION_BAD = re.compile(r"[^a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]+")
_SID_BASE = 1_000_000
_SID_SPAN = 8_999_999


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class AwsOptions:
    """How to express a rule set on AWS. Validated on construction (``ConfigError``).

    ``mode``: ``cidr`` (one egress rule per destination CIDR), ``prefix-list`` (egress rules
    reference managed prefix lists) or ``auto`` (per destination set, whichever costs less
    quota; on a tie a prefix list when it has two entries or more).
    ``rule_limit``: egress rule quota per security group and IP version (AWS default 60).
    ``shard``: spread egress rules over several new security groups when over the limit.
    ``prefix_list_headroom``: spare entries per prefix list (``max_entries`` = entries +
    headroom; each reference costs ``max_entries``).
    ``prefix_list_grouping``: one destination set per vendor ``section`` or ``component``.
    ``fqdn_enforcement``: where FQDN egress rules are enforced, any of
    ``network-firewall`` and ``dns-firewall``; FQDN rules no choice covers are reported.
    ``existing_group``: egress rules go into one existing security group (no sharding).
    ``network_firewall_capacity``: capacity of the Network Firewall rule group; ``None``
    rounds the need up to a multiple of 100 (capacity cannot change without replacement).
    ``dns_firewall_priority``: priority of the DNS Firewall rule group's VPC association.
    """

    mode: str = "cidr"
    rule_limit: int = 60
    shard: bool = True
    prefix_list_headroom: int = 0
    prefix_list_grouping: str = "section"
    fqdn_enforcement: tuple[str, ...] = ()
    name_prefix: str = "korefw"
    existing_group: bool = False
    network_firewall_capacity: int | None = None
    dns_firewall_priority: int = 101

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(
                f"unknown mode; expected one of {', '.join(MODES)}", where="mode", value=self.mode
            )
        _need_int(self.rule_limit, "rule_limit", 1, MAX_RULE_LIMIT)
        if not isinstance(self.shard, bool):
            raise ConfigError("expected true or false", where="shard", value=self.shard)
        _need_int(self.prefix_list_headroom, "prefix_list_headroom", 0, MAX_PREFIX_LIST_ENTRIES - 1)
        if self.prefix_list_grouping not in GROUPINGS:
            raise ConfigError(
                f"unknown grouping; expected one of {', '.join(GROUPINGS)}",
                where="prefix_list_grouping",
                value=self.prefix_list_grouping,
            )
        raw = self.fqdn_enforcement
        items = (raw,) if isinstance(raw, str) else tuple(raw or ())
        for item in items:
            if item not in ENFORCEMENTS:
                raise ConfigError(
                    f"unknown FQDN enforcement; expected any of {', '.join(ENFORCEMENTS)}",
                    where="fqdn_enforcement",
                    value=item,
                )
        object.__setattr__(self, "fqdn_enforcement", tuple(e for e in ENFORCEMENTS if e in items))
        if not isinstance(self.name_prefix, str) or not _NAME_PREFIX_RX.match(self.name_prefix):
            raise ConfigError(
                "expected a-z, 0-9 and -, starting with a letter, at most 24 characters",
                where="name_prefix",
                value=self.name_prefix,
            )
        if not isinstance(self.existing_group, bool):
            raise ConfigError(
                "expected true or false", where="existing_group", value=self.existing_group
            )
        if self.network_firewall_capacity is not None:
            _need_int(
                self.network_firewall_capacity,
                "network_firewall_capacity",
                1,
                MAX_NETWORK_FIREWALL_CAPACITY,
            )
        _need_int(self.dns_firewall_priority, "dns_firewall_priority", 100, 9900)

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-able data."""
        return {
            "mode": self.mode,
            "rule_limit": self.rule_limit,
            "shard": self.shard,
            "prefix_list_headroom": self.prefix_list_headroom,
            "prefix_list_grouping": self.prefix_list_grouping,
            "fqdn_enforcement": list(self.fqdn_enforcement),
            "name_prefix": self.name_prefix,
            "existing_group": self.existing_group,
            "network_firewall_capacity": self.network_firewall_capacity,
            "dns_firewall_priority": self.dns_firewall_priority,
        }


def _need_int(value: object, where: str, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"expected an integer from {lo} to {hi}", where=where, value=value)


# --------------------------------------------------------------------------- plan data


@dataclass(frozen=True)
class PrefixListEntryPlan:
    """One prefix-list entry."""

    cidr: str
    description: str


@dataclass(frozen=True)
class PrefixListPlan:
    """One managed prefix list: a destination set whose CIDRs all need the same flows."""

    key: str  # stable set name; also the key of the ``prefix_list_ids`` output
    name: str  # the AWS name
    address_family: str  # IPv4 | IPv6
    entries: tuple[PrefixListEntryPlan, ...]
    max_entries: int
    #: (protocol, from port, to port) every entry needs; a referencing egress rule each.
    flows: tuple[tuple[str, int, int], ...]
    sources: tuple[str, ...]  # "section / component" the entries come from
    #: The key korefw 0.x gave this set, where it differs (an alias keeps the resource).
    former_key: str | None = None

    @property
    def resource_name(self) -> str:
        """Logical name suffix of the ``ManagedPrefixList``."""
        return f"pl-{self.key}"

    @property
    def former_resource_name(self) -> str | None:
        """The logical name suffix korefw 0.x used, where it differs."""
        return f"pl-{self.former_key}" if self.former_key else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "key": self.key,
            "name": self.name,
            "address_family": self.address_family,
            "max_entries": self.max_entries,
            "entries": [{"cidr": e.cidr, "description": e.description} for e in self.entries],
            "flows": [_flow_text(*f) for f in self.flows],
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class EgressRulePlan:
    """One ``SecurityGroupEgressRule``: a protocol, a port range and one destination."""

    name: str  # logical name suffix, from content
    protocol: str
    from_port: int
    to_port: int
    family: int  # 4 | 6
    description: str
    cost: int  # quota units in ``family``
    group: int  # 1-based index of the security group
    cidr: str | None = None
    prefix_list: str | None = None  # PrefixListPlan.key
    #: The name korefw 0.x gave this rule, where it differs (an alias keeps the resource).
    former_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out: dict[str, Any] = {
            "name": self.name,
            "group": self.group,
            "protocol": self.protocol,
            "from_port": self.from_port,
            "to_port": self.to_port,
            "ip_version": self.family,
            "cost": self.cost,
            "description": self.description,
        }
        if self.cidr is not None:
            out["cidr"] = self.cidr
        if self.prefix_list is not None:
            out["prefix_list"] = self.prefix_list
        return out


@dataclass(frozen=True)
class GroupPlan:
    """One security group (or the existing one) and the quota its egress rules use."""

    index: int  # 1-based
    description: str
    rules: tuple[str, ...]  # EgressRulePlan.name
    ipv4: int
    ipv6: int

    @property
    def resource_name(self) -> str:
        """Logical name suffix of the ``SecurityGroup``."""
        return f"sg-{self.index}"

    def quota(self) -> dict[str, int]:
        """Quota units used, per IP version."""
        return {"group": self.index, "ipv4": self.ipv4, "ipv6": self.ipv6}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**self.quota(), "description": self.description, "rules": list(self.rules)}


@dataclass(frozen=True)
class FqdnFlow:
    """FQDN egress: one name, one protocol, merged destination ports."""

    fqdn: str
    protocol: str
    ports: tuple[tuple[int, int], ...]
    sources: tuple[str, ...]

    @property
    def ports_text(self) -> str:
        """``443, 8443`` style."""
        return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ports)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "fqdn": self.fqdn,
            "protocol": self.protocol,
            "ports": self.ports_text,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class UnenforcedFqdnRule:
    """An FQDN flow that no chosen enforcement point expresses, and why."""

    flow: FqdnFlow
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**self.flow.to_dict(), "reason": self.reason}


@dataclass(frozen=True)
class NetworkFirewallPlan:
    """A stateful Suricata rule group passing TLS SNI and HTTP Host to the vendor's names."""

    capacity: int
    rules: tuple[str, ...]
    description: str = ""

    resource_name = "nfw"

    @property
    def rules_string(self) -> str:
        """The Suricata rules, one a line."""
        return "\n".join(self.rules) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "capacity": self.capacity,
            "description": self.description,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class DnsFirewallPlan:
    """A Route 53 Resolver DNS Firewall domain list and a rule group that ALLOWs it."""

    name: str  # AWS name of the domain list, rule group and rule
    domains: tuple[str, ...]
    priority: int  # of the VPC association
    rule_priority: int = 100

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name,
            "domains": list(self.domains),
            "association_priority": self.priority,
            "rule_priority": self.rule_priority,
        }


@dataclass(frozen=True)
class FqdnPlan:
    """Where the FQDN egress rules go, and which are left unenforced."""

    flows: tuple[FqdnFlow, ...]
    network_firewall: NetworkFirewallPlan | None
    dns_firewall: DnsFirewallPlan | None
    unenforced: tuple[UnenforcedFqdnRule, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "flows": [f.to_dict() for f in self.flows],
            "network_firewall": self.network_firewall.to_dict() if self.network_firewall else None,
            "dns_firewall": self.dns_firewall.to_dict() if self.dns_firewall else None,
            "unenforced_fqdn_rules": [u.to_dict() for u in self.unenforced],
        }


@dataclass(frozen=True)
class AwsPlan:
    """Everything korefw will create on AWS for one rule set, as plain data."""

    region: str
    options: AwsOptions
    groups: tuple[GroupPlan, ...]
    rules: tuple[EgressRulePlan, ...]
    prefix_lists: tuple[PrefixListPlan, ...]
    fqdn: FqdnPlan
    notes: tuple[str, ...] = field(default=())

    @property
    def rule_count(self) -> int:
        """How many egress rules."""
        return len(self.rules)

    @property
    def quota_used(self) -> list[dict[str, int]]:
        """Quota units per security group and IP version."""
        return [g.quota() for g in self.groups]

    @property
    def unenforced_fqdn_rules(self) -> list[dict[str, Any]]:
        """FQDN flows no enforcement point expresses."""
        return [u.to_dict() for u in self.fqdn.unenforced]

    def prefix_list(self, key: str) -> PrefixListPlan:
        """The prefix list with ``key``."""
        return next(p for p in self.prefix_lists if p.key == key)

    def allow_set(self) -> AllowSet:
        """The IP flows the planned egress rules allow (prefix lists expanded)."""
        lists = {p.key: p for p in self.prefix_lists}
        boxes = []
        for r in self.rules:
            if r.cidr is not None:
                cidrs = [r.cidr]
            else:
                cidrs = [e.cidr for e in lists[r.prefix_list or ""].entries]
            nets = [ipaddress.ip_network(c) for c in cidrs]
            boxes.extend(AllowSet.of(r.protocol, [(r.from_port, r.to_port)], nets).boxes())
        return AllowSet(boxes)

    def to_dict(self) -> dict[str, Any]:
        """The plan as deterministic JSON-able data (the components' ``plan`` output)."""
        return {
            "region": self.region,
            "options": self.options.to_dict(),
            "rule_count": self.rule_count,
            "quota_used": self.quota_used,
            "security_groups": [g.to_dict() for g in self.groups],
            "egress_rules": [r.to_dict() for r in self.rules],
            "prefix_lists": [p.to_dict() for p in self.prefix_lists],
            "fqdn": self.fqdn.to_dict(),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- planning


def plan_aws(rules: RuleSet, options: AwsOptions | None = None) -> AwsPlan:
    """Plan security groups, egress rules, prefix lists and FQDN enforcement for ``rules``."""
    opts = options or AwsOptions()
    contribs = _contributions(rules, opts)
    sets = _destination_sets(contribs, opts, rules.region)
    use_list = {s.key: _choose_list(s, opts) for s in sets}
    lists = tuple(s.plan for s in sets if use_list[s.key])
    egress = _cidr_rules(c for s in sets if not use_list[s.key] for c in s.contribs)
    for pl in lists:
        egress.extend(_reference_rules(pl))
    rules_out, groups = _shard(egress, opts, rules.region)
    notes = []
    if opts.existing_group:
        notes.append(
            "egress rules go into an existing security group: remove its default allow-all "
            "egress rule yourself, or these rules change nothing"
        )
    if len(groups) > DEFAULT_GROUPS_PER_INTERFACE:
        notes.append(
            f"the egress rules need {len(groups)} security groups, and an instance needs all "
            f"of them on its network interface: AWS allows {DEFAULT_GROUPS_PER_INTERFACE} "
            "security groups per network interface by default (adjustable; rules per group "
            "times groups per interface may not exceed 1000)"
        )
    too_many = prefix_list_quota_note(len(lists))
    if too_many:
        notes.append(too_many)
    return AwsPlan(
        region=rules.region,
        options=opts,
        groups=groups,
        rules=rules_out,
        prefix_lists=lists,
        fqdn=plan_fqdn(rules, opts),
        notes=tuple(notes),
    )


def plan_prefix_lists(
    rules: RuleSet, options: AwsOptions | None = None
) -> tuple[PrefixListPlan, ...]:
    """Every destination set of ``rules`` as a prefix list (for reuse by other stacks)."""
    opts = options or AwsOptions()
    sets = _destination_sets(_contributions(rules, opts), opts, rules.region)
    for s in sets:
        _check_list_size(s.plan)
    return tuple(s.plan for s in sets)


def prefix_list_quota_note(count: int) -> str | None:
    """A warning when ``count`` prefix lists pass AWS's default quota per Region."""
    if count <= DEFAULT_PREFIX_LISTS_PER_REGION:
        return None
    return (
        f"the plan creates {count} managed prefix lists; AWS allows "
        f"{DEFAULT_PREFIX_LISTS_PER_REGION} customer-managed prefix lists per Region by "
        "default (adjustable), counting those other stacks already created there"
    )


@dataclass(frozen=True)
class _Contribution:
    """One (destination set, CIDR, protocol, port range) a vendor row asks for."""

    label: str
    net: IPNetwork
    protocol: str
    lo: int
    hi: int
    source: str


def _contributions(rules: RuleSet, opts: AwsOptions) -> list[_Contribution]:
    out = []
    for r in rules.ip_rules():
        label = (
            r.section
            if opts.prefix_list_grouping == "section" or not r.component
            else (f"{r.section} / {r.component}")
        )
        source = r.describe()
        for net in r.cidrs:
            if net.prefixlen == 0:
                raise PlanError(
                    "refusing an egress rule to every address", where=str(r.origin), value=str(net)
                )
            for proto in r.protocols:
                for p in r.ports:
                    out.append(_Contribution(label, net, str(proto), p.lo, p.hi, source))
    return out


def _merge_sourced(items: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Merge overlapping or adjacent port ranges exactly, keeping where each came from."""
    out: list[tuple[int, int, set[str]]] = []
    for lo, hi, src in sorted(items):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi), out[-1][2] | {src})
        else:
            out.append((lo, hi, {src}))
    return [(lo, hi, tuple(sorted(srcs))) for lo, hi, srcs in out]


def _net_key(net: IPNetwork) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def _cidr_rules(contribs: Iterable[_Contribution]) -> list[EgressRulePlan]:
    """One egress rule per (protocol, merged port range, CIDR)."""
    by_dest: dict[tuple[str, IPNetwork], list[tuple[int, int, str]]] = defaultdict(list)
    for c in contribs:
        by_dest[(c.protocol, c.net)].append((c.lo, c.hi, c.source))
    out = []
    for (proto, net), items in by_dest.items():
        for lo, hi, sources in _merge_sourced(items):
            dest = str(net).replace(":", "_").replace("/", "-")
            out.append(
                EgressRulePlan(
                    name=_bounded(f"{proto}-{_ports_name(lo, hi)}-to-{dest}"),
                    protocol=proto,
                    from_port=lo,
                    to_port=hi,
                    family=net.version,
                    description=description("; ".join(sources)),
                    cost=1,
                    group=0,
                    cidr=str(net),
                )
            )
    return out


def _reference_rules(pl: PrefixListPlan) -> list[EgressRulePlan]:
    family = 4 if pl.address_family == "IPv4" else 6
    text = "; ".join(pl.sources)
    return [
        EgressRulePlan(
            name=_bounded(f"{proto}-{_ports_name(lo, hi)}-to-pl-{pl.key}"),
            former_name=(
                _bounded(f"{proto}-{_ports_name(lo, hi)}-to-pl-{pl.former_key}")
                if pl.former_key
                else None
            ),
            protocol=proto,
            from_port=lo,
            to_port=hi,
            family=family,
            description=description(f"prefix list {pl.name}: {text}"),
            cost=pl.max_entries,
            group=0,
            prefix_list=pl.key,
        )
        for proto, lo, hi in pl.flows
    ]


@dataclass(frozen=True)
class _DestSet:
    key: str
    contribs: tuple[_Contribution, ...]
    plan: PrefixListPlan


def _destination_sets(
    contribs: list[_Contribution], opts: AwsOptions, region: str
) -> list[_DestSet]:
    """Partition destinations by (label, IP version, the exact flows each CIDR needs).

    Within one set every CIDR needs the same flows, so egress rules referencing the set's
    prefix list with each of those flows allow exactly the vendor's flows, nothing more.
    Keys: ``<label slug>-ipv4-<digest of the flows>``, from the set's own content only, so
    adding or removing a row moves no CIDR whose flows stay the same: only the lists whose
    entries change are touched. (korefw 0.x gave the profile with most CIDRs the plain
    ``<label slug>-ipv4``, so a row could swap two lists' keys; that key is kept as
    ``former_key`` for an alias.)
    """
    # (label, version) -> net -> protocol -> [(lo, hi, source)]
    per_net: dict[tuple[str, int], dict[IPNetwork, list[_Contribution]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for c in contribs:
        per_net[(c.label, c.net.version)][c.net].append(c)
    bases = _label_bases({label for label, _ in per_net})
    out = []
    for (label, version), nets in sorted(per_net.items()):
        by_profile: dict[tuple[tuple[str, int, int], ...], list[IPNetwork]] = defaultdict(list)
        for net, cs in nets.items():
            by_proto: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
            for c in cs:
                by_proto[c.protocol].append((c.lo, c.hi, c.source))
            profile = tuple(
                (proto, lo, hi)
                for proto in sorted(by_proto)
                for lo, hi, _ in _merge_sourced(by_proto[proto])
            )
            by_profile[profile].append(net)
        ranked = sorted(by_profile.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for rank, (profile, members) in enumerate(ranked):
            key = f"{bases[label]}-ipv{version}-{digest(*profile, length=6)}"
            former = None if rank else f"{bases[label]}-ipv{version}"
            members.sort(key=_net_key)
            entries = []
            sources: set[str] = set()
            for net in members:
                srcs = sorted({c.source for c in nets[net]})
                sources.update(srcs)
                entries.append(PrefixListEntryPlan(str(net), description("; ".join(srcs))))
            name = "-".join(p for p in (opts.name_prefix, region, key) if p)
            plan = PrefixListPlan(
                key=key,
                name=name,
                address_family=f"IPv{version}",
                entries=tuple(entries),
                max_entries=len(entries) + opts.prefix_list_headroom,
                flows=profile,
                sources=tuple(sorted(sources)),
                former_key=former,
            )
            mine = tuple(c for n in members for c in nets[n])
            out.append(_DestSet(key, mine, plan))
    if len({s.key for s in out}) != len(out):  # a 6-digit digest collision; never seen
        raise PlanError("two destination sets got the same prefix-list key; rename a section")
    return out


def _label_bases(labels: set[str]) -> dict[str, str]:
    """A short slug per label; labels that slug alike get a digest to stay apart."""
    first = {label: slug(label, max_len=60) or "rules" for label in labels}
    count: dict[str, int] = defaultdict(int)
    for base in first.values():
        count[base] += 1
    return {
        label: base if count[base] == 1 else f"{base[:53]}-{digest(label, length=6)}"
        for label, base in first.items()
    }


def _check_list_size(pl: PrefixListPlan) -> None:
    if pl.max_entries > MAX_PREFIX_LIST_ENTRIES:
        raise PlanError(
            f"prefix list {pl.key} needs max_entries {len(pl.entries)} entries + "
            f"{pl.max_entries - len(pl.entries)} headroom = {pl.max_entries}, over AWS's "
            f"limit of {MAX_PREFIX_LIST_ENTRIES} (use prefix_list_grouping='component', "
            "less headroom, or mode 'cidr' or 'auto')",
            where="prefix_list_headroom",
            value=pl.max_entries,
        )


def _choose_list(s: _DestSet, opts: AwsOptions) -> bool:
    """Whether a destination set becomes a prefix list referenced by the security group."""
    pl = s.plan
    if opts.mode == "cidr":
        return False
    fits = pl.max_entries <= min(opts.rule_limit, MAX_PREFIX_LIST_ENTRIES)
    if opts.mode == "prefix-list":
        _check_list_size(pl)
        if not fits:
            raise PlanError(
                f"a reference to prefix list {pl.key} costs {pl.max_entries} quota units "
                f"(its max_entries), over the rule_limit of {opts.rule_limit}: no security "
                "group can hold it (raise rule_limit, or use mode 'auto' or 'cidr')",
                where="rule_limit",
                value=opts.rule_limit,
            )
        return True
    if not fits:
        return False
    as_list = len(pl.flows) * pl.max_entries
    as_cidrs = len(pl.flows) * len(pl.entries)
    # Equal cost (no headroom): a list means fewer egress rules and one place to update.
    return as_list < as_cidrs or (as_list == as_cidrs and len(pl.entries) >= 2)


def _shard(
    egress: list[EgressRulePlan], opts: AwsOptions, region: str
) -> tuple[tuple[EgressRulePlan, ...], tuple[GroupPlan, ...]]:
    """Assign egress rules to security groups, each within ``rule_limit`` per IP version.

    Rules are filled in a fixed content order (destination, protocol, ports) into as few
    groups as that order allows, IPv4 and IPv6 each on their own. Stable, not perfectly
    so: adding or removing a one-unit rule moves at most one rule across each later group
    boundary (a replacement, created before the old one is deleted); a prefix-list
    reference, which costs its ``max_entries``, can move a few more. Hash placement would
    avoid those moves but needs spare room in every group, i.e. more security groups per
    network interface (AWS allows 5 by default).
    """
    limit = opts.rule_limit
    assigned: dict[str, int] = {}
    used: dict[int, dict[int, int]] = defaultdict(lambda: {4: 0, 6: 0})
    for family in (4, 6):
        mine = sorted((r for r in egress if r.family == family), key=_shard_key)
        total = sum(r.cost for r in mine)
        if total > limit and (opts.existing_group or not opts.shard):
            why = (
                "an existing security group cannot be sharded"
                if opts.existing_group
                else "sharding is off (shard=False)"
            )
            raise PlanError(
                f"the egress rules need {total} IPv{family} quota units in one security group, "
                f"over the rule_limit of {limit}; {why} (raise rule_limit if your quota allows, "
                "or select fewer sections)",
                where="rule_limit",
                value=limit,
            )
        group, room = 1, limit
        for r in mine:
            if r.cost > limit:  # only a prefix-list reference can; _choose_list prevents it
                raise PlanError(
                    f"egress rule {r.name} costs {r.cost} quota units, over the rule_limit",
                    where="rule_limit",
                    value=limit,
                )
            if r.cost > room:
                group, room = group + 1, limit
            assigned[r.name] = group
            used[group][family] += r.cost
            room -= r.cost
    count = max([1, *used])
    out_rules = tuple(
        sorted(
            (_with_group(r, assigned[r.name]) for r in egress),
            key=lambda r: (r.group, _shard_key(r)),
        )
    )
    names: dict[int, list[str]] = defaultdict(list)
    for r in out_rules:
        names[r.group].append(r.name)
    # No name_prefix in the description: AWS replaces a group whose description changes,
    # and the network interfaces would stay on the old one.
    where = f" {region}" if region else ""
    groups = tuple(
        GroupPlan(
            index=i,
            description=description(f"korefw: egress rules for Kore.ai{where}, group {i}"),
            rules=tuple(names[i]),
            ipv4=used[i][4] if i in used else 0,
            ipv6=used[i][6] if i in used else 0,
        )
        for i in range(1, count + 1)
    )
    return out_rules, groups


def _shard_key(r: EgressRulePlan) -> tuple[Any, ...]:
    if r.cidr is not None:
        dest: tuple[Any, ...] = (0, *_net_key(ipaddress.ip_network(r.cidr)), "")
    else:
        dest = (1, 0, 0, 0, r.prefix_list or "")
    return (*dest, r.protocol, r.from_port, r.to_port)


def _with_group(r: EgressRulePlan, group: int) -> EgressRulePlan:
    return EgressRulePlan(
        name=r.name,
        protocol=r.protocol,
        from_port=r.from_port,
        to_port=r.to_port,
        family=r.family,
        description=r.description,
        cost=r.cost,
        group=group,
        cidr=r.cidr,
        prefix_list=r.prefix_list,
        former_name=r.former_name,
    )


# --------------------------------------------------------------------------- FQDN


def plan_fqdn(rules: RuleSet, options: AwsOptions | None = None) -> FqdnPlan:
    """Plan the FQDN egress rules: Network Firewall, DNS Firewall, or reported unenforced.

    Network Firewall gets Suricata ``pass`` rules, one for TLS SNI and one for HTTP Host
    per name and TCP port set, restricted to the vendor's ports (a plain domain list
    would pass any port). ``*.kore.ai`` matches names ending in ``.kore.ai`` but not
    ``kore.ai`` itself, as the vendor writes it. UDP has neither SNI nor Host, so UDP
    FQDN flows cannot be matched there. A TCP flow that is neither TLS nor HTTP (plain
    SIP on 5060, say) is not matched by name either: such flows need an address rule.
    DNS Firewall allows resolving the names; it does not restrict ports or protocols.
    """
    opts = options or AwsOptions()
    grouped: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    for r in rules.fqdn_rules():
        for fqdn in r.fqdns:
            for proto in r.protocols:
                for p in r.ports:
                    grouped[(fqdn, str(proto))].append((p.lo, p.hi, r.describe()))
    flows = []
    for (fqdn, proto), items in sorted(grouped.items()):
        merged = _merge_sourced(items)
        sources = tuple(sorted({s for _, _, srcs in merged for s in srcs}))
        flows.append(FqdnFlow(fqdn, proto, tuple((lo, hi) for lo, hi, _ in merged), sources))
    enforce = set(opts.fqdn_enforcement)
    nfw = None
    if "network-firewall" in enforce:
        lines = _suricata_rules([f for f in flows if f.protocol == Protocol.TCP])
        if lines:
            need = len(lines)
            capacity = opts.network_firewall_capacity
            if capacity is None:
                capacity = max(100, math.ceil(need / 100) * 100)
            elif capacity < need:
                raise PlanError(
                    f"the Network Firewall rule group needs capacity {need} (one per rule)",
                    where="network_firewall_capacity",
                    value=capacity,
                )
            where = f", region {rules.region}" if rules.region else ""
            nfw = NetworkFirewallPlan(
                capacity=capacity,
                rules=tuple(lines),
                description=description(f"{opts.name_prefix}: Kore.ai FQDN egress rules{where}"),
            )
    dns = None
    if "dns-firewall" in enforce and flows:
        name = "-".join(p for p in (opts.name_prefix, rules.region, "fqdn") if p)
        dns = DnsFirewallPlan(
            name=name,
            domains=tuple(sorted({f.fqdn for f in flows})),
            priority=opts.dns_firewall_priority,
        )
    unenforced = []
    for f in flows:
        if "dns-firewall" in enforce:
            continue
        if "network-firewall" in enforce and f.protocol == Protocol.TCP:
            continue
        if not enforce:
            reason = (
                "no FQDN enforcement chosen (fqdn_enforcement is empty); a security group "
                "cannot match names"
            )
        else:
            reason = "network-firewall matches TLS SNI and HTTP Host only, which UDP does not carry"
        unenforced.append(UnenforcedFqdnRule(f, reason))
    return FqdnPlan(tuple(flows), nfw, dns, tuple(unenforced))


def _suricata_rules(flows: list[FqdnFlow]) -> list[str]:
    lines: list[tuple[str, str]] = []  # (identity, rule without sid)
    for f in flows:
        ports = _suricata_ports(f.ports)
        if f.fqdn.startswith("*."):
            suffix = f.fqdn[1:]  # ".kore.ai": the dot keeps "kore.ai" and "evilkore.ai" out
            sni = f'content:"{suffix}"; nocase; endswith;'
            host = f'content:"{suffix}"; endswith;'
        else:
            sni = f'content:"{f.fqdn}"; nocase; startswith; endswith;'
            host = f'content:"{f.fqdn}"; startswith; endswith;'
        msg = _suricata_text(f"korefw {f.fqdn} tcp {f.ports_text}: {'; '.join(f.sources)}")
        for app, buffer, match in (("tls", "tls.sni", sni), ("http", "http.host", host)):
            body = (
                f"pass {app} $HOME_NET any -> $EXTERNAL_NET {ports} "
                f'(msg:"{msg}"; flow:to_server,established; {buffer}; {match}'
            )
            lines.append((f"{app}|{f.fqdn}|{ports}", body))
    used: set[int] = set()
    out = []
    for identity, body in sorted(lines):
        sid = _SID_BASE + int(digest(identity, length=12), 16) % _SID_SPAN
        while sid in used:  # rare; deterministic because lines are sorted
            sid = _SID_BASE + (sid - _SID_BASE + 1) % _SID_SPAN
        used.add(sid)
        out.append(f"{body} sid:{sid}; rev:1;)")
    return out


def _suricata_ports(ports: tuple[tuple[int, int], ...]) -> str:
    parts = [str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in ports]
    return parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"


def _suricata_text(text: str) -> str:
    return description(text).replace(";", ",")[:200]


# --------------------------------------------------------------------------- text


def description(text: str) -> str:
    """Text AWS accepts as a description: allowed characters only, at most 255 of them.

    Accents fold to ASCII (``é`` -> ``e``); other characters (``↳``, ``†``, quotes, ``<``)
    become spaces; runs of spaces collapse.
    """
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    clean = " ".join(_DESCRIPTION_BAD.sub(" ", folded).split())
    if len(clean) > MAX_DESCRIPTION:
        clean = clean[: MAX_DESCRIPTION - 3].rstrip() + "..."
    return clean


def _ports_name(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _flow_text(proto: str, lo: int, hi: int) -> str:
    return f"{proto} {_ports_name(lo, hi)}"


def _bounded(name: str) -> str:
    """Names longer than :data:`MAX_NAME` keep their start and gain a digest of the whole."""
    if len(name) <= MAX_NAME:
        return name
    return f"{name[: MAX_NAME - 9]}-{digest(name)}"
