"""`LLMReward`: LLM-written reward code as a reward term, run in a sandboxed worker (gate 3, the runtime guard).

Class: :class:`LLMReward`. The code passes gate 1 (:func:`~rewardlab.shaping.llm.gates.static_check`)
when the term is built; at training time it runs only in a :class:`~rewardlab.shaping.llm.sandbox.RewardSandbox`
worker, never in the trainer's process, with one round trip per vector step (all sub-envs in one
message). A row whose call times out, raises, returns a non-finite value or the wrong type gets the
fallback reward; a worker that dies or misses its deadline is killed and restarted; after more than
``max(max_failures, max_failure_rate * calls)`` failed calls the candidate is disabled and every row
gets the fallback from then on. Every value is clipped to ``[-r_max, r_max]``, so nothing non-finite
or unbounded reaches the learner.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._array import host
from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping.llm.gates import extract_code, static_check, strip_imports
from rewardlab.shaping.llm.sandbox import BatchResult, RewardSandbox, RowError, SandboxError, pack_rows
from rewardlab.shaping.terms import SingleTransition, Term, Transition, register_term
from rewardlab.shaping.transforms import ShapingWarning

__all__ = ["LLMReward", "load_code"]

_MAX_PARTS = 32


def load_code(code: str) -> str:
    """Reward source from `code`: inline source (it defines ``compute_reward``), an LLM answer with a
    fenced block, or the path of a file holding either.

    Raises:
        ConfigError: `code` is neither source nor a readable file.
    """
    if not isinstance(code, str) or not code.strip():
        raise ConfigError(f"`code` must be reward source or a file path. Received {code!r:.80}")
    if "compute_reward" in code or "\n" in code or "```" in code:
        text = code
    else:
        path = Path(code).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"`code` {code!r} is not reward source (no `def compute_reward`) and not a readable file: {e}") from None
    return extract_code(text) if "```" in text else text


@register_term
class LLMReward(Term):
    """A reward term computed by LLM-written ``compute_reward(obs, action, next_obs, info)`` in a sandbox.

    In configs: ``{"type": "LLMReward", "code": "<source or path>", "name": "llm"}``. When the code
    returns ``(total, {"dist": ..., "vel": ...})`` the term's parts are ``<name>_dist``,
    ``<name>_vel`` (each clipped) and ``<name>`` (the remainder: the clipped total minus the parts,
    which also holds fallbacks), so they sum to the term's value; a float return gives ``{<name>: value}``.

    Counters: ``calls`` (worker round trips), ``fallbacks`` (rows that got the fallback), ``failures``
    (round trips with a failing row), ``disabled``; ``last_error`` is the latest :class:`RowError`.
    Each step marks ``info["reward_fallback"]``: a bool array over sub-envs (with Gymnasium's
    ``_reward_fallback`` mask) for a vector env's dict info, a bool per dict for SB3's list of infos,
    a bool for a single env.

    Args:
        code: reward source, an LLM answer with a fenced block, or a file path.
        env_id: the env whose descriptor names the fields (default: the env the term is bound to).
        fallback: ``"zero"`` or ``"env"`` (the env's own reward) for rows whose call failed.
        r_max: every value is clipped to ``[-r_max, r_max]``.
        timeout_ms: wall-clock budget of one round trip (one vector step); start-up is not counted.
        max_failures: failed round trips tolerated before the rate applies (spec D4: 10).
        max_failure_rate: disabled when failures exceed ``max(max_failures, rate * calls)`` (spec D4: 1%).
        memory_mb: the worker's address-space limit.
        isolation: ``"auto"``, ``"bwrap"`` or ``"none"`` (see :class:`~rewardlab.shaping.llm.sandbox.SandboxWorker`).
        cwd: the worker's working directory (default ``/tmp``).
        name: the term's name (default ``llm``).

    Raises:
        RewardCodeRejected: the code fails gate 1 (``gate="static"``).
        InvalidParameter: a bad `fallback`, `r_max`, `timeout_ms` or failure threshold.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> code = "def compute_reward(obs, action, next_obs, info):\\n    return (next_obs.x0 - obs.x0, {'progress': next_obs.x0 - obs.x0})\\n"
        >>> term = LLMReward(code, name="llm")
        >>> t = Transition(np.array([[0.5, 0.0]]), np.array([1]), np.array([[0.75, 0.0]]), np.zeros(1),
        ...                np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool), {})
        >>> {k: v.tolist() for k, v in term.components(t).items()}
        {'llm': [0.0], 'llm_progress': [0.25]}
        >>> term.calls, term.fallbacks, t.info["reward_fallback"].tolist()
        (1, 0, [False])
        >>> term.close()
    """

    def __init__(self, code: str, env_id: str | None = None, *, fallback: str = "zero", r_max: float = 1e3,
                 timeout_ms: float = 100.0, max_failures: int = 10, max_failure_rate: float = 0.01, memory_mb: int = 1024,
                 isolation: str = "auto", cwd: str | None = None, name: str | None = None):
        # Each check guards what a bad value would break at training time, long after construction.
        if fallback not in ("zero", "env"):
            raise InvalidParameter(f"`fallback` must be 'zero' or 'env'. Received {fallback!r}")
        if isinstance(r_max, bool) or not isinstance(r_max, (int, float)) or not (0 < r_max < math.inf):
            raise InvalidParameter(f"`r_max` must be a positive finite number (the clip bound). Received {r_max!r}")
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not (0 < timeout_ms < math.inf):
            raise InvalidParameter(f"`timeout_ms` must be a positive number of milliseconds. Received {timeout_ms!r}")
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
            raise InvalidParameter(f"`max_failures` must be a non-negative int. Received {max_failures!r}")
        if not isinstance(max_failure_rate, (int, float)) or not (0 <= max_failure_rate <= 1):
            raise InvalidParameter(f"`max_failure_rate` must be in [0, 1]. Received {max_failure_rate!r}")
        if isolation not in ("auto", "bwrap", "none"):
            raise InvalidParameter(f"`isolation` must be 'auto', 'bwrap' or 'none'. Received {isolation!r}")
        source = load_code(code)
        tree = static_check(source)  # gate 1 at construction: a rejected program never gets a worker
        super().__init__(name, code=code, env_id=env_id, fallback=fallback, r_max=float(r_max), timeout_ms=float(timeout_ms),
                         max_failures=max_failures, max_failure_rate=float(max_failure_rate), memory_mb=int(memory_mb),
                         isolation=isolation, cwd=cwd)
        self.source = strip_imports(source, tree)
        self._bound_env: str | None = None
        self._sandbox: RewardSandbox | None = None
        self._owner = os.getpid()
        self._desc: Any = None
        self._parts: list[str] = []  # component names seen so far (reported on every later step)
        self._last: tuple[Any, tuple[Any, dict[str, Any]]] | None = None
        self.calls = self.fallbacks = self.failures = 0
        self.disabled = False
        self.last_error: RowError | None = None

    def default_name(self) -> str:
        return "llm"

    # --- binding and the worker ---------------------------------------------------------------
    def bind(self, env_id: str | None) -> None:
        self._bound_env = env_id

    @property
    def layers(self) -> tuple[str, ...]:
        """The sandbox layers in use (empty before the first call)."""
        return self._sandbox.layers if self._sandbox is not None else ()

    @property
    def pid(self) -> int | None:
        """The worker's process id (None before the first call and once disabled)."""
        return self._sandbox.worker.pid if self._sandbox is not None else None

    def _descriptor(self, t: Transition) -> Any:
        from rewardlab.shaping.llm.views import descriptor_for

        if self._desc is None:
            env_id = self._params["env_id"] or self._bound_env
            self._desc = descriptor_for(env_id, _space_of(t.obs), None)
        return self._desc

    def _ensure_sandbox(self, desc: Any) -> RewardSandbox:
        if self._sandbox is not None and self._owner != os.getpid():
            self._sandbox = None  # a forked copy (a process pool): never talk to the parent's worker
        if self._sandbox is None:
            self._owner = os.getpid()
            p = self._params
            self._sandbox = RewardSandbox(self.source, desc.to_dict(), memory_mb=p["memory_mb"], isolation=p["isolation"],
                                          cwd=p["cwd"], cpu_s=max(1.0, 10 * p["timeout_ms"] / 1000.0))
        return self._sandbox

    def close(self) -> None:
        """Kill the worker (a later call starts a new one unless the term is disabled)."""
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_sandbox"], state["_last"] = None, None  # a process cannot be pickled; a copy starts its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # --- the protocol -------------------------------------------------------------------------
    def __call__(self, t: Transition) -> Any:
        return self._evaluate(t, single=False)[0]

    def components(self, t: Transition) -> dict[str, Any]:
        return self._evaluate(t, single=False)[1]

    def single(self, s: SingleTransition) -> float:
        return float(self._evaluate(s.batched(), single=True)[0][0])

    def single_components(self, s: SingleTransition) -> dict[str, float]:
        return {k: float(v[0]) for k, v in self._evaluate(s.batched(), single=True)[1].items()}

    def _evaluate(self, t: Transition, single: bool) -> tuple[Any, dict[str, Any]]:
        if self._last is not None and self._last[0] is t:  # __call__ and components on one step: one round trip
            return self._last[1]
        env_reward = host(t.reward).astype(np.float64, copy=False).reshape(-1)
        n = env_reward.shape[0]
        valid = np.asarray(host(t.valid), dtype=bool).reshape(-1)
        r_max = self._params["r_max"]
        values = np.zeros(n)
        parts = np.zeros((n, len(self._parts)))
        failed = np.zeros(n, dtype=bool)
        rows = np.flatnonzero(valid)
        if self.disabled:
            failed[rows] = True
        elif rows.size:
            result = self._score(t, rows)
            ok = result.status == 0
            self.calls += 1
            if not ok.all():
                self._count_failure(result)
            good = rows[ok]
            values[good] = np.clip(result.totals[ok], -r_max, r_max)
            failed[rows[~ok]] = True
            for j, comp in enumerate(result.names):
                if comp not in self._parts and len(self._parts) < _MAX_PARTS:
                    self._parts.append(comp)
                    parts = np.concatenate([parts, np.zeros((n, 1))], axis=1)
                if comp in self._parts:
                    parts[good, self._parts.index(comp)] = np.clip(result.components[ok, j], -r_max, r_max)
        if failed.any():
            fallback = np.clip(env_reward, -r_max, r_max) if self._params["fallback"] == "env" else np.zeros(n)
            values[failed] = fallback[failed]
            parts[failed] = 0.0
            self.fallbacks += int(failed.sum())
        out = self._parts_dict(values, parts)
        total = None
        for v in out.values():  # the term's value is the sum of its parts, in order (the composer's invariant)
            total = v if total is None else total + v
        _mark(t.info, failed, single)
        total, out = _like(t.reward, total), {k: _like(t.reward, v) for k, v in out.items()}
        self._last = (t, (total, out))
        return total, out

    def _parts_dict(self, values: np.ndarray, parts: np.ndarray) -> dict[str, np.ndarray]:
        if not self._parts:
            return {self.name: values}
        out = {self.name: values - parts.sum(axis=1)}  # the remainder: total minus the named parts
        for j, comp in enumerate(self._parts):
            out[f"{self.name}_{comp}"] = parts[:, j].copy()
        return out

    def _score(self, t: Transition, rows: np.ndarray) -> BatchResult:
        try:
            desc = self._descriptor(t)
            layout, matrix = pack_rows(t.obs, t.action, t.next_obs, t.info, rows, desc.info_keys, desc.obs_keys)
            sandbox = self._ensure_sandbox(desc)
            return sandbox.score(matrix, layout, self._params["timeout_ms"] / 1000.0)
        except (SandboxError, OSError, ValueError, TypeError) as e:
            # Not the code's fault (the worker cannot start, or the step cannot be packed), but training
            # must go on: the rows fall back, and a cause that persists disables the candidate.
            return BatchResult.failed(len(rows), "died", f"{type(e).__name__}: {e}", 0.0)

    def _count_failure(self, result: BatchResult) -> None:
        self.failures += 1
        self.last_error = result.error
        p = self._params
        if self.failures > max(p["max_failures"], p["max_failure_rate"] * self.calls):
            self.disabled = True
            self.close()
            err = result.error
            why = f"{err.status}: {err.exc_type + ': ' if err.exc_type else ''}{err.message}" if err else "unknown"
            warnings.warn(
                f"LLMReward `{self.name}` disabled after {self.failures} failed calls of {self.calls} "
                f"(last: {why}); it returns the fallback reward from now on", ShapingWarning, stacklevel=3,
            )

    # --- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "fallbacks": self.fallbacks, "failures": self.failures, "disabled": self.disabled,
                "parts": list(self._parts), "restarts": self._sandbox.restarts if self._sandbox is not None else 0}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.calls, self.fallbacks, self.failures = int(state["calls"]), int(state["fallbacks"]), int(state["failures"])
        self.disabled = bool(state["disabled"])
        self._parts = list(state.get("parts", []))
        if self.disabled:
            self.close()


def _like(ref: Any, values: np.ndarray) -> Any:
    """`values` in the array type of the env reward (a torch tensor stays a torch tensor on its device)."""
    if hasattr(ref, "new_tensor"):
        return ref.new_tensor(values)
    return values


def _mark(info: Any, failed: np.ndarray, single: bool) -> None:
    """Write ``reward_fallback`` into the step's info in the convention of its front."""
    if isinstance(info, dict):
        if single:
            info["reward_fallback"] = bool(failed[0])
        else:
            info["reward_fallback"] = failed.copy()
            info["_reward_fallback"] = np.ones(failed.shape[0], dtype=bool)
    elif isinstance(info, Sequence) and not isinstance(info, (str, bytes)) and len(info) == failed.shape[0]:
        for i, d in enumerate(info):
            if isinstance(d, dict):
                d["reward_fallback"] = bool(failed[i])


class _Box:
    """Duck-typed observation space (shape/low/high) for a generic descriptor; no gymnasium needed."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape, self.low, self.high = shape, -np.inf, np.inf


_Box.__name__ = "Box"


class _Dict:
    def __init__(self, spaces: dict[str, Any]):
        self.spaces = spaces


_Dict.__name__ = "Dict"


def _space_of(obs: Any) -> Any:
    if isinstance(obs, Mapping):
        return _Dict({k: _Box(tuple(host(v).shape[1:])) for k, v in obs.items()})
    return _Box(tuple(host(obs).shape[1:]))

