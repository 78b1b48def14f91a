"""Reading one input file: a regular file of UTF-8 text, or one error naming it.

Opening a FIFO blocks until a writer comes and a device never ends, so anything but a
regular file is refused before it is opened.
"""

from __future__ import annotations

import stat
from pathlib import Path

from .errors import KorefwError


def read_input_text(path: str | Path, *, what: str = "",
                    error: type[KorefwError] = KorefwError) -> str:  # fmt: skip
    """The UTF-8 text of the regular file ``path``; ``what`` names it in the message."""
    p = Path(path)
    try:
        text = read_input_bytes(p, what=what, error=error).decode("utf-8")
        # Universal newlines, as Path.read_text reads them.
        return text.replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise error(f"{what or 'file'} is not UTF-8 text (byte {exc.start})",
                    where=str(p)) from None  # fmt: skip


def read_input_bytes(path: str | Path, *, what: str = "",
                     error: type[KorefwError] = KorefwError) -> bytes:  # fmt: skip
    """The bytes of the regular file ``path``; ``what`` names it in the message."""
    p = Path(path)
    reading = f"cannot read {what}" if what else "cannot read"
    try:
        mode = p.stat().st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{reading}: is a folder", where=str(p))
        if not stat.S_ISREG(mode):
            raise error(f"{reading}: not a regular file (FIFO, socket or device)",
                        where=str(p))  # fmt: skip
        return p.read_bytes()
    except OSError as exc:
        raise error(f"{reading}: {exc.strerror or exc}", where=str(p)) from None
