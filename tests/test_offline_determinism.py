"""The offline plan is the same bytes whatever order the mock monitor's RPC threads run in.

Pulumi's SDK sends each registration to the monitor from an executor thread, so under load
their order varies. Once, a plan lost its stack outputs: ``set_mocks`` had registered a
throwaway root stack under the program's stack URN, and its empty outputs landed last.
"""

from __future__ import annotations

import difflib
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import korefw.runtime.offline as offline
from korefw.runtime.preview import plan_stack

GOLDEN = Path(__file__).resolve().parent / "golden" / "example-jp-aws.json"
STACK = "pulumi:pulumi:Stack"


def _unified(expected: str, got: str) -> str:
    return "".join(difflib.unified_diff(
        expected.splitlines(keepends=True), got.splitlines(keepends=True), "golden", "this run"
    ))  # fmt: skip


def test_one_stack_resource_reaches_the_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    stacks: list[str] = []
    register = offline._Recorder.RegisterResource

    def counting(self: Any, request: Any) -> Any:
        if request.type == STACK:
            stacks.append(request.name)
        return register(self, request)

    monkeypatch.setattr(offline._Recorder, "RegisterResource", counting)
    plan_stack("example-jp-aws")
    assert len(stacks) == 1, f"{len(stacks)} stack registrations race on one URN"


def test_stack_outputs_survive_a_late_monitor_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold back the first stack-outputs call until any other one is done, as load can."""
    outputs = offline._Recorder.RegisterResourceOutputs
    later_done = threading.Event()
    calls: list[str] = []
    lock = threading.Lock()

    def held_back(self: Any, request: Any) -> Any:
        if STACK not in request.urn:
            return outputs(self, request)
        with lock:
            calls.append(request.urn)
            first = len(calls) == 1
        if first:  # any second stack's outputs overtake this one (there should be none)
            later_done.wait(timeout=1)
        try:
            return outputs(self, request)
        finally:
            if not first:
                later_done.set()

    monkeypatch.setattr(offline._Recorder, "RegisterResourceOutputs", held_back)
    text = plan_stack("example-jp-aws").dumps()
    assert text == GOLDEN.read_text(), _unified(GOLDEN.read_text(), text)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_delays_in_the_mock_monitor_change_no_byte(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    lock = threading.Lock()

    def delayed(method: Any) -> Any:
        def run(self: Any, request: Any) -> Any:
            with lock:
                pause = rng.random() * 0.005
            time.sleep(pause)  # reorders the RPC threads; nothing is timed
            return method(self, request)

        return run

    for name in ("RegisterResource", "RegisterResourceOutputs"):
        monkeypatch.setattr(offline._Recorder, name, delayed(getattr(offline._Recorder, name)))
    text = plan_stack("example-jp-aws").dumps()
    assert text == GOLDEN.read_text(), _unified(GOLDEN.read_text(), text)
