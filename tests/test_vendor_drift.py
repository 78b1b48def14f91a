"""The vendor-drift workflow's script, offline against a local server."""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from localserver import Server, newer_japan_page, running, snapshot

from korefw.core.read.regions import DATA_DIR, PAGES_DIR, read_sources

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server() -> Iterator[Server]:
    with running() as s:
        yield s


def _script() -> ModuleType:
    path = ROOT / "scripts" / "vendor_drift.py"
    spec = importlib.util.spec_from_file_location("vendor_drift", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    pages, data = tmp_path / "pages", tmp_path / "data"
    shutil.copytree(PAGES_DIR, pages)
    data.mkdir()
    for toml in DATA_DIR.glob("*.toml"):
        shutil.copy(toml, data / toml.name)
    return pages, data


def _serve_all(server: Server, jp: bytes | None = None) -> None:
    for src in read_sources().values():
        body = (PAGES_DIR / src.file).read_bytes()
        if src.region == "jp" and jp is not None:
            body = jp
        server.body("/" + src.path, body, etag=f'"{src.region}-etag"')


def _args(server: Server, repo: tuple[Path, Path], tmp_path: Path) -> list[str]:
    pages, data = repo
    return [
        "--source-url", server.url, "--pages", str(pages), "--data", str(data),
        "--body", str(tmp_path / "body.md"), "--github-output", str(tmp_path / "out"),
    ]  # fmt: skip


def test_a_newer_japan_page_gives_a_pr_body_with_relabellings_first(
    server: Server, repo: tuple[Path, Path], tmp_path: Path
) -> None:
    _serve_all(server, jp=newer_japan_page())
    assert _script().run(_args(server, repo, tmp_path)) == 0
    assert (tmp_path / "out").read_text() == "changed=true\n"
    body = (tmp_path / "body.md").read_text()
    assert body.startswith("## Kore's firewall-rule pages changed\n\nChanged pages: Japan (jp).")
    relabel = body.index("### ⚠ Relabelled by Kore")
    assert relabel < body.index("### Japan (jp)")
    for cidr in ("13.115.244.0/27", "18.180.220.128/25", "54.65.63.192/26"):
        assert (
            f"- **jp** Twilio STUN: port 3478 to {cidr}: 'TCP, UDP' → 'TCP (TURN TLS)' "
            "(UDP no longer allowed)"
        ) in body
    # The rule-level diff of the old and new data, as `korefw diff` prints it.
    assert "**Egress rules:** 4 added, 7 removed." in body
    diff = body[body.index("```diff") : body.index("```\n", body.index("```diff"))]
    assert "+ rules: tcp 5060-5061 → 54.248.11.39/32" in diff
    assert "- rules: tcp 5060-5061 → 54.248.11.38/32" in diff
    assert "- rules: udp 3478 → 13.115.244.0/27 (Twilio STUN)" in diff
    lint_part = body[body.index("### Lint warnings") : body.index("### Provenance")]
    assert lint_part.startswith("### Lint warnings of the changed pages (4)")
    assert "japan-firewall-rules.md:56: warning [turn-3478]" in lint_part
    assert "germany-firewall-rules.md" not in lint_part and "other regions: 38" in lint_part
    assert f"| jp | `japan-firewall-rules.md` | `{read_sources(repo[0])['japan-firewall-rules.md'].sha256[:16]}…` | `\"jp-etag\"` |" in body  # noqa: E501
    # The data was regenerated; the other regions are untouched.
    assert "54.248.11.39/32" in (repo[1] / "jp.toml").read_text()
    assert (repo[1] / "de.toml").read_bytes() == (DATA_DIR / "de.toml").read_bytes()


def test_no_change_means_no_pull_request(
    server: Server, repo: tuple[Path, Path], tmp_path: Path
) -> None:
    _serve_all(server)
    before = snapshot(repo[0]), snapshot(repo[1])
    assert _script().run(_args(server, repo, tmp_path)) == 0
    assert (tmp_path / "out").read_text() == "changed=false\n"
    assert not (tmp_path / "body.md").exists()
    assert (snapshot(repo[0]), snapshot(repo[1])) == before


def test_a_failed_fetch_fails_the_run_and_changes_nothing(
    server: Server, repo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_all(server, jp=b"<!DOCTYPE html><html><body>Moved</body></html>")
    before = snapshot(repo[0]), snapshot(repo[1])
    assert _script().run(_args(server, repo, tmp_path)) == 2
    assert "not a firewall-rule page" in capsys.readouterr().err
    assert (snapshot(repo[0]), snapshot(repo[1])) == before
    assert not (tmp_path / "out").exists()


def test_the_workflow_only_runs_the_script_and_follows_the_workflow_rules() -> None:
    text = (ROOT / ".github" / "workflows" / "vendor-drift.yml").read_text()
    doc = yaml.safe_load(text)
    assert set(doc[True]) == {"schedule", "workflow_dispatch"}  # YAML reads `on:` as True
    assert doc["permissions"] == {} and doc["concurrency"]["group"] == "vendor-drift"
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert 0 < job["timeout-minutes"] <= 30
    uses = [s["uses"] for s in job["steps"] if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert all(re.search(rf"{re.escape(u)} # v\d", text) for u in uses)
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "scripts/vendor_drift.py" in runs and "gh pr edit" in runs and "gh pr create" in runs
