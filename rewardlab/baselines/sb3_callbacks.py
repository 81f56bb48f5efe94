"""Stable-Baselines3 callbacks that measure the task, not the shaped reward.

* :class:`EpisodeLogger` — per training episode: task return, success, length and each reward
  term's episode sum (read from the ``task_reward`` / ``reward_terms`` infos the shaping fronts write);
* :class:`TaskEvaluation` — periodic deterministic evaluation on the env's own reward;
* :class:`ProgressCallback` — calls ``fn(num_timesteps)`` at most every ``every_s`` seconds;
* :class:`ScalarLogCallback` — writes the contract's TensorBoard tags through a
  :class:`~rewardlab.baselines.tensorboard.ScalarLog` at every rollout end;
* :class:`LearnedTermsCallback` — trains the learned terms (RND, E3B) of one or more term trees at
  every rollout end and keeps their metrics (``bonus/<term>/<metric>``), one row per rollout.

Function :func:`evaluate_task` runs the evaluation episodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rewardlab.baselines.tensorboard import episode_scalars
from rewardlab.shaping.bonuses.training import learned_terms, update_learned_terms
from rewardlab.shaping.terms import Term

__all__ = ["EpisodeLogger", "LearnedTermsCallback", "ScalarLogCallback", "TaskEvaluation", "ProgressCallback", "evaluate_task", "observation_normalizer", "success_of"]


def success_of(info: dict[str, Any]) -> float:
    """``info["is_success"]`` as 1.0/0.0, or NaN when the env does not report success."""
    # No success criterion is invented: an env without `is_success` gets NaN.
    return float(bool(info["is_success"])) if "is_success" in info else math.nan


class EpisodeLogger(BaseCallback):
    """Record every finished training episode of a shaped VecEnv.

    Each record is ``{"step", "task_return", "success", "length", "terms": {name: episode sum}}``;
    ``term_totals`` and ``term_abs_totals`` accumulate each term over all training steps (the
    numbers behind a term's share of the training reward). Task return is the sum of
    ``info["task_reward"]`` (the env's own reward), never the shaped return; envs without the
    shaping infos fall back to the VecEnv reward. Success is ``info["is_success"]`` at the episode's
    last step, NaN when the env does not report it.

    Example:
        >>> from rewardlab.baselines.sb3 import make_vec_env
        >>> from stable_baselines3 import PPO
        >>> venv = make_vec_env("CartPole-v1", reward={"type": "Sum", "terms": ["EnvReward", {"type": "Constant", "value": 1.0}]}, seed=0)
        >>> logger = EpisodeLogger()
        >>> _ = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0).learn(64, callback=logger)
        >>> ep = logger.episodes[0]
        >>> ep["task_return"] == ep["length"] == ep["terms"]["env"] == ep["terms"]["constant"], ep["success"]
        (True, nan)
    """

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[dict[str, Any]] = []
        self.term_totals: dict[str, float] = {}
        self.term_abs_totals: dict[str, float] = {}
        self._ret: np.ndarray | None = None
        self._len: np.ndarray | None = None
        self._terms: list[dict[str, float]] = []
        self._fallbacks: np.ndarray | None = None  # LLMReward steps that got the fallback reward

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self._ret, self._len = np.zeros(n), np.zeros(n, dtype=np.int64)
        self._terms = [{} for _ in range(n)]
        self._fallbacks = np.zeros(n, dtype=np.int64)

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], self.locals["dones"]
        rewards = self.locals.get("rewards")
        for i, info in enumerate(infos):
            self._ret[i] += info["task_reward"] if "task_reward" in info else float(rewards[i])
            self._len[i] += 1
            self._fallbacks[i] += bool(info.get("reward_fallback", False))
            for name, value in info.get("reward_terms", {}).items():
                self._terms[i][name] = self._terms[i].get(name, 0.0) + value
                self.term_totals[name] = self.term_totals.get(name, 0.0) + value
                self.term_abs_totals[name] = self.term_abs_totals.get(name, 0.0) + abs(value)
            if dones[i]:
                self.episodes.append(
                    {
                        "step": int(self.num_timesteps),
                        "task_return": float(self._ret[i]),
                        "success": success_of(info),
                        "length": int(self._len[i]),
                        "terms": self._terms[i],
                    }
                )
                if "reward_fallback" in info:  # shaped by an LLMReward
                    self.episodes[-1]["reward_fallbacks"] = int(self._fallbacks[i])
                self._ret[i], self._len[i], self._terms[i], self._fallbacks[i] = 0.0, 0, {}, 0
        return True


def observation_normalizer(model: Any) -> Callable[[Any], Any]:
    """The model's frozen ``VecNormalize`` observation transform, or the identity."""
    vec_normalize = model.get_vec_normalize_env()
    return vec_normalize.normalize_obs if vec_normalize is not None else (lambda o: o)


def evaluate_task(
    model: Any, env: gym.Env, n_episodes: int, seed: int, deterministic: bool = True
) -> tuple[float, float]:
    """Mean task return and success rate (NaN when the env has no ``is_success``) over ``n_episodes``.

    ``env`` is an unshaped single env: its reward is the task reward. Episode ``k`` starts from
    ``reset(seed=seed + k)``, so every evaluation of a run sees the same start states. A model
    trained under ``VecNormalize`` sees observations normalised with its frozen training statistics.
    """
    normalize = observation_normalizer(model)
    returns, successes = [], []
    for k in range(n_episodes):
        obs, info = env.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(normalize(obs), deterministic=deterministic)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        successes.append(success_of(info))
    return float(np.mean(returns)), float(np.mean(successes))


class TaskEvaluation(BaseCallback):
    """Evaluate the policy on the task reward every ``every`` env steps (greedy actions by default).

    Evaluates once at the start and once at the end of training too. ``curve`` holds
    ``{"step", "task_return", "success"}`` rows, step being the number of env steps trained on.

    :param env: an unshaped env (its reward is the task reward).
    :param every: env steps (summed over sub-envs) between evaluations.
    :param n_episodes: episodes per evaluation.
    :param seed: episode ``k`` of every evaluation starts from ``reset(seed=seed + k)``.
    :param evaluate: ``evaluate(model, env, n_episodes, seed, deterministic) -> (task return, success)``;
        :func:`evaluate_task` for Gymnasium envs.
    :param deterministic: greedy actions (default), or actions sampled as in training.
    """

    def __init__(self, env: Any, every: int, n_episodes: int, seed: int,
                 evaluate: Callable[..., tuple[float, float]] = evaluate_task, deterministic: bool = True) -> None:
        super().__init__()
        self.env, self.every, self.n_episodes, self.seed = env, every, n_episodes, seed
        self.evaluate, self.deterministic = evaluate, deterministic
        self.curve: list[dict[str, float]] = []
        self._next = 0

    def _evaluate(self) -> None:
        ret, success = self.evaluate(self.model, self.env, self.n_episodes, self.seed, self.deterministic)
        self.curve.append({"step": int(self.num_timesteps), "task_return": ret, "success": success})
        self.logger.record("eval/task_return", ret)

    def _on_training_start(self) -> None:
        self._evaluate()
        self._next = self.num_timesteps + self.every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._evaluate()
            while self._next <= self.num_timesteps:  # n_envs > 1 steps past several marks at once
                self._next += self.every
        return True

    def _on_training_end(self) -> None:
        if not self.curve or self.curve[-1]["step"] != self.num_timesteps:
            self._evaluate()


class ProgressCallback(BaseCallback):
    """Call ``fn(num_timesteps)`` at most every ``every_s`` seconds (for progress displays)."""

    def __init__(self, fn: Callable[[int], None], every_s: float = 1.0) -> None:
        super().__init__()
        self.fn, self.every_s, self._last = fn, every_s, 0.0

    def _on_step(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.fn(int(self.num_timesteps))
        return True

    def _on_training_end(self) -> None:
        self.fn(int(self.num_timesteps))


class LearnedTermsCallback(BaseCallback):
    """Train the learned terms of `terms` (one tree per env, or one per agent) at every rollout end.

    SB3 computes advantages before ``on_rollout_end``, so the rollout was scored (and its advantages
    computed) with the old weights; the next rollout is scored with the new ones, as in TorchPPO.
    Metrics of several trees (a parameter-shared run has one tree per agent and env copy) are averaged
    per name. :attr:`log` holds one ``{"step", "bonus/<term>/<metric>": value}`` row per rollout that
    trained something; the values also go to SB3's logger.

    Example:
        >>> from stable_baselines3 import PPO
        >>> from rewardlab.baselines.sb3 import make_vec_env
        >>> from rewardlab.shaping import EnvReward
        >>> from rewardlab.shaping.bonuses import RND
        >>> term = EnvReward() + 0.1 * RND(embed_dim=8, hidden=16, seed=0)
        >>> callback = LearnedTermsCallback([term])
        >>> _ = PPO("MlpPolicy", make_vec_env("CartPole-v1", term), n_steps=32, batch_size=32, n_epochs=1, seed=0).learn(64, callback=callback)
        >>> [row["step"] for row in callback.log], [t.version for t in learned_terms(term)]
        ([32, 64], [2])
    """

    def __init__(self, terms: list[Term]):
        super().__init__()
        self.terms = [t for t in terms if learned_terms(t)]
        self.log: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        sums: dict[str, list[float]] = {}
        for term in self.terms:
            for name, metrics in update_learned_terms(term).items():
                for key, value in metrics.items():
                    sums.setdefault(f"bonus/{name}/{key}", []).append(float(value))
        if not sums:
            return
        row = {"step": int(self.num_timesteps), **{k: float(np.mean(v)) for k, v in sums.items()}}
        for key, value in row.items():
            if key != "step":
                self.logger.record(key, value)
        self.log.append(row)


class ScalarLogCallback(BaseCallback):
    """Write rewardlab's TensorBoard tags (see :mod:`rewardlab.baselines.tensorboard`) at each rollout end.

    Reads what the other callbacks recorded (put it after them): the episodes of `episodes` that
    ended since the last write (``train/episode_*`` and ``terms/<name>``, means over those
    episodes), the new rows of `curve` (``eval/*``) and of each `logs` list (``bonus/...``,
    ``blend/...``), and ``charts/sps``.
    """

    def __init__(self, scalars: Any, episodes: EpisodeLogger, evaluation: TaskEvaluation, logs: list[list[dict[str, float]]]):
        super().__init__()
        self.scalars, self.episodes, self.evaluation, self.logs = scalars, episodes, evaluation, logs
        self._seen = {"episodes": 0, "curve": 0, **{f"log{i}": 0 for i in range(len(logs))}}
        self._t0, self._steps0 = time.perf_counter(), 0

    def _on_step(self) -> bool:
        return True

    def _write(self) -> None:
        step = int(self.num_timesteps)
        new = self.episodes.episodes[self._seen["episodes"]:]
        self._seen["episodes"] = len(self.episodes.episodes)
        self.scalars.add_many(episode_scalars(new), step)
        for row in self.evaluation.curve[self._seen["curve"]:]:
            self.scalars.add_many({"eval/task_return": row["task_return"], "eval/success": row["success"]}, int(row["step"]))
        self._seen["curve"] = len(self.evaluation.curve)
        for i, log in enumerate(self.logs):
            for row in log[self._seen[f"log{i}"]:]:
                self.scalars.add_many({k: v for k, v in row.items() if k != "step"}, int(row["step"]))
            self._seen[f"log{i}"] = len(log)
        now = time.perf_counter()
        if now > self._t0 and step > self._steps0:
            self.scalars.add("charts/sps", (step - self._steps0) / (now - self._t0), step)
        self._t0, self._steps0 = now, step

    def _on_rollout_end(self) -> None:
        self._write()

    def _on_training_end(self) -> None:
        self._write()  # the final evaluation comes after the last rollout
        self.scalars.close()
