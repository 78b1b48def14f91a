"""The Kubernetes plan: Kore's egress rules as NetworkPolicy specs (pure, no pulumi).

One ``NetworkPolicy`` per IP rule, named ``<prefix>-<rule id>`` (the stable content hash
of the rule), selecting the pods of ``pod_selector`` (default: every pod of the
namespace) with ``policyTypes: [Egress]``: its egress rule allows the rule's ports
(``endPort`` for ranges, Kubernetes >= 1.25) to ``ipBlock`` peers. A rule's CIDRs are
written as one covering block with ``except`` holes when that takes fewer entries, so
the allow set is exact either way. A closing ``<prefix>-deny-other`` policy (Egress, no
egress rule) keeps the pods egress-isolated even when no IP rule is left.

Selecting pods for Egress also blocks DNS: ``allow_dns`` adds ``<prefix>-dns``, allowing
UDP and TCP 53 to the resolver's addresses. With ``cilium``, a ``CiliumNetworkPolicy``
``<prefix>-fqdn`` enforces the FQDN rules with ``toFQDNs`` (plus the DNS visibility rule
Cilium needs to learn the names' addresses: kube-dns on 53 with ``rules.dns``);
otherwise the FQDN rules are listed in :attr:`K8sPlan.unenforced_fqdn_rules`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..rules.addresses import IPNetwork
from ..rules.allowset import AllowSet, boxes
from ..rules.model import Rule, RuleSet

_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: Where kube-dns runs, as Cilium labels it (the DNS visibility rule's peer).
KUBE_DNS = {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}


def ip_block(cidrs: Sequence[IPNetwork]) -> list[dict[str, Any]]:
    """``ipBlock`` peers allowing exactly ``cidrs``: a block with ``except`` holes if shorter."""
    out: list[dict[str, Any]] = []
    for version in (4, 6):
        nets = [c for c in cidrs if c.version == version]
        if not nets:
            continue
        plain = [{"ipBlock": {"cidr": str(c)}} for c in nets]
        cover = nets[0]
        while not all(n.subnet_of(cover) for n in nets):  # type: ignore[arg-type]
            cover = cover.supernet()
        holes: list[IPNetwork] = [cover]
        for n in nets:
            holes = [h for x in holes for h in (x.address_exclude(n) if n.subnet_of(x)  # type: ignore[arg-type]
                                                  else [x]) if not h.subnet_of(n)]  # type: ignore[arg-type]  # fmt: skip
        holes = list(ipaddress.collapse_addresses(holes))  # type: ignore[arg-type]
        if 1 + len(holes) < len(plain) and cover.prefixlen >= (16 if version == 4 else 32):
            block: dict[str, Any] = {"cidr": str(cover)}
            if holes:
                block["except"] = [str(h) for h in holes]
            out.append({"ipBlock": block})
        else:
            out += plain
    return out


def k8s_ports(rule: Rule) -> list[dict[str, Any]]:
    """NetworkPolicy ``ports`` of a rule: one entry per protocol and range (``endPort``)."""
    return [
        {"protocol": str(proto).upper(), "port": p.lo, **({"endPort": p.hi} if p.hi > p.lo else {})}
        for proto in rule.protocols
        for p in rule.ports
    ]


@dataclass(frozen=True)
class PolicyPlan:
    """One NetworkPolicy: its name (stable) and spec."""

    name: str
    spec: dict[str, Any]
    description: str
    rule_id: str = ""


@dataclass
class K8sPlan:
    """What ``korefw.components.k8s.EgressNetworkPolicy`` creates, decided before any resource."""

    region: str
    namespace: str
    policies: list[PolicyPlan]
    #: The CiliumNetworkPolicy spec, when FQDN rules are enforced through Cilium.
    cilium: dict[str, Any] | None = None
    cilium_name: str = ""
    warnings: list[str] = field(default_factory=list)
    unenforced: list[Rule] = field(default_factory=list)
    dns: tuple[IPNetwork, ...] = ()

    @property
    def unenforced_fqdn_rules(self) -> list[dict[str, Any]]:
        """FQDN rules nothing here enforces."""
        return [{"section": r.section, "component": r.component, "fqdns": list(r.fqdns),
                 "protocols": [str(p) for p in r.protocols], "ports": [str(p) for p in r.ports],
                 "origin": str(r.origin)} for r in self.unenforced]  # fmt: skip

    def allow_set(self) -> AllowSet:
        """The IP flows the planned NetworkPolicies allow (``except`` holes cut out)."""
        total = AllowSet()
        for p in self.policies:
            for e in p.spec.get("egress", []):
                ports = [(x["protocol"].lower(), (x["port"], x.get("endPort", x["port"])))
                         for x in e["ports"]]  # fmt: skip
                for peer in e["to"]:
                    b = peer["ipBlock"]
                    net = ipaddress.ip_network(b["cidr"])
                    cut = [ipaddress.ip_network(x) for x in b.get("except", [])]
                    for proto, span in ports:
                        total = total | (AllowSet(boxes(proto, [span], [net]))
                                         - AllowSet(boxes(proto, [span], cut)))  # fmt: skip
        return total

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON values."""
        return {
            "region": self.region,
            "namespace": self.namespace,
            "policies": [
                {"name": p.name, "description": p.description, "spec": p.spec}
                for p in self.policies
            ],
            "cilium": None
            if self.cilium is None
            else {"name": self.cilium_name, "spec": self.cilium},
            "warnings": list(self.warnings),
            "unenforced_fqdn_rules": self.unenforced_fqdn_rules,
        }


def _check_labels(selector: Mapping[str, str] | None) -> dict[str, str]:
    if selector is None:
        return {}
    if not isinstance(selector, Mapping):
        raise ConfigError("expected a mapping of label keys to values", where="pod_selector",
                          value=selector)  # fmt: skip
    for k, v in selector.items():
        if not isinstance(k, str) or not _LABEL_KEY.match(k) or not isinstance(v, str) \
                or len(v) > 63:  # fmt: skip
            raise ConfigError("not a Kubernetes label key and value", where="pod_selector",
                              value=f"{k}={v}")  # fmt: skip
    return dict(selector)


def plan_k8s(
    rules: RuleSet,
    *,
    namespace: str = "default",
    name_prefix: str = "korefw",
    pod_selector: Mapping[str, str] | None = None,
    allow_dns: Sequence[str] = (),
    cilium: bool = False,
) -> K8sPlan:
    """Plan the NetworkPolicies (and optional CiliumNetworkPolicy) for ``rules``."""
    for opt, value in (("namespace", namespace), ("name_prefix", name_prefix)):
        if not isinstance(value, str) or not _NAME.match(value) or len(value) > 63:
            raise ConfigError("expected a DNS label (a-z, 0-9, '-', at most 63)", where=opt,
                              value=value)  # fmt: skip
    labels = _check_labels(pod_selector)
    selector = {"matchLabels": labels} if labels else {}
    dns: list[IPNetwork] = []
    for v in allow_dns:
        try:
            net = ipaddress.ip_network(str(v).strip(), strict=True)
        except ValueError:
            raise ConfigError("expected a resolver address or CIDR", where="allow_dns",
                              value=v) from None  # fmt: skip
        if net.prefixlen < (24 if net.version == 4 else 64):
            raise ConfigError("a DNS resolver is a host or a small block, not wider than /24",
                              where="allow_dns", value=v)  # fmt: skip
        dns.append(net)

    def policy(name: str, egress: list[dict[str, Any]], description: str, rid: str = "") -> None:
        spec: dict[str, Any] = {"podSelector": selector, "policyTypes": ["Egress"]}
        if egress:
            spec["egress"] = egress
        policies.append(PolicyPlan(f"{name_prefix}-{name}", spec, description[:256], rid))

    policies: list[PolicyPlan] = []
    for r in rules.ip_rules():
        policy(r.id, [{"ports": k8s_ports(r), "to": ip_block(r.cidrs)}],
               f"{r.describe()} ({r.origin})", r.id)  # fmt: skip
    if dns:
        policy("dns", [{"ports": [{"protocol": p, "port": 53} for p in ("UDP", "TCP")],
                        "to": [{"ipBlock": {"cidr": str(n)}} for n in dns]}],
               "DNS to the cluster's resolver")  # fmt: skip
    policy("deny-other", [], "Egress isolation: every flow no other policy allows is denied")
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise ConfigError("two rules have one identity (duplicate rows)", where="rules")

    plan = K8sPlan(rules.region, namespace, policies, dns=tuple(dns))
    fqdn_rules = rules.fqdn_rules()
    if not dns and not cilium:
        plan.warnings.append("egress policies select the pods and no allow_dns is given: the "
                             "pods cannot resolve names (DNS to kube-dns is blocked)")  # fmt: skip
    if cilium and fqdn_rules:
        egress: list[dict[str, Any]] = [{
            "toEndpoints": [{"matchLabels": dict(KUBE_DNS)}],
            "toPorts": [{"ports": [{"port": "53", "protocol": p} for p in ("UDP", "TCP")],
                         "rules": {"dns": [{"matchPattern": "*"}]}}],
        }]  # fmt: skip
        for r in fqdn_rules:
            fq = [{"matchPattern": f} if f.startswith("*.") else {"matchName": f} for f in r.fqdns]
            ports = [{"port": str(p.lo), "protocol": str(proto).upper(),
                      **({"endPort": p.hi} if p.hi > p.lo else {})}
                     for proto in r.protocols for p in r.ports]  # fmt: skip
            egress.append({"toFQDNs": fq, "toPorts": [{"ports": ports}]})
        plan.cilium = {"endpointSelector": selector, "egress": egress}
        plan.cilium_name = f"{name_prefix}-fqdn"
        if any(f.startswith("*.") for r in fqdn_rules for f in r.fqdns):
            plan.warnings.append(
                "Cilium's '*.' matches one DNS label: a.b.kore.ai is not "
                "allowed by '*.kore.ai' there (narrower, never broader)"
            )
    else:
        plan.unenforced = list(fqdn_rules)
    return plan
