"""One probe attempt per flow: a handshake and nothing after it.

Each function takes the host and port to contact and a timeout, and returns an
:class:`Outcome`; none raises for what the network does. A TCP or TLS attempt closes the
connection as soon as the handshake is done, without sending data; a STUN attempt sends
one Binding request (20 bytes) and reads one reply.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import ssl
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import KorefwError
from ..core.probe import stun
from ..core.probe.flows import Endpoint, Verdict

#: How a host name becomes the address to contact: (name, port, timeout) -> address.
Resolver = Callable[[str, int, float], str]


@dataclass(frozen=True)
class Outcome:
    """What one attempt found, and where it went."""

    verdict: Verdict
    detail: str = ""
    #: The address and port really contacted ("" when nothing was).
    contacted: str = ""


class ResolveError(Exception):
    """A host name that did not resolve in time."""


def _where(host: str, port: int) -> str:
    return str(Endpoint(host, port))


def _os_error(exc: OSError, what: str) -> tuple[Verdict, str]:
    if isinstance(exc, TimeoutError):
        return Verdict.TIMED_OUT, f"no {what} within the timeout"
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError)):
        return Verdict.REFUSED, f"{what}: {exc.strerror or 'connection refused'}"
    name = errno.errorcode.get(exc.errno or 0, "error")
    return Verdict.UNREACHABLE, f"{what}: {exc.strerror or name} ({name})"


def resolve(name: str, port: int, timeout: float) -> str:
    """The first address ``getaddrinfo`` gives for ``name``, waiting at most ``timeout``.

    ``getaddrinfo`` cannot be interrupted, so it runs in a daemon thread that is left
    behind when it takes too long (the resolver's own timeouts end it later).
    """
    box: list[object] = []

    def lookup() -> None:
        try:
            box.append(socket.getaddrinfo(name, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            box.append(exc)

    worker = threading.Thread(target=lookup, name=f"korefw-dns-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise ResolveError(f"no DNS answer for {name} within {timeout:g}s")
    answer = box[0]
    if isinstance(answer, BaseException):
        raise ResolveError(f"{name} does not resolve: {answer}")
    infos = answer if isinstance(answer, list) else []
    if not infos:
        raise ResolveError(f"{name} has no address")
    return str(infos[0][4][0])


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def tcp_connect(host: str, port: int, timeout: float) -> Outcome:
    """A TCP handshake, then close: open, refused, timed out or unreachable."""
    where = _where(host, port)
    try:
        sock = _connect(host, port, timeout)
    except OSError as exc:
        return Outcome(*_os_error(exc, "TCP handshake"), contacted=where)
    sock.close()
    return Outcome(Verdict.OPEN, "TCP handshake done", where)


def _stun_verdict(data: bytes, tid: bytes, where: str) -> Outcome:
    try:
        address, port = stun.check_binding_response(data, tid)
    except stun.StunError as exc:
        return Outcome(Verdict.STUN_FAILED, f"not a Binding success response: {exc}", where)
    return Outcome(Verdict.OPEN, f"Binding response, mapped address {_where(address, port)}", where)


def stun_udp(host: str, port: int, timeout: float) -> Outcome:
    """One Binding request over UDP; replies to other transactions are ignored."""
    where = _where(host, port)
    tid = secrets.token_bytes(stun.TRANSACTION_ID_SIZE)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    end = time.monotonic() + timeout
    bad = ""
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            # connect() so that an ICMP port unreachable comes back as ECONNREFUSED.
            sock.connect((host, port))
            sock.send(stun.binding_request(tid))
            while (left := end - time.monotonic()) > 0:
                sock.settimeout(left)
                data = sock.recv(stun.MAX_MESSAGE_SIZE)
                outcome = _stun_verdict(data, tid, where)
                if outcome.verdict is Verdict.OPEN or "another transaction" not in outcome.detail:
                    return outcome
                bad = outcome.detail
        except OSError as exc:
            if not isinstance(exc, TimeoutError):
                return Outcome(*_os_error(exc, "STUN over UDP"), contacted=where)
    if bad:
        return Outcome(Verdict.STUN_FAILED, bad, where)
    return Outcome(Verdict.TIMED_OUT, "no STUN reply over UDP within the timeout", where)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def stun_tcp(host: str, port: int, timeout: float) -> Outcome:
    """A TCP handshake, one Binding request and its reply (framed by the STUN header)."""
    where = _where(host, port)
    end = time.monotonic() + timeout
    try:
        sock = _connect(host, port, timeout)
    except OSError as exc:
        return Outcome(*_os_error(exc, "TCP handshake"), contacted=where)
    tid = secrets.token_bytes(stun.TRANSACTION_ID_SIZE)
    with sock:
        try:
            sock.settimeout(max(end - time.monotonic(), 0.001))
            sock.sendall(stun.binding_request(tid))
            header = _read_exactly(sock, stun.HEADER_SIZE)
            data = header + _read_exactly(sock, stun.message_size(header) - stun.HEADER_SIZE)
        except TimeoutError:
            return Outcome(Verdict.STUN_FAILED, "TCP handshake done, but no STUN reply", where)
        except (OSError, EOFError, stun.StunError) as exc:
            return Outcome(Verdict.STUN_FAILED, f"TCP handshake done, then {exc}", where)
    return _stun_verdict(data, tid, where)


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificate and host name verified, against ``ca_file`` or the system's CAs."""
    try:
        if ca_file is not None:
            # Only a regular file: opening a FIFO would wait for a writer forever.
            mode = os.stat(ca_file).st_mode
            if not stat.S_ISREG(mode):
                what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
                raise KorefwError(f"not a readable PEM file of CA certificates: {what}",
                                  where="--ca-file", value=ca_file)  # fmt: skip
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise KorefwError(
            f"not a readable PEM file of CA certificates: {reason}",
            where="--ca-file",
            value=ca_file,
        ) from None


def tls_handshake(
    host: str, port: int, server_name: str, timeout: float, context: ssl.SSLContext
) -> Outcome:
    """A TCP handshake, then a TLS handshake with SNI ``server_name``, verified; then close."""
    where = _where(host, port)
    end = time.monotonic() + timeout
    try:
        sock = _connect(host, port, timeout)
    except OSError as exc:
        return Outcome(*_os_error(exc, "TCP handshake"), contacted=where)
    try:
        sock.settimeout(max(end - time.monotonic(), 0.001))
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            version = tls.version() or "TLS"
    except ssl.SSLCertVerificationError as exc:
        return Outcome(Verdict.TLS_FAILED, f"certificate: {exc.verify_message}", where)
    except ssl.SSLError as exc:
        return Outcome(Verdict.TLS_FAILED, f"TLS handshake: {exc.reason or exc}", where)
    except TimeoutError:
        return Outcome(Verdict.TLS_FAILED, "TCP handshake done, but no TLS handshake", where)
    except OSError as exc:
        return Outcome(Verdict.TLS_FAILED, f"TCP handshake done, then {exc}", where)
    finally:
        sock.close()
    return Outcome(Verdict.OPEN, f"{version} handshake, certificate valid for {server_name}", where)
