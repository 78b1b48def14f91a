"""One small golden plan per planner, region and mode: a planner change shows as a diff
of that one file (the whole-stack goldens in test_program.py stay as end-to-end checks).

Regenerate with ``KOREFW_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import japan

from korefw.core.plan.aws_options import MODES, AwsOptions
from korefw.core.plan.aws_plan import plan_aws
from korefw.core.plan.azure_options import MERGE_MODES, AzureOptions
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.plan.fqdn import CloudPlan

GOLDEN = Path(__file__).resolve().parent / "golden" / "planners"
CASES = {
    **{f"aws-jp-{m}": (plan_aws, AwsOptions(mode=m)) for m in MODES},
    **{f"azure-jp-{m}": (plan_azure, AzureOptions(merge=m)) for m in MERGE_MODES},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_planner_matches_its_golden_file(case: str) -> None:
    planner, options = CASES[case]
    plan: CloudPlan = planner(japan(), options)
    text = json.dumps(plan.to_dict(), indent=1, sort_keys=True) + "\n"
    path = GOLDEN / f"{case}.json"
    if os.environ.get("KOREFW_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden plan; run KOREFW_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == path.read_text(), f"{case}: plan differs from {path.name}; review the diff"


def test_every_golden_file_is_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(CASES)
