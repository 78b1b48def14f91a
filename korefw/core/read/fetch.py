"""``korefw fetch``: download Kore's current pages, check them, and keep them with provenance.

A page is fetched from ``<root>/<path>``, where ``path`` is the page's path in Kore's
repository (``docs/xo/channels/voice-gateway/japan-firewall-rules.md``) and ``root`` is
the raw-file root of ``Koredotcom/docs`` at a ref (its default branch ``main`` unless
told otherwise), or any root given instead. Only the standard library is used.

Safety: HTTPS only (plain HTTP only to a loopback host such as a test server, or when
explicitly allowed), also across redirects; a timeout; a size limit. A body is accepted
only if korefw's own importer reads it as a firewall-rule page, so an HTML error page or
a moved page is refused. Every page is downloaded and checked before anything is
written; then the changed pages and ``sources.toml`` are written together
(:func:`korefw.core.safewrite.write_files`), so a failed fetch changes no file.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import KorefwError
from ..rules.model import RuleSet
from ..safewrite import write_files
from .regions import (  # the fetch defaults live there, so `korefw fetch --help` is cheap
    DEFAULT_MAX_BYTES,
    DEFAULT_REF,
    DEFAULT_TIMEOUT,
    PAGES_DIR,
    RAW_ROOT,
    SOURCES_FILE,
    VENDOR_REPOSITORY,
    PageSource,
    dump_sources,
    get_region,
    read_sources,
    sha256_hex,
)
from .vendor import import_text


@dataclass(frozen=True)
class FetchedPage:
    """One downloaded, checked page and its new provenance."""

    source: PageSource
    data: bytes
    rules: RuleSet
    changed: bool


def root_url(source_url: str | None = None, ref: str = DEFAULT_REF) -> str:
    """The root the page paths are appended to, ending in ``/``."""
    if source_url is not None:
        parts = urllib.parse.urlsplit(source_url)
        try:
            parts.port  # noqa: B018 (raises on a port that is not a number 0-65535)
        except ValueError:
            raise KorefwError("malformed port", where="--source-url", value=source_url) from None
        if not parts.scheme or not parts.hostname:
            raise KorefwError("expected a URL such as https://host/path/",
                              where="--source-url", value=source_url)  # fmt: skip
        if parts.query or parts.fragment or source_url.rstrip("/").endswith(("?", "#")):
            raise KorefwError("a root URL takes no query or fragment (page paths are "
                              "appended to it)", where="--source-url",
                              value=source_url)  # fmt: skip
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in source_url):
            raise KorefwError("whitespace or control character in the URL",
                              where="--source-url", value=source_url)  # fmt: skip
        return source_url.rstrip("/") + "/"
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", ref) or ".." in ref:
        raise KorefwError("malformed git ref", where="--ref", value=ref)
    return RAW_ROOT.format(ref=ref)


def check_url(url: str, *, allow_http: bool = False) -> None:
    """Refuse anything but HTTPS, except plain HTTP to a loopback host (or when allowed)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        if allow_http or _is_loopback(parts.hostname):
            return
        raise KorefwError(
            "plain HTTP is refused (use https, or --allow-http for a trusted mirror)", value=url
        )
    raise KorefwError("expected an https:// URL", value=url)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL :func:`check_url` accepts."""

    def __init__(self, allow_http: bool) -> None:
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_url(newurl, allow_http=self.allow_http)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_http: bool = False,
) -> tuple[bytes, str]:
    """The body of ``url`` and its ETag; any failure is one :class:`KorefwError` line."""
    check_url(url, allow_http=allow_http)
    opener = urllib.request.build_opener(_CheckedRedirects(allow_http))
    req = urllib.request.Request(url, headers={"User-Agent": "korefw-fetch"})
    deadline = time.monotonic() + timeout
    try:
        with opener.open(req, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise KorefwError(f"page larger than {max_bytes} bytes", where=url, value=length)
            data = _read_body(resp, max_bytes, deadline)
            if length and length.isdigit() and len(data) != int(length):
                raise KorefwError(f"truncated: {len(data)} of the {length} bytes announced "
                                  "(Content-Length) arrived", where=url)  # fmt: skip
            etag = resp.headers.get("ETag") or ""
    except urllib.error.HTTPError as exc:
        reason = str(exc.reason).splitlines()[0] if exc.reason else ""
        raise KorefwError(f"HTTP {exc.code} {reason}".rstrip(), where=url) from None
    except http.client.IncompleteRead as exc:
        raise KorefwError(f"truncated: the connection closed after {len(exc.partial)} bytes",
                          where=url) from None  # fmt: skip
    except (http.client.HTTPException, ValueError) as exc:
        # InvalidURL, a malformed status line or chunk size, ...
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KorefwError(f"cannot fetch: {text}", where=url) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise KorefwError(f"timed out after {timeout:g} s", where=url) from None
        if isinstance(reason, KorefwError):
            raise reason from None
        raise KorefwError(f"cannot fetch: {reason}", where=url) from None
    except TimeoutError:
        raise KorefwError(f"timed out after {timeout:g} s", where=url) from None
    except OSError as exc:
        raise KorefwError(f"cannot fetch: {exc.strerror or exc}", where=url) from None
    if len(data) > max_bytes:
        raise KorefwError(f"page larger than {max_bytes} bytes", where=url)
    return data, etag.strip()


def _read_body(resp: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    """At most ``max_bytes + 1`` bytes of the body, all read before ``deadline``.

    ``read1`` returns what one socket read brings, so a server that drips its body is
    stopped at the deadline, not after one timeout per byte.
    """
    sock = getattr(getattr(resp.fp, "raw", None), "_sock", None)
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if sock is not None:
            sock.settimeout(left)
        chunk = resp.read1(min(65536, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def check_page(data: bytes, *, file: str, region: str, url: str) -> RuleSet:
    """The rules of a downloaded page; refuse a body that is not a firewall-rule page."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KorefwError("not a firewall-rule page: not UTF-8 text", where=url) from None
    fmt = "html" if file.lower().endswith((".html", ".htm")) else None
    try:
        return import_text(text, file=file, region=region, fmt=fmt)
    except KorefwError as exc:
        raise KorefwError(f"not a firewall-rule page ({exc})", where=url) from None


def fetch_pages(
    codes: Sequence[str],
    *,
    source_url: str | None = None,
    ref: str = DEFAULT_REF,
    pages_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_http: bool = False,
    today: datetime.date | None = None,
) -> list[FetchedPage]:
    """Download and check the pages of ``codes``; writes nothing."""
    root = root_url(source_url, ref)
    known = read_sources(pages_dir or PAGES_DIR)
    by_region = {s.region: s for s in known.values()}
    date = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    out: list[FetchedPage] = []
    for code in dict.fromkeys(get_region(c).code for c in codes):
        old = by_region.get(code)
        if old is None or not old.path:
            raise KorefwError(f"{SOURCES_FILE} names no repository path for the region", value=code)
        url = urllib.parse.urljoin(root, urllib.parse.quote(old.path))
        data, etag = download(url, timeout=timeout, max_bytes=max_bytes, allow_http=allow_http)
        rules = check_page(data, file=old.file, region=code, url=url)
        digest = sha256_hex(data)
        if digest == old.sha256:
            out.append(FetchedPage(old, data, rules, changed=False))
            continue
        new = replace(
            old,
            repository=VENDOR_REPOSITORY if not source_url else "",
            commit=ref if not source_url and re.fullmatch(r"[0-9a-f]{40}", ref) else "",
            etag=etag,
            url=url,
            retrieved=date,
            sha256=digest,
        )
        out.append(FetchedPage(new, data, rules, changed=True))
    return out


def save_pages(fetched: Sequence[FetchedPage], pages_dir: Path | None = None) -> list[Path]:
    """Write the changed pages and their provenance as one step; the paths written."""
    docs = pages_dir or PAGES_DIR
    changed = [f for f in fetched if f.changed]
    if not changed:
        return []
    sources = read_sources(docs)
    files: dict[Path, bytes] = {}
    for f in changed:
        sources[f.source.file] = f.source
        files[docs / f.source.file] = f.data
    files[docs / SOURCES_FILE] = dump_sources(sources.values()).encode()
    write_files(files)
    return list(files)
