import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from rewardlab.errors import InvalidParameter
from rewardlab.shaping import EnvReward
from rewardlab.shaping.bonuses import E3B, RND, BonusTrainingCallback
from rewardlab.wrappers import SB3RewardShaping


class RecordMetrics(BonusTrainingCallback):
    """Keeps what each rollout-end update returned, to check what it trained on."""

    def _on_rollout_end(self):
        from rewardlab.shaping.bonuses import update_learned_terms

        self.history = getattr(self, "history", []) + [update_learned_terms(self.term)]


def test_callback_trains_learned_terms_once_per_rollout_on_every_step():
    e3b = E3B({"num_actions": 2, "latent_dim": 4, "hidden": 8, "steps_per_update": 2, "seed": 0}, name="e3b")
    rnd = RND(embed_dim=8, hidden=8, steps_per_update=2, seed=0)
    venv = SB3RewardShaping(DummyVecEnv([lambda: gym.make("CartPole-v1")] * 2), EnvReward() + 0.1 * (e3b * RND(score="obs", seed=1)) + 0.1 * rnd)
    callback = RecordMetrics()
    PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0).learn(64, callback=callback)
    # 64 steps = 2 rollouts of 16 steps x 2 envs: each update trains on exactly the 32 transitions
    # scored during that rollout (SB3 has no dummy steps), and the found term is the wrapper's.
    assert callback.term is venv.term
    assert [m["e3b"]["samples"] for m in callback.history] == [32.0, 32.0]
    assert [m["rnd_2"]["samples"] for m in callback.history] == [32.0, 32.0]
    assert e3b.version == 2 and rnd.version == 2
    assert np.isfinite(callback.history[-1]["e3b"]["inverse_dynamics_loss"])


def test_callback_without_shaping_wrapper_asks_for_the_term():
    with pytest.raises(InvalidParameter, match="pass `term=`"):
        PPO("MlpPolicy", DummyVecEnv([lambda: gym.make("CartPole-v1")]), n_steps=16, batch_size=16).learn(16, callback=BonusTrainingCallback())
