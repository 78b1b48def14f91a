"""``korefw import`` (korefw/cli/pages.py): pages into rules files, and output paths it
refuses in one line, before any work."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from korefw.cli import main
from korefw.core.read.regions import DATA_DIR, PAGES_DIR, data_path

PAGE = str(PAGES_DIR / "japan-firewall-rules.md")


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 2, out
    assert out.out == ""
    assert out.err.count("\n") == 1 and out.err.startswith("korefw: error: "), out.err
    return out.err


def test_output_into_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nope" / "jp.toml"
    err = _one_line_exit_2(capsys, "import", PAGE, "-o", str(target))
    assert f"--output: folder does not exist (got '{tmp_path / 'nope'}')" in err
    assert not (tmp_path / "nope").exists()


def test_output_onto_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_exit_2(capsys, "import", PAGE, "-o", str(tmp_path))
    assert "is a folder, expected a file" in err


def test_output_below_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain").write_text("keep me")
    err = _one_line_exit_2(capsys, "import", PAGE, "-o", str(tmp_path / "plain" / "jp.toml"))
    assert "a file stands where a folder is expected" in err
    assert (tmp_path / "plain").read_text() == "keep me"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_output_onto_a_fifo_does_not_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    err = _one_line_exit_2(capsys, "import", PAGE, "-o", str(fifo))
    assert "not a regular file (FIFO, socket or device)" in err


def test_import_all_bad_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    for option in ("--out-dir", "--pages"):
        err = _one_line_exit_2(capsys, "import", "--all", option, str(tmp_path / "missing"))
        assert f"{option}: folder does not exist" in err
        err = _one_line_exit_2(capsys, "import", "--all", option, str(tmp_path / "file"))
        assert f"{option}: not a folder" in err


def test_import_all_with_one_unwritable_target_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    shutil.copytree(DATA_DIR, out, ignore=shutil.ignore_patterns("pages"))
    (out / "au.toml").write_text("stale")
    (out / "us.toml").unlink()
    (out / "us.toml").mkdir()  # a folder where a data file should go
    err = _one_line_exit_2(capsys, "import", "--all", "--out-dir", str(out))
    assert "--out-dir: is a folder, expected a file" in err and "us.toml" in err
    assert (out / "au.toml").read_text() == "stale"


def test_failed_import_leaves_the_output_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("## S\n\n| Protocol | Destination | Port |\n|---|---|---|\n| TCP | x y | 1 |\n")
    target = tmp_path / "out.toml"
    target.write_text("previous")
    _one_line_exit_2(capsys, "import", str(bad), "--region", "jp", "-o", str(target))
    assert target.read_text() == "previous"


def test_import_one_page_matches_shipped_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "jp.toml"
    page = PAGES_DIR / "japan-firewall-rules.md"
    code, _, err = run_cli(capsys, "import", str(page), "--region", "jp", "-o", str(out_file))
    assert code == 0 and "wrote" in err
    assert out_file.read_text() == data_path("jp").read_text()
    code, out, _ = run_cli(capsys, "import", str(page))
    assert code == 0 and out == data_path("jp").read_text()


def test_import_page_needs_a_region_when_sources_toml_does_not_list_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = Path(__file__).parent / "fixtures" / "vendor" / "page.mdx"
    code, _, err = run_cli(capsys, "import", str(page))
    assert code == 2 and "pass --region" in err
    code, out, _ = run_cli(
        capsys, "import", str(page), "--region", "uae", "--retrieved", "2026-01-02"
    )
    assert code == 0 and 'region = "uae"' in out and 'retrieved = "2026-01-02"' in out


@pytest.mark.parametrize("argv", [
    ["import", "--all", "--out-dir", ""], ["import", "--all", "--pages", ""],
    ["import", "--all", "--check", "--out-dir", " "], ["fetch", "jp", "--pages", ""],
    ["import", PAGE, "--output", ""],
])  # fmt: skip
def test_an_empty_folder_or_file_name_is_refused_not_the_default(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """`--out-dir "$DIR"` with DIR unset must not fall back to the shipped data (or pages,
    or stdout): an empty name is an error naming the option."""
    err = _one_line_exit_2(capsys, *argv)
    assert f"{argv[-2]}: " in err, err
