"""Stable-Baselines3 on shaped rewardlab envs: env factories, the reward/learner checks and ``train``.

Functions: :func:`make_env`, :func:`make_vec_env`, :func:`algorithm_class`, :func:`algorithm_gamma`,
:func:`train`; class :class:`TrainResult`; :data:`TRAINERS`, one registry entry per algorithm of
:data:`ALGORITHMS` (see :mod:`rewardlab.baselines.registry`).

The wrapper order is fixed on purpose: ``gym.make`` -> user wrappers -> SB3 ``Monitor`` ->
``DummyVecEnv`` -> :class:`~rewardlab.wrappers.SB3RewardShaping`. Monitor sits inside the shaping,
so SB3's own ``rollout/ep_rew_mean`` is the task return, not the shaped one.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from rewardlab.baselines.registry import Trainer, TrainRequest
from rewardlab.baselines.result import RunResult
from rewardlab.errors import ConfigError, InvalidParameter, MissingExtraError, did_you_mean
from rewardlab.shaping.pbrs import check_discount
from rewardlab.shaping.terms import Term, from_config, ref_to_callable

try:
    import torch
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("rewardlab.baselines.sb3", "train", e) from e

from rewardlab.baselines.sb3_blend import blend_callbacks
from rewardlab.baselines.sb3_callbacks import (
    EpisodeLogger,
    LearnedTermsCallback,
    ProgressCallback,
    ScalarLogCallback,
    TaskEvaluation,
    evaluate_task,
)
from rewardlab.baselines.tensorboard import ScalarLog
from rewardlab.wrappers.refs import WrapperRef, wrapper_fns
from rewardlab.wrappers.sb3 import SB3RewardShaping

__all__ = [
    "ALGORITHMS",
    "TrainResult",
    "algorithm_class",
    "algorithm_gamma",
    "TRAINERS",
    "check_action_space",
    "make_env",
    "make_vec_env",
    "train",
]

#: Algorithm name -> 'module:class'. sb3-contrib ones need ``pip install sb3-contrib``.
ALGORITHMS: dict[str, str] = {
    "PPO": "stable_baselines3:PPO",
    "A2C": "stable_baselines3:A2C",
    "DQN": "stable_baselines3:DQN",
    "SAC": "stable_baselines3:SAC",
    "TD3": "stable_baselines3:TD3",
    "QRDQN": "sb3_contrib:QRDQN",
    "TQC": "sb3_contrib:TQC",
    "TRPO": "sb3_contrib:TRPO",
}
# Action spaces each algorithm supports (SB3's docs, "RL Algorithms" table).
_DISCRETE_ONLY = {"DQN", "QRDQN"}
_BOX_ONLY = {"SAC", "TD3", "TQC"}

def algorithm_class(name: str) -> type[BaseAlgorithm]:
    """The SB3 class for an algorithm name in :data:`ALGORITHMS`."""
    if name not in ALGORITHMS:
        raise ConfigError(f"Unknown algorithm `{name}` (known: {sorted(ALGORITHMS)}).{did_you_mean(name, ALGORITHMS)}")
    module, cls = ALGORITHMS[name].split(":")
    if module == "sb3_contrib":
        try:
            import sb3_contrib  # noqa: F401
        except ImportError as e:
            raise MissingExtraError(f"Algorithm `{name}`", "train", e) from e
    return ref_to_callable(ALGORITHMS[name], "algorithm")  # type: ignore[return-value]


def algorithm_gamma(name: str, hyperparams: Mapping[str, Any] | None = None) -> float:
    """The discount the algorithm will use: ``hyperparams["gamma"]`` or the class default."""
    if hyperparams and "gamma" in hyperparams:
        return float(hyperparams["gamma"])
    return float(inspect.signature(algorithm_class(name).__init__).parameters["gamma"].default)


def make_env(
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    wrappers: Sequence[WrapperRef] = (),
    max_episode_steps: int | None = None,
) -> gym.Env:
    """``gym.make(env_id, **env_kwargs)`` followed by user wrappers given as 'module:name' (or
    ``{"wrapper": "module:name", "kwargs": {...}}``), e.g. ``"minigrid.wrappers:FlatObsWrapper"``."""
    import rewardlab  # noqa: F401  (registers the rewardlab/ ids)

    kwargs = dict(env_kwargs or {})
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as e:
        hint = "" if ":" in env_id else " (an id that another package registers on import is written `module:id`, e.g. `minigrid:MiniGrid-Empty-5x5-v0`)"
        raise ConfigError(f"Cannot make env `{env_id}`: {e}{hint}") from e
    for wrap in wrapper_fns(wrappers):
        env = wrap(env)
    return env


def make_vec_env(
    env_id: str,
    reward: Term | Mapping[str, Any] | str | None = None,
    n_envs: int = 1,
    seed: int = 0,
    wrappers: Sequence[WrapperRef] = (),
    max_episode_steps: int | None = None,
    **env_kwargs: Any,
) -> VecEnv:
    """A shaped SB3 VecEnv of ``n_envs`` copies of ``env_id``; sub-env ``i`` is seeded ``seed + i``.

    ``reward`` is a term or its config (default: the env's own reward, ``EnvReward``); every step's
    infos carry ``task_reward`` and ``reward_terms``.

    Example:
        >>> import numpy as np
        >>> venv = make_vec_env("MountainCar-v0", reward={"type": "Sum", "terms": ["EnvReward", {"type": "PBRS", "potential": "energy", "gamma": 0.99}]}, n_envs=2, seed=0)
        >>> _ = venv.reset()
        >>> _, rewards, _, infos = venv.step(np.array([2, 2]))
        >>> [i["task_reward"] for i in infos], sorted(infos[0]["reward_terms"])
        ([-1.0, -1.0], ['env', 'pbrs_energy'])
    """
    # A zero or negative count would build an env SB3 cannot step.
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise InvalidParameter(f"`n_envs` must be a positive integer. Received {n_envs!r}")
    term = from_config(reward if reward is not None else "EnvReward")

    def thunk() -> gym.Env:
        return Monitor(make_env(env_id, env_kwargs, wrappers, max_episode_steps))

    venv = SB3RewardShaping(DummyVecEnv([thunk] * n_envs), term, env_id=env_id)
    venv.seed(seed)
    return venv


@dataclass(kw_only=True)
class TrainResult(RunResult):
    """What :func:`train` returns: the SB3 model and the run's record."""

    model: BaseAlgorithm


def _policy_for(space: gym.Space) -> str:
    return "MultiInputPolicy" if isinstance(space, gym.spaces.Dict) else "MlpPolicy"


def check_action_space(algo: str, space: gym.Space, env_id: str) -> None:
    """Raise when `algo` cannot act in `space` (DQN needs Discrete; SAC/TD3/TQC need Box)."""
    if algo in _DISCRETE_ONLY and not isinstance(space, gym.spaces.Discrete):
        raise ConfigError(f"Algorithm `{algo}` needs a Discrete action space; env `{env_id}` has {space}")
    if algo in _BOX_ONLY and not isinstance(space, gym.spaces.Box):
        raise ConfigError(f"Algorithm `{algo}` needs a Box (continuous) action space; env `{env_id}` has {space}")


def train(
    algo: str,
    env_id: str,
    reward: Term | Mapping[str, Any] | str | None = None,
    total_steps: int = 10_000,
    seed: int = 0,
    n_envs: int = 1,
    hyperparams: Mapping[str, Any] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    wrappers: Sequence[WrapperRef] = (),
    max_episode_steps: int | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 5,
    eval_deterministic: bool = True,
    normalize_obs: bool = False,
    progress: Callable[[int], None] | None = None,
    torch_threads: int | None = 1,
    verbose: int = 0,
    tensorboard_dir: str | None = None,
    checkpoint_dir: str | None = None,
) -> TrainResult:
    """Train an SB3 algorithm on ``env_id`` shaped by ``reward`` and evaluate it on the task reward.

    Args:
        algo: a name in :data:`ALGORITHMS` (PPO, A2C, DQN, SAC, TD3; QRDQN, TQC, TRPO with sb3-contrib).
        env_id: any registered Gymnasium id.
        reward: a term or its config; default the env's own reward.
        total_steps: env steps to train for, summed over sub-envs.
        seed: seeds the learner, sub-env ``i`` with ``seed + i`` and evaluation with ``10_000 + seed``.
        n_envs: sub-envs in the training VecEnv.
        hyperparams: keyword arguments of the SB3 class (``gamma``, ``n_steps``, ``policy_kwargs``...).
        env_kwargs, wrappers, max_episode_steps: how each env is made (see :func:`make_env`).
        eval_every: env steps between evaluations (default: ``total_steps // 10``).
        eval_episodes: episodes per evaluation.
        eval_deterministic: evaluate the greedy policy (default) or sample actions as in training.
        normalize_obs: wrap the shaped VecEnv in SB3's ``VecNormalize`` (observations only). It sits
            outside the shaping, so potentials still see raw observations; evaluation reuses its statistics.
        progress: optional ``fn(num_timesteps)`` called about once a second.
        torch_threads: ``torch.set_num_threads`` for this process (one by default: more threads on
            a busy CPU made SB3 PPO 11x slower, see specs/performance.md); None leaves it alone.
        tensorboard_dir: this run's TensorBoard folder: rewardlab's tags (see
            :mod:`rewardlab.baselines.tensorboard`) in it, SB3's own scalars in its ``sb3_1/``.
        checkpoint_dir: accepted for the common trainer signature; SB3 runs do not checkpoint
            (their registry entries say ``resumable=False``), so a killed SB3 run starts over.

    Learned terms (RND, E3B) train once per rollout (collection, for off-policy learners) and a
    learned blend runs its outer step; their metrics are in ``result.learner_log``.

    Raises:
        ConfigError: unknown algorithm, an action space the algorithm cannot use, or a PBRS term
            whose gamma differs from the learner's.

    Example:
        >>> result = train("PPO", "CartPole-v1", total_steps=128, seed=0, hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1}, eval_every=64, eval_episodes=1)
        >>> [row["step"] for row in result.curve], result.steps
        ([0, 64, 128], 128)
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise InvalidParameter(f"`total_steps` must be a positive integer. Received {total_steps!r}")
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    hyperparams = copy.deepcopy(dict(hyperparams or {}))  # SB3 writes into nested ones (`policy_kwargs`)
    cls = algorithm_class(algo)
    term = from_config(reward if reward is not None else "EnvReward")
    check_discount(term, algorithm_gamma(algo, hyperparams))
    venv = make_vec_env(env_id, term, n_envs, seed, wrappers, max_episode_steps, **dict(env_kwargs or {}))
    check_action_space(algo, venv.action_space, env_id)
    if normalize_obs:
        venv = VecNormalize(venv, norm_obs=True, norm_reward=False)
    eval_env = make_env(env_id, env_kwargs, wrappers, max_episode_steps)
    policy = hyperparams.pop("policy", _policy_for(venv.observation_space))
    try:
        model = cls(policy, venv, seed=seed, verbose=verbose, tensorboard_log=tensorboard_dir, **hyperparams)
    except TypeError as e:
        raise ConfigError(f"Bad hyper-parameters for `{algo}`: {e}") from e
    return learn_and_evaluate(model, venv, eval_env, total_steps, eval_every, eval_episodes, seed, progress,
                              deterministic=eval_deterministic, terms=[term], tensorboard_dir=tensorboard_dir)


def learn_and_evaluate(
    model: Any,
    venv: Any,
    eval_env: Any,
    total_steps: int,
    eval_every: int | None,
    eval_episodes: int,
    seed: int,
    progress: Any = None,
    evaluate: Callable[..., tuple[float, float]] | None = None,
    deterministic: bool = True,
    terms: Sequence[Term] = (),
    tensorboard_dir: str | None = None,
) -> TrainResult:
    """Train `model` while logging episodes and evaluating on the task reward; close the envs after.

    `terms` are the term trees the envs are shaped with (one per env, or one per agent): their
    learned terms train at every rollout end and their learned blends run their outer step; the
    metrics of both go to ``learner_log``, merged by step.
    """
    logger = EpisodeLogger()
    every = eval_every or max(1, total_steps // 10)
    eval_time = [0.0]  # seconds spent evaluating, taken out of the training steps/s

    def timed_evaluate(*args: Any, **kwargs: Any) -> tuple[float, float]:
        t0 = time.perf_counter()
        try:
            return (evaluate or evaluate_task)(*args, **kwargs)
        finally:
            eval_time[0] += time.perf_counter() - t0

    evaluation = TaskEvaluation(eval_env, every, eval_episodes, 10_000 + seed, timed_evaluate, deterministic=deterministic)
    learned = LearnedTermsCallback(list(terms))
    blends = [cb for term in terms for cb in blend_callbacks(term)]
    callbacks = [logger, evaluation, learned, *blends] + ([ProgressCallback(progress)] if progress is not None else [])
    if tensorboard_dir is not None:
        logs = [learned.log, *(cb.log for cb in blends)]
        callbacks.append(ScalarLogCallback(ScalarLog(tensorboard_dir), logger, evaluation, logs))
    start = time.perf_counter()
    model.learn(total_steps, callback=callbacks, tb_log_name="sb3")
    wall = time.perf_counter() - start
    venv.close()
    eval_env.close()
    return TrainResult(
        model=model,
        curve=evaluation.curve,
        episodes=logger.episodes,
        term_totals=logger.term_totals,
        term_abs_totals=logger.term_abs_totals,
        steps=int(model.num_timesteps),
        wall_time_s=wall,
        eval_time_s=eval_time[0],
        learner_log=merge_logs([learned.log, *(cb.log for cb in blends)]),
    )


def merge_logs(logs: Sequence[Sequence[Mapping[str, float]]]) -> list[dict[str, float]]:
    """Rows of several per-rollout logs merged by ``"step"``, in step order.

    Example:
        >>> merge_logs([[{"step": 8, "bonus/rnd/loss": 0.5}], [{"step": 8, "blend/blend/w": 1.0}, {"step": 16, "blend/blend/w": 2.0}]])
        [{'step': 8, 'bonus/rnd/loss': 0.5, 'blend/blend/w': 1.0}, {'step': 16, 'blend/blend/w': 2.0}]
    """
    rows: dict[int, dict[str, float]] = {}
    for log in logs:
        for row in log:
            rows.setdefault(int(row["step"]), {"step": int(row["step"])}).update(row)
    return [rows[k] for k in sorted(rows)]


# ---------------------------------------------------------------- registry entries


class _NeedsExtra:
    """Stands in for the ``__init__`` of an algorithm whose package is missing: using it names the extra."""

    def __init__(self, algo: str):
        self.algo = algo

    @property
    def __signature__(self) -> inspect.Signature:
        algorithm_class(self.algo)  # raises MissingExtraError
        raise AssertionError("unreachable")  # pragma: no cover

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return algorithm_class(self.algo)(*args, **kwargs)


def _collection(algo: str, hyperparams: Mapping[str, Any], n_envs: int) -> tuple[int, str] | None:
    """PPO-style learners collect rollouts of ``n_envs x n_steps``, off-policy ones ``n_envs x train_freq``."""
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    cls = algorithm_class(algo)
    params = inspect.signature(cls.__init__).parameters
    if issubclass(cls, OnPolicyAlgorithm):
        return n_envs * int(hyperparams.get("n_steps", params["n_steps"].default)), "rollouts of n_envs x n_steps"
    if issubclass(cls, OffPolicyAlgorithm):
        freq = hyperparams.get("train_freq", params["train_freq"].default)
        if isinstance(freq, (list, tuple)):
            if len(freq) != 2 or freq[1] != "step":  # episode-based collection: its length is not known ahead
                return None
            freq = freq[0]
        return n_envs * int(freq), "collections of n_envs x train_freq"
    return None


def _train_request(algo: str, request: TrainRequest) -> TrainResult:
    """One ablation run: :func:`train` on a Gymnasium id, or parameter-shared training on a ``parallel_env``."""
    env = request.env
    common = dict(
        reward=request.reward, total_steps=request.total_steps, seed=request.seed, hyperparams=request.hyperparams,
        eval_every=request.eval_every, eval_episodes=request.eval_episodes, eval_deterministic=request.eval_deterministic,
        normalize_obs=request.normalize_obs, progress=request.progress, tensorboard_dir=request.tensorboard_dir,
        checkpoint_dir=request.checkpoint_dir,
    )  # fmt: skip
    if env.get("parallel_env") is not None:
        from rewardlab.baselines.multiagent import train_parallel

        make = ref_to_callable(env["parallel_env"], "parallel_env")
        kwargs = dict(env.get("kwargs") or {})
        return train_parallel(lambda: make(**kwargs), algo=algo, n_copies=request.n_envs, **common)
    return train(algo, env["id"], n_envs=request.n_envs, env_kwargs=env.get("kwargs"), wrappers=env.get("wrappers") or (),
                 max_episode_steps=env.get("max_episode_steps"), **common)


def _entry(algo: str) -> Trainer:
    try:
        init: Callable[..., Any] = algorithm_class(algo).__init__
    except MissingExtraError:  # sb3-contrib not installed: the entry exists and names the extra when used
        init = _NeedsExtra(algo)
    return Trainer(
        name=algo,
        train=lambda request: _train_request(algo, request),
        hyperparams=init,
        gamma=lambda hyperparams: algorithm_gamma(algo, hyperparams),
        check_action_space=lambda space, where: check_action_space(algo, space, where),
        collection=lambda hyperparams, n_envs: _collection(algo, hyperparams, n_envs),
        single_agent=True,
        multi_agent=True,  # parameter-shared, through rewardlab.baselines.multiagent.train_parallel
        normalize_obs=True,
        resumable=False,
    )


#: This module's registry entries, one per algorithm of :data:`ALGORITHMS`.
TRAINERS: list[Trainer] = [_entry(algo) for algo in ALGORITHMS]
