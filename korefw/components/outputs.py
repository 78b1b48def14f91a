"""How components expose plain plan data as outputs: one ``pulumi.Output`` per value."""

from __future__ import annotations

from typing import TypeVar

import pulumi

T = TypeVar("T")


def known(value: T) -> pulumi.Output[T]:
    """``value``, plain data (no ``Output`` inside), as one known ``Output``.

    ``pulumi.Output.from_input`` lifts every key, value and item of a dict or list into
    an ``Output`` of its own, and the runtime tracks each one and waits for it before
    the program ends: a component's ``plan`` output alone was thousands of them, most of
    an offline plan's time. This makes one ``Output`` with the same value.
    """
    _check_plain(value)

    async def resolved() -> T:
        return value

    async def is_known() -> bool:
        return True

    return pulumi.Output(set(), resolved(), is_known())


def _check_plain(value: object) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(k)
            _check_plain(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v)
    elif isinstance(value, pulumi.Output):
        raise TypeError(f"known() takes plain data; use pulumi.Output.from_input for {value!r}")
