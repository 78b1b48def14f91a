"""Read rendered platform output back into an allow set: GCE firewall JSON, Kubernetes YAML.

This is the proof side of ``korefw render``: the files are read by the platform's own
rules, not by korefw's, and compared with the vendor's flows by ``korefw verify``.

- **GCE** (a JSON list of firewall rules, as ``gcloud``/aerleon write them): egress rules
  of one network are evaluated by priority (lower number first; at equal priority a deny
  wins), and GCE's implied "allow all egress" rule (priority 65535) applies below them
  all. So a set without a deny of everything lets all egress out, and is reported open.
- **Kubernetes** (``NetworkPolicy`` and ``NetworkPolicyList`` documents, and Cilium's
  ``CiliumNetworkPolicy``): policies are additive. A pod that no Egress policy selects
  may send anything; a pod that one selects may send only what the union of their egress
  rules allows. An ``ipBlock`` is its ``cidr`` minus its ``except`` blocks; a port entry
  without ``protocol`` is TCP; ``endPort`` ends a range; an egress rule without ``to`` or
  without ``ports`` allows every destination or port (reported as wider than the rules).
  Cilium ``toFQDNs`` selectors are read as the FQDN rules they enforce.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KorefwError
from ..inputfile import load_yaml, read_input_text
from ..rules.allowset import AllowSet, Box, describe
from ..rules.model import Rule, RuleSet
from .verify import CloudVerdict, Verification

ALL_PORTS = (0, 65535)
_FULL = {4: (0, 2**32 - 1), 6: (0, 2**128 - 1)}
EVERYTHING = AllowSet(Box(p, v, ALL_PORTS, _FULL[v]) for p in ("tcp", "udp") for v in (4, 6))


@dataclass
class RenderedReading:
    """What a folder or file of rendered output allows, per platform."""

    #: platform ("gce" or "k8s") -> the effective allow set of TCP and UDP flows.
    allow: dict[str, AllowSet] = field(default_factory=dict)
    #: platform -> what lets more than TCP/UDP to listed addresses and ports out.
    wider: dict[str, list[str]] = field(default_factory=dict)
    #: (fqdn selector, protocol, port lo, port hi) enforced by Cilium ``toFQDNs``.
    fqdns: set[tuple[str, str, int, int]] = field(default_factory=set)
    #: Files read, for the report.
    files: dict[str, list[str]] = field(default_factory=dict)
    #: What cannot be decided (named ports, pod selectors, ...).
    problems: list[str] = field(default_factory=list)


def _net(text: object, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        raise KorefwError("malformed CIDR", where=where, value=str(text)) from None


def _span(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def _ports(text: object, where: str) -> tuple[int, int]:
    lo, _, hi = str(text).partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise KorefwError("malformed port", where=where, value=str(text)) from None
    if not 0 <= a <= b <= 65535:
        raise KorefwError("port outside 0-65535 or reversed", where=where, value=str(text))
    return a, b


# --------------------------------------------------------------------------- GCE


def gce_allow_set(rules: list[Mapping[str, Any]], where: str) -> tuple[AllowSet, list[str]]:
    """The effective egress allow set of GCE firewall rules, and what is wider than TCP/UDP."""
    wider: list[str] = []
    allowed, denied = AllowSet(), AllowSet()
    for i, r in enumerate(rules):
        if not isinstance(r, Mapping):
            raise KorefwError("expected a firewall rule object", where=f"{where}: [{i}]",
                              value=type(r).__name__)  # fmt: skip
        # GCE's API takes INGRESS (the default) or EGRESS, nothing else.
        if r.get("direction", "INGRESS") not in ("INGRESS", "EGRESS"):
            raise KorefwError("direction must be INGRESS or EGRESS",
                              where=f"{where}: {r.get('name', f'[{i}]')}: direction",
                              value=r.get("direction"))  # fmt: skip
        priority = r.get("priority", 1000)
        if isinstance(priority, bool) or not isinstance(priority, int) or not (
            0 <= priority <= 65535
        ):
            raise KorefwError("priority must be an integer 0-65535",
                              where=f"{where}: {r.get('name', f'[{i}]')}: priority",
                              value=priority)  # fmt: skip
    egress = [r for r in rules if r.get("direction", "INGRESS") == "EGRESS"
              and not r.get("disabled", False)]  # fmt: skip
    networks = {str(r.get("network", "")) for r in egress}
    if len(networks) > 1:
        raise KorefwError("rules of several VPC networks; verify one network's file at a time",
                          where=where, value=", ".join(sorted(networks)))  # fmt: skip
    # Lower priority number first; at one priority, denies before allows.
    egress.sort(key=lambda r: (int(r.get("priority", 1000)), "allowed" in r))
    for r in egress:
        name = f"{where}: {r.get('name', '?')}"
        if r.get("targetTags") or r.get("targetServiceAccounts"):
            raise KorefwError("rule applies to some instances only (target tags or "
                              "service accounts); cannot decide the network's egress",
                              where=name)  # fmt: skip
        ranges = r.get("destinationRanges") or ["0.0.0.0/0"]
        nets = [_net(c, name) for c in ranges]
        entries = r.get("allowed", r.get("denied", []))
        boxes = []
        for e in entries:
            proto = str(e.get("IPProtocol", "")).lower()
            if proto not in ("tcp", "udp"):
                if "allowed" in r:
                    wider.append(f"{name}: protocol {proto!r}")
                    continue
                protos = ["tcp", "udp"]  # a deny of "all" (or another protocol) covers TCP/UDP
            else:
                protos = [proto]
            spans = [_ports(p, name) for p in e.get("ports", [])] or [ALL_PORTS]
            if proto not in ("tcp", "udp") and "denied" in r and proto != "all":
                continue  # denying ICMP, say, leaves TCP and UDP alone
            boxes += [Box(p, n.version, s, _span(n)) for p in protos for s in spans for n in nets]
        chunk = AllowSet(boxes)
        if "allowed" in r:
            allowed = allowed | (chunk - denied)
        else:
            denied = denied | (chunk - allowed)
    # GCE's implied egress rule (priority 65535) allows whatever nothing above decided.
    implied = EVERYTHING - denied - allowed
    if implied:
        wider.append(f"{where}: GCE's implied allow-egress rule (65535) lets every flow no "
                     "rule denies out; the closing deny rule is missing")  # fmt: skip
    return allowed | implied, wider


# --------------------------------------------------------------------------- Kubernetes


def _documents(text: str, where: str) -> list[Mapping[str, Any]]:
    docs = [d for d in load_yaml(text, where=where, every=True) if d]
    out: list[Mapping[str, Any]] = []
    for d in docs:
        if not isinstance(d, Mapping) or not isinstance(d.get("kind"), str):
            raise KorefwError("expected Kubernetes objects (each with a kind)", where=where)
        out += list(d.get("items") or []) if str(d.get("kind", "")).endswith("List") else [d]
    return out


def k8s_allow_set(docs: Iterable[Mapping[str, Any]], where: str,
                  reading: RenderedReading) -> AllowSet | None:  # fmt: skip
    """The union of NetworkPolicy egress allows (None when no policy restricts egress)."""
    total: list[Box] = []
    restricted = False
    for d in docs:
        kind = d.get("kind")
        meta = d.get("metadata") or {}
        name = f"{where}: {kind} {meta.get('name', '?')}"
        spec = d.get("spec") or {}
        if kind == "NetworkPolicy":
            if spec.get("podSelector") not in ({}, None):
                reading.problems.append(f"{name}: selects some pods only; korefw reads "
                                        "policies that select every pod")  # fmt: skip
                continue
            types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec
                                                else ["Ingress"])  # fmt: skip
            if "Egress" not in types:
                continue
            restricted = True
            for i, rule in enumerate(spec.get("egress") or []):
                total += _k8s_rule(rule, f"{name} egress[{i}]", reading)
        elif kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
            specs = [spec, *(d.get("specs") or [])] if d.get("specs") else [spec]
            for sp in specs:
                if not isinstance(sp, Mapping):
                    continue
                if sp.get("egressDeny"):
                    reading.problems.append(f"{name}: egressDeny; korefw reads Cilium toFQDNs "
                                            "rules only")  # fmt: skip
                for i, rule in enumerate(sp.get("egress") or []):
                    _cilium_rule(rule, f"{name} egress[{i}]", reading)
        elif isinstance(kind, str) and kind.endswith("Policy"):
            reading.problems.append(f"{name}: a {kind} may allow or deny egress; korefw reads "
                                    "NetworkPolicy and Cilium toFQDNs rules only")  # fmt: skip
    return AllowSet(total) if restricted else None


def _k8s_rule(rule: Mapping[str, Any], name: str, reading: RenderedReading) -> list[Box]:
    peers = rule.get("to")
    nets: list[tuple[int, tuple[int, int], list[tuple[int, int]]]] = []
    if not peers:
        reading.wider.setdefault("k8s", []).append(f"{name}: no 'to', every destination")
        nets = [(v, _FULL[v], []) for v in (4, 6)]
    for peer in peers or []:
        block = peer.get("ipBlock")
        if not block or set(peer) != {"ipBlock"}:
            reading.problems.append(f"{name}: a pod or namespace selector peer; korefw reads "
                                    "ipBlock peers only")  # fmt: skip
            continue
        net = _net(block.get("cidr"), name)
        excepts = [_net(e, name) for e in block.get("except") or []]
        nets.append((net.version, _span(net), [_span(e) for e in excepts
                                               if e.version == net.version]))  # fmt: skip
    ports = rule.get("ports")
    spans: list[tuple[str, tuple[int, int]]] = []
    if not ports:
        reading.wider.setdefault("k8s", []).append(f"{name}: no 'ports', every port and "
                                                   "protocol")  # fmt: skip
        spans = [(p, ALL_PORTS) for p in ("tcp", "udp")]
    for p in ports or []:
        proto = str(p.get("protocol", "TCP")).lower()
        if proto not in ("tcp", "udp"):
            reading.wider.setdefault("k8s", []).append(f"{name}: protocol {proto!r}")
            continue
        port = p.get("port")
        if port is None:
            spans.append((proto, ALL_PORTS))
            continue
        if not isinstance(port, int):
            reading.problems.append(f"{name}: named port {port!r}; its number is the pod's")
            continue
        spans.append((proto, _ports(f"{port}-{p.get('endPort', port)}", name)))
    out: list[Box] = []
    for version, span, excepts in nets:
        allowed = AllowSet(Box(proto, version, s, span) for proto, s in spans)
        cut = AllowSet(Box(proto, version, s, e) for proto, s in spans for e in excepts)
        out += list((allowed - cut).boxes())
    return out


def _dns_visibility(rule: Mapping[str, Any]) -> bool:
    """A rule that sends only port 53 to selected endpoints through the DNS proxy."""
    to_ports = rule.get("toPorts") or []
    return bool(to_ports) and all(
        isinstance(tp, Mapping) and (tp.get("rules") or {}).get("dns")
        and all(str(p.get("port")) == "53" for p in tp.get("ports") or [{}])
        for tp in to_ports
    )  # fmt: skip


def _cilium_rule(rule: Mapping[str, Any], name: str, reading: RenderedReading) -> None:
    other = sorted(set(rule) - {"toFQDNs", "toPorts"})
    if other == ["toEndpoints"] and _dns_visibility(rule):
        other = []  # DNS to selected pods (kube-dns) through Cilium's DNS proxy: no IP flow
    if other:  # toEntities: [world], toCIDR, toEndpoints, ... allow IP flows
        reading.problems.append(f"{name}: {other[0]}; korefw reads Cilium toFQDNs rules only, "
                                "so what this rule allows is not checked")  # fmt: skip
    selectors = [s.get("matchName") or s.get("matchPattern") for s in rule.get("toFQDNs") or []]
    for to_ports in rule.get("toPorts") or []:
        for p in to_ports.get("ports") or []:
            proto = str(p.get("protocol", "ANY")).lower()
            lo, hi = _ports(f"{p.get('port')}-{p.get('endPort') or p.get('port')}", name)
            for sel in selectors:
                for pr in (("tcp", "udp") if proto == "any" else (proto,)):
                    reading.fqdns.add((str(sel), pr, lo, hi))


# --------------------------------------------------------------------------- files


def is_rendered(path: str) -> bool:
    """True when ``path`` is rendered platform output rather than a Pulumi document."""
    p = Path(path)
    if p.is_dir() or p.suffix.lower() in (".yml", ".yaml", ".gce"):
        return True
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    try:
        data = json.loads(read_input_text(p))
    except (KorefwError, ValueError, RecursionError):  # the document reader says why
        return False
    return isinstance(data, list) and all(isinstance(r, dict) and "direction" in r for r in data)


def read_rendered(path: str) -> RenderedReading:
    """Read a rendered file, or every ``*.gce``/``*.json``/``*.yml``/``*.yaml`` of a folder."""
    p = Path(path)
    kinds = (".gce", ".json", ".yml", ".yaml")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in kinds) if p.is_dir() else [p]
    reading = RenderedReading()
    k8s_docs: list[tuple[str, Mapping[str, Any]]] = []
    for f in files:
        text = read_input_text(f)
        if f.suffix.lower() in (".gce", ".json"):
            try:
                data = json.loads(text)
            except RecursionError:
                raise KorefwError("JSON nested too deeply to read", where=str(f)) from None
            except ValueError as exc:
                raise KorefwError(f"not JSON: {exc}", where=str(f)) from None
            if not isinstance(data, list):
                raise KorefwError("expected a JSON list of GCE firewall rules", where=str(f))
            allow, wider = gce_allow_set(data, str(f))
            reading.allow["gce"] = reading.allow.get("gce", AllowSet()) | allow
            reading.wider.setdefault("gce", []).extend(wider)
            reading.files.setdefault("gce", []).append(str(f))
        else:
            k8s_docs += [(str(f), d) for d in _documents(text, str(f))]
            reading.files.setdefault("k8s", []).append(str(f))
    if k8s_docs:
        namespaces = {str((d.get("metadata") or {}).get("namespace") or "(none)")
                      for _, d in k8s_docs if d.get("kind") == "NetworkPolicy"}  # fmt: skip
        if len(namespaces) > 1:
            reading.problems.append(
                f"NetworkPolicies of several namespaces ({', '.join(sorted(namespaces))}); "
                "each namespace's pods get only their own namespace's policies, so verify "
                "one namespace at a time"
            )
        total: AllowSet | None = None
        for where, d in k8s_docs:
            part = k8s_allow_set([d], where, reading)
            if part is not None:
                total = part if total is None else total | part
        if total is None:
            reading.wider.setdefault("k8s", []).append(
                "no NetworkPolicy with policyTypes Egress selects the pods: all egress is allowed")
            total = EVERYTHING
        reading.allow["k8s"] = total
    if not reading.allow:
        raise KorefwError("no GCE firewall rules or Kubernetes manifests found", where=path)
    return reading


def fqdn_enforced(rule: Rule, fqdns: set[tuple[str, str, int, int]]) -> bool:
    """True when Cilium ``toFQDNs`` selectors cover every (fqdn, protocol, port) of ``rule``."""
    return all(
        any(sel == f and pr == proto and lo <= p.lo and p.hi <= hi for sel, pr, lo, hi in fqdns)
        for f in rule.fqdns for proto in rule.protocols for p in rule.ports
    )


def dns_allow_set(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> AllowSet:
    """UDP and TCP 53 to the cluster's resolver: what ``--allow-dns`` adds."""
    return AllowSet(Box(p, n.version, (53, 53), _span(n)) for p in ("udp", "tcp") for n in networks)


class RenderedVerification(Verification):
    """A :class:`~korefw.core.check.verify.Verification` of rendered files (same exit codes)."""

    def render(self) -> str:
        """One finding a line; ``rejected`` holds what is wider than the rules."""
        lines: list[str] = []
        for c in self.clouds:
            flows = f"{c.flow_count} IP flow{'' if c.flow_count == 1 else 's'}"
            lines.append(f"{'OK' if c.ok else 'FAIL'}: {c.cloud}: {', '.join(c.groups)}: "
                         + (f"exactly the vendor's {flows}" if c.ok
                            else f"differs from the vendor's {flows}"))  # fmt: skip
            lines += [f"  missing {line}" for line in describe(c.missing)]
            lines += [f"  extra   {line}" for line in describe(c.extra)]
            lines += [f"  wider than the rules: {w}" for w in c.rejected]
        if self.problems:
            lines.append("UNDECIDED: some policies cannot be read")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def verify_rendered(path: str, rules: RuleSet, *,
                    allow_dns: Iterable[Any] = ()) -> RenderedVerification:  # fmt: skip
    """Compare what rendered GCE or Kubernetes output allows with ``rules``' IP flows.

    ``allow_dns`` are the resolver networks the output was rendered with (``--allow-dns``).
    """
    reading = read_rendered(path)
    expected = rules.allow_set() | dns_allow_set(allow_dns)
    verdicts = []
    for platform, actual in reading.allow.items():
        v = CloudVerdict(platform, reading.files.get(platform, [path]), expected - actual,
                         actual - expected)  # fmt: skip
        v.rejected = list(reading.wider.get(platform, []))
        v.flow_count = sum(len(b.cidrs()) for b in expected.boxes())
        verdicts.append(v)
    notes = []
    for r in rules.fqdn_rules():
        state = "enforced by CiliumNetworkPolicy toFQDNs" if fqdn_enforced(r, reading.fqdns) \
            else "NOT enforced (FQDN destination)"
        notes.append(f"{r.origin}: {', '.join(r.fqdns)} {'/'.join(r.protocols)} "
                     f"{','.join(map(str, r.ports))}: {state}")  # fmt: skip
    return RenderedVerification(verdicts, list(reading.problems), notes)
