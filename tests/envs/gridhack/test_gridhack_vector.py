"""The batched front: make_vec, space conformance, NEXT_STEP autoreset, and equality with the single env at B = 1."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import rewardlab  # noqa: F401
from rewardlab.envs.gridhack import GridhackVectorEnv, env_id
from rewardlab.errors import InvalidAction


def make(task: str, n: int, **kw):
    return gym.make_vec(env_id(task), num_envs=n, vectorization_mode="vector_entry_point", **kw)


def test_make_vec_returns_the_batched_core():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # make_vec warns when metadata["autoreset_mode"] is missing
        envs = make("KeyRoom-S10", 4)
    assert isinstance(envs, GridhackVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.core.max_episode_steps == 400  # passed on by make_vec from the registration


@pytest.mark.parametrize("task", ["MultiRoom-N6-LavaMonsters", "WoD-Hard", "Staircase-Lvl2"])
def test_spaces_and_info(task):
    envs = make(task, 5)
    obs, info = envs.reset(seed=0)
    assert obs in envs.observation_space
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs, rewards, term, trunc, info = envs.step(rng.integers(0, envs.single_action_space.n, 5))
        assert obs in envs.observation_space
        assert rewards.shape == term.shape == trunc.shape == (5,) and rewards.dtype == np.float64
        assert info["is_success"].shape == (5,) and info["_is_success"].all() and info["_context_id"].all()


def test_next_step_autoreset():
    # Lava MultiRooms kill a random agent within a few steps (environments.md §2.5: ~4 steps per episode).
    envs = make("MultiRoom-N6-Lava", 8)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    prev_done = np.zeros(8, dtype=bool)
    restarted = 0
    for _ in range(60):
        obs, rewards, term, trunc, info = envs.step(rng.integers(0, 8, 8))
        # the step after a done is the reset step: time back to 0, reward 0, not done
        assert (obs["blstats"][prev_done, 7] == 0).all()
        assert (rewards[prev_done] == 0).all() and not (term | trunc)[prev_done].any()
        restarted += prev_done.sum()
        prev_done = term | trunc
    assert restarted > 8


@pytest.mark.parametrize("task", ["KeyRoom-S10", "MultiRoom-N6-Lava"])
def test_batch_of_one_equals_single_env(task):
    # Same seed, same actions: the vector env at B=1 and the single env draw levels from the same generator
    # in the same order, so they agree step for step (the vector env's reset steps line up with reset()).
    envs, env = make(task, 1), gym.make(env_id(task))
    vobs, vinfo = envs.reset(seed=5)
    obs, info = env.reset(seed=5)
    assert vinfo["context_id"][0] == info["context_id"]
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = int(rng.integers(0, env.action_space.n))
        vobs, vr, vterm, vtrunc, _ = envs.step(np.array([a]))
        obs, r, term, trunc, _ = env.step(a)
        for k in obs:
            assert np.array_equal(vobs[k][0], obs[k]), k
        assert (vr[0], vterm[0], vtrunc[0]) == (r, term, trunc)
        if term or trunc:
            vobs, *_ = envs.step(np.array([0]))  # NEXT_STEP: the reset step
            obs, _ = env.reset()
            assert all(np.array_equal(vobs[k][0], obs[k]) for k in obs)


def test_invalid_actions():
    envs = make("KeyRoom-S10", 3)
    envs.reset(seed=0)
    with pytest.raises(InvalidAction, match=r"its shape \(2,\) is not \(3,\)"):
        envs.step(np.array([0, 1]))
    with pytest.raises(InvalidAction, match=r"rows \[2\] are outside \[0, 10\)"):
        envs.step(np.array([0, 1, 10]))


def test_render_all_sub_envs():
    envs = make("Corridors-R5", 2, render_mode="ansi")
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 2 and frames[0] != frames[1]


def test_info_is_success_survives_the_next_reset():
    # info arrays belong to the caller: an earlier version returned the core's own success array,
    # which reset() then zeroed in place, so a stored success (the task's metric) was lost
    from rewardlab.envs.gridhack.oracle import OraclePolicy

    envs = make("Corridors-R5", 2)
    policy = OraclePolicy("Corridors-R5")
    obs, _ = envs.reset(seed=0)
    for _ in range(200):
        obs, _, _, _, info = envs.step(policy(obs))
        if info["is_success"].any():
            break
    stored = info["is_success"].copy()
    assert stored.any()  # the oracle reaches the stairs (test_gridhack_oracle: it solves every level)
    envs.reset(seed=1)
    assert np.array_equal(info["is_success"], stored)


def test_batched_observations_are_disjoint_copies():
    # the map layers of a step are views of one fresh buffer (core.observe); each must be its own memory,
    # apart from the state and from each other, and keep its values while the envs step and reset on
    envs = make("MultiRoom-N6-Lava", 8)
    obs, _ = envs.reset(seed=0)
    before = {k: v.copy() for k, v in obs.items()}
    core = envs.unwrapped.core
    maps = [obs[k] for k in ("glyphs", "chars", "colors")]
    for i, x in enumerate(maps):
        assert not np.shares_memory(x, core.glyph) and not np.shares_memory(x, core.char)
        assert not any(np.shares_memory(x, y) for y in maps[i + 1 :])
    assert obs["glyphs"].dtype == np.int16 and obs["chars"].dtype == np.uint8 and obs["chars"].shape == (8, 21, 79)
    for a in np.random.default_rng(0).integers(0, envs.single_action_space.n, (30, 8)):  # lava: many resets
        envs.step(a)
    for k in obs:
        assert np.array_equal(obs[k], before[k]), k
