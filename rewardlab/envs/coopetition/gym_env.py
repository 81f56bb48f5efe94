"""Scalar-reward Gymnasium view of a coopetition game, derived from its ParallelEnv.

Two explicit controls (spec §3): ``control="joint"`` steers every agent with one ``Box(0, e, (n,))``
action and is paid the ``aggregate`` ("sum" or "mean") of the agents' rewards; ``control=k`` steers
agent k alone, the others being played by ``policies`` (default: each plays its stage-game Nash level,
:func:`rewardlab.envs.coopetition.equilibria.stage_equilibrium`). Vector twin: :class:`CoopetitionVectorEnv`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rewardlab.envs.actions import check_box
from rewardlab.envs.coopetition.equilibria import stage_equilibrium
from rewardlab.envs.coopetition.parallel import CoopetitionParallelEnv
from rewardlab.envs.coopetition.params import build_params, env_summary
from rewardlab.errors import InvalidParameter

__all__ = ["CoopetitionEnv", "Policy", "resolve_control"]

Policy = Callable[[Any], Any]
"""A batched policy for one agent: ``policy(obs[N, d]) -> actions[N]`` (or ``[N, 1]``)."""


@functools.lru_cache(maxsize=64)
def _nash_levels(name: str, frozen_kwargs: tuple) -> np.ndarray:
    return stage_equilibrium(build_params(name, **dict(frozen_kwargs)), "nash")


def resolve_control(name: str, n: int, control: Any, aggregate: str | None, policies: Any,
                    kwargs: dict[str, Any]) -> tuple[Any, str, dict[int, Policy | float]]:
    """Validate (control, aggregate, policies); the others' policies as {agent index: policy or constant level}."""
    if control == "joint":
        if policies is not None:
            raise InvalidParameter("`policies` applies only with `control=<agent index>`; with control='joint' you act for every agent")
        aggregate = "sum" if aggregate is None else aggregate
        if aggregate not in ("sum", "mean"):
            raise InvalidParameter(f"`aggregate` must be 'sum' or 'mean'. Received {aggregate!r}")
        return control, aggregate, {}
    if isinstance(control, bool) or not isinstance(control, (int, np.integer)) or not 0 <= control < n:
        raise InvalidParameter(f"`control` must be 'joint' or an agent index in [0, {n}). Received {control!r}")
    if aggregate is not None:
        raise InvalidParameter("`aggregate` applies only with control='joint'; the controlled agent gets its own reward")
    others = [j for j in range(n) if j != control]
    if policies is None:
        frozen = tuple(sorted((k, v) for k, v in kwargs.items() if k not in ("reward_mode", "trust_gated", "cooperative_aggregate")))
        levels = _nash_levels(name, frozen)
        return int(control), "own", {j: float(levels[j]) for j in others}
    if callable(policies):
        return int(control), "own", dict.fromkeys(others, policies)
    if isinstance(policies, Mapping) and sorted(policies) == others and all(callable(p) for p in policies.values()):
        return int(control), "own", {int(j): policies[j] for j in others}
    raise InvalidParameter(
        f"`policies` must be None, one callable for every other agent, or a dict with a callable for each of agents {others}. "
        f"Received {policies!r}"
    )


class CoopetitionEnv(gym.Env):
    """A coopetition game as a Gymnasium env with a scalar reward.

    Observation: with ``control="joint"`` the global state (``ParallelEnv.state()``); with
    ``control=k`` agent k's own observation. Action: ``Box(0, e, (n,))`` (joint; per-agent bounds
    ``high[i] == e_i``) or ``Box(0, e_k, (1,))``; entries outside the bounds are clipped to them,
    while a wrong shape (one number too many or too few), a non-numeric dtype, NaN or inf raise
    :class:`~rewardlab.errors.InvalidAction`, and stepping a finished episode raises
    :class:`~rewardlab.errors.EpisodeFinished` (docs/contracts.md). ``info`` carries ``payoff``,
    ``utility`` and ``rewards`` (all agents, arrays of length n) and ``is_success``.

    Args:
        name: the env name (the registered ids pass it).
        control: "joint" or an agent index.
        aggregate: "sum" (default) or "mean"; joint control only.
        policies: the other agents' batched policies (agent control only).
        render_mode: only None.
        **kwargs: passed to :class:`CoopetitionParallelEnv`.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/TrustDilemma-v0", reward_mode="private")
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(np.array([60.0, 20.0], dtype=np.float32))
        >>> round(reward, 3), info["payoff"].round(3)
        (287.357, array([134.342, 153.015]))
    """

    metadata = {"render_modes": []}

    @staticmethod
    def describe(name: str, **kwargs: Any) -> str:
        """One line for `rewardlab envs`: the game's own summary."""
        return f"Coopetition {name}: {env_summary(name)}"

    def __init__(self, name: str, control: Any = "joint", aggregate: str | None = None,
                 policies: Any = None, render_mode: str | None = None, **kwargs: Any):
        self.parallel = CoopetitionParallelEnv(name, render_mode=render_mode, **kwargs)
        p = self.parallel.params
        self.control, self.aggregate, self._others = resolve_control(name, p.n, control, aggregate, policies, kwargs)
        self.metadata = {"render_modes": [], "name": self.parallel.metadata["name"]}
        self.render_mode = None
        agents = self.parallel.possible_agents
        if self.control == "joint":
            self.observation_space = self.parallel.state_space
            self.action_space = spaces.Box(np.zeros(p.n, np.float32), p.endowment.astype(np.float32), dtype=np.float32)
        else:
            self.observation_space = self.parallel.observation_space(agents[self.control])
            self.action_space = self.parallel.action_space(agents[self.control])
        self._obs: dict[str, np.ndarray] = {}

    def _view(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self.control == "joint":
            return self.parallel.state()
        return obs[self.parallel.possible_agents[self.control]]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._obs, _ = self.parallel.reset(seed=seed, options=options)
        return self._view(self._obs), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        agents = self.parallel.possible_agents
        # reshape(-1) and slicing would silently drop extra numbers and broadcast missing ones.
        action = check_box(action, self.action_space, clip=True)
        if self.control == "joint":
            actions = {a: action[i : i + 1] for i, a in enumerate(agents)}
        else:
            actions = {agents[self.control]: action[:1]}
            for j, policy in self._others.items():
                if callable(policy):
                    actions[agents[j]] = np.asarray(policy(self._obs[agents[j]][None]), dtype=np.float64).reshape(-1)[:1]
                else:
                    actions[agents[j]] = np.array([policy])
        obs, rewards, terms, truncs, infos = self.parallel.step(actions)
        self._obs = obs
        r = np.array([rewards[a] for a in agents])
        if self.control == "joint":
            reward = float(r.sum() if self.aggregate == "sum" else r.mean())
        else:
            reward = float(r[self.control])
        info = {
            "payoff": np.array([infos[a]["payoff"] for a in agents]),
            "utility": np.array([infos[a]["utility"] for a in agents]),
            "rewards": r,
            "is_success": infos[agents[0]]["is_success"],
        }
        return self._view(obs), reward, terms[agents[0]], truncs[agents[0]], info
