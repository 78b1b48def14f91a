"""What makes korefw fast, checked structurally (no timings): lazy providers, linear work.

Import cost: ``pulumi_aws`` and ``pulumi_azure_native`` register *every* service
submodule in ``sys.modules`` as an unloaded ``importlib.util.LazyLoader`` stub when the
package is imported, so ``"pulumi_aws.s3" in sys.modules`` is true in any program that
imports the SDK at all. The honest question is which submodules are *loaded* (a loaded
module's type is plain ``ModuleType`` again). ``korefw.components.aws`` binds ``ec2``, ``vpc``,
``route53`` and ``networkfirewall`` at import time and ``korefw.components.azure`` binds
``network``, but binding a lazy stub loads nothing: each loads when a component first
registers a resource of that service, so route53 and networkfirewall (FQDN enforcement
only) are never loaded by a stack that does not enforce FQDN rules.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from measure import python_calls
from synthetic import synthetic_rules

from korefw.core.plan.aws_options import AwsOptions
from korefw.core.plan.aws_plan import plan_aws
from korefw.core.plan.azure_options import AzureOptions
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange

ROOT = Path(__file__).resolve().parent.parent

_PROBE = textwrap.dedent(
    """
    import json, sys, types, warnings
    warnings.simplefilter("ignore")

    def loaded():
        return sorted(
            name for name, mod in list(sys.modules.items())
            if name.startswith(("pulumi_aws.", "pulumi_azure_native."))
            and type(mod) is types.ModuleType
        )

    def services(names):
        return sorted({".".join(n.split(".")[:2]) for n in names})

    out = {}
    import pulumi_aws, pulumi_azure_native  # what the bare SDK packages load
    base = set(loaded())
    import korefw.runtime.program, korefw.components.aws, korefw.components.azure
    out["import"] = sorted(set(loaded()) - base)
    out["stubs"] = sorted(
        n for n in sys.modules if n.startswith(("pulumi_aws.", "pulumi_azure_native."))
    )

    from korefw.runtime.offline import run_offline
    from korefw.components.aws import EgressSecurityGroup
    from korefw.components.azure import EgressNetworkSecurityGroup

    for mode in ("cidr", "prefix-list", "auto"):
        run_offline(lambda: EgressSecurityGroup("kf", rules="jp", vpc_id="vpc-1", mode=mode))
    run_offline(lambda: EgressSecurityGroup("kf", rules="jp", security_group_id="sg-1"))
    for merge in ("none", "section", "all"):
        run_offline(lambda: EgressNetworkSecurityGroup(
            "kf", rules="jp", resource_group_name="rg", location="x", merge=merge))
    out["components"] = services(set(loaded()) - base)

    run_offline(lambda: EgressSecurityGroup(
        "kf", rules="jp", vpc_id="vpc-1", fqdn_enforcement=("dns-firewall", "network-firewall")))
    run_offline(lambda: EgressNetworkSecurityGroup(
        "kf", rules="jp", resource_group_name="rg", location="x",
        create_firewall_policy=True, ip_groups=True))
    out["fqdn"] = services(set(loaded()) - base)
    print(json.dumps(out))
    """
)

UNRELATED = (
    "pulumi_aws.s3",
    "pulumi_aws.lambda_",
    "pulumi_aws.iam",
    "pulumi_aws.rds",
    "pulumi_azure_native.compute",
    "pulumi_azure_native.storage",
    "pulumi_azure_native.web",
)


@pytest.fixture(scope="module")
def probe() -> dict[str, list[str]]:
    """Which provider submodules a fresh interpreter loads at each stage."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: What a cold ``korefw rules`` must not import: Pulumi and its SDKs, the renderers, the
#: YAML reader of stack files, the HTTP client of ``korefw fetch``, the planners and
#: checks it never runs, and the optional extras (audit, probe) when they exist.
NOT_FOR_RULES = (
    "pulumi",
    "pulumi_aws",
    "pulumi_azure_native",
    "grpc",
    "google.protobuf",
    "aerleon",
    "rich",
    "yaml",
    "http.client",
    "urllib.request",
    "ssl",
    "tempfile",
    "korefw.components",
    "korefw.runtime",
    "korefw.core.read.fetch",
    "korefw.core.plan.aws_plan",
    "korefw.core.plan.azure_plan",
    "korefw.core.check.verify",
    "boto3",
    "azure",
)


def test_a_cold_rules_command_imports_only_what_it_needs() -> None:
    """``korefw rules jp`` in a fresh interpreter (the cold start bench/startup.py times)."""
    code = (
        "import contextlib, io, json, sys\n"
        "from korefw.cli import main\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "    code = main(['rules', 'jp'])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    exit_code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert exit_code == 0
    loaded = {m for m in modules for x in NOT_FOR_RULES if m == x or m.startswith(x + ".")}
    assert not loaded, sorted(loaded)


def test_importing_korefw_loads_no_provider_submodule(probe: dict[str, list[str]]) -> None:
    # Beyond what `import pulumi_aws, pulumi_azure_native` loads by itself, nothing.
    assert probe["import"] == []
    # The submodules korefw binds are there, as lazy stubs (see the module docstring).
    for name in (
        "pulumi_aws.ec2",
        "pulumi_aws.vpc",
        "pulumi_aws.route53",
        "pulumi_aws.networkfirewall",
        "pulumi_azure_native.network",
    ):
        assert name in probe["stubs"]


def test_components_load_only_the_services_they_register(probe: dict[str, list[str]]) -> None:
    assert probe["components"] == [
        "pulumi_aws.ec2",
        "pulumi_aws.vpc",
        "pulumi_azure_native.network",
    ]
    loaded = set(probe["components"])
    assert not loaded & set(UNRELATED)


def test_fqdn_enforcement_loads_route53_and_networkfirewall_lazily(
    probe: dict[str, list[str]],
) -> None:
    # Loaded only once an FqdnAllowlist registers Route 53 / Network Firewall resources.
    assert "pulumi_aws.route53" not in probe["components"]
    assert "pulumi_aws.networkfirewall" not in probe["components"]
    assert probe["fqdn"] == [
        "pulumi_aws.ec2",
        "pulumi_aws.networkfirewall",
        "pulumi_aws.route53",
        "pulumi_aws.vpc",
        "pulumi_azure_native.network",
    ]
    assert not set(probe["fqdn"]) & set(UNRELATED)


# ---------------------------------------------------------------- offline runs

def test_the_runtime_has_no_output_left_to_wait_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pulumi's wait_for_rpcs waits for the outputs still pending with
    # asyncio.wait(FIRST_COMPLETED), over all the rest again after each completion: work that
    # grows with the square of the outputs. Offline runs settle them all before that.
    import asyncio

    from korefw.runtime.preview import plan_stack

    waited: list[int] = []
    wait = asyncio.wait

    async def recording(fs: Any, **kwargs: Any) -> Any:
        if kwargs.get("return_when") == asyncio.FIRST_COMPLETED:
            waited.append(len(fs))
        return await wait(fs, **kwargs)

    monkeypatch.setattr(asyncio, "wait", recording)
    plan_stack("example-jp-aws")
    assert waited == []


def test_settling_the_outputs_swallows_no_failure() -> None:
    # The offline run waits for every output before the runtime does: a failed one must
    # still fail the run, and outputs made while others resolve must still be waited for.
    import pulumi

    from korefw.runtime.offline import run_offline

    def failing() -> None:
        pulumi.Output.from_input(1).apply(lambda _: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        run_offline(failing)

    def nested() -> None:
        inner = pulumi.Output.from_input(1).apply(lambda v: pulumi.Output.from_input({"a": [v]}))
        pulumi.export("x", inner.apply(lambda d: {**d, "b": 2}))

    assert run_offline(nested).stack_outputs == {"x": {"a": [1], "b": 2}}


# ---------------------------------------------------------------- linear work

def synthetic(n: int, sections: int) -> RuleSet:
    """The benchmarks' synthetic set of ``n`` rows over ``sections`` sections."""
    return synthetic_rules(n, seed=n, sections=sections)


PLANNERS: dict[str, Callable[[RuleSet], object]] = {
    "aws-cidr": lambda r: plan_aws(r, AwsOptions(mode="cidr")),
    "aws-prefix-list": lambda r: plan_aws(r, AwsOptions(mode="prefix-list")),
    "aws-auto": lambda r: plan_aws(r, AwsOptions(mode="auto")),
    "azure-none": lambda r: plan_azure(r, AzureOptions(merge="none", priority_band=(100, 4096))),
    "azure-section": lambda r: plan_azure(r, AzureOptions(merge="section")),
    "azure-all": lambda r: plan_azure(r, AzureOptions(merge="all")),
}


@pytest.mark.parametrize("planner", sorted(PLANNERS))
def test_planner_work_grows_linearly(planner: str) -> None:
    # 10x the rows (and 2x the sections): at most ~10x the Python calls, never ~100x.
    small, large = synthetic(200, 10), synthetic(2000, 20)
    if planner == "azure-none":  # one NSG rule per row and protocol: stay under 1000
        small, large = synthetic(40, 10), synthetic(400, 20)
    fn = PLANNERS[planner]
    ratio = python_calls(lambda: fn(large)) / python_calls(lambda: fn(small))
    assert ratio < 12, f"{planner}: 10x the rules cost {ratio:.1f}x the calls"


def test_aws_cidr_output_is_proportional_to_the_rows() -> None:
    # Distinct destinations: one egress rule per (row, protocol, port range); groups of <= 60.
    for n in (100, 1000):
        rules = synthetic(n, 10)
        plan = plan_aws(rules, AwsOptions(mode="cidr"))
        expected = sum(len(r.protocols) * len(r.ports) for r in rules)
        assert plan.rule_count == expected
        assert len(plan.groups) <= -(-expected // 60) + 2


def _one_shared_address(n: int) -> RuleSet:
    """``n`` rows, each one tcp port to its own /32 and to one address every row shares."""
    return RuleSet(
        tuple(
            Rule(
                section=f"S{i % 2}",
                component="C",
                protocols=(Protocol.TCP,),
                ports=(PortRange(1000 + 2 * i, 1000 + 2 * i),),
                cidrs=(
                    ipaddress.ip_network("192.0.2.1/32"),
                    ipaddress.ip_network(f"10.{i // 250}.{i % 250}.1/32"),
                ),
            )
            for i in range(n)
        ),
        region="t",
    )


def test_auto_work_is_linear_in_the_flows_of_a_shared_address() -> None:
    # 4,000 such rows took about 2 minutes in auto mode against 2 seconds in cidr mode.
    auto = PLANNERS["aws-auto"]
    small, large = _one_shared_address(100), _one_shared_address(1000)
    ratio = python_calls(lambda: auto(large)) / python_calls(lambda: auto(small))
    assert ratio < 12, f"10x the rows cost {ratio:.1f}x the calls"
