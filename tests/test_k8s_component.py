"""korefw.components.k8s.EgressNetworkPolicy under Pulumi's mock runtime, read back from
recorded inputs."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pulumi_kubernetes")

from korefw.components.k8s import EGRESS_NETWORK_POLICY, EgressNetworkPolicy
from korefw.core.check.rendered import RenderedReading, k8s_allow_set
from korefw.core.errors import KorefwError
from korefw.core.plan.k8s_plan import ip_block, plan_k8s
from korefw.core.read.regions import load_rules
from korefw.core.rules.allowset import AllowSet
from korefw.runtime.offline import OfflinePlan, run_offline

NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"
ROOT = Path(__file__).resolve().parent.parent


def run(**kwargs: object) -> OfflinePlan:
    return run_offline(lambda: EgressNetworkPolicy("kf", "jp", **kwargs))  # type: ignore[arg-type]


def read_back(plan: OfflinePlan) -> tuple[AllowSet, RenderedReading]:
    """The recorded NetworkPolicy inputs, read as Kubernetes reads manifests."""
    docs = [{"kind": "NetworkPolicy", **r.inputs} for r in plan.of_type(NP)]
    docs += [r.inputs for r in plan.of_type(CNP)]
    reading = RenderedReading()
    allow = k8s_allow_set(docs, "mock", reading)
    assert allow is not None and not reading.problems and not reading.wider
    return allow, reading


def test_registers_policies_allowing_exactly_the_vendors_ip_flows() -> None:
    plan = run()
    assert [c.type for c in plan.resources].count(EGRESS_NETWORK_POLICY) == 1
    allow, _ = read_back(plan)
    assert allow == load_rules("jp").allow_set()
    names = {r.inputs["metadata"]["name"] for r in plan.of_type(NP)}
    assert "korefw-deny-other" in names
    assert not plan.of_type(CNP)
    # FQDN rules are listed, not dropped.
    assert any("not enforced" in w for w in plan.warnings)


def test_names_come_from_rule_identity_not_order() -> None:
    from dataclasses import replace

    rules = load_rules("jp")
    a = run_offline(lambda: EgressNetworkPolicy("kf", rules))
    b = run_offline(lambda: EgressNetworkPolicy("kf", replace(rules, rules=rules.rules[::-1])))
    assert {r.urn for r in a.resources} == {r.urn for r in b.resources}


def test_cilium_enforces_every_fqdn_rule_with_the_dns_visibility_rule() -> None:
    plan = run(cilium=True, allow_dns=["10.96.0.10"])
    allow, reading = read_back(plan)
    expected = load_rules("jp").allow_set() | AllowSet.of(
        "udp", [(53, 53)], [ipaddress.ip_network("10.96.0.10/32")]
    ) | AllowSet.of("tcp", [(53, 53)], [ipaddress.ip_network("10.96.0.10/32")])
    assert allow == expected
    (cnp,) = plan.of_type(CNP)
    dns = cnp.inputs["spec"]["egress"][0]
    assert dns["toEndpoints"][0]["matchLabels"]["k8s:k8s-app"] == "kube-dns"
    assert dns["toPorts"][0]["rules"] == {"dns": [{"matchPattern": "*"}]}
    from korefw.core.check.rendered import fqdn_enforced

    assert all(fqdn_enforced(r, reading.fqdns) for r in load_rules("jp").fqdn_rules())
    (comp,) = plan.of_type(EGRESS_NETWORK_POLICY)
    assert comp.outputs["unenforced_fqdn_rules"] == []


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [({"namespace": "Bad_NS"}, "namespace"), ({"allow_dns": ["10.0.0.0/8"]}, "allow_dns"),
     ({"pod_selector": {"bad key!": "x"}}, "pod_selector"), ({"sections": ["nope"]}, "section")],
)  # fmt: skip
def test_errors_before_any_resource(kwargs: dict[str, object], where: str) -> None:
    registered: list[object] = []
    with pytest.raises(KorefwError) as info:
        run_offline(lambda: registered.append(EgressNetworkPolicy("kf", "jp", **kwargs)))
    assert where in str(info.value)
    assert registered == []


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(20, 32)), min_size=1, max_size=6))
@settings(max_examples=80, deadline=None)
def test_ip_block_with_except_is_exact(nets: list[tuple[int, int]]) -> None:
    cidrs = list(ipaddress.collapse_addresses(
        ipaddress.ip_network(f"10.20.{o}.0/{n}", strict=False) for o, n in nets))  # fmt: skip
    peers = ip_block(cidrs)
    assert len(peers) <= len(cidrs)
    doc = {"kind": "NetworkPolicy", "spec": {"podSelector": {}, "policyTypes": ["Egress"],
           "egress": [{"to": peers, "ports": [{"port": 443, "protocol": "TCP"}]}]}}  # fmt: skip
    got = k8s_allow_set([doc], "t", RenderedReading())
    assert got == AllowSet.of("tcp", [(443, 443)], cidrs)


def test_plan_contract() -> None:
    plan = plan_k8s(load_rules("jp"))
    d = plan.to_dict()
    assert plan.region == "jp" and d["region"] == "jp"
    assert len(plan.unenforced_fqdn_rules) == 6 and plan.warnings
    assert plan.allow_set() == load_rules("jp").allow_set()


def test_base_install_paths_import_no_extra() -> None:
    probe = (
        "import sys, korefw, korefw.cli, korefw.runtime.program; "
        "from korefw.cli import main; main(['rules', 'jp', '--json']); "
        "print(sorted(m for m in ('aerleon', 'pulumi_kubernetes') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "[]"
