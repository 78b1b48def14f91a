"""Offline answers to the invokes with which components read what the cloud holds now.

Under ``korefw plan`` no cloud is asked. The components still read, before planning, what
the prefix lists and the existing NSG hold (:class:`korefw.core.plan.ordering.HeldState`),
and Pulumi's mock runtime hands those invokes here. They are answered from the resource
states of a deployed stack (``korefw plan --state FILE``: a ``pulumi stack export``, or a
plan document read as the state after its update), or, without one, as a cloud that holds
nothing of the stack yet: the plan of a first ``pulumi up``.
"""

from __future__ import annotations

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
    return {"name": name, "etag": "", "provisioningState": "Succeeded", **out}


HANDLERS["azure-native:network:getNetworkSecurityGroup"] = _azure_nsg
