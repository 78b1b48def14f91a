"""Apply hazards: what could fail or open a gap half-way through ``pulumi up``.

Given two plans of one stack (``pulumi preview --json`` shape), this simulates the order in
which Pulumi applies the second: creates and updates first (a step once every resource its
new state lists in ``dependencies`` or ``propertyDependencies`` has finished; unrelated
resources in parallel), replacements create-before-delete unless ``deleteBeforeReplace``, and
every delete at the end. An engine event stream shows no dependencies; its update is taken
as unordered. So for the length of an update the old and the new resources exist
side by side. Each :class:`Hazard` names what goes wrong there and the way around it.

Where each hazard's cloud error comes from:

* ``InvalidPermission.Duplicate`` ("The specified inbound or outbound rule already exists")
  and ``RulesPerSecurityGroupLimitExceeded`` ("You've reached the limit on the number of
  rules that you can add to a security group"): the Amazon EC2 API's error codes,
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; a
  prefix-list reference counts its ``max_entries`` (Amazon VPC quotas,
  https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html).
* ``DependencyViolation`` (a security group still attached to a network interface cannot
  be deleted): the same EC2 error list. ``InUseNetworkSecurityGroup``: Azure Network's
  error when an NSG still associated with a subnet or network interface is deleted.
* An NSG rule created under a name a rule of the NSG still holds: the azure-native
  provider checks existence before every create and refuses with ``cannot create already
  existing resource '<id>'`` (pulumi/pulumi-azure-native, provider/pkg/azure/
  client_azcore.go, ``CanCreate``); Azure itself would take the PUT as an update.
* Two NSG rules on one priority and direction: Azure answers ``SecurityRuleConflict``
  ("Rules cannot have the same Priority and Direction").
* A flow refused for a moment is no cloud error: the simulation finds it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..rules.allowset import AllowSet
from .planread import (
    AWS_EGRESS,
    AWS_PREFIX_LIST,
    AWS_SG,
    AZ_NSG,
    AZ_RULE,
    UNKNOWN_VALUES,
    DocumentError,
    read_states,
)
from .steps import Change, Plan, changes

#: AWS's default quota of egress rules per security group (per IP version).
DEFAULT_RULE_LIMIT = 60
_AWS_COMPONENT = "korefw:aws:EgressSecurityGroup"


@dataclass(frozen=True)
class Hazard:
    """One thing that fails or opens a gap during the update, and the way around it."""

    kind: str  # duplicate-rule, quota-peak, group-replaced, unused-group, flow-gap, azure-name, ...
    subject: str
    problem: str
    way_around: str

    def line(self) -> str:
        """The line shown in ``korefw diff``: ``hazard: ... Way around: ...``."""
        return f"hazard: {self.problem}. Way around: {self.way_around}."


def apply_hazards(old: Plan, new: Plan, *, order_shown: bool = True) -> list[Hazard]:
    """Every hazard of applying plan ``new`` over a stack deployed as plan ``old``.

    ``order_shown`` is False when ``new`` comes from a document that leaves out the
    resources' ``dependencies`` (an engine event stream): the update is then simulated
    unordered, and a gap says why it may be one."""
    return change_hazards(changes(old, new), order_shown=order_shown)


def change_hazards(moves: Mapping[str, Change], *, order_shown: bool = True) -> list[Hazard]:
    """Every hazard of an update, from its already computed :func:`steps.changes`."""
    sim = _Simulation(moves, order_shown)
    out = [
        *sim.groups(),
        *sim.duplicate_rules(),
        *sim.quota_peaks(_rule_limit(sim.changes)),
        *sim.azure_conflicts(),
        *sim.flow_gaps(),
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
    def __init__(self, changes: Mapping[str, Change], order_shown: bool = True) -> None:
        self.changes = changes
        self.order_shown = order_shown
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
        self.order = _Order(changes, self.urn_of)

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
                    out.append(_azure_conflict(what, value, urn, others[0]))
        return out

    def flow_gaps(self) -> list[Hazard]:
        """Flows both plans allow that, at some moment of the update, no rule allows.

        The engine runs a resource's step only once every resource it depends on (its new
        state's ``dependencies`` and ``propertyDependencies``) has finished its step. So a
        flow is refused at some moment iff some set of finished steps, closed under those
        dependencies, leaves no resource allowing it. Deletes wait for the end and a
        delete-first replacement is already gone. An old rule switched in place keeps
        allowing what its old state and the new states of everything its update waits for
        (itself, and what it depends on, transitively, created resources included) both
        allow; one whose resources are not switched keeps all it allowed.
        """
        olds = [c.old for c in self.changes.values() if c.old is not None]
        news = [c.new for c in self.changes.values() if c.new is not None]
        try:
            before, after = read_states(olds), read_states(news)
        except DocumentError:
            return []  # what is allowed cannot be decided; diff and verify say why
        cycle = self.order.cycle()
        if cycle:
            return [_cycle_hazard(cycle)]
        new_of: dict[str, AllowSet] = defaultdict(AllowSet)
        for r in after.rules:
            if r.access == "Allow":
                new_of[r.urn] = new_of[r.urn] | AllowSet(r.boxes())
        # resource -> the new rules it is part of (a rule, and each rule reading a list)
        rules_of: dict[str, set[str]] = defaultdict(set)
        for u in new_of:
            for part in self._parts(u, "new"):
                rules_of[part].add(u)
        out = []
        for cloud in sorted(set(before.clouds()) & set(after.clouds())):
            was, now = before.allow_set(cloud), after.allow_set(cloud)
            still = _both(was, now)
            if not still:
                continue
            kept, movers = AllowSet(), []
            for r in before.rules:
                if r.cloud != cloud or r.access != "Allow":
                    continue
                mine, how = AllowSet(r.boxes()), self._through(r.urn)
                if how == "kept":
                    kept = kept | mine
                elif how == "switched":
                    kept = kept | self._kept_while_switched(r.urn, mine, new_of, rules_of)
                if how != "kept":
                    movers.append((r.urn, mine, how))
            refused = still - kept
            if refused:
                out.append(self._gap(cloud, refused, movers, after.rules))
        return out

    def _parts(self, urn: str, side: str) -> list[str]:
        """The resources (new-side URNs) a rule's allowance reads: itself and its list."""
        urn = self.urn_of.get(urn, urn)
        c = self.changes.get(urn)
        state = (c.old if side == "old" else c.new) if c else None
        listed = (self.ref(state or {}, "prefixListId", side) or "").removesuffix("#replacement")
        return [urn, listed] if listed in self.changes and listed != urn else [urn]

    def _kept_while_switched(
        self,
        urn: str,
        mine: AllowSet,
        new_of: Mapping[str, AllowSet],
        rules_of: Mapping[str, set[str]],
    ) -> AllowSet:
        """What an old rule switched in place still allows at every moment of the update.

        For each of its resources updated in place, the earliest moment that update can run
        has finished the update itself and everything it waits for, transitively: the rule
        keeps what its old state and those new states (and its own) both allow. A new rule
        counts once every one of its resources has finished or is unchanged.
        """
        own = new_of.get(self.urn_of.get(urn, urn), AllowSet())
        out: AllowSet | None = None
        for part in self._parts(urn, "old"):
            c = self.changes.get(part)
            if c is None or c.op != "update":
                continue
            done = self.order.closure(part)
            there = own
            for member in sorted(done):
                for other in sorted(rules_of.get(member, ())):
                    parts = self._parts(other, "new")
                    if all(p in done or self.changes[p].op == "same" for p in parts):
                        there = there | new_of[other]
            kept = _both(mine, there)
            out = kept if out is None else _both(out, kept)
        return _both(mine, own) if out is None else out

    def _through(self, urn: str) -> str:
        """How an old rule's resources pass the update: kept, switched (in place) or gone."""
        c = self.changes.get(self.urn_of.get(urn, urn))
        if c is None:
            return "kept"
        ops = [c]
        listed = self.ref(c.old or {}, "prefixListId", "old")
        if listed and listed in self.changes:  # a prefix list's entries change in place
            ops.append(self.changes[listed])
        if any(x.op == "replace" and not lingers(x) for x in ops):
            return "gone"
        return "switched" if any(x.op == "update" for x in ops) else "kept"

    def _gap(self, cloud: str, refused: AllowSet, movers: list, new_rules: list) -> Hazard:
        flows = [str(b) for b in refused.boxes()]
        shown = ", ".join(flows[:3]) + (f" and {len(flows) - 3} more" if len(flows) > 3 else "")
        dropper, how = next(((u, h) for u, mine, h in movers if _both(mine, refused)), ("", ""))
        if how == "gone":  # replaced delete-first: its successor is the new home
            return Hazard(
                "flow-gap", f"{cloud}/{dropper}",
                f"{shown} stay allowed, but {_short(dropper)} is replaced delete-first (its "
                "cloud name changes), so they are refused from its delete until its "
                "replacement is created (an egress gap of seconds)",
                (
                    "accept the gap, or keep the settings that name the rule (namePrefix) "
                    "for an existing NSG"
                    if cloud == "azure"
                    else "accept the gap, or keep the inputs that force the replacement"
                ),
            )  # fmt: skip
        home = next(
            (r.urn for r in new_rules
             if r.cloud == cloud and r.urn != dropper and _both(AllowSet(r.boxes()), refused)),
            "",
        )  # fmt: skip
        what = "prefix list or egress rule" if cloud == "aws" else "NSG rule"
        unordered = bool(home) and self._unordered(dropper, home)
        dropper, home = self._holder(dropper, "old"), self._holder(home, "new")
        two_steps = (
            f"apply in two steps: first `pulumi up --target <URN of {_short(home)}> "
            "--target-dependents`, so both allow them, then the whole `pulumi up`"
        )
        if not self.order_shown:
            two_steps = (
                "the document does not show the update's order (an engine event stream "
                "leaves out the resources' `dependencies`): diff the `pulumi preview --json` "
                "document, which shows it; if the gap stays, " + two_steps
            )
            unordered = False
        return Hazard(
            "flow-gap", f"{cloud}/{dropper}",
            f"{shown} stay allowed but change {what}: {_short(dropper)} stops allowing them "
            f"in place while their new home ({_short(home)}) is created or updated in "
            "parallel, so for a moment no rule allows them (an egress gap of seconds)",
            (
                "the update is not ordered (planned without what the cloud holds): plan with "
                "`korefw plan --state STATE.json`, or preview with the cloud readable, so "
                f"the update is ordered ({_short(dropper)} then waits for {_short(home)}); "
                f"or {two_steps}"
                if unordered
                else two_steps
            ),
        )  # fmt: skip

    def _unordered(self, dropper: str, home: str) -> bool:
        """The gap is only for want of order: the loser waits for nothing but what it reads
        (no ``depends_on``), and the new home does not wait for the loser."""
        losing = self._parts(dropper, "old")
        for part in losing:
            c = self.changes.get(part)
            state = (c.new if c else None) or {}
            deps = state.get("propertyDependencies")
            read = {u for v in (deps.values() if isinstance(deps, Mapping) else ())
                    for u in _urns(v)}  # fmt: skip
            if set(_urns(state.get("dependencies"))) - read:
                return False
        waited = set().union(*(self.order.closure(p) for p in self._parts(home, "new")))
        return not waited & set(losing)

    def _holder(self, urn: str, side: str) -> str:
        """The prefix list an egress rule reads its addresses from, else the rule itself."""
        c = self.changes.get(self.urn_of.get(urn, urn))
        state = (c.old if side == "old" else c.new) if c else None
        listed = (self.ref(state or {}, "prefixListId", side) or "").removesuffix("#replacement")
        return listed if listed in self.changes else urn


class _Order:
    """Which steps of the update wait for which: the engine's dependency graph.

    A language host registers a resource only once every resource it depends on has
    finished its step, so the step executor runs it after them (pulumi/pulumi,
    pkg/resource/deploy/step_executor.go, the ``stepExecutor`` comment). The edges are
    what the engine records of that wait in each new state (``apitype.ResourceV3``
    ``dependencies``, which hold ``depends_on``, and ``propertyDependencies``), as a stack
    export, a ``pulumi preview --json`` step's ``newState`` and a streamed preview's
    ``metadata.new`` all show it (``stack.SerializeResource``).
    """

    def __init__(self, changes: Mapping[str, Change], urn_of: Mapping[str, str]) -> None:
        self.edges: dict[str, set[str]] = {}
        for urn, c in changes.items():
            if c.new is None:
                continue
            listed: list[Any] = list(_urns(c.new.get("dependencies")))
            deps = c.new.get("propertyDependencies")
            for value in (deps.values() if isinstance(deps, Mapping) else ()):
                listed += _urns(value)
            found = {urn_of.get(u, u) for u in listed}
            self.edges[urn] = {u for u in found if u != urn and u in changes
                               and changes[u].new is not None}  # fmt: skip
        self._closures: dict[str, frozenset[str]] = {}

    def closure(self, urn: str) -> frozenset[str]:
        """The resource and everything it waits for, transitively (no cycle: see cycle)."""
        if urn in self._closures:
            return self._closures[urn]
        seen, todo = {urn}, [urn]
        while todo:
            for dep in self.edges.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        self._closures[urn] = frozenset(seen)
        return self._closures[urn]

    def cycle(self) -> list[str]:
        """Resources that wait for each other in a ring (a document the engine cannot run)."""
        state: dict[str, int] = {}  # 1: on the path, 2: done
        for start in sorted(self.edges):
            if start in state:
                continue
            path, stack = [start], [iter(sorted(self.edges[start]))]
            state[start] = 1
            while stack:
                dep = next(stack[-1], None)
                if dep is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(dep) == 1:
                    return path[path.index(dep):]
                elif dep not in state:
                    state[dep] = 1
                    path.append(dep)
                    stack.append(iter(sorted(self.edges.get(dep, ()))))
        return []


def _urns(value: Any) -> list[str]:
    """The URNs of a ``dependencies`` list (anything else in it names nothing)."""
    return [u for u in value if isinstance(u, str)] if isinstance(value, list) else []


def _cycle_hazard(cycle: list[str]) -> Hazard:
    """Steps that depend on each other: whether a flow is refused cannot be decided."""
    ring = " → ".join(_short(u) for u in [*cycle, cycle[0]])
    return Hazard(
        "flow-order", cycle[0],
        f"the resources' dependencies form a cycle ({ring}), which no update can run in "
        "order, so whether a flow is refused mid-update cannot be decided",
        "plan again so the dependencies come from the components (`korefw plan`), or "
        "remove the `depends_on` that closes the cycle",
    )  # fmt: skip


def _both(a: AllowSet, b: AllowSet) -> AllowSet:
    """The flows ``a`` and ``b`` both allow."""
    return a - (a - b)


def _azure_conflict(what: str, value: Any, urn: str, holder: str) -> Hazard:
    """An NSG rule created or moved onto a name or priority another rule still holds."""
    if what == "name":
        problem = (
            f"NSG rule {_short(urn)} is created under the name {value} while "
            f"{_short(holder)} still holds it (deleted only at the end of the update): the "
            'azure-native provider checks before creating and refuses with "cannot create '
            f"already existing resource '.../securityRules/{value}'\""
        )
        way = (
            f"apply in two steps: first `pulumi destroy --target` {_short(holder)} (a brief "
            "gap for its flows), then `pulumi up`; or keep the rule's priority (`priorities=`)"
        )
    else:
        problem = (
            f"NSG rule {_short(urn)} takes priority {value} while {_short(holder)} still holds "
            "it (deleted or moved in the same update): Azure answers SecurityRuleConflict "
            "(two rules cannot have the same priority and direction)"
        )
        way = (
            "pin the new rule to a free priority (`priorities=`), or apply in two steps: "
            "first remove or move the old rule, then add the new one"
        )
    return Hazard(f"azure-{what}", urn, problem, way)


def lingers(c: Change) -> bool:
    """The old resource is still there when the creates and updates run."""
    return c.op == "delete" or (c.op == "replace" and not c.delete_before_replace)


def _rule_name(inputs: Mapping[str, Any]) -> Any:
    return _plain(inputs.get("securityRuleName") or inputs.get("name"))


def _plain(value: Any) -> Any:
    """A value usable as a key: malformed inputs (lists, objects) compare by their text."""
    return value if value is None or isinstance(value, str | int | float) else repr(value)
