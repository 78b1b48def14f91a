"""Rule-level diffs of two plans (or two rule sources), as Markdown for a PR comment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import printable
from ..rules.allowset import AllowSet, Box
from ..rules.model import RuleSet
from .hazards import apply_hazards, change_hazards
from .planread import EffectiveRule, PlanReading, read_states
from .pulumidoc import PulumiDocument, parse_document, state_after, state_before
from .steps import changes, count_ops


@dataclass
class Diff:
    """What changes between two plans, at rule level and resource level."""

    added: dict[str, list[tuple[Box, str]]] = field(default_factory=dict)
    removed: dict[str, list[tuple[Box, str]]] = field(default_factory=dict)
    fqdn_added: list[str] = field(default_factory=list)
    fqdn_removed: list[str] = field(default_factory=list)
    resources: dict[str, int] = field(default_factory=dict)
    #: URNs of resources that are deleted and created again.
    replaced: list[str] = field(default_factory=list)
    #: ``hazard: ...`` lines, what could fail half-way through ``pulumi up`` (see hazards.py).
    hazards: list[str] = field(default_factory=list)
    #: Why no apply hazards are named, when the two plans are of different stacks.
    note: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing at all changes."""
        flows = any(self.added.values()) or any(self.removed.values())
        res = any(v for k, v in self.resources.items() if k != "same")
        return not (flows or res or self.fqdn_added or self.fqdn_removed or self.replaced)

    def lines(self) -> list[str]:
        """The rule-level lines, ``+`` added and ``-`` removed, sorted within each cloud."""
        out: list[str] = []
        for cloud in sorted(set(self.added) | set(self.removed)):
            out += [f"+ {cloud}: {b}{_label(lab)}" for b, lab in self.added.get(cloud, [])]
            out += [f"- {cloud}: {b}{_label(lab)}" for b, lab in self.removed.get(cloud, [])]
        out += [f"+ fqdn: {f}" for f in self.fqdn_added]
        out += [f"- fqdn: {f}" for f in self.fqdn_removed]
        return out

    def markdown(self, title: str = "korefw plan diff") -> str:
        """A PR comment: a summary line, a ``diff`` block of flows, resource counts."""
        n_add = sum(len(v) for v in self.added.values()) + len(self.fqdn_added)
        n_del = sum(len(v) for v in self.removed.values()) + len(self.fqdn_removed)
        md = [f"### {title}", ""]
        if self.empty:
            md.append("No change to egress rules or resources.")
            return _join(md)
        md.append(f"**Egress rules:** {n_add} added, {n_del} removed.")
        if self.resources:
            r = self.resources
            md.append(
                f"**Resources:** {r.get('create', 0)} to create, {r.get('delete', 0)} to delete, "
                f"{r.get('replace', 0)} to replace, {r.get('update', 0)} to update."
            )
        if self.replaced:
            names = ", ".join(f"`{u.rsplit('::', 1)[-1]}`" for u in self.replaced)
            md.append(f"**Replaced** (deleted and created again): {names}.")
        if self.note:
            md += ["", self.note]
        for line in self.hazards:  # one paragraph each, so every line starts with "hazard:"
            md += ["", line]
        body = self.lines()
        if body:
            md += ["", "```diff", *body, "```"]
        return _join(md)


    def styled(self, title: str = "korefw plan diff") -> list[tuple[str, str]]:
        """The same report for a terminal, as (style, text) lines: styles ``title``,
        ``summary``, ``hazard``, ``add`` and ``remove`` (the caller colours them)."""
        md = self.markdown(title).splitlines()
        out: list[tuple[str, str]] = [("title", printable(title))]
        in_block = False
        for line in md[2:]:
            if line.startswith("```"):
                in_block = not in_block
            elif in_block:
                out.append(("add" if line.startswith("+") else "remove", line))
            elif line:
                kind = "hazard" if line.startswith("hazard:") else "summary"
                out.append((kind, line.replace("**", "").replace("`", "")))
        return out


def _join(lines: list[str]) -> str:
    """One text of lines whose names, labels and title (from the documents and the command
    line) have their control characters escaped: none can add a line or drive a terminal."""
    return "".join(f"{printable(line)}\n" for line in lines)


def _label(label: str) -> str:
    return f" ({label})" if label else ""


Doc = Mapping[str, Any] | PulumiDocument


def diff_plans(old: Doc | None, new: Doc | None) -> Diff:
    """Compare two plans (``pulumi preview --json`` or ``korefw plan --json`` documents).

    When ``old`` is a ``pulumi stack export``, ``new`` is the preview of an update to that
    state: see :func:`diff_update`. Otherwise each plan is read on its own (as the state
    after its update) and resources are paired by URN; ``None`` is a stack that does not
    exist.
    """
    a = None if old is None else parse_document(old, "OLD")
    b = None if new is None else parse_document(new, "NEW")
    if a is not None and b is not None and a.kind == "export" and b.kind != "export":
        return diff_update(b, a)
    sa = [] if a is None else state_after(a)
    sb = [] if b is None else state_after(b)
    d = _flow_diff(read_states(sa), read_states(sb))
    moves = changes(sa, sb)  # computed once: both the counts and the hazards read it
    d.resources = count_ops(moves)
    stacks_a, stacks_b = _stacks(sa), _stacks(sb)
    if stacks_a and stacks_b and not stacks_a & stacks_b:
        # Two stacks share no resource: one is not applied over the other, so there is no
        # order of creates and deletes to simulate.
        d.note = (
            f"No apply hazards: the plans are of different stacks ({_names(stacks_a)} and "
            f"{_names(stacks_b)}), which share no resources."
        )
    else:
        shown = b is None or b.kind != "stream"
        d.hazards = [h.line() for h in change_hazards(moves, order_shown=shown)]
    return d


def _stacks(states: list[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(stack, project) of every resource URN (``urn:pulumi:STACK::PROJECT::...``)."""
    out = set()
    for s in states:
        head = str(s.get("urn", "")).split("::")
        if len(head) >= 2 and head[0].startswith("urn:pulumi:"):
            out.add((head[0].removeprefix("urn:pulumi:"), head[1]))
    return out


def _names(stacks: set[tuple[str, str]]) -> str:
    return ", ".join(f"{project}/{stack}" for stack, project in sorted(stacks))


def diff_update(preview: Doc, state: Doc | None = None) -> Diff:
    """What one update changes: the state before (``state``, or the old states a complete
    preview shows) against the state after; counts and replacements as ``pulumi up`` does."""
    doc = parse_document(preview, "PREVIEW")
    base = None if state is None else parse_document(state, "STATE")
    before, after = state_before(doc, base), state_after(doc, base)
    d = _flow_diff(read_states(before), read_states(after))
    d.resources = {k: v for k, v in doc.op_counts().items() if v}
    shown = doc.kind != "stream"
    d.hazards = [h.line() for h in apply_hazards(before, after, order_shown=shown)]
    d.replaced = sorted({s.urn for s in doc.steps if s.op == "replace"})
    return d


def _flow_diff(a: PlanReading, b: PlanReading) -> Diff:
    d = Diff()
    for cloud in sorted(set(a.clouds()) | set(b.clouds())):
        before, after = a.allow_set(cloud), b.allow_set(cloud)
        d.added[cloud] = _labelled(after - before, b, cloud)
        d.removed[cloud] = _labelled(before - after, a, cloud)
    return d


def diff_rules(old: RuleSet, new: RuleSet) -> Diff:
    """Compare two rule sources (vendor pages or rule files)."""
    d = Diff()
    before, after = old.allow_set(), new.allow_set()
    d.added["rules"] = [(x, _rule_label(new, x)) for x in (after - before).boxes()]
    d.removed["rules"] = [(x, _rule_label(old, x)) for x in (before - after).boxes()]
    fa = {f"{p} {pr} → {f}" for r in old.fqdn_rules() for f in r.fqdns for p in r.protocols
          for pr in r.ports}  # fmt: skip
    fb = {f"{p} {pr} → {f}" for r in new.fqdn_rules() for f in r.fqdns for p in r.protocols
          for pr in r.ports}  # fmt: skip
    d.fqdn_added, d.fqdn_removed = sorted(fb - fa), sorted(fa - fb)
    return d


def _covers(rule_boxes: list[Box], box: Box) -> bool:
    return any(
        r.protocol == box.protocol
        and r.version == box.version
        and r.ports[0] <= box.ports[0] <= r.ports[1]
        and r.addresses[0] <= box.addresses[0] <= r.addresses[1]
        for r in rule_boxes
    )


def _labelled(flows: AllowSet, reading: PlanReading, cloud: str) -> list[tuple[Box, str]]:
    rules: list[EffectiveRule] = [r for r in reading.rules if r.cloud == cloud]
    out = []
    for box in flows.boxes():
        label = next((r.description for r in rules if _covers(r.boxes(), box)), "")
        out.append((box, label))
    return out


def _rule_label(rules: RuleSet, box: Box) -> str:
    for r in rules.ip_rules():
        if _covers(list(r.allow_set().boxes()), box):
            return r.describe()
    return ""
