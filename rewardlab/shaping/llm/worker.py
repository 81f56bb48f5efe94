"""The sandbox worker: the child process that runs LLM-written reward code, and the row codec it uses.

Run by :class:`rewardlab.shaping.llm.sandbox.SandboxWorker` (``python -m rewardlab.shaping.llm.worker
CONFIG_JSON`` works too). It imports only the standard library, numpy and
:mod:`rewardlab.shaping.llm.views`; what it holds must stay small, because everything in this
process is within reach of the code it runs.

Classes: :class:`RowCodec` (a packed float64 row <-> the ``obs, action, next_obs, info`` arguments),
:class:`RewardRunner` (execs gated code with restricted builtins and scores packed rows; the same
class serves the worker and in-process references, so the two cannot drift). Function :func:`main`.

Start-up order in :func:`main`: thread counts pinned before numpy is imported, numpy and the views
imported and warmed (lazy imports would need ``open`` later), stdout moved to a private descriptor
(stray C-level prints cannot corrupt the framing), then ``RLIMIT_AS``, ``RLIMIT_FSIZE = 0``,
``RLIMIT_NOFILE`` (no new descriptors), ``RLIMIT_CORE = 0``, and a seccomp filter when ``pyseccomp``
is importable. The filter returns EPERM for sockets, process creation (clone, clone3, fork, vfork,
execve, execveat), ``kill``, ptrace, and for every file open (``open``, ``openat``, ``openat2``,
``creat``) and path-changing call after start-up: the worker has all it needs by then, so reading
files is refused as well as writing them. Only then is any reward code read.

Wire format (little-endian; every message is a ``uint32`` length then that many bytes, the first
being an op code). Nothing the worker sends is ever unpickled or evaluated by the parent:

* parent -> worker: ``L`` + UTF-8 JSON ``{"source", "descriptor", "layout"}``; ``C`` + ``<IIB``
  (rows n, row width w, flags: 1 = time each row, 2 = check inputs unchanged) + n*w float64;
  ``P`` + a probe name (tests of the sandbox layers).
* worker -> parent: ``r`` (ready) + ``<B`` layer bits + UTF-8 text; ``l`` (loaded) + an error
  record; ``c`` (results) + ``<II`` (n, m components) + m names (``<H`` length + UTF-8) + n status
  bytes + n totals + n latencies (ns) + n*m components (float64) + an error record; ``p`` + UTF-8.
  An error record is ``<iBi`` (row or -1, status, line or -1) + two ``<H``-prefixed UTF-8 strings
  (exception type, message).
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import time
from typing import Any

__all__ = ["RowCodec", "RewardRunner", "coerce", "main", "STATUS", "LAYER_BITS"]

#: Per-row status codes (the parent adds TIMEOUT and DIED for rows it never got results for).
STATUS = {"ok": 0, "crash": 1, "return:type": 2, "nonfinite": 3, "mutation": 4, "memory": 5, "timeout": 6, "died": 7}
_OK, _CRASH, _TYPE, _NONFINITE, _MUTATION, _MEMORY = 0, 1, 2, 3, 4, 5
#: Bits of the ready message saying which layers the worker put in place.
LAYER_BITS = {"rlimits": 1, "seccomp": 2, "no-new-fds": 4}

MAX_COMPONENTS = 32
MAX_NAME = 64
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
_ALLOWED_BUILTINS = (
    "abs min max sum len range float int bool round enumerate zip isinstance dict list tuple pow any all sorted".split()
)
# Messages of the errors numpy and the read-only views raise on a write attempt.
_MUTATION_MARKERS = ("read-only", "read only", "does not support item assignment", "is not writeable", "immutable",
                     "cannot assign", "can't set attribute", "object does not support item deletion", "is frozen")


# ------------------------------------------------------------------------------------------ codec
class RowCodec:
    """Turns one packed float64 row into the four arguments of ``compute_reward``.

    ``layout`` (JSON-able, built by the parent): ``{"obs": [[key or None, shape, dtype], ...],
    "action": [shape, dtype, "discrete"|"box"] or None, "info": [key, ...]}``. A row is
    ``obs | action | next_obs | info values``; values go back to their original dtype (float64
    holds every float32 and integer observation exactly), so views see what the env produced.
    """

    def __init__(self, desc: Any, layout: dict[str, Any]):
        import numpy as np

        from rewardlab.shaping.llm.views import make_info, make_view

        self._np, self._make_view, self._make_info, self.desc = np, make_view, make_info, desc
        self.obs_leaves: list[tuple[str | None, tuple[int, ...], Any, int, int]] = []
        offset = 0
        for key, shape, dtype in layout["obs"]:
            size = int(np.prod(shape)) if shape else 1
            self.obs_leaves.append((key, tuple(shape), np.dtype(dtype), offset, offset + size))
            offset += size
        self.obs_size = offset
        act = layout.get("action")
        if act is None:
            self.action = None
            self.act_size = 0
        else:
            shape, dtype, kind = act
            self.action = (tuple(shape), np.dtype(dtype), kind)
            self.act_size = int(np.prod(shape)) if shape else 1
        self.info_keys = list(layout.get("info", []))
        self.width = 2 * self.obs_size + self.act_size + len(self.info_keys)

    def _obs_batch(self, matrix: Any, start: int) -> list[Any]:
        # Converted once per call, not per row; rows are views of a read-only array (not writeable,
        # and setflags cannot make them so because their base is read-only).
        n = matrix.shape[0]
        columns = {}
        for key, shape, dtype, a, b in self.obs_leaves:
            block = matrix[:, start + a:start + b]
            value = block.astype(dtype) if block.dtype != dtype else block.copy()
            value = value.reshape((n,) + shape)
            value.setflags(write=False)
            columns[key] = value
        if None in columns:
            return list(columns[None])
        return [{key: columns[key][i] for key in columns} for i in range(n)]

    def batch(self, matrix: Any) -> tuple[list[Any], list[Any], list[Any], list[dict[str, float]]]:
        """Per-row ``obs``, ``action``, ``next_obs`` (raw arrays) and info dicts of a packed (n, width) matrix."""
        np = self._np
        n = matrix.shape[0]
        obs = self._obs_batch(matrix, 0)
        offset = self.obs_size
        actions: list[Any] = [None] * n
        if self.action is not None:
            shape, dtype, kind = self.action
            block = matrix[:, offset:offset + self.act_size]
            if kind == "discrete":
                actions = block[:, 0].astype(np.int64).tolist()
            else:
                value = block.astype(dtype).reshape((n,) + shape)
                value.setflags(write=False)
                actions = list(value)
            offset += self.act_size
        next_obs = self._obs_batch(matrix, offset)
        offset += self.obs_size
        keys = self.info_keys
        infos = [dict(zip(keys, vals)) for vals in matrix[:, offset:offset + len(keys)].tolist()]
        return obs, actions, next_obs, infos

    def view(self, obs: Any) -> Any:
        return self._make_view(self.desc, obs)

    def info(self, values: dict[str, float]) -> Any:
        return self._make_info(self.desc, values)


def _fingerprint(values: list[Any]) -> list[bytes]:
    out = []
    for v in values:
        for a in (v.values() if isinstance(v, dict) else [v]):
            out.append(a.tobytes() if hasattr(a, "tobytes") else repr(a).encode())
    return out


# ------------------------------------------------------------------------------------------ coercion
def coerce(value: Any) -> tuple[int, float, dict[str, float] | None, str]:
    """Check and convert one return value: ``(status, total, components or None, detail)``.

    Accepted: a real number (Python or numpy scalar, 0-d array, bool), or ``(number, dict of
    str -> number)``. Everything must be finite.

    Example:
        >>> import numpy as np
        >>> coerce(np.float32(0.5))[:2], coerce(True)[:2], coerce(np.array(2.0))[:2]
        ((0, 0.5), (0, 1.0), (0, 2.0))
        >>> coerce((1.0, {"dist": 0.25}))[:3]
        (0, 1.0, {'dist': 0.25})
        >>> coerce(np.zeros(3))[0], coerce("1")[0], coerce(None)[0], coerce(float("nan"))[0]
        (2, 2, 2, 3)
    """
    comps: dict[str, float] | None = None
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], dict):
        total_raw, parts = value
        comps = {}
        if len(parts) > MAX_COMPONENTS:
            return _TYPE, 0.0, None, f"{len(parts)} components (at most {MAX_COMPONENTS})"
        for k, v in parts.items():
            if not isinstance(k, str) or not k or len(k) > MAX_NAME or not k.isprintable():
                return _TYPE, 0.0, None, f"component names must be short printable strings, got {k!r:.40}"
            status, f, detail = _scalar(v)
            if status:
                return status, 0.0, None, f"component {k!r}: {detail}"
            comps[k] = f
    else:
        total_raw = value
    status, total, detail = _scalar(total_raw)
    if status:
        return status, 0.0, None, detail if comps is None else f"total: {detail}"
    return _OK, total, comps, ""


def _scalar(v: Any) -> tuple[int, float, str]:
    import numpy as np

    if isinstance(v, (bool, int, float)):
        f = v
    elif isinstance(v, np.generic) and v.dtype.kind in "biuf":
        f = v
    elif isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "biuf":
        f = v[()]
    else:
        kind = type(v).__name__ + (f" of shape {v.shape}" if isinstance(v, np.ndarray) else "")
        return _TYPE, 0.0, f"returned {kind}; expected a float or (float, dict of floats)"
    try:
        f = float(f)
    except OverflowError:
        return _NONFINITE, 0.0, "the value is too large for a float"
    if not math.isfinite(f):
        return _NONFINITE, 0.0, f"returned {f}"
    return _OK, f, ""


# ------------------------------------------------------------------------------------------ runner
class RewardRunner:
    """Execs gated reward code and scores packed rows; one error record per call (the first failing row).

    ``source`` must already have passed gate 1 with its import lines blanked
    (:func:`rewardlab.shaping.llm.gates.strip_imports`); it runs with ``np``, ``numpy`` and
    ``math`` injected and only the allow-listed builtins. Used by the sandbox worker, and by
    in-process references (benchmarks and equivalence tests) that must compute the same values.
    """

    def __init__(self, source: str, descriptor: dict[str, Any], layout: dict[str, Any]):
        import builtins

        import numpy as np

        from rewardlab.shaping.llm.views import EnvDescriptor

        self._np = np
        self.codec = RowCodec(EnvDescriptor.from_dict(descriptor), layout)
        safe_builtins = {name: getattr(builtins, name) for name in _ALLOWED_BUILTINS}
        safe_builtins["__import__"] = _loaded_numpy_module
        namespace: dict[str, Any] = {
            "__builtins__": safe_builtins,
            "__name__": "reward",
            "np": np, "numpy": np, "math": math,
        }
        exec(compile(source, "<reward>", "exec"), namespace)  # noqa: S102 - gated code, sandboxed process
        fn = namespace.get("compute_reward")
        if not callable(fn):
            raise NameError("the code defines no compute_reward")
        self.fn = fn
        self.names: list[str] = []

    def run(self, matrix: Any, *, timing: bool = False, check_inputs: bool = False) -> tuple[Any, Any, Any, Any, tuple | None]:
        """Score every row: ``(status u8[n], totals f64[n], latency_ns f64[n], components f64[n, m], error)``."""
        np = self._np
        n = matrix.shape[0]
        status = np.zeros(n, dtype=np.uint8)
        totals = np.zeros(n, dtype=np.float64)
        latency = np.zeros(n, dtype=np.float64)
        rows_comps: list[dict[str, float] | None] = [None] * n
        error: tuple | None = None
        clock = time.thread_time_ns
        fn, view, make_info = self.fn, self.codec.view, self.codec.info
        try:
            obs_rows, actions, next_rows, infos = self.codec.batch(matrix)
        except MemoryError:
            status[:] = _MEMORY
            return status, totals, latency, np.zeros((n, len(self.names))), (0, _MEMORY, -1, "MemoryError", "out of memory")
        for i in range(n):
            code, detail, line, exc_type = _OK, "", -1, ""
            try:
                raw_obs, action, raw_next = obs_rows[i], actions[i], next_rows[i]
                before = _fingerprint([raw_obs, raw_next, action]) if check_inputs else None
                obs, next_obs, info = view(raw_obs), view(raw_next), make_info(infos[i])
                if timing:
                    t0 = clock()
                    out = fn(obs, action, next_obs, info)
                    latency[i] = clock() - t0
                else:
                    out = fn(obs, action, next_obs, info)
                code, total, comps, detail = coerce(out)
                if code == _OK and before is not None and _fingerprint([raw_obs, raw_next, action]) != before:
                    code, detail = _MUTATION, "the inputs changed during the call"
                if code == _OK:
                    totals[i] = total
                    rows_comps[i] = comps
            except MemoryError:
                code, exc_type, detail = _MEMORY, "MemoryError", "ran out of memory (the sandbox's RLIMIT_AS)"
                line = _reward_line(sys.exc_info()[2])
            except Exception as e:  # noqa: BLE001 - any error of the generated code is a result, not a worker failure
                exc_type, detail = type(e).__name__, _short(str(e))
                line = _reward_line(e.__traceback__)
                code = _MUTATION if any(m in detail for m in _MUTATION_MARKERS) else _CRASH
            status[i] = code
            if code != _OK and error is None:
                error = (i, code, line, exc_type, detail)
        comps = self._component_matrix(rows_comps, status)
        return status, totals, latency, comps, error

    def _component_matrix(self, rows: list[dict[str, float] | None], status: Any) -> Any:
        np = self._np
        for r in rows:
            if r:
                for k in r:
                    if k not in self.names and len(self.names) < MAX_COMPONENTS:
                        self.names.append(k)
        out = np.zeros((len(rows), len(self.names)))
        for i, r in enumerate(rows):
            if r:
                for j, k in enumerate(self.names):
                    out[i, j] = r.get(k, 0.0)
        return out


def _loaded_numpy_module(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    """The ``__import__`` of the generated code's builtins: numpy modules already loaded, nothing else.

    numpy's C code imports helpers lazily through the *calling frame's* builtins (e.g.
    ``numpy._core._methods`` on an integer ``.sum()``), so a builtins dict without ``__import__``
    breaks plain numpy calls. Gate 1 forbids the name, so only numpy itself reaches this; it never
    loads anything new (opening files is refused by then anyway).
    """
    module = sys.modules.get(name)
    if level != 0 or module is None or not (name == "numpy" or name.startswith("numpy.")):
        raise ImportError(f"import of {name!r} is not available to reward code")
    if fromlist:
        return module
    return sys.modules["numpy"]


def _reward_line(tb: Any) -> int:
    line = -1
    while tb is not None:  # the innermost frame of the generated code ("<reward>")
        if tb.tb_frame.f_code.co_filename == "<reward>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------------------------ framing
def _put_str(text: str) -> bytes:
    data = text.encode("utf-8", "replace")[:65535]
    return struct.pack("<H", len(data)) + data


def _error_record(error: tuple | None) -> bytes:
    if error is None:
        return struct.pack("<iBi", -1, 0, -1) + _put_str("") + _put_str("")
    row, code, line, exc_type, detail = error
    return struct.pack("<iBi", row, code, line) + _put_str(exc_type) + _put_str(detail)


class _Channel:
    """Length-prefixed messages over two pipe descriptors; reads are buffered (one system call per message)."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self.buf = b""

    def read(self) -> bytes | None:
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("<I", self.buf)
                if len(self.buf) >= 4 + n:
                    msg, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return msg
            chunk = os.read(self.rfd, 65536)  # below malloc's mmap threshold: a bigger buffer costs an mmap per read
            if not chunk:
                return None
            self.buf += chunk

    def send(self, payload: bytes) -> None:
        data = memoryview(struct.pack("<I", len(payload)) + payload)
        while data:
            data = data[os.write(self.wfd, data):]


# ------------------------------------------------------------------------------------------ main
def _limit(config: dict[str, Any]) -> int:
    import resource

    bits = 0
    mem = int(config.get("memory_mb", 1024)) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    bits |= LAYER_BITS["rlimits"]
    top = 2
    if os.path.isdir("/proc/self/fd"):
        for name in os.listdir("/proc/self/fd"):  # the listing's own descriptor is closed by now
            try:
                os.fstat(int(name))
                top = max(top, int(name))
            except OSError:
                pass
    # Every descriptor we need is open; the next one would be top+1, which the limit refuses.
    resource.setrlimit(resource.RLIMIT_NOFILE, (top + 1, top + 1))
    bits |= LAYER_BITS["no-new-fds"]
    return bits


def _import_seccomp(libraries: dict[str, str]) -> Any:
    # Imported early: pyseccomp finds libc and libseccomp with ctypes.util.find_library, which runs
    # `ldconfig -p` (a process, refused later, and a tenth of a second of start-up on a busy
    # machine). The parent looked the names up once and passes them in `libraries`.
    import ctypes.util

    original = ctypes.util.find_library
    ctypes.util.find_library = lambda name: libraries.get(name) or original(name)
    try:
        import pyseccomp

        return pyseccomp
    except Exception:  # noqa: BLE001 - absent or broken libseccomp: the layer is reported as missing
        return None
    finally:
        ctypes.util.find_library = original


def _seccomp(pyseccomp: Any) -> bool:
    import errno

    if pyseccomp is None:
        return False
    f = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for attr, value in (("CTL_SSB", 1), ("CTL_OPTIMIZE", 2)):
        try:  # no forced store-bypass mitigation (a cost on every context switch), a binary-tree filter
            f.set_attr(getattr(pyseccomp.Attr, attr), value)
        except Exception:  # noqa: BLE001 - older libseccomp: defaults are fine
            pass
    deny = pyseccomp.ERRNO(errno.EPERM)
    names = (
        "socket socketpair connect bind listen accept accept4 sendmsg sendmmsg "
        "clone clone3 fork vfork execve execveat ptrace kill tkill process_vm_writev process_vm_readv "
        "open openat openat2 creat mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat "
        "symlink symlinkat chmod fchmod fchmodat chown fchown lchown fchownat truncate ftruncate mknod mknodat "
        "mount umount2 chroot pivot_root setns unshare bpf io_uring_setup memfd_create userfaultfd"
    ).split()
    for name in names:
        try:
            f.add_rule(deny, name)
        except Exception:  # noqa: BLE001 - a syscall this architecture does not have
            pass
    f.load()
    return True


def _warm(np: Any) -> None:
    # Touch what the allow-list offers so numpy's lazy imports happen now, while opening files is allowed.
    x = np.linspace(-1.0, 1.0, 7)
    m = np.outer(x[:3], x[:3]) + np.eye(3)
    for value in (np.linalg.norm(x), np.linalg.det(m), np.linalg.inv(m), np.linalg.eigh(m), np.linalg.svd(m),
                  np.linalg.solve(m, x[:3]), np.linalg.pinv(m), np.linalg.lstsq(m, x[:3], rcond=None),
                  np.percentile(x, 50), np.quantile(x, 0.5), np.median(x), np.unique(x), np.histogram(x),
                  np.interp(0.5, x, x), np.einsum("i,i", x, x), np.pad(x, 1), np.gradient(x), np.convolve(x, x),
                  np.polyval(x, 0.5), np.nan_to_num(x), np.isclose(x, x), np.round(x, 2), np.sort(x), np.cross(x[:3], x[:3]),
                  np.nanmean(x), np.ptp(x), np.select([x > 0], [x]), np.piecewise(x, [x > 0], [1, 0]), np.kron(x[:2], x[:2])):
        del value
    f"{x[0]:.3f} {np.float32(1.5)!r} {x!s}"  # noqa: B018 - formatting paths (number/array repr) loaded now


def _probe(request: str) -> str:
    """Try a forbidden operation from inside the sandbox and say what happened (tests of the layers).

    ``socket``, ``connect:PORT`` (TCP to 127.0.0.1), ``open_write[:PATH]``, ``open_read[:PATH]``,
    ``fork``, ``exec``, ``env`` (the names of the environment variables).
    """
    name, _, arg = request.partition(":")
    try:
        if name == "socket":
            import socket

            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.close()
            return "allowed"
        if name == "connect":
            import socket

            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2.0)
            s.connect(("127.0.0.1", int(arg)))
            s.close()
            return "allowed"
        if name == "open_write":
            with open(arg or "canary_probe.txt", "w") as fh:
                fh.write("x")
            return "allowed"
        if name == "open_read":
            with open(arg or "/etc/hostname") as fh:
                fh.read()
            return "allowed"
        if name == "fork":
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            return "allowed"
        if name == "exec":
            os.execv("/bin/true", ["true"])
        if name == "env":
            return " ".join(sorted(os.environ))
        return f"unknown probe {name!r}"
    except BaseException as e:  # noqa: BLE001 - the refusal is the result
        return f"refused: {type(e).__name__}: {e}"


def main(config_json: str = "{}") -> None:
    """Worker entry point: limits, seccomp, ready message, then serve requests until stdin closes."""
    config = json.loads(config_json)
    for var in _THREAD_VARS:
        os.environ[var] = "1"  # before numpy's import: BLAS must start one thread (clone is refused later)
    import warnings

    import numpy as np

    import rewardlab.errors  # noqa: F401 - the views raise these (imported lazily there); opening files ends below
    import rewardlab.shaping.llm.views  # noqa: F401 - imported before the filter closes `open`

    if config.get("probes", True):
        import socket  # noqa: F401 - so the `socket` probe tests the syscall, not the module's import

    warnings.simplefilter("ignore")  # numpy RuntimeWarnings would go to a null stderr anyway
    seccomp = _import_seccomp(config.get("libraries", {})) if config.get("seccomp", True) else None
    _warm(np)
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    channel = _Channel(0, out_fd)
    layers = 0
    text = ""
    try:
        layers |= _limit(config)
        if _seccomp(seccomp):
            layers |= LAYER_BITS["seccomp"]
    except Exception as e:  # noqa: BLE001 - reported to the parent, which decides
        text = f"{type(e).__name__}: {e}"
    channel.send(b"r" + struct.pack("<B", layers) + text.encode())
    cpu_s = float(config.get("cpu_s", 10.0))
    runner: RewardRunner | None = None
    while True:
        msg = channel.read()
        if msg is None:
            return
        op, body = msg[:1], msg[1:]
        if op == b"L":
            runner = None
            try:
                spec = json.loads(body.decode("utf-8"))
                runner = RewardRunner(spec["source"], spec["descriptor"], spec["layout"])
                channel.send(b"l" + _error_record(None))
            except MemoryError:
                channel.send(b"l" + _error_record((-1, _MEMORY, -1, "MemoryError", "ran out of memory while loading")))
            except Exception as e:  # noqa: BLE001
                channel.send(b"l" + _error_record((-1, _CRASH, _reward_line(e.__traceback__), type(e).__name__, _short(str(e)))))
        elif op == b"C":
            n, w, flags = struct.unpack_from("<IIB", body)
            if runner is None or w != runner.codec.width:
                channel.send(b"c" + struct.pack("<II", 0, 0) + _error_record((-1, _CRASH, -1, "ProtocolError", "no code loaded or wrong row width")))
                continue
            _cpu_budget(cpu_s)
            matrix = np.frombuffer(body, dtype=np.float64, offset=9, count=n * w).reshape(n, w)
            status, totals, latency, comps, error = runner.run(matrix, timing=bool(flags & 1), check_inputs=bool(flags & 2))
            head = struct.pack("<II", n, len(runner.names)) + b"".join(_put_str(k) for k in runner.names)
            channel.send(b"c" + head + status.tobytes() + totals.tobytes() + latency.tobytes() + comps.tobytes() + _error_record(error))
        elif op == b"P":
            channel.send(b"p" + _probe(body.decode("utf-8", "replace")).encode("utf-8", "replace"))
        else:
            return


def _cpu_budget(cpu_s: float) -> None:
    # RLIMIT_CPU counts a process's whole life, so the soft limit moves with each call: a backstop
    # (SIGXCPU) should the parent's wall clock fail to kill a stuck call.
    import resource

    used = time.process_time()
    resource.setrlimit(resource.RLIMIT_CPU, (int(used + cpu_s) + 1, resource.RLIM_INFINITY))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "{}")
