"""Every private part of the ``pulumi`` SDK that korefw relies on, checked once at import.

korefw's offline plans (:mod:`korefw.runtime.offline`) and
:func:`korefw.runtime.program.read_config` use
runtime internals that Pulumi does not promise to keep: the mock monitor, the event-loop
helpers, the root-resource and config context variables, the set of pending outputs. They
are imported here and only here, so a pulumi release that moves one fails at import with
one line naming the missing piece and the installed pulumi version, not deep inside a plan.

Lowest pulumi proven to work: see ``.ci/lowest-pulumi.txt`` (CI runs the suite with it).
"""

from __future__ import annotations

import asyncio
import importlib
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: (module, attribute) of every private name korefw uses.
REQUIRED: tuple[tuple[str, str], ...] = (
    ("pulumi.runtime.mocks", "MockMonitor"),
    ("pulumi.runtime.rpc", "deserialize_properties"),
    ("pulumi.runtime.rpc", "UNKNOWN"),
    ("pulumi.runtime.settings", "ROOT"),
    ("pulumi.runtime.settings", "SETTINGS"),
    ("pulumi.runtime.config", "CONFIG"),
    ("pulumi.runtime.config", "get_config_env"),
    ("pulumi.runtime.config", "set_all_config"),
    ("pulumi.runtime.stack", "run_in_stack"),
    ("pulumi.runtime.sync_await", "_sync_await"),
    ("pulumi.runtime.sync_await", "_ensure_event_loop"),
)


class PulumiInternalsError(ImportError):
    """The installed pulumi lacks a runtime internal korefw needs."""


def pulumi_version() -> str:
    """The installed pulumi distribution's version, or ``unknown``."""
    try:
        return version("pulumi")
    except PackageNotFoundError:
        return "unknown"


def _load() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for module, name in REQUIRED:
        try:
            found[name] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise PulumiInternalsError(
                f"korefw needs {module}.{name}, which pulumi {pulumi_version()} does not have; "
                "install a pulumi version within korefw's pin (pyproject.toml)"
            ) from None
    for name in ("ROOT", "CONFIG"):
        if not isinstance(found[name], ContextVar):
            raise PulumiInternalsError(
                f"korefw needs pulumi's {name} to be a ContextVar, which in pulumi "
                f"{pulumi_version()} it is not"
            )
    for method in ("RegisterResource", "RegisterResourceOutputs"):
        if not callable(getattr(found["MockMonitor"], method, None)):
            raise PulumiInternalsError(
                f"korefw needs MockMonitor.{method}, which pulumi {pulumi_version()} lacks"
            )
    for attr in ("outputs", "lock"):
        if not hasattr(found["SETTINGS"], attr):
            raise PulumiInternalsError(
                f"korefw needs pulumi's SETTINGS.{attr}, which pulumi {pulumi_version()} lacks"
            )
    return found


_found = _load()

MockMonitor: type = _found["MockMonitor"]
deserialize_properties = _found["deserialize_properties"]
UNKNOWN: str = _found["UNKNOWN"]
ROOT: ContextVar[Any] = _found["ROOT"]
SETTINGS: Any = _found["SETTINGS"]
CONFIG: ContextVar[dict[str, Any]] = _found["CONFIG"]
get_config_env = _found["get_config_env"]
set_all_config = _found["set_all_config"]
run_in_stack = _found["run_in_stack"]
sync_await = _found["_sync_await"]
ensure_event_loop = _found["_ensure_event_loop"]


def engine_config() -> dict[str, Any]:
    """Every config value the engine handed the program (full ``project:key`` names)."""
    merged = dict(get_config_env())
    merged.update(CONFIG.get())
    return merged


def pending_outputs() -> list[asyncio.Future[Any]]:
    """The outputs the runtime tracks (and waits for before the program ends) not done yet."""
    with SETTINGS.lock:
        return [task for task in SETTINGS.outputs if not task.done()]
