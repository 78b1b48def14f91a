"""Apply hazards: what could fail or open a gap half-way through ``pulumi up``.

Given two plans of one stack (``pulumi preview --json`` shape), this simulates the order in
which Pulumi applies the second: creates and updates first (in dependency order, unrelated
resources in parallel), replacements create-before-delete unless ``deleteBeforeReplace``, and
every delete at the end. So for the length of an update the old and the new resources exist
side by side. Each :class:`Hazard` names what goes wrong there and the way around it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .planread import (
    AWS_EGRESS,
    AWS_PREFIX_LIST,
    AWS_SG,
    AZ_NSG,
    AZ_RULE,
    UNKNOWN_VALUES,
)
from .steps import Change, Plan, changes

#: AWS's default quota of egress rules per security group (per IP version).
DEFAULT_RULE_LIMIT = 60
_AWS_COMPONENT = "korefw:aws:EgressSecurityGroup"


@dataclass(frozen=True)
class Hazard:
    """One thing that fails or opens a gap during the update, and the way around it."""

    kind: str  # duplicate-rule, quota-peak, group-replaced, group-deleted, unused-group, ...
    subject: str
    problem: str
    way_around: str

    def line(self) -> str:
        """The line shown in ``korefw diff``: ``hazard: ... Way around: ...``."""
        return f"hazard: {self.problem}. Way around: {self.way_around}."


def apply_hazards(old: Plan, new: Plan) -> list[Hazard]:
    """Every hazard of applying plan ``new`` over a stack deployed as plan ``old``."""
    return change_hazards(changes(old, new))


def change_hazards(moves: Mapping[str, Change]) -> list[Hazard]:
    """Every hazard of an update, from its already computed :func:`steps.changes`."""
    sim = _Simulation(moves)
    out = [
        *sim.groups(),
        *sim.duplicate_rules(),
        *sim.quota_peaks(_rule_limit(sim.changes)),
        *sim.azure_conflicts(),
        *sim.prefix_list_gaps(),
    ]
    return sorted(set(out), key=lambda h: (h.kind, h.subject, h.problem))


def _rule_limit(changes: Mapping[str, Change]) -> int:
    for c in changes.values():
        s = c.new or {}
        if s.get("type") == _AWS_COMPONENT:
            opts = (s.get("outputs", {}).get("plan") or {}).get("options") or {}
            if isinstance(opts.get("rule_limit"), int):
                return int(opts["rule_limit"])
    return DEFAULT_RULE_LIMIT


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


# A resource as it exists during the update: its URN, with "#replacement" appended for the
# new copy of a replaced resource; or the literal id of something the stack does not manage.
Ident = str


class _Simulation:
    def __init__(self, changes: Mapping[str, Change]) -> None:
        self.changes = changes
        # old and new URNs of a renamed (aliased) resource are one resource
        self.urn_of = {c.old["urn"]: urn for urn, c in changes.items() if c.old and c.new}
        self.ids = {
            side: {
                s["id"]: s["urn"]
                for c in changes.values()
                if (s := getattr(c, side)) and s.get("id") and s["id"] not in UNKNOWN_VALUES
            }
            for side in ("old", "new")
        }

    # ------------------------------------------------------------------ reading

    def ident(self, urn: str, side: str) -> Ident:
        """What a URN of one side is during the update (a replacement is a new thing)."""
        urn = self.urn_of.get(urn, urn)
        c = self.changes.get(urn)
        return f"{urn}#replacement" if side == "new" and c and c.op == "replace" else urn

    def ref(self, state: Mapping[str, Any], key: str, side: str) -> Ident | None:
        """The resource (or literal id) an input refers to."""
        for urn in state.get("propertyDependencies", {}).get(key, []) or []:
            return self.ident(urn, side)
        value = state.get("inputs", {}).get(key)
        if not isinstance(value, str) or not value or value in UNKNOWN_VALUES:
            return None
        urn = self.ids[side].get(value)
        return self.ident(urn, side) if urn else value

    def of_type(self, type_: str) -> list[tuple[str, Change]]:
        return [
            (urn, c)
            for urn, c in sorted(self.changes.items())
            if (c.new or c.old or {}).get("type") == type_
        ]

    def at_peak(self, type_: str) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(URN, side, state) of every resource of a type alive before the deletes run."""
        out = []
        for urn, c in self.of_type(type_):
            if c.new is not None:
                out.append((urn, "new", c.new))
            if c.old is not None and lingers(c):
                out.append((urn, "old", c.old))
        return out

    # ------------------------------------------------------------------ hazards

    def groups(self) -> list[Hazard]:
        """Security groups and NSGs replaced or deleted, and new groups nothing uses."""
        out: list[Hazard] = []
        for type_, what, users, in_use in (
            (AWS_SG, "security group", "network interfaces", "DependencyViolation"),
            (AZ_NSG, "NSG", "subnets and network interfaces", "InUseNetworkSecurityGroup"),
        ):
            found = self.of_type(type_)
            had_any = any(c.old is not None for _, c in found)
            for urn, c in found:
                name = _short(urn)
                if c.op == "replace":
                    out.append(Hazard(
                        "group-replaced", urn,
                        f"{what} {name} is replaced: the new one is created empty of {users} "
                        f"while the {users} stay on the old one, whose delete at the end then "
                        f"fails ({in_use}) or leaves them without these egress rules",
                        f"keep the inputs that force the replacement, or attach the {users} to "
                        "the new group before the old one is deleted (apply with "
                        f"`pulumi up --target` on the new {what} first)",
                    ))  # fmt: skip
                elif c.op == "delete":
                    out.append(Hazard(
                        "group-deleted", urn,
                        f"{what} {name} is deleted at the end of the update; {users} still "
                        f"attached to it make the delete fail ({in_use}), and a replacement "
                        "under a new name is not attached to them",
                        "keep its logical name (alias the new resource to the old URN), or move "
                        f"the {users} to the new {what} before applying",
                    ))  # fmt: skip
                elif c.op == "create" and had_any:
                    out.append(Hazard(
                        "unused-group", urn,
                        f"new {what} {name} is used by no {users} yet: the egress rules placed "
                        "in it allow nothing until it is attached, while they leave the groups "
                        "in use",
                        f"attach it to the {users} (as a further group) before applying, or "
                        "raise the rule limit so the rules stay in the groups already in use",
                    ))  # fmt: skip
        return out

    def _egress_key(self, state: Mapping[str, Any], side: str) -> tuple[Any, ...]:
        i = state.get("inputs", {})
        if i.get("prefixListId") or state.get("propertyDependencies", {}).get("prefixListId"):
            dest: tuple[str, Any] = ("prefix list", self.ref(state, "prefixListId", side))
        else:
            dest = ("cidr", i.get("cidrIpv4") or i.get("cidrIpv6"))
        group = self.ref(state, "securityGroupId", side)
        return (group, str(i.get("ipProtocol")), i.get("fromPort"), i.get("toPort"), dest)

    def duplicate_rules(self) -> list[Hazard]:
        """Egress rules created while an identical rule (another resource) still exists."""
        lingering: dict[tuple[Any, ...], str] = {}
        for urn, c in self.of_type(AWS_EGRESS):
            if c.old is not None and lingers(c):
                lingering[self._egress_key(c.old, "old")] = urn
        twins: dict[Any, list[tuple[str, str]]] = defaultdict(list)  # group -> (new, old)
        for urn, c in self.of_type(AWS_EGRESS):
            if c.new is None or c.op not in ("create", "replace"):
                continue
            key = self._egress_key(c.new, "new")
            twin = lingering.get(key)
            if twin is not None and twin != urn:
                twins[key[0]].append((urn, twin))
        out = []
        for group, pairs in sorted(twins.items(), key=str):
            first, twin = pairs[0]
            more = f" and {len(pairs) - 1} more are" if len(pairs) > 1 else " is"
            out.append(Hazard(
                "duplicate-rule", str(group),
                f"egress rule {_short(first)}{more} created in security group "
                f"{_short(str(group))} while identical rules ({_short(twin)}, ...) "
                "still exist, deleted only at the end: AWS answers InvalidPermission.Duplicate, "
                "and every later `pulumi up` fails the same way",
                "keep the rules' logical names (alias the new resources to the old URNs), or "
                "delete the old rules first (`pulumi destroy --target` on them, a brief gap) "
                "and then apply",
            ))  # fmt: skip
        return out

    def quota_peaks(self, limit: int) -> list[Hazard]:
        """Security groups above their rule quota while old and new rules coexist.

        The quota is at least ``limit`` and at least what the group held before the update
        (it applied), so only a peak above both is a hazard.
        """
        max_entries: dict[Ident, int] = {}
        family: dict[Ident, int] = {}
        for urn, side, s in self.at_peak(AWS_PREFIX_LIST):
            key = self.ident(urn, side)
            i = s.get("inputs", {})
            max_entries[key] = max(max_entries.get(key, 0), int(i.get("maxEntries", 0) or 0))
            family[key] = 6 if str(i.get("addressFamily", "")).lower() == "ipv6" else 4

        def cost(state: Mapping[str, Any], side: str) -> tuple[tuple[Any, int], int]:
            group, *_, dest = self._egress_key(state, side)
            if dest[0] == "prefix list":
                return (group, family.get(dest[1], 4)), max_entries.get(dest[1], 0)
            return (group, 6 if state.get("inputs", {}).get("cidrIpv6") else 4), 1

        peak: dict[tuple[Any, int], int] = defaultdict(int)
        start: dict[tuple[Any, int], int] = defaultdict(int)
        end: dict[tuple[Any, int], int] = defaultdict(int)
        for _urn, side, s in self.at_peak(AWS_EGRESS):
            where, units = cost(s, side)
            peak[where] += units
            if side == "new":
                end[where] += units
        for _urn, c in self.of_type(AWS_EGRESS):
            if c.old is not None:
                where, units = cost(c.old, "old")
                start[where] += units
        out = []
        for (group, fam), units in sorted(peak.items(), key=str):
            if units > max(limit, start[group, fam], end[group, fam]):
                name = _short(str(group)).removesuffix("#replacement")
                out.append(Hazard(
                    "quota-peak", f"{group}/IPv{fam}",
                    f"security group {name} holds {units} IPv{fam} quota units mid-update "
                    f"(old and new egress rules side by side; a prefix-list reference costs its "
                    f"max_entries), above the rule quota of {limit} (ends at {end[group, fam]}): "
                    "AWS answers RulesPerSecurityGroupLimitExceeded",
                    f"raise the 'Inbound or outbound rules per security group' quota to at "
                    f"least {units} before applying, or apply in two steps (remove the old "
                    "rules first, accepting a brief gap)",
                ))  # fmt: skip
        return out

    def azure_conflicts(self) -> list[Hazard]:
        """SecurityRules created or moved onto a priority or name another rule still holds."""
        held: dict[tuple[Any, str, Any], list[str]] = defaultdict(list)
        for urn, c in self.of_type(AZ_RULE):
            if c.old is None:
                continue
            nsg = self.ref(c.old, "networkSecurityGroupName", "old")
            i_old, i_new = c.old.get("inputs", {}), (c.new or {}).get("inputs", {})
            if lingers(c) or i_old.get("priority") != i_new.get("priority"):
                held[nsg, "priority", _plain(i_old.get("priority"))].append(urn)
            if lingers(c):
                held[nsg, "name", _rule_name(i_old)].append(urn)
        out = []
        for urn, c in self.of_type(AZ_RULE):
            if c.new is None or c.op == "same":
                continue
            i_new, i_old = c.new.get("inputs", {}), (c.old or {}).get("inputs", {})
            moved = c.op in ("create", "replace") or i_new.get("priority") != i_old.get("priority")
            nsg = self.ref(c.new, "networkSecurityGroupName", "new")
            checks = [("name", _rule_name(i_new))] if c.op in ("create", "replace") else []
            checks += [("priority", _plain(i_new.get("priority")))] if moved else []
            for what, value in checks:
                others = [u for u in held.get((nsg, what, value), []) if u != urn]
                if others:
                    out.append(Hazard(
                        f"azure-{what}", urn,
                        f"NSG rule {_short(urn)} takes {what} {value} while "
                        f"{_short(others[0])} still holds it (deleted or moved in the same "
                        "update): Azure answers SecurityRuleConflict",
                        "pin the new rule to a free priority (`priorities=`), or apply in two "
                        "steps: first remove or move the old rule, then add the new one",
                    ))  # fmt: skip
        return out

    def prefix_list_gaps(self) -> list[Hazard]:
        """Entries leaving a prefix list in place while their new home is still being made."""
        homes: dict[str, list[str]] = defaultdict(list)
        for urn, c in self.of_type(AWS_PREFIX_LIST):
            if c.new is not None and c.op != "same":
                for cidr in _entries(c.new) - _entries(c.old):
                    homes[cidr].append(f"prefix list {_short(urn)}")
        for urn, c in self.of_type(AWS_EGRESS):
            if c.new is not None and c.op in ("create", "replace"):
                i = c.new.get("inputs", {})
                cidr = i.get("cidrIpv4") or i.get("cidrIpv6")
                if cidr:
                    homes[cidr].append(f"egress rule {_short(urn)}")
        out = []
        for urn, c in self.of_type(AWS_PREFIX_LIST):
            if c.op != "update":
                continue
            for cidr in sorted(_entries(c.old) - _entries(c.new)):
                if homes.get(cidr):
                    out.append(Hazard(
                        "prefix-list-gap", f"{urn}/{cidr}",
                        f"{cidr} leaves prefix list {_short(urn)} in place while its new home "
                        f"({homes[cidr][0]}) is created or updated in parallel: its flows stop "
                        "until then (a short egress gap)",
                        "apply in two steps: first add the entry to its new home, then remove "
                        "it from the old list, or group prefix lists so the entry stays put",
                    ))  # fmt: skip
        return out


def lingers(c: Change) -> bool:
    """The old resource is still there when the creates and updates run."""
    return c.op == "delete" or (c.op == "replace" and not c.delete_before_replace)


def _rule_name(inputs: Mapping[str, Any]) -> Any:
    return _plain(inputs.get("securityRuleName") or inputs.get("name"))


def _plain(value: Any) -> Any:
    """A value usable as a key: malformed inputs (lists, objects) compare by their text."""
    return value if value is None or isinstance(value, str | int | float) else repr(value)


def _entries(state: Mapping[str, Any] | None) -> set[str]:
    entries = (state or {}).get("inputs", {}).get("entries", []) or []
    return {e["cidr"] for e in entries if isinstance(e, Mapping) and "cidr" in e}
