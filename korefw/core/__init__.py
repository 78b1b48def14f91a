"""The pure core, one folder per pipeline stage: ``read``, ``rules``, ``plan``, ``check``.

Nothing under ``korefw.core`` imports ``pulumi``; a test enforces it.
See docs/architecture.md.
"""
