"""Parent side of the reward-code sandbox: a persistent worker process, its framing and its wall clock.

Classes: :class:`SandboxWorker` (one worker process: start, load, call, kill, restart),
:class:`RewardSandbox` (a worker bound to one piece of code, reloaded after every restart),
:class:`BatchResult`, :class:`RowError`, :class:`SandboxError`. Functions: :func:`pack_rows`
(transitions -> one float64 matrix and its layout), :func:`bwrap_available`.

Layers, outermost first (``SandboxWorker.layers`` says which are active):

* ``subprocess`` -- the code never runs in the trainer's process. The worker is a fresh
  interpreter started with ``subprocess.Popen`` (no fork of a trainer that may hold torch threads),
  ``-s -B -P`` (no user site, no bytecode writes, no script directory on ``sys.path``), in its own
  session, and with a clean environment: thread counts pinned to 1 and ``PYTHONHASHSEED=0``, and
  none of the parent's variables (API keys stay out).
* ``bwrap`` -- when ``/usr/bin/bwrap`` works here: ``--unshare-all`` (no network: an empty network
  namespace), ``--die-with-parent``, ``--new-session``, ``/`` bound read-only, a private ``/tmp``.
* ``rlimits`` -- ``RLIMIT_AS`` (1 GiB default: a memory bomb gets MemoryError), ``RLIMIT_FSIZE=0``,
  ``RLIMIT_CORE=0``, a per-call ``RLIMIT_CPU`` backstop; ``no-new-fds`` -- ``RLIMIT_NOFILE`` at the
  descriptors already open (the pipes).
* ``seccomp`` -- when ``pyseccomp`` imports: EPERM for sockets, clone/clone3/fork/vfork/execve/
  execveat, kill, ptrace and every file open or path change after start-up.
* the parent's wall clock -- ``poll`` on the pipe with a deadline; on expiry the worker is killed
  (its whole process group) and a new one is started at once, so the next call waits less.

Replies are parsed with :mod:`struct` and :func:`numpy.frombuffer` only, with every length checked;
a malformed reply is treated as a dead worker. Nothing from the worker is unpickled or evaluated.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._array import host
from rewardlab.errors import RewardlabError
from rewardlab.shaping.info import info_column
from rewardlab.shaping.llm.worker import LAYER_BITS, MAX_COMPONENTS, STATUS

__all__ = ["SandboxWorker", "RewardSandbox", "BatchResult", "RowError", "SandboxError", "pack_rows", "bwrap_available", "STATUS_NAMES"]

BWRAP = "/usr/bin/bwrap"
STATUS_NAMES = {v: k for k, v in STATUS.items()}
_BWRAP_FLAGS = ["--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/tmp"]
# Loads the worker module from this package's folder without running rewardlab/__init__.py (which
# imports every env family, gymnasium and ~500 modules: a second of start-up, and all of it within
# the reach of the sandboxed code). Parent packages become empty stubs; only worker.py and views.py run.
_BOOT = (
    "import sys, types\n"
    "root = sys.argv[1]\n"
    "for name, sub in (('rewardlab', ''), ('rewardlab.shaping', '/shaping'), ('rewardlab.shaping.llm', '/shaping/llm')):\n"
    "    m = types.ModuleType(name); m.__path__ = [root + sub]; sys.modules[name] = m\n"
    "from rewardlab.shaping.llm import worker\n"
    "worker.main(sys.argv[2])\n"
)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class SandboxError(RewardlabError, RuntimeError):
    """The sandbox worker could not be started or answered outside the protocol."""


class _Timeout(Exception):
    pass


class _Died(Exception):
    pass


@dataclass(frozen=True)
class RowError:
    """The first failing row of a call: its index, status name, line in the reward code, exception type and message."""

    row: int
    status: str
    line: int | None
    exc_type: str
    message: str


@dataclass
class BatchResult:
    """What one call returned: per-row status codes (:data:`STATUS`), totals, CPU latency and components."""

    status: np.ndarray  # (n,) uint8
    totals: np.ndarray  # (n,) float64, 0 where status != 0
    latency_ns: np.ndarray  # (n,) float64, thread CPU time of each call (0 unless timed)
    components: np.ndarray  # (n, m) float64
    names: list[str]
    error: RowError | None
    wall_s: float

    @property
    def ok(self) -> np.ndarray:
        return self.status == 0

    @classmethod
    def failed(cls, n: int, status: str, message: str, wall_s: float, line: int | None = None, exc_type: str = "") -> BatchResult:
        return cls(np.full(n, STATUS[status], dtype=np.uint8), np.zeros(n), np.zeros(n), np.zeros((n, 0)), [],
                   RowError(0, status, line, exc_type, message), wall_s)


@lru_cache(maxsize=1)
def bwrap_available() -> bool:
    """Whether bubblewrap exists and can create its namespaces here (checked once per process)."""
    if not os.path.exists(BWRAP):
        return False
    try:
        # The same rebinds as a real worker: a venv under /tmp (a CI clone) is hidden by the private /tmp otherwise.
        probe = [BWRAP, *_BWRAP_FLAGS, *_rebind_under_tmp(sys.prefix, sys.base_prefix), "--", sys.executable, "-c", "pass"]
        done = subprocess.run(probe, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, env=_clean_env("/tmp"))
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@lru_cache(maxsize=1)
def _seccomp_libraries() -> dict[str, str]:
    """Shared-library names pyseccomp looks up (found once here, so each worker start skips ``ldconfig``)."""
    import ctypes.util

    return {name: found for name in ("c", "seccomp") if (found := ctypes.util.find_library(name))}


def _rebind_under_tmp(*paths: str) -> list[str]:
    """Read-only binds for the paths the private ``/tmp`` would hide (a venv, this package or the cwd under /tmp)."""
    out: list[str] = []
    for p in dict.fromkeys(os.path.realpath(p) for p in paths):
        if p == "/tmp" or p.startswith("/tmp/"):
            out += ["--ro-bind", p, p]
    return out


def _clean_env(tmpdir: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "TMPDIR": tmpdir, "HOME": tmpdir}
    env.update({v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")})
    return env


def _kill_process(proc: subprocess.Popen, owner: int) -> None:
    """SIGKILL the worker's process group (bwrap and its child, or the bare worker) and reap it.

    Only the process that started the worker does this: a forked copy of the trainer (a process
    pool) inherits the handle, and its exit must not kill the parent's worker.
    """
    if os.getpid() != owner:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process is reaped at once
        pass


class SandboxWorker:
    """One persistent sandboxed worker process (see the module docstring for its layers).

    Args:
        memory_mb: ``RLIMIT_AS`` of the worker.
        cpu_s: CPU seconds one call may use before the kernel's ``SIGXCPU`` (a backstop behind the wall clock).
        cwd: the worker's working directory (and ``TMPDIR``); a fresh read-only view under bwrap.
        isolation: ``"auto"`` (bwrap when it works here), ``"bwrap"`` (required) or ``"none"``.
        seccomp: install the seccomp filter when ``pyseccomp`` is importable.
        startup_timeout_s: how long a start may take (imports on a loaded machine), not counted in call budgets.

    Raises:
        SandboxError: ``isolation="bwrap"`` where bubblewrap does not work.
    """

    def __init__(self, *, memory_mb: int = 1024, cpu_s: float = 10.0, cwd: str | os.PathLike | None = None,
                 isolation: str = "auto", seccomp: bool = True, startup_timeout_s: float = 60.0):
        if isolation not in ("auto", "bwrap", "none"):
            raise SandboxError(f"`isolation` must be 'auto', 'bwrap' or 'none'. Received {isolation!r}")
        use_bwrap = isolation == "bwrap" or (isolation == "auto" and bwrap_available())
        if use_bwrap and not bwrap_available():
            raise SandboxError(f"`isolation='bwrap'` but {BWRAP} is missing or cannot create namespaces here")
        self.memory_mb, self.cpu_s, self.seccomp, self.startup_timeout_s = int(memory_mb), float(cpu_s), bool(seccomp), float(startup_timeout_s)
        self.cwd = str(cwd) if cwd is not None else "/tmp"
        self.use_bwrap = use_bwrap
        self.proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None
        self._ready = False
        self._worker_layers: tuple[str, ...] = ()
        self.starts = 0
        self.kills = 0
        self.last_exit: int | None = None

    # --- process ------------------------------------------------------------------------------
    @property
    def layers(self) -> tuple[str, ...]:
        """The layers of the running (or last) worker, outermost first."""
        outer = ("subprocess", "clean-env") + (("bwrap",) if self.use_bwrap else ())
        return outer + self._worker_layers + ("wall-clock",)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _spawn(self) -> tuple[subprocess.Popen, weakref.finalize]:
        config = json.dumps({"memory_mb": self.memory_mb, "cpu_s": self.cpu_s, "seccomp": self.seccomp,
                             "libraries": _seccomp_libraries() if self.seccomp else {}})
        cmd = [sys.executable, "-s", "-B", "-P", "-c", _BOOT, _PACKAGE_ROOT, config]
        if self.use_bwrap:
            cmd = [BWRAP, *_BWRAP_FLAGS, *_rebind_under_tmp(_PACKAGE_ROOT, sys.prefix, sys.base_prefix, self.cwd),
                   "--chdir", self.cwd, "--", *cmd]
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    cwd=self.cwd, env=_clean_env(self.cwd), close_fds=True, start_new_session=True)
        except OSError as e:
            raise SandboxError(f"cannot start the sandbox worker: {e}") from e
        os.set_blocking(proc.stdin.fileno(), False)
        os.set_blocking(proc.stdout.fileno(), False)
        return proc, weakref.finalize(self, _kill_process, proc, os.getpid())

    def start(self) -> None:
        """Start a worker process without waiting for it (its readiness is awaited by the next request)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.proc, self._finalizer = self._spawn()
        self._ready = False
        self._buf = b""
        self._in_poll, self._out_poll = select.poll(), select.poll()
        self._in_poll.register(self.proc.stdout.fileno(), select.POLLIN)
        self._out_poll.register(self.proc.stdin.fileno(), select.POLLOUT)
        self.starts += 1

    def kill(self) -> None:
        """Kill the worker now (its process group), e.g. after a missed deadline."""
        if self._finalizer is not None:
            self._finalizer()  # runs _kill_process once and detaches
            self._finalizer = None
            self.kills += 1
        self.proc = None
        self._ready = False

    def close(self) -> None:
        """Stop the worker; a later request starts a new one."""
        self.kill()

    def _ensure_ready(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.kill()
            self.start()
        if self._ready:
            return
        try:
            msg = self._read(time.monotonic() + self.startup_timeout_s)
        except (_Timeout, _Died) as e:
            self.kill()
            raise SandboxError(f"the sandbox worker did not start ({type(e).__name__.strip('_').lower()} after "
                               f"{self.startup_timeout_s:g} s)") from None
        if msg[:1] != b"r" or len(msg) < 2:
            self.kill()
            raise SandboxError("the sandbox worker sent a malformed ready message")
        bits = msg[1]
        text = msg[2:].decode("utf-8", "replace")
        if text:
            self.kill()
            raise SandboxError(f"the sandbox worker could not apply its limits: {text[:300]}")
        self._worker_layers = tuple(name for name, bit in LAYER_BITS.items() if bits & bit)
        self._ready = True

    # --- framing ------------------------------------------------------------------------------
    def request(self, payload: bytes, timeout_s: float) -> bytes:
        """Send one message and wait for its reply until ``timeout_s`` (wall clock) has passed.

        Three system calls per round trip (write, poll, read): on a virtual machine each costs
        tens of microseconds, so none is spent on a check the pipe itself answers (a dead worker
        shows up as a broken pipe or end of file).

        Raises:
            _Timeout: the deadline passed (the worker is killed and restarted).
            _Died: the worker exited or broke the protocol (it is killed and restarted).
        """
        if not self._ready:
            self._ensure_ready()
        deadline = time.monotonic() + timeout_s
        try:
            self._write(struct.pack("<I", len(payload)) + payload, deadline)
            return self._read(deadline)
        except (_Timeout, _Died) as e:
            self.last_exit = self._exit_status(wait=isinstance(e, _Died))
            self.kill()
            self.start()  # at once: the next request finds it (nearly) ready
            raise

    def _exit_status(self, wait: bool) -> int | None:
        """The worker's exit status, None while it runs. After a death, waits up to 1 s for it: the pipe's end
        of file can come before the status (under load bwrap takes a moment to exit after its child died,
        and a SIGXCPU would read as a protocol break)."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=1.0) if wait else self.proc.poll()
        except subprocess.TimeoutExpired:  # still running: it broke the protocol
            return None

    def _write(self, data: bytes, deadline: float) -> None:
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
                continue
            except BlockingIOError:
                pass
            except OSError:  # BrokenPipeError: the worker is gone
                raise _Died() from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout()
            self._out_poll.poll(remaining * 1000.0)

    def _read(self, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        need: int | None = None
        while True:
            if need is None and len(self._buf) >= 4:
                (need,) = struct.unpack_from("<I", self._buf)
                if need > 1 << 30:
                    raise _Died()
            if need is not None and len(self._buf) >= 4 + need:
                msg, self._buf = self._buf[4:4 + need], self._buf[4 + need:]
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout()
            if not self._in_poll.poll(remaining * 1000.0):
                continue
            try:
                chunk = os.read(fd, 65536)  # below malloc's mmap threshold: a bigger buffer costs an mmap per read
            except BlockingIOError:
                continue
            except OSError:
                raise _Died() from None
            if not chunk:
                raise _Died()
            self._buf += chunk

    # --- operations ---------------------------------------------------------------------------
    def load(self, source: str, descriptor: Mapping[str, Any], layout: Mapping[str, Any], timeout_s: float) -> RowError | None:
        """Exec `source` (gated, imports stripped) in the worker; the error of the load, or None."""
        payload = b"L" + json.dumps({"source": source, "descriptor": dict(descriptor), "layout": dict(layout)}).encode()
        reply = self.request(payload, timeout_s)
        if reply[:1] != b"l":
            self.kill()
            raise _Died()
        reader = _Reader(reply, 1)
        error = reader.error()
        reader.end()
        return error

    def call(self, matrix: np.ndarray, timeout_s: float, *, timing: bool = False, check_inputs: bool = False) -> BatchResult:
        """Score the rows of `matrix` (float64, (n, width)) with the loaded code."""
        start = time.perf_counter()
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        n, w = matrix.shape
        flags = (1 if timing else 0) | (2 if check_inputs else 0)
        reply = self.request(b"C" + struct.pack("<IIB", n, w, flags) + matrix.tobytes(), timeout_s)
        try:
            return _parse_call(reply, n, time.perf_counter() - start)
        except _Died:
            self.kill()
            self.start()
            raise

    def probe(self, name: str, timeout_s: float = 10.0) -> str:
        """Try a forbidden operation inside the worker and report the outcome ("refused: ..." or "allowed").

        Probes: ``socket``, ``connect:PORT``, ``open_write[:PATH]``, ``open_read[:PATH]``, ``fork``,
        ``exec``, and ``env`` (the worker's environment variable names). For tests of the layers.
        """
        try:
            reply = self.request(b"P" + name.encode(), timeout_s)
        except _Died:
            return "worker died"
        except _Timeout:
            return "timeout"
        return reply[1:].decode("utf-8", "replace") if reply[:1] == b"p" else "malformed reply"


class _Reader:
    """Bounds-checked reads from a reply; any inconsistency means a broken worker (_Died)."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Died()
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def text(self) -> str:
        (n,) = self.unpack("<H")
        return self.take(n).decode("utf-8", "replace")

    def error(self) -> RowError | None:
        row, code, line = self.unpack("<iBi")
        exc_type, message = self.text(), self.text()
        if row == -1 and code == 0:
            return None
        if code not in STATUS_NAMES:
            raise _Died()
        return RowError(row, STATUS_NAMES[code], line if line > 0 else None, exc_type, message)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise _Died()


def _parse_call(reply: bytes, n: int, wall_s: float) -> BatchResult:
    reader = _Reader(reply)
    if reader.take(1) != b"c":
        raise _Died()
    got, m = reader.unpack("<II")
    if got == 0 and n != 0:  # the worker refused the call (no code loaded): one error record follows
        error = reader.error()
        reader.end()
        return BatchResult.failed(n, "crash", error.message if error else "the worker refused the call", wall_s)
    if got != n or m > MAX_COMPONENTS:
        raise _Died()
    names = [reader.text() for _ in range(m)]
    status = np.frombuffer(reader.take(n), dtype=np.uint8).copy()
    totals = np.frombuffer(reader.take(8 * n), dtype=np.float64).copy()
    latency = np.frombuffer(reader.take(8 * n), dtype=np.float64).copy()
    comps = np.frombuffer(reader.take(8 * n * m), dtype=np.float64).copy().reshape(n, m)
    error = reader.error()
    reader.end()
    if status.size and int(status.max()) > STATUS["memory"]:
        raise _Died()
    return BatchResult(status, totals, latency, comps, names, error, wall_s)


class RewardSandbox:
    """A :class:`SandboxWorker` bound to one reward program: loads it, and reloads it after every restart.

    :meth:`score` never raises for faults of the code: a timeout or a dead worker marks every row of
    the call (``timeout`` / ``died``) and the worker is restarted for the next call.

    Args:
        source: reward code that passed gate 1, with imports stripped (:func:`~rewardlab.shaping.llm.gates.strip_imports`).
        descriptor: ``EnvDescriptor.to_dict()`` of the env.
        worker: options of :class:`SandboxWorker`.
    """

    def __init__(self, source: str, descriptor: Mapping[str, Any], *, load_timeout_s: float = 10.0, **worker: Any):
        self.source, self.descriptor = source, dict(descriptor)
        self.worker = SandboxWorker(**worker)
        self.load_timeout_s = float(load_timeout_s)
        self._loaded: int | None = None  # the worker start count at which the code was loaded
        self._layout: dict[str, Any] | None = None
        self.restarts = 0

    @property
    def layers(self) -> tuple[str, ...]:
        return self.worker.layers

    def start(self) -> None:
        """Start the worker process now, so the first call does not wait for it."""
        self.worker.start()

    def prepare(self, layout: Mapping[str, Any]) -> RowError | None:
        """Start the worker and load the code for `layout` now (so a later call's time is the call's alone).

        Returns the load error, or None.

        Raises:
            SandboxError: the worker cannot start.
        """
        self.worker._ensure_ready()
        try:
            error = self.worker.load(self.source, self.descriptor, layout, self.load_timeout_s)
        except (_Timeout, _Died):
            return RowError(-1, "timeout", None, "", "loading the code did not finish")
        if error is None:
            self._loaded, self._layout = self.worker.starts, dict(layout)
        return error

    def score(self, matrix: np.ndarray, layout: Mapping[str, Any], timeout_s: float, *, timing: bool = False,
              check_inputs: bool = False) -> BatchResult:
        """Run the code on every row; ``timeout_s`` is the wall-clock budget of this call (start-up and loading excluded)."""
        n = int(matrix.shape[0])
        start = time.perf_counter()
        starts_before = self.worker.starts
        try:
            if self._loaded != self.worker.starts or self.worker.proc is None or layout != self._layout:
                self.worker._ensure_ready()
                error = self.worker.load(self.source, self.descriptor, layout, self.load_timeout_s)
                if error is not None:
                    return BatchResult.failed(n, error.status, f"{error.exc_type}: {error.message}", time.perf_counter() - start,
                                              error.line, error.exc_type)
                self._loaded, self._layout = self.worker.starts, dict(layout)
            return self.worker.call(matrix, timeout_s, timing=timing, check_inputs=check_inputs)
        except _Timeout:
            return BatchResult.failed(n, "timeout", f"the call took longer than its budget of {timeout_s * 1000:.0f} ms; the worker was killed",
                                      time.perf_counter() - start)
        except _Died:
            code = self._last_exit()
            return BatchResult.failed(n, "died", f"the sandbox worker died ({code})", time.perf_counter() - start)
        finally:
            if self.worker.starts != starts_before:  # the first start is not a restart
                self.restarts += self.worker.starts - max(starts_before, 1)

    def _last_exit(self) -> str:
        code = getattr(self.worker, "last_exit", None)
        if code is None:
            return "it broke the protocol"
        if code > 128 and self.worker.use_bwrap:  # bwrap exits with 128 + the signal that ended its child
            code = -(code - 128)
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def probe(self, name: str) -> str:
        """See :meth:`SandboxWorker.probe`."""
        return self.worker.probe(name)

    def close(self) -> None:
        self.worker.close()
        self._loaded = None


# ------------------------------------------------------------------------------------------ packing
def _leaves(batch: Any, keys: Sequence[str] | None) -> list[tuple[str | None, np.ndarray]]:
    if isinstance(batch, Mapping):
        order = list(keys) if keys else list(batch)
        return [(k, host(batch[k])) for k in order]
    return [(None, host(batch))]


def pack_rows(obs: Any, action: Any, next_obs: Any, info: Any, rows: np.ndarray, info_keys: Sequence[str],
              obs_keys: Sequence[str] | None = None, discrete: bool | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Pack the `rows` of a batch into ``(layout, matrix)`` for :class:`RewardSandbox.score`.

    Each row is ``obs | action | next_obs | info values`` as float64 (exact for float32 and integer
    observations); the layout records shapes and dtypes so the worker rebuilds the arrays.
    ``discrete`` defaults to "the action batch has integer dtype and one value per row".

    Example:
        >>> import numpy as np
        >>> layout, m = pack_rows(np.array([[0.5, 0.0]], np.float32), np.array([2]), np.array([[0.6, 0.1]], np.float32),
        ...                       {"is_success": np.array([True])}, np.array([0]), ["is_success"])
        >>> layout["action"], m.tolist()
        ([[], 'int64', 'discrete'], [[0.5, 0.0, 2.0, 0.6000000238418579, 0.10000000149011612, 1.0]])
    """
    rows = np.asarray(rows, dtype=np.int64)
    obs_leaves, next_leaves = _leaves(obs, obs_keys), _leaves(next_obs, obs_keys)
    n = obs_leaves[0][1].shape[0]
    parts: list[np.ndarray] = []
    layout_obs = []
    for key, arr in obs_leaves:
        layout_obs.append([key, list(arr.shape[1:]), arr.dtype.str if arr.dtype.kind not in "biuf" else arr.dtype.name])
        parts.append(arr[rows].reshape(len(rows), -1))
    act_layout = None
    if action is not None:
        act = host(action)
        if act.ndim == 0:
            act = act.reshape(1)
        is_discrete = discrete if discrete is not None else (act.dtype.kind in "iu" and act.ndim == 1)
        act_layout = [list(act.shape[1:]), act.dtype.name, "discrete" if is_discrete else "box"]
        parts.append(act[rows].reshape(len(rows), -1))
    for _key, arr in next_leaves:
        parts.append(arr[rows].reshape(len(rows), -1))
    if info_keys:
        parts.append(np.stack([info_column(info, k, n)[rows] for k in info_keys], axis=1))
    matrix = np.concatenate([p.astype(np.float64, copy=False) for p in parts], axis=1) if parts else np.zeros((len(rows), 0))
    return {"obs": layout_obs, "action": act_layout, "info": list(info_keys)}, matrix
