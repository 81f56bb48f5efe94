"""Atomic file writes, shared by every store rewardlab keeps (run records, the LLM cache, search folders, labels)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_atomic", "jsonable"]


def write_atomic(path: str | os.PathLike[str], data: str | bytes, prefix: str | None = None) -> None:
    """Write `data` to `path` so that a reader (or a run resumed after SIGKILL) sees the old file or
    the new one, never a partial one: a temporary file in the same folder (``os.replace`` is atomic
    only within one file system), fsync, rename. On failure no temporary file is left behind.

    Args:
        path: the file to write; its folder must exist.
        data: text (written as UTF-8) or bytes.
        prefix: the temporary file's name prefix (default ``.<name>.``), for stores that sweep up
            the leftovers of killed writers by name.

    Raises:
        OSError: the file cannot be written (full disk, read-only filesystem, missing folder).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "record.json"
        >>> write_atomic(p, '{"status": "completed"}')
        >>> p.read_text(), sorted(q.name for q in p.parent.iterdir())
        ('{"status": "completed"}', ['record.json'])
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix or f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def jsonable(x: Any) -> Any:
    """``json.dump``'s ``default=``: numpy scalars and arrays as lists (NaN stays NaN), paths as strings."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"Cannot write {type(x).__name__} to JSON")
