"""korefw probe for real, on 127.0.0.1 only: coturn, TCP listeners, a TLS server.

Every flow is sent to loopback with --target-override (and --target-override-all as a
safety net), so no test contacts Kore's addresses.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import japan, run_cli

from korefw.core.probe.flows import Check, Overrides, Sampling, Verdict, make_overrides, plan_probe
from korefw.probe.attempts import ResolveError, resolve, stun_tcp, stun_udp
from korefw.probe.runner import Settings, run_probe

SBC_NAME = "audiocodes-jp-sbc-prod.kore.ai"
WEBRTC_NAME = "audiocodes-jp-webrtc-prod.kore.ai"
TIMEOUT = "1"


def _udp_and_tcp_free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@pytest.fixture(scope="module")
def coturn() -> Iterator[int]:
    """coturn on 127.0.0.1 (UDP and TCP, no auth, no TLS); yields its port."""
    program = shutil.which("turnserver") or shutil.which("turnserver", path="/usr/bin:/usr/sbin")
    if program is None:
        pytest.skip("turnserver is not installed (Debian package coturn; scripts/test_tools.py)")
    port = _udp_and_tcp_free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [program, "-n", "--no-auth", "--listening-ip", "127.0.0.1",
               "--listening-port", str(port), "--relay-ip", "127.0.0.1",
               "--min-port", "49152", "--max-port", "49200", "--no-tls", "--no-dtls", "--no-cli",
               "--log-file", f"{tmp}/turn.log", "--simple-log", "--no-stdout-log",
               "--pidfile", f"{tmp}/turn.pid", "--userdb", f"{tmp}/turndb"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if stun_udp("127.0.0.1", port, 0.1).verdict is Verdict.OPEN:
                    break
                if proc.poll() is not None:
                    pytest.fail(f"turnserver exited with {proc.returncode}")
                time.sleep(0.05)
            else:
                pytest.fail("turnserver did not answer a STUN Binding request in time")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture()
def listener() -> Iterator[int]:
    """A TCP listener (the kernel completes handshakes; nothing is accepted)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.fixture()
def closed() -> Iterator[int]:
    """A TCP and UDP port with nothing listening (held bound, so nobody else takes it)."""
    port = _udp_and_tcp_free_port()
    with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t.bind(("127.0.0.1", port))
        u.bind(("127.0.0.1", port))
        u.close()  # a UDP port with no socket answers ICMP port unreachable
        yield port


@pytest.fixture()
def filtered() -> Iterator[int]:
    """A port whose SYNs are dropped: a listener whose accept queue is full."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        held: list[socket.socket] = []
        try:
            for _ in range(8):
                c = socket.socket()
                held.append(c)
                c.settimeout(0.2)
                try:
                    c.connect(("127.0.0.1", port))
                except TimeoutError:
                    break
            else:
                pytest.skip("this kernel does not drop SYNs to a full accept queue")
            yield port
        finally:
            for c in held:
                c.close()


@pytest.fixture()
def silent_udp() -> Iterator[int]:
    """A UDP socket that reads requests and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        yield u.getsockname()[1]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for the Japan SBC's host name, and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (scripts/test_tools.py)")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
         "-subj", f"/CN={SBC_NAME}", "-addext", f"subjectAltName=DNS:{SBC_NAME}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return d / "cert.pem", d / "key.pem"


@pytest.fixture()
def tls_server(cert: tuple[Path, Path]) -> Iterator[int]:
    """A TLS server with the self-signed certificate: handshakes, then closes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, cert))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)  # so that the loop sees `stop` soon
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def _probe_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, float]:
    start = time.monotonic()
    code, out, err = run_cli(capsys, "probe", *argv, "--json")
    elapsed = time.monotonic() - start
    assert code in (0, 1), err
    return code, json.loads(out), elapsed


def _verdicts(doc: dict) -> dict[tuple[str, str, int], str]:
    return {(f["protocol"], f["target"], f["port"]): f["verdict"] for f in doc["flows"]}


def test_japan_sbc_and_stun_flows_get_the_right_verdicts(
    capsys: pytest.CaptureFixture[str],
    coturn: int,
    listener: int,
    closed: int,
    filtered: int,
    silent_udp: int,
    tls_server: int,
    cert: tuple[Path, Path],
) -> None:
    overrides = {
        ("18.177.19.211", 5060): listener,
        ("18.177.19.211", 5061): closed,
        ("18.177.19.211", 10081): filtered,
        (SBC_NAME, 5060): listener,
        (SBC_NAME, 5061): tls_server,
        (WEBRTC_NAME, 5061): tls_server,
        ("13.115.244.1", 3478): coturn,
        ("13.115.244.1", 5349): coturn,
        ("18.180.220.129", 3478): silent_udp,
    }
    args = ["jp", "--section", "AudioCodes", "--section", "Twilio STUN",
            "--timeout", TIMEOUT, "--target-override-all", "127.0.0.1"]  # fmt: skip
    for (target, port), local in overrides.items():
        args += ["--target-override", f"{target}:{port}=127.0.0.1:{local}"]
    # The rest (other SBCs, TURN TLS on 443) go to the closed port: refused.
    plan = plan_probe(japan().filter(["AudioCodes", "Twilio STUN"]))
    for f in plan.probed():
        if (f.target, f.port) not in overrides:
            args += ["--target-override", f"{f.target}:{f.port}=127.0.0.1:{closed}"]

    code, doc, elapsed = _probe_json(capsys, *args, "--ca-file", str(cert[0]))
    print(f"probe of {len(doc['flows'])} flows took {elapsed:.2f} s")
    got = _verdicts(doc)
    assert got[("tcp", "18.177.19.211", 5060)] == "open"
    assert got[("tcp", "18.177.19.211", 5061)] == "refused"
    assert got[("tcp", "18.177.19.211", 10081)] == "timed-out"
    assert got[("tcp", SBC_NAME, 5060)] == "open"
    assert got[("tcp", SBC_NAME, 5061)] == "open"  # verified against --ca-file
    assert got[("tcp", WEBRTC_NAME, 5061)] == "tls-failed"  # the certificate names SBC_NAME
    assert got[("tcp", "13.115.244.1", 3478)] == "open"  # STUN over TCP, coturn
    assert got[("udp", "13.115.244.1", 3478)] == "open"  # STUN over UDP, coturn
    assert got[("tcp", "13.115.244.1", 5349)] == "open"  # TURN TLS port: TCP handshake
    assert got[("udp", "18.180.220.129", 3478)] == "timed-out"  # no STUN reply
    assert got[("tcp", "18.180.220.129", 3478)] == "refused"
    assert got[("udp", "54.65.63.193", 3478)] == "refused"  # ICMP port unreachable
    assert got[("udp", "18.177.19.211/32", 6000)] == "unverifiable"  # media range, no peer
    assert got[("udp", "18.177.19.211/32", 5060)] == "unverifiable"
    # Every other flow went to the closed port, or is not probed at all.
    rest = {k: v for k, v in got.items() if (k[1], k[2]) not in overrides}
    assert set(rest.values()) == {"refused", "unverifiable"}
    assert all(v == "unverifiable" for k, v in rest.items() if "/" in k[1])
    assert list(got.values()).count("open") == 6
    assert code == 1 and doc["exit_code"] == 1
    by_key = {(f["protocol"], f["target"], f["port"]): f for f in doc["flows"]}
    stun_flow = by_key[("udp", "13.115.244.1", 3478)]
    assert stun_flow["check"] == "stun-udp" and "mapped address 127.0.0.1:" in stun_flow["detail"]
    assert stun_flow["contacted"] == f"127.0.0.1:{coturn}"
    assert "Hostname mismatch" in by_key[("tcp", WEBRTC_NAME, 5061)]["detail"]
    assert elapsed < 30  # measured above; the brief's budget is 10 s


def test_tls_without_the_ca_is_tls_failed(
    capsys: pytest.CaptureFixture[str], tls_server: int
) -> None:
    code, doc, _ = _probe_json(
        capsys, "jp", "--section", "AudioCodes", "--component", "*Automation*",
        "--timeout", TIMEOUT, "--target-override-all", "127.0.0.1",
        "--target-override", f"{SBC_NAME}:5061=127.0.0.1:{tls_server}",
    )  # fmt: skip
    flow = next(f for f in doc["flows"] if f["target"] == SBC_NAME and f["port"] == 5061)
    assert flow["verdict"] == "tls-failed"
    assert "self-signed certificate" in flow["detail"]
    assert code == 1


def test_all_open_exits_0_and_the_table_says_what_was_sampled(
    capsys: pytest.CaptureFixture[str], coturn: int
) -> None:
    args = ["probe", "jp", "--section", "Twilio STUN", "--timeout", TIMEOUT,
            "--target-override-all", "127.0.0.1"]  # fmt: skip
    for f in plan_probe(japan().filter(["Twilio STUN"])).probed():
        args += ["--target-override", f"{f.target}:{f.port}=127.0.0.1:{coturn}"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, out + err
    assert "12 open" in out
    assert "Sampled, not swept: the first host address of each CIDR" in out


def test_bad_input_exits_2_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = [
        (["--target-override", "9.9.9.9=127.0.0.1"], "--target-override: names no probed flow"),
        (["--target-override", "nonsense"], "--target-override: expected ADDR"),
        (["--timeout", "0"], "--timeout"),
        (["--deadline", "601"], "--deadline"),
        (["--parallel", "65"], "--parallel"),
        (["--ports-per-range", "99"], "--ports-per-range"),
        (["--host", "example.org"], "--host"),
        (["--ca-file", str(tmp_path / "missing.pem")], "--ca-file"),
    ]
    for extra, message in cases:
        code, out, err = run_cli(capsys, "probe", "jp", "--target-override-all", "127.0.0.1",
                                 *extra)  # fmt: skip
        assert code == 2, (extra, out)
        assert err.count("\n") == 1 and message in err, err


class _Recorder:
    """A TCP server that keeps every byte each connection sends, until the peer closes."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2)
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
            self.received.append(data)


def test_a_tcp_probe_sends_nothing_after_the_handshake() -> None:
    recorder = _Recorder()
    plan = plan_probe(japan().filter(["AudioCodes"], ["*Automation*"]))
    overrides = make_overrides([f"18.177.19.211:10081=127.0.0.1:{recorder.port}"], "127.0.0.1")
    flows = [f for f in plan.probed() if f.port == 10081]
    results = run_probe(
        plan.__class__(plan.rules, tuple(flows), plan.sampling), Settings(timeout=1), overrides
    )
    assert [r.outcome.verdict for r in results] == [Verdict.OPEN]
    recorder.thread.join(3)
    assert recorder.received == [b""]
    recorder.server.close()


def test_a_stun_probe_sends_one_binding_request() -> None:
    recorder = _Recorder()
    outcome = stun_tcp("127.0.0.1", recorder.port, 0.3)  # the recorder never answers
    assert outcome.verdict is Verdict.STUN_FAILED and "no STUN reply" in outcome.detail
    recorder.thread.join(3)
    assert len(recorder.received) == 1 and len(recorder.received[0]) == 20
    assert recorder.received[0][:8] == bytes.fromhex("000100002112a442")
    recorder.server.close()


def test_a_name_that_does_not_resolve_is_dns_failed() -> None:
    asked: list[str] = []

    def resolver(name: str, port: int, timeout: float) -> str:
        asked.append(name)
        raise ResolveError(f"{name} does not resolve: test")

    plan = plan_probe(japan().filter(["AudioCodes"], ["*Automation*"]))
    names = tuple(f for f in plan.probed() if f.target == SBC_NAME)
    small = plan.__class__(plan.rules, names, plan.sampling)
    results = run_probe(small, Settings(timeout=0.5), Overrides({}), resolver=resolver)
    assert {r.outcome.verdict for r in results} == {Verdict.DNS_FAILED}
    assert sorted(asked) == [SBC_NAME, SBC_NAME]


def test_resolve_reads_the_hosts_file_and_fails_in_one_line() -> None:
    assert resolve("localhost", 80, 2) in {"127.0.0.1", "::1"}
    with pytest.raises(ResolveError, match="does not resolve"):
        resolve("bad..name", 80, 2)


def test_the_deadline_bounds_the_whole_probe(filtered: int) -> None:
    plan = plan_probe(japan(), Sampling(4, 4))
    tcp = tuple(f for f in plan.probed() if f.check is Check.TCP)[:12]
    small = plan.__class__(plan.rules, tcp, plan.sampling)
    routed = make_overrides([f"{f.target}:{f.port}=127.0.0.1:{filtered}" for f in tcp],
                            "127.0.0.1")  # fmt: skip
    start = time.monotonic()
    results = run_probe(small, Settings(timeout=0.3, deadline=0.7, parallel=2), routed)
    elapsed = time.monotonic() - start
    found = [r.outcome.verdict for r in results]
    assert Verdict.NOT_RUN in found and Verdict.OPEN not in found
    assert set(found) <= {Verdict.TIMED_OUT, Verdict.NOT_RUN}
    assert elapsed < 0.7 + 2.0  # deadline plus the grace, with room for a loaded machine


def test_other_commands_never_import_the_probe() -> None:
    code = (
        "import sys\n"
        "from korefw.cli.app import main\n"
        "assert main(sys.argv[1:]) in (0, 1)\n"
        "probe = ('korefw.probe', 'korefw.core.probe')\n"
        "bad = sorted(m for m in sys.modules if m.startswith(probe))\n"
        "print('loaded:' + ','.join(bad))\n"
    )
    for argv in (["rules", "jp", "--json"], ["check", "jp", "--protocol", "udp", "--port",
                                             "3478", "--to", "13.115.244.9"]):
        out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        assert out.strip().splitlines()[-1] == "loaded:", argv
    # The check can fail: korefw probe itself loads them.
    probe = subprocess.run(
        [sys.executable, "-c", code, "probe", "jp", "--section", "Media*", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "korefw.probe.runner" in probe.strip().splitlines()[-1]


def test_a_ca_file_that_is_a_fifo_is_refused_not_waited_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import os

    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    for ca_file in (fifo, tmp_path):
        code, out, err = run_cli(capsys, "probe", "jp", "--target-override-all", "127.0.0.1",
                                 "--ca-file", str(ca_file))  # fmt: skip
        assert code == 2, out
        assert err.count("\n") == 1 and "--ca-file: " in err and str(ca_file) in err, err
