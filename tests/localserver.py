"""A local HTTP server for the fetch and vendor-drift tests, and page helpers."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from korefw.core.read.regions import PAGES_DIR


def newer_japan_page() -> bytes:
    """The Japan page as Kore might publish it next: 3478 relabelled, one SBC moved."""
    text = (PAGES_DIR / "japan-firewall-rules.md").read_text(encoding="utf-8")
    assert text.count("TCP, UDP ") == 3 and "54.248.11.38" in text
    text = text.replace("TCP, UDP ", "TCP (TURN TLS) ", 3).replace("54.248.11.38", "54.248.11.39")
    return text.encode()


class Server:
    """A threaded HTTP server on 127.0.0.1 answering each path with a canned response."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {}
        self.release = threading.Event()
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                else:
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def body(self, path: str, data: bytes, *, etag: str = "", length: int | None = None) -> None:
        def route(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "text/plain; charset=utf-8")
            if length != -1:  # -1: no Content-Length, the body runs until the connection closes
                h.send_header("Content-Length", str(len(data) if length is None else length))
            if etag:
                h.send_header("ETag", etag)
            h.end_headers()
            h.wfile.write(data)

        self.routes[path] = route

    def redirect(self, path: str, to: str) -> None:
        def route(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", to)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = route

    def hang(self, path: str) -> None:
        def route(h: http.server.BaseHTTPRequestHandler) -> None:
            self.release.wait(30)

        self.routes[path] = route


@contextlib.contextmanager
def running() -> Iterator[Server]:
    """A started :class:`Server`, shut down afterwards."""
    s = Server()
    s.thread.start()
    try:
        yield s
    finally:
        s.release.set()
        s.httpd.shutdown()
        s.httpd.server_close()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
