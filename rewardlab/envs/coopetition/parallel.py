"""The PettingZoo ParallelEnv of every coopetition game: the source of truth the other views derive from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from rewardlab.envs.actions import REAL_KINDS, check_box, finished
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.params import build_params
from rewardlab.errors import InvalidAction, InvalidParameter

__all__ = ["CoopetitionParallelEnv", "env_id"]


def env_id(name: str) -> str:
    """The Gymnasium id of coopetition env `name`."""
    return f"rewardlab/{name}-v0"


class CoopetitionParallelEnv(ParallelEnv):
    """One coopetition game as a PettingZoo ParallelEnv (agents ``agent_0 .. agent_{n-1}``).

    Each agent picks a contribution ``a_i`` in ``Box(0, e_i, (1,))``; a contribution outside
    ``[0, e_i]`` is clipped to it (no one gives less than nothing or more than the endowment), while
    a missing or unknown agent, a wrong shape, a non-numeric dtype, NaN or inf raise
    :class:`~rewardlab.errors.InvalidAction` naming the agent, and stepping after the episode ended
    raises :class:`~rewardlab.errors.EpisodeFinished` (docs/contracts.md). Rewards follow ``reward_mode``;
    ``infos[agent]`` carries ``payoff`` (the material payoff pi_i, the same in every mode), ``utility``
    (pi_i plus the loyalty or reciprocity term) and ``is_success``. All agents end together. The
    mathematics, the per-env mechanisms and the observation layout are documented in
    :mod:`rewardlab.envs.coopetition`; this class is the batched core at B = 1.

    Args:
        name: one of :func:`rewardlab.envs.coopetition.list_envs`.
        render_mode: only None (no rendering).
        **kwargs: reward_mode, trust_gated, cooperative_aggregate, max_steps, trust_clip and the env's
            own arguments (see ``list_envs()``); anything else raises InvalidParameter.

    Example:
        >>> env = CoopetitionParallelEnv("TrustDilemma", reward_mode="private")
        >>> _ = env.reset(seed=0)
        >>> _, rewards, _, _, infos = env.step({"agent_0": [60.0], "agent_1": [20.0]})
        >>> round(rewards["agent_0"], 3), round(infos["agent_1"]["payoff"], 3)
        (134.342, 153.015)
    """

    def __init__(self, name: str, render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None:
            raise InvalidParameter(f"`render_mode` must be None (coopetition envs do not render). Received {render_mode!r}")
        self.params = build_params(name, **kwargs)
        self.name = name
        self.render_mode = None
        self.core = CoopetitionCore(self.params, num_envs=1)
        n = self.params.n
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self.agents: list[str] = []
        self.metadata = {"name": env_id(name), "render_modes": [], "is_parallelizable": True}
        obs_size, state_size = self.core.obs_size, self.core.state_size
        self.observation_spaces = {a: spaces.Box(0.0, 1.0, (obs_size,), np.float32) for a in self.possible_agents}
        self.action_spaces = {
            a: spaces.Box(np.float32(0.0), np.float32(e), (1,), np.float32)
            for a, e in zip(self.possible_agents, self.params.endowment)
        }
        self.state_space = spaces.Box(0.0, 1.0, (state_size,), np.float32)

    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self.action_spaces[agent]

    def _observations(self) -> dict[str, np.ndarray]:
        obs = self.core.agent_obs()[0]
        return {a: obs[i] for i, a in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        self.core.reset(seeds=[seed])
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def joint_action(self, actions: Mapping[str, Any]) -> np.ndarray:
        """The ``[1, n]`` joint action of an action dict, or :class:`InvalidAction` naming the agent.

        Every agent acts each step with an action of shape ``(1,)``, finite and real; the core clips
        it to ``[0, e_i]``.
        """
        agents = self.possible_agents
        if not isinstance(actions, Mapping):
            raise InvalidAction(f"`actions` must be a dict {{agent: action}} for agents {agents}. Received {actions!r}")
        if len(actions) != len(agents) or any(a not in actions for a in agents):
            missing = [a for a in agents if a not in actions]
            unknown = [a for a in actions if a not in self.action_spaces]
            raise InvalidAction(f"Every agent acts each step, and only the game's agents {agents}: `actions` "
                                f"has no entry for {missing} and entries for unknown agents {unknown}")
        spaces_ = self.action_spaces
        values = [actions[a] for a in agents]
        # The fast path (arrays of a real dtype, as trainers pass them): one array for all agents,
        # checked at once. Lists, scalars and other dtypes (a bool would be upcast silently when
        # stacked with floats) are checked one by one, which also names the culprit.
        if not all(type(v) is np.ndarray and v.dtype.kind in REAL_KINDS for v in values):
            values = [check_box(v, spaces_[a], clip=True, where=f"actions[{a!r}]") for a, v in zip(agents, values)]
        try:
            joint = np.array(values)
        except ValueError:  # ragged: some agent sent more than one number
            joint = None
        if joint is None or joint.shape != (len(agents), 1) or not np.isfinite(joint).all():
            for a, v in zip(agents, values):
                check_box(v, spaces_[a], clip=True, where=f"actions[{a!r}]")
        return joint.astype(np.float64).reshape(1, -1)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        # The core would play on from the final state of an episode that already ended.
        if not self.agents:
            raise finished(f"coopetition game `{self.name}`")
        out = self.core.step(self.joint_action(actions))
        terminated, truncated = bool(out.terminated[0]), bool(out.truncated[0])
        success = bool(out.success[0])
        reward, payoff, utility = out.reward[0].tolist(), out.payoff[0].tolist(), out.utility[0].tolist()
        agents = self.possible_agents
        obs = self._observations()
        rewards = dict(zip(agents, reward))
        terminations = dict.fromkeys(agents, terminated)
        truncations = dict.fromkeys(agents, truncated)
        infos = {a: {"payoff": payoff[i], "utility": utility[i], "is_success": success} for i, a in enumerate(agents)}
        if terminated or truncated:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """Global state: last actions/e, T and R flattened, t/T and the env's extras (see module docs)."""
        return self.core.state_obs()[0]

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None
