"""``korefw render`` against hostile page text: a section heading or component cell is the
vendor's text, and it may only ever land inside a comment of the rendered file.

Each platform's file is read back the way the platform reads it: nftables and iptables by
the real programs (``nft``, ``iptables-restore``; loaded into a network namespace of their
own and listed back when one can be made), Junos by a small parser of its comment and
string syntax below, Cisco, Palo Alto, GCE and Kubernetes by their line, XML, JSON and YAML
structure. The property: rendering rules with any page text gives the same file, comments
aside, as rendering the same rules with a plain comment.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.cli import main
from korefw.core.plan import aerleon_export as ae
from korefw.core.read.regions import load_rules
from korefw.core.rules.model import Origin, Protocol, Rule, RuleSet
from korefw.core.rules.ports import PortRange

pytest.importorskip("aerleon")

#: The text platforms checked here, and the file suffix aerleon gives each.
SUFFIX = {"nftables": ".nft", "iptables": "", "speedway": ".ipt", "juniper": ".jcl",
          "cisco": ".acl", "paloalto": ".xml", "gce": ".gce", "k8s": ".yml"}  # fmt: skip
TIMEOUT = 30  # seconds; a tool that takes longer is a hang

JUNOS_EXPLOIT = "*/ term evil { then accept; } /*"
NFT_EXPLOIT = 'x"; ip daddr 0.0.0.0/0 accept; #'

HOSTILE_PAGE = f"""# Hostile (HX) Firewall Rules

## {JUNOS_EXPLOIT}

| Component | Protocol | Source IP | Source Port | Destination IP | Destination Port |
|---|---|---|---|---|---|
| {NFT_EXPLOIT} | TCP | ANY | ANY | 198.51.100.7 | 443 |
| Media "edge" \\ */ | UDP | ANY | ANY | 198.51.100.8 | 3478 |
"""


# --------------------------------------------------------------------------- the real tools


def _which(program: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(program, path=path)


@functools.cache
def _namespace() -> tuple[str, ...] | None:
    """A command prefix running a program in a network namespace of its own, or None.

    ``unshare -rn`` needs no privileges where user namespaces are allowed; a plain root CI
    may allow only ``unshare -n``. Without either, the tools run only in their check modes
    (``nft -c``, ``iptables-restore --test``), which change nothing on the host.
    """
    unshare = _which("unshare")
    if unshare is None:
        return None
    for flags in (("-rn",), ("-n",)):
        probe = subprocess.run([unshare, *flags, "true"], capture_output=True, check=False,
                               timeout=TIMEOUT)  # fmt: skip
        if probe.returncode == 0:
            return (unshare, *flags)
    return None


#: A file each program takes, and its check-mode flags: the probe that it can run here.
_PROBE = {"nft": ("table ip korefw_probe {\n}\n", ("-c", "-f", "-")),
          "iptables-restore": ("*filter\nCOMMIT\n", ("--test",))}  # fmt: skip


@functools.cache
def _runner(program: str) -> tuple[str, ...] | None:
    """How to run ``program`` in its check mode here, or None when it cannot run (not
    installed, or no namespace and no permission: root without ``CAP_NET_ADMIN``)."""
    path = _which(program)
    if path is None:
        return None
    ns = _namespace()
    argv = (*ns, path) if ns is not None else (path,)
    text, flags = _PROBE[program]
    return argv if _run((*argv, *flags), text).returncode == 0 else None


def _run(argv: tuple[str, ...], text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), input=text, capture_output=True, text=True, check=False,
                          timeout=TIMEOUT)  # fmt: skip


def nft_check(text: str) -> str | None:
    """``nft -c -f -`` on ``text``: its error text, "" when nft takes it, None without nft."""
    argv = _runner("nft")
    if argv is None:
        return None
    proc = _run((*argv, "-c", "-f", "-"), text)
    return proc.stderr or "failed" if proc.returncode else ""


def ipt_check(text: str) -> str | None:
    """``iptables-restore --test`` on ``text``, as :func:`nft_check`."""
    argv = _runner("iptables-restore")
    if argv is None:
        return None
    proc = _run((*argv, "--test"), text)
    return proc.stderr or "failed" if proc.returncode else ""


def _strip(doc: Any, keys: frozenset[str]) -> Any:
    if isinstance(doc, dict):
        return {k: _strip(v, keys) for k, v in doc.items() if k not in keys}
    if isinstance(doc, list):
        return [_strip(v, keys) for v in doc]
    return doc


def nft_loaded(text: str) -> list[Any] | None:
    """The ruleset nft holds after loading ``text`` in a fresh namespace, as its own JSON
    (handles, comments and version left out); None when no namespace can be made."""
    ns, nft = _namespace(), _which("nft")
    if ns is None or nft is None or _runner("nft") is None:
        return None
    proc = _run((*ns, "sh", "-c", f'"{nft}" -f - && "{nft}" -j list ruleset'), text)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["nftables"]
    return [_strip(i, frozenset({"handle", "comment"})) for i in items if "metainfo" not in i]


def ipt_loaded(text: str) -> list[list[str]] | None:
    """The rules iptables holds after restoring ``text`` in a fresh namespace (from
    ``iptables-save``, comment-only rules and comments left out), or None."""
    ns, restore, save = _namespace(), _which("iptables-restore"), _which("iptables-save")
    if ns is None or restore is None or save is None or _runner("iptables-restore") is None:
        return None
    proc = _run((*ns, "sh", "-c", f'"{restore}" && "{save}"'), text)
    assert proc.returncode == 0, proc.stderr
    return ipt_structure(proc.stdout)


def as_restore_file(fragment: str) -> str:
    """The ``iptables`` platform's fragment (``-P``, ``-N`` and ``-A`` lines, as a user pastes
    them into a ``*filter`` section) as a whole ``iptables-restore`` file."""
    out = ["*filter"]
    for line in fragment.split("\n"):
        if line.startswith("-P "):
            out.append(":{} {} [0:0]".format(*line.split()[1:3]))
        elif line.startswith("-N "):
            out.append(f":{line.split()[1]} - [0:0]")
        elif line and not line.startswith("#"):
            out.append(line)
    return "\n".join([*out, "COMMIT", ""])


# --------------------------------------------------------------------------- readers


def ipt_argv(line: str) -> list[str]:
    """One iptables-restore line split as iptables splits it (``xshared.c``
    ``add_param_to_argv``): only double quotes group, a backslash escapes inside them."""
    out: list[str] = []
    word, quoted, escaped, have = [], False, False, False
    for ch in line:
        if quoted:
            if escaped:
                word.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            else:
                word.append(ch)
            continue
        if ch == '"':
            quoted = have = True
        elif ch in " \t\n":
            if have or word:
                out.append("".join(word))
            word, have = [], False
        else:
            word.append(ch)
    assert not quoted, f"unterminated quote: {line!r}"
    if have or word:
        out.append("".join(word))
    return out


def ipt_structure(text: str) -> list[list[str]]:
    """Every iptables line but comments: ``-m comment --comment X`` is cut out of each rule,
    and a rule left with nothing but its chain is dropped."""
    out = []
    for line in text.split("\n"):
        if not line.strip() or line.startswith("#"):
            continue
        argv = ipt_argv(line)
        while "--comment" in argv:
            i = argv.index("--comment")
            assert argv[i - 2 : i] == ["-m", "comment"], line
            del argv[i - 2 : i + 2]
        if argv[:1] == ["-A"] and len(argv) == 2:
            continue
        out.append(argv)
    return out


_NFT_TOKEN = re.compile(r'\s+|#[^\n]*|"[^"]*"|[{};]|[^\s{};"#]+')


def nft_structure(text: str) -> list[str]:
    """nftables tokens the way nft's scanner cuts them (a string is ``"[^"]*"``, ``#`` runs
    to the end of the line), strings shown as ``"…"`` and comments dropped."""
    out, pos = [], 0
    while pos < len(text):
        m = _NFT_TOKEN.match(text, pos)
        assert m, f"nft cannot scan {text[pos : pos + 20]!r}"
        tok, pos = m.group(), m.end()
        if tok.startswith('"'):
            assert len(tok) > 1 and tok.endswith('"'), "unterminated string"
            assert len(tok[1:-1].encode()) <= 128, f"nft comment over 128 bytes: {tok}"
            out.append('"…"')
        elif tok[0] in "\n;" or (not tok.isspace() and not tok.startswith("#")):
            out.append("\n" if tok[0] == "\n" or tok == ";" else tok)
    return out


def junos_tokens(text: str) -> list[tuple[str, str]]:
    """Junos configuration tokens: ``/* ... */`` comments (closed by the first ``*/``),
    ``"..."`` strings (a backslash escapes), ``#`` comments to the end of the line, the
    punctuation ``{ } ; [ ]`` and words. An unclosed comment or string fails."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            assert end >= 0, f"comment opened at {i} never closes"
            out.append(("comment", text[i + 2 : end]))
            i = end + 2
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            assert j < n, f"string opened at {i} never closes"
            out.append(("string", text[i + 1 : j]))
            i = j + 1
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch in "{};[]":
            out.append(("punct", ch))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{};[]"' and \
                    not text.startswith("/*", j):  # fmt: skip
                j += 1
            out.append(("word", text[i:j]))
            i = j
    return out


def junos_tree(text: str) -> list[Any]:
    """Junos statements as nested lists: ``[words..., [children]]`` for a block, ``[words...]``
    for a statement ending in ``;``; comments and strings kept as ``("comment", )`` markers."""
    toks = junos_tokens(text)
    pos = 0

    def block() -> list[Any]:
        nonlocal pos
        items: list[Any] = []
        words: list[Any] = []
        while pos < len(toks):
            kind, value = toks[pos]
            pos += 1
            if kind == "comment":
                items.append(("comment",))
            elif kind == "string":
                words.append(("string",))
            elif value == "{":
                items.append([*words, block()])
                words = []
            elif value == "}":
                assert not words, f"statement without ';': {words}"
                return items
            elif value == ";":
                items.append(words)
                words = []
            else:
                words.append(value)
        assert not words, f"statement without ';' at the end: {words}"
        return items

    tree = block()
    assert pos == len(toks), "a '}' closes more than was opened"
    return tree


def junos_accepts(tree: list[Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path (``term NAME`` included) of every ``accept`` action in a Junos tree."""
    out = []
    for item in tree:
        if not isinstance(item, list):
            continue
        words = [w for w in item if isinstance(w, str)]
        if item and isinstance(item[-1], list):
            out += junos_accepts(item[-1], (*path, " ".join(words)))
        elif "accept" in words:
            out.append((*path, " ".join(words)))
    return out


def _blank(doc: Any, keys: frozenset[str]) -> Any:
    if isinstance(doc, dict):
        return {k: "…" if k in keys else _blank(v, keys) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_blank(v, keys) for v in doc]
    return doc


def _xml(text: str) -> str:
    root = ET.fromstring(text.encode())
    for el in root.iter("description"):
        el.text = "…"
    return ET.canonicalize(ET.tostring(root, encoding="unicode"), strip_text=True)


def structure(platform: str, text: str) -> Any:
    """A rendered file with every comment's text left out, read by the platform's syntax."""
    if platform == "nftables":
        return nft_structure(text)
    if platform in ("iptables", "speedway"):
        return ipt_structure(text)
    if platform == "juniper":
        return junos_tree(text)
    if platform == "cisco":
        lines = [ln.rstrip() for ln in text.split("\n")]
        return [ln for ln in lines if ln and not ln.lstrip().startswith("remark ")]
    if platform == "paloalto":
        return _xml(text)
    if platform == "gce":
        return _blank(json.loads(text), frozenset({"description"}))
    return _blank(yaml.safe_load(text), frozenset({"comment"}))


# --------------------------------------------------------------------------- rules


def hostile_rules(texts: list[tuple[str, str, str]]) -> RuleSet:
    """One IPv4 rule per (section, component, origin file) text, on distinct addresses."""
    rules = []
    for i, (section, component, origin) in enumerate(texts):
        rules.append(Rule(section, component, (Protocol.TCP, Protocol.UDP)[: 1 + i % 2],
                          (PortRange(443 + i, 443 + i),),
                          (ipaddress.ip_network(f"198.51.100.{i}/32"),),
                          origin=Origin(origin, i + 1)))  # fmt: skip
    return RuleSet(tuple(rules), region="hx")


def render(rules: RuleSet, platforms: list[str] | None = None) -> dict[str, str]:
    """platform -> rendered text."""
    platforms = platforms or list(SUFFIX)
    files = ae.generate(rules, platforms)
    return {p: files[f"korefw-{rules.region}{SUFFIX[p]}"] for p in platforms}


def plain(rules: RuleSet, platforms: list[str] | None = None) -> dict[str, str]:
    """The same rules rendered with a plain comment instead of their page text."""
    with mock.patch.object(ae, "term_comment", lambda rule: "plain"):
        return render(rules, platforms)


def own_accepts(rules: RuleSet) -> set[tuple[str, ...]]:
    """Where korefw's own Junos accepts are: one per term of an IP rule."""
    base = ("firewall", "family inet", "replace: filter korefw-egress")
    return {(*base, f"term {ae.term_name(r)}", "then accept") for r in rules.ip_rules()}


# --------------------------------------------------------------------------- the exploits


def _render_page(tmp_path: Path, platform: str) -> tuple[str, RuleSet]:
    page = tmp_path / "hx.md"
    page.write_text(HOSTILE_PAGE)
    assert main(["render", str(page), "--platform", platform, "-o", str(tmp_path)]) == 0
    return (tmp_path / f"korefw-rules{SUFFIX[platform]}").read_text(), load_rules(page)


def test_a_heading_cannot_close_a_junos_comment(tmp_path: Path) -> None:
    text, rules = _render_page(tmp_path, "juniper")
    assert len(rules.ip_rules()) == 2
    assert set(junos_accepts(junos_tree(text))) == own_accepts(rules)


def test_a_component_cannot_close_an_nftables_comment(tmp_path: Path) -> None:
    text, _ = _render_page(tmp_path, "nftables")
    statements = " ".join(nft_structure(text)).split("\n")
    accepts = [s.strip() for s in statements if "accept" in s.split()]
    assert sorted(accepts) == [
        "ct state established,related accept",
        "ip daddr 198.51.100.7/32 tcp dport 443 ct state new accept",
        "ip daddr 198.51.100.8/32 udp dport 3478 ct state new accept",
    ]
    assert nft_check(text) in ("", None)
    loaded = nft_loaded(text)
    if loaded is not None:  # nft's own reading: every accept has a destination
        found = [i["rule"]["expr"] for i in loaded if "rule" in i]
        accepting = [e for e in found if {"accept": None} in e]
        assert len(accepting) == 3 and all(len(e) > 1 for e in accepting), accepting


# --------------------------------------------------------------------------- the property

_NASTY = ["*/", "/*", '"', "'", "\n", "\r", "\r\n", ";", "{", "}", "[", "]", "#", "\\", "\x00",
          "\t", "\x0b", "\x85", "\u2028", "\u202e", "\u2066", "\ufeff", "?", "!", "$", "`",
          "<!--", "]]>", "</description>", "&amp;", " then accept; ", "term x {", "accept",
          "ip daddr 0.0.0.0/0 accept", "-j ACCEPT", "\n-A OUTPUT -j ACCEPT\n",
          "\n permit ip any any\n", "COMMIT", "é", "日本語", "𝐀", "e\u0301", " "]  # fmt: skip
_TEXT = st.one_of(
    st.lists(st.one_of(st.sampled_from(_NASTY), st.text(max_size=6)), max_size=12).map("".join),
    st.sampled_from(["é" * 100, "𝐀" * 70, "日本語" * 30, "a" * 127 + "é", "x" * 400]),
)


@given(st.lists(st.tuples(_TEXT, _TEXT, _TEXT), min_size=1, max_size=3))
@settings(max_examples=25, deadline=timedelta(seconds=TIMEOUT))  # an example over 30 s hangs
def test_page_text_lands_only_in_comments_on_every_platform(
    texts: list[tuple[str, str, str]],
) -> None:
    rules = hostile_rules(texts)
    got, want = render(rules), plain(rules)
    for platform, text in got.items():
        assert structure(platform, text) == structure(platform, want[platform]), platform
    assert set(junos_accepts(junos_tree(got["juniper"]))) == own_accepts(rules)
    checks = (nft_check(got["nftables"]), ipt_check(got["speedway"]),
              ipt_check(as_restore_file(got["iptables"])))  # fmt: skip
    for check in checks:
        assert check in ("", None), check
    loaded = nft_loaded(got["nftables"])
    assert loaded is None or loaded == nft_loaded(want["nftables"])
    loaded_ipt = ipt_loaded(got["speedway"])
    assert loaded_ipt is None or loaded_ipt == ipt_loaded(want["speedway"])


@pytest.mark.parametrize("program", ["nft", "iptables-restore"])
def test_the_real_tools_run_here(program: str) -> None:
    """The property above checks with nft and iptables-restore where they run (CI installs
    them: scripts/test_tools.py); this test says so when they cannot."""
    if _runner(program) is None:
        pytest.skip(f"{program} cannot run here (not installed, or no namespace and not root)")
    good = render(hostile_rules([("S", "C", "f")]), ["nftables", "speedway"])
    check = nft_check if program == "nft" else ipt_check
    text = good["nftables" if program == "nft" else "speedway"]
    assert check(text) == ""
    assert check(text.replace("tcp", "tcpx")) != ""  # the check can fail


@given(st.text(max_size=300), st.integers(8, 200), st.booleans())
@settings(max_examples=200, deadline=None)
def test_comment_text_is_safe_and_within_its_bytes(text: str, limit: int, tail: bool) -> None:
    out = ae.comment_text(text, limit, tail=tail)
    assert len(out.encode("utf-8")) <= limit
    assert not set('*"\\;{}#?\n\r') & set(out) and out == out.strip()
    assert all(ch.isprintable() for ch in out)
    whole = ae.comment_text(text, 10**6)
    if out != whole:  # cut: what is left is the start (or end) of the whole, marked "..."
        assert len(whole.encode()) > limit
        if tail:
            assert out.startswith("...") and whole.endswith(out[3:])
        else:
            assert out.endswith("...") and whole.startswith(out[:-3])


def test_comment_text_cuts_between_characters() -> None:
    assert ae.comment_text("é" * 65) == "é" * 62 + "..."  # 130 bytes; 62 * 2 + 3 = 127
    assert ae.comment_text("a" * 127 + "é") == "a" * 125 + "..."
    assert ae.comment_text("a" * 126 + "é") == "a" * 126 + "é"  # exactly 128 bytes
    assert ae.comment_text("𝐀" * 40, 16) == "𝐀" * 3 + "..."
    assert ae.comment_text("dir/" * 40 + "p.md:7", 20, tail=True) == "...ir/dir/dir/p.md:7"
    assert ae.comment_text('Kore "Bots" */ x;y {z} #1 \\ a?b\x00\u202e\u2028é') == (
        "Kore Bots / x y z 1 a b é"
    )


def test_export_header_lines_stay_comments() -> None:
    """``korefw export`` writes the source, date and FQDN rows' origins as YAML comments: a
    line break in any of them (YAML also breaks at U+0085, U+2028) must not start a key."""
    fqdn = Rule("S", "C", (Protocol.TCP,), (PortRange(443, 443),), fqdns=("a.example.com",),
                origin=Origin("p.md\nfilters: []", 3))  # fmt: skip
    ip = hostile_rules([("S", "C", "p.md")]).rules[0]
    rules = RuleSet((ip, fqdn), region="hx", source="page\u2028filename: evil\x85x: 1",
                    retrieved="2026-01-01\rterms: []")  # fmt: skip
    files = ae.export_files(rules)
    pol = ae.policy(rules)
    pol.pop("filename")
    assert yaml.safe_load(files["policies/pol/korefw-hx.yaml"]) == pol
    assert yaml.safe_load(files["def/korefw-hx.yaml"]) == ae.definitions(rules)
    head = files["policies/pol/korefw-hx.yaml"].split("\n")[:3]
    assert all(ln.startswith("# ") for ln in head) and "page filename: evil x: 1" in head[0]


def test_render_reports_page_text_on_one_terminal_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "hx.md"
    page.write_text(
        HOSTILE_PAGE.replace(
            "| Media",
            "| \x1b[2J\u202eBots\x07 | TCP | ANY | ANY | bots.example.com | 443 |\n| Media",
        )
    )
    assert main(["render", str(page), "--platform", "k8s", "-o", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\u202e" not in err and "\x07" not in err
    assert "not enforced (FQDN destination): hx.md:8: " in err and "[2J Bots:" in err
