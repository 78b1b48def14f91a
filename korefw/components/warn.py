"""How every component reports its plan's warnings: one preview warning each, on itself."""

from __future__ import annotations

from collections.abc import Iterable

import pulumi


def warn_plan(resource: pulumi.Resource, warnings: Iterable[str]) -> None:
    """Log each of a plan's ``warnings`` (:attr:`CloudPlan.warnings`) on ``resource``."""
    for warning in warnings:
        pulumi.log.warn(warning, resource=resource)
