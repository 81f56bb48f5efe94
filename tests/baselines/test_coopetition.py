"""Coopetition oracles and heuristics: each returns what it claims (spec §4, §8.17)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.baselines.coopetition import (
    ConstantPolicy,
    RandomPolicy,
    TitForTat,
    best_constant,
    best_response_level,
    episode_returns,
    stage_oracle,
)
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.params import build_params, env_names
from rewardlab.errors import InvalidParameter


@pytest.mark.parametrize("name", env_names())
def test_social_optimum_never_beaten_by_nash_under_cooperative_reward(name):
    # spec §8.17: under the cooperative reward the social-optimum oracle's return >= the Nash oracle's
    nash, social = stage_oracle(name, "nash"), stage_oracle(name, "social")
    returns = episode_returns(name, np.stack([nash, social]), "cooperative").sum(-1)
    assert returns[1] >= returns[0] - 1e-9


def _stage(name, mode, joint):
    core = CoopetitionCore(build_params(name, reward_mode=mode), num_envs=joint.shape[0])
    if core.params.special == "random_gamma":
        core.gamma = np.full(joint.shape[0], np.mean(core.params.gamma_range))
    return core.step(joint).reward


@pytest.mark.parametrize("name", ["TrustDilemma", "SLCD", "PlatformEcosystem", "GiftExchange", "LoyaltyTeam", "SynergySearch"])
def test_nash_oracle_is_a_stage_equilibrium(name):
    # no agent gains on its private first-step reward by a unilateral deviation (grid of 201 levels)
    nash = stage_oracle(name, "nash")
    e = build_params(name).endowment
    base = _stage(name, "private", nash[None])[0]
    for i in range(len(nash)):
        joint = np.tile(nash, (201, 1))
        joint[:, i] = np.linspace(0, e[i], 201)
        assert _stage(name, "private", joint)[:, i].max() <= base[i] + 1e-6


@pytest.mark.parametrize("name", ["TrustDilemma", "SLCD", "AppleAppStore", "TeamProduction"])
def test_social_oracle_maximises_stage_welfare(name):
    # no random joint action (nor any on the symmetric diagonal) has a higher first-step welfare
    social = stage_oracle(name, "social")
    e = build_params(name).endowment
    best = _stage(name, "cooperative", social[None])[0, 0]
    rng = np.random.default_rng(0)
    trials = np.concatenate([rng.uniform(0, 1, (500, len(e))) * e, np.linspace(0, 1, 101)[:, None] * e])
    assert _stage(name, "cooperative", trials)[:, 0].max() <= best + 1e-6


def test_best_constant_reproduces_anchor_figure():
    # spec §4 / §8.9 [A]: under the anchor's reward (trust-gated integrated, trust clipped to the ceiling)
    # the best constant on TrustDilemma is 42% of the endowment with team return 46,829.8
    frac, ret = best_constant("TrustDilemma", trust_gated=True, trust_clip="ceiling")
    assert (frac, round(ret, 1)) == (0.42, 46829.8)


def test_best_constant_and_best_response_are_maxima():
    # each oracle's return is the max of the returns it searched over, recomputed independently
    frac, ret = best_constant("SLCD", "private")
    grid = np.linspace(0, 1, 101)[:, None] * build_params("SLCD").endowment
    assert ret == pytest.approx(episode_returns("SLCD", grid, "private").sum(-1).max())
    level, r = best_response_level("ReciprocalDilemma", 1, np.array([35.0, 0.0]), "private")
    joint = np.stack([np.full(101, 35.0), np.linspace(0, 100, 101)], axis=1)
    assert r == pytest.approx(episode_returns("ReciprocalDilemma", joint, "private")[:, 1].max())
    assert 0.0 <= level <= 100.0


def test_tit_for_tat_copies_partner_rate():
    # agent 1 (e = 80) mirrors agent 0's previous contribution rate: 60/120 = .5 -> 40
    env = gym.make("rewardlab/PartnerHoldUp-v0", control=0, policies={1: TitForTat(np.array([120.0, 80.0]))})
    env.reset(seed=0)
    env.step(np.array([60.0], dtype=np.float32))
    _, _, _, _, info = env.step(np.array([60.0], dtype=np.float32))
    np.testing.assert_allclose(env.unwrapped.parallel.core.last_action[0], [60.0, 40.0])


def test_policies_plug_into_gym_view():
    env = gym.make("rewardlab/SLCD-v0", control=1, policies=ConstantPolicy(30.0))
    env.reset(seed=0)
    env.step(np.array([10.0], dtype=np.float32))
    np.testing.assert_allclose(env.unwrapped.parallel.core.last_action[0], [30.0, 10.0])
    a = RandomPolicy(50.0, seed=1)(np.zeros((1000, 3)))
    assert a.min() >= 0 and a.max() <= 50 and abs(a.mean() - 25) < 2
    with pytest.raises(InvalidParameter, match="policies"):
        gym.make("rewardlab/SLCD-v0", control=1, policies={5: ConstantPolicy(1.0)})
