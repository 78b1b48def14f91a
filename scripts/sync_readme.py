"""Regenerate the generated files: the README's generated parts,
``korefw/components/args.py`` and the
``config:`` block of ``Pulumi.yaml``, all from korefw/core (options and config).

Run: .venv/bin/python scripts/sync_readme.py   (tests fail when any of them is stale)
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from korefw.core.plan.config import project_schema, reference_markdown  # noqa: E402
from korefw.core.plan.options import COMPONENT_CLOUD, COMPONENT_OPTIONS, Option  # noqa: E402

ARGS_MODULE = ROOT / "korefw" / "components" / "args.py"
PULUMI_YAML = ROOT / "Pulumi.yaml"


def blocks() -> dict[str, str]:
    """Marker name -> generated Markdown."""
    example = (ROOT / "examples" / "library_use" / "__main__.py").read_text()
    return {
        "config-reference": reference_markdown(),
        "library-example": (
            "From `examples/library_use/__main__.py` (tested in `tests/test_library_use.py`):\n\n"
            f"```python\n{example}```\n"
        ),
    }


def render(text: str) -> str:
    """``text`` with every generated block replaced."""
    for name, body in blocks().items():
        pattern = re.compile(rf"(<!-- {name}:start[^>]*-->\n).*?(<!-- {name}:end -->)", re.S)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def pulumi_yaml(text: str) -> str:
    """``Pulumi.yaml``'s text with its ``config:`` block (the file's last) regenerated."""
    head = text[: text.index("\nconfig:\n") + 1]
    return head + yaml.safe_dump({"config": project_schema()}, sort_keys=False, width=100)


_PLAIN = {"string": "str", "integer": "int", "boolean": "bool"}


def _annotation(o: Option) -> str:
    if o.type == "array":
        typ = f"Sequence[{_PLAIN[o.items or 'string']}]"
    elif o.type == "map":
        typ = f"Mapping[str, {_PLAIN[o.items or 'string']}]"
    else:
        typ = _PLAIN[o.type]
    if o.input:
        typ = f"pulumi.Input[{typ}]"
    return f"Required[{typ}]" if o.required else typ


def _doc(o: Option) -> str:
    text = o.doc()
    if o.default not in (None, (), ""):
        default = list(o.default) if isinstance(o.default, tuple) else o.default
        text += f" Default: {json.dumps(default)}."
    return text.replace("\\", "\\\\").replace('"', '\\"')


def args_source() -> str:
    """The text of ``korefw/components/args.py``: one TypedDict per component, from the options."""
    out = [
        '"""The args type of each korefw component. GENERATED from korefw/core/plan/options.py by',
        "scripts/sync_readme.py: edit the options there, then rerun the script.",
        "",
        "Pulumi's component analyzer reads these annotations as objects, so this module has no",
        "``from __future__ import annotations``, and its types are TypedDicts of plain types",
        "(no unions, tuples or dataclasses). Each attribute's docstring is its schema description.",
        '"""',
        "",
        "from collections.abc import Mapping, Sequence",
        "from typing import Required, TypedDict",
        "",
        "import pulumi",
        "",
        "__all__ = [",
        *(f'    "{c}Args",' for c in sorted(COMPONENT_OPTIONS)),
        "]",
    ]
    for component, options in COMPONENT_OPTIONS.items():
        cloud = COMPONENT_CLOUD[component]
        out += [
            "",
            "",
            f"class {component}Args(TypedDict, total=False):",
            f'    """Arguments of ``korefw.{cloud}.{component}``."""',
        ]
        for o in options:
            out += ["", f"    {o.name}: {_annotation(o)}"]
            doc = _doc(o)
            if len(doc) <= 90:
                out.append(f'    """{doc}"""')
            else:  # one string (the analyzer reads a single literal) in short source lines
                parts = textwrap.wrap(doc, 88, drop_whitespace=False)
                out += ["    (", *(f'        "{p}"' for p in parts), "    )"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    readme = ROOT / "README.md"
    readme.write_text(render(readme.read_text()))
    ARGS_MODULE.write_text(args_source())
    PULUMI_YAML.write_text(pulumi_yaml(PULUMI_YAML.read_text()))
