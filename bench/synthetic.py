"""Synthetic rule sets for the benchmarks: ``n`` vendor-like rows, deterministic per seed."""

from __future__ import annotations

import ipaddress
import random

from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange

#: Port profiles shaped like Kore's pages: HTTPS, SIP, RTP media ranges, TURN, DNS.
PROFILES: tuple[tuple[tuple[Protocol, ...], tuple[tuple[int, int], ...]], ...] = (
    ((Protocol.TCP,), ((443, 443),)),
    ((Protocol.TCP,), ((443, 443), (8443, 8443))),
    ((Protocol.TCP, Protocol.UDP), ((5060, 5061),)),
    ((Protocol.UDP,), ((10000, 60000),)),
    ((Protocol.TCP, Protocol.UDP), ((3478, 3478),)),
    ((Protocol.UDP,), ((53, 53),)),
)


def synthetic_rules(n: int, *, seed: int = 0, sections: int = 10) -> RuleSet:
    """``n`` rows, one distinct destination each (mostly /32, some /28 and IPv6 /64).

    Rows spread over ``sections`` sections and six port profiles, so the planners see the
    same kind of merging and grouping work as on a vendor page, only more of it.
    """
    rng = random.Random(seed)
    rules = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.05:
            net: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.IPv6Network(
                ((0x2001_0DB8 << 96) + (i << 64), 64)
            )
        elif kind < 0.25:
            net = ipaddress.IPv4Network(((100 << 24) + (i << 4), 28))
        else:
            net = ipaddress.IPv4Network(((10 << 24) + i * 2, 32))
        protos, ports = PROFILES[rng.randrange(len(PROFILES))]
        rules.append(
            Rule(
                section=f"Section {i % sections}",
                component=f"component-{rng.randrange(4)}",
                protocols=protos,
                ports=tuple(PortRange(lo, hi) for lo, hi in ports),
                cidrs=(net,),
            )
        )
    return RuleSet(tuple(rules), region="syn")
