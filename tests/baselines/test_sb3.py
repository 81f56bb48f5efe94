"""SB3 adapters: shaped VecEnvs, per-episode logging on the task reward, evaluation, learner checks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rewardlab.baselines.sb3 import make_vec_env, train
from rewardlab.errors import ConfigError
from rewardlab.shaping import PBRS, Constant, EnvReward
from toy_envs import FiveStepEnv

gym.register("rewardlab_test/FiveStep-v0", entry_point=FiveStepEnv)
TINY_PPO = {"n_steps": 20, "batch_size": 20, "n_epochs": 1}


def test_make_vec_env_reports_task_reward_and_terms():
    venv = make_vec_env("rewardlab_test/FiveStep-v0", EnvReward() + Constant(0.25), n_envs=3, seed=0)
    venv.reset()
    _, rewards, _, infos = venv.step(np.array([1, 0, 1]))
    # Shaped = task reward + 0.25; the task reward is what the env paid.
    assert rewards.tolist() == [1.25, 0.25, 1.25]
    assert [i["task_reward"] for i in infos] == [1.0, 0.0, 1.0]
    assert infos[1]["reward_terms"] == {"env": 0.0, "constant": 0.25}


def test_train_logs_task_return_success_and_term_sums():
    result = train("PPO", "rewardlab_test/FiveStep-v0", EnvReward() + Constant(100.0), total_steps=40, seed=0,
                   n_envs=2, hyperparams=TINY_PPO, eval_every=20, eval_episodes=3)  # fmt: skip
    # 40 steps over 2 envs = 20 steps each = 4 five-step episodes each.
    assert len(result.episodes) == 8 and result.steps == 40
    for ep in result.episodes:
        # Task return counts the env's reward only; the Constant adds 100 per step to the shaped one.
        assert ep["length"] == 5 and ep["terms"]["constant"] == 500.0
        assert ep["task_return"] == ep["terms"]["env"] and 0 <= ep["task_return"] <= 5
        assert ep["success"] == float(ep["task_return"] >= 3)
    assert result.term_totals["constant"] == 40 * 100.0
    assert result.term_abs_totals["env"] == sum(ep["task_return"] for ep in result.episodes)
    # Evaluations at 0, 20, 40 steps, on the task reward (at most 5), never the shaped one (>= 500).
    assert [row["step"] for row in result.curve] == [0, 20, 40]
    assert all(0 <= row["task_return"] <= 5 and row["success"] in (0.0, 1 / 3, 2 / 3, 1.0) for row in result.curve)


def test_env_without_is_success_gets_nan_success():
    result = train("A2C", "CartPole-v1", total_steps=20, seed=0, hyperparams={"n_steps": 5}, eval_every=20, eval_episodes=1)
    assert np.isnan(result.curve[-1]["success"]) and result.curve[-1]["task_return"] >= 8  # CartPole lasts >= 8 steps


def test_same_seed_same_training():
    kw = dict(total_steps=40, seed=3, hyperparams=TINY_PPO, eval_every=40, eval_episodes=2)
    a = train("PPO", "rewardlab_test/FiveStep-v0", **kw)
    b = train("PPO", "rewardlab_test/FiveStep-v0", **kw)
    assert [e["task_return"] for e in a.episodes] == [e["task_return"] for e in b.episodes]
    pa, pb = a.model.policy.state_dict(), b.model.policy.state_dict()
    assert all(np.array_equal(pa[k].numpy(), pb[k].numpy()) for k in pa)


def test_pbrs_gamma_must_match_learner():
    with pytest.raises(ConfigError, match=r"PBRS term `pbrs_energy` with gamma 0.9, but the learner's gamma is 0.99"):
        train("PPO", "MountainCar-v0", EnvReward() + PBRS("energy", gamma=0.9), total_steps=10)
    with pytest.raises(ConfigError, match=r"truncation='terminal'.*use truncation='bootstrap'"):
        train("DQN", "MountainCar-v0", PBRS("energy", gamma=0.99, truncation="terminal"), total_steps=10)


def test_algorithm_checks():
    with pytest.raises(ConfigError, match=r"Unknown algorithm `PP0`.*Did you mean: `PPO`"):
        train("PP0", "CartPole-v1", total_steps=10)
    with pytest.raises(ConfigError, match=r"`DQN` needs a Discrete action space; env `Pendulum-v1`"):
        train("DQN", "Pendulum-v1", total_steps=10)
    with pytest.raises(ConfigError, match=r"Bad hyper-parameters for `PPO`"):
        train("PPO", "CartPole-v1", total_steps=10, hyperparams={"n_stepz": 8})


@pytest.mark.parametrize("algo", ["SAC", "TD3"])
def test_off_policy_continuous_smoke(algo):
    result = train(algo, "Pendulum-v1", total_steps=30, seed=0, hyperparams={"learning_starts": 10, "batch_size": 8},
                   max_episode_steps=15, eval_every=30, eval_episodes=1)  # fmt: skip
    # Two 15-step episodes; Pendulum's reward is in [-16.27, 0] per step.
    assert len(result.episodes) == 2 and all(-16.3 * 15 <= e["task_return"] <= 0 for e in result.episodes)


def test_learned_terms_train_under_sb3_and_bonus_falls_on_revisited_states():
    """Issue 17's defect: an RND term in an SB3 run trained never (version stayed 0, checked on the
    code before the fix). Now it trains once per rollout: 4 rollouts of 64 steps -> version 4, one
    learner_log row per rollout; the predictor fits the states it sees, so the novelty of states
    it was trained on (CartPole's start states, revisited at every reset) falls (RND, Burda et al. 2018)."""
    from rewardlab.shaping.bonuses import RND

    rnd = RND(embed_dim=8, hidden=32, normalize_obs=False, normalize_return=False, lr=1e-2, seed=0)
    starts = np.stack([gym.make("CartPole-v1").reset(seed=s)[0] for s in range(32)])
    before = rnd.novelty(starts).mean()
    result = train("PPO", "CartPole-v1", reward=EnvReward() + 0.01 * rnd, total_steps=256, seed=0,
                   hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1}, eval_every=256, eval_episodes=1)
    after = rnd.novelty(starts).mean()
    assert rnd.version == 4
    assert [row["step"] for row in result.learner_log] == [64, 128, 192, 256]
    assert all("bonus/rnd/samples" in row for row in result.learner_log)
    assert after < 0.5 * before, (before, after)


def test_learned_blend_runs_its_outer_step_under_sb3_train():
    """CONTRACTS §4: sb3.train adds the Blend callbacks and copies their rows into learner_log.
    2 rollouts of 2 envs x 32 steps -> rows at steps 64 and 128, each with the blend's weight."""
    from rewardlab.shaping import Constant
    from rewardlab.shaping.bilevel import Blend

    term = Blend(EnvReward(), aux={"alive": Constant(1.0)}, warmup_rollouts=0)
    result = train("PPO", "CartPole-v1", reward=term, total_steps=128, seed=0, n_envs=2,
                   hyperparams={"n_steps": 32, "batch_size": 64, "n_epochs": 1}, eval_every=128, eval_episodes=1)
    assert [row["step"] for row in result.learner_log] == [64, 128]
    assert all("blend/blend/w_alive" in row for row in result.learner_log)


def test_train_leaves_the_callers_hyperparams_as_they_were():
    # SB3 writes `use_sde` into the `policy_kwargs` dict it is given; train() hands it a copy, so a config's
    # hyper-parameters (and the run key hashed from them) stay what the user wrote.
    hp = {"learning_starts": 8, "batch_size": 8, "policy_kwargs": {"net_arch": [8]}}
    train("SAC", "Pendulum-v1", total_steps=16, hyperparams=hp, eval_every=16, eval_episodes=1)
    assert hp == {"learning_starts": 8, "batch_size": 8, "policy_kwargs": {"net_arch": [8]}}
