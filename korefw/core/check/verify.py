"""Verify a plan against the vendor's rules: nothing missing, nothing extra, nothing wider.

The verdict has three outcomes, which ``korefw verify`` returns as its exit code:

- 0 (:data:`EXIT_OK`): every cloud allows exactly the vendor's IP flows;
- 1 (:data:`EXIT_DIFFERS`): the plan differs: a flow is missing or extra, a rule is wider
  than TCP or UDP, an NSG is open to the Internet through Azure's default rule, or the
  cloud would reject a rule (two NSG rules with one priority and direction, ...);
- 2 (:data:`EXIT_UNDECIDED`): the question cannot be decided (the document is unreadable or
  incomplete, or a deciding value is secret or unknown). Unreadable documents raise
  :class:`~korefw.core.check.pulumidoc.DocumentError`; references that cannot be followed are
  listed in ``problems``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..rules.allowset import AllowSet, Box, describe_boxes
from ..rules.model import RuleSet
from .planread import EffectiveRule, PlanReading, read_plan
from .pulumidoc import PulumiDocument

EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_UNDECIDED = 2


@dataclass
class CloudVerdict:
    """How one cloud's egress rules in a plan compare with the rule set."""

    cloud: str
    groups: list[str]
    missing: AllowSet
    extra: AllowSet
    wider: list[EffectiveRule] = field(default_factory=list)
    #: NSGs where Azure's default AllowInternetOutBound still lets all Internet egress out.
    open_to_internet: list[str] = field(default_factory=list)
    #: Rules the cloud would reject.
    rejected: list[str] = field(default_factory=list)
    #: Egress rules on no security group, or on one outside the plan's.
    misplaced: list[str] = field(default_factory=list)
    #: What was compared: the cloud's egress rules, and the vendor's flows (protocol x
    #: port range x CIDR) they were compared with.
    rule_count: int = 0
    flow_count: int = 0
    #: Group -> what it allows, to name the groups an extra flow is on (``korefw audit``).
    extra_in: dict[str, AllowSet] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the cloud allows exactly the rule set's IP flows, TCP and UDP only."""
        return not (self.missing or self.extra or self.wider or self.open_to_internet
                    or self.rejected or self.misplaced)  # fmt: skip


@dataclass
class Verification:
    """The verdict of every cloud in a plan, plus what could not be checked."""

    clouds: list[CloudVerdict]
    problems: list[str]
    notes: list[str]

    @property
    def ok(self) -> bool:
        """True when every cloud matches and nothing was unreadable."""
        return bool(self.clouds) and not self.problems and all(c.ok for c in self.clouds)

    @property
    def exit_code(self) -> int:
        """0 exactly the vendor's flows, 1 differs, 2 cannot be decided."""
        if self.problems:
            return EXIT_UNDECIDED
        return EXIT_OK if self.ok else EXIT_DIFFERS

    def render(self) -> str:
        """A plain-text report, one finding a line."""
        lines: list[str] = []
        if not self.clouds:
            lines.append("FAIL: the plan has no security group egress rule or NSG")
        for c in self.clouds:
            status = "OK" if c.ok else "FAIL"
            aws = c.cloud.split()[0] == "aws"  # korefw audit's labels start with the cloud
            group, rule = ("security group", "egress rule") if aws else ("NSG", "NSG rule")
            how = "allow exactly" if c.ok and not self.problems else "checked against"
            lines.append(f"{status}: {c.cloud}: {_count(len(c.groups), group)}, "
                         f"{_count(c.rule_count, rule)} {how} the vendor's "
                         f"{_count(c.flow_count, 'flow')}")  # fmt: skip
            lines += _capped("missing", [f"  missing {text}"
                                         for text, _ in describe_boxes(c.missing, MAX_LINES + 1)])
            lines += _capped("extra", [f"  extra   {text}{_where(boxes, c.extra_in)}"
                                       for text, boxes in describe_boxes(c.extra, MAX_LINES + 1)])
            lines += [
                f"  wider than TCP or UDP: protocol {r.protocol!r} in {r.urn}" for r in c.wider
            ]
            lines += [f"  rejected by the cloud: {r}" for r in c.rejected]
            lines += [f"  not on the plan's security group: {r}" for r in c.misplaced]
            lines += [
                f"  open to the Internet: nothing in {g} denies other outbound traffic, so "
                "Azure's default AllowInternetOutBound (65001) lets all Internet egress out; "
                "set korefw:azureDenyOtherOutbound, or pass --egress-filtered-elsewhere if an "
                "Azure Firewall with a route table filters it"
                for g in c.open_to_internet
            ]
        if self.problems:
            lines.append("UNDECIDED: some egress rules cannot be checked")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


#: Missing or extra lines shown per cloud: a document of n rules can differ in n² lines.
MAX_LINES = 200


def _capped(kind: str, lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"  ... more {kind} flows than the {MAX_LINES} lines shown"]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _where(boxes: list[Box], groups: Mapping[str, AllowSet]) -> str:
    """`` (in G1, G2)``: the groups that allow part of ``boxes``; empty without ``groups``."""
    one = AllowSet(boxes)
    names = [g for g, allowed in groups.items() if one - allowed != one]
    return f" (in {', '.join(names)})" if names else ""


def cloud_verdict(
    reading: PlanReading,
    cloud: str,
    expected: AllowSet,
    notes: list[str],
    *,
    label: str | None = None,
    egress_filtered_elsewhere: bool = False,
) -> CloudVerdict:
    """How ``cloud``'s rules in ``reading`` compare with ``expected``; notes go to ``notes``.

    ``label`` names the verdict (default: the cloud).
    """
    groups = reading.groups(cloud)
    actual = reading.allow_set(cloud)
    wider = [r for r in reading.wider_than_l4() if r.cloud == cloud]
    verdict = CloudVerdict(label or cloud, groups, expected - actual, actual - expected, wider)
    verdict.rule_count = len({(r.urn, r.name) for r in reading.rules if r.cloud == cloud})
    verdict.flow_count = sum(len(b.cidrs()) for b in expected.boxes())
    if cloud == "aws":
        verdict.misplaced = list(reading.misplaced)
    if cloud == "azure":
        verdict.rejected = list(reading.rejected)
        if egress_filtered_elsewhere:
            notes += [
                f"{g}: nothing denies other outbound traffic; accepted because Internet "
                "egress is filtered elsewhere (--egress-filtered-elsewhere)"
                for g in reading.open_nsgs
            ]
        else:
            verdict.open_to_internet = list(reading.open_nsgs)
    return verdict


def verify(
    doc: Mapping[str, Any] | PulumiDocument,
    rules: RuleSet,
    *,
    state: Mapping[str, Any] | PulumiDocument | None = None,
    egress_filtered_elsewhere: bool = False,
) -> Verification:
    """Compare each cloud's effective egress allow set after the update with ``rules``' IP part.

    ``doc`` is a preview or a stack export; ``state`` (a stack export) is the state the
    preview applies to. With ``egress_filtered_elsewhere``, an NSG that does not deny other
    outbound traffic is accepted (the user filters Internet egress elsewhere) and only
    korefw's Allow rules are checked.
    """
    reading: PlanReading = read_plan(doc, state)
    expected = rules.allow_set()
    verdicts = []
    notes = list(reading.notes)
    for cloud in ("aws", "azure"):
        if not reading.groups(cloud) and not (cloud == "aws" and reading.misplaced):
            continue
        verdicts.append(cloud_verdict(reading, cloud, expected, notes,
                                      egress_filtered_elsewhere=egress_filtered_elsewhere))
    return Verification(verdicts, reading.problems, notes)
