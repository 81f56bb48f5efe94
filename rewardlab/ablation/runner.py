"""Run a sweep's grid on a backend, skipping runs the store already holds, with a progress display.

Backends run the same :func:`~rewardlab.ablation.run.execute_run`:

* ``local`` (default): one fresh spawned process per run (crash-isolated; a segfault fails one run,
  not the sweep), at most ``workers`` at a time, default the number of cores. Each process writes
  its own record atomically, and dies with the sweep (``PR_SET_PDEATHSIG``), so a sweep killed with
  SIGKILL leaves no orphan to finish a run behind the resumed sweep's back.
* ``ray``: ``ray.init()`` without resource arguments (the address comes from ``RAY_ADDRESS``; with
  resource arguments Ray refuses to join an existing cluster), bounded by a timeout (60 s,
  ``--ray-timeout`` or ``REWARDLAB_RAY_TIMEOUT``); one task per run, and records are returned to
  the driver, which writes them: workers' disks are not shared storage. A worker that dies fails
  its run only (recorded; ``--retry-failed`` runs it again).

Before any run starts, the store is locked and runs/ is probed for writability; a record that
cannot be written later (a full disk) stops the sweep with a :class:`~rewardlab.errors.StoreError`
naming the path, leaving every stored record intact.

Functions: :func:`run_sweep`, :func:`connect_ray`, :func:`ray_timeout`; class :class:`Progress`.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import queue
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rewardlab.ablation.config import RunSpec
from rewardlab.ablation.run import execute_run
from rewardlab.ablation.store import COMPLETED, FAILED, RunStore
from rewardlab.errors import ConfigError, MissingExtraError, StoreError

__all__ = ["run_sweep", "connect_ray", "ray_timeout", "Progress", "BACKENDS", "RAY_TIMEOUT_S", "RAY_TIMEOUT_ENV"]

BACKENDS = ("local", "ray")


class Progress:
    """Counts of runs done, running and failed, and the sweep's env steps per second.

    On a terminal it redraws one line; otherwise it prints a line when a run starts or ends.
    """

    def __init__(self, total: int, skipped: int, stream: TextIO | None = None, failed_earlier: int = 0):
        self.total, self.skipped, self.failed_earlier = total, skipped, failed_earlier
        self.done = self.failed = 0
        self.running: dict[str, int] = {}  # key -> env steps so far
        self.finished_steps = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self._last_draw = 0.0

    def started(self, key: str) -> None:
        self.running[key] = 0
        self.draw(force=True)

    def steps(self, key: str, n: int) -> None:
        if key in self.running:
            self.running[key] = n
            self.draw()

    def finished(self, key: str, record: dict[str, Any]) -> None:
        self.running.pop(key, None)
        self.finished_steps += int(record.get("steps") or 0)
        if record["status"] == COMPLETED:
            self.done += 1
        else:
            self.failed += 1
            spec = record.get("spec", {})
            label = f"{spec.get('env', {}).get('label')}/{spec.get('reward_name')}/{spec.get('algo', {}).get('name')}/seed {spec.get('seed')}"
            self._print(f"run {key} ({label}) failed: {record.get('error')}", newline=True)
        self.draw(force=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        sps = (self.finished_steps + sum(self.running.values())) / max(elapsed, 1e-9)
        skipped = f", {self.skipped} already in store" if self.skipped else ""
        earlier = f", {self.failed_earlier} failed earlier (kept; --retry-failed runs them again)" if self.failed_earlier else ""
        return (
            f"[ablate] {self.done + self.failed + self.skipped + self.failed_earlier}/{self.total} finished: {self.done} done, "
            f"{len(self.running)} running, {self.failed} failed{skipped}{earlier} | {sps:,.0f} steps/s | {elapsed:,.0f} s"
        )

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty and (force or now - self._last_draw > 0.5):
            self._last_draw = now
            self._print(self.line())
        elif not self.tty and force:
            self._print(self.line(), newline=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _print(self, text: str, newline: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if newline else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def run_sweep(
    runs: list[RunSpec],
    store: RunStore,
    backend: str = "local",
    workers: int | None = None,
    retry_failed: bool = False,
    stream: TextIO | None = None,
    clean: bool = False,
    ray_timeout: float | None = None,
    tensorboard_dir: str | Path | None = None,
) -> dict[str, int]:
    """Execute every run whose record is missing, corrupt or stale (or failed, with ``retry_failed``).

    Before any run trains it takes the folder's lock, checks that runs/ is writable, moves corrupt
    records aside (``<key>.json.corrupt``, each named on ``stream``) and, with ``clean``, moves
    stale records (of another config or rewardlab version) into ``stale/``.

    Each run gets its own folders, outside its spec: ``<tensorboard_dir>/<run key>/`` for its
    TensorBoard log (when ``tensorboard_dir`` is given) and, when its trainer is resumable,
    ``<store>/checkpoints/<run key>/``: a run killed mid-way (SIGKILL, a lost machine) resumes
    there from its last checkpoint on the next sweep; the folder is removed once its record is stored.

    Returns counts: ``total`` (runs of the grid), ``skipped`` (completed earlier), ``completed`` and
    ``failed`` (this call), ``failed_earlier`` (kept failed, not retried), ``failed_total`` (runs
    whose record is failed when the sweep ends), ``stale`` and ``corrupt`` (records left out or moved aside).

    Raises:
        ConfigError: a bad ``backend`` or ``workers``; Ray unreachable within ``ray_timeout``.
        StoreError: the store cannot be locked or written (named), before any run or when a record cannot be stored.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"`backend` must be one of {BACKENDS}. Received {backend!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"`workers` must be a positive integer. Received {workers!r}")
    stream = stream if stream is not None else sys.stderr
    store.lock()
    store.check_writable()
    plan = store.scan(runs, retry_failed=retry_failed, move_aside=True, clean=clean)
    for path, why in plan.corrupt:
        print(f"[ablate] corrupt record moved aside to {path} ({why}); its run is queued again", file=stream)
    if plan.stale:
        where = f"moved to {store.root / 'stale'}" if clean else "left out; `--clean` moves them to stale/"
        print(f"[ablate] {len(plan.stale)} stale record(s) of another config or rewardlab version: {where}", file=stream)
    failed_earlier = 0 if retry_failed else len(plan.failed)
    progress = Progress(len(runs), len(plan.completed), stream, failed_earlier)
    progress.draw(force=True)
    if plan.todo:
        folders = _RunFolders(store, tensorboard_dir)
        if backend == "local":
            _run_local(plan.todo, store, workers or _cores(), progress, folders)
        else:
            _run_ray(plan.todo, store, workers, progress, folders, ray_timeout)
    progress.close()
    failed_total = progress.failed + failed_earlier
    if failed_total:
        print(f"[ablate] {failed_total} of {len(runs)} runs failed (their errors are in the report); "
              "`--retry-failed` runs them again", file=stream, flush=True)  # fmt: skip
    return {
        "total": len(runs), "skipped": len(plan.completed), "completed": progress.done, "failed": progress.failed,
        "failed_earlier": failed_earlier, "failed_total": failed_total, "stale": len(plan.stale), "corrupt": len(plan.corrupt),
    }  # fmt: skip


# --- local process pool -------------------------------------------------------------------------


def _cores() -> int:
    # The cores this process may use (a container's CPU set), not the machine's.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _die_with_parent() -> None:
    # Linux: SIGKILL this process when its parent dies, so a killed sweep leaves no orphan runs.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:  # not Linux: orphans are caught by the parent-pid check in _child's callback
        pass


_STORE_FAILED = 3  # a run process's exit code when it trained but could not write its record


class _RunFolders:
    """Each run's own TensorBoard and checkpoint folders (absolute paths: Ray workers run elsewhere)."""

    def __init__(self, store: RunStore, tensorboard_dir: str | Path | None):
        self.store = store
        self.tensorboard_dir = None if tensorboard_dir is None else Path(tensorboard_dir).absolute()

    def kwargs(self, spec: RunSpec) -> dict[str, str | None]:
        from rewardlab.baselines.registry import get_trainer

        resumable = get_trainer(spec["algo"]["algo"]).resumable
        return {
            "tensorboard_dir": None if self.tensorboard_dir is None else str(self.tensorboard_dir / spec["key"]),
            "checkpoint_dir": str(self.checkpoint_dir(spec["key"])) if resumable else None,
        }

    def checkpoint_dir(self, key: str) -> Path:
        return self.store.root.absolute() / "checkpoints" / key

    def finished(self, key: str, record: dict[str, Any]) -> None:
        """A stored completed run needs its checkpoint no more; a failed one keeps it (a retry resumes)."""
        if record.get("status") == COMPLETED:
            shutil.rmtree(self.checkpoint_dir(key), ignore_errors=True)


def _child(spec: RunSpec, root: str, messages: Any, parent: int, folders: dict[str, str | None]) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the sweep died before prctl took effect
        os._exit(1)

    def report(n: int) -> None:
        if os.getppid() != parent:
            os._exit(1)
        messages.put(("steps", spec["key"], n))

    record = execute_run(spec, report, **folders)
    try:
        RunStore(root).write(record)
    except StoreError as e:  # the driver stops the sweep with this message (the disk filled, or went read-only)
        messages.put(("store_error", spec["key"], str(e)))
        messages.close()
        messages.join_thread()
        sys.exit(_STORE_FAILED)


def _run_local(todo: list[RunSpec], store: RunStore, workers: int, progress: Progress, folders: _RunFolders) -> None:
    ctx = mp.get_context("spawn")  # fork would copy the driver's torch threads and locks
    messages = ctx.Queue()
    pending = list(todo)
    running: dict[str, tuple[Any, RunSpec]] = {}
    store_error: str | None = None

    def receive(timeout: float) -> None:
        nonlocal store_error
        try:
            kind, key, payload = messages.get(timeout=timeout)
        except queue.Empty:
            return
        if kind == "steps":
            progress.steps(key, payload)
        else:
            store_error = payload

    try:
        while pending or running:
            while pending and len(running) < workers and store_error is None:
                spec = pending.pop(0)
                proc = ctx.Process(target=_child, args=(spec, str(store.root), messages, os.getpid(), folders.kwargs(spec)), daemon=True)
                proc.start()
                running[spec["key"]] = (proc, spec)
                progress.started(spec["key"])
            receive(0.2)
            for key, (proc, spec) in list(running.items()):
                if proc.exitcode is None:
                    continue
                proc.join()
                del running[key]
                if proc.exitcode == _STORE_FAILED:
                    deadline = time.monotonic() + 5.0
                    while store_error is None and time.monotonic() < deadline:
                        receive(0.2)
                    store_error = store_error or f"run {key} trained but could not write its record into `{store.runs}`"
                    continue
                record = store.get(key)
                if record is None:  # killed or segfaulted before writing: record the death
                    record = _died(spec, f"run process exited with code {proc.exitcode} without writing a record")
                    store.write(record)
                folders.finished(key, record)
                progress.finished(key, record)
            if store_error is not None:
                break
    finally:
        for proc, _ in running.values():  # a failed store (or Ctrl-C) ends the sweep; its runs end with it
            proc.kill()
            proc.join()
    if store_error is not None:
        raise StoreError(f"{store_error}. The sweep stopped; records already stored are intact, "
                         "and running the same command again resumes once the store is writable")


def _died(spec: RunSpec, error: str) -> dict[str, Any]:
    return {"key": spec["key"], "spec": spec, "seed": spec["seed"], "status": FAILED, "error": error, "traceback": "", "steps": 0}


# --- Ray ----------------------------------------------------------------------------------------


#: Seconds to wait for a Ray cluster before giving up (``--ray-timeout``, or the environment variable).
RAY_TIMEOUT_S = 60.0
RAY_TIMEOUT_ENV = "REWARDLAB_RAY_TIMEOUT"


def ray_timeout(value: float | None = None) -> float:
    """The Ray connect timeout: ``value``, else ``$REWARDLAB_RAY_TIMEOUT``, else 60 s.

    Raises:
        ConfigError: not a positive number of seconds.

    Example:
        >>> ray_timeout(5), ray_timeout("2.5")
        (5.0, 2.5)
        >>> ray_timeout(0)
        Traceback (most recent call last):
        ...
        rewardlab.errors.ConfigError: `--ray-timeout` must be a positive number of seconds. Received 0
    """
    raw: object = value if value is not None else os.environ.get(RAY_TIMEOUT_ENV, RAY_TIMEOUT_S)
    try:
        seconds = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        where = "--ray-timeout" if value is not None else RAY_TIMEOUT_ENV
        raise ConfigError(f"`{where}` must be a positive number of seconds. Received {raw!r}")
    return seconds


def connect_ray(timeout: float | None = None) -> None:
    """``ray.init()`` (the cluster at ``RAY_ADDRESS``, or a local one), bounded by :func:`ray_timeout`.

    Ray retries an unreachable address without end, so an address of the form ``host:port`` is
    probed with a TCP connect first, and ``ray.init`` itself runs in a daemon thread that is
    abandoned at the deadline (Ray has no cancellable connect).

    Raises:
        ConfigError: naming the address, when it does not answer within the timeout.
        MissingExtraError: Ray is not installed.
    """
    try:
        import ray
    except ImportError as e:
        raise MissingExtraError("`--backend ray`", "ray", e) from e
    if ray.is_initialized():
        return
    seconds = ray_timeout(timeout)
    deadline = time.monotonic() + seconds
    address = os.environ.get("RAY_ADDRESS", "")
    where = f"the Ray cluster at `{address}` (RAY_ADDRESS)" if address else "a local Ray"
    fix = "start it (`ray start --head`), fix RAY_ADDRESS, or unset it to run a local Ray"
    host_port = address.removeprefix("ray://").rsplit(":", 1)
    if len(host_port) == 2 and host_port[1].isdigit():
        error: OSError | None = None
        while True:
            try:
                socket.create_connection((host_port[0], int(host_port[1])), timeout=max(0.1, min(2.0, deadline - time.monotonic()))).close()
                break
            except OSError as e:
                error = e
            if time.monotonic() >= deadline:
                raise ConfigError(f"Cannot reach {where} within {seconds:g} s ({error}); {fix}. "
                                  f"The wait is set by --ray-timeout or {RAY_TIMEOUT_ENV}")
            time.sleep(0.25)
    if not address:  # a local Ray started by this process: nothing to wait for across a network
        ray.init()
        return
    failure: list[BaseException] = []

    def init() -> None:
        try:
            ray.init()  # no resource arguments: with them Ray refuses to join an existing cluster
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(e)

    thread = threading.Thread(target=init, name="rewardlab-ray-init", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        raise ConfigError(f"{where[0].upper()}{where[1:]} did not finish connecting within {seconds:g} s; {fix}. "
                          f"The wait is set by --ray-timeout or {RAY_TIMEOUT_ENV}")
    if failure:
        raise ConfigError(f"Cannot connect to {where}: {type(failure[0]).__name__}: {failure[0]}; {fix}") from failure[0]


def _run_ray(todo: list[RunSpec], store: RunStore, workers: int | None, progress: Progress, folders: _RunFolders,
             timeout: float | None = None) -> None:
    import ray

    connect_ray(timeout)
    remote: Callable[..., Any] = ray.remote(num_cpus=1, max_retries=0)(execute_run)
    pending = list(todo)
    in_flight: dict[Any, RunSpec] = {}
    limit = workers or len(todo)
    try:
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                spec = pending.pop(0)
                in_flight[remote.remote(spec, None, **folders.kwargs(spec))] = spec
                progress.started(spec["key"])
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                spec = in_flight.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a worker that died takes only its run with it
                    record = _died(spec, f"Ray task failed: {type(e).__name__}: {e}")
                store.write(record)  # StoreError ends the sweep: the next records could not be stored either
                folders.finished(spec["key"], record)
                progress.finished(spec["key"], record)
    finally:
        for ref in in_flight:  # only when the sweep stops early
            ray.cancel(ref, force=True)
