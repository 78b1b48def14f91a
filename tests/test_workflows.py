"""The GitHub workflows stay safe to run (zizmor audits them in full; these are the basics)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parent.parent / ".github" / "workflows").glob("*.yml"))


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_least_permissions_no_persisted_credentials(path: Path) -> None:
    text, doc = path.read_text(), _load(path)
    for ref in re.findall(r"uses:\s*(\S+)(.*)", text):
        action, comment = ref
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.search(r"#\s*v\d", comment), f"{action}: no version comment"
    perms = doc.get("permissions")
    assert perms in ({}, {"contents": "read"}), f"workflow-wide: read only or nothing, not {perms}"
    assert "concurrency" in doc
    for name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, name
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, name
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                assert step["with"].get("cache") == "pip", name
        writes = {k for k, v in (job.get("permissions") or {}).items() if v == "write"}
        on_prs = bool({"pull_request", "pull_request_target"} & set(doc["on"] or {}))
        runs_pr_code = on_prs and any("pip install" in str(s.get("run", "")) for s in job["steps"])
        if runs_pr_code and "pulumi-preview" not in path.name:
            assert not writes, f"{name} runs the pull request's code with a write token"


def test_ci_matrix_has_every_supported_python_and_the_lowest_pulumi() -> None:
    (ci,) = [p for p in WORKFLOWS if p.name == "ci.yml"]
    matrix = _load(ci)["jobs"]["test"]["strategy"]["matrix"]
    assert matrix["python"] == ["3.11", "3.12", "3.13"]
    assert {"python": "3.11", "pulumi": "lowest"} in matrix["include"]


def test_secrets_only_reach_jobs_that_skip_forks() -> None:
    for path in WORKFLOWS:
        doc = _load(path)
        if not {"pull_request", "pull_request_target"} & set(doc["on"] or {}):
            continue  # scheduled and manual runs see no fork's code
        for name, job in doc["jobs"].items():
            if "secrets." in yaml.safe_dump(job):
                assert "head.repo.full_name == github.repository" in job.get("if", ""), name
