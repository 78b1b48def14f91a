"""korefw's CrossGuard policy pack: egress to Kore.ai exactly as published.

A thin shell over :mod:`korefw.core.check.policycheck`, which decides what is
korefw-managed, what is in scope and what is wider than Kore's rules. The two mandatory
policies take the same configuration (``--policy-pack-config``): ``region`` (default: the
stack's ``korefw:region``) and ``scope`` (``korefw-managed`` or ``kore-addresses``).
"""

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pulumi.runtime
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from korefw.core.check import policycheck
from korefw.core.errors import KorefwError
from korefw.core.read.regions import load_rules, region_codes
from korefw.core.rules.allowset import AllowSet

CONFIG = PolicyConfigSchema(
    properties={
        "region": {
            "type": "string",
            "enum": region_codes(),
            "description": "Kore region whose rules apply (default: the stack's korefw:region).",
        },
        "scope": {
            "type": "string",
            "enum": list(policycheck.SCOPES),
            "default": "korefw-managed",
            "description": "korefw-managed: korefw's rules only; kore-addresses: also any other "
            "egress rule to Kore's published addresses.",
        },
    }
)


@cache
def _allowed(region: str) -> AllowSet:
    return load_rules(region).allow_set()


def _settings(config: Mapping[str, Any]) -> tuple[str, policycheck.Scope, AllowSet]:
    region = str(config.get("region") or pulumi.runtime.get_config("korefw:region") or "")
    if not region:
        raise KorefwError("no region: set the policy's region or the stack's korefw:region")
    return region, config.get("scope") or "korefw-managed", _allowed(region.strip().lower())


def _plain(value: Any) -> Any:
    """The engine's properties without pulumi_policy's unknown-checking proxies.

    Values a preview does not know yet stay as Pulumi's sentinels, which policycheck treats as
    unknown, instead of raising on first access.
    """
    if type(value).__name__ in ("_DictProxy", "_ListProxy"):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _checked(check: Callable[[], list[policycheck.Finding]]) -> list[policycheck.Finding]:
    """The findings of ``check``; what it could not check is one more, never an engine error.

    policycheck turns every value it refuses into a finding; this is the last guard, so a
    mandatory policy can never pass (or break the preview with a gRPC error) on a surprise.
    """
    try:
        return check()
    except Exception as exc:  # reported as a violation, never swallowed
        why = f"korefw could not check this: {type(exc).__name__}: {exc}"
        return [policycheck.Finding("", why)]


def _validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
    try:
        region, scope, allowed = _settings(args.get_config())
    except KorefwError as exc:
        args.not_applicable(str(exc))  # the stack policy reports it, once
        return
    props = _plain(args.props)
    for f in _checked(
        lambda: policycheck.resource_findings(
            args.resource_type, args.urn, props, allowed, region, scope
        )
    ):
        report(f.message, None)


def _stack_resources(args: StackValidationArgs) -> list[policycheck.StackResource]:
    return [
        policycheck.StackResource(
            r.resource_type,
            r.urn,
            _plain(r.props),
            {k: [d.urn for d in deps] for k, deps in r.property_dependencies.items()},
        )
        for r in args.resources
    ]


def _validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
    try:
        region, scope, allowed = _settings(args.get_config())
    except KorefwError as exc:
        report(str(exc), None)  # a mandatory pack that cannot check must not pass silently
        return
    for f in _checked(
        lambda: policycheck.stack_findings(_stack_resources(args), allowed, region, scope)
    ):
        report(f.message, f.urn or None)


def _validate_closing_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    for f in _checked(lambda: policycheck.closing_deny_findings(_stack_resources(args))):
        report(f.message, f.urn or None)


PolicyPack(
    name="korefw-egress",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="kore-egress-within-vendor-rules",
            description="Egress rules to Kore stay within Kore's published rules for the "
            "region: no wider CIDR, port range or protocol, no -1 or *.",
            validate=_validate_resource,
            config_schema=CONFIG,
        ),
        StackValidationPolicy(
            name="kore-egress-stack",
            description="Egress through prefix lists stays within Kore's published rules; "
            "security groups and NSGs that korefw created hold only korefw's rules.",
            validate=_validate_stack,
            config_schema=CONFIG,
        ),
        StackValidationPolicy(
            name="kore-nsg-closing-deny",
            description="An NSG with korefw's Allow rules denies other outbound traffic after "
            "them (Azure's default AllowInternetOutBound allows all Internet egress).",
            validate=_validate_closing_deny,
            enforcement_level=EnforcementLevel.ADVISORY,
        ),
    ],
)
