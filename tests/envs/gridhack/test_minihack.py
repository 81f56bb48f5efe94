"""The optional real-MiniHack adapter: its fixes work on any NLE-style env, and it fails clearly without the extra."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.envs.minihack import NATIVE_TWIN, NLE_BLSTATS_DEPTH, CopyObservations, DescendTo, make_minihack
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


@pytest.mark.skipif(not HAVE_NETHACK, reason="needs the nethack extra")
@pytest.mark.parametrize("real_id", ["MiniHack-KeyRoom-S10-v0", "MiniHack-Freeze-Horn-Restricted-v0",
                                     "MiniHack-Corridor-R5-v0", "NetHackStaircaseLvl2-v0"])
def test_native_twin_observations_match_the_real_format(real_id):
    # the calibration contract: NLE's shared keys keep NLE's shapes and dtypes in the native twin
    # (blstats is the one documented difference: 8 entries instead of NLE's 27)
    real = make_minihack(real_id)
    obs, _ = real.reset(seed=0)
    native = gym.make(NATIVE_TWIN[real_id]).observation_space
    shared = sorted(set(obs) & set(native.spaces) - {"blstats"})
    assert {"glyphs", "chars", "colors", "message"} <= set(shared)
    for k in shared:
        assert (obs[k].shape, obs[k].dtype) == (native[k].shape, native[k].dtype), k
    assert obs["blstats"].shape == (27,) and native["blstats"].shape == (8,)


@pytest.mark.skipif(not HAVE_NETHACK, reason="needs the nethack extra")
def test_keyroom_s10_is_registered_with_a_ten_cell_room():
    # minihack 1.0.2 registers only KeyRoom-S5/S15; ours must build the S10 room Henaff et al. §3 use:
    # the widest row of the outer room is '|' + 10 cells + '|'
    obs, _ = make_minihack("MiniHack-KeyRoom-S10-v0").reset(seed=2)
    rows = [bytes(r).decode() for r in obs["chars"]]
    widths = [r.rindex("|") - r.index("|") - 1 for r in rows if r.count("|") >= 2]
    assert max(widths) == 10


@pytest.mark.skipif(not HAVE_NETHACK, reason="needs the nethack extra")
def test_real_staircase_starts_at_depth_one_and_does_not_pay():
    # NLE starts on dungeon level 1 (blstats[12]); DescendTo(2) pays only on reaching level 2
    env = make_minihack("NetHackStaircaseLvl2-v0")
    obs, _ = env.reset(seed=0)
    assert obs["blstats"][NLE_BLSTATS_DEPTH] == 1
    _, reward, terminated, _, info = env.step(0)
    assert reward == 0.0 and not terminated and info["is_success"] is False
