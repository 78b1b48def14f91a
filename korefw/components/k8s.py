"""Kore.ai's egress rules as Kubernetes NetworkPolicies (``pip install 'korefw[k8s]'``).

The component is thin: :func:`korefw.core.plan.k8s_plan.plan_k8s` decides every policy, name
and spec before the first resource is registered; this module turns the plan into
``pulumi_kubernetes`` resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from ..core.errors import ConfigError
from ..core.plan.k8s_plan import plan_k8s
from ..core.read.regions import select_rules
from ..core.rules.model import RuleSet
from .warn import warn_plan

try:
    import pulumi_kubernetes as k8s
except ImportError as exc:  # pragma: no cover - depends on the extra
    raise ImportError(
        "korefw.components.k8s needs pulumi-kubernetes: pip install 'korefw[k8s]'"
    ) from exc

EGRESS_NETWORK_POLICY = "korefw:k8s:EgressNetworkPolicy"


class EgressNetworkPolicy(pulumi.ComponentResource):
    """Kore.ai's egress rules as ``networking.k8s.io/v1`` NetworkPolicies in one namespace.

    One NetworkPolicy per IP rule (named ``<name_prefix>-<rule id>``, the rule's stable
    content hash), selecting ``pod_selector``'s pods (default: every pod) for Egress, and
    ``<name_prefix>-deny-other`` keeping them egress-isolated. ``allow_dns`` (the
    cluster resolver's addresses) adds ``<name_prefix>-dns`` for UDP/TCP 53: without it
    the selected pods cannot resolve names. ``cilium=True`` adds a ``cilium.io/v2``
    ``CiliumNetworkPolicy`` enforcing the FQDN rules with ``toFQDNs``; otherwise they are
    listed in ``unenforced_fqdn_rules`` and warned about. Needs Kubernetes >= 1.25
    (``endPort``).

    Outputs: ``policy_names``, ``unenforced_fqdn_rules`` and ``plan``.
    """

    policy_names: list[str]
    unenforced_fqdn_rules: list[dict[str, Any]]
    plan: dict[str, Any]

    def __init__(
        self,
        name: str,
        rules: RuleSet | str,
        *,
        sections: Sequence[str] = (),
        components: Sequence[str] = (),
        namespace: str = "default",
        name_prefix: str = "korefw",
        pod_selector: Mapping[str, str] | None = None,
        allow_dns: Sequence[str] = (),
        cilium: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if rules is None:
            raise ConfigError("a rule set or region code is required", where="rules")
        selected = select_rules(rules, list(sections) or None, list(components) or None)
        plan = plan_k8s(selected, namespace=namespace, name_prefix=name_prefix,
                        pod_selector=pod_selector, allow_dns=allow_dns, cilium=cilium)  # fmt: skip
        super().__init__(EGRESS_NETWORK_POLICY, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for p in plan.policies:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{p.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=p.name, namespace=plan.namespace,
                    labels={"app.kubernetes.io/managed-by": "korefw"},
                    annotations={"korefw/description": p.description},
                ),
                spec=p.spec,
                opts=child,
            )  # fmt: skip
        if plan.cilium is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-{plan.cilium_name}",
                api_version="cilium.io/v2",
                kind="CiliumNetworkPolicy",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=plan.cilium_name, namespace=plan.namespace,
                    labels={"app.kubernetes.io/managed-by": "korefw"},
                ),
                spec=plan.cilium,
                opts=child,
            )  # fmt: skip
        self.policy_names = [p.name for p in plan.policies]
        self.unenforced_fqdn_rules = plan.unenforced_fqdn_rules
        self.plan = plan.to_dict()
        for u in self.unenforced_fqdn_rules:
            pulumi.log.warn(f"FQDN rule not enforced (set cilium=True with Cilium): "
                            f"{', '.join(u['fqdns'])} {'/'.join(u['protocols'])} "
                            f"{','.join(u['ports'])} ({u['origin']})", resource=self)  # fmt: skip
        warn_plan(self, plan.warnings)
        self.register_outputs({"policy_names": self.policy_names,
                               "unenforced_fqdn_rules": self.unenforced_fqdn_rules,
                               "plan": self.plan})  # fmt: skip
