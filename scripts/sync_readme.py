"""Regenerate the README's generated parts: the configuration reference and the library example.

Run: .venv/bin/python scripts/sync_readme.py   (tests/test_docs.py fails when the README is stale)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from korefw.core.config import reference_markdown  # noqa: E402


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


if __name__ == "__main__":
    readme = ROOT / "README.md"
    readme.write_text(render(readme.read_text()))
