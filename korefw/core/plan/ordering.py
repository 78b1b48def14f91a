"""Make before break: which update in place must wait for which other resource.

Pulumi runs creates and updates first, unrelated resources in parallel, and deletes at the
end. Resources that only add (a new rule, a list that gains entries) or that go (deleted
at the end) never refuse a flow the new data still allows. What can is an update in place
that *takes something away* (a prefix list losing an entry, an NSG rule losing an address
or a port) while the flow it took away moves to another resource: if the loser runs
first, the flow is refused until the gainer has run.

No layout decided from the new data alone avoids that for every change: which resource
loses and which gains depends on what the cloud holds now. So the planners take what it
holds (:class:`HeldState`, read from the cloud by the components, or from a stack export
by ``korefw plan --state``) and this module orders the update: each losing unit waits for
every planned resource that allows part of what it loses (``depends_on`` in the
components), so the gainer runs first. Two units that hand flows to each other would wait
for each other; such a cycle is not ordered, and the plan says so (``korefw diff`` names it
as a flow gap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import PlanError
from ..rules.allowset import AllowSet


@dataclass(frozen=True)
class HeldRule:
    """One rule an existing NSG holds now (korefw's or anyone's), as Azure returns it."""

    name: str
    priority: int
    direction: str  # Outbound | Inbound
    access: str  # Allow | Deny
    allows: AllowSet = field(default_factory=AllowSet)  # what it allows, if korefw can read it


@dataclass(frozen=True)
class HeldState:
    """What the cloud holds now of what a plan manages: the state its update starts from.

    ``known`` is False when nothing could be read (an offline plan, an input not known
    before the update, or a read the cloud refused): then nothing is ordered and the plan
    says so. ``prefix_lists``: AWS, prefix-list key -> the CIDRs the list holds now.
    ``nsg_rules``: Azure, every rule of the existing NSG.
    """

    known: bool = False
    prefix_lists: Mapping[str, frozenset[str]] = field(default_factory=dict)
    nsg_rules: tuple[HeldRule, ...] = ()
    #: Why nothing is known, when it is not ("offline", "the NSG name is not known ...").
    why_unknown: str = ""


#: Nothing read: every unit is taken as new, and nothing is ordered.
UNKNOWN = HeldState()


def waits(
    losers: Mapping[str, tuple[AllowSet, AllowSet]],
    allowers: Mapping[str, AllowSet],
    owner: Callable[[str], str | None],
    still: AllowSet,
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """Which units wait for which allowers, and the units left unordered (a cycle).

    ``losers``: unit -> (what it allows now, what it will allow), for units updated in
    place. ``allowers``: name -> what the planned resource allows; ``owner(name)`` is the
    unit whose update the allower itself waits on (a reference rule's prefix list), or
    None. ``still``: what the new plan allows. A unit waits for every allower, other than
    its own, that allows part of what it loses and the new plan still allows.
    """
    out: dict[str, tuple[str, ...]] = {}
    for unit, (now, after) in sorted(losers.items()):
        lost = (now - after) & still
        if not lost:
            continue
        found = tuple(
            sorted(
                name
                for name, allows in allowers.items()
                if owner(name) != unit and name != unit and allows & lost
            )
        )
        if found:
            out[unit] = found
    cyclic = _cyclic(out, owner)
    return {u: w for u, w in out.items() if u not in cyclic}, tuple(sorted(cyclic))


def cycle_warning(what: str, others: str) -> str:
    """The plan's warning for a unit left unordered on a cycle (``waits``' second result)."""
    return (
        f"{what} hands flows to {others} that hand some back: the update cannot order them, "
        "so a flow may be refused for a moment (korefw diff names it; apply in two steps)"
    )


def _cyclic(edges: Mapping[str, tuple[str, ...]], owner: Callable[[str], str | None]) -> set[str]:
    """Units on a cycle of "waits for an allower whose unit waits for ...".

    Each allower is its own unit unless ``owner`` names another (a reference rule and its
    prefix list): the graph is unit -> unit.
    """
    graph = {u: {owner(w) or w for w in ws} for u, ws in edges.items()}
    on_cycle: set[str] = set()
    for start in graph:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            node = todo.pop()
            if node == start:
                on_cycle.add(start)
                break
            if node in seen:
                continue
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return on_cycle


def closure(
    unit: str, edges: Mapping[str, tuple[str, ...]], owner: Callable[[str], str | None]
) -> set[str]:
    """Every name ``unit`` waits for, directly or through the units of what it waits for."""
    out: set[str] = set()
    todo = list(edges.get(unit, ()))
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        nxt = owner(name) or name
        todo.extend(edges.get(nxt, ()))
    return out


def dependencies_first(names: Iterable[str], needs: Callable[[str], Iterable[str]]) -> list[str]:
    """``names`` in their order, except that each comes after everything it ``needs``
    (transitively; needed names not in ``names`` are placed too). A cycle is a planner bug:
    refused rather than registered half-ordered."""
    out: list[str] = []
    state: dict[str, int] = {}  # 1: being placed, 2: placed

    def place(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise PlanError("resources wait for each other in a cycle", where="after",
                            value=name)  # fmt: skip
        state[name] = 1
        for n in needs(name):
            place(n)
        state[name] = 2
        out.append(name)

    for name in names:
        place(name)
    return out
