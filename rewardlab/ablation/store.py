"""The result store: one JSON record per run, named by the run's config hash, written atomically.

Layout of a sweep folder: ``config.yaml`` (the validated config), ``runs/<key>.json`` (one record
per run), ``report.html`` and ``plots/``. A record is written to a temporary file in the same
folder, flushed to disk and moved into place with ``os.replace``, so a reader (or a sweep resumed
after SIGKILL) sees either no record or a complete one, never a partial file. ``.lock`` keeps two
sweeps from writing one folder at once.

Class: :class:`RunStore`.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rewardlab.errors import ConfigError

__all__ = ["RunStore", "COMPLETED", "FAILED"]

COMPLETED, FAILED = "completed", "failed"


class RunStore:
    """A folder of run records keyed by config hash.

    Example:
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> store.write({"key": "abc123", "status": "completed", "seed": 0})
        >>> store.get("abc123")["status"], store.keys(), store.get("missing")
        ('completed', ['abc123'], None)
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        self._lock: Any = None

    def path(self, key: str) -> Path:
        return self.runs / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of run `key`, or None if it has none."""
        try:
            return json.loads(self.path(key).read_text())
        except FileNotFoundError:
            return None

    def write(self, record: dict[str, Any]) -> None:
        """Write a record atomically (temp file in the same folder, fsync, os.replace)."""
        fd, tmp = tempfile.mkstemp(dir=self.runs, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f, default=_jsonable)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(record["key"]))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.runs.glob("*.json") if not p.name.startswith("."))

    def records(self) -> list[dict[str, Any]]:
        return [r for k in self.keys() if (r := self.get(k)) is not None]

    def lock(self) -> None:
        """Hold an exclusive lock on the folder until the process ends (the OS drops it on SIGKILL)."""
        self._lock = open(self.root / ".lock", "w")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise ConfigError(f"Another sweep is writing to `{self.root}`; wait for it or use another --out") from e
        # Leftover temp files are from writers that were killed; no finished record refers to them.
        for tmp in self.runs.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)


def _jsonable(x: Any) -> Any:
    # numpy scalars and arrays reach records from metrics; NaN stays NaN (json writes it as NaN).
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"Cannot write {type(x).__name__} to a run record")
