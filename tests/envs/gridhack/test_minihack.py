"""The optional real-MiniHack adapter: its fixes work on any NLE-style env, and it fails clearly without the extra."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.envs.minihack import CopyObservations, DescendTo, make_minihack
from rewardlab.errors import InvalidParameter, MissingExtraError

HAVE_NETHACK = importlib.util.find_spec("minihack") is not None and importlib.util.find_spec("nle") is not None


@pytest.mark.skipif(HAVE_NETHACK, reason="checks the error raised without the nethack extra")
def test_missing_extra_names_the_install_command():
    with pytest.raises(MissingExtraError, match=r'pip install "rewardlab\[nethack\]"'):
        make_minihack("MiniHack-KeyRoom-S15-v0")


@pytest.mark.parametrize("env_id", ["MiniHack-LavaCrossingS19N13-v0", "MiniHack-LavaCrossingS19N17-v0"])
def test_crashing_ids_point_to_the_native_twin(env_id):
    # environments.md §2.5 pitfall 5: these crash at make with minigrid 3.x
    with pytest.raises(InvalidParameter, match="rewardlab/Gridhack-LavaCrossing-S19N1"):
        make_minihack(env_id)


def test_unseedable_ids_refuse_seeding():
    # pitfall 4: MiniGrid-based MultiRooms cannot be seeded
    with pytest.raises(InvalidParameter, match="seed_levels=False"):
        make_minihack("MiniHack-MultiRoom-N6-Lava-v0")


def test_descend_to_pays_once_the_depth_is_reached():
    # gridhack's Staircase-Lvl2 keeps blstats depth at index 3; the oracle reaches depth 2 by pressing '>'
    from rewardlab.envs.gridhack.oracle import OraclePolicy

    env = DescendTo(gym.make("rewardlab/Gridhack-Staircase-Lvl3-v0"), depth=2, depth_index=3)
    policy = OraclePolicy("Staircase-Lvl3")
    obs, _ = env.reset(seed=0)
    rewards = []
    while True:
        obs, r, term, trunc, info = env.step(policy({k: v[None] for k, v in obs.items()})[0])
        rewards.append(r)
        if term or trunc:
            break
    assert info["is_success"] and obs["blstats"][3] == 2 and rewards[-1] == 50.0 and sum(rewards) == 50.0
    with pytest.raises(InvalidParameter, match="`depth` must be a positive int"):
        DescendTo(env, depth=0)


def test_copy_observations_returns_fresh_arrays():
    inner = gym.make("rewardlab/Gridhack-KeyRoom-S10-v0")
    env = CopyObservations(inner)
    obs, _ = env.reset(seed=0)
    again = inner.unwrapped._obs()
    for k in obs:
        assert np.array_equal(obs[k], again[k]) and not np.shares_memory(obs[k], again[k])


@pytest.mark.skipif(not HAVE_NETHACK, reason="needs the nethack extra")
def test_seeded_levels_repeat():
    maps = []
    for _ in range(2):
        env = make_minihack("MiniHack-KeyRoom-S15-v0", observation_keys=("chars", "blstats", "message"))
        obs, _ = env.reset(seed=3)
        maps.append(obs["chars"].copy())
    assert np.array_equal(maps[0], maps[1])
