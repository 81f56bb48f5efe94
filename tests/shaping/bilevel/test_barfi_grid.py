"""BonusGrid (H16's env): its aux rewards reach terms through a vector env's info, and bad arguments raise."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rewardlab.baselines.ppo import make_vec_env
from rewardlab.envs.control.barfi_grid import ENV_ID, BonusGrid
from rewardlab.errors import InvalidParameter


def test_farm_bonus_and_distance_terms_in_a_vector_env():
    reward = {"type": "Sum", "terms": ["EnvReward",
              {"type": "FromFunction", "fn": "rewardlab.envs.control.barfi_grid:farm_bonus", "name": "bonus"},
              {"type": "FromFunction", "fn": "rewardlab.envs.control.barfi_grid:neg_distance", "name": "distance"}]}
    envs = make_vec_env("rewardlab.envs.control.barfi_grid:" + ENV_ID, 2, reward)
    envs.reset(seed=0)
    for _ in range(2):  # env 0 walks up twice (centre (2,2) -> (2,0)), env 1 right twice (-> (4,2))
        _, r, *_ = envs.step(np.array([3, 0]))
    # env 0: distance 2 + 4 = 6 of 8 -> -0.75, no bonus (the bonus cell is (0,0)); env 1: distance 2 -> -0.25
    assert r.tolist() == pytest.approx([-0.75, -0.25])
    for _ in range(2):
        _, r, *_ = envs.step(np.array([2, 1]))  # env 0 left twice -> (0,0): bonus 0.2, distance 8 -> -1
    assert r[0] == pytest.approx(0.2 - 1.0)
    envs.close()


def test_env_checks_and_bad_arguments():
    check_env(BonusGrid())
    for kwargs in ({"size": 4}, {"size": 1}, {"bonus": float("nan")}):
        with pytest.raises(InvalidParameter):
            BonusGrid(**kwargs)
