"""Stable names: derived from content, never from list position."""

from __future__ import annotations

import hashlib
import re


def digest(*parts: object, length: int = 8) -> str:
    """A short hex digest of ``parts``; the same parts always give the same digest."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def slug(text: str, *, max_len: int = 40, allowed: str = r"A-Za-z0-9-") -> str:
    """Lower-case ``text`` with runs of other characters folded to ``-``, cut to ``max_len``."""
    out = re.sub(rf"[^{allowed}]+", "-", text.strip().lower()).strip("-")
    return out[:max_len].rstrip("-")
