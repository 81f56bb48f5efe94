"""BlendCallback on a real SB3 PPO run: the outer step runs each rollout, moves the weight, logs rows."""

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3")
__import__("torch").set_num_threads(1)  # the machine is shared

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from rewardlab.baselines.sb3_blend import BlendCallback, blend_callbacks  # noqa: E402
from rewardlab.shaping import Constant, EnvReward  # noqa: E402
from rewardlab.shaping.bilevel import Blend  # noqa: E402
from rewardlab.wrappers import SB3RewardShaping  # noqa: E402


def test_weight_of_an_aux_equal_to_the_primary_rises_and_rows_are_logged():
    # CartPole pays +1 per step; an aux of +1 per step *is* the primary reward, so grad J_aux = grad J_p
    # and the outer gradient alpha * v . grad J_p is positive in expectation: the weight goes up.
    term = Blend(EnvReward(), aux={"alive": Constant(1.0)}, warmup_rollouts=1, outer_lr=0.05, l2=0.0)
    venv = SB3RewardShaping(DummyVecEnv([lambda: gym.make("CartPole-v1")] * 4), term)
    (callback,) = blend_callbacks(term)
    PPO("MlpPolicy", venv, n_steps=64, batch_size=128, n_epochs=2, seed=0).learn(64 * 4 * 8, callback=callback)
    assert [row["step"] for row in callback.log] == [256 * (i + 1) for i in range(8)]
    weights = [row["blend/blend/w_alive"] for row in callback.log]
    assert weights[0] == 1.0  # warm-up rollout: no update
    assert weights[-1] > 1.1  # at most 7 Adam steps of 0.05 each
    assert all(row["blend/blend/gamma"] == 0.99 and row["blend/blend/skipped"] == 0.0 for row in callback.log)
    assert term.weights()["alive"] == pytest.approx(weights[-1], rel=1e-12)  # the log is the mean over states of w(s) = w


def test_no_callbacks_without_a_blend():
    assert blend_callbacks(EnvReward() + Constant(1.0)) == []
    with pytest.raises(Exception, match="learned blend"):
        BlendCallback(EnvReward())
