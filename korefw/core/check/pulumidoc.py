"""One reading of what the Pulumi CLI prints: preview JSON, streamed engine events, stack exports.

Shapes follow the engine's source (pulumi/pulumi):

- ``pulumi preview --json``: ``display.PreviewDigest`` in ``pkg/display/json.go`` (top-level
  ``config``, ``steps``, ``diagnostics``, ``duration``, ``changeSummary``, ``maybeCorrupt``,
  each left out when empty), written by ``ShowPreviewDigest`` in
  ``pkg/backend/display/json.go``. ``same`` steps are printed only with ``--show-sames`` and
  ``create-replacement`` / ``delete-replaced`` only with ``--show-replacement-steps``
  (``shouldShow`` in ``pkg/backend/display/display.go``); the root stack step always.
  Secrets are printed as ``"[secret]"``.
- ``PULUMI_ENABLE_STREAMING_JSON_PREVIEW``: one ``apitype.EngineEvent`` a line
  (``sdk/go/common/apitype/events.go``), written by ``ShowJSONEvents`` without the
  ``shouldShow`` filter; ``resourcePreEvent.metadata`` carries ``op``, ``urn``, ``old`` and
  ``new``; ``summaryEvent.resourceChanges`` the counts. Secrets are
  ``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  "ciphertext": "[secret]"}`` (blinding crypter, ``pkg/backend/display/events.go``).
- ``pulumi stack export``: ``{"version": 3, "deployment": {"resources": [...]}}``
  (``apitype.DeploymentV3`` / ``ResourceV3``); secrets are objects with ``ciphertext``, or with
  ``plaintext`` (the value as JSON text) when exported with ``--show-secrets``
  (``SerializePropertyValue`` in ``pkg/resource/stack/deployment.go``).

Which ops carry which state follows ``pkg/resource/deploy/step.go``. :func:`state_after`
applies a preview's steps, by op, to the current state.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import KorefwError
from ..inputfile import read_input_text

#: Pulumi's marker for a value not known during a preview (and korefw's offline one).
UNKNOWN_VALUES = {"04da6b54-80e4-46f7-96ec-b56ff0331ba9", "<computed>"}
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ROOT_STACK = "pulumi:pulumi:Stack"

#: Ops whose step carries the resource's state after the update (``newState``).
NEW_STATE_OPS = frozenset({
    "create", "same", "update", "replace", "create-replacement", "read", "read-replacement",
    "import", "import-replacement", "refresh",
})  # fmt: skip
#: Ops that remove the resource from the state (``oldState`` only).
DELETE_OPS = frozenset({"delete", "discard"})
#: Ops that remove the replaced old copy of a resource whose new copy stays.
DELETE_REPLACED_OPS = frozenset({"delete-replaced", "discard-replaced", "remove-pending-replace"})
KNOWN_OPS = NEW_STATE_OPS | DELETE_OPS | DELETE_REPLACED_OPS
#: Ops that act on a resource the current state must already have.
_EXISTING_OPS = ("same", "update", "replace", "delete")
#: Ops that are counted as one change in Pulumi's summary (``Logical()`` steps).
LOGICAL_OPS = ("create", "update", "replace", "delete", "same", "read", "import", "discard")

_EVENT_KEYS = {
    "cancelEvent", "stdoutEvent", "diagnosticEvent", "preludeEvent", "summaryEvent",
    "resourcePreEvent", "resOutputsEvent", "resOpFailedEvent", "policyEvent",
    "policyRemediationEvent", "policyLoadEvent", "policyAnalyzeSummaryEvent",
    "policyRemediateSummaryEvent", "policyAnalyzeStackSummaryEvent", "startDebuggingEvent",
    "progressEvent", "errorEvent",
}  # fmt: skip
_PREVIEW_KEYS = {"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"}


class DocumentError(KorefwError):
    """A Pulumi document that cannot be read, is incomplete, or hides a deciding value."""


class Secret:
    """A secret value whose plaintext the document does not carry."""

    def __repr__(self) -> str:
        return "[secret]"


SECRET = Secret()


@dataclass(frozen=True)
class Step:
    """One step of a preview: its op and the resource's state before and after."""

    op: str
    urn: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass
class PulumiDocument:
    """A parsed preview (``kind`` ``preview`` or ``stream``) or stack export (``export``)."""

    kind: str
    where: str
    steps: list[Step] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    change_summary: dict[str, int] | None = None

    def omitted_unchanged(self) -> int | None:
        """How many unchanged resources the preview leaves out: 0, a count, or None (unknown).

        A preview of an existing stack prints its unchanged resources only with
        ``--show-sames``, yet Pulumi's summary (``changeSummary`` / ``resourceChanges``)
        counts every ``same`` step. Fewer ``same`` steps than counted means some were left
        out. Without a summary, an existing stack (root stack step not ``create``) whose only
        ``same`` step is the root's cannot be told apart from one that omits its sames.
        """
        if self.kind == "export":
            return 0
        shown = sum(1 for s in self.steps if s.op == "same")
        if self.change_summary is not None:
            return max(0, self.change_summary.get("same", 0) - shown)
        root = next((s for s in self.steps if _type_of_urn(s.urn) == ROOT_STACK), None)
        if root is not None and root.op != "create" and shown <= 1:
            return None
        return 0

    def op_counts(self) -> dict[str, int]:
        """Resources per change, as ``pulumi up`` will report them."""
        if self.change_summary is not None:
            return dict(self.change_summary)
        counts: dict[str, int] = {}
        for s in self.steps:
            if s.op in LOGICAL_OPS:
                counts[s.op] = counts.get(s.op, 0) + 1
        return counts


def _type_of_urn(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def _short(value: object) -> object:
    text = repr(value)
    return value if len(text) <= 60 else text[:57] + "..."


def load_document(path: str) -> PulumiDocument:
    """Read a preview, a streamed preview or a stack export from a file, or ``-`` (stdin)."""
    if path == "-":
        return parse_text(sys.stdin.read(), "<stdin>")
    return parse_text(read_input_text(path, error=DocumentError), path)


#: JSON field names of the engine's structs korefw reads (``apitype.ResourceV3``,
#: ``display.PreviewStep``, ``apitype.StepEventMetadata``, ``apitype.DeploymentV3``,
#: ``apitype.UntypedDeployment``).
_STATE_FIELDS = ("urn", "custom", "delete", "id", "type", "inputs", "outputs", "parent",
                 "external", "dependencies", "propertyDependencies", "pendingReplacement",
                 "aliases", "importID", "provider")  # fmt: skip
_STEP_FIELDS = ("op", "urn", "oldState", "newState", "old", "new")
_EXPORT_FIELDS = ("version", "deployment", "resources", "pending_operations")


def _spelled(raw: Mapping[str, Any], fields: tuple[str, ...], at: str) -> None:
    """Refuse a field spelled in another letter case: Go's decoder matches struct fields in
    any case (``Inputs`` is ``inputs``), so the engine would read what korefw skips."""
    lower = {f.lower(): f for f in fields}
    for key in raw:
        name = lower.get(key.lower()) if isinstance(key, str) else None
        if name is not None and key != name:
            raise DocumentError(f"field {key!r} is {name!r} in another letter case, which the "
                                "engine reads as that field", where=at)  # fmt: skip


class _RepeatedKey(Exception):
    """A JSON object that gives one key twice."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def _loads(text: str) -> Any:
    """JSON, refusing a repeated key: Python keeps its last value, while Go's decoder (the
    engine's) merges a repeated object into the first, so the two would read it apart."""
    return json.loads(text, object_pairs_hook=_pairs)


def _repeated(exc: _RepeatedKey, where: str) -> DocumentError:
    return DocumentError(f"ambiguous: key {exc.args[0]!r} appears twice in one object, so "
                         "which value the engine reads cannot be decided", where=where)


def parse_text(text: str, where: str) -> PulumiDocument:
    """A document from its text: one JSON document, or JSON engine events one a line."""
    try:
        obj = _loads(text)
    except _RepeatedKey as exc:
        raise _repeated(exc, where) from None
    except RecursionError:
        raise DocumentError("JSON nested too deeply to read", where=where) from None
    except ValueError as exc:
        lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        if len(lines) < 2 or not _is_json_object(lines[0][1]):
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid"
            line = f":{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise DocumentError(f"not JSON ({msg})", where=f"{where}{line}") from None
        events = []
        for n, line in lines:
            try:
                events.append(_loads(line))
            except _RepeatedKey as exc:
                raise _repeated(exc, f"{where}:{n}") from None
            except (ValueError, RecursionError):
                raise DocumentError("not a JSON engine event", where=f"{where}:{n}") from None
    else:
        events = None
    try:
        return parse_document(obj, where) if events is None else _stream(events, where)
    except RecursionError:
        raise DocumentError("JSON nested too deeply to read", where=where) from None


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(_loads(line), dict)
    except (ValueError, RecursionError, _RepeatedKey):
        return False


def parse_document(obj: object, where: str = "plan") -> PulumiDocument:
    """A document from parsed JSON (a preview, one engine event, or a stack export)."""
    if isinstance(obj, PulumiDocument):
        return obj
    if not isinstance(obj, Mapping):
        raise DocumentError("expected a JSON object", where=where, value=type(obj).__name__)
    if "deployment" in obj or "version" in obj:
        return _export(obj, where)
    if _EVENT_KEYS & set(obj):
        return _stream([obj], where)
    unknown = set(obj) - _PREVIEW_KEYS
    if unknown:
        raise DocumentError(
            "not a pulumi preview --json document, engine event or stack export "
            "(unknown top-level key)", where=where, value=sorted(unknown)[0],
        )  # fmt: skip
    _check_outcome(obj.get("diagnostics"), obj.get("maybeCorrupt"), where)
    steps = obj.get("steps", [])
    if not isinstance(steps, list):
        raise DocumentError("expected a list", where=f"{where}: steps", value=_short(steps))
    if not steps:
        raise DocumentError("no steps (a preview always has the root stack's step)", where=where)
    doc = PulumiDocument("preview", where, change_summary=_summary(obj.get("changeSummary"), where))
    for i, raw in enumerate(steps):
        at = f"{where}: steps[{i}]"
        if not isinstance(raw, Mapping):
            raise DocumentError("expected a step object", where=at, value=_short(raw))
        _spelled(raw, _STEP_FIELDS, at)
        doc.steps.append(_step(raw.get("op"), raw.get("urn"), raw.get("oldState"),
                               raw.get("newState"), at))  # fmt: skip
    return doc


def _check_outcome(diagnostics: object, maybe_corrupt: object, where: str,
                   key: str = "diagnostics") -> None:  # fmt: skip
    """Refuse a preview that failed: its steps stop where the program or engine failed."""
    for i, diag in enumerate(diagnostics if isinstance(diagnostics, list) else []):
        if isinstance(diag, Mapping) and diag.get("severity") == "error":
            message = str(diag.get("message", "")).strip().splitlines()[:1]
            raise DocumentError(
                "incomplete: the preview failed, so its steps stop short"
                + (f" ({message[0]})" if message else ""),
                where=f"{where}: {key}[{i}]" if key else where,
            )  # fmt: skip
    if maybe_corrupt:
        raise DocumentError("incomplete: the engine marks this preview maybeCorrupt",
                            where=where)  # fmt: skip


def _summary(raw: object, where: str) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in raw.values()
    ):
        raise DocumentError("expected counts per op", where=f"{where}: changeSummary",
                            value=_short(raw))  # fmt: skip
    return {str(k): int(v) for k, v in raw.items()}


def _step(op: object, urn: object, old: object, new: object, at: str) -> Step:
    if not isinstance(op, str) or op not in KNOWN_OPS:
        raise DocumentError("unknown step op", where=f"{at}: op", value=_short(op))
    if not isinstance(urn, str) or not urn:
        raise DocumentError("expected a URN", where=f"{at}: urn", value=_short(urn))
    old_s = None if old is None else state(old, f"{at}: oldState")
    new_s = None if new is None else state(new, f"{at}: newState")
    if op in NEW_STATE_OPS and new_s is None:
        raise DocumentError(f"a {op} step needs newState", where=at)
    if op not in NEW_STATE_OPS and old_s is None:
        raise DocumentError(f"a {op} step needs oldState", where=at)
    return Step(str(op), urn, old_s, new_s)


def state(raw: object, at: str) -> dict[str, Any]:
    """A checked copy of one resource state, secrets revealed or replaced by :data:`SECRET`."""
    if not isinstance(raw, Mapping):
        raise DocumentError("expected a resource state object", where=at, value=_short(raw))
    _spelled(raw, _STATE_FIELDS, at)
    urn = raw.get("urn")
    if not isinstance(urn, str) or not urn:
        raise DocumentError("resource state has no urn", where=at, value=_short(urn))
    at = f"{at} {urn}"
    t = raw.get("type")
    if not isinstance(t, str) or not t:
        raise DocumentError("resource state has no type", where=at, value=_short(t))
    rid = raw.get("id")
    if rid is not None and not isinstance(rid, str):
        raise DocumentError("expected a string", where=f"{at}: id", value=_short(rid))
    out = dict(raw)
    for key in ("inputs", "outputs"):
        value = raw.get(key)
        if value is None:
            out[key] = {}
        elif not isinstance(value, Mapping):
            raise DocumentError("expected an object", where=f"{at}: {key}", value=_short(value))
        else:
            out[key] = _reveal(value, f"{at}: {key}")
            if out[key] is SECRET:
                raise DocumentError("the whole property map is a secret, so the allow set "
                                    "cannot be decided", where=f"{at}: {key}")  # fmt: skip
    deps = raw.get("propertyDependencies") or {}
    if not isinstance(deps, Mapping) or not all(
        isinstance(v, list) and all(isinstance(u, str) for u in v) for v in deps.values()
    ):
        raise DocumentError("expected lists of URNs", where=f"{at}: propertyDependencies",
                            value=_short(deps))  # fmt: skip
    out["propertyDependencies"] = dict(deps)
    return out


def _reveal(value: Any, at: str) -> Any:
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            plain = value.get("plaintext")
            if isinstance(plain, str):
                try:
                    return _reveal(_loads(plain), at)
                except _RepeatedKey as exc:
                    raise _repeated(exc, at) from None
                except ValueError:
                    raise DocumentError("secret plaintext is not JSON", where=at) from None
            return SECRET
        return {k: _reveal(v, f"{at}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v, at) for v in value]
    if value == "[secret]":
        return SECRET
    return value


def _export(obj: Mapping[str, Any], where: str) -> PulumiDocument:
    _spelled(obj, _EXPORT_FIELDS, where)
    version = obj.get("version")
    if version not in (3, 4):
        raise DocumentError("unsupported stack export version (expected 3)",
                            where=f"{where}: version", value=_short(version))  # fmt: skip
    dep = obj.get("deployment")
    if not isinstance(dep, Mapping):
        raise DocumentError("expected an object", where=f"{where}: deployment", value=_short(dep))
    _spelled(dep, _EXPORT_FIELDS, f"{where}: deployment")
    resources = dep.get("resources") or []
    if not isinstance(resources, list):
        raise DocumentError("expected a list", where=f"{where}: deployment.resources",
                            value=_short(resources))  # fmt: skip
    pending = dep.get("pending_operations") or []
    if not isinstance(pending, list):
        raise DocumentError("expected a list", where=f"{where}: deployment.pending_operations",
                            value=_short(pending))  # fmt: skip
    for i, op in enumerate(pending):
        # An interrupted update: the resource may or may not exist in the cloud
        # (`pulumi refresh` or `pulumi cancel` settles it).
        res = op.get("resource") if isinstance(op, Mapping) else None
        urn = res.get("urn") if isinstance(res, Mapping) else None
        kind = op.get("type") if isinstance(op, Mapping) else None
        raise DocumentError(
            f"pending operation {kind!r} on {urn or '<no urn>'}: an interrupted update left it "
            "unknown whether the resource exists; run `pulumi refresh` and export again",
            where=f"{where}: deployment.pending_operations[{i}]",
        )
    doc = PulumiDocument("export", where)
    doc.resources = [state(r, f"{where}: resources[{i}]") for i, r in enumerate(resources)]
    live: dict[str, int] = {}
    for i, r in enumerate(doc.resources):
        if r.get("delete"):
            continue  # the old copy of a replaced resource, pending delete, shares the URN
        if r["urn"] in live:
            raise DocumentError(
                f"ambiguous: two resources with URN {r['urn']} (resources[{live[r['urn']]}] and "
                f"[{i}]), so which one is deployed cannot be decided",
                where=f"{where}: deployment.resources[{i}]",
            )  # fmt: skip
        live[r["urn"]] = i
    return doc


def _stream(events: list[Any], where: str) -> PulumiDocument:
    doc = PulumiDocument("stream", where)
    pre_op: dict[str, str] = {}
    for n, ev in enumerate(events, 1):
        at = f"{where}: event {n}"
        if not isinstance(ev, Mapping) or not (_EVENT_KEYS & set(ev)):
            raise DocumentError("not an engine event", where=at, value=_short(ev))
        if "cancelEvent" in ev:
            raise DocumentError("incomplete: the preview was cancelled", where=at)
        if "resOpFailedEvent" in ev:
            body = ev["resOpFailedEvent"]
            meta = body.get("metadata") if isinstance(body, Mapping) else None
            urn = meta.get("urn") if isinstance(meta, Mapping) else None
            raise DocumentError(f"incomplete: an operation failed on {urn or 'a resource'}",
                                where=at)  # fmt: skip
        if "diagnosticEvent" in ev:
            _check_outcome([ev["diagnosticEvent"]], False, f"{at}: diagnosticEvent", key="")
        if "summaryEvent" in ev:
            summary = ev["summaryEvent"]
            if not isinstance(summary, Mapping):
                raise DocumentError("expected an object", where=f"{at}: summaryEvent")
            _check_outcome(None, summary.get("maybeCorrupt"), at)
            doc.change_summary = _summary(summary.get("resourceChanges") or {}, at)
        for key in ("resourcePreEvent", "resOutputsEvent"):
            if key not in ev:
                continue
            body = ev[key]
            meta = body.get("metadata") if isinstance(body, Mapping) else None
            if not isinstance(meta, Mapping):
                raise DocumentError("expected metadata", where=f"{at}: {key}", value=_short(body))
            _spelled(meta, _STEP_FIELDS, f"{at}: {key}.metadata")
            step = _step(meta.get("op"), meta.get("urn"), meta.get("old"), meta.get("new"),
                         f"{at}: {key}.metadata")  # fmt: skip
            if key == "resourcePreEvent":
                pre_op[step.urn] = step.op
                doc.steps.append(step)
            elif pre_op.get(step.urn) == "refresh" and (
                (step.op == "update" and meta.get("detailedDiff") is not None)
                or step.op == "delete"
            ):
                # As ShowPreviewDigest does: a refresh's outcome replaces its step.
                doc.steps = [step if s.urn == step.urn else s for s in doc.steps]
    if not doc.steps:
        raise DocumentError("no resource events in the engine event stream", where=where)
    return doc


def state_after(doc: PulumiDocument, base: PulumiDocument | None = None) -> list[dict[str, Any]]:
    """The resources after the update: ``base`` (or, without it, nothing) with each step applied.

    A complete preview needs no ``base``; one that leaves out unchanged resources of an
    existing stack raises :class:`DocumentError` saying how to get a complete picture.
    """
    if doc.kind == "export":
        if base is not None:
            raise DocumentError("PLAN is a stack export; --state needs a preview as PLAN",
                                where=doc.where)  # fmt: skip
        # A resource pending delete (`"delete": true`) is still deployed until an update
        # removes it, so it counts.
        return list(doc.resources)
    live: dict[str, dict[str, Any]] = {}
    if base is not None:
        if base.kind != "export":
            raise DocumentError("expected a `pulumi stack export` document", where=base.where)
        live = {r["urn"]: r for r in base.resources if not r.get("delete")}
    else:
        missing = doc.omitted_unchanged()
        if missing != 0:
            count = "its" if missing is None else f"{missing}"
            raise DocumentError(
                f"incomplete: this preview of an existing stack leaves out {count} unchanged "
                "resources, so no verdict is possible; rerun `pulumi preview --json "
                "--show-sames`, or pass the current state with `--state` (from "
                "`pulumi stack export`)", where=doc.where,
            )  # fmt: skip
    _one_state_per_urn(doc)
    for s in doc.steps:
        known = s.urn in live
        if base is not None and s.op in ("create",) and known:
            raise DocumentError(f"the preview does not fit the state: it creates {s.urn}, "
                                "which the state already has", where=doc.where)  # fmt: skip
        pending_delete = s.op == "delete" and s.old is not None and s.old.get("delete")
        if base is not None and s.op in _EXISTING_OPS and not known and not pending_delete:
            raise DocumentError(f"the preview does not fit the state: it {s.op}s {s.urn}, "
                                "which the state does not have", where=doc.where)  # fmt: skip
        if s.op in NEW_STATE_OPS and s.new is not None:
            live[s.new["urn"]] = _applied(s)
        elif s.op in DELETE_OPS and not (s.old and s.old.get("delete")):
            live.pop(s.urn, None)
        # DELETE_REPLACED_OPS remove the old copy only; the replacement stays.
    return list(live.values())


#: Ops whose step gives the resource's one state after the update. A replacement's
#: ``create-replacement`` / ``delete-replaced`` and a ``refresh`` (superseded by the
#: program's own step for the URN) come beside one of these for the same URN.
_FINAL_OPS = ("create", "same", "update", "replace", "read", "import")


def _one_state_per_urn(doc: PulumiDocument) -> None:
    """Refuse a preview that gives one URN two states after the update: which is deployed?

    One exception, the engine's: with ``--refresh``, ``ShowPreviewDigest`` replaces a
    refresh step that found drift by its outcome, an ``update`` whose newState is the state
    read back (so it has the id, printed after ``RefreshStep.Apply``); the program's own
    step for the URN follows it and decides.
    """
    seen: dict[str, Step] = {}
    copies: dict[str, Step] = {}  # the replacement each URN's create-replacement makes
    for s in doc.steps:
        if s.op in _REPLACEMENT_OPS:
            copies.setdefault(s.urn, s)
            other = copies[s.urn]
        elif s.op in _FINAL_OPS:
            other = copies.get(s.urn)
        else:
            other = None
        # The engine gives a replacement's two steps one new state; the create-replacement
        # deploys it, and state_after keeps the last printed: they must agree.
        if other is not None and other is not s and _disagree(other.new, s.new):
            raise DocumentError(
                f"ambiguous: two states for {s.urn} (a {other.op} and a {s.op} step that "
                "differ), so which one is deployed cannot be decided", where=doc.where,
            )  # fmt: skip
        kept = seen.get(s.urn)
        refreshed = kept is not None and kept.op == "update" and known_id(kept.new)
        if s.op in DELETE_OPS and kept and not refreshed and not (s.old or {}).get("delete"):
            raise DocumentError(
                f"ambiguous: {s.urn} is both kept (a {kept.op} step) and removed (a "
                f"later {s.op} step), so whether it is deployed cannot be decided",
                where=doc.where,
            )  # fmt: skip
        if s.op not in _FINAL_OPS:
            continue
        if kept is not None and not refreshed:
            raise DocumentError(
                f"ambiguous: two states for {s.urn} (a {kept.op} and a {s.op} step), so "
                "which one is deployed cannot be decided", where=doc.where,
            )  # fmt: skip
        if s.op == "same" and s.old is not None and _disagree(s.old, s.new, ("inputs",)):
            raise DocumentError(
                f"ambiguous: the same step for {s.urn} changes nothing in the cloud, yet its "
                "new inputs differ from the old state's, so what is deployed cannot be "
                "decided", where=doc.where,
            )  # fmt: skip
        seen[s.urn] = s


#: Ops that create a replacement copy beside a ``replace`` / ``read`` / ``import`` step.
_REPLACEMENT_OPS = ("create-replacement", "read-replacement", "import-replacement")
#: The fields of a state that decide what it allows (see planread), outputs aside.
_DECIDING = ("type", "inputs", "external", "propertyDependencies", "dependencies")


def _disagree(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None,
              fields: tuple[str, ...] = _DECIDING) -> bool:  # fmt: skip
    """Two new states of one replacement that decide differently. Outputs count only when
    both show them: the step that ran first in the preview may have filled them in the
    state the later step prints (``CreateStep.Apply`` sets ``new.Outputs``)."""
    a, b = a or {}, b or {}
    if any((a.get(k) or None) != (b.get(k) or None) for k in fields):
        return True
    if fields != _DECIDING or not (a.get("outputs") and b.get("outputs")):
        return False
    return bool(a["outputs"] != b["outputs"])


def known_id(st: Mapping[str, Any] | None) -> bool:
    """Whether a state carries a real id (not empty, not a preview's unknown)."""
    rid = (st or {}).get("id")
    return isinstance(rid, str) and bool(rid) and rid not in UNKNOWN_VALUES


def _applied(step: Step) -> dict[str, Any]:
    """A step's new state as it is once the step runs (the engine's ``Apply``).

    A preview prints each step's states from its ``ResourcePreEvent``, made before the step
    runs (``makeStepEventMetadata`` in ``pkg/engine/events.go`` deep-copies them), so the
    printed ``newState`` of a ``same`` or ``update`` step has no ``id`` (and no
    ``outputs``): ``step_generator.go`` builds it with ``ID: ""`` and ``Outputs: nil``, and
    ``ResourceV3`` omits empty fields. The engine's own links then give it back:
    ``SameStep.Apply`` copies the old state's id and outputs, ``UpdateStep.Apply`` the old
    id (``pkg/resource/deploy/step.go``), and an import takes its ``importID``
    (``ImportStep.Apply``). A state that already has an id keeps it.

    A ``read`` step's new state has its id but no outputs (``Outputs: make(PropertyMap)``
    in ``step_generator.go``; ``ReadStep.Apply`` reads them later): it takes the outputs of
    the last read of the same id (its ``oldState``), as the stack export shows them; a
    first read keeps none (its properties are not known before the update).
    """
    new = step.new
    assert new is not None
    old = step.old
    if step.op in ("read", "read-replacement") and not new.get("outputs") and old is not None \
            and old.get("id") == new.get("id") and old.get("outputs"):  # fmt: skip
        return {**new, "outputs": old["outputs"]}
    out = dict(new)
    if step.op in ("same", "update") and old is not None:
        if not known_id(new) and known_id(old):
            out["id"] = old["id"]
        if step.op == "same" and not new.get("outputs") and old.get("outputs"):
            out["outputs"] = old["outputs"]  # a component's too (it has no id)
    importing = step.op in ("import", "import-replacement")
    if importing and not known_id(new) and isinstance(new.get("importID"), str) \
            and new["importID"]:  # fmt: skip
        out["id"] = new["importID"]
    return out if out != new else new


def state_before(doc: PulumiDocument, base: PulumiDocument | None = None) -> list[dict[str, Any]]:
    """The resources before the update: ``base``, or the old states a complete preview shows."""
    if base is not None:
        return [r for r in base.resources if not r.get("delete")]
    if doc.kind == "export":
        return list(doc.resources)
    state_after(doc)  # raises when the preview is incomplete
    before: dict[str, dict[str, Any]] = {}
    for s in doc.steps:
        if s.old is None or s.op in DELETE_REPLACED_OPS:
            continue
        # A replace step's old copy is marked ``delete`` by this update's own
        # create-replacement (``CreateStep.Apply``), which ran before the step was printed.
        if not s.old.get("delete") or s.op in ("replace", "create-replacement"):
            before.setdefault(s.urn, s.old)
    return list(before.values())
