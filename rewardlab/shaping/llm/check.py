"""Gates 1 and 2 for LLM-written reward code: the static check, then a dry run in the sandbox worker.

Function :func:`check_reward_code`, dataclass :class:`GateReport`, and :func:`sample_transitions`
(random-policy transitions and edge cases of an env, the dry run's inputs).

The dry run needs transitions of the env. :func:`sample_transitions` makes them with
``gymnasium.make(env_id)``: rewardlab's own ids resolve because importing this module imports the
``rewardlab`` package, which registers them; nothing here imports ``rewardlab.envs``. Callers with
their own transitions pass them as ``transitions=`` instead.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rewardlab.errors import ConfigError, RewardCodeRejected
from rewardlab.shaping.llm.gates import extract_code, static_check, strip_imports
from rewardlab.shaping.llm.sandbox import BatchResult, RewardSandbox, pack_rows

__all__ = ["check_reward_code", "GateReport", "sample_transitions"]

# Hints for each dry-run rule: what the LLM should change.
_HINTS = {
    "crash": "fix the error at the line shown; use only the documented fields of obs/next_obs/info, np and math",
    "return:type": "return a float, or a tuple (float, dict of str -> float)",
    "nonfinite": "guard divisions and logs (e.g. np.log(max(x, 1e-8)), x / (d + 1e-8)) and avoid exp overflow",
    "nondeterministic": "the reward must depend only on its arguments: no state kept between calls",
    "mutation": "do not modify obs, next_obs, action or info; compute new values instead",
    "timeout": "the reward is computed every step: no long loops or large matrix operations",
    "memory": "do not build large arrays; a reward needs only a few numbers",
    "latency": "the reward is computed every step: make it cheaper (no loops over large ranges)",
    "bound": "keep the reward's magnitude small (scale it down)",
}


@dataclass
class GateReport:
    """What the gates found for a program that passed them.

    ``latency_p99_ms`` is the 99th percentile of the thread CPU time of one call (robust to other
    load on the machine); ``reward`` holds min/mean/max over the dry run's rows; ``components`` the
    same per named component; ``warnings`` the non-fatal findings (constant output, large values).
    """

    env_id: str | None
    rows: int
    edge_cases: int
    latency_p50_ms: float
    latency_p99_ms: float
    reward: dict[str, float]
    components: dict[str, dict[str, float]]
    constant: bool
    warnings: list[str] = field(default_factory=list)
    layers: tuple[str, ...] = ()
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d


def check_reward_code(source: str, env_id: str | None, *, descriptor: Any = None, samples: int = 256, seed: int = 0,
                      transitions: Mapping[str, Any] | None = None, timeout_s: float = 5.0, memory_mb: int = 1024,
                      r_max: float = 1e3, strict: bool = False, latency_ms: float = 5.0, isolation: str = "auto",
                      cwd: str | None = None, allow_while: bool = False) -> GateReport:
    """Run gate 1 (static) and gate 2 (dry run in the sandbox) on reward code.

    The dry run scores ``samples`` random-policy transitions plus edge cases (zeros, the
    observation space's bounds, a success step) twice, in one worker under ``RLIMIT_AS`` and a
    wall clock of ``timeout_s`` per pass, and checks: every row returns a finite float or
    ``(float, dict)``; the two passes agree bit for bit; inputs are unchanged; p99 CPU latency per
    call is at most ``latency_ms``; |r| <= ``r_max`` (a warning, or a rejection when ``strict``).

    Args:
        source: the code, or an LLM answer holding it in a fenced block.
        env_id: the env whose transitions and descriptor are used (None with `transitions` and `descriptor`).
        descriptor: an :class:`~rewardlab.shaping.llm.views.EnvDescriptor`; default: the one registered for `env_id`.
        samples: random-policy transitions.
        seed: seed of the env and of the random policy.
        transitions: pre-made inputs instead of sampling: ``obs``, ``action``, ``next_obs`` (batched
            arrays or dicts of arrays) and ``info`` (dict of arrays over rows).
        timeout_s: wall-clock limit of one pass over all rows (spec D4: 5 s).
        memory_mb: the worker's address-space limit (spec D4: 1 GiB).
        r_max: the magnitude bound.
        strict: reject (rule ``bound``) instead of warning when |r| > r_max.
        latency_ms: the p99 CPU-time bound per call. The spec's target is 1 ms on an idle machine;
            the default allows for a loaded one.
        isolation: see :class:`~rewardlab.shaping.llm.sandbox.SandboxWorker`.
        cwd: the worker's working directory (default: a fresh empty temporary folder).
        allow_while: passed to :func:`~rewardlab.shaping.llm.gates.static_check` (tests of the runtime guard only).

    Returns:
        The :class:`GateReport`.

    Raises:
        RewardCodeRejected: ``gate="static"`` or ``gate="dry_run"``, with the rule, line and a hint.
        ConfigError: neither `env_id` nor `transitions` is given, or the env cannot be made.

    Example:
        >>> ok = "def compute_reward(obs, action, next_obs, info):\\n    return 10.0 * (next_obs.position - obs.position)\\n"
        >>> report = check_reward_code(ok, "rewardlab/Sparse-MountainCar-v0", samples=32)
        >>> report.rows, report.constant
        (36, False)
        >>> nan = "import numpy as np\\ndef compute_reward(obs, action, next_obs, info):\\n    return float(np.log(obs.position + 0.5))\\n"
        >>> try:
        ...     check_reward_code(nan, "rewardlab/Sparse-MountainCar-v0", samples=32)
        ... except RewardCodeRejected as e:
        ...     print(e.gate, e.rule)
        dry_run nonfinite
    """
    start = time.perf_counter()
    code = extract_code(source) if "```" in source else source
    tree = static_check(code, allow_while=allow_while)
    stripped = strip_imports(code, tree)
    if transitions is None:
        if env_id is None:
            raise ConfigError("check_reward_code needs an `env_id` to sample transitions from, or `transitions=`")
        transitions, spaces = sample_transitions(env_id, samples, seed, descriptor)
    else:
        spaces = (None, None)
    if descriptor is None:
        from rewardlab.shaping.llm.views import descriptor_for

        from rewardlab.shaping.llm.reward import _space_of

        batch_obs = transitions["obs"]
        descriptor = descriptor_for(env_id, *spaces) if spaces[0] is not None else descriptor_for(env_id, _space_of(batch_obs))
    batch = dict(transitions)
    n = int(np.asarray(_first(batch["obs"])).shape[0])
    layout, matrix = pack_rows(batch["obs"], batch.get("action"), batch["next_obs"], batch.get("info", {}), np.arange(n),
                               descriptor.info_keys, descriptor.obs_keys)
    workdir = tempfile.TemporaryDirectory(prefix="rewardlab-dryrun-") if cwd is None else None
    sandbox = RewardSandbox(stripped, descriptor.to_dict(), memory_mb=memory_mb, cpu_s=timeout_s + 1.0, isolation=isolation,
                            cwd=cwd if cwd is not None else workdir.name)
    try:
        first = sandbox.score(matrix, layout, timeout_s, timing=True, check_inputs=True)
        _reject_failures(first, batch, descriptor, timeout_s)
        second = sandbox.score(matrix, layout, timeout_s)
        _reject_failures(second, batch, descriptor, timeout_s)
        layers = sandbox.layers
    finally:
        sandbox.close()
        if workdir is not None:
            workdir.cleanup()
    differs = np.flatnonzero(first.totals.view(np.uint64) != second.totals.view(np.uint64))
    if differs.size == 0 and first.names == second.names and first.components.shape == second.components.shape:
        differs = np.flatnonzero((first.components.view(np.uint64) != second.components.view(np.uint64)).any(axis=1))
    elif differs.size == 0:
        differs = np.arange(min(1, n))
    if differs.size:
        i = int(differs[0])
        raise RewardCodeRejected("dry_run", "nondeterministic",
                                 f"two calls on the same transition {i} gave {float(first.totals[i])!r} and {float(second.totals[i])!r}",
                                 None, _HINTS["nondeterministic"])
    latency = first.latency_ns / 1e6
    p50, p99 = (float(np.percentile(latency, q)) for q in (50, 99))
    if p99 > latency_ms:
        raise RewardCodeRejected("dry_run", "latency", f"p99 CPU time per call is {p99:.2f} ms (limit {latency_ms:g} ms)",
                                 None, _HINTS["latency"])
    warnings: list[str] = []
    big = np.flatnonzero(np.abs(first.totals) > r_max)
    if big.size:
        msg = f"|reward| exceeds r_max={r_max:g} on {big.size} of {n} transitions (max {np.abs(first.totals).max():.4g}); it will be clipped"
        if strict:
            raise RewardCodeRejected("dry_run", "bound", msg, None, _HINTS["bound"])
        warnings.append(msg)
    constant = bool(np.all(first.totals == first.totals[0])) if n else True
    if constant:
        warnings.append(f"the reward is the same ({first.totals[0]:.6g}) on every transition: it gives no learning signal")
    stats = {"min": float(first.totals.min()), "mean": float(first.totals.mean()), "max": float(first.totals.max())} if n else {}
    comps = {name: {"min": float(col.min()), "mean": float(col.mean()), "max": float(col.max())}
             for name, col in zip(first.names, first.components.T)}
    return GateReport(env_id, n, int(batch.get("edge_cases", 0)), p50, p99, stats, comps, constant, warnings, layers,
                      time.perf_counter() - start)


def _first(obs: Any) -> Any:
    return next(iter(obs.values())) if isinstance(obs, Mapping) else obs


def _describe_row(batch: Mapping[str, Any], descriptor: Any, i: int) -> str:
    """The failing transition in words: its fields (for the LLM), e.g. 'position=0.41, velocity=0.02'."""
    from rewardlab.shaping.llm.views import make_view

    obs = batch["obs"]
    row = {k: np.asarray(v)[i] for k, v in obs.items()} if isinstance(obs, Mapping) else np.asarray(obs)[i]
    try:
        view = make_view(descriptor, row)
        parts = [f"{k}={getattr(view, k):.4g}" for k in view.fields if isinstance(getattr(view, k), (int, float))][:8]
        return ", ".join(parts)
    except Exception:  # noqa: BLE001 - a description is a courtesy; the rejection stands without it
        return ""


def _reject_failures(result: BatchResult, batch: Mapping[str, Any], descriptor: Any, timeout_s: float) -> None:
    if result.ok.all():
        return
    err = result.error
    status = err.status if err is not None else "crash"
    rule = {"died": "crash"}.get(status, status)
    message = err.message if err is not None else "the call failed"
    if status == "died" and "SIGXCPU" in message:
        rule = "timeout"
    if status == "died" and ("SIGKILL" in message or "SIGSEGV" in message):
        message += " (a memory or resource limit)"
    detail = message
    if status == "timeout":
        detail = f"the dry run did not finish within {timeout_s:g} s; the worker was killed"
    elif err is not None and err.row >= 0 and status not in ("timeout", "died"):
        what = f"{err.exc_type}: {message}" if err.exc_type else message
        inputs = _describe_row(batch, descriptor, err.row)
        detail = f"{what} (on dry-run transition {err.row}{': obs ' + inputs if inputs else ''}; {int((~result.ok).sum())} of {len(result.ok)} transitions failed)"
    raise RewardCodeRejected("dry_run", rule, detail, err.line if err is not None else None, _HINTS.get(rule, ""))


def sample_transitions(env_id: str, samples: int = 256, seed: int = 0, descriptor: Any = None) -> tuple[dict[str, Any], tuple[Any, Any]]:
    """`samples` random-policy transitions of ``gymnasium.make(env_id)`` plus edge cases.

    Edge cases: an all-zeros observation, the observation space's low and high bounds (where
    finite; 0 elsewhere), and a success step (every info key set to 1.0, as on the step an episode
    succeeds). Returns the batch (``obs``, ``action``, ``next_obs``, ``info`` as arrays over rows,
    ``edge_cases``) and ``(observation_space, action_space)``.

    Raises:
        ConfigError: the env cannot be made (the message names the id).
    """
    import gymnasium as gym

    from rewardlab.shaping.llm.views import descriptor_for

    try:
        env = gym.make(env_id)
    except Exception as e:  # noqa: BLE001 - unknown id or missing extra: say which env
        raise ConfigError(f"check_reward_code cannot make env `{env_id}`: {e}") from e
    try:
        desc = descriptor if descriptor is not None else descriptor_for(env_id, env.observation_space, env.action_space)
        keys = desc.info_keys
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        obs_rows, act_rows, next_rows, info_rows = [], [], [], []
        for _ in range(samples):
            action = env.action_space.sample()
            nxt, _, terminated, truncated, info = env.step(action)
            obs_rows.append(obs), act_rows.append(action), next_rows.append(nxt)
            info_rows.append([_as_float(info.get(k, 0.0)) for k in keys])
            obs = nxt
            if terminated or truncated:
                obs, _ = env.reset()
        edges = _edge_observations(env.observation_space, obs_rows[0])
        for e in edges:
            obs_rows.append(e), act_rows.append(act_rows[0]), next_rows.append(e), info_rows.append([0.0] * len(keys))
        obs_rows.append(obs_rows[-len(edges) - 1]), act_rows.append(act_rows[0]), next_rows.append(next_rows[-len(edges) - 1])
        info_rows.append([1.0] * len(keys))  # the success step
        spaces = (env.observation_space, env.action_space)
    finally:
        env.close()
    info = {k: np.array([r[j] for r in info_rows]) for j, k in enumerate(keys)}
    batch = {"obs": _stack(obs_rows), "action": np.asarray(act_rows), "next_obs": _stack(next_rows), "info": info,
             "edge_cases": len(edges) + 1}
    return batch, spaces


def _as_float(value: Any) -> float:
    try:
        v = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def _stack(rows: list[Any]) -> Any:
    if isinstance(rows[0], Mapping):
        return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
    return np.stack([np.asarray(r) for r in rows])


def _edge_observations(space: Any, example: Any) -> list[Any]:
    """Zeros, low and high of a Box (or Dict of Boxes) observation space, with infinite bounds replaced by 0."""
    def edges(sub: Any, like: Any) -> list[np.ndarray]:
        like = np.asarray(like)
        zeros = np.zeros_like(like)
        low, high = getattr(sub, "low", None), getattr(sub, "high", None)
        if low is None or high is None:
            n = getattr(sub, "n", None)
            return [zeros] + ([np.full_like(like, int(getattr(sub, "start", 0)) + int(n) - 1)] if n is not None else [])
        lo = np.where(np.isfinite(low), low, 0).astype(like.dtype)
        hi = np.where(np.isfinite(high), high, 0).astype(like.dtype)
        return [zeros, lo.reshape(like.shape), hi.reshape(like.shape)]

    if isinstance(example, Mapping):
        per_key = {k: edges(space.spaces[k], v) for k, v in example.items()}
        count = min(len(v) for v in per_key.values())
        return [{k: v[i] for k, v in per_key.items()} for i in range(count)]
    return edges(space, example)
