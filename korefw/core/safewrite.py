"""Writing output files so that a failed command changes no file.

:func:`check_output_file` refuses a path that cannot take a regular file (missing
folder, a folder, a FIFO or device, a file where a folder is expected) before any work
is done. :func:`write_files` writes several files as one step: every new content goes to
a temporary file beside its target first, then each is moved into place with
:func:`os.replace`; if any step fails, the files already replaced get their old bytes
back and the temporary files are removed. :func:`new_folders` creates the folders such
files need, and removes them again if the command fails.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .errors import KorefwError


def check_output_file(path: str | Path, *, where: str) -> Path:
    """``path`` as a :class:`Path` if a regular file can be written there, else one error.

    ``where`` names the option (``-o``, ``--out-dir``) in the message.
    """
    if not str(path).strip():  # Path("") is "."
        raise KorefwError("expected a file name", where=where, value=str(path))
    p = Path(path)
    parent = p.parent
    try:
        pst = parent.stat()
    except FileNotFoundError:
        raise KorefwError("folder does not exist", where=where, value=str(parent)) from None
    except NotADirectoryError:
        raise KorefwError("a file stands where a folder is expected", where=where,
                          value=str(parent)) from None  # fmt: skip
    except OSError as exc:
        raise KorefwError(f"cannot use folder: {exc.strerror}", where=where,
                          value=str(parent)) from None  # fmt: skip
    if not stat.S_ISDIR(pst.st_mode):
        raise KorefwError("a file stands where a folder is expected", where=where,
                          value=str(parent))  # fmt: skip
    try:
        st = p.stat()
    except FileNotFoundError:
        return p
    except OSError as exc:
        raise KorefwError(f"cannot use path: {exc.strerror}", where=where, value=str(p)) from None
    if stat.S_ISDIR(st.st_mode):
        raise KorefwError("is a folder, expected a file", where=where, value=str(p))
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO for writing would block until a reader comes; a device is never data.
        raise KorefwError("not a regular file (FIFO, socket or device)", where=where, value=str(p))
    return p


def check_output_dir(path: str | Path, *, where: str, create: bool = False) -> Path:
    """``path`` as a :class:`Path` if it is an existing folder, else one error.

    With ``create``, a missing folder is accepted when its nearest existing ancestor is a
    folder: :func:`new_folders` makes it when the files are written (and removes it again
    if the command fails).
    """
    if not str(path).strip():  # Path("") is ".": an unset `-o "$OUT"` is no folder
        raise KorefwError("expected a folder name", where=where, value=str(path))
    p = Path(path)
    if not p.exists():
        if not create:
            raise KorefwError("folder does not exist", where=where, value=str(p))
        above = next((a for a in p.parents if a.exists()), None)
        if above is not None and not above.is_dir():
            raise KorefwError("a file stands where a folder is expected", where=where,
                              value=str(above))  # fmt: skip
        return p
    if not p.is_dir():
        raise KorefwError("not a folder", where=where, value=str(p))
    return p


def write_files(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: temporary files first, then :func:`os.replace` each.

    On any failure the replaced files are restored, new ones removed, and a
    :class:`KorefwError` names the file.
    """
    import tempfile  # here, not at the top: a cold `korefw rules` need not pay for it

    for path in files:
        check_output_file(path, where=str(path))
    temps: dict[Path, str] = {}
    done: list[tuple[Path, bytes | None]] = []
    current = next(iter(files), Path())
    try:
        for path, data in files.items():
            current = path
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps[path] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if path.exists():
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
            else:
                os.chmod(tmp, 0o644)
        for path in files:
            current = path
            old = path.read_bytes() if path.exists() else None
            os.replace(temps[path], path)
            del temps[path]
            done.append((path, old))
    except OSError as exc:
        for path, old in reversed(done):
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink()
                else:
                    path.write_bytes(old)
        raise KorefwError(f"cannot write: {exc.strerror or exc}", where=str(current)) from None
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def new_folders(root: Path, files: Iterable[str | Path], *, where: str) -> Iterator[None]:
    """Create the missing folders down to each of ``files`` (relative to ``root``),
    ``root`` and its missing ancestors included; if that or the ``with`` block fails,
    remove the folders it created.

    ``where`` names the option in the error when a folder cannot be created.
    """
    created: list[Path] = []
    try:
        for rel in files:
            for folder in reversed((root / rel).parents):
                if not folder.exists():
                    try:
                        folder.mkdir()
                    except OSError as exc:
                        raise KorefwError(f"cannot create folder: {exc.strerror or exc}",
                                          where=where, value=str(folder)) from None  # fmt: skip
                    created.append(folder)
        yield
    except BaseException:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
