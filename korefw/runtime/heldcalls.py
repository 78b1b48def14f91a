"""Offline answers to the invokes with which components read what the cloud holds now.

Under ``korefw plan`` no cloud is asked. The components still read, before planning, what
the prefix lists and the existing NSG hold (:class:`korefw.core.plan.ordering.HeldState`),
and Pulumi's mock runtime hands those invokes here. They are answered from the resource
states of a deployed stack (``korefw plan --state FILE``: a ``pulumi stack export``, or a
plan document read as the state after its update), or, without one, as a cloud that holds
nothing of the stack yet: the plan of a first ``pulumi up``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Resource states (``type``, ``urn``, ``id``, ``inputs``, ``outputs``) of the deployed stack.
States = Sequence[Mapping[str, Any]]

#: Invoke token -> answer(args, states). Tokens not listed are refused: korefw plans make
#: no other provider calls.
HANDLERS: dict[str, Callable[[Mapping[str, Any], States], dict[str, Any]]] = {}


def answer(token: str, args: Mapping[str, Any], states: States) -> dict[str, Any]:
    """The invoke's result as the provider would return it, from ``states``."""
    handler = HANDLERS.get(token)
    if handler is None:
        raise RuntimeError(f"korefw plans make no provider calls but reads (got {token})")
    return handler(args, states)
