"""The result store: one JSON record per run, named by the run's key, written atomically.

Layout of a sweep folder: ``config.yaml`` (the validated config of the latest ``ablate``),
``runs/<key>.json`` (one record per run), ``report.html`` and ``plots/``. A record is written to a
temporary file in the same folder, flushed to disk and moved into place with ``os.replace``, so a
reader (or a sweep resumed after SIGKILL) sees either no record or a complete one, never a partial
file. ``.lock`` keeps two sweeps from writing one folder at once.

Which records count (:meth:`RunStore.scan`): a run's key is a hash of its resolved spec (env,
reward, algorithm and hyper-parameters, budget, evaluation, seed: :func:`~rewardlab.ablation.config.run_key`).
A record counts only when it validates (:func:`check_record`), its key is a run of the current
config, and it was made by this rewardlab version (its trainers and envs make the numbers; library
versions are recorded in each record but not enforced). Others are *stale* (left out, counted;
``clean`` moves them to ``stale/``) or *corrupt* (named by path; a sweep moves them aside as
``<key>.json.corrupt`` and runs them again).

Classes: :class:`RunStore`, :class:`Scan`; function :func:`check_record`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab._io import jsonable, write_atomic
from rewardlab.errors import StoreError

__all__ = ["RunStore", "Scan", "check_record", "COMPLETED", "FAILED", "STATUSES"]

COMPLETED, FAILED = "completed", "failed"
STATUSES = (COMPLETED, FAILED)
# What the report and resume read from a record; a record lacking one is corrupt, not "finished".
_REQUIRED = {"key", "spec", "seed", "status"}
_REQUIRED_BY_STATUS = {COMPLETED: {"curve", "final", "steps", "versions"}, FAILED: {"error"}}


def _os_error(action: str, path: Path, e: OSError) -> StoreError:
    hint = {
        errno.EROFS: " (the filesystem is mounted read-only)",
        errno.ENOSPC: " (the disk is full)",
        errno.EACCES: " (no permission)",
        errno.ENOTDIR: " (a file stands where a folder must be)",
        errno.EEXIST: " (a file stands where a folder must be)",
    }.get(e.errno or 0, "")
    return StoreError(f"Cannot {action} `{path}`: {e.strerror or e}{hint}")


def check_record(record: Any, key: str) -> str | None:
    """Why ``record`` (parsed JSON of ``runs/<key>.json``) is not a valid run record, or None.

    Example:
        >>> check_record({}, "abc")
        'missing keys [key, seed, spec, status]'
    """
    from rewardlab.ablation.config import run_key

    if not isinstance(record, dict):
        return f"a record is a JSON object, found {type(record).__name__}"
    missing = _REQUIRED - set(record)
    if missing:
        return f"missing keys [{', '.join(sorted(missing))}]"
    if record["status"] not in STATUSES:
        return f"`status` must be one of {list(STATUSES)}, found {record['status']!r}"
    missing = _REQUIRED_BY_STATUS[record["status"]] - set(record)
    if missing:
        return f"a {record['status']} record needs keys [{', '.join(sorted(missing))}]"
    if record["key"] != key:
        return f"`key` is {record['key']!r} but the file is named for {key!r}"
    spec = record["spec"]
    if not isinstance(spec, dict):
        return "`spec` must be a JSON object"
    if run_key({k: v for k, v in spec.items() if k != "key"}) != key:
        return "its `spec` does not hash to its key (edited or copied from another run)"
    if record["status"] == COMPLETED:
        curve, final = record["curve"], record["final"]
        if not isinstance(curve, list) or not curve or not all(isinstance(p, dict) and {"step", "task_return", "success"} <= set(p) for p in curve):
            return "`curve` must be a non-empty list of {step, task_return, success}"
        if not isinstance(final, dict) or not {"task_return", "success"} <= set(final):
            return "`final` must hold task_return and success"
    return None


@dataclass
class Scan:
    """The store seen through a list of runs (see :meth:`RunStore.scan`)."""

    #: Valid current records, by key.
    completed: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Runs to execute: no valid current record (or failed, when retrying).
    todo: list[dict[str, Any]] = field(default_factory=list)
    #: Records left out: not a run of these runs, or made by another rewardlab version (paths; in stale/ after ``clean``).
    stale: list[Path] = field(default_factory=list)
    #: Records that do not validate: (path, why); after ``move_aside`` the path is the ``.corrupt`` file.
    corrupt: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [*self.completed.values(), *self.failed.values()]


class RunStore:
    """A folder of run records keyed by run-spec hash.

    Args:
        root: the sweep folder.
        create: make ``root/runs`` when missing (a sweep does; a report only reads).

    Raises:
        StoreError: the folder cannot be created (a file in the way, a read-only filesystem); the
            message names the path.

    Example:
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> store.write({"key": "abc123", "status": "completed", "seed": 0})
        >>> store.get("abc123")["status"], store.keys(), store.get("missing")
        ('completed', ['abc123'], None)
    """

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root)
        self.runs = self.root / "runs"
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"The sweep folder `{self.root}` is a file, not a folder; pass another --out")
        if create:
            try:
                self.runs.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise _os_error("create the sweep folder", self.runs, e) from e
        self._lock: Any = None

    def path(self, key: str) -> Path:
        return self.runs / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The parsed record of run `key`, or None if it has none (not validated: see :meth:`scan`).

        Raises:
            StoreError: the file is not valid JSON (named), or cannot be read.
        """
        path = self.path(key)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as e:
            raise StoreError(f"Run record `{path}` is not valid JSON: {e}") from e
        except OSError as e:
            raise _os_error("read", path, e) from e

    def write(self, record: dict[str, Any]) -> None:
        """Write a record atomically (temp file in the same folder, fsync, os.replace).

        Raises:
            StoreError: the record cannot be written (full disk, read-only filesystem); nothing
                partial is left behind, and a record already at that path is unchanged.
        """
        path = self.path(record["key"])
        try:
            # ".tmp-" is the prefix lock() sweeps up after killed writers.
            write_atomic(path, json.dumps(record, default=jsonable), prefix=".tmp-")
        except OSError as e:
            raise _os_error("write the run record", path, e) from e

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.runs.glob("*.json") if not p.name.startswith("."))

    def records(self) -> list[dict[str, Any]]:
        """Every parsed record in runs/, current or not (see :meth:`scan` for the ones that count)."""
        return [r for k in self.keys() if (r := self.get(k)) is not None]

    def check_writable(self) -> None:
        """Create and remove a probe file in runs/ (before any run trains, so none is lost at the end).

        Raises:
            StoreError: naming runs/ and the OS error.
        """
        probe = self.runs / f".probe-{os.getpid()}"
        try:
            probe.write_text("probe")
            probe.unlink()
        except OSError as e:
            raise _os_error("write run records into", self.runs, e) from e

    def scan(self, runs: list[dict[str, Any]], retry_failed: bool = False, move_aside: bool = False,
             clean: bool = False, version: str | None = None) -> Scan:
        """Sort the records in runs/ against ``runs`` (the current config's expanded grid).

        Args:
            runs: run specs with their ``key``.
            retry_failed: put runs whose record failed back in ``todo``.
            move_aside: what a sweep does before it runs ``todo``: rename each corrupt record to
                ``<key>.json.corrupt``, and move a record of another rewardlab version at a current key to ``stale/``.
            clean: move stale records into ``stale/`` (moved, not deleted, so nothing is lost by a typo).
            version: the rewardlab version records must carry (default: this one).

        A record at a current key made by another rewardlab version is stale and its run is in
        ``todo``; a sweep moves it to ``stale/`` before running it again (only one record fits a key).
        """
        import rewardlab

        version = version or rewardlab.__version__
        by_key = {spec["key"]: spec for spec in runs}
        out = Scan()
        for key in self.keys():
            path = self.path(key)
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # moved away meanwhile (a --clean of another process)
                continue
            except OSError as e:  # unreadable is not corrupt: say so rather than move it aside
                raise _os_error("read", path, e) from e
            try:
                rec = json.loads(data.decode())
                problem = check_record(rec, key)
            except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
                rec, problem = None, f"not valid JSON: {e}"
            if problem is not None:
                if move_aside:
                    path = self._move(path, path.with_name(path.name + ".corrupt"))
                out.corrupt.append((path, problem))
                continue
            made_by = (rec.get("versions") or {}).get("rewardlab", version)  # a failed run's death record may have none
            if key not in by_key or made_by != version:
                if clean or (key in by_key and move_aside):
                    path = self._move(path, self.root / "stale" / path.name)
                out.stale.append(path)
                continue
            (out.completed if rec["status"] == COMPLETED else out.failed)[key] = rec
        for key, spec in by_key.items():
            if key not in out.completed and (key not in out.failed or retry_failed):
                out.todo.append(spec)
        return out

    def _move(self, src: Path, dst: Path) -> Path:
        # Never overwrite an earlier aside copy: <name>, <name>.1, <name>.2, ...
        dst.parent.mkdir(exist_ok=True)
        target, n = dst, 0
        while target.exists():
            n += 1
            target = dst.with_name(f"{dst.name}.{n}")
        try:
            shutil.move(src, target)
        except OSError as e:
            raise _os_error("move aside", src, e) from e
        return target

    def lock(self) -> None:
        """Hold an exclusive lock on the folder until the process ends (the OS drops it on SIGKILL).

        Raises:
            StoreError: another sweep holds it, or the folder is not writable.
        """
        if self._lock is not None:
            return
        path = self.root / ".lock"
        try:
            self._lock = open(path, "w")  # noqa: SIM115 - held for the process lifetime
        except OSError as e:
            raise _os_error("create the lock file", path, e) from e
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            self._lock.close()
            self._lock = None
            raise StoreError(f"Another sweep is writing to `{self.root}`; wait for it or use another --out") from e
        # Leftover temp files are from writers that were killed; no finished record refers to them.
        for tmp in self.runs.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)

    def write_text(self, name: str, text: str) -> Path:
        """Write ``root/name`` atomically (config.yaml, report.html).

        Raises:
            StoreError: naming the path.
        """
        path = self.root / name
        try:
            write_atomic(path, text)
        except OSError as e:
            raise _os_error("write", path, e) from e
        return path
