"""Other platforms through aerleon: export, render, and reading the rendered output back."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.cli import main
from korefw.core import safewrite
from korefw.core.check.rendered import (
    RenderedReading,
    gce_allow_set,
    k8s_allow_set,
    read_rendered,
    verify_rendered,
)
from korefw.core.errors import KorefwError
from korefw.core.inputfile import load_yaml
from korefw.core.plan import aerleon_export as ae
from korefw.core.read.regions import load_rules
from korefw.core.rules.addresses import breadth_problem
from korefw.core.rules.allowset import AllowSet
from korefw.core.rules.model import Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange

pytest.importorskip("aerleon")

ALL = [a for p in ae.PLATFORMS for a in ("--platform", p)]
GOLDEN = Path(__file__).resolve().parent / "golden" / "platforms" / "jp"


@pytest.fixture(scope="module")
def jp_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    assert main(["render", "jp", *ALL, "-o", str(out)]) == 0
    return out


def test_render_writes_every_platform(jp_out: Path) -> None:
    names = {p.name for p in jp_out.iterdir()}
    assert names == {f"korefw-jp{s}" for s in ("", ".ipt", ".nft", ".jcl", ".acl", ".xml",
                                               ".gce", ".yml")}  # fmt: skip


def test_k8s_manifests_allow_exactly_japans_ip_flows(jp_out: Path) -> None:
    docs = yaml.safe_load((jp_out / "korefw-jp.yml").read_text())["items"]
    assert all(d["spec"]["podSelector"] == {} for d in docs)
    assert read_rendered(str(jp_out / "korefw-jp.yml")).allow["k8s"] == load_rules("jp").allow_set()
    # Port ranges become endPort, never one policy per port.
    ports = [p for d in docs for e in d["spec"].get("egress", []) for p in e["ports"]]
    assert {"port": 6000, "endPort": 65535, "protocol": "UDP"} in ports
    # The closing deny term: an Egress policy with no egress rule (deny all egress).
    assert any(d["spec"]["policyTypes"] == ["Egress"] and "egress" not in d["spec"] for d in docs)


@pytest.mark.parametrize("name", ["korefw-jp.yml", "korefw-jp.gce"])
def test_verify_says_exact_and_names_unenforced_fqdn_rules(
    jp_out: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(jp_out / name), "--rules", "jp"]) == 0
    out = capsys.readouterr().out
    flows = sum(len(b.cidrs()) for b in load_rules("jp").allow_set().boxes())
    assert out.startswith("OK: ") and f"exactly the vendor's {flows} IP flows\n" in out
    assert "*.kore.ai tcp 443,8443: NOT enforced" in out


def test_gce_deny_has_lower_priority_and_covers_both_families(jp_out: Path) -> None:
    rules = json.loads((jp_out / "korefw-jp.gce").read_text())
    deny = [r for r in rules if "denied" in r]
    assert deny and all(d["priority"] == 65534 for d in deny)
    assert all(d["denied"] == [{"IPProtocol": "all"}] for d in deny)
    assert {c for d in deny for c in d["destinationRanges"]} == {"0.0.0.0/0", "::/0"}
    assert all(r.get("priority", 1000) < 65534 for r in rules if "allowed" in r)
    assert all(a["IPProtocol"] in ("tcp", "udp") for r in rules for a in r.get("allowed", []))


def test_gce_without_the_deny_is_open(jp_out: Path, tmp_path: Path) -> None:
    rules = [r for r in json.loads((jp_out / "korefw-jp.gce").read_text()) if "allowed" in r]
    (tmp_path / "open.gce").write_text(json.dumps(rules))
    v = verify_rendered(str(tmp_path / "open.gce"), load_rules("jp"))
    assert v.exit_code == 1 and "implied allow-egress" in v.render()


def test_k8s_one_missing_policy_is_found(jp_out: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load((jp_out / "korefw-jp.yml").read_text())
    dropped = doc["items"].pop(0)
    (tmp_path / "k.yml").write_text(yaml.safe_dump(doc))
    v = verify_rendered(str(tmp_path / "k.yml"), load_rules("jp"))
    assert v.exit_code == 1 and "missing" in v.render()
    assert dropped["metadata"]["name"].startswith("kf-")


def test_allow_dns_adds_exactly_port_53(tmp_path: Path) -> None:
    assert main(["render", "jp", "--platform", "k8s", "--allow-dns", "10.96.0.10",
                 "-o", str(tmp_path)]) == 0  # fmt: skip
    path = str(tmp_path / "korefw-jp.yml")
    assert verify_rendered(path, load_rules("jp")).exit_code == 1
    v = verify_rendered(path, load_rules("jp"), allow_dns=[ipaddress.ip_network("10.96.0.10")])
    assert v.exit_code == 0, v.render()


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(24, 32)), min_size=0, max_size=4),
       st.integers(0, 65535), st.integers(0, 200))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_k8s_ipblock_except_is_subtracted(
    excepts: list[tuple[int, int]], port: int, width: int
) -> None:
    block = ipaddress.ip_network("10.1.0.0/16")
    ex = [ipaddress.ip_network(f"10.1.{o}.0/{n}", strict=False) for o, n in excepts]
    hi = min(65535, port + width)
    doc = {"kind": "NetworkPolicy", "metadata": {"name": "p"},
           "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
               "to": [{"ipBlock": {"cidr": str(block), "except": [str(e) for e in ex]}}],
               "ports": [{"port": port, "endPort": hi}]}]}}  # fmt: skip
    got = k8s_allow_set([doc], "t", RenderedReading())
    want = AllowSet.of("tcp", [(port, hi)], [block]) - AllowSet.of("tcp", [(port, hi)], ex)
    assert got == want  # protocol defaults to TCP; except blocks are cut out


def test_unknown_platform_and_bad_dns_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "jp", "--platform", "k8s", "--allow-dns", "10.0.0.0/8",
                 "-o", str(tmp_path)]) == 2  # fmt: skip
    assert "--allow-dns" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_never_broader_than_the_vendor(jp_out: Path) -> None:
    acl = (jp_out / "korefw-jp.acl").read_text()
    permits = [ln for ln in acl.splitlines() if ln.strip().startswith("permit")]
    assert permits and all(ln.split()[1] in ("tcp", "udp") for ln in permits)
    assert "deny ip any any" in acl  # the closing deny term


@pytest.mark.parametrize(
    ("tool", "cmd", "name"),
    [("nft", ["nft", "-c", "-f"], "korefw-jp.nft"),
     ("iptables-restore", ["iptables-restore", "--test"], "korefw-jp.ipt")],
)  # fmt: skip
def test_platform_syntax_check(
    jp_out: Path, tmp_path: Path, tool: str, cmd: list[str], name: str
) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install nftables iptables)")
    # Both need a network namespace of their own; unshare -rn gives one without privileges.
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode:
        pytest.skip("cannot create a user and network namespace here")
    proc = subprocess.run(["unshare", "-rn", *cmd, str(jp_out / name)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # The check can fail: the same file with one rule's protocol misspelt is refused.
    broken = tmp_path / name
    broken.write_text((jp_out / name).read_text().replace("udp", "udpx", 1))
    bad = subprocess.run(["unshare", "-rn", *cmd, str(broken)], capture_output=True,
                         check=False)  # fmt: skip
    assert bad.returncode != 0


def test_aclgen_turns_the_export_into_the_same_output(jp_out: Path, tmp_path: Path) -> None:
    assert main(["export", "jp", "--format", "aerleon", "-o", str(tmp_path)]) == 0
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "aerleon", "--base_directory", "policies",
         "--definitions_directory", "def", "--output_directory", "out"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    ours = {p.name: p.read_text() for p in jp_out.iterdir()}
    theirs = {p.name: p.read_text() for p in out.iterdir()}
    # aerleon writes $Id:$/$Date:$ placeholders unexpanded, so nothing needs stripping.
    assert theirs == ours


def test_export_terms_are_named_from_rule_identity() -> None:
    rules = load_rules("jp")
    pol = ae.policy(rules)
    names = [t["name"] for t in pol["filters"][0]["terms"]]
    assert names[-1] == ae.DENY_TERM
    assert names[:-1] == [ae.term_name(r) for r in rules.ip_rules()]
    # Identity is content: reversing the vendor's order renames nothing.
    from dataclasses import replace

    flipped = ae.policy(replace(rules, rules=tuple(reversed(rules.rules))))
    assert {t["name"] for t in flipped["filters"][0]["terms"]} == set(names)


def test_render_matches_golden_files(jp_out: Path) -> None:
    """Golden output of every platform; regenerate with KOREFW_UPDATE_GOLDEN=1 and review."""
    if os.environ.get("KOREFW_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for f in jp_out.iterdir():
            (GOLDEN / f.name).write_text(f.read_text())
    assert {f.name: f.read_text() for f in jp_out.iterdir()} == {
        f.name: f.read_text() for f in GOLDEN.iterdir()
    }, "render output differs from tests/golden/platforms/jp; if intended, regenerate"


_net = lambda a, n: ipaddress.ip_network(f"{a}/{n}", strict=False)  # noqa: E731
_cidr = st.one_of(
    st.builds(_net, st.ip_addresses(v=4).filter(lambda a: a.is_global), st.integers(20, 32)),
    st.builds(_net, st.ip_addresses(v=6).filter(lambda a: a.is_global), st.integers(40, 128))
    # not a block mapping IPv4 (64:ff9b::/40 holds NAT64's 64:ff9b::/96): refused as broad
    .filter(lambda n: breadth_problem(n) is None),
)
_ports = st.tuples(st.integers(1, 65535), st.integers(0, 3000)).map(
    lambda t: PortRange(t[0], min(65535, t[0] + t[1])))  # fmt: skip
_rule = st.builds(
    lambda protos, ports, cidrs: Rule("S", "C", tuple(protos), tuple(ports), tuple(cidrs)),
    st.sets(st.sampled_from([Protocol.TCP, Protocol.UDP]), min_size=1),
    st.lists(_ports, min_size=1, max_size=3), st.lists(_cidr, min_size=1, max_size=3),
)  # fmt: skip


@given(st.lists(_rule, min_size=1, max_size=5, unique_by=lambda r: r.key))
@settings(max_examples=25, deadline=None)
def test_rendered_gce_and_k8s_read_back_to_the_rules(rules: list[Rule]) -> None:
    rs = RuleSet(tuple(rules), region="t")
    files = ae.generate(rs, ["gce", "k8s"])
    allow, wider = gce_allow_set(json.loads(files["korefw-t.gce"]), "gce")
    assert not wider and allow == rs.allow_set()
    reading = RenderedReading()
    docs = yaml.safe_load(files["korefw-t.yml"])["items"]
    assert k8s_allow_set(docs, "k8s", reading) == rs.allow_set()
    assert not reading.wider and not reading.problems


# --- defects found by a hostile tester -------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("direction", "egress"), ("direction", "Egress"), ("direction", "OUT"), ("direction", None),
    ("priority", "x"), ("priority", 1e400), ("priority", -5), ("priority", 65536),
    ("priority", True),
])  # fmt: skip
def test_gce_rule_with_a_field_gce_would_not_take_is_one_line(
    jp_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object
) -> None:
    rules = json.loads((jp_out / "korefw-jp.gce").read_text())
    wide = {"allowed": [{"IPProtocol": "all"}], "destinationRanges": ["0.0.0.0/0"],
            "direction": "EGRESS", "network": rules[0]["network"], "name": "x", field: value}
    (tmp_path / "x.gce").write_text(json.dumps([*rules, wide]))
    assert main(["verify", str(tmp_path / "x.gce"), "--rules", "jp"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"x.gce: x: {field}:" in err


def test_rendered_folder_with_non_utf8_deep_or_fifo_files_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {"bytes.gce": b"[\xff\xfe]", "deep.gce": b"[" * 100000 + b"]" * 100000,
             "deep.yml": b"[" * 50000 + b"]" * 50000}  # fmt: skip
    for name, data in cases.items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(data)
        assert main(["verify", str(folder), "--rules", "jp"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err and "Traceback" not in err
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "f.gce")
    assert main(["verify", str(fifo), "--rules", "jp"]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "text"), [
    ({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
      "metadata": {"name": "world"},
      "spec": {"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]}}, "toEntities"),
    ({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "c"},
      "spec": {"endpointSelector": {}, "egress": [{"toCIDR": ["0.0.0.0/0"]}]}}, "toCIDR"),
    ({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
      "metadata": {"name": "o", "namespace": "other"},
      "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}},
     "several namespaces"),
    ({"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
      "metadata": {"name": "g"}, "spec": {}}, "GlobalNetworkPolicy"),
])  # fmt: skip
def test_k8s_policies_korefw_does_not_read_are_undecided_not_ignored(
    jp_out: Path, tmp_path: Path, extra: dict, text: str
) -> None:
    base = (jp_out / "korefw-jp.yml").read_text()
    (tmp_path / "k.yml").write_text(base + "\n---\n" + yaml.safe_dump(extra))
    v = verify_rendered(str(tmp_path / "k.yml"), load_rules("jp"))
    assert v.exit_code == 2 and text in v.render()


def test_yaml_that_is_not_a_manifest_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yml").write_text("a: 1\n")
    assert main(["verify", str(tmp_path / "a.yml"), "--rules", "jp"]) == 2
    assert "expected Kubernetes objects" in capsys.readouterr().err


def test_a_manifest_alias_bomb_is_one_line_and_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    levels = ["a: &a [" + ", ".join(["lol"] * 10) + "]"]
    levels += [f"{b}: &{b} [" + ", ".join([f"*{a}"] * 10) + "]" for a, b in
               zip("abcdefgh", "bcdefghi", strict=True)]  # fmt: skip
    (tmp_path / "a.yml").write_text("kind: List\nitems: []\n" + "\n".join(levels) + "\n")
    assert main(["verify", str(tmp_path / "a.yml"), "--rules", "jp"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.yml: YAML aliases expand the file by" in err, err


def test_yaml_anchors_reused_a_few_times_still_read() -> None:
    text = "a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n"
    assert load_yaml(text, where="f.yml") == {
        "a": {"k": [1, 2]}, "b": {"k": [1, 2]}, "c": [{"k": [1, 2]}, {"k": [1, 2]}]
    }
    assert load_yaml("a: 1\n---\nb: 2\n", where="f.yml", every=True) == [{"a": 1}, {"b": 2}]
    with pytest.raises(KorefwError, match=r"^f\.yml: expected one YAML document, found several$"):
        load_yaml("a: 1\n---\nb: 2\n", where="f.yml")


def test_nftables_priority_outside_nfts_range_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for value in ("2147483648", "-2147483649", "99999999999999999999"):
        argv = ["render", "jp", "--platform", "nftables", "--nftables-priority", value]
        assert main([*argv, "-o", str(tmp_path)]) == 2
        assert "--nftables-priority: expected an integer" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    argv = ["render", "jp", "--platform", "nftables", "--nftables-priority", "-2147483648"]
    assert main([*argv, "-o", str(tmp_path)]) == 0


def test_a_failed_export_leaves_no_folder_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "def" / "korefw-jp.yaml").mkdir(parents=True)  # a folder where a file goes
    assert main(["export", "jp", "--format", "aerleon", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["def"]
    assert main(["export", "jp", "--format", "aerleon", "-o", "/proc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create folder" in err


def test_an_export_failing_half_way_through_its_writes_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = safewrite.os.replace
    calls: list[str] = []

    def flaky(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the first file is in place, the second fails
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(safewrite.os, "replace", flaky)
    assert main(["export", "jp", "--format", "aerleon", "-o", str(tmp_path)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["export", "jp", "--format", "aerleon"], ["render", "jp", "--platform", "nftables"],
])  # fmt: skip
def test_a_missing_output_folder_is_created_all_or_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main([*command, "-o", "out/"]) == 0  # as the README writes it, on a plain clone
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written and all(name.startswith("out/") for name in written)
    assert main([*command, "-o", "a/b/"]) == 0 and (tmp_path / "a" / "b").is_dir()
    capsys.readouterr()

    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safewrite.os, "replace", full)
    assert main([*command, "-o", "new/deeper"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "new").exists()
    (tmp_path / "plain").write_text("keep")
    assert main([*command, "-o", "plain/out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a file stands where a folder is expected" in err


def test_cilium_to_endpoints_counts_only_as_the_dns_visibility_rule() -> None:
    from korefw.core.check.rendered import RenderedReading, k8s_allow_set

    dns = {"toEndpoints": [{"matchLabels": {"k8s:k8s-app": "kube-dns"}}],
           "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}],
                        "rules": {"dns": [{"matchPattern": "*"}]}}]}  # fmt: skip
    web = {**dns, "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}
    for rule, problems in ((dns, 0), (web, 1)):
        reading = RenderedReading()
        doc = {"kind": "CiliumNetworkPolicy", "metadata": {"name": "c"},
               "spec": {"endpointSelector": {}, "egress": [rule]}}  # fmt: skip
        k8s_allow_set([doc], "t", reading)
        assert len(reading.problems) == problems


@pytest.mark.parametrize("command", [
    ["export", "jp", "--format", "aerleon"], ["render", "jp", "--platform", "nftables"],
])  # fmt: skip
@pytest.mark.parametrize("output", ["", " "])
def test_an_empty_output_folder_is_refused_not_the_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: list[str], output: str,
) -> None:  # fmt: skip
    """`-o "$OUT"` with OUT unset must not write into the working directory."""
    monkeypatch.chdir(tmp_path)
    assert main([*command, "-o", output]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--output: " in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["a: \x1b[31m\n", "a: \x00\n", "\ufffea: 1\n", "k: \x7f\n"])
def test_yaml_with_a_character_yaml_forbids_is_one_error(text: str) -> None:
    """PyYAML checks the characters when the loader is made, before any parsing."""
    with pytest.raises(KorefwError, match=r"^f\.yml: not valid YAML: ") as info:
        load_yaml(text, where="f.yml")
    assert "\n" not in str(info.value)


def test_a_stack_file_with_an_escape_character_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (project / "__main__.py").write_text("")
    (project / "Pulumi.dev.yaml").write_text("config:\n  p:x: \x1b[31m\n")
    assert main(["plan", "--cwd", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pulumi.dev.yaml: not valid YAML" in err, err


@pytest.mark.parametrize(("option", "value"), [
    ("--filter-name", "korefw-ü"), ("--iptables-chain", "KOREFW٣"), ("--to-zone", "ｕｎｔｒｕｓｔ"),
    ("--iptables-chain", "K" * 29),
])  # fmt: skip
def test_platform_names_are_ascii_and_fit_the_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    """str.isalnum takes any script's letters and digits, which the platforms refuse; an
    iptables chain name is at most 28 characters (XT_EXTENSION_MAXNAMELEN)."""
    assert main(["render", "jp", "--platform", "iptables", "-o", str(tmp_path / "o"),
                 option, value]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{option}: " in err, err
    assert not (tmp_path / "o").exists()
