"""Verify a plan against the vendor's rules: nothing missing, nothing extra, nothing wider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .allowset import AllowSet
from .model import RuleSet
from .planread import EffectiveRule, PlanReading, read_plan


@dataclass
class CloudVerdict:
    """How one cloud's egress rules in a plan compare with the rule set."""

    cloud: str
    groups: list[str]
    missing: AllowSet
    extra: AllowSet
    wider: list[EffectiveRule] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the cloud allows exactly the rule set's IP flows, TCP and UDP only."""
        return not self.missing and not self.extra and not self.wider


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

    def render(self) -> str:
        """A plain-text report, one finding a line."""
        lines: list[str] = []
        if not self.clouds:
            lines.append("FAIL: the plan has no security group egress rule or NSG")
        for c in self.clouds:
            status = "OK" if c.ok else "FAIL"
            lines.append(f"{status}: {c.cloud}: {len(c.groups)} group(s)")
            lines += [f"  missing {b}" for b in c.missing.boxes()]
            lines += [f"  extra   {b}" for b in c.extra.boxes()]
            lines += [
                f"  wider than TCP or UDP: protocol {r.protocol!r} in {r.urn}" for r in c.wider
            ]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def verify(doc: Mapping[str, Any], rules: RuleSet) -> Verification:
    """Compare each cloud's effective egress allow set in ``doc`` with ``rules``' IP part."""
    reading: PlanReading = read_plan(doc)
    expected = rules.allow_set()
    verdicts = []
    for cloud in ("aws", "azure"):
        groups = reading.groups(cloud)
        if not groups:
            continue
        actual = reading.allow_set(cloud)
        wider = [r for r in reading.wider_than_l4() if r.cloud == cloud]
        verdicts.append(CloudVerdict(cloud, groups, expected - actual, actual - expected, wider))
    return Verification(verdicts, reading.problems, reading.notes)
