"""Stack settings: one typed schema, validated before any resource exists.

Pulumi's project-level config schema (``Pulumi.yaml``) knows ``string``, ``boolean``,
``integer`` and ``array``, so every korefw setting is a flat, typed key
(``korefw:awsVpcId``) rather than a nested object. :data:`SCHEMA` is the single
source of truth; a test checks ``Pulumi.yaml`` against it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

PROJECT = "korefw"

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Setting:
    """One stack setting: its type, default, meaning and extra check."""

    type: str  # string | boolean | integer | array
    default: Any
    description: str
    items: str | None = None  # item type of an array
    check: Check | None = field(default=None, compare=False)
    expected: str = ""


def _choice(*options: str) -> tuple[Check, str]:
    def check(v: Any) -> str | None:
        return None if v in options else f"one of {', '.join(options)}"

    return check, "one of " + ", ".join(options)


def _each(*options: str) -> tuple[Check, str]:
    def check(v: Any) -> str | None:
        bad = [x for x in v if x not in options]
        return None if not bad else f"a list of {', '.join(options)}"

    return check, "a list of " + ", ".join(options)


def _pattern(rx: str, expected: str, *, empty_ok: bool = True) -> tuple[Check, str]:
    compiled = re.compile(rx)

    def check(v: Any) -> str | None:
        if v == "" and empty_ok:
            return None
        return None if compiled.fullmatch(v) else expected

    return check, expected


def _positive(v: Any) -> str | None:
    return None if v >= 1 else "an integer of at least 1"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "an integer of at least 0"


def _band(v: Any) -> str | None:
    ok = len(v) == 2 and 100 <= v[0] <= v[1] <= 4096
    return None if ok else "[first, last] priorities with 100 <= first <= last <= 4096"


def _tags(v: Any) -> str | None:
    ok = all(re.fullmatch(r"[^=]{1,128}=[^=]{0,256}", t) for t in v)
    return None if ok else 'a list of "Key=Value" strings'


def _prefixes(v: Any) -> str | None:
    return None if v and all(isinstance(x, str) and x for x in v) else "a non-empty list"


def _s(default: str, description: str, check: tuple[Check, str] | None = None) -> Setting:
    return Setting("string", default, description, None, *(check or (None, "")))


def _list(
    default: list[Any],
    description: str,
    check: tuple[Check, str] | None = None,
    items: str = "string",
) -> Setting:
    return Setting("array", default, description, items, *(check or (None, "")))


_REGION_CODES = ("us", "jp", "de", "eu", "uk", "au", "in", "uae")
_NAME_RX = r"[a-z][a-z0-9-]{0,23}"
_ARM_POLICY_RX = (
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}"
    r"/providers/Microsoft\.Network/firewallPolicies/[-\w.]{1,80}"
)

#: Every korefw stack setting, keyed by its name under the ``korefw:`` namespace.
SCHEMA: dict[str, Setting] = {
    "region": _s("jp", "Kore region code whose egress rules to deploy.", _choice(*_REGION_CODES)),
    "rulesFile": _s(
        "",
        "Path (relative to the project) of a vendor page or korefw rule file to use instead "
        "of the shipped region data.",
    ),
    "sections": _list([], "Vendor sections to keep (case-insensitive globs); empty keeps all."),
    "components": _list([], "Vendor components to keep (case-insensitive globs); empty keeps all."),
    "targets": _list(["aws"], "Clouds to deploy to: aws, azure or both.", _each("aws", "azure")),
    "namePrefix": _s(
        "korefw", "Prefix of every resource name.", _pattern(_NAME_RX, "a-z, 0-9, - (max 24)")
    ),
    "tags": _list([], 'Tags for every taggable resource, as "Key=Value" strings.', (_tags, "")),
    "awsVpcId": _s(
        "",
        "VPC in which to create new egress security groups (or awsSecurityGroupId).",
        _pattern(r"vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a VPC id like vpc-0123456789abcdef0"),
    ),
    "awsSecurityGroupId": _s(
        "",
        "Existing security group to add egress rules to (or awsVpcId).",
        _pattern(
            r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a security group id like sg-0123456789abcdef0"
        ),
    ),
    "awsMode": _s(
        "cidr",
        "How egress rules name destinations: cidr, prefix-list, or auto (cheaper in quota).",
        _choice("cidr", "prefix-list", "auto"),
    ),
    "awsRuleLimit": Setting(
        "integer", 60, "Egress rule quota per security group.", None, _positive, "an integer >= 1"
    ),
    "awsShard": Setting(
        "boolean", True, "Spread rules over several security groups when over the quota."
    ),
    "awsPrefixListHeadroom": Setting(
        "integer",
        0,
        "Spare entries in each managed prefix list (max_entries = entries + this).",
        None,
        _non_negative,
        "an integer >= 0",
    ),
    "awsPrefixListGrouping": _s(
        "section",
        "One prefix list per vendor section or per component.",
        _choice("section", "component"),
    ),
    "awsFqdnEnforcement": _list(
        [],
        "Where FQDN egress rules are enforced: network-firewall, dns-firewall (empty: reported "
        "as unenforced).",
        _each("network-firewall", "dns-firewall"),
    ),
    "awsDnsFirewallVpcId": _s(
        "",
        "VPC to associate the DNS Firewall rule group with (empty: korefw:awsVpcId, if set).",
        _pattern(r"vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a VPC id like vpc-0123456789abcdef0"),
    ),
    "awsDnsFirewallPriority": Setting(
        "integer",
        101,
        "Priority of the DNS Firewall rule group association (100-9900).",
        None,
        lambda v: None if 100 <= v <= 9900 else "an integer from 100 to 9900",
        "an integer from 100 to 9900",
    ),
    "awsNetworkFirewallCapacity": Setting(
        "integer",
        0,
        "Capacity of the Network Firewall rule group (0: what the rules need, rounded up to 100).",
        None,
        lambda v: None if 0 <= v <= 30000 else "an integer from 0 to 30000",
        "an integer from 0 to 30000",
    ),
    "azureResourceGroupName": _s(
        "",
        "Resource group of the network security group.",
        _pattern(r"[-\w.()]{0,89}[-\w()]", "a resource group name (1-90 of a-z 0-9 _ - . ( ))"),
    ),
    "azureLocation": _s(
        "",
        "Azure location of a new NSG (required unless azureNetworkSecurityGroupName is set).",
        _pattern(r"[a-z][a-z0-9]{2,40}", "an Azure location like japaneast"),
    ),
    "azureNetworkSecurityGroupName": _s(
        "",
        "Existing NSG to add rules to as SecurityRule resources (empty: create a new NSG).",
        _pattern(r"[A-Za-z0-9][-\w.]{0,78}[\w]?", "an NSG name (1-80 of letters, digits, _ . -)"),
    ),
    "azureMerge": _s(
        "all",
        "How NSG rules merge: none, section or all (always exact).",
        _choice("none", "section", "all"),
    ),
    "azurePriorityBand": _list(
        [1000, 1999],
        "First and last NSG priority korefw may use (100-4096).",
        (_band, ""),
        items="integer",
    ),
    "azureSourceAddressPrefixes": _list(
        ["VirtualNetwork"], "Sources allowed to egress (CIDRs or service tags).", (_prefixes, "")
    ),
    "azureDenyOtherOutbound": Setting(
        "boolean",
        False,
        "Add a Deny rule for other Internet egress at the end of the band (Azure otherwise "
        "allows all Internet egress by default).",
    ),
    "azureFirewallPolicyId": _s(
        "",
        "Existing Azure Firewall Policy to hold FQDN application rules and the IP rules as network "
        "rules (enable its DNS proxy for FQDN network rules).",
        _pattern(_ARM_POLICY_RX, "a Firewall Policy resource id"),
    ),
    "azureCreateFirewallPolicy": Setting(
        "boolean",
        False,
        "Create a Firewall Policy (DNS proxy on) holding FQDN application rules and the IP rules.",
    ),
    "azureIpGroups": Setting(
        "boolean", False, "Create an IP group per destination set for Azure Firewall rules."
    ),
}


@dataclass(frozen=True)
class StackConfig:
    """Validated settings of one stack, every key present (defaults filled in)."""

    values: Mapping[str, Any]
    where: str

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def tags(self) -> dict[str, str]:
        """``tags`` as a mapping."""
        return dict(t.split("=", 1) for t in self.values["tags"])


def validate(raw: Mapping[str, Any], *, where: str, project: str = PROJECT) -> StackConfig:
    """Check a stack's config (full keys such as ``korefw:region``) against :data:`SCHEMA`.

    Values may be typed (from YAML) or JSON text (as the Pulumi engine passes objects).
    Keys of other namespaces (``aws:region``) pass through unchecked. The first problem
    raises :class:`ConfigError` naming ``where``, the key, the bad value and what was expected.
    """
    values: dict[str, Any] = {}
    prefix = f"{project}:"
    for full, value in raw.items():
        if not full.startswith(prefix):
            continue
        key = full[len(prefix) :]
        setting = SCHEMA.get(key)
        if setting is None:
            near = difflib.get_close_matches(key, SCHEMA, n=1)
            hint = f"; did you mean {prefix}{near[0]}?" if near else ""
            raise ConfigError(f"{full}: unknown setting{hint}", where=where, value=value)
        values[key] = _coerce(full, setting, value, where)
    for key, setting in SCHEMA.items():
        values.setdefault(key, setting.default)
    _cross_checks(values, where, prefix)
    return StackConfig(values, where)


def _coerce(full: str, s: Setting, value: Any, where: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{full}: expected {expected}", where=where, value=value)

    v = value
    if isinstance(v, str) and s.type != "string":
        try:
            v = json.loads(v)
        except ValueError:
            raise bad(f"a{'n' if s.type[0] in 'ai' else ''} {s.type}") from None
    if s.type == "string" and not isinstance(v, str):
        raise bad("a string")
    if s.type == "boolean" and not isinstance(v, bool):
        raise bad("true or false")
    if s.type == "integer" and (not isinstance(v, int) or isinstance(v, bool)):
        raise bad("an integer")
    if s.type == "array":
        item_type = int if s.items == "integer" else str
        if not isinstance(v, list) or not all(
            isinstance(x, item_type) and not isinstance(x, bool) for x in v
        ):
            raise bad(f"a list of {s.items}s")
    if s.check is not None:
        problem = s.check(v)
        if problem:
            raise bad(s.expected or problem)
    return v


def _cross_checks(v: dict[str, Any], where: str, prefix: str) -> None:
    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise ConfigError(f"{prefix}{key}: {message}", where=where, value=v[key])

    targets = v["targets"]
    need(bool(targets), "targets", "expected at least one of aws, azure")
    if "aws" in targets:
        need(
            bool(v["awsVpcId"]) != bool(v["awsSecurityGroupId"]),
            "awsVpcId",
            "set exactly one of korefw:awsVpcId (new security groups) and "
            "korefw:awsSecurityGroupId (existing group)",
        )
    if "azure" in targets:
        need(bool(v["azureResourceGroupName"]), "azureResourceGroupName", "required for azure")
        need(
            bool(v["azureLocation"]) != bool(v["azureNetworkSecurityGroupName"]),
            "azureLocation",
            "set korefw:azureLocation (new NSG) or korefw:azureNetworkSecurityGroupName "
            "(existing NSG), not both",
        )
        need(
            not (v["azureFirewallPolicyId"] and v["azureCreateFirewallPolicy"]),
            "azureCreateFirewallPolicy",
            "set korefw:azureFirewallPolicyId or korefw:azureCreateFirewallPolicy, not both",
        )


def project_schema() -> dict[str, dict[str, Any]]:
    """The ``config:`` block of ``Pulumi.yaml``, generated from :data:`SCHEMA`."""
    out: dict[str, dict[str, Any]] = {}
    for key, s in SCHEMA.items():
        entry: dict[str, Any] = {"type": s.type, "description": s.description}
        if s.items:
            entry["items"] = {"type": s.items}
        entry["default"] = s.default
        out[key] = entry
    return out


def reference_markdown() -> str:
    """The README's configuration reference table, generated from :data:`SCHEMA`."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, s in SCHEMA.items():
        typ = f"array of {s.items}" if s.items else s.type
        default = json.dumps(s.default)
        rows.append(f"| `{PROJECT}:{key}` | {typ} | `{default}` | {s.description} |")
    return "\n".join(rows) + "\n"
