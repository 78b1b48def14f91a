"""Errors that name where bad input came from and what was wrong with it."""

from __future__ import annotations


class KorefwError(Exception):
    """Bad input, reported as one line: ``where: what (got 'value')``.

    ``where`` names the file and line, the cell, the stack key or the argument.
    """

    def __init__(self, message: str, *, where: str | None = None, value: object = None) -> None:
        self.where = where
        self.value = value
        self.detail = message
        text = message
        if value is not None:
            text = f"{text} (got {value!r})"
        if where:
            text = f"{where}: {text}"
        super().__init__(printable(text))


def printable(text: str) -> str:
    """``text`` with each control character escaped as ``repr`` shows it, so an error stays
    one line and a file name cannot drive the terminal (other characters are kept)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class VendorDataError(KorefwError):
    """A vendor page or rule file that cannot be read exactly."""


class PlanError(KorefwError):
    """A rule set that a planner cannot express within the cloud's limits or the options."""


class ConfigError(KorefwError):
    """A missing or invalid stack or component setting."""


class AuditError(KorefwError):
    """A cloud that cannot be read: a missing permission, no credentials, no endpoint."""
