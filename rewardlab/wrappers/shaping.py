"""Reward shaping for a single Gymnasium env. The vector twin is :class:`VectorRewardShaping`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym

from rewardlab.shaping.terms import SingleTransition, Term
from rewardlab.wrappers.composer import RewardComposer, term_and_config

__all__ = ["RewardShaping"]


class RewardShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Replace the env's reward with a reward term tree evaluated on each transition.

    Each step reports ``info["task_reward"]`` (the env's own reward) and ``info["reward_terms"]``
    (each part as summed); the parts sum to the returned reward. Named potentials are resolved
    against ``env.spec.id``. The term's constructor config is recorded, so ``gym.make(env.spec)``
    rebuilds the shaped env. For vector envs use :class:`VectorRewardShaping`.

    Args:
        env: the environment to shape.
        term: a reward term, or its config dict (see :func:`rewardlab.shaping.from_config`).

    Example:
        >>> import gymnasium as gym
        >>> from rewardlab.shaping import EnvReward, PBRS
        >>> from rewardlab.wrappers import RewardShaping
        >>> env = RewardShaping(gym.make("MountainCar-v0"), EnvReward() + PBRS("energy", gamma=0.99))
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(2)
        >>> info["task_reward"], sorted(info["reward_terms"]), round(reward, 4)
        (-1.0, ['env', 'pbrs_energy'], -0.9948)
        >>> gym.make(env.spec).spec.additional_wrappers[-1].kwargs
        {'term': {'type': 'Sum', 'terms': [{'type': 'EnvReward'}, {'type': 'PBRS', 'potential': 'energy', 'gamma': 0.99}]}}
    """

    def __init__(self, env: gym.Env, term: Term | Mapping[str, Any] | str):
        term, recorded = term_and_config(term)
        gym.utils.RecordConstructorArgs.__init__(self, term=recorded)
        gym.Wrapper.__init__(self, env)
        self.term = term
        self._composer = RewardComposer(term, env.spec.id if env.spec is not None else None)
        self._obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = obs
        self._composer.reset_single(obs)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward)
        total, parts = self._composer.single(SingleTransition(self._obs, action, obs, reward, terminated, truncated, info))
        self._obs = obs
        info["task_reward"] = reward
        info["reward_terms"] = parts
        return obs, total, terminated, truncated, info
