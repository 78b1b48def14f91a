"""What the prefix lists of an ``EgressSecurityGroup`` hold now, read from the cloud.

The planner orders an update that takes entries out of a prefix list behind the egress
rules that keep allowing them (:mod:`korefw.core.plan.ordering`); for that it needs what
each list holds before the update. ``EgressSecurityGroup`` tags each list it creates with
:data:`OWNER_TAG` (a digest of project, stack and component name) and :data:`LIST_TAG`
(the list key), and before registering its resources reads the lists carrying its owner
tag with the provider's synchronous invokes. Anything it cannot read for certain is
"cannot decide" (:class:`HeldState` with ``known=False``): the update is then not
ordered, and the component warns.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws.ec2 as aws_ec2

from ..core.plan.naming import digest
from ..core.plan.ordering import HeldState

__all__ = ["LIST_TAG", "OWNER_TAG", "owner_id", "read_held", "unordered_warning"]

#: Tag key naming the component that owns a prefix list (value: :func:`owner_id`).
OWNER_TAG = "korefw:owner"
#: Tag key holding the list key (``PrefixListPlan.key``) of a prefix list.
LIST_TAG = "korefw:list"


def owner_id(project: str, stack: str, component: str) -> str:
    """The :data:`OWNER_TAG` value of a component: stable, and unique per stack and name."""
    return digest(project, stack, component, length=16)


def unordered_warning(why: str) -> str:
    """The component's warning when what the prefix lists hold cannot be read."""
    return (
        f"prefix lists: cannot tell what they hold now ({why}), so this update is not "
        "ordered: a list that loses entries may run before the egress rule that takes them "
        "over, and refuse that flow for a moment; read `korefw diff` of the update first"
    )


def read_held(owner: str, opts: pulumi.InvokeOptions) -> HeldState:
    """What the prefix lists tagged with ``owner`` hold, by list key; never raises."""
    try:
        return _read(owner, opts)
    except Exception as exc:  # an invoke the provider refused: cannot decide
        text = str(exc).strip().splitlines()
        return _unknown(f"reading them failed: {text[0] if text else type(exc).__name__}")


def _unknown(why: str) -> HeldState:
    return HeldState(known=False, why_unknown=why)


def _read(owner: str, opts: pulumi.InvokeOptions) -> HeldState:
    found = aws_ec2.get_managed_prefix_lists(
        filters=[{"name": f"tag:{OWNER_TAG}", "values": [owner]}], opts=opts
    )
    ids = found.ids
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        return _unknown(f"the ids of the lists tagged {OWNER_TAG}={owner} are unreadable: {ids!r}")
    held: dict[str, frozenset[str]] = {}
    where: dict[str, str] = {}
    for pid in sorted(set(ids)):
        pl = aws_ec2.get_managed_prefix_list(id=pid, opts=opts)
        tags = pl.tags if isinstance(pl.tags, Mapping) else {}
        key = tags.get(LIST_TAG)
        if not isinstance(key, str) or not key:
            return _unknown(f"prefix list {pid} has no {LIST_TAG} tag")
        if key in held:
            return _unknown(f"prefix lists {where[key]} and {pid} both have {LIST_TAG}={key}")
        cidrs = set()
        for entry in pl.entries if isinstance(pl.entries, list) else [None]:
            cidr = _cidr(entry)
            if cidr is None:
                return _unknown(f"prefix list {pid} has an unreadable entry: {entry!r}")
            cidrs.add(cidr)
        held[key] = frozenset(cidrs)
        where[key] = pid
    return HeldState(known=True, prefix_lists=held)


def _cidr(entry: Any) -> str | None:
    """An entry's CIDR as the planner writes it (``ipaddress`` text), else None."""
    cidr = getattr(entry, "cidr", None)
    if cidr is None and isinstance(entry, Mapping):
        cidr = entry.get("cidr")
    if not isinstance(cidr, str):
        return None
    try:
        return str(ipaddress.ip_network(cidr))
    except ValueError:
        return None
