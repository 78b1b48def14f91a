"""Shell completion: the candidates ``korefw __complete`` gives, and the bash script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from korefw.cli import build_parser, main
from korefw.cli.complete import FILES, candidates
from korefw.core.plan.aerleon_export import PLATFORMS
from korefw.core.read.regions import region_codes

ROOT = Path(__file__).resolve().parent.parent
REGIONS = list(region_codes())


@pytest.fixture(scope="module")
def parser():  # type: ignore[no-untyped-def]
    return build_parser()


@pytest.mark.parametrize(("words", "current", "expected"), [
    ([], "", ["rules", "check", "import", "fetch", "lint", "plan", "diff", "verify", "audit",
              "export", "render", "schema", "probe", "completion"]),
    ([], "ve", ["verify"]),
    ([], "--v", ["--version"]),
    (["rules"], "", [*REGIONS, FILES]),
    (["rules"], "u", ["uae", "uk", "us", FILES]),
    (["render", "jp", "--platform"], "", list(PLATFORMS)),
    (["render", "jp", "--platform"], "n", ["nftables"]),
    (["export", "jp", "--platform"], "g", ["gce"]),
    (["render", "jp", "--family"], "", ["inet", "inet6", "mixed"]),
    (["render", "jp", "-o"], "", [FILES]),
    (["check", "jp", "--protocol", "tcp", "--port"], "", []),
    (["verify", "plan.json", "--rules"], "j", ["jp", FILES]),
    (["fetch", "jp"], "", REGIONS),  # REGION ... repeats
    (["lint"], "d", ["de", FILES]),
    (["completion"], "", ["bash", "zsh"]),
    (["plan", "--stack"], "example-jp", ["example-jp-aws", "example-jp-azure"]),
    (["plan", "--cwd", str(ROOT / "examples" / "library_use"), "--stack"], "", ["prod"]),
    (["plan", "--cwd", "/nonexistent", "--stack"], "", []),
    (["plan"], "--c", ["--cwd"]),
])  # fmt: skip
def test_candidates(parser, words: list[str], current: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert candidates(parser, words, current) == expected


def test_every_command_option_is_offered(parser) -> None:  # type: ignore[no-untyped-def]
    got = candidates(parser, ["render", "jp"], "--")
    assert {"--platform", "--output", "--family", "--allow-dns", "--help"} <= set(got)


def test_complete_prints_one_candidate_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["__complete", "4", "korefw", "render", "jp", "--platform", "ip"]) == 0
    assert capsys.readouterr().out == "iptables\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_through_korefw(tmp_path: Path) -> None:
    (tmp_path / "korefw").write_text(f"#!/bin/sh\nexec {sys.executable} -m korefw.cli \"$@\"\n")
    (tmp_path / "korefw").chmod(0o755)
    (tmp_path / "plan.json").write_text("{}")
    script = subprocess.run([str(tmp_path / "korefw"), "completion", "bash"], check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    probe = script + (
        'complete -p korefw\n'
        'COMP_WORDS=("$K" render jp --platform j); COMP_CWORD=4; _korefw\n'
        'echo "platform: ${COMPREPLY[*]}"\n'
        'COMP_WORDS=("$K" verify pl); COMP_CWORD=2; _korefw\n'
        'echo "file: ${COMPREPLY[*]}"\n'
    )
    cp = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                        env={"K": str(tmp_path / "korefw"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert cp.returncode == 0, cp.stderr
    assert "complete -F _korefw korefw" in cp.stdout
    assert "platform: juniper" in cp.stdout
    assert "file: plan.json" in cp.stdout


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_the_zsh_script_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    (tmp_path / "_korefw").write_text(capsys.readouterr().out)
    cp = subprocess.run(["zsh", "-n", str(tmp_path / "_korefw")], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
