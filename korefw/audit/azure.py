"""Read NSGs through azure-mgmt-network (``azure-audit`` extra).

It lists NSGs per subscription (``NetworkSecurityGroups_ListAll``) or per resource group
(``NetworkSecurityGroups_List``), with their custom rules (the default rules are the
same in every NSG); the identity needs
``Microsoft.Network/networkSecurityGroups/read`` (the built-in Reader role has it). It signs
in with azure-identity's ``DefaultAzureCredential`` (environment, workload identity,
managed identity, Azure CLI, ...). A missing permission, a failed sign-in or an endpoint
that cannot be reached is one :class:`AuditError` line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..core.check.audit import Nsg, NsgRule, tags_by_key
from ..core.errors import AuditError

#: The Azure RBAC action every call needs.
READ_ACTION = "Microsoft.Network/networkSecurityGroups/read"
#: Azure Resource Manager, where the SDK goes unless --endpoint-url says otherwise.
DEFAULT_ENDPOINT = "https://management.azure.com"


@dataclass(frozen=True)
class AzureSelection:
    """Which NSGs to read."""

    subscriptions: Sequence[str]
    resource_groups: Sequence[str] = ()
    tags: Sequence[tuple[str, str]] = ()
    endpoint_url: str | None = None


_QUIET = logging.NullHandler()


def _sdk() -> Any:
    try:
        from azure.mgmt.network import NetworkManagementClient
    except ImportError:
        raise AuditError("needs azure-mgmt-network and azure-identity: pip install "
                         "'korefw[azure-audit]'", where="korefw audit azure") from None  # fmt: skip
    return NetworkManagementClient


def credential() -> Any:
    """azure-identity's ``DefaultAzureCredential`` (the tests replace this function)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise AuditError("needs azure-identity: pip install 'korefw[azure-audit]'",
                         where="korefw audit azure") from None  # fmt: skip
    return DefaultAzureCredential()


@contextmanager
def _translated(where: str, endpoint: str) -> Iterator[None]:
    """azure-core's exceptions as one line naming ``where`` (and the action when denied)."""
    from azure.core import exceptions as ax

    try:
        yield
    except ax.ClientAuthenticationError as exc:
        if exc.status_code == 403:
            raise AuditError(f"not allowed to read NSGs ({_code(exc)}); the identity needs "
                             f"{READ_ACTION} (Reader role)", where=where) from None  # fmt: skip
        raise AuditError(f"cannot sign in to Azure ({_code(exc)}): {_first(exc)}",
                         where=where) from None  # fmt: skip
    except ax.ResourceNotFoundError as exc:
        raise AuditError(f"not found ({_code(exc)}): {_first(exc)}", where=where) from None
    except ax.HttpResponseError as exc:
        if exc.status_code == 403:
            raise AuditError(f"not allowed to read NSGs ({_code(exc)}); the identity needs "
                             f"{READ_ACTION} (Reader role)", where=where) from None  # fmt: skip
        raise AuditError(f"Azure answered {exc.status_code} ({_code(exc)}): {_first(exc)}",
                         where=where) from None  # fmt: skip
    except ax.ServiceRequestError as exc:
        raise AuditError(f"cannot reach {endpoint} ({type(exc).__name__})",
                         where=where) from None  # fmt: skip


def _code(exc: Any) -> str:
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", None) or getattr(exc, "reason", None) or "error")


def _first(exc: Any) -> str:
    text = str(getattr(getattr(exc, "error", None), "message", None) or exc.message or exc)
    return (text.splitlines() or [""])[0][:200]


def read_azure(sel: AzureSelection) -> list[Nsg]:
    """The selected NSGs with their custom rules."""
    client_type = _sdk()
    # The SDKs log each failed credential as a multi-line warning, which Python prints on
    # stderr when nothing else handles it; the failure is reported as one AuditError line.
    # An application that configures logging still receives the records.
    logging.getLogger("azure").addHandler(_QUIET)
    if not sel.subscriptions:
        raise AuditError("pass --subscription (or set AZURE_SUBSCRIPTION_ID)",
                         where="korefw audit azure")  # fmt: skip
    endpoint = sel.endpoint_url or DEFAULT_ENDPOINT
    cred = credential()
    out: list[Nsg] = []
    for sub in sel.subscriptions:
        # Few retries: an endpoint that cannot be reached is reported in seconds, not minutes.
        client = client_type(cred, sub, base_url=endpoint, retry_total=2,
                             connection_timeout=10, read_timeout=60)  # fmt: skip
        ops = client.network_security_groups
        pages = ([(f"azure subscription {sub}", ops.list_all())] if not sel.resource_groups else
                 [(f"azure subscription {sub} resource group {rg}", ops.list(rg))
                  for rg in sel.resource_groups])  # fmt: skip
        for where, pager in pages:
            with _translated(where, endpoint):
                out += [_nsg(n, sub) for n in pager]
    wanted = tags_by_key(sel.tags)
    out = [n for n in out if all(n.tags.get(k) in values for k, values in wanted.items())]
    if not out:
        raise AuditError("no NSG matches the selection", where="korefw audit azure")
    return out


def _text(value: Any) -> str:
    """An SDK value (a str enum or a string) as its wire text."""
    return "" if value is None else str(getattr(value, "value", value))


def _nsg(n: Any, subscription: str) -> Nsg:
    parts = str(n.id or "").split("/")
    lower = [p.lower() for p in parts]
    group = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else "?"
    sub = parts[lower.index("subscriptions") + 1] if "subscriptions" in lower else subscription
    return Nsg(
        nsg_id=str(n.id or ""),
        name=str(n.name or ""),
        subscription=sub,
        resource_group=group,
        rules=tuple(_rule(r) for r in n.security_rules or ()),
        tags=dict(n.tags or {}),
    )


def _rule(r: Any) -> NsgRule:
    return NsgRule(
        name=str(r.name or ""),
        priority=r.priority,
        direction=_text(r.direction),
        access=_text(r.access),
        protocol=_text(r.protocol),
        destination_address_prefix=r.destination_address_prefix,
        destination_address_prefixes=tuple(r.destination_address_prefixes or ()),
        destination_port_range=r.destination_port_range,
        destination_port_ranges=tuple(r.destination_port_ranges or ()),
        description=str(r.description or ""),
        to_application_groups=bool(r.destination_application_security_groups),
        source_address_prefix=r.source_address_prefix,
        source_address_prefixes=tuple(r.source_address_prefixes or ()),
        source_port_range=r.source_port_range,
        source_port_ranges=tuple(r.source_port_ranges or ()),
        from_application_groups=bool(r.source_application_security_groups),
    )
