"""Reading one input file: a regular file of UTF-8 text, or one error naming it.

Opening a FIFO blocks until a writer comes and a device never ends, so anything but a
regular file is refused before it is opened.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from .errors import KorefwError

#: The largest input file read (vendor pages, rule data, settings, previews, exports):
#: far above any real one, so a huge or sparse file is one error, not gigabytes in memory.
MAX_INPUT_BYTES = 256 * 2**20


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
        st = p.stat()
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{reading}: is a folder", where=str(p))
        if not stat.S_ISREG(mode):
            raise error(f"{reading}: not a regular file (FIFO, socket or device)",
                        where=str(p))  # fmt: skip
        data = b""
        if st.st_size <= MAX_INPUT_BYTES:
            with p.open("rb") as f:
                data = f.read(MAX_INPUT_BYTES + 1)  # bounded even if the file grew meanwhile
        if st.st_size > MAX_INPUT_BYTES or len(data) > MAX_INPUT_BYTES:
            raise error(f"{reading}: larger than {MAX_INPUT_BYTES // 2**20} MiB", where=str(p))
        return data
    except OSError as exc:
        raise error(f"{reading}: {exc.strerror or exc}", where=str(p)) from None


#: How many nodes aliases may add to a YAML file when expanded. A few anchors reused are
#: fine; an alias bomb ("billion laughs": each level lists the one above ten times) adds
#: billions, and anything that walks the loaded settings would never finish.
MAX_YAML_ALIAS_NODES = 100_000


def load_yaml(text: str, *, where: str, error: type[KorefwError] = KorefwError,
              every: bool = False) -> Any:  # fmt: skip
    """The YAML document in ``text`` (with ``every``, the list of its documents), read by
    PyYAML's safe loader; aliases that expand past :data:`MAX_YAML_ALIAS_NODES` or refer to
    themselves are refused before anything is built."""
    import yaml  # pyyaml is a base dependency, but only YAML readers need it loaded

    try:
        # The reader checks every character as the loader is made (ReaderError).
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}".splitlines()[0], where=where) from None
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            _check_aliases(node, where, error)
            docs.append(loader.construct_document(node))
            if not every and loader.check_node():
                raise error("expected one YAML document, found several", where=where)
        return docs if every else (docs[0] if docs else None)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}".splitlines()[0], where=where) from None
    except RecursionError:
        raise error("YAML nested too deeply to read", where=where) from None
    finally:
        loader.dispose()


def _check_aliases(root: Any, where: str, error: type[KorefwError]) -> None:
    """Refuse a node graph whose aliases expand it by too much, or into a cycle."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes whose children are being sized: the ancestors
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        kids = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(k)] for k in kids)
            continue
        if id(node) in sizes:
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_nodes:
                raise error("a YAML alias refers to a node that holds it", where=where)
            if id(kid) not in sizes:
                stack.append((kid, False))
    added = sizes[id(root)] - len(sizes)
    if added > MAX_YAML_ALIAS_NODES:
        raise error(
            f"YAML aliases expand the file by {added} nodes (at most {MAX_YAML_ALIAS_NODES}: "
            "an alias bomb?)",
            where=where,
        )


def _children(node: Any) -> list[Any]:
    value = getattr(node, "value", None)
    if not isinstance(value, list):
        return []  # a scalar
    return [n for item in value for n in (item if isinstance(item, tuple) else (item,))]
