"""Run a Pulumi program in-process under Pulumi's own mock runtime.

No CLI, no provider plugins, no credentials, no network: ``pulumi.runtime.set_mocks``
stands in for the engine only. The real ``pulumi``, ``pulumi-aws`` and
``pulumi-azure-native`` resource classes serialize their real inputs, which this
module records as a plan in the shape of ``pulumi preview --json``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from . import _pulumi_internals as _internals
from . import heldcalls

_PLACEHOLDER_ROOT = object()

#: What an input that is not known during a preview is shown as.
UNKNOWN = "<computed>"

_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
_ACCOUNT = "123456789012"
_AWS_PREFIX = {
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/managedPrefixList:ManagedPrefixList": "pl-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList": "rslvr-fdl-",
    "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup": "rslvr-frg-",
    "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation": (
        "rslvr-frgassoc-"
    ),
}


@dataclass
class Resource:
    """One registered resource, as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    #: Input name -> URNs of the resources its value came from.
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    #: The ``delete_before_replace`` resource option (replacements delete first).
    delete_before_replace: bool = False
    #: The URNs the resource's ``aliases`` stand for (what it may have been called before).
    aliases: list[str] = field(default_factory=list)
    #: Every URN the resource depends on: ``depends_on`` and each input's (the engine's
    #: ``dependencies``; the engine runs it after all of them).
    depends: list[str] = field(default_factory=list)


@dataclass
class OfflinePlan:
    """Everything a mock-runtime run registered, in a stable order."""

    project: str
    stack: str
    resources: list[Resource]
    warnings: list[str]

    @property
    def stack_outputs(self) -> dict[str, Any]:
        """What the program exported."""
        return next((r.outputs for r in self.resources if r.type == "pulumi:pulumi:Stack"), {})

    def of_type(self, type_: str) -> list[Resource]:
        """Resources of one type token."""
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Resource]:
        """Resources keyed by URN."""
        return {r.urn: r for r in self.resources}

    def to_preview_json(self) -> dict[str, Any]:
        """The shape of ``pulumi preview --json``: ``{"steps": [...], "changeSummary": ...}``."""
        steps = []
        for r in self.resources:
            state: dict[str, Any] = {
                "type": r.type,
                "urn": r.urn,
                "custom": r.custom,
                "id": r.id,
                "parent": r.parent,
                "inputs": r.inputs,
            }
            if r.outputs and not r.custom:
                state["outputs"] = r.outputs
            if r.depends:
                state["dependencies"] = r.depends
            if r.dependencies:
                state["propertyDependencies"] = r.dependencies
            if r.delete_before_replace:
                state["deleteBeforeReplace"] = True
            if r.aliases:
                state["aliases"] = r.aliases
            steps.append({"op": "create", "urn": r.urn, "newState": state})
        return {
            "steps": steps,
            "diagnostics": [{"severity": "warning", "message": w} for w in self.warnings],
            "changeSummary": {"create": len(steps)},
        }

    def dumps(self) -> str:
        """The preview JSON as stable text (sorted keys, fixed indentation)."""
        text = json.dumps(self.to_preview_json(), indent=2, sort_keys=True, ensure_ascii=False)
        return text + "\n"


class _Mocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        held: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__()
        self.stack_outputs = dict(stack_outputs or {})
        self.held = held
        self.unknown_references: set[str] = set()
        # The inputs the mock monitor deserialized for the registration under way on this
        # thread, so the recorder need not deserialize them a second time.
        self.seen = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.seen.inputs = args.inputs
        if args.typ == "pulumi:pulumi:StackReference":
            ref = args.inputs.get("name", args.name)
            if ref not in self.stack_outputs:
                # As a preview before the other stack exists: its outputs are unknown.
                self.unknown_references.add(ref)
                return ref, {"name": ref, "outputs": _internals.UNKNOWN}
            return ref, {"name": ref, "outputs": dict(self.stack_outputs[ref])}
        if not args.custom:
            return None, {}
        return _placeholder(args.typ, args.name, args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        # A read that cannot be answered fails as a provider's does (the invoke raises in
        # the program, which may catch it), not as a crash of the runtime.
        try:
            return heldcalls.answer(args.token, args.args, self.held), []
        except Exception as exc:
            details = getattr(exc, "details", None)  # a gRPC error carries its text there
            text = details() if callable(details) else str(exc)
            return {}, [("", str(text or type(exc).__name__))]


class _Recorder(_internals.MockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.korefw_mocks = mocks
        self.registrations: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        # Event loops the mock monitor opens on executor threads; closed after the run so
        # they are not left for the garbage collector to close at interpreter exit.
        self.loops: set[asyncio.AbstractEventLoop] = set()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives (``resource.NewURN``): the parent's whole type chain.

        Pulumi's mock monitor keeps only the parent's own type, so a grandchild's URN would
        differ from the one ``pulumi preview`` and ``pulumi stack export`` show.
        """
        return _urn(f"urn:pulumi:{pulumi.get_stack()}", pulumi.get_project(), parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        loop = _internals.ensure_event_loop()
        with self.lock:
            self.loops.add(loop)
        self.korefw_mocks.seen.inputs = {}  # the stack resource never reaches new_resource
        response = super().RegisterResource(request)
        inputs = self.korefw_mocks.seen.inputs
        with self.lock:
            self.registrations[response.urn] = {
                "type": request.type,
                "name": request.name,
                "parent": request.parent,
                "custom": bool(request.custom),
                "id": response.id or "",
                "inputs": _clean(inputs),
                "outputs": {},
                "dependencies": {
                    key: sorted(deps.urns)
                    for key, deps in sorted(request.propertyDependencies.items())
                    if deps.urns
                },
                "depends": sorted(set(request.dependencies)),
                "delete_before_replace": bool(request.deleteBeforeReplace),
                "aliases": _alias_urns(
                    request,
                    response.urn,
                    self.registrations.get(request.parent, {}).get("aliases", []),
                ),
            }
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = _internals.deserialize_properties(request.outputs) if request.outputs else {}
        with self.lock:
            if request.urn in self.registrations:
                self.registrations[request.urn]["outputs"] = _clean(outputs)
        return super().RegisterResourceOutputs(request)


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_offline(
    program: Callable[[], object],
    *,
    project: str = "korefw",
    stack: str = "dev",
    config: Mapping[str, Any] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    held: Sequence[Mapping[str, Any]] = (),
) -> OfflinePlan:
    """Run ``program`` under Pulumi's mock runtime and return what it registered.

    ``config`` maps full keys (``project:key``) to values; objects and lists are passed
    as JSON, as the Pulumi engine does. ``stack_references`` maps a stack name to the
    outputs a ``pulumi.StackReference`` to it reads. ``held``: the resource states of the
    deployed stack, which the components' reads of what the cloud holds are answered from
    (:mod:`.heldcalls`; none: a cloud holding nothing of the stack yet). The run happens in
    a fresh thread, so Pulumi's context-local globals never leak between runs. Exceptions
    from the program are re-raised unchanged.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["plan"] = _run(
                program, project, stack, dict(config or {}), stack_references, held
            )
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=target, name=f"korefw-offline-{stack}")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["plan"]


def _run(
    program: Callable[[], object],
    project: str,
    stack: str,
    config: dict[str, Any],
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    held: Sequence[Mapping[str, Any]] = (),
) -> OfflinePlan:
    asyncio.set_event_loop(asyncio.new_event_loop())
    logger = logging.getLogger(f"korefw.runtime.offline.{id(config)}")
    logger.propagate = False
    handler = _ListHandler()
    logger.addHandler(handler)
    _internals.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    )
    mocks = _Mocks(stack_references, held)
    monitor = _Recorder(mocks)
    # set_mocks registers a root stack of its own unless a root is set. That stack has the
    # program's stack URN, and its registration and empty outputs run on executor threads
    # alongside the program's: under load they could land last and drop the stack outputs
    # (a plan that differed between runs). So hold a placeholder root while set_mocks runs,
    # then run the program in the one stack, as the Pulumi language host does.
    _internals.ROOT.set(_PLACEHOLDER_ROOT)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=True, logger=logger, monitor=monitor
    )
    _internals.ROOT.set(None)
    try:
        _internals.sync_await(_internals.run_in_stack(lambda: _call(program)))
    finally:
        logger.removeHandler(handler)
        main_loop = asyncio.get_event_loop()
        main_loop.run_until_complete(main_loop.shutdown_default_executor())
        for loop in monitor.loops - {main_loop}:
            loop.close()
        main_loop.close()
    warnings = handler.messages + [
        f"StackReference {ref!r}: its outputs are unknown offline (run_offline's "
        "stack_references= gives them), so what depends on them shows as <computed>"
        for ref in mocks.unknown_references
    ]
    return OfflinePlan(project, stack, _ordered(monitor.registrations), sorted(warnings))


def _call(program: Callable[[], object]) -> Awaitable[None]:
    program()
    return _settle()


async def _settle() -> None:
    """Wait for every output the program made, one generation of pending outputs at a time.

    The runtime waits for them too, before the program ends, but with
    ``asyncio.wait(..., FIRST_COMPLETED)`` over all that are pending, again after each
    completion: work that grows with the square of the outputs (about 20 waits over 500
    outputs for the Japan AWS stack). Waiting for all at once leaves it nothing to wait for.
    (Until the placeholder root, the throwaway root stack's registration kept the runtime
    busy until they were done.)
    """
    while pending := _internals.pending_outputs():
        await asyncio.wait(pending)


def _alias_urns(request: Any, urn: str, parent_aliases: list[str]) -> list[str]:
    """The URNs of a registration's aliases, resolved from their specs as the engine does.

    A spec's absent fields are the resource's own: its name, type, stack, project and
    parent (``noParent``: none). A child also inherits its parent's aliases: under each
    former parent URN, its own name and each alias name, with the parent's name at the
    start swapped for the parent's former name (Pulumi's ``all_aliases``). Left out: the
    aliases provider SDKs add for each API version of a type (``azure-native`` adds
    dozens per resource), which only matter if korefw ever changed a resource's type.
    """
    stack, project, _, _ = urn.split("::", 3)
    own: set[str] = set()
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            own.add(alias.urn)
            continue
        spec = alias.spec
        if spec.type and not spec.name:
            continue
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        head = f"urn:pulumi:{spec.stack}" if spec.stack else stack
        name = spec.name or request.name
        own.add(_urn(head, spec.project or project, parent, spec.type or request.type, name))
    out = set(own)
    parent_name = request.parent.rsplit("::", 1)[-1] if request.parent else ""
    for former_parent in parent_aliases:
        former_name = former_parent.rsplit("::", 1)[-1]
        for child in (urn, *sorted(own)):
            name = child.rsplit("::", 1)[-1]
            if parent_name and name.startswith(parent_name):
                name = former_name + name[len(parent_name) :]
            out.add(_urn(stack, project, former_parent, request.type, name))
    out.discard(urn)
    return sorted(out)


def _urn(head: str, project: str, parent: str, type_: str, name: str) -> str:
    """``resource.NewURN``: the parent's type chain (but not the root stack's), ``$``, type."""
    if parent and (chain := parent.split("::", 3)[2]) != "pulumi:pulumi:Stack":
        type_ = f"{chain}${type_}"
    return f"{head}::{project}::{type_}::{name}"


def _ordered(regs: dict[str, dict[str, Any]]) -> list[Resource]:
    """Parents before children, siblings by URN: stable across runs and hash seeds."""
    children: dict[str, list[str]] = {}
    for urn, reg in regs.items():
        children.setdefault(reg["parent"], []).append(urn)
    out: list[Resource] = []

    def visit(parent: str) -> None:
        for urn in sorted(children.get(parent, [])):
            reg = regs[urn]
            out.append(Resource(urn=urn, **reg))
            visit(urn)

    visit("")
    orphans = set(regs) - {r.urn for r in out}
    for urn in sorted(orphans):  # parent never registered: keep, never drop
        out.append(Resource(urn=urn, **regs[urn]))
    return out


def _clean(value: Any) -> Any:
    """JSON-ready values: integral floats back to ints, unknowns marked, keys sorted."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or value == _internals.UNKNOWN or isinstance(value, pulumi.output.Unknown):
        return UNKNOWN if value is not None else None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _placeholder(type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
    """A deterministic id and the outputs a real provider would add for ``type_``."""
    state = dict(inputs)
    h = _digest(type_, name)
    if type_.startswith("aws:"):
        service = type_.split(":")[1].split("/")[0]
        rid = _AWS_PREFIX.get(type_, f"{service}-") + h[:17]
        state.setdefault("arn", f"arn:aws:{service}:us-east-1:{_ACCOUNT}:{rid}")
        return rid, state
    if type_.startswith("azure-native:"):
        res_name = _azure_name(type_, name, inputs)
        state.setdefault("name", res_name)
        return _azure_id(type_, res_name, inputs), state
    return f"id-{h[:16]}", state


# ARM path segments of the azure-native types korefw registers; others get a generic path.
_ARM_PATH = {
    "network:NetworkSecurityGroup": "networkSecurityGroups/{name}",
    "network:SecurityRule": "networkSecurityGroups/{networkSecurityGroupName}/securityRules/{name}",
    "network:IpGroup": "ipGroups/{name}",
    "network:FirewallPolicy": "firewallPolicies/{name}",
    "network:FirewallPolicyRuleCollectionGroup": (
        "firewallPolicies/{firewallPolicyName}/ruleCollectionGroups/{name}"
    ),
}


def _azure_id(type_: str, res_name: str, inputs: dict[str, Any]) -> str:
    module, kind = type_.split(":")[1:]
    template = _ARM_PATH.get(f"{module}:{kind}", kind[0].lower() + kind[1:] + "s/{name}")
    fields = {k: v for k, v in inputs.items() if isinstance(v, str)}
    fields["name"] = res_name
    try:
        path = template.format(**fields)
    except KeyError:
        path = kind[0].lower() + kind[1:] + "s/" + res_name
    rg = inputs.get("resourceGroupName", "rg")
    return (
        f"/subscriptions/{_SUBSCRIPTION}/resourceGroups/{rg}/providers/"
        f"Microsoft.{module.capitalize()}/{path}"
    )


def _azure_name(type_: str, name: str, inputs: dict[str, Any]) -> str:
    kind = type_.split(":")[-1]
    own = f"{kind[0].lower()}{kind[1:]}Name"
    for key in (own, f"{own[:-4]}sName", "ruleCollectionGroupName", "name"):
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return name
