"""``korefw rules``, ``check``, ``import`` and ``lint``, and one-line errors with exit code 2."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from korefw.cli import build_parser, main
from korefw.core.read.regions import PAGES_DIR, data_path

AUDIO = "AudioCodes"
VG = "Voice Gateway (VG)"
HA = "Session Border Controller (SBC) (Automation, HA SBC)"
AGENT = "Session Border Controller (SBC) (Agent SBC)"
STUN = "Twilio STUN"
T, U, TU = ["tcp"], ["udp"], ["tcp", "udp"]
SBC_FQDN = "audiocodes-jp-sbc-prod.kore.ai"
WEBRTC_FQDN = "audiocodes-jp-webrtc-prod.kore.ai"

# The Japan page, row for row, written out by hand from japan-firewall-rules.md:
# (line, section, component, protocols, label, ports, cidrs, fqdns, destination as written)
JAPAN = [
    (9, AUDIO, HA, TU, "TCP/UDP", [[5060, 5060]], ["18.177.19.211/32"], [], "18.177.19.211"),
    (10, AUDIO, HA, T, "TCP", [[5060, 5060]], [], [SBC_FQDN], SBC_FQDN),
    (11, AUDIO, HA, T, "TLS", [[5061, 5061]], ["18.177.19.211/32"], [], "18.177.19.211"),
    (12, AUDIO, HA, T, "TLS", [[5061, 5061]], [], [SBC_FQDN], SBC_FQDN),
    (13, AUDIO, HA, T, "TCP", [[10081, 10081]], ["18.177.19.211/32"], [], "18.177.19.211"),
    (14, AUDIO, HA, U, "UDP", [[6000, 65535]], ["18.177.19.211/32"], [], "18.177.19.211"),
    (15, AUDIO, AGENT, TU, "TCP/UDP", [[5060, 5060]], ["18.182.77.145/32"], [], "18.182.77.145"),
    (16, AUDIO, AGENT, T, "TCP", [[5060, 5060]], [], [WEBRTC_FQDN], WEBRTC_FQDN),
    (17, AUDIO, AGENT, T, "TLS", [[5061, 5061]], ["18.182.77.145/32"], [], "18.182.77.145"),
    (18, AUDIO, AGENT, T, "TLS", [[5061, 5061]], [], [WEBRTC_FQDN], WEBRTC_FQDN),
    (19, AUDIO, AGENT, U, "UDP", [[6000, 65535]], ["18.182.77.145/32"], [], "18.182.77.145"),
    (20, AUDIO, AGENT, T, "TCP", [[10081, 10081]], ["18.182.77.145/32"], [], "18.182.77.145"),
    (27, VG, AGENT, TU, "TCP/UDP", [[5060, 5060]], ["35.76.183.247/32"], [], "35.76.183.247"),
    (28, VG, AGENT, T, "TLS", [[5061, 5061]], ["35.76.183.247/32"], [], "35.76.183.247"),
    (29, VG, AGENT, T, "TCP", [[8443, 8443]], ["35.76.183.247/32"], [], "35.76.183.247"),
    (30, VG, AGENT, TU, "TCP/UDP", [[5060, 5060]], ["54.248.11.38/32"], [], "54.248.11.38"),
    (31, VG, AGENT, T, "TLS", [[5061, 5061]], ["54.248.11.38/32"], [], "54.248.11.38"),
    (32, VG, AGENT, T, "WSS", [[8443, 8443]], ["54.248.11.38/32"], [], "54.248.11.38"),
    (33, VG, AGENT, U, "UDP", [[6000, 65535]], ["35.76.183.247/32"], [], "35.76.183.247"),
    (34, VG, AGENT, U, "UDP", [[6000, 65535]], ["54.248.11.38/32"], [], "54.248.11.38"),
    (
        40,
        "Media Twilio Gateway",
        "Stun server",
        U,
        "UDP",
        [[10000, 65535]],
        ["168.86.128.0/18"],
        [],
        "168.86.128.0/18",
    ),
    (
        46,
        "FQDN",
        "Kore Domain",
        T,
        "TCP",
        [[443, 443], [8443, 8443]],
        [],
        ["*.kore.ai"],
        "*.kore.ai",
    ),
    (
        47,
        "FQDN",
        "Twilio Domain",
        T,
        "TCP",
        [[443, 443], [8443, 8443]],
        [],
        ["*.twilio.com"],
        "*.twilio.com",
    ),
    (
        53,
        STUN,
        "",
        T,
        "TCP (TURN TLS)",
        [[443, 443], [5349, 5349]],
        ["13.115.244.0/27"],
        [],
        "13.115.244.0 - 13.115.244.31",
    ),
    (
        54,
        STUN,
        "",
        T,
        "TCP (TURN TLS)",
        [[443, 443], [5349, 5349]],
        ["18.180.220.128/25"],
        [],
        "18.180.220.128 - 18.180.220.255",
    ),
    (
        55,
        STUN,
        "",
        T,
        "TCP (TURN TLS)",
        [[443, 443], [5349, 5349]],
        ["54.65.63.192/26"],
        [],
        "54.65.63.192 - 54.65.63.255",
    ),
    (
        56,
        STUN,
        "",
        TU,
        "TCP, UDP",
        [[3478, 3478]],
        ["13.115.244.0/27"],
        [],
        "13.115.244.0 - 13.115.244.31",
    ),
    (
        57,
        STUN,
        "",
        TU,
        "TCP, UDP",
        [[3478, 3478]],
        ["18.180.220.128/25"],
        [],
        "18.180.220.128 - 18.180.220.255",
    ),
    (
        58,
        STUN,
        "",
        TU,
        "TCP, UDP",
        [[3478, 3478]],
        ["54.65.63.192/26"],
        [],
        "54.65.63.192 - 54.65.63.255",
    ),
]


def japan_json() -> list[dict]:
    return [
        {
            "section": section,
            "component": component,
            "protocols": protocols,
            "ports": ports,
            "cidrs": cidrs,
            "fqdns": fqdns,
            "label": label,
            "destination": destination,
            "aliases": [],
            "origin": {"file": "japan-firewall-rules.md", "line": line},
        }
        for line, section, component, protocols, label, ports, cidrs, fqdns, destination in JAPAN
    ]


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    "source", ["jp", str(data_path("jp")), str(PAGES_DIR / "japan-firewall-rules.md")]
)
def test_rules_jp_json_is_the_japan_page_row_for_row(
    capsys: pytest.CaptureFixture[str], source: str
) -> None:
    code, out, err = run_cli(capsys, "rules", source, "--json")
    assert code == 0
    data = json.loads(out)
    assert len(JAPAN) == 29
    assert data["rules"] == japan_json()
    assert (data["region"], data["source"], data["retrieved"]) == (
        "jp",
        "japan-firewall-rules.md",
        "2026-11-25",
    )
    assert "label-mismatch" in err and "japan-firewall-rules.md:32" in err


def test_rules_filters_repeat_and_use_globs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "rules", "jp", "--json", "--section", "FQDN", "--section", "twilio*"
    )
    assert code == 0
    lines = [r["origin"]["line"] for r in json.loads(out)["rules"]]
    assert lines == [46, 47, 53, 54, 55, 56, 57, 58]
    code, out, err = run_cli(capsys, "rules", "jp", "--json", "--component", "*Agent SBC*")
    assert [r["origin"]["line"] for r in json.loads(out)["rules"]] == [
        *range(15, 21),
        *range(27, 35),
    ]
    assert "japan-firewall-rules.md:32" in err  # the warning concerns a shown rule
    code, out, err = run_cli(capsys, "rules", "jp", "--json", "--section", "FQDN")
    assert err == ""  # no warning about rules that are not shown


def test_rules_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "rules", "us")
    assert code == 0
    for text in ("STUN SERVER & MEDIA RELAY", "34.203.254.0/24", "*.twilio.com", "tcp (WSS)"):
        assert text in out
    assert "tcp (assumed)" in out
    assert err.count("no-protocol") == 2


def test_unknown_filter_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "rules", "jp", "--section", "Nope")
    assert code == 2 and out == ""
    assert err.startswith("korefw: error: section: no rule has a section matching it")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- check


def test_check_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "check", "jp", "--protocol", "udp", "--port", "3478", "--to", "13.115.244.7"
    )
    assert code == 0
    assert out.startswith("allowed: udp port 3478 to 13.115.244.7")
    assert "japan-firewall-rules.md:56: Twilio STUN:" in out


def test_check_not_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "check", "jp", "--protocol", "udp", "--port", "3479", "--to", "13.115.244.7"
    )
    assert code == 1
    assert out.startswith("not allowed: udp port 3479 to 13.115.244.7")


def test_check_fqdn(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "check", "jp", "--to", "api.kore.ai", "--port", "443", "--protocol", "tcp"
    )
    assert code == 0
    assert "japan-firewall-rules.md:46: FQDN / Kore Domain" in out
    code, _, _ = run_cli(
        capsys, "check", "jp", "--to", "api.kore.ai", "--port", "443", "--protocol", "udp"
    )
    assert code == 1


def test_check_names_every_matching_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "check", "jp", "--protocol", "tcp", "--port", "5060", "--to", "18.177.19.211"
    )
    assert code == 0
    assert "by 1 egress rule:" in out and "japan-firewall-rules.md:9:" in out


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["check", "jp", "--protocol", "icmp", "--port", "1", "--to", "13.115.244.7"],
            "--protocol: unknown protocol (expected tcp or udp) (got 'icmp')",
        ),
        (
            ["check", "jp", "--protocol", "tcp", "--port", "70000", "--to", "13.115.244.7"],
            "--port: port outside 0-65535 (got '70000')",
        ),
        (
            ["check", "jp", "--protocol", "tcp", "--port", "-1", "--to", "13.115.244.7"],
            "--port: expected a port number (got '-1')",
        ),
        (
            ["check", "jp", "--protocol", "tcp", "--port", "443", "--to", "13.115.244.700"],
            "--to: malformed IP address (got '13.115.244.700')",
        ),
        (
            ["check", "jp", "--protocol", "udp", "--port", "3478", "--to", "13.115.244.0/27"],
            "--to: a CIDR is not accepted; give one address (or host name) "
            "(got '13.115.244.0/27')",
        ),
        (
            ["check", "jp", "--protocol", "tcp", "--port", "443", "--to", "2600:1f18::/36"],
            "--to: a CIDR is not accepted; give one address (or host name) "
            "(got '2600:1f18::/36')",
        ),
        (
            ["check", "jp", "--protocol", "tcp", "--port", "443", "--to", "*.kore.ai"],
            "--to: expected one host name, not a wildcard (got '*.kore.ai')",
        ),
        (
            ["rules", "xx"],
            "unknown region or file (known regions: au, de, eu, in, jp, uae, uk, us) (got 'xx')",
        ),
        (["import"], "import: give a vendor PAGE, or --all"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err == f"korefw: error: {expected}\n"


BAD_PAGE = """# Test (TT) Firewall Rules

## Voice Gateway

| Component | Protocol | Source IP | Source Port | Destination | Destination Port |
|---|---|---|---|---|---|
| SBC | TCP | ANY | ANY | 192.0.2.1 | 5060 |
| | {proto} | ANY | ANY | {dest} | {port} |
"""


@pytest.mark.parametrize(
    ("proto", "dest", "port", "expected"),
    [
        (
            "TCP",
            "192.0.2.256",
            "443",
            "cell 'Destination': malformed IP or CIDR (got '192.0.2.256')",
        ),
        (
            "TCP",
            "192.0.2.20 – 192.0.2.10",
            "443",
            "cell 'Destination': reversed IP range (got '192.0.2.20 - 192.0.2.10')",
        ),
        (
            "TCP",
            "192.0.2.1",
            "65536",
            "cell 'Destination Port': port outside 0-65535 (got '65536')",
        ),
        ("TCP", "192.0.2.1", "9000-8000", "cell 'Destination Port': reversed port range"),
        ("ICMP", "192.0.2.1", "443", "cell 'Protocol': unknown protocol"),
        ("TCP", "", "443", "cell 'Destination': empty destination (got '')"),
        ("TCP", "10.0.0.0/8", "443", "cell 'Destination': destination broader than /16"),
        ("TCP", "64:ff9b::/96", "443", "cell 'Destination': destination holds 64:ff9b::/96"),
        ("TCP", "*.1.2.3.4", "443", "cell 'Destination': not an FQDN: its top-level label"),
    ],
)
def test_bad_vendor_pages_give_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    proto: str,
    dest: str,
    port: str,
    expected: str,
) -> None:
    page = tmp_path / "bad-page.md"
    page.write_text(BAD_PAGE.format(proto=proto, dest=dest, port=port), encoding="utf-8")
    for argv in (
        ["rules", str(page)],
        ["check", str(page), "--protocol", "tcp", "--port", "1", "--to", "192.0.2.1"],
        ["lint", str(page)],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == ""
        assert err.startswith(f"korefw: error: bad-page.md:8: {expected}"), err
        assert err.count("\n") == 1


def test_rows_that_together_tile_a_broad_block_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "bad-page.md"
    text = BAD_PAGE.format(proto="TCP", dest="10.1.0.0/16", port="443")
    page.write_text(text.replace("| 192.0.2.1 | 5060 |", "| 10.0.0.0/16 | 443 |"))
    code, out, err = run_cli(capsys, "rules", str(page))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(
        "korefw: error: bad-page.md:7: 2 rows (lines 7, 8) together allow tcp 443 to a "
        "destination broader than /16"
    ), err
    assert err.rstrip().endswith("(got '10.0.0.0/15')")


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    page = tmp_path / "bad-page.md"
    page.write_text(BAD_PAGE.format(proto="TCP", dest="192.0.2.1", port="70000"))
    proc = subprocess.run(
        [sys.executable, "-m", "korefw.cli", "rules", str(page)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "korefw: error: bad-page.md:8: cell 'Destination Port': "
        "port outside 0-65535 (got '70000')\n"
    )


# --------------------------------------------------------------------------- lint, help


def test_lint_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "lint", "jp")
    assert code == 0
    assert out.startswith("japan-firewall-rules.md:32: warning [label-mismatch]:")
    assert "jp: 1 warning" in err
    code, out, err = run_cli(capsys, "lint", "--strict", "jp", "us")
    assert code == 1 and "us: 2 warnings" in err
    code, out, err = run_cli(capsys, "lint")
    assert all(f"{c}: " in err for c in ("au", "de", "eu", "in", "jp", "uae", "uk", "us"))


def test_no_arguments_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys)
    assert code == 2 and out == ""
    assert "usage: korefw" in err
    for command in ("rules", "check", "import", "lint", "plan", "verify", "completion"):
        assert command in err


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"korefw {version('korefw')}\n"


def test_parser_is_extensible() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"rules", "check", "import", "lint", "plan", "diff", "verify"} <= set(sub.choices)
    sub.add_parser("extra").set_defaults(func=lambda args: 7)
    args = parser.parse_args(["extra"])
    assert args.func(args) == 7


# --- defects found by a hostile tester -------------------------------------------------


def _stack_project(tmp_path: Path) -> Path:
    root = Path(__file__).resolve().parent.parent
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.ok.yaml").write_text("config:\n  korefw:region: jp\n")
    return tmp_path


@pytest.mark.parametrize(("kind", "text"), [
    ("folder", "is a folder"), ("fifo", "not a regular file"), ("bytes", "not UTF-8 text"),
    ("deep", "nested too deeply"), ("deep-setting", "nested too deeply"),
    ("bomb", "YAML aliases expand the file by 1234567880 nodes (at most 100000"),
    ("cycle", "a YAML alias refers to a node that holds it"),
])  # fmt: skip
def test_a_stack_file_that_cannot_be_read_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, text: str
) -> None:
    import os

    project = _stack_project(tmp_path)
    path = project / "stacks" / "Pulumi.x.yaml"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "bytes":
        path.write_bytes(b"config:\n  korefw:region: \xff\xfe\n")
    elif kind == "deep":
        path.write_text("[" * 50000 + "]" * 50000)
    elif kind == "bomb":  # "billion laughs": nine levels, each naming the one above ten times
        levels = ["    - &a [" + ", ".join(["lol"] * 10) + "]"]
        levels += [f"    - &{b} [" + ", ".join([f"*{a}"] * 10) + "]" for a, b in
                   zip("abcdefgh", "bcdefghi", strict=True)]  # fmt: skip
        path.write_text("config:\n  korefw:region: jp\n  aws:lol:\n" + "\n".join(levels) + "\n")
    elif kind == "cycle":
        path.write_text("config:\n  korefw:region: jp\n  aws:x: &a [1, *a]\n")
    else:
        path.write_text("config:\n  korefw:sections: " + "[" * 3000 + "]" * 3000 + "\n")
    assert main(["plan", "--stack", "x", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pulumi.x.yaml" in err and text in err, err


def test_import_of_a_fifo_is_refused_not_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    os.mkfifo(tmp_path / "page.md")
    code = main(["import", str(tmp_path / "page.md"), "--region", "jp",
                 "-o", str(tmp_path / "out.toml")])  # fmt: skip
    assert code == 2 and "not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "out.toml").exists()


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`korefw ... | head`: no BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "korefw.cli", "rules", "jp", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err


def test_last_resort_guard_names_recursion_and_encoding(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import korefw.cli as cli

    args = cli.build_parser().parse_args(["rules", "jp"])
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda *a, **k: args)
    for exc in (RecursionError("x"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")):
        def boom(_: argparse.Namespace, exc: BaseException = exc) -> int:
            raise exc

        args.func = boom
        assert cli.main(["rules", "jp"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("korefw: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("port", ["٤٤٣", "４４３", "४४३"])
def test_check_takes_ascii_digits_only(capsys: pytest.CaptureFixture[str], port: str) -> None:
    code = main(["check", "jp", "--protocol", "tcp", "--port", port, "--to", "13.115.244.1"])
    assert code == 2 and "--port: expected a port number" in capsys.readouterr().err


def test_vendor_port_cells_take_ascii_digits_only() -> None:
    from korefw.core.errors import KorefwError
    from korefw.core.rules.ports import PortRange

    assert str(PortRange.parse("10,000–65,535")) == "10000-65535"
    with pytest.raises(KorefwError, match="malformed port"):
        PortRange.parse("٤٤٣")


def test_diff_is_markdown_when_piped_and_coloured_lines_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(capsys, "diff", "de", "jp")
    assert code == 0 and out.startswith("### korefw plan diff\n") and "```diff\n" in out
    monkeypatch.setenv("FORCE_COLOR", "1")  # colour as on a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    code, term, _ = run_cli(capsys, "diff", "de", "jp", "--format", "term")
    assert code == 0 and "```" not in term and "###" not in term and "**" not in term
    assert "\x1b[1mkorefw plan diff\x1b[0m" in term
    assert "\x1b[32m+ rules: tcp 443 → 13.115.244.0/27 (Twilio STUN)\x1b[0m" in term
    assert "\x1b[31m- rules: " in term
    plain = re.sub(r"\x1b\[[0-9;]*m", "", term).splitlines()
    md_body = [line for line in out.splitlines() if line[:2] in ("+ ", "- ")]
    assert [line for line in plain if line[:2] in ("+ ", "- ")] == md_body
    assert "Egress rules: 32 added, 29 removed." in plain


@pytest.mark.parametrize("name", ["x\ny.toml", "e\x1b[2Jz.toml", "r\rz.toml", "ok-é.toml"])
def test_a_file_name_with_control_characters_is_one_escaped_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The file named in an error is shown with its control characters escaped, so an
    error stays one line and cannot drive the terminal."""
    path = tmp_path / name
    path.write_text("junk")
    code, out, err = run_cli(capsys, "rules", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.endswith("\n") and err[:-1].isprintable(), repr(err)
    assert repr(name)[1:-1] in err  # é stays é; \n is shown as \\n


def test_check_shows_control_characters_of_a_page_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sections and components come from a fetched vendor page: printed as they are, an
    escape sequence in one would drive the terminal."""
    page = tmp_path / "evil.md"
    page.write_text(
        "# JP\n\n## AudioCodes\x1b[2J\n\n"
        "| Component | Protocol | Source IP | Source Port | Allowed Destinations | "
        "Destination Port |\n|---|---|---|---|---|---|\n"
        "| SBC\x1b]0;pwn\x07 | TCP | ANY | ANY | 18.177.19.211 | 5060 |\n"
    )
    code, out, _ = run_cli(capsys, "check", str(page), "--protocol", "tcp", "--port", "5060",
                           "--to", "18.177.19.211")  # fmt: skip
    assert code == 0
    assert all(line.isprintable() for line in out.splitlines()), repr(out)
    assert "AudioCodes\\x1b[2J / SBC\\x1b]0;pwn\\x07" in out
    code, out, err = run_cli(capsys, "render", str(page), "--platform", "nftables", "-o",
                             str(tmp_path / "out"))  # fmt: skip
    assert all(line.isprintable() for line in (out + err).splitlines()), repr(out + err)


@pytest.mark.parametrize("name", ["big.toml", "big.md", "big.json"])
def test_a_huge_input_file_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A sparse 3 GB file costs nothing on disk; read whole, it cost 3 GB of memory."""
    import os

    from korefw.core.inputfile import MAX_INPUT_BYTES

    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(3 * 2**30)
    assert os.path.getsize(path) > MAX_INPUT_BYTES
    argvs = ([["diff", str(path), str(path)], ["verify", str(path), "--rules", "jp"]]
             if name.endswith(".json") else [["rules", str(path)]])  # fmt: skip
    for argv in argvs:
        code, out, err = run_cli(capsys, *argv)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1 and f"{path}: " in err and "larger than" in err, err
