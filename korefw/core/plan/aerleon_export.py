"""korefw rules as an aerleon policy and its definitions (pure: plain dicts, no aerleon import).

One aerleon term per korefw IP rule, named ``kf-<rule id>`` (the stable content hash of
:attr:`~korefw.core.rules.model.Rule.key`), with the vendor's section and component as its
comment (through :func:`comment_text`, so page text stays inside the comment on every
platform), its own network (``KF_<ID>``) and service (``KF_<ID>_SVC``) definitions, and a
closing ``kf-deny-other`` term that denies everything else. FQDN rules have no aerleon
term (no generated platform here filters by name): they are listed in the policy header
comment and returned by :func:`unenforced_fqdn_rules`, never dropped silently.

:class:`RenderOptions` turns the per-platform options (filter or chain name, address
family, default action, ...) into aerleon header target strings. :func:`generate` runs
aerleon's own ``aerleon.api.Generate`` in-process; aerleon is imported only there.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import KorefwError
from ..rules.addresses import IPNetwork
from ..rules.model import Rule, RuleSet

#: The platforms ``korefw render`` generates, in aerleon's target names.
PLATFORMS = ("nftables", "iptables", "speedway", "juniper", "cisco", "paloalto", "gce", "k8s")
FAMILIES = ("inet", "inet6", "mixed")
DENY_TERM = "kf-deny-other"
DNS_TERM = "kf-allow-dns"
#: nftables takes at most 128 bytes of comment (``NFTNL_UDATA_COMMENT_MAXLEN``); every
#: comment from vendor text is held to it, on every platform.
MAX_COMMENT_BYTES = 128
_COMMENT_PUNCTUATION = frozenset(" -_.,:()/&+'@%=")
#: Sub-folders of an aerleon (or capirca) repository, as ``aclgen`` expects them.
POLICY_DIR = "policies/pol"
DEFS_DIR = "def"


def term_name(rule: Rule) -> str:
    """The aerleon term name of a rule: stable, lower case, valid on every platform."""
    return f"kf-{rule.id}"


def _symbol(rule: Rule) -> str:
    return f"KF_{rule.id.upper()}"


def comment_text(text: str, limit: int = MAX_COMMENT_BYTES, *, tail: bool = False) -> str:
    """Vendor text as a comment every rendered platform reads as one comment, and no more.

    Letters, digits and marks of any script stay, and ``-_.,:()/&+'@%=``; every other
    character (quotes, ``*``, ``;``, braces, ``#``, ``?``, backslashes, controls, bidi
    controls, line separators) becomes a space, and runs of spaces collapse. So no
    platform's comment or string can be closed from inside (Junos ``*/``, nftables and
    iptables ``"``, Cisco's ``?`` help key). Text over ``limit`` UTF-8 bytes is cut between
    characters and marked ``...``, keeping its end when ``tail``.
    """
    kept = "".join(ch if _comment_char(ch) else " " for ch in text)
    clean = " ".join(kept.split())
    if len(clean.encode()) <= limit:
        return clean
    room, out = limit - 3, []
    for ch in reversed(clean) if tail else clean:
        room -= len(ch.encode())
        if room < 0:
            break
        out.append(ch)
    cut = "".join(reversed(out) if tail else out).strip()
    return f"...{cut}" if tail else f"{cut}..."


def _comment_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _COMMENT_PUNCTUATION
    return unicodedata.category(ch)[0] in "LMN"


def one_line(text: str) -> str:
    """Text on one line of printable characters (a YAML comment, a terminal message)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def term_comment(rule: Rule) -> str:
    """The comment of a rule's term and addresses on every platform: its section and
    component, and where it was read, through :func:`comment_text`."""
    where = comment_text(str(rule.origin), MAX_COMMENT_BYTES // 2, tail=True)
    where = f" ({where})" if rule.origin.line and where else ""
    return comment_text(rule.describe(), MAX_COMMENT_BYTES - len(where.encode())) + where


#: The longest iptables chain name (XT_EXTENSION_MAXNAMELEN 29, with its NUL).
MAX_IPTABLES_CHAIN = 28


@dataclass(frozen=True)
class RenderOptions:
    """Per-platform header options; each becomes part of aerleon's ``targets`` header."""

    #: Filter name (Junos, Cisco), iptables chain, and the base name of output files.
    filter_name: str = "korefw-egress"
    #: Address family: ``inet`` (IPv4), ``inet6`` or ``mixed`` (iptables: inet or inet6).
    family: str = "mixed"
    #: What a packet no term matches gets, where the platform takes a default (iptables,
    #: nftables). The closing deny term denies it anyway.
    default_action: str = "drop"
    iptables_chain: str = "OUTPUT"
    nftables_hook: str = "output"
    nftables_priority: int = 0
    gce_network: str = "default"
    from_zone: str = "trust"
    to_zone: str = "untrust"
    #: CIDRs of the cluster's DNS resolver: adds a term allowing UDP and TCP 53 to them.
    allow_dns: tuple[IPNetwork, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise KorefwError(f"expected one of {', '.join(FAMILIES)}", where="--family",
                              value=self.family)  # fmt: skip
        if self.default_action not in ("drop", "accept"):
            raise KorefwError("expected drop or accept", where="--default-action",
                              value=self.default_action)  # fmt: skip
        if self.nftables_hook not in ("input", "output", "forward"):
            raise KorefwError("expected input, output or forward", where="--nftables-hook",
                              value=self.nftables_hook)  # fmt: skip
        for opt, value in (("--filter-name", self.filter_name),
                           ("--iptables-chain", self.iptables_chain),
                           ("--gce-network", self.gce_network), ("--from-zone", self.from_zone),
                           ("--to-zone", self.to_zone)):  # fmt: skip
            # ASCII only: str.isalnum also takes other scripts' letters and digits.
            if not value or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value):
                raise KorefwError("expected letters, digits, '-', '_' or '.'", where=opt,
                                  value=value)  # fmt: skip
        if len(self.iptables_chain) > MAX_IPTABLES_CHAIN:
            raise KorefwError(f"an iptables chain name is at most {MAX_IPTABLES_CHAIN} "
                              "characters", where="--iptables-chain",
                              value=self.iptables_chain)  # fmt: skip
        for net in self.allow_dns:
            if net.prefixlen < (24 if net.version == 4 else 64):
                raise KorefwError("a DNS resolver is a host or a small block, not wider "
                                  "than /24 (IPv6 /64)", where="--allow-dns",
                                  value=str(net))  # fmt: skip

    def target(self, platform: str, versions: frozenset[int] = frozenset({4})) -> str:
        """The aerleon header target options of one platform (``versions``: the rules' IP
        versions, which pick iptables' family when ``family`` is ``mixed``)."""
        action = self.default_action.upper()
        family = self.family
        if family == "mixed" and len(versions) == 1 and platform != "gce":
            # One family present: aerleon's mixed output would repeat each IPv4 line. GCE
            # keeps mixed: its closing deny must cover IPv6 too, or GCE's implied
            # allow-egress rule lets IPv6 out.
            family = "inet6" if versions == {6} else "inet"
        if platform == "nftables":
            prio = str(self.nftables_priority)
            return " ".join([family, self.nftables_hook, prio]
                            + (["ACCEPT"] if action == "ACCEPT" else []))  # fmt: skip
        if platform in ("iptables", "speedway"):
            if family == "mixed":
                if len(versions) > 1:
                    raise KorefwError("iptables renders one family (iptables or ip6tables): "
                                      "render twice, with --family inet and --family inet6",
                                      where="--family", value=family)  # fmt: skip
                family = "inet6" if versions == {6} else "inet"
            return f"{self.iptables_chain} {action} {family}"
        if platform == "juniper":
            return f"{self.filter_name} {family}"
        if platform == "cisco":
            return f"{self.filter_name} {'extended' if family == 'inet' else family}"
        if platform == "paloalto":
            return f"from-zone {self.from_zone} to-zone {self.to_zone} {family}"
        if platform == "gce":
            return f"{self.gce_network} EGRESS {family}"
        if platform == "k8s":
            return "EGRESS"
        raise KorefwError(f"unknown platform; known: {', '.join(PLATFORMS)}", where="--platform",
                          value=platform)  # fmt: skip


def ip_rules(rules: RuleSet) -> list[Rule]:
    """The rules that become aerleon terms: those with address destinations."""
    return rules.ip_rules()


def unenforced_fqdn_rules(rules: RuleSet) -> list[Rule]:
    """FQDN rules: no platform korefw renders through aerleon filters by name."""
    return rules.fqdn_rules()


def omitted_by_family(rules: RuleSet, options: RenderOptions) -> list[tuple[Rule, list[IPNetwork]]]:
    """Rules with addresses ``options.family`` leaves out (IPv6 under inet, ...), and those."""
    keep = {"inet": {4}, "inet6": {6}, "mixed": {4, 6}}[options.family]
    out = []
    for r in ip_rules(rules):
        left = [c for c in r.cidrs if c.version not in keep]
        if left:
            out.append((r, left))
    return out


def definitions(rules: RuleSet, options: RenderOptions | None = None) -> dict[str, Any]:
    """aerleon network and service definitions (the ``def/*.yaml`` format) for ``rules``."""
    options = options or RenderOptions()
    networks: dict[str, Any] = {}
    services: dict[str, Any] = {}
    for r in ip_rules(rules):
        networks[_symbol(r)] = {
            "values": [{"address": str(c), "comment": term_comment(r)} for c in r.cidrs]
        }
        services[f"{_symbol(r)}_SVC"] = [
            {"port": str(p), "protocol": str(proto)} for proto in r.protocols for p in r.ports
        ]
    if options.allow_dns:
        networks["KF_DNS"] = {"values": [{"address": str(n), "comment": "cluster DNS resolver"}
                                         for n in options.allow_dns]}  # fmt: skip
        services["KF_DNS_SVC"] = [{"port": "53", "protocol": p} for p in ("udp", "tcp")]
    return {"networks": networks, "services": services}


def policy(
    rules: RuleSet,
    platforms: Sequence[str] = PLATFORMS,
    options: RenderOptions | None = None,
    *,
    filename: str | None = None,
) -> dict[str, Any]:
    """An aerleon policy (the YAML policy format as a dict) for ``rules`` and ``platforms``."""
    options = options or RenderOptions()
    if not ip_rules(rules):
        raise KorefwError("no rule has an address destination; nothing to render",
                          where=rules.region or rules.source)  # fmt: skip
    for p in platforms:
        if p not in PLATFORMS:
            raise KorefwError(f"unknown platform; known: {', '.join(PLATFORMS)}",
                              where="--platform", value=p)  # fmt: skip
    name = rules.region or "rules"
    versions = frozenset(c.version for r in ip_rules(rules) for c in r.cidrs)
    # One short line: nftables allows one comment per chain, of at most 128 bytes.
    fqdns = len(unenforced_fqdn_rules(rules))
    comment = f"korefw egress rules for {name}" + (f"; {fqdns} FQDN rules not enforced" if fqdns
                                                   else "")  # fmt: skip
    terms: list[dict[str, Any]] = []
    if options.allow_dns:
        terms.append({"name": DNS_TERM, "comment": "DNS to the cluster's resolver (--allow-dns)",
                      "destination-address": "KF_DNS", "destination-port": "KF_DNS_SVC",
                      "protocol": "udp tcp", "action": "accept"})  # fmt: skip
    for r in ip_rules(rules):
        terms.append({
            "name": term_name(r),
            "comment": term_comment(r),
            "destination-address": _symbol(r),
            "destination-port": f"{_symbol(r)}_SVC",
            "protocol": " ".join(r.protocols),
            "action": "accept",
        })  # fmt: skip
    terms.append({"name": DENY_TERM, "comment": "Deny every other egress flow.",
                  "action": "deny"})  # fmt: skip
    return {
        "filename": filename or f"korefw-{name}",
        "filters": [{
            "header": {
                "comment": comment,
                "targets": {p: options.target(p, versions) for p in platforms},
            },
            "terms": terms,
        }],
    }  # fmt: skip


def generate(
    rules: RuleSet, platforms: Sequence[str], options: RenderOptions | None = None
) -> dict[str, str]:
    """Run aerleon's ``Generate`` on the exported policy; output file name -> text."""
    try:
        from aerleon import api
        from aerleon.lib import naming
    except ImportError:
        raise KorefwError("aerleon is not installed; pip install 'korefw[aerleon]'",
                          where="render") from None  # fmt: skip
    options = options or RenderOptions()
    from absl import logging as absl_logging

    # aerleon logs a warning for every IPv4-only term of a mixed filter; keep errors only.
    absl_logging.set_verbosity(absl_logging.ERROR)
    defs = naming.Naming()
    defs.ParseDefinitionsObject(definitions(rules, options), "korefw")
    pol = policy(rules, platforms, options)
    try:
        out = api.Generate([pol], defs)
    except Exception as exc:  # aerleon raises many unrelated error classes
        raise KorefwError(f"aerleon cannot generate: {exc}".replace("\n", " "),
                          where="render") from None  # fmt: skip
    return dict(out or {})


def parse_dns(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    """``--allow-dns`` values as networks (one clear error for a bad one)."""
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v.strip(), strict=True))
        except ValueError:
            raise KorefwError("expected a resolver address or CIDR", where="--allow-dns",
                              value=v) from None  # fmt: skip
    return tuple(out)


def export_files(rules: RuleSet, options: RenderOptions | None = None,
                 platforms: Sequence[str] = PLATFORMS) -> Mapping[str, str]:  # fmt: skip
    """Relative path -> YAML text of an aerleon repository holding ``rules``' policy."""
    import yaml

    pol = policy(rules, platforms, options)
    name = pol.pop("filename")
    # Each header line is one YAML comment: the source, date and origins are one_line'd.
    head = [f"# korefw egress rules for {rules.region or 'rules'}, "
            f"from {one_line(rules.source) or 'memory'}"
            + (f", retrieved {one_line(rules.retrieved)}" if rules.retrieved else ""),
            "# Generated by `korefw export`; regenerate rather than edit."]  # fmt: skip
    head += [f"# Not enforced (FQDN destination): {one_line(str(r.origin))}: "
             f"{', '.join(r.fqdns)} {'/'.join(r.protocols)} {','.join(map(str, r.ports))}"
             for r in unenforced_fqdn_rules(rules)]  # fmt: skip

    def dump(d: Mapping[str, Any]) -> str:
        body = yaml.safe_dump(dict(d), sort_keys=False, allow_unicode=True, width=100)
        return "\n".join(head) + "\n" + body

    return {
        f"{POLICY_DIR}/{name}.yaml": dump(pol),
        f"{DEFS_DIR}/{name}.yaml": dump(definitions(rules, options)),
    }
