"""Offline answers to the invokes with which components read what the cloud holds now.

Under ``korefw plan`` no cloud is asked. The components still read, before planning, what
the prefix lists and the existing NSG hold (:class:`korefw.core.plan.ordering.HeldState`),
and Pulumi's mock runtime hands those invokes here. They are answered from the resource
states of a deployed stack (``korefw plan --state FILE``: a ``pulumi stack export``, or a
plan document read as the state after its update), or, without one, as a cloud that holds
nothing of the stack yet: the plan of a first ``pulumi up``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Resource states (``type``, ``urn``, ``id``, ``inputs``, ``outputs``) of the deployed stack.
States = Sequence[Mapping[str, Any]]

#: Invoke token -> answer(args, states). Tokens not listed are refused: korefw plans make
#: no other provider calls.
HANDLERS: dict[str, Callable[[Mapping[str, Any], States], dict[str, Any]]] = {}


def answer(token: str, args: Mapping[str, Any], states: States) -> dict[str, Any]:
    """The invoke's result as the provider would return it, from ``states``."""
    handler = HANDLERS.get(token)
    if handler is None:
        raise RuntimeError(f"korefw plans make no provider calls but reads (got {token})")
    return handler(args, states)


# --------------------------------------------------------------------------- AWS

MANAGED_PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
#: What the offline runtime's AWS placeholders are in (see ``offline._placeholder``).
AWS_REGION = "us-east-1"
AWS_ACCOUNT = "123456789012"


def _state(s: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource state's properties: its outputs (a stack export), else its inputs (a plan
    document's new state of a custom resource records inputs only)."""
    outputs = s.get("outputs")
    return outputs if isinstance(outputs, Mapping) and outputs else s.get("inputs") or {}


def _typed(what: str, field: str, value: Any, kind: type, many: bool = False) -> Any:
    """``value`` if it has the provider schema's type (``many``: a list of them), else a
    one-line error naming the field: the SDK would fail the whole program on it, where a
    failed read only leaves the update unordered."""
    if value is None and not many:  # unset: the SDK takes None as well
        return value
    items = value if many and isinstance(value, list) else [value]
    if (many and not isinstance(value, list)) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in items
    ):
        of = f"a list of {kind.__name__}" if many else kind.__name__
        raise RuntimeError(f"{field} of {what} is not {of} (got {value!r:.60})")
    return value


def _prefix_lists(states: States) -> list[tuple[str, Mapping[str, Any]]]:
    """(id, properties) of every managed prefix list in ``states``."""
    return [
        (str(s.get("id") or _state(s).get("id") or _placeholder_id(s.get("urn"))), _state(s))
        for s in states
        if s.get("type") == MANAGED_PREFIX_LIST and not s.get("delete")
    ]


def _placeholder_id(urn: Any) -> str:
    """A stable id for a list whose state shows none (a preview document's ``same`` or
    ``create`` step), so the lists are still told apart; no URN: none."""
    if not isinstance(urn, str) or not urn:
        return ""
    return "pl-" + hashlib.sha256(urn.encode()).hexdigest()[:17]


def _tags(pid: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A list's tags; tags that are no mapping fail the read (whose list it is, and so
    what the stack's lists hold, cannot be told)."""
    tags = props.get("tagsAll") or props.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise RuntimeError(f"tags of prefix list {pid} are not a mapping (got {tags!r:.60})")
    return tags


def _matches(pid: str, props: Mapping[str, Any], args: Mapping[str, Any]) -> bool:
    """Whether a list passes an invoke's ``filters`` and ``tags`` (DescribeManagedPrefixLists
    filters: ``tag:KEY``, ``prefix-list-id``, ``prefix-list-name``; others are refused)."""
    tags = _tags(pid, props)
    for f in args.get("filters") or []:
        name, values = f.get("name", ""), list(f.get("values") or [])
        if name.startswith("tag:"):
            have = tags.get(name[4:])
        elif name == "prefix-list-id":
            have = pid
        elif name == "prefix-list-name":
            have = props.get("name")
        else:
            raise RuntimeError(f"offline, the filter {name!r} of prefix lists is not answered")
        if have not in values:
            return False
    return all(tags.get(k) == v for k, v in (args.get("tags") or {}).items())


def _get_managed_prefix_lists(args: Mapping[str, Any], states: States) -> dict[str, Any]:
    """``aws.ec2.get_managed_prefix_lists``: the ids of the lists that match."""
    ids = sorted(pid for pid, props in _prefix_lists(states) if _matches(pid, props, args))
    region = args.get("region") or AWS_REGION
    out: dict[str, Any] = {"id": region, "ids": ids, "region": region, "tags": {}}
    if args.get("filters"):
        out["filters"] = list(args["filters"])
    if args.get("tags"):
        out["tags"] = dict(args["tags"])
    return out


def _arn(region: str, pid: str) -> str:
    return f"arn:aws:ec2:{region}:{AWS_ACCOUNT}:prefix-list/{pid}"


def _get_managed_prefix_list(args: Mapping[str, Any], states: States) -> dict[str, Any]:
    """``aws.ec2.get_managed_prefix_list``: one list, by ``id`` (and any filters)."""
    found = [
        (pid, props)
        for pid, props in _prefix_lists(states)
        if (args.get("id") in (None, pid))
        and (args.get("name") in (None, props.get("name")))
        and _matches(pid, props, args)
    ]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise RuntimeError(f"{what} EC2 Managed Prefix List matches (id {args.get('id')!r})")
    pid, props = found[0]
    region = args.get("region") or AWS_REGION
    what = f"prefix list {pid}"
    entries = _typed(what, "entries", props.get("entries") or [], Mapping, many=True)
    tags = dict(_tags(pid, props))
    _typed(what, "tags", list(tags.values()), str, many=True)
    return {
        "addressFamily": _typed(what, "addressFamily", props.get("addressFamily", ""), str),
        "arn": _typed(what, "arn", props.get("arn") or _arn(region, pid), str),
        "entries": [
            {
                "cidr": _typed(what, "entries cidr", e.get("cidr", ""), str),
                "description": _typed(what, "entries description", e.get("description", ""), str),
            }
            for e in entries
        ],
        "filters": list(args.get("filters") or []),
        "id": pid,
        "maxEntries": _typed(what, "maxEntries", props.get("maxEntries", 0), int),
        "name": _typed(what, "name", props.get("name", ""), str),
        "ownerId": _typed(what, "ownerId", props.get("ownerId") or AWS_ACCOUNT, str),
        "region": region,
        "tags": tags,
        "version": _typed(what, "version", props.get("version", 1), int),
    }


HANDLERS["aws:ec2/getManagedPrefixLists:getManagedPrefixLists"] = _get_managed_prefix_lists
HANDLERS["aws:ec2/getManagedPrefixList:getManagedPrefixList"] = _get_managed_prefix_list


# ---------------------------------------------------------------- Azure

_AZ_RULE = "azure-native:network:SecurityRule"
_AZ_NSG = "azure-native:network:NetworkSecurityGroup"
#: Fields of a security rule as ``getNetworkSecurityGroup`` returns them (camelCase).
_AZ_RULE_FIELDS = (
    "priority",
    "direction",
    "access",
    "protocol",
    "description",
    "sourcePortRange",
    "sourcePortRanges",
    "sourceAddressPrefix",
    "sourceAddressPrefixes",
    "destinationAddressPrefix",
    "destinationAddressPrefixes",
    "destinationPortRange",
    "destinationPortRanges",
)


def _azure_nsg(args: Mapping[str, Any], states: States) -> dict[str, Any]:
    """``getNetworkSecurityGroup``: the rules the deployed stack holds on that NSG, from its
    ``SecurityRule`` states and the inline rules of a ``NetworkSecurityGroup`` state of that
    name; none held: an NSG with no security rules."""
    rg, name = args.get("resourceGroupName"), args.get("networkSecurityGroupName")
    rules: dict[str, dict[str, Any]] = {}
    for s in states:
        inputs, outputs = s.get("inputs") or {}, s.get("outputs") or {}
        if inputs.get("resourceGroupName") != rg:
            continue
        if s.get("type") == _AZ_RULE and inputs.get("networkSecurityGroupName") == name:
            rule_name = outputs.get("name") or inputs.get("securityRuleName")
            if isinstance(rule_name, str):
                rules[rule_name] = _azure_rule(rule_name, {**inputs, **outputs})
        elif s.get("type") == _AZ_NSG and name in (
            inputs.get("networkSecurityGroupName"),
            outputs.get("name"),
        ):
            for r in outputs.get("securityRules") or inputs.get("securityRules") or ():
                if isinstance(r, Mapping) and isinstance(r.get("name"), str):
                    rules.setdefault(r["name"], _azure_rule(r["name"], r))
    return {
        "name": name,
        "id": f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{rg}"
        f"/providers/Microsoft.Network/networkSecurityGroups/{name}",
        "securityRules": [rules[n] for n in sorted(rules)],
    }


def _azure_rule(name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: fields[k] for k in _AZ_RULE_FIELDS if fields.get(k) not in (None, "", [])}
    what = f"NSG rule {name}"
    for k, v in out.items():
        if k == "priority":
            _typed(what, k, v, int)
        else:
            _typed(what, k, v, str, many=k.endswith(("Prefixes", "Ranges")))
    return {"name": name, "etag": "", "provisioningState": "Succeeded", **out}


HANDLERS["azure-native:network:getNetworkSecurityGroup"] = _azure_nsg
