"""``korefw fetch`` against a local HTTP server, and the all-or-nothing file writes behind it."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from localserver import Server, newer_japan_page, running, snapshot

from korefw.cli import main
from korefw.core import safewrite
from korefw.core.errors import KorefwError
from korefw.core.read import fetch as fetch_mod
from korefw.core.read.fetch import check_url, root_url
from korefw.core.read.regions import PAGES_DIR, read_sources
from korefw.core.read.ruledata import read as read_data
from korefw.core.read.vendor import import_page

JP_PATH = "/docs/xo/channels/voice-gateway/japan-firewall-rules.md"
US_PATH = "/docs/xo/channels/voice-gateway/us-firewall-rules.md"


@pytest.fixture
def server() -> Iterator[Server]:
    with running() as s:
        yield s


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """A copy of the shipped pages and sources.toml to fetch into."""
    docs = tmp_path / "pages"
    shutil.copytree(PAGES_DIR, docs)
    return docs


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- success


def test_fetch_a_newer_japan_page_then_import_gives_its_rules(
    server: Server, pages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = newer_japan_page()
    server.body(JP_PATH, new, etag='"abc123"')
    before = snapshot(pages)
    code, out, err = run(capsys, "fetch", "jp", "--source-url", server.url, "--pages", str(pages))
    assert code == 0, err
    assert "japan-firewall-rules.md: updated (29 egress rules)" in out
    assert "korefw import --all" in err
    after = snapshot(pages)
    assert after["japan-firewall-rules.md"] == new
    assert {k for k in after if after[k] != before[k]} == {
        "japan-firewall-rules.md",
        "sources.toml",
    }

    src = read_sources(pages)["japan-firewall-rules.md"]
    assert src.sha256 == hashlib.sha256(new).hexdigest()
    assert (src.url, src.etag, src.repository, src.commit) == (
        server.url + JP_PATH,
        '"abc123"',
        "",
        "",
    )
    assert src.path == JP_PATH.lstrip("/")
    others = {k: v for k, v in read_sources(pages).items() if k != src.file}
    assert others == {k: v for k, v in read_sources().items() if k != src.file}

    data = tmp_path / "data"
    data.mkdir()
    code, _, _ = run(capsys, "import", "--all", "--pages", str(pages), "--out-dir", str(data))
    assert code == 0
    rules, prov = read_data(data / "jp.toml")
    page_rules = import_page(pages / "japan-firewall-rules.md", region="jp")
    assert rules.rules == page_rules.rules
    assert [r.origin for r in rules] == [r.origin for r in page_rules]
    assert [r.label for r in rules].count("TCP (TURN TLS)") == 6  # three were already
    assert prov.sha256 == src.sha256 and prov.etag == '"abc123"'
    # `korefw rules` of the regenerated data is the new page, row for row.
    code, by_data, _ = run(capsys, "rules", str(data / "jp.toml"), "--json")
    code2, by_page, _ = run(capsys, "rules", str(pages / "japan-firewall-rules.md"), "--json")
    assert code == code2 == 0 and by_data == by_page
    # The other regions' data is unchanged.
    for code_ in ("de", "us"):
        assert (data / f"{code_}.toml").read_bytes() == (
            PAGES_DIR.parent / f"{code_}.toml"
        ).read_bytes()


def test_fetching_an_unchanged_page_changes_nothing(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.body(JP_PATH, (pages / "japan-firewall-rules.md").read_bytes())
    before = snapshot(pages)
    code, out, _ = run(capsys, "fetch", "jp", "--source-url", server.url, "--pages", str(pages))
    assert code == 0 and "unchanged" in out
    assert snapshot(pages) == before


def test_default_root_is_kores_repository_and_a_commit_ref_is_recorded(
    server: Server, pages: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert root_url() == "https://raw.githubusercontent.com/Koredotcom/docs/main/"
    assert root_url(ref="v2") == "https://raw.githubusercontent.com/Koredotcom/docs/v2/"
    assert root_url("http://127.0.0.1:1/x/") == "http://127.0.0.1:1/x/"
    sha = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setattr(fetch_mod, "RAW_ROOT", server.url + "/{ref}/")
    server.body(f"/{sha}{JP_PATH}", newer_japan_page())
    code, _, err = run(capsys, "fetch", "jp", "--ref", sha, "--pages", str(pages))
    assert code == 0, err
    src = read_sources(pages)["japan-firewall-rules.md"]
    assert (src.repository, src.commit) == ("Koredotcom/docs", sha)


# --------------------------------------------------------------------------- failures


def _fails(capsys: pytest.CaptureFixture[str], pages: Path, *argv: str) -> str:
    before = snapshot(pages)
    code, out, err = run(capsys, "fetch", *argv, "--pages", str(pages))
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("korefw: error: "), err
    assert "Traceback" not in err
    assert snapshot(pages) == before
    return err


def test_404_exits_2_and_changes_nothing(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails(capsys, pages, "jp", "--source-url", server.url)
    assert f"{server.url}{JP_PATH}: HTTP 404" in err


def test_html_error_page_is_not_a_firewall_rule_page(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.body(
        JP_PATH,
        b"<!DOCTYPE html><html><head><title>Rate limited</title></head>"
        b"<body><h1>Too many requests</h1><p>Try again later.</p></body></html>",
    )
    err = _fails(capsys, pages, "jp", "--source-url", server.url)
    assert "not a firewall-rule page" in err and "no firewall rule tables" in err


def test_oversized_body_and_lying_length_are_refused(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.body(JP_PATH, newer_japan_page())
    err = _fails(capsys, pages, "jp", "--source-url", server.url, "--max-bytes", "1000")
    assert "larger than 1000 bytes" in err
    big = newer_japan_page() + b" " * 5000
    server.body(JP_PATH, big, length=-1)
    err = _fails(capsys, pages, "jp", "--source-url", server.url, "--max-bytes", "6000")
    assert "larger than 6000 bytes" in err


def test_timeout_exits_2(server: Server, pages: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.hang(JP_PATH)
    err = _fails(capsys, pages, "jp", "--source-url", server.url, "--timeout", "0.2")
    assert "timed out after 0.2 s" in err


def test_one_bad_page_in_all_changes_no_page(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.body(JP_PATH, newer_japan_page())  # good, but US is missing
    err = _fails(capsys, pages, "--all", "--source-url", server.url)
    assert "HTTP 404" in err


def test_plain_http_only_to_loopback_and_never_by_redirect(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_url("https://raw.githubusercontent.com/x")
    check_url("http://127.0.0.1:8000/x")
    check_url("http://[::1]:8000/x")
    check_url("http://localhost/x")
    check_url("http://mirror.example/x", allow_http=True)
    for bad in ("http://mirror.example/x", "file:///etc/passwd", "ftp://h/x", "https:///x"):
        with pytest.raises(KorefwError):
            check_url(bad)
    err = _fails(capsys, pages, "jp", "--source-url", "http://mirror.example/docs")
    assert "plain HTTP is refused" in err
    server.redirect(JP_PATH, "http://mirror.example/japan.md")
    err = _fails(capsys, pages, "jp", "--source-url", server.url)
    assert "plain HTTP is refused" in err and "mirror.example" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "give REGION codes or --all"),
        (("jp", "--all"), "give REGION codes or --all"),
        (("xx",), "unknown region"),
        (("jp", "--ref", "../../etc"), "malformed git ref"),
        (("jp", "--timeout", "0"), "more than 0"),
    ],
)
def test_bad_arguments(
    pages: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    err = _fails(capsys, pages, *argv)
    assert message in err


# --------------------------------------------------------------------------- all-or-nothing writes


def test_write_files_restores_everything_when_a_replace_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = tmp_path / "a.md", tmp_path / "b.toml", tmp_path / "c.new"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    real = os.replace
    calls: list[str] = []

    def flaky(src: str, dst: os.PathLike[str]) -> None:
        calls.append(str(dst))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(safewrite.os, "replace", flaky)
    with pytest.raises(KorefwError, match="cannot write: No space left on device"):
        safewrite.write_files({a: b"new a", c: b"new c", b: b"new b"})
    assert a.read_bytes() == b"old a" and b.read_bytes() == b"old b" and not c.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.toml"]  # no temp files
    monkeypatch.setattr(safewrite.os, "replace", real)
    safewrite.write_files({a: b"new a", b: b"new b"})
    assert a.read_bytes() == b"new a" and b.read_bytes() == b"new b"


def test_new_folders_are_removed_when_a_write_fails_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kept").mkdir()
    files = {"kept/a.yaml": b"a", "new/deep/b.yaml": b"b", "other/c.yaml": b"c"}
    real = os.replace
    calls: list[str] = []

    def flaky(src: str, dst: os.PathLike[str]) -> None:
        calls.append(str(dst))
        if len(calls) == 2:  # the first file is in place, the second fails
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(safewrite.os, "replace", flaky)
    with pytest.raises(KorefwError, match="No space left"), safewrite.new_folders(
        tmp_path, files, where="--output"
    ):
        assert (tmp_path / "new" / "deep").is_dir() and (tmp_path / "other").is_dir()
        safewrite.write_files({tmp_path / rel: data for rel, data in files.items()})
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept"]  # no new folder or file
    monkeypatch.setattr(safewrite.os, "replace", real)
    with safewrite.new_folders(tmp_path, files, where="--output"):
        safewrite.write_files({tmp_path / rel: data for rel, data in files.items()})
    assert (tmp_path / "new" / "deep" / "b.yaml").read_bytes() == b"b"


def test_new_folders_removes_its_folders_when_one_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")  # a file where a folder would go
    files = ["a/b/x.yaml", "file/sub/y.yaml"]
    with pytest.raises(KorefwError, match="cannot create folder") as err, safewrite.new_folders(
        tmp_path, files, where="--output"
    ):
        pytest.fail("the block must not run")
    assert str(tmp_path / "file" / "sub") in str(err.value) and "--output" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_sources_toml_is_validated(tmp_path: Path) -> None:
    text = (PAGES_DIR / "sources.toml").read_text()
    for old, new, message in [
        ('region = "jp"', 'region = "xx"', "unknown region code"),
        ('file = "japan-firewall-rules.md"', 'file = "../x.md"', "plain file name"),
        ('retrieved = "2026-11-25"', 'retrieved = "soon"', "retrieved must be a date"),
        ("format = 1", "format = 2", "format = 1"),
        ('etag = ""', "etag = 3", "expected a string"),
    ]:
        (tmp_path / "sources.toml").write_text(text.replace(old, new, 1))
        with pytest.raises(KorefwError, match=message):
            read_sources(tmp_path)
    assert tomllib.loads(text)["format"] == 1


# --------------------------------------------------------------------------- hostile tester


def test_a_body_shorter_than_its_content_length_is_refused(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A connection cut mid-page must not be saved: the first sections alone still parse."""
    page = newer_japan_page()
    cut = page[: page.index(b"\n##", len(page) // 2)]
    server.body(JP_PATH, cut, length=len(page))
    err = _fails(capsys, pages, "jp", "--source-url", server.url)
    assert f"truncated: {len(cut)} of the {len(page)} bytes" in err


def test_a_chunked_body_cut_short_is_refused(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = newer_japan_page()

    def route(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(b"%x\r\n%s\r\n" % (len(page) // 2, page[: len(page) // 2]))

    server.routes[JP_PATH] = route
    err = _fails(capsys, pages, "jp", "--source-url", server.url)
    assert "truncated" in err


def test_timeout_bounds_the_whole_download_not_each_read(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that drips its body (each byte within the timeout) is stopped."""
    page = newer_japan_page()

    def route(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(page)))
        h.end_headers()
        for i in range(40):  # 40 x 0.1 s, far beyond --timeout 0.5
            h.wfile.write(page[i : i + 1])
            h.wfile.flush()
            if server.release.wait(0.1):
                return
        h.wfile.write(page[40:])

    server.routes[JP_PATH] = route
    err = _fails(capsys, pages, "jp", "--source-url", server.url, "--timeout", "0.5")
    assert "timed out after 0.5 s" in err


@pytest.mark.parametrize(("argv", "message"), [
    (("--timeout", "nan"), "--timeout: expected seconds"),
    (("--timeout", "inf"), "--timeout: expected seconds"),
    (("--timeout", "-1"), "--timeout: expected seconds"),
    (("--max-bytes", "99999999999999999999"), "--max-bytes: expected a size"),
    (("--max-bytes", "100000000000"), "--max-bytes: expected a size"),
    (("--source-url", "http://127.0.0.1:abc/ok"), "--source-url: malformed port"),
    (("--source-url", "http://127.0.0.1:99999/ok"), "--source-url: malformed port"),
    (("--source-url", "http://127.0.0.1/o k"), "--source-url: whitespace"),
    (("--source-url", ""), "--source-url: expected a URL"),
    (("--source-url", "http://127.0.0.1/ok?x=1#frag"), "--source-url: a root URL takes no query"),
])  # fmt: skip
def test_bad_fetch_options_are_one_line(
    pages: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    assert message in _fails(capsys, pages, "jp", *argv)


def test_a_redirect_loop_is_one_line(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.redirect(JP_PATH, server.url + JP_PATH)
    assert "HTTP 302" in _fails(capsys, pages, "jp", "--source-url", server.url)


def test_timeout_bounds_the_status_line_and_headers(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that drips its status line and headers a byte at a time is stopped too."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: " + b"a" * 200

    def route(h: http.server.BaseHTTPRequestHandler) -> None:
        for i in range(len(head)):  # 0.05 s a byte: 10 s in all, far beyond --timeout 0.5
            h.wfile.write(head[i : i + 1])
            h.wfile.flush()
            if server.release.wait(0.05):
                return

    server.routes[JP_PATH] = route
    start = time.monotonic()
    err = _fails(capsys, pages, "jp", "--source-url", server.url, "--timeout", "0.5")
    assert "timed out after 0.5 s" in err
    assert time.monotonic() - start < 5  # the timeout and a margin, not the 10 s drip


def test_timeout_bounds_a_redirect_chain(
    server: Server, pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each hop of a redirect gets the time left, not a fresh timeout."""

    def slow_redirect(h: http.server.BaseHTTPRequestHandler) -> None:
        server.release.wait(0.3)
        h.send_response(302)
        h.send_header("Location", JP_PATH + "?again")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes[JP_PATH] = slow_redirect
    server.routes[JP_PATH + "?again"] = slow_redirect
    err = _fails(capsys, pages, "jp", "--source-url", server.url, "--timeout", "0.5")
    assert "timed out after 0.5 s" in err
