"""Writing an export: to a path atomically, or to an open file object in one write.

An export is rendered completely in memory first, so a failure while rendering
writes nothing anywhere. A path is written through a temporary file in the same
folder, flushed to disk, then moved over the target with ``os.replace``: readers
see the old file or the new one, never half of it. A file object gets the whole
rendering in one ``write`` (text or bytes, whichever the file takes).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from zettelmem.errors import ExportError

__all__ = ["Destination", "write_export"]

#: Where an export goes: a path, or a text or binary file object open for writing.
Destination = str | os.PathLike[str] | IO[str] | IO[bytes]


def _is_text(f: Any) -> bool:
    if isinstance(f, io.TextIOBase):
        return True
    if isinstance(f, io.RawIOBase | io.BufferedIOBase):
        return False
    mode = getattr(f, "mode", "")
    return isinstance(mode, str) and "b" not in mode and hasattr(f, "encoding")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open applies the umask like a plain open() would (mkstemp would make it 0600);
    # an existing target keeps its permissions.
    try:
        keep: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        keep = None
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if keep is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), keep)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_export(render: Callable[[], str | bytes], dest: Destination, what: str) -> None:
    """Render an export, then write it to ``dest``.

    Args:
        render: builds the whole export (str for text formats, bytes for XML).
        dest: a path or a file object open for writing (text or binary).
        what: the format's name, for error messages.

    Raises:
        ExportError: rendering failed or the destination could not be written;
            the original exception is chained.
    """
    try:
        data = render()
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"cannot render {what} export: {exc}") from exc
    if isinstance(dest, str | os.PathLike):
        raw = data.encode("utf-8") if isinstance(data, str) else data
        path = Path(os.fspath(dest))
        if path.is_dir():
            raise ExportError(f"cannot write {what} export to {path}: it is a directory")
        if not path.parent.exists():
            raise ExportError(f"cannot write {what} export to {path}: folder {path.parent} does not exist")
        try:
            atomic_write_bytes(path, raw)
        except OSError as exc:
            raise ExportError(f"cannot write {what} export to {path}: {exc}") from exc
        return
    if not hasattr(dest, "write"):
        raise ExportError(f"cannot write {what} export to {dest!r}: not a path or a writable file object")
    try:
        if _is_text(dest):
            cast("IO[str]", dest).write(data.decode("utf-8") if isinstance(data, bytes) else data)
        else:
            cast("IO[bytes]", dest).write(data.encode("utf-8") if isinstance(data, str) else data)
    except (OSError, TypeError, ValueError) as exc:
        raise ExportError(f"cannot write {what} export to {dest!r}: {exc}") from exc
