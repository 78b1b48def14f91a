"""AWS planner options, and the AWS limits every AWS plan keeps (names, descriptions, quotas).

A new AWS limit goes here as one constant, with the AWS documentation it comes from, and
is checked by the planner that builds the resource (:mod:`.aws_plan`, :mod:`.aws_fqdn`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .naming import digest

MODES = ("cidr", "prefix-list", "auto")
GROUPINGS = ("section", "component")
ENFORCEMENTS = ("network-firewall", "dns-firewall")

#: AWS: entries per managed prefix list.
MAX_PREFIX_LIST_ENTRIES = 1000
#: AWS: entries one CreateManagedPrefixList (or AddEntries) request takes (API reference:
#: Entry.N, "Maximum number of 100 items"); the Terraform provider pulumi-aws bridges sends
#: all of a new list's entries in one request (hashicorp/terraform-provider-aws#35371), so a
#: list korefw creates holds at most this many.
MAX_PREFIX_LIST_ENTRIES_PER_REQUEST = 100
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

#: AWS tags ("Tag restrictions", https://docs.aws.amazon.com/tag-editor/latest/userguide/
#: tagging.html and each service's tagging page): at most 50 user tags per resource; a key
#: is 1-128 Unicode characters and unique per resource (keys are case-sensitive, so
#: ``Env`` and ``env`` are two keys), a value 0-256; ``aws:`` in any upper or lower case
#: combination is reserved for AWS as a prefix of keys and values. korefw sets the tags of
#: :data:`KOREFW_TAG_KEYS` itself, so they count among the 50 and are not the user's.
MAX_TAGS = 50
MAX_TAG_KEY_LEN = 128
MAX_TAG_VALUE_LEN = 256
RESERVED_TAG_PREFIX = "aws:"
#: Tag keys korefw sets itself: a resource's name, and a prefix list's owner and key
#: (``korefw.components.held_aws``).
KOREFW_TAG_KEYS = ("Name", "korefw:owner", "korefw:list")

#: A security group's name "cannot start with sg-" (EC2 API reference, CreateSecurityGroup,
#: GroupName: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html);
#: korefw's group names start with ``name_prefix`` and ``-``.
RESERVED_GROUP_NAME_PREFIX = "sg-"

_NAME_PREFIX_RX = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
# Characters AWS accepts in VPC security group (rule) descriptions; anything else is mapped away.
_DESCRIPTION_BAD = re.compile(r"[^a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]+")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class AwsOptions:
    """How to express a rule set on AWS. Validated on construction (``ConfigError``).

    ``mode``: ``cidr`` (one egress rule per destination CIDR), ``prefix-list`` (egress rules
    reference managed prefix lists, one per section and vendor flow) or ``auto`` (per
    list, whichever costs less quota: the list, or the CIDR rules it would replace; on a
    tie the list when it has two entries or more).
    ``rule_limit``: egress rule quota per security group and IP version (AWS default 60).
    ``shard``: spread egress rules over several new security groups when over the limit.
    ``prefix_list_headroom``: spare entries per prefix list (``max_entries`` = entries +
    headroom; each reference costs ``max_entries``).
    ``prefix_list_grouping``: prefix lists per flow of each vendor ``section`` or of each
    ``component``.
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
        if not isinstance(self.name_prefix, str) or not _NAME_PREFIX_RX.fullmatch(self.name_prefix):
            raise ConfigError(
                "expected a-z, 0-9 and -, starting with a letter, at most 24 characters",
                where="name_prefix",
                value=self.name_prefix,
            )
        if f"{self.name_prefix}-".startswith(RESERVED_GROUP_NAME_PREFIX):
            raise ConfigError(
                "security group names may not start with sg- (AWS keeps it for group ids)",
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


def check_tags(tags: object, *, where: str = "tags") -> None:
    """Refuse tags AWS rejects (see :data:`MAX_TAGS`); ``None`` is no tags."""
    if tags is None:
        return
    if not isinstance(tags, Mapping):
        raise ConfigError("expected a mapping of tag keys to values", where=where, value=tags)
    for k, v in tags.items():
        if not isinstance(k, str) or not 1 <= len(k) <= MAX_TAG_KEY_LEN or not isinstance(v, str):
            raise ConfigError(
                f"tag keys are 1-{MAX_TAG_KEY_LEN} characters, values strings", where=where, value=k
            )
        if len(v) > MAX_TAG_VALUE_LEN:
            raise ConfigError(
                f"tag values are at most {MAX_TAG_VALUE_LEN} characters", where=where, value=k
            )
        for text in (k, v):
            if text.casefold().startswith(RESERVED_TAG_PREFIX):
                raise ConfigError(
                    "the prefix aws: (in any case) is reserved for AWS in tag keys and values",
                    where=f"{where}.{k}",
                    value=text,
                )
        if k in KOREFW_TAG_KEYS:
            raise ConfigError(f"korefw sets the {k} tag itself", where=where, value=k)
    if len(tags) + len(KOREFW_TAG_KEYS) > MAX_TAGS:
        raise ConfigError(
            f"AWS allows {MAX_TAGS} tags per resource and korefw adds "
            f"{len(KOREFW_TAG_KEYS)}: give at most {MAX_TAGS - len(KOREFW_TAG_KEYS)}",
            where=where,
            value=len(tags),
        )


def ports_name(lo: int, hi: int) -> str:
    """``443`` or ``5060-5061``."""
    return str(lo) if lo == hi else f"{lo}-{hi}"


def flow_text(proto: str, lo: int, hi: int) -> str:
    """``tcp 443``."""
    return f"{proto} {ports_name(lo, hi)}"


def bounded(name: str) -> str:
    """Names longer than :data:`MAX_NAME` keep their start and gain a digest of the whole."""
    if len(name) <= MAX_NAME:
        return name
    return f"{name[: MAX_NAME - 9]}-{digest(name)}"
