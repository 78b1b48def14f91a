"""What the benchmarks measure with: synthetic rule sets, wall time, memory, Python calls.

``tests/test_speed_structure.py`` uses these too (work counted, never timed).
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from synthetic import synthetic_rules

from korefw.core.rules.model import RuleSet


def sections_for(n: int) -> int:
    """Sections of a synthetic set: 10, or one per 100 rows (keeps prefix lists under 60)."""
    return max(10, n // 100)


def synthetic(n: int) -> RuleSet:
    """The benchmark's synthetic rule set of ``n`` rows."""
    return synthetic_rules(n, seed=n, sections=sections_for(n))


def timed(fn: Callable[[], object], reps: int = 1) -> float:
    """Median wall time of ``reps`` calls, in seconds."""
    times = []
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def traced_peak(fn: Callable[[], object]) -> int:
    """``tracemalloc`` peak of one call, in bytes (run apart from timing: tracing is slow)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def python_calls(fn: Callable[[], object], *, threads: bool = False) -> int:
    """Python function calls ``fn()`` makes: work counted, not timed. ``threads``: also
    count the calls on threads ``fn`` starts (a mock-runtime run works on several)."""
    calls = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    if threads:
        threading.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return calls


def maxrss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    Linux's ``VmHWM`` (reset by ``exec``) when there is one: ``ru_maxrss`` of a freshly
    started worker still reports its parent's peak, as Linux carries it across fork and exec.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
