"""Run a probe plan: each flow's attempts on a pool of threads, within ``--deadline``."""

from __future__ import annotations

import queue
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.errors import KorefwError
from ..core.probe.flows import Check, Endpoint, Flow, Overrides, ProbePlan, Verdict
from ..core.rules.addresses import is_ip
from .attempts import (
    Outcome,
    ResolveError,
    Resolver,
    resolve,
    stun_tcp,
    stun_udp,
    tcp_connect,
    tls_context,
    tls_handshake,
)

#: Bounds of the options, so a probe stays a probe.
MAX_TIMEOUT = 60.0
MAX_DEADLINE = 600.0
MAX_PARALLEL = 64
MAX_ATTEMPTS = 5
#: How long past the deadline the runner waits for attempts already under way.
GRACE = 0.5


@dataclass(frozen=True)
class Settings:
    """How long and how wide a probe may run."""

    timeout: float = 3.0
    deadline: float = 60.0
    parallel: int = 16
    attempts: int = 1
    ca_file: str | None = None

    def __post_init__(self) -> None:
        for name, value, top in (
            ("--timeout", self.timeout, MAX_TIMEOUT),
            ("--deadline", self.deadline, MAX_DEADLINE),
        ):
            if not 0 < value <= top:
                raise KorefwError(
                    f"expected seconds above 0, at most {top:g}", where=name, value=value
                )
        for name, count, top in (
            ("--parallel", self.parallel, MAX_PARALLEL),
            ("--attempts", self.attempts, MAX_ATTEMPTS),
        ):
            if not 1 <= count <= top:
                raise KorefwError(f"expected 1-{top}", where=name, value=count)


@dataclass(frozen=True)
class Result:
    """One flow and what its probe found."""

    flow: Flow
    outcome: Outcome
    #: Where ``--target-override`` sent the flow instead (None: Kore's own address).
    routed: Endpoint | None = None


class _Prober:
    """Tries one flow at a time; shared by the worker threads (it holds no per-flow state)."""

    def __init__(
        self, settings: Settings, overrides: Overrides, resolver: Resolver, end: float
    ) -> None:
        self.settings = settings
        self.overrides = overrides
        self.resolver = resolver
        self.end = end
        self.context = tls_context(settings.ca_file) if settings.ca_file else None
        self._context_lock = threading.Lock()

    def budget(self) -> float:
        """Seconds the next step may take: the timeout, cut to what the deadline leaves."""
        return min(self.settings.timeout, self.end - time.monotonic())

    def tls(self) -> ssl.SSLContext:
        """The TLS context, made once (loading the system's CAs takes a while)."""
        with self._context_lock:
            if self.context is None:
                self.context = tls_context(None)
            return self.context

    def probe(self, flow: Flow) -> Result:
        """Resolve the flow's host when it is a name, then try it up to --attempts times."""
        route = self.overrides.route(flow)
        host, port = (route.host, route.port or flow.port) if route else (flow.target, flow.port)
        note = ""
        if not is_ip(host):
            try:
                host = self.resolver(host, port, max(self.budget(), 0.001))
            except ResolveError as exc:
                return Result(flow, Outcome(Verdict.DNS_FAILED, str(exc)), route)
            note = f"resolved to {host}; "
        elif route and flow.check is Check.TLS:
            note = "DNS skipped (--target-override); "
        outcome = Outcome(Verdict.NOT_RUN, "--deadline reached before its turn")
        for _ in range(self.settings.attempts):
            left = self.budget()
            if left <= 0:
                break
            outcome = self._attempt(flow, host, port, left)
            if outcome.verdict is not Verdict.TIMED_OUT:
                break
        if note:
            outcome = Outcome(outcome.verdict, note + outcome.detail, outcome.contacted)
        return Result(flow, outcome, route)

    def _attempt(self, flow: Flow, host: str, port: int, timeout: float) -> Outcome:
        if flow.check is Check.STUN_UDP:
            return stun_udp(host, port, timeout)
        if flow.check is Check.STUN_TCP:
            return stun_tcp(host, port, timeout)
        if flow.check is Check.TLS:
            return tls_handshake(host, port, flow.target, timeout, self.tls())
        return tcp_connect(host, port, timeout)


def run_probe(
    plan: ProbePlan,
    settings: Settings,
    overrides: Overrides | None = None,
    *,
    resolver: Resolver = resolve,
) -> list[Result]:
    """Every flow of ``plan`` with its verdict, in plan order, within ``settings.deadline``.

    The workers are daemon threads: an attempt still running when the deadline (plus a
    short grace) has passed is reported timed out and left behind, so the command ends
    on time whatever a resolver or a peer does.
    """
    overrides = overrides or Overrides({})
    overrides.check_used(plan)
    flows = plan.flows
    end = time.monotonic() + settings.deadline
    prober = _Prober(settings, overrides, resolver, end)
    results: list[Result | None] = [
        Result(f, Outcome(Verdict.UNVERIFIABLE, f.note)) if f.check is Check.NONE else None
        for f in flows
    ]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[int, Result | None]] = queue.SimpleQueue()
    started: set[int] = set()
    pending = [i for i, r in enumerate(results) if r is None]
    for i in pending:
        todo.put(i)

    def work() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            if time.monotonic() >= end:
                done.put((i, None))
                continue
            started.add(i)
            try:
                done.put((i, prober.probe(flows[i])))
            except Exception as exc:  # a bug must not hang the run: report it on the flow
                failed = Outcome(Verdict.UNREACHABLE, f"probe error: {exc!r}")
                done.put((i, Result(flows[i], failed, overrides.route(flows[i]))))

    for n in range(min(settings.parallel, len(pending))):
        threading.Thread(target=work, name=f"korefw-probe-{n}", daemon=True).start()
    waiting = set(pending)
    while waiting:
        try:
            i, result = done.get(timeout=max(end + GRACE - time.monotonic(), 0.0))
        except queue.Empty:
            break
        waiting.discard(i)
        results[i] = result or Result(
            flows[i],
            Outcome(Verdict.NOT_RUN, "--deadline reached before its turn"),
            overrides.route(flows[i]),
        )
    for i in waiting:
        verdict, why = (
            (Verdict.TIMED_OUT, "still running at --deadline")
            if i in started
            else (Verdict.NOT_RUN, "--deadline reached before its turn")
        )
        results[i] = Result(flows[i], Outcome(verdict, why), overrides.route(flows[i]))
    return [r for r in results if r is not None]


def verdicts(results: Sequence[Result]) -> list[Verdict]:
    """The verdict of each result."""
    return [r.outcome.verdict for r in results]
