"""Parameter-shared PPO on PettingZoo: truncation stays truncation, seeding, per-agent shaping."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo import ParallelEnv

from rewardlab.baselines.multiagent import ParallelVecEnv, make_parallel_vec_env, train_parallel
from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping import PBRS, Constant, EnvReward


class MatchEnv(ParallelEnv):
    """Two agents see a random bit and earn 1 for answering it. Ends by termination when both
    answered right `goal` times in a row, else by truncation at `max_cycles`."""

    metadata = {"name": "match_v0"}

    def __init__(self, max_cycles=4, goal=100, stagger=False):
        self.possible_agents = ["a", "b"]
        self.max_cycles, self.goal, self.stagger = max_cycles, goal, stagger

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return gym.spaces.Box(0.0, 1.0, (1,), np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def _obs(self):
        return {a: np.array([self.bit], np.float32) for a in self.agents}

    def reset(self, seed=None, options=None):
        self.rng = np.random.default_rng(seed) if seed is not None or not hasattr(self, "rng") else self.rng
        self.agents, self.t, self.streak = list(self.possible_agents), 0, 0
        self.bit = int(self.rng.integers(2))
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        rewards = {a: float(actions[a] == self.bit) for a in self.agents}
        self.streak = self.streak + 1 if all(rewards.values()) else 0
        term = {a: self.streak >= self.goal for a in self.agents}
        trunc = {a: self.t >= self.max_cycles for a in self.agents}
        if self.stagger:
            trunc["b"] = self.t >= self.max_cycles + 1
        self.bit = int(self.rng.integers(2))
        obs = self._obs()
        if any(term.values()) or all(trunc.values()):
            self.agents = []
        return obs, rewards, term, trunc, {a: {} for a in self.possible_agents}


def test_time_limit_is_truncation_and_goal_is_termination():
    venv = ParallelVecEnv([MatchEnv(max_cycles=3, goal=2)])
    venv.seed(0)
    obs = venv.reset()
    # Answer right twice in a row: termination at step 2 -> no bootstrap.
    for _ in range(2):
        obs, rewards, dones, infos = venv.step(obs[:, 0].astype(int))
    assert dones.tolist() == [True, True] and [i["TimeLimit.truncated"] for i in infos] == [False, False]
    assert [i["episode"]["r"] for i in infos] == [2.0, 2.0]
    # Answer wrong three times: truncation at max_cycles=3 -> TimeLimit.truncated, SB3 bootstraps.
    for _ in range(3):
        obs, rewards, dones, infos = venv.step(1 - obs[:, 0].astype(int))
    assert dones.tolist() == [True, True] and [i["TimeLimit.truncated"] for i in infos] == [True, True]
    assert infos[0]["terminal_observation"].shape == (1,) and [i["episode"]["l"] for i in infos] == [3, 3]


def test_seeding_is_per_copy_and_reproducible():
    def first_bits(seed):
        venv = make_parallel_vec_env(lambda: MatchEnv(), n_copies=3, seed=seed)
        return venv.reset()[:, 0].tolist()

    assert first_bits(5) == first_bits(5)
    # Copy c resets with seed + c: the bits equal fresh generators seeded 5, 6, 7 (each copy's 2 agents see one bit).
    expected = [float(np.random.default_rng(s).integers(2)) for s in (5, 6, 7)]
    assert first_bits(5) == [b for b in expected for _ in range(2)]


def test_agents_ending_apart_is_an_error():
    venv = ParallelVecEnv([MatchEnv(max_cycles=1, stagger=True)])
    venv.seed(0)
    venv.reset()
    with pytest.raises(InvalidParameter, match="ended at different steps"):
        venv.step(np.array([0, 0]))


def test_per_agent_shaping_and_task_return():
    venv = make_parallel_vec_env(lambda: MatchEnv(max_cycles=2), {"a": EnvReward() + Constant(1.0), "b": "EnvReward"}, seed=0)
    obs = venv.reset()
    _, rewards, _, infos = venv.step(obs[:, 0].astype(int))  # both right: task reward 1 each
    assert rewards.tolist() == [2.0, 1.0]
    assert [i["task_reward"] for i in infos] == [1.0, 1.0]


def test_parameter_shared_ppo_learns_and_is_seeded():
    kw = dict(total_steps=3072, seed=0, n_copies=2, hyperparams={"n_steps": 128, "batch_size": 128, "n_epochs": 4, "learning_rate": 3e-3})
    a = train_parallel(lambda: MatchEnv(max_cycles=8), **kw)
    b = train_parallel(lambda: MatchEnv(max_cycles=8), **kw)
    assert [e["task_return"] for e in a.episodes] == [e["task_return"] for e in b.episodes]
    # A random policy earns 4 of 8 on average; after training the shared policy answers the bit.
    venv = make_parallel_vec_env(lambda: MatchEnv(max_cycles=8), seed=123)
    obs, correct = venv.reset(), 0
    for _ in range(8):
        actions, _ = a.model.predict(obs, deterministic=True)
        correct += int((actions == obs[:, 0].astype(int)).sum())
        obs, *_ = venv.step(actions)
    assert correct == 16


def test_pbrs_gamma_checked_for_parallel():
    with pytest.raises(ConfigError, match="learner's gamma is 0.99"):
        train_parallel(lambda: MatchEnv(), PBRS(lambda o: o[:, 0], gamma=0.5), total_steps=8)


def test_learned_terms_train_under_parameter_shared_sb3():
    """The SB3 learned-term fix on the parameter-shared path: each agent's own RND (one tree per agent
    and copy) trains at every rollout end: 2 rollouts -> version 2 for both, a learner_log row each."""
    from rewardlab.shaping.bonuses import RND, learned_terms

    result = train_parallel(lambda: MatchEnv(max_cycles=4), reward=EnvReward() + 0.1 * RND(embed_dim=8, hidden=16, seed=0),
                            total_steps=64, seed=0, hyperparams={"n_steps": 16, "batch_size": 32, "n_epochs": 1},
                            eval_every=64, eval_episodes=1)
    venv = result.model.get_env()
    versions = [t.version for env in venv.envs for term in env.terms.values() for t in learned_terms(term)]
    assert versions == [2, 2]
    assert [row["step"] for row in result.learner_log] == [32, 64]
