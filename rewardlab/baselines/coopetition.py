"""Oracles and heuristic policies for the coopetition envs (spec §4), computed on the reward actually paid.

Policies are batched callables on one agent's observations, ``policy(obs[N, d]) -> actions[N]``; the
Gym views take them as ``policies=`` for the agents they do not control. Oracles:

- :func:`stage_oracle`: the closed-form-checked stage equilibria ("nash", "coopetitive", "social") of
  the env's own first-step reward (see :mod:`rewardlab.envs.coopetition.equilibria`);
- :func:`best_response_level`: one agent's best constant level against the others' constant levels,
  by full-episode returns under the env's dynamics and reward mode;
- :func:`best_constant`: the best common fraction of each agent's endowment for the team's return.

:func:`episode_returns` scores constant joint actions by running them as B parallel episodes of the
batched core, so every oracle is reported on the same footing as the best constant.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.equilibria import KINDS, stage_equilibrium
from rewardlab.envs.coopetition.params import GameParams, build_params
from rewardlab.errors import InvalidParameter

__all__ = [
    "ConstantPolicy",
    "RandomPolicy",
    "TitForTat",
    "stage_oracle",
    "episode_returns",
    "best_response_level",
    "best_constant",
]


class ConstantPolicy:
    """Always play `level`.

    Example:
        >>> ConstantPolicy(23.242)(np.zeros((2, 13), dtype=np.float32))
        array([23.242, 23.242])
    """

    def __init__(self, level: float):
        self.level = float(level)

    def __call__(self, obs: Any) -> np.ndarray:
        return np.full(np.shape(obs)[0], self.level)


class RandomPolicy:
    """Uniform on [0, high], from its own seeded generator.

    Example:
        >>> RandomPolicy(100.0, seed=0)(np.zeros((3, 13))).round(2)
        array([63.7 , 26.98,  4.1 ])
    """

    def __init__(self, high: float, seed: int | None = None):
        self.high = float(high)
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: Any) -> np.ndarray:
        return self.rng.uniform(0.0, self.high, np.shape(obs)[0])


class TitForTat:
    """Continuous tit-for-tat for any n: contribute the others' mean last contribution rate times own endowment.

    Reads the agent's one-hot id (entries 0..n-1) and the last actions / e (entries 5n..6n-1) from the
    per-agent observation, so one instance serves every agent of an env.

    Example:
        >>> tft = TitForTat(np.array([100.0, 80.0]))
        >>> obs = np.zeros((2, 13))
        >>> obs[:, :2], obs[:, 10:12] = np.eye(2), [0.3, 0.5]  # ids; last a/e = [.3, .5]
        >>> tft(obs)
        array([50., 24.])
    """

    def __init__(self, endowment: np.ndarray):
        self.endowment = np.asarray(endowment, dtype=np.float64)
        self.n = self.endowment.shape[0]

    def __call__(self, obs: Any) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        onehot, rates = obs[:, : self.n], obs[:, 5 * self.n : 6 * self.n]
        others = (rates * (1.0 - onehot)).sum(-1) / (self.n - 1)
        return others * (onehot @ self.endowment)


def _params(env: str | GameParams, **kwargs: Any) -> GameParams:
    return build_params(env, **kwargs) if isinstance(env, str) else env


def stage_oracle(env: str | GameParams, kind: str = "nash", **kwargs: Any) -> np.ndarray:
    """Per-agent levels of the stage equilibrium `kind` ("nash", "coopetitive", "social").

    Example:
        >>> stage_oracle("SLCD", "social").round(2)
        array([28.63, 28.63])
    """
    return stage_equilibrium(_params(env, **kwargs), kind)


def episode_returns(env: str | GameParams, joint: np.ndarray, reward_mode: str | None = None,
                    seed: int = 0, **kwargs: Any) -> np.ndarray:
    """Undiscounted per-agent returns ``[B, n]`` of B constant joint actions ``[B, n]``, one episode each.

    Every episode is reset with the same `seed`, so rows differ only by their actions (SynergySearch
    draws the same gamma for all of them).

    Example:
        >>> episode_returns("TrustDilemma", np.array([[40.0, 40.0]]), "private").round(1)
        array([[14827.1, 14827.1]])
    """
    p = _params(env, **kwargs)
    if reward_mode is not None:
        p = dataclasses.replace(p, reward_mode=reward_mode)
    joint = np.atleast_2d(np.asarray(joint, dtype=np.float64))
    if joint.shape[-1] != p.n:
        raise InvalidParameter(f"`joint` must have one column per agent ({p.n}). Received shape {joint.shape}")
    core = CoopetitionCore(p, num_envs=joint.shape[0])
    core.reset(seeds=[seed] * joint.shape[0])
    alive = np.ones(joint.shape[0], dtype=bool)
    total = np.zeros_like(joint)
    for _ in range(p.max_steps):
        out = core.step(joint)
        total += np.where(alive[:, None], out.reward, 0.0)
        alive &= ~(out.terminated | out.truncated)
        if not alive.any():
            break
    return total


def best_response_level(env: str | GameParams, agent: int, others: np.ndarray, reward_mode: str | None = None,
                        grid: int = 101, **kwargs: Any) -> tuple[float, float]:
    """(level, return): agent's best constant on a `grid` over [0, e_agent] against the others' constants.

    `others` is the full joint level vector (the agent's own entry is ignored). The return is the
    agent's episode return under the env's dynamics and reward mode.

    Example:
        >>> level, ret = best_response_level("TrustDilemma", 0, np.array([0.0, 45.0]), "private")
        >>> level, round(ret, 1)
        (25.0, 15190.1)
    """
    p = _params(env, **kwargs)
    levels = np.linspace(0.0, p.endowment[agent], grid)
    joint = np.tile(np.asarray(others, dtype=np.float64), (grid, 1))
    joint[:, agent] = levels
    returns = episode_returns(p, joint, reward_mode)[:, agent]
    best = int(np.argmax(returns))
    return float(levels[best]), float(returns[best])


def best_constant(env: str | GameParams, reward_mode: str | None = None, grid: int = 101,
                  **kwargs: Any) -> tuple[float, float]:
    """(fraction, team return): the common fraction of each agent's own endowment that maximises the summed return.

    Example:
        >>> frac, ret = best_constant("TrustDilemma", "private")
        >>> frac, round(ret, 1)
        (0.4, 29654.3)
    """
    p = _params(env, **kwargs)
    fractions = np.linspace(0.0, 1.0, grid)
    team = episode_returns(p, fractions[:, None] * p.endowment, reward_mode).sum(-1)
    best = int(np.argmax(team))
    return float(fractions[best]), float(team[best])


def oracle_table(env: str, reward_mode: str = "integrated", **kwargs: Any) -> dict[str, tuple[np.ndarray, float]]:
    """Every stage oracle and the best constant with its team return under `reward_mode` (spec §8.17).

    Example:
        >>> table = oracle_table("SLCD", "cooperative")
        >>> {k: round(v[1]) for k, v in table.items()}
        {'nash': 29603, 'coopetitive': 29683, 'social': 29690, 'best_constant': 29690}
    """
    p = _params(env, **kwargs)
    out: dict[str, tuple[np.ndarray, float]] = {}
    for kind in KINDS:
        levels = stage_equilibrium(p, kind)
        out[kind] = (levels, float(episode_returns(p, levels[None], reward_mode).sum()))
    frac, ret = best_constant(p, reward_mode)
    out["best_constant"] = (frac * p.endowment, ret)
    return out
