"""The benchmark worker: what must run in a fresh interpreter (cold imports, large
mock-runtime runs, stack sequences whose peak RSS is reported). ``bench/run.py`` starts it
as ``python bench/worker.py KIND [ARGS]``; it prints one JSON line."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from measure import maxrss_mb, synthetic  # noqa: E402

VPC = "vpc-0123456789abcdef0"




def worker(*args: str) -> dict[str, Any]:
    """Run ``bench/worker.py ARGS`` in a fresh interpreter; its last stdout line (JSON)."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _work_import() -> dict[str, Any]:
    """Import time of pulumi, korefw's modules and the provider submodules korefw uses."""
    t0 = time.perf_counter()
    import pulumi  # noqa: F401

    t1 = time.perf_counter()
    import korefw.components.aws
    import korefw.components.azure
    import korefw.runtime.program  # noqa: F401

    t2 = time.perf_counter()
    # The provider SDKs register every submodule lazily; touching a class loads it.
    import pulumi_aws
    import pulumi_azure_native

    _ = pulumi_aws.ec2.SecurityGroup, pulumi_aws.ec2.ManagedPrefixList
    _ = pulumi_aws.vpc.SecurityGroupEgressRule
    _ = pulumi_azure_native.network.NetworkSecurityGroup
    t3 = time.perf_counter()
    return {
        "pulumi": t1 - t0,
        "korefw": t2 - t1,
        "providers": t3 - t2,
        "total": t3 - t0,
        "maxrss_mb": maxrss_mb(),
    }


def _work_offline(kind: str, n: int) -> dict[str, Any]:
    """One component run under the mock runtime on a synthetic set: time, resources, RSS."""
    from korefw.components.aws import EgressSecurityGroup
    from korefw.components.azure import EgressNetworkSecurityGroup
    from korefw.runtime.offline import run_offline

    rules = synthetic(n)
    program: Callable[[], object]
    if kind == "azure-all":

        def program() -> object:
            return EgressNetworkSecurityGroup(
                "kf", rules=rules, resource_group_name="rg", location="japaneast", merge="all"
            )
    else:
        mode = kind.removeprefix("aws-")

        def program() -> object:
            return EgressSecurityGroup("kf", rules=rules, vpc_id=VPC, mode=mode)

    # Warm up on a tiny set so lazy provider loading is not billed to the first size.
    run_offline(lambda: EgressSecurityGroup("w", rules=synthetic(10), vpc_id=VPC))
    run_offline(
        lambda: EgressNetworkSecurityGroup(
            "w", rules=synthetic(10), resource_group_name="rg", location="x"
        )
    )
    before = maxrss_mb()
    t0 = time.perf_counter()
    plan = run_offline(program)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "resources": sum(r.custom for r in plan.resources),
        "maxrss_before_mb": before,
        "maxrss_mb": maxrss_mb(),
    }


def _work_stacks(stack: str, count: int) -> dict[str, Any]:
    """One cold, then ``count`` warm offline plans of one stack in sequence, in one process."""
    from korefw.runtime.preview import plan_stack

    t0 = time.perf_counter()
    plan = plan_stack(stack)  # cold: lazy provider submodules, first data file read
    first = time.perf_counter() - t0
    before = maxrss_mb()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        plan_stack(stack)
        times.append(time.perf_counter() - t0)
    return {
        "first": first,
        "seconds": sum(times),
        "median": statistics.median(times),
        "resources": len(plan.resources),
        "maxrss_before_mb": before,
        "maxrss_mb": maxrss_mb(),
    }


def run_worker(args: Sequence[str]) -> None:
    """Dispatch ``KIND [ARGS]`` and print its JSON result."""
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    kind, *rest = args
    if kind == "import":
        result = _work_import()
    elif kind == "offline":
        result = _work_offline(rest[0], int(rest[1]))
    elif kind == "stacks":
        result = _work_stacks(rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown worker {kind}")
    print(json.dumps(result))


if __name__ == "__main__":
    run_worker(sys.argv[1:])
