"""The plan contract both clouds keep, and the FQDN flows they share (core/plan/fqdn.py)."""

from __future__ import annotations

import pytest
from conftest import japan
from hypothesis import given
from hypothesis import strategies as st

from korefw.core.plan.aws_plan import plan_aws
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.plan.fqdn import CloudPlan, UnenforcedFqdnRule, fqdn_flows
from korefw.core.rules.ports import PortRange


@pytest.mark.parametrize("planner", [plan_aws, plan_azure])
def test_both_planners_keep_the_plan_contract(planner) -> None:  # type: ignore[no-untyped-def]
    rules = japan()
    plan: CloudPlan = planner(rules)
    assert plan.region == "jp"
    assert all(isinstance(w, str) for w in plan.warnings)
    assert plan.rule_count > 0
    assert plan.allow_set() == rules.allow_set()
    unenforced = plan.unenforced_fqdn_rules
    assert unenforced and all(isinstance(u, UnenforcedFqdnRule) for u in unenforced)
    assert {u.flow.fqdn for u in unenforced} == {f for r in rules.fqdn_rules() for f in r.fqdns}
    assert any("not enforced" in w for w in plan.warnings)
    assert plan.to_dict()["region"] == "jp"


def test_flows_merge_ports_and_keep_every_source() -> None:
    flows = fqdn_flows(
        [
            ("b.example", "tcp", PortRange(443, 443), "S / one"),
            ("a.example", "udp", PortRange(5061, 5061), "S / two"),
            ("a.example", "udp", PortRange(5060, 5060), "S / one"),
            ("a.example", "tcp", PortRange(443, 443), "S / one"),
        ]
    )
    assert [f.describe() for f in flows] == [
        "a.example tcp 443",
        "a.example udp 5060-5061",
        "b.example tcp 443",
    ]
    assert flows[1].sources == ("S / one", "S / two")


_entries = st.lists(
    st.tuples(
        st.sampled_from(["a.example", "*.b.example"]),
        st.sampled_from(["tcp", "udp"]),
        st.builds(
            lambda lo, n: PortRange(lo, min(65535, lo + n)),
            st.integers(1, 65535),
            st.integers(0, 40),
        ),
        st.sampled_from(["S / x", "S / y"]),
    ),
    max_size=30,
)


@given(_entries)
def test_flows_cover_exactly_the_ports_they_were_given(entries) -> None:  # type: ignore[no-untyped-def]
    flows = fqdn_flows(entries)
    for f in flows:
        given_ports = {
            p for n, proto, r, _ in entries if (n, proto) == (f.fqdn, f.protocol)
            for p in range(r.lo, r.hi + 1)
        }  # fmt: skip
        assert {p for r in f.ports for p in range(r.lo, r.hi + 1)} == given_ports
        assert all(a.hi + 1 < b.lo for a, b in zip(f.ports, f.ports[1:], strict=False))
    assert len({(f.fqdn, f.protocol) for f in flows}) == len(flows)
    assert {(n, proto) for n, proto, _, _ in entries} == {(f.fqdn, f.protocol) for f in flows}
