"""What every planner shares: the plan contract and the FQDN flows no address rule can hold.

A security group or NSG matches addresses only, so each cloud plan groups the vendor's
FQDN rules into :class:`FqdnFlow` (one name, one protocol, merged ports), enforces what
its cloud can (AWS Network/DNS Firewall, Azure Firewall) and lists the rest as
:class:`UnenforcedFqdnRule`, never dropping one silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..rules.allowset import AllowSet
from ..rules.ports import PortRange, merge_ports


class CloudPlan(Protocol):
    """What both planners return (:class:`AwsPlan`, :class:`AzurePlan`)."""

    @property
    def region(self) -> str:
        """The vendor region the plan is for."""
        ...

    @property
    def rule_count(self) -> int:
        """How many security group egress rules or NSG rules."""
        ...

    @property
    def warnings(self) -> Sequence[str]:
        """What the user must know; the components log each one."""
        ...

    @property
    def unenforced_fqdn_rules(self) -> Sequence[UnenforcedFqdnRule]:
        """FQDN flows nothing planned enforces."""
        ...

    def allow_set(self) -> AllowSet:
        """The IP flows the planned rules allow."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The plan as deterministic JSON-able data (the components' ``plan`` output)."""
        ...


@dataclass(frozen=True)
class FqdnFlow:
    """FQDN egress: one name, one protocol, merged destination ports, and their sources."""

    fqdn: str
    protocol: str
    ports: tuple[PortRange, ...]
    sources: tuple[str, ...]  # "section / component" of the vendor rules

    @property
    def ports_text(self) -> str:
        """``443, 8443`` style."""
        return ", ".join(map(str, self.ports))

    def describe(self) -> str:
        """``*.kore.ai tcp 443, 8443``."""
        return f"{self.fqdn} {self.protocol} {self.ports_text}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "fqdn": self.fqdn,
            "protocol": self.protocol,
            "ports": self.ports_text,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class UnenforcedFqdnRule:
    """An FQDN flow that no chosen enforcement point expresses, and why."""

    flow: FqdnFlow
    reason: str

    def describe(self) -> str:
        """``*.kore.ai tcp 443, 8443``."""
        return self.flow.describe()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**self.flow.to_dict(), "reason": self.reason}


def fqdn_flows(entries: Iterable[tuple[str, str, PortRange, str]]) -> list[FqdnFlow]:
    """``(fqdn, protocol, ports, source)`` entries as flows, by name and protocol."""
    grouped: dict[tuple[str, str], list[tuple[PortRange, str]]] = defaultdict(list)
    for fqdn, protocol, ports, source in entries:
        grouped[(fqdn, protocol)].append((ports, source))
    return [
        FqdnFlow(
            fqdn, proto, merge_ports(p for p, _ in items), tuple(sorted({s for _, s in items}))
        )
        for (fqdn, proto), items in sorted(grouped.items())
    ]
