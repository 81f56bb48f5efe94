"""Reward shaping for PettingZoo ParallelEnvs, with a term per agent."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pettingzoo.utils.env import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from rewardlab.errors import InvalidParameter
from rewardlab.shaping.terms import SingleTransition, Term, from_config
from rewardlab.wrappers.composer import RewardComposer

__all__ = ["ParallelRewardShaping"]


class ParallelRewardShaping(BaseParallelWrapper):
    """Shape each agent's reward with its own term instance (its own PBRS cache, its own counts).

    A single term (or config) is copied once per possible agent; a dict ``{agent: term}`` gives each
    agent its own. Each agent's termination zeroes its own potential (Devlin & Kudenko 2011: per-agent
    potentials on the joint state keep the Nash equilibria). Named potentials are resolved against
    ``env.metadata["name"]``. Each agent's info gets ``task_reward`` and ``reward_terms``.

    Example:
        >>> from pettingzoo.classic import rps_v2
        >>> from rewardlab.shaping import EnvReward, Constant
        >>> from rewardlab.wrappers import ParallelRewardShaping
        >>> env = ParallelRewardShaping(rps_v2.parallel_env(), EnvReward() + Constant(0.5))
        >>> _ = env.reset(seed=0)
        >>> _, rewards, _, _, infos = env.step({"player_0": 0, "player_1": 1})
        >>> rewards, infos["player_0"]["reward_terms"]
        ({'player_0': -0.5, 'player_1': 1.5}, {'env': -1.0, 'constant': 0.5})
    """

    def __init__(self, env: ParallelEnv, term: Term | Mapping[str, Any] | str):
        super().__init__(env)
        agents = list(env.possible_agents)
        if isinstance(term, Mapping) and "type" not in term:
            unknown = [a for a in term if a not in agents]
            missing = [a for a in agents if a not in term]
            if unknown or missing:
                raise InvalidParameter(
                    f"Per-agent terms must name every possible agent exactly: unknown {unknown}, missing {missing}"
                )
            terms = {a: from_config(term[a]) for a in agents}
        else:
            base = from_config(term)
            terms = {a: copy.deepcopy(base) for a in agents}
        env_id = env.metadata.get("name")
        self.terms = terms
        self._composers = {a: RewardComposer(t, env_id) for a, t in terms.items()}
        self._obs: dict[Any, Any] = {}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        self._obs = dict(obs)
        for a, o in obs.items():
            self._composers[a].reset_single(o)
        return obs, infos

    def step(self, actions: dict[Any, Any]) -> tuple[dict, dict, dict, dict, dict]:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        rewards, infos = dict(rewards), {a: dict(i) for a, i in infos.items()}
        for agent, reward in rewards.items():
            reward = float(reward)
            next_obs = obs.get(agent, self._obs[agent])
            info = infos.setdefault(agent, {})
            t = SingleTransition(
                self._obs[agent],
                actions.get(agent),
                next_obs,
                reward,
                bool(terminations.get(agent, False)),
                bool(truncations.get(agent, False)),
                info,
            )
            rewards[agent], info["reward_terms"] = self._composers[agent].single(t)
            info["task_reward"] = reward
            self._obs[agent] = next_obs
        return obs, rewards, terminations, truncations, infos
