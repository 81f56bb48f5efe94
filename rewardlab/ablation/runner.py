"""Run a sweep's grid on a backend, skipping runs the store already holds, with a progress display.

Backends run the same :func:`~rewardlab.ablation.run.execute_run`:

* ``local`` (default): one fresh spawned process per run (crash-isolated; a segfault fails one run,
  not the sweep), at most ``workers`` at a time, default the number of cores. Each process writes
  its own record atomically, and dies with the sweep (``PR_SET_PDEATHSIG``), so a sweep killed with
  SIGKILL leaves no orphan to finish a run behind the resumed sweep's back.
* ``ray``: ``ray.init()`` without resource arguments (the address comes from ``RAY_ADDRESS``; with
  resource arguments Ray refuses to join an existing cluster), one task per run, and records are
  returned to the driver, which writes them: workers' disks are not shared storage.

Functions: :func:`run_sweep`; class :class:`Progress`.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from rewardlab.ablation.config import RunSpec
from rewardlab.ablation.run import execute_run
from rewardlab.ablation.store import COMPLETED, FAILED, RunStore
from rewardlab.errors import ConfigError, MissingExtraError

__all__ = ["run_sweep", "Progress", "BACKENDS"]

BACKENDS = ("local", "ray")


class Progress:
    """Counts of runs done, running and failed, and the sweep's env steps per second.

    On a terminal it redraws one line; otherwise it prints a line when a run starts or ends.
    """

    def __init__(self, total: int, skipped: int, stream: TextIO | None = None):
        self.total, self.skipped = total, skipped
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
        return (
            f"[ablate] {self.done + self.failed + self.skipped}/{self.total} finished: {self.done} done, "
            f"{len(self.running)} running, {self.failed} failed{skipped} | {sps:,.0f} steps/s | {elapsed:,.0f} s"
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
) -> dict[str, int]:
    """Execute every run whose record is missing (or failed, with ``retry_failed``); returns counts."""
    if backend not in BACKENDS:
        raise ConfigError(f"`backend` must be one of {BACKENDS}. Received {backend!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"`workers` must be a positive integer. Received {workers!r}")
    store.lock()
    todo = []
    for spec in runs:
        record = store.get(spec["key"])
        if record is None or (retry_failed and record["status"] == FAILED):
            todo.append(spec)
    progress = Progress(len(runs), len(runs) - len(todo), stream)
    progress.draw(force=True)
    if todo:
        if backend == "local":
            _run_local(todo, store, workers or _cores(), progress)
        else:
            _run_ray(todo, store, workers, progress)
    progress.close()
    return {"total": len(runs), "skipped": progress.skipped, "completed": progress.done, "failed": progress.failed}


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


def _child(spec: RunSpec, root: str, messages: Any, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the sweep died before prctl took effect
        os._exit(1)

    def report(n: int) -> None:
        if os.getppid() != parent:
            os._exit(1)
        messages.put((spec["key"], n))

    RunStore(root).write(execute_run(spec, report))


def _run_local(todo: list[RunSpec], store: RunStore, workers: int, progress: Progress) -> None:
    ctx = mp.get_context("spawn")  # fork would copy the driver's torch threads and locks
    messages = ctx.Queue()
    pending = list(todo)
    running: dict[str, tuple[Any, RunSpec]] = {}
    while pending or running:
        while pending and len(running) < workers:
            spec = pending.pop(0)
            proc = ctx.Process(target=_child, args=(spec, str(store.root), messages, os.getpid()), daemon=True)
            proc.start()
            running[spec["key"]] = (proc, spec)
            progress.started(spec["key"])
        try:
            key, n = messages.get(timeout=0.2)
            progress.steps(key, n)
        except queue.Empty:
            pass
        for key, (proc, spec) in list(running.items()):
            if proc.exitcode is None:
                continue
            proc.join()
            del running[key]
            record = store.get(key)
            if record is None:  # killed or segfaulted before writing: record the death
                record = _died(spec, f"run process exited with code {proc.exitcode} without writing a record")
                store.write(record)
            progress.finished(key, record)


def _died(spec: RunSpec, error: str) -> dict[str, Any]:
    return {"key": spec["key"], "spec": spec, "seed": spec["seed"], "status": FAILED, "error": error, "traceback": "", "steps": 0}


# --- Ray ----------------------------------------------------------------------------------------


def _run_ray(todo: list[RunSpec], store: RunStore, workers: int | None, progress: Progress) -> None:
    try:
        import ray
    except ImportError as e:
        raise MissingExtraError("`--backend ray`", "ray", e) from e
    if not ray.is_initialized():
        ray.init()  # RAY_ADDRESS selects the cluster; no resource arguments (they fail against a cluster)
    remote: Callable[..., Any] = ray.remote(num_cpus=1, max_retries=0)(execute_run)
    pending = list(todo)
    in_flight: dict[Any, RunSpec] = {}
    limit = workers or len(todo)
    while pending or in_flight:
        while pending and len(in_flight) < limit:
            spec = pending.pop(0)
            in_flight[remote.remote(spec)] = spec
            progress.started(spec["key"])
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
        for ref in ready:
            spec = in_flight.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a worker that died takes only its run with it
                record = _died(spec, f"Ray task failed: {type(e).__name__}: {e}")
            store.write(record)
            progress.finished(spec["key"], record)
