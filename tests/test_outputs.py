"""korefw/components/outputs.py: plain plan data as one known Output, the value
``from_input`` gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measure import python_calls

from korefw.components.outputs import known
from korefw.runtime.offline import run_offline

_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
PLAIN = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PLAIN)
def test_known_resolves_to_what_from_input_resolves_to(value: Any) -> None:
    seen: list[list[Any]] = []

    def program() -> None:
        both = pulumi.Output.all(known(value), pulumi.Output.from_input(value))
        both.apply(seen.append)  # runs only if both are known
        pulumi.export("known", known(value))
        pulumi.export("from_input", pulumi.Output.from_input(value))

    plan = run_offline(program)
    assert len(seen) == 1
    ours, pulumis = seen[0]
    assert ours == pulumis and type(ours) is type(pulumis)
    exported = plan.stack_outputs  # a None export is left out, as the engine does
    assert exported.get("known", "left out") == exported.get("from_input", "left out")


def test_known_costs_a_fraction_of_lifting_every_leaf() -> None:
    # from_input makes an Output of every key, value and item, and the runtime tracks and
    # waits for each; known makes one. Work counted, not timed.
    value = {"rules": [{"name": f"r{i}", "ports": [443, i]} for i in range(50)]}

    def calls(program: Callable[[], object]) -> int:
        return python_calls(lambda: run_offline(program), threads=True)

    empty = calls(lambda: None)
    ours = calls(lambda: known(value)) - empty
    lifted = calls(lambda: pulumi.Output.from_input(value)) - empty
    assert ours * 5 < lifted, (ours, lifted)


def test_known_refuses_an_output_inside() -> None:
    def program() -> None:
        known({"ids": [pulumi.Output.from_input("sg-1")]})

    with pytest.raises(TypeError, match="plain data"):
        run_offline(program)
