"""Which resources a second plan of one stack creates, updates, replaces or deletes.

Each plan is a Pulumi document (``korefw plan --json``, ``pulumi preview --json`` or a
stack export), read as the state after its update, or that state itself. Resources are
matched by URN, or through a new state's ``aliases``. An input in :data:`REPLACE_KEYS` that
changes makes Pulumi replace the resource instead of updating it in place (these are the
providers' ``ForceNew`` / ``replaceOnChanges`` inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .pulumidoc import PulumiDocument, parse_document, state_after

Op = Literal["create", "update", "replace", "delete", "same"]

# Inputs whose change makes Pulumi replace the resource rather than update it in place.
REPLACE_KEYS = {
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {"securityGroupId"},
    "aws:ec2/securityGroup:SecurityGroup": {"vpcId", "name", "namePrefix", "description"},
    "aws:ec2/managedPrefixList:ManagedPrefixList": {"addressFamily"},
    "azure-native:network:NetworkSecurityGroup": {
        "resourceGroupName", "networkSecurityGroupName", "location",
    },
    "azure-native:network:SecurityRule": {
        "resourceGroupName", "networkSecurityGroupName", "securityRuleName",
    },
}  # fmt: skip


#: A plan: a Pulumi document (read as the state after its update), or that state itself.
Plan = Mapping[str, Any] | PulumiDocument | Sequence[Mapping[str, Any]]


def states(plan: Plan) -> dict[str, Mapping[str, Any]]:
    """URN -> resource state after the plan's update (:func:`pulumidoc.state_after`)."""
    if isinstance(plan, Sequence):
        return {s["urn"]: s for s in plan}
    return {s["urn"]: s for s in state_after(parse_document(plan))}


@dataclass(frozen=True)
class Change:
    """One resource across the two plans: its op, and its state before and after."""

    op: Op
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def delete_before_replace(self) -> bool:
        """A replacement that deletes the old resource before creating the new one."""
        return self.op == "replace" and bool((self.new or {}).get("deleteBeforeReplace"))


def changes(old: Plan, new: Plan) -> dict[str, Change]:
    """Every resource of either plan, keyed by its URN in the new plan (else the old one)."""
    a, b = states(old), states(new)
    renamed = {alias: urn for urn, s in b.items() for alias in s.get("aliases", []) or []}
    out: dict[str, Change] = {}
    for urn, s in a.items():
        if urn not in b and urn not in renamed:
            out[urn] = Change("delete", s, None)
    for urn, s in b.items():
        prev = a.get(urn) or next((a[x] for x in s.get("aliases", []) or [] if x in a), None)
        out[urn] = Change(_op(prev, s), prev, s)
    return out


def _op(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Op:
    if old is None:
        return "create"
    ia, ib = old.get("inputs", {}), new.get("inputs", {})
    changed = {k for k in ia.keys() | ib.keys() if ia.get(k) != ib.get(k)}
    if not changed:
        return "same"
    if changed & REPLACE_KEYS.get(new.get("type", ""), set()):
        return "replace"
    return "update"


def count_changes(old: Plan, new: Plan) -> dict[str, int]:
    """How many resources each op touches."""
    return count_ops(changes(old, new))


def count_ops(moves: Mapping[str, Change]) -> dict[str, int]:
    """How many resources each op touches, of already computed :func:`changes`."""
    counts = dict.fromkeys(("create", "delete", "replace", "update", "same"), 0)
    for c in moves.values():
        counts[c.op] += 1
    return counts
