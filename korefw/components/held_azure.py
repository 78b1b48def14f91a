"""What an existing NSG holds now, read before its ``SecurityRule`` resources are planned.

:class:`~korefw.components.azure.EgressNetworkSecurityGroup` on an existing NSG asks Azure
(``getNetworkSecurityGroup``, through the component's provider) for the NSG's rules and
plans with them (:class:`~korefw.core.plan.ordering.HeldState`): a rule the NSG holds keeps
its priority, a new rule takes a free one, and a rule that gives up a flow another rule
takes waits for that rule. Under ``korefw plan`` the mock runtime answers the read
(:mod:`korefw.runtime.heldcalls`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pulumi_azure_native import network

from ..core.plan.azure_options import port_interval
from ..core.plan.ordering import HeldRule, HeldState
from ..core.rules.allowset import AllowSet

#: Warning when the NSG's rules could not be read (``{why}``: the reason).
NOT_ORDERED = (
    "what NSG {nsg} holds now could not be read ({why}): the update is not ordered and "
    "new rules take hashed priorities, so a rule may give up a flow before the rule taking "
    "it is in place, or land on a priority another rule holds; before pulumi up, check "
    "`korefw diff STATE.json PREVIEW.json` (STATE from pulumi stack export) for hazard: lines"
)


def read_held(
    resource_group_name: pulumi.Input[str],
    network_security_group_name: pulumi.Input[str],
    parent: pulumi.Resource,
) -> HeldState:
    """The rules the existing NSG holds now, or an unknown state saying why not.

    Reads only when both names are plain strings (an Output is not known before the
    update); a failed read is reported in ``why_unknown``, never raised.
    """
    if not isinstance(resource_group_name, str) or not isinstance(
        network_security_group_name, str
    ):
        return HeldState(
            known=False, why_unknown="its name or resource group is not known before the update"
        )
    try:
        nsg = network.get_network_security_group(
            resource_group_name=resource_group_name,
            network_security_group_name=network_security_group_name,
            opts=pulumi.InvokeOptions(parent=parent),
        )
        rules = tuple(held_rule(r) for r in nsg.security_rules or ())
    except Exception as exc:  # any failed read leaves the plan unordered, never a traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return HeldState(known=False, why_unknown=f"the read failed: {first[:200]}")
    return HeldState(known=True, nsg_rules=rules)


def held_rule(rule: Any) -> HeldRule:
    """A rule as ``getNetworkSecurityGroup`` returns it (``SecurityRuleResponse`` or a
    mapping of its fields) as a :class:`HeldRule`."""
    get = _getter(rule)
    access, protocol = str(get("access") or ""), str(get("protocol") or "")
    return HeldRule(
        name=str(get("name") or ""),
        priority=int(get("priority") or 0),
        direction=str(get("direction") or ""),
        access=access,
        allows=_allows(
            access,
            protocol,
            _values(get("destination_address_prefix"), get("destination_address_prefixes")),
            _values(get("destination_port_range"), get("destination_port_ranges")),
        ),
    )


def _getter(rule: Any) -> Any:
    # SecurityRuleResponse is a dict of camelCase keys with snake_case property getters.
    def get(key: str) -> Any:
        if isinstance(rule, Mapping) and not hasattr(type(rule), key):
            return rule.get(key, rule.get(_camel(key)))
        return getattr(rule, key, None)

    return get


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _values(one: Any, many: Any) -> list[str]:
    out = [str(v) for v in (many or ())]
    if one:
        out.append(str(one))
    return out


def _allows(access: str, protocol: str, prefixes: Iterable[str], ports: Iterable[str]) -> AllowSet:
    """What a Tcp or Udp Allow rule with CIDR destinations and numeric ports allows; empty
    for anything else (service tags, ``*``, other protocols): korefw never writes those."""
    prefixes, ports = list(prefixes), list(ports)
    if access != "Allow" or protocol.lower() not in ("tcp", "udp") or not prefixes or not ports:
        return AllowSet()
    try:
        nets = [ipaddress.ip_network(p, strict=True) for p in prefixes]
        intervals = [port_interval(p) for p in ports]
    except ValueError:
        return AllowSet()
    return AllowSet.of(protocol.lower(), intervals, nets)
