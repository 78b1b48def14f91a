"""``korefw plan``: an offline preview of a stack, through the real program and providers."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import runpy
import sys
import textwrap
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, KorefwError
from ..core.inputfile import load_yaml, read_input_text
from ..core.plan.config import PROJECT, validate
from .offline import OfflinePlan, Resource, run_offline
from .program import PROJECT_DIR, nearest_project

#: Pulumi's stack names (``pulumi stack init``): these characters, 1 to 100 of them.
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_STACK_KEYS = {"config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"}


@dataclass(frozen=True)
class Project:
    """A Pulumi project folder as ``pulumi`` reads it: ``Pulumi.yaml``, its program, its
    stack settings files (``Pulumi.<stack>.yaml`` beside it, or in ``stackConfigDir``) and
    the project-level config values."""

    dir: Path
    name: str
    program: Path
    config_dir: Path
    #: Values the project file gives (``default`` or ``value``), by full key.
    defaults: dict[str, Any]

    def stacks(self) -> list[str]:
        """Every stack that has a settings file."""
        return sorted(p.name[len("Pulumi.") : -len(".yaml")]
                      for p in self.config_dir.glob("Pulumi.*.yaml") if p.is_file())  # fmt: skip

    def stack_file(self, stack: str) -> str:
        """A stack's settings file, relative to the project folder (as errors name it)."""
        return os.path.relpath(self.config_dir / f"Pulumi.{stack}.yaml", self.dir)


def _yaml(path: Path, where: str) -> Any:
    """A Pulumi settings file, read as every YAML input is (no alias bombs)."""
    text = read_input_text(path, what="Pulumi settings", error=ConfigError)
    return load_yaml(text, where=where, error=ConfigError)


def find_project(start: Path | None = None) -> Path:
    """The folder ``pulumi`` would use from ``start`` (default: the working directory): the
    nearest one holding ``Pulumi.yaml``, else korefw's own project."""
    return nearest_project((start or Path.cwd()).resolve(), PROJECT_DIR)


def load_project(project_dir: Path = PROJECT_DIR) -> Project:
    """Read ``Pulumi.yaml``: the name, the program (``main``), ``stackConfigDir`` and the
    project-level config values (read again only when the file changes)."""
    path = project_dir / "Pulumi.yaml"
    try:
        st = path.stat()
    except OSError:
        raise ConfigError("no Pulumi.yaml: not a Pulumi project folder",
                          where=str(project_dir)) from None  # fmt: skip
    return _load_project(project_dir, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _load_project(project_dir: Path, _mtime: int, _size: int) -> Project:
    where = str(project_dir / "Pulumi.yaml")
    doc = _yaml(project_dir / "Pulumi.yaml", where)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ConfigError("expected a project 'name:'", where=where)
    runtime = doc.get("runtime")
    runtime = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime != "python":
        raise ConfigError("korefw plan runs Python programs only", where=f"{where}: runtime",
                          value=runtime)  # fmt: skip
    main = project_dir / str(doc.get("main") or ".")
    program = main / "__main__.py" if main.is_dir() else main
    if not program.is_file():
        raise ConfigError("no such program file", where=f"{where}: main", value=str(program))
    config_dir = project_dir / str(doc.get("stackConfigDir") or ".")
    defaults: dict[str, Any] = {}
    block = doc.get("config") or {}
    if not isinstance(block, dict):
        raise ConfigError("expected a 'config:' mapping", where=where)
    for key, spec in block.items():
        full = key if ":" in str(key) else f"{doc['name']}:{key}"
        if isinstance(spec, dict):
            for field in ("value", "default"):
                if field in spec:
                    defaults[full] = spec[field]
                    break
        else:
            defaults[full] = spec
        if full in defaults and _has_secret(defaults[full]):
            raise ConfigError("a project value cannot be an encrypted secret",
                              where=f"{where}: {full}")  # fmt: skip
    return Project(project_dir, doc["name"], program, config_dir, defaults)


def check_stack_name(stack: str, *, where: str = "stack") -> str:
    """``stack`` if Pulumi would take it as a stack name (so it names a file in the
    settings folder and nowhere else)."""
    if not _STACK_NAME.fullmatch(stack):
        raise ConfigError("a stack name is 1-100 letters, digits, '-', '_' or '.'",
                          where=where, value=stack)  # fmt: skip
    return stack


def _stack_config(project: Project, stack: str) -> dict[str, Any]:
    check_stack_name(stack)
    rel = project.stack_file(stack)
    path = project.config_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise ConfigError(f"no such stack; known: {', '.join(project.stacks()) or 'none'}",
                          where=rel, value=stack)  # fmt: skip
    doc = _yaml(path, rel) or {}
    if not isinstance(doc, dict):
        raise ConfigError("expected a mapping of stack settings", where=rel,
                          value=type(doc).__name__)  # fmt: skip
    # `pulumi stack init` may write only `encryptionsalt:`: no config is no settings.
    config = {} if doc.get("config") is None else doc["config"]
    if not isinstance(config, dict):
        raise ConfigError("expected a 'config:' mapping", where=rel, value=type(config).__name__)
    unknown = set(doc) - _STACK_KEYS
    if unknown:
        raise ConfigError("unknown top-level key", where=rel, value=sorted(unknown)[0])
    out: dict[str, Any] = {}
    for key, value in config.items():
        full = key if ":" in str(key) else f"{project.name}:{key}"  # as the Pulumi CLI reads it
        if _has_secret(value):
            raise ConfigError("an encrypted secret: korefw plan cannot decrypt it offline; "
                              "use a stack with plain values", where=f"{rel}: {full}")  # fmt: skip
        out[full] = value
    return out


def _has_secret(value: Any) -> bool:
    """Whether a setting holds an encrypted ``secure:`` value, at any depth."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            if "secure" in v:
                return True
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return False


def load_stack(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """A stack's config as the engine hands it to the program: the project file's values,
    then the stack settings file's. For korefw's own program (project ``korefw``) it is
    checked against the schema here, so a bad setting fails before the program runs."""
    return _checked_config(load_project(project_dir), stack)


def _checked_config(project: Project, stack: str) -> dict[str, Any]:
    config = {**project.defaults, **_stack_config(project, stack)}
    if project.name == PROJECT:
        try:
            validate(config, where=project.stack_file(stack))
        except RecursionError:
            raise ConfigError("a setting nested too deeply to read",
                              where=project.stack_file(stack)) from None  # fmt: skip
    return config


@contextlib.contextmanager
def _in_project(project: Project) -> Iterator[None]:
    """As Pulumi's Python host runs a program: from the project folder, with the program's
    folder first on ``sys.path`` (so its own modules import)."""
    old_cwd, old_path, old_modules = Path.cwd(), list(sys.path), set(sys.modules)
    os.chdir(project.dir)
    sys.path.insert(0, str(project.program.parent))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        # The program's own modules are not kept for the next program; packages (korefw,
        # the providers), even in a virtualenv inside the project, stay loaded.
        for name in set(sys.modules) - old_modules:
            origin = Path(getattr(sys.modules[name], "__file__", None) or "/")
            if (name.split(".")[0] != "korefw" and origin.is_relative_to(project.program.parent)
                    and not origin.is_relative_to(sys.prefix)
                    and "site-packages" not in origin.parts):  # fmt: skip
                del sys.modules[name]


def plan_stack(
    stack: str, project_dir: Path = PROJECT_DIR, held: Sequence[Mapping[str, Any]] = ()
) -> OfflinePlan:
    """Run a project's program for ``stack`` under Pulumi's mock runtime; ``held``: the
    resource states of the deployed stack (what the cloud holds now; none: nothing yet)."""
    project = load_project(project_dir.resolve())
    config = _checked_config(project, stack)
    with _in_project(project):
        try:
            return run_offline(
                lambda: runpy.run_path(str(project.program), run_name="__main__"),
                project=project.name,
                stack=stack,
                config=config,
                held=held,
            )
        except ModuleNotFoundError as exc:
            raise ConfigError("the program imports a module this Python does not have; "
                              "install it beside korefw", where=str(project.program),
                              value=exc.name) from None  # fmt: skip
        except KorefwError:
            raise
        except Exception as exc:  # the user's program: name its file and line, as Pulumi does
            text = str(exc.msg if isinstance(exc, SyntaxError) else exc)
            raise ConfigError(f"the program failed: {type(exc).__name__}: "
                              f"{text.partition(chr(10))[0]}",
                              where=_program_line(project, exc)) from None  # fmt: skip


def _program_line(project: Project, exc: BaseException) -> str:
    """``file:line`` of the innermost frame in the program's folder (else the program)."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).is_relative_to(project.program.parent)]  # fmt: skip
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else str(project.program)


def stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Every stack of the project that has a settings file."""
    return load_project(project_dir).stacks()


def summarize(r: Resource) -> str:
    """The key inputs of a resource, in a few words."""
    i = r.inputs
    t = r.type
    if t.endswith("SecurityGroupEgressRule"):
        lo, hi = i.get("fromPort"), i.get("toPort")
        port = lo if lo == hi else f"{lo}-{hi}"
        dest = i.get("cidrIpv4") or i.get("cidrIpv6") or i.get("prefixListId")
        return f"{i.get('ipProtocol')} {port} → {dest}"
    if t.endswith("ManagedPrefixList"):
        return f"{len(i.get('entries', []))} entries, max {i.get('maxEntries')}"
    if t.endswith("securityGroup:SecurityGroup"):
        return f"vpc {i.get('vpcId')}"
    if t.endswith("network:NetworkSecurityGroup"):
        return f"{len(i.get('securityRules', []))} NSG rules"
    if t.endswith("network:SecurityRule"):
        ports = i.get("destinationPortRanges") or [i.get("destinationPortRange", "")]
        prefixes = i.get("destinationAddressPrefixes") or [i.get("destinationAddressPrefix", "")]
        return (
            f"{i.get('priority')} {i.get('access')} {i.get('protocol')} {','.join(ports)} → "
            f"{prefixes[0] if len(prefixes) == 1 else f'{len(prefixes)} prefixes'}"
        )
    return ""


def display_type(type_: str) -> str:
    """A type token as ``pulumi preview`` shows it: ``aws:vpc/securityGroupEgressRule:
    SecurityGroupEgressRule`` becomes ``aws:vpc:SecurityGroupEgressRule``."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        module, member = parts[1].rsplit("/", 1)
        if member.lower() == parts[2].lower():
            return f"{parts[0]}:{module}:{parts[2]}"
    return type_


def _korefw_components(plan: OfflinePlan) -> list[Resource]:
    """korefw components the program created itself (not the ones inside another)."""
    by_urn = plan.by_urn()
    return [r for r in plan.resources if r.type.startswith("korefw:")
            and not by_urn.get(r.parent, r).type.startswith("korefw:")]  # fmt: skip


def _cloud(type_: str) -> str:
    """``aws``, ``azure`` or ``k8s`` for a korefw type token (``korefw:index:X`` by its X)."""
    module, kind = type_.split(":")[1:3]
    if module != "index":
        return module
    return "azure" if "NetworkSecurityGroup" in kind else "aws"


def summary_lines(plan: OfflinePlan) -> list[str]:
    """The counts under the tree: resources by kind (they add up to the total), what each
    korefw component plans, and the unenforced FQDN rules of each cloud."""
    total = len(plan.resources)
    stacks_ = sum(r.type == "pulumi:pulumi:Stack" for r in plan.resources)
    custom = sum(r.custom for r in plan.resources)
    out = [f"Resources: + {total} to create ({stacks_} stack, {total - stacks_ - custom} "
           f"components, {custom} cloud resources)"]  # fmt: skip
    unenforced: dict[str, int] = {}
    for c in _korefw_components(plan):
        o, cloud = c.outputs, _cloud(c.type)
        facts = []
        if isinstance(o.get("rule_count"), int):
            facts.append(f"{o['rule_count']} egress rules")
        for used in o.get("quota_used") or []:
            if isinstance(used, dict):
                facts.append(f"group {used.get('group')} quota {used.get('ipv4', 0)} IPv4 + "
                             f"{used.get('ipv6', 0)} IPv6")  # fmt: skip
        if isinstance(o.get("rules"), list):
            facts.append(f"{len(o['rules'])} NSG rules")
        if isinstance(o.get("policy_names"), list):
            facts.append(f"{len(o['policy_names'])} NetworkPolicies")
        out.append(f"  {c.name} ({display_type(c.type)}): {', '.join(facts) or 'planned'}")
        if isinstance(o.get("unenforced_fqdn_rules"), list):
            unenforced[cloud] = unenforced.get(cloud, 0) + len(o["unenforced_fqdn_rules"])
    if unenforced:
        each = ", ".join(f"{cloud} {n}" for cloud, n in sorted(unenforced.items()))
        out.append(f"  unenforced FQDN rules: {sum(unenforced.values())} ({each})")
    return out


def _fold(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` (names break after a hyphen, inputs at spaces)."""
    return textwrap.wrap(text, width) or [""]


def render_text(plan: OfflinePlan, width: int = 120) -> str:
    """A resource tree like ``pulumi preview`` and a summary, fitted to ``width`` columns:
    the widest of the name and input columns wraps inside itself until the tree fits."""
    depth: dict[str, int] = {"": -1}
    rows = [("   Type", "Name", "Plan")]
    for r in plan.resources:
        depth[r.urn] = depth.get(r.parent, -1) + 1
        rows.append(("+  " + "   " * depth[r.urn] + display_type(r.type), r.name, summarize(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    while sum(widths) + 4 > width and max(widths[1:]) > 12:
        widths[1 if widths[1] >= widths[2] else 2] -= 1
    lines = [f"Previewing stack {plan.stack} of project {plan.project} "
             "(offline, Pulumi mock runtime)", ""]  # fmt: skip
    for kind, name, inputs in rows:
        names, plans = _fold(name, widths[1]), _fold(inputs, widths[2])
        for k in range(max(len(names), len(plans))):
            cells = (kind if k == 0 else "", names[k] if k < len(names) else "",
                     plans[k] if k < len(plans) else "")  # fmt: skip
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
                         .rstrip())  # fmt: skip
    lines += ["", *summary_lines(plan)]
    for w in plan.warnings:
        lines += textwrap.wrap(f"warning: {w}", width, subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False)  # fmt: skip
    return "\n".join(lines) + "\n"
