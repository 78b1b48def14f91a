"""Stack settings: one typed schema, validated before any resource exists.

Pulumi's project-level config schema (``Pulumi.yaml``) knows ``string``, ``boolean``,
``integer`` and ``array``, so every korefw setting is a flat, typed key
(``korefw:awsVpcId``) rather than a nested object. :data:`SCHEMA` is derived from the
component options (:mod:`korefw.core.plan.options`) plus the stack-only settings; a test checks
``Pulumi.yaml`` against it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .options import Check, Option, choice, each, stack_options

PROJECT = "korefw"


@dataclass(frozen=True)
class Setting:
    """One stack setting: its type, default, meaning and extra check."""

    type: str  # string | boolean | integer | array
    default: Any
    description: str
    items: str | None = None  # item type of an array
    check: Check | None = field(default=None, compare=False)
    expected: str = ""


def _tags(v: Any) -> str | None:
    ok = all(re.fullmatch(r"[^=]{1,128}=[^=]{0,256}", t) for t in v)
    if not ok:
        return 'a list of "Key=Value" strings'
    # One key twice would keep only its last value; Azure tag names ignore case.
    keys = [t.split("=", 1)[0].casefold() for t in v]
    return None if len(set(keys)) == len(keys) else "each tag key once (ignoring case)"


_REGION_CODES = ("us", "jp", "de", "eu", "uk", "au", "in", "uae")
_EMPTY = {"string": "", "integer": 0, "array": []}


def _setting(o: Option) -> Setting:
    """A component option as a stack setting: ``None`` defaults become the empty value."""
    default = o.default
    default = list(default) if isinstance(default, tuple) else default
    by_name = {x.name: x.setting_key for x in stack_options()}
    check, expected = o.check or (None, "")
    return Setting(
        o.type,
        _EMPTY[o.type] if default is None else default,
        o.setting_doc(lambda name: by_name[name] or name),
        o.items,
        check,
        expected,
    )


def _schema() -> dict[str, Setting]:
    options = {o.setting_key: o for o in stack_options() if o.setting_key}
    stack_only = {
        "region": Setting(
            "string",
            "jp",
            "Kore region code whose egress rules to deploy.",
            None,
            *choice(*_REGION_CODES),
        ),
        "rulesFile": Setting(
            "string",
            "",
            "Path (relative to the project) of a vendor page or korefw rule file to use "
            "instead of the shipped region data.",
        ),
        "targets": Setting(
            "array",
            ["aws"],
            "Clouds to deploy to: aws, azure or both.",
            "string",
            *each("aws", "azure"),
        ),
        "tags": Setting(
            "array",
            [],
            'Tags for every taggable resource, as "Key=Value" strings.',
            "string",
            _tags,
        ),
    }
    general = ("region", "rulesFile", "sections", "components", "targets", "namePrefix", "tags")
    out = {k: stack_only[k] if k in stack_only else _setting(options.pop(k)) for k in general}
    out.update((k, _setting(o)) for k, o in options.items())
    return out


#: Every korefw stack setting, keyed by its name under the ``korefw:`` namespace: the
#: stack-only ones, then each component option that is a stack setting
#: (:mod:`korefw.core.plan.options`).
SCHEMA: dict[str, Setting] = _schema()


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
