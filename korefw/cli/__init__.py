"""The ``korefw`` command line: ``app.py`` (the parser and entry point; rules, check, lint,
schema), ``pages.py`` (import, fetch) and ``stacks.py`` (plan, diff, verify, export, render),
over ``common.py``."""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
