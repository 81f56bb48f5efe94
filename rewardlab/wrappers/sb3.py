"""Reward shaping for a Stable-Baselines3 VecEnv (needs the ``train`` extra)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardlab.errors import MissingExtraError

try:
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("rewardlab.wrappers.SB3RewardShaping", "train", e) from e

from rewardlab._array import replace_rows
from rewardlab.shaping.terms import Term, Transition, from_config
from rewardlab.wrappers.composer import RewardComposer

__all__ = ["SB3RewardShaping"]


class SB3RewardShaping(VecEnvWrapper):
    """Shape an SB3 VecEnv's rewards with a reward term tree.

    SB3 resets a sub-env in the same step it ends, so the true ``s'`` comes from
    ``infos[i]["terminal_observation"]``, and ``infos[i]["TimeLimit.truncated"]`` separates
    truncation (where SB3 bootstraps, and PBRS keeps ``Phi(s')`` in ``"bootstrap"`` mode) from
    termination. Each info dict gets ``task_reward`` and ``reward_terms``.

    :param venv: the SB3 VecEnv to wrap.
    :param term: a reward term or its config dict.
    :param env_id: the env id for named potentials (default: the first sub-env's spec id).

    Example:
        >>> import gymnasium as gym
        >>> from stable_baselines3.common.vec_env import DummyVecEnv
        >>> from rewardlab.shaping import EnvReward, PBRS
        >>> from rewardlab.wrappers import SB3RewardShaping
        >>> venv = SB3RewardShaping(DummyVecEnv([lambda: gym.make("MountainCar-v0")]), EnvReward() + PBRS("energy", gamma=0.99))
        >>> venv.seed(0)
        [0]
        >>> _ = venv.reset()
        >>> _, rewards, _, infos = venv.step(np.array([2]))
        >>> infos[0]["task_reward"], [round(float(r), 4) for r in rewards]
        (-1.0, [-0.9948])
    """

    def __init__(self, venv: VecEnv, term: Term | Mapping[str, Any] | str, env_id: str | None = None):
        super().__init__(venv)
        self.term = from_config(term)
        if env_id is None:
            spec = venv.get_attr("spec", indices=[0])[0]
            env_id = spec.id if spec is not None else None
        self._composer = RewardComposer(self.term, env_id)
        self._ones = np.ones(self.num_envs, dtype=bool)
        self._obs: Any = None
        self._actions: Any = None

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._composer.reset(self._ones, obs)
        self._obs = obs
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions
        self.venv.step_async(actions)

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, dones, infos = self.venv.step_wait()
        dones = np.asarray(dones, dtype=bool)
        truncated = dones & np.array([bool(info.get("TimeLimit.truncated", False)) for info in infos])
        next_obs = obs
        if dones.any():
            next_obs = replace_rows(obs, {i: infos[i]["terminal_observation"] for i in np.flatnonzero(dones)})
        t = Transition(self._obs, self._actions, next_obs, np.asarray(rewards, dtype=np.float64), dones & ~truncated, truncated, self._ones, infos)
        total, parts = self._composer(t)
        if dones.any():
            self._composer.reset(dones, obs)
        self._obs = obs
        task, columns = np.asarray(rewards, dtype=np.float64).tolist(), {k: v.tolist() for k, v in parts.items()}
        for i, info in enumerate(infos):
            info["task_reward"] = task[i]
            info["reward_terms"] = {k: column[i] for k, column in columns.items()}
        return obs, total.astype(np.float32), dones, infos
