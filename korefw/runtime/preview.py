"""``korefw plan``: an offline preview of a stack, through the real program and providers."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.inputfile import load_yaml, read_input_text
from ..core.plan.config import PROJECT, validate
from .offline import OfflinePlan, Resource, run_offline
from .program import PROJECT_DIR, stack_file


def load_stack(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The ``config:`` mapping of ``stacks/Pulumi.<stack>.yaml``, checked against the schema."""
    rel = stack_file(stack)
    path = project_dir / rel
    if not path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("*.yaml")
                       if p.is_file())  # fmt: skip
        raise ConfigError(f"no such stack; known: {', '.join(known)}", where=rel, value=stack)
    text = read_input_text(path, what="stack settings", error=ConfigError)
    doc = load_yaml(text, where=rel, error=ConfigError) or {}
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise ConfigError("expected a 'config:' mapping", where=rel, value=type(config).__name__)
    unknown = set(doc) - {"config", "encryptionsalt", "secretsprovider", "encryptedkey"}
    if unknown:
        raise ConfigError("unknown top-level key", where=rel, value=sorted(unknown)[0])
    try:
        validate(config, where=rel)  # fail before the program runs, naming file and key
    except RecursionError:
        raise ConfigError("a setting nested too deeply to read", where=rel) from None
    return config


def plan_stack(stack: str, project_dir: Path = PROJECT_DIR) -> OfflinePlan:
    """Run ``__main__.py`` for ``stack`` under Pulumi's mock runtime."""
    config = load_stack(stack, project_dir)
    main = project_dir / "__main__.py"
    return run_offline(
        lambda: runpy.run_path(str(main), run_name="__main__"),
        project=PROJECT,
        stack=stack,
        config=config,
    )


def stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Every stack that has a settings file under ``stacks/``."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (project_dir / "stacks").glob(
        "Pulumi.*.yaml"))  # fmt: skip


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


def render_text(plan: OfflinePlan) -> str:
    """A resource tree like ``pulumi preview`` and a summary."""
    depth: dict[str, int] = {"": -1}
    rows = []
    for r in plan.resources:
        depth[r.urn] = depth.get(r.parent, -1) + 1
        rows.append(("   " * depth[r.urn] + r.type, r.name, summarize(r)))
    w1 = max(len(a) for a, _, _ in rows)
    w2 = max(len(b) for _, b, _ in rows)
    out = [f"Previewing stack {plan.stack} (offline, Pulumi mock runtime)", ""]
    out.append(f"     {'Type':<{w1}}  {'Name':<{w2}}  Key inputs")
    out += [f" +   {a:<{w1}}  {b:<{w2}}  {c}".rstrip() for a, b, c in rows]
    o = plan.stack_outputs
    out += ["", f"Resources: + {len(plan.resources)} to create"]
    for key in ("awsQuotaUsed", "awsRuleCount", "azureRules"):
        if key in o:
            value = o[key]
            shown = len(value) if key == "azureRules" and isinstance(value, list) else value
            out.append(f"  {key}: {shown}")
    unenforced = [*o.get("awsUnenforcedFqdnRules", []), *o.get("azureUnenforcedFqdnRules", [])]
    out.append(f"  unenforced FQDN rules: {len(unenforced)}")
    out += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(out) + "\n"
