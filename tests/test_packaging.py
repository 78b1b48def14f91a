"""Packaging a user can trust: SPDX license and its text, URLs, and an sdist the tests run from."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_spdx_license_and_its_full_text() -> None:
    meta = PROJECT["project"]
    assert meta["license"] == "Apache-2.0"  # an SPDX expression (PEP 639), not a table
    assert meta["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in meta["classifiers"])  # PEP 639 forbids
    text = (ROOT / "LICENSE").read_text()
    assert re.search(r"Apache License\s+Version 2\.0, January 2004", text)
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "9. Accepting Warranty or Additional Liability." in text
    assert text.rstrip().endswith("END OF TERMS AND CONDITIONS")
    # setuptools reads an SPDX license string and license-files from version 77 on.
    req = PROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in req)


def test_urls_and_classifiers() -> None:
    meta = PROJECT["project"]
    assert all(u.startswith("https://") for u in meta["urls"].values())
    assert "Typing :: Typed" in meta["classifiers"]
    versions = {c.rsplit(" ", 1)[-1] for c in meta["classifiers"] if "Python :: 3." in c}
    assert "3.11" in versions and meta["requires-python"] == ">=3.11"


def test_sdist_manifest_holds_what_the_tests_read() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    for needed in ("tests", "stacks", "examples", "scripts", "docs", ".ci", "korefw/data"):
        assert needed in manifest, needed
    for needed in ("LICENSE", "README.md", "Pulumi.yaml", "__main__.py"):
        assert needed in manifest, needed


def test_the_vendor_pages_are_package_data() -> None:
    patterns = PROJECT["tool"]["setuptools"]["package-data"]["korefw"]
    pages = sorted((ROOT / "korefw" / "data" / "pages").iterdir())
    assert len(pages) == 9  # eight pages and sources.toml
    for page in pages:
        rel = page.relative_to(ROOT / "korefw").as_posix()
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), rel
