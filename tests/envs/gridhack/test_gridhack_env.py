"""The single-env front: Gymnasium's check_env over every id, determinism, rendering, argument errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rewardlab  # noqa: F401
from rewardlab.envs.gridhack import TASKS, env_id
from rewardlab.envs.gridhack.tiles import AGENT_GLYPH, BL_X, BL_Y, CROP, H, MESSAGES, W, decode_message
from rewardlab.errors import InvalidAction, InvalidParameter

IDS = [env_id(t) for t in TASKS]


@pytest.mark.parametrize("eid", IDS, ids=IDS)
def test_check_env(eid):
    env = gym.make(eid, render_mode="ansi")
    check_env(env.unwrapped, skip_render_check=False)


def test_registered_ids():
    # 9 navigation + 7 skill tasks (Henaff et al. 2023's 16) + Corridors-R5, KeyRoom-S10, Staircase-Lvl2..4
    assert len([i for i in gym.registry if i.startswith("rewardlab/Gridhack-")]) == 21
    spec = gym.spec(env_id("Labyrinth-Big"))
    assert spec.kwargs["num_contexts"] == 1 and spec.vector_entry_point.endswith("GridhackVectorEnv")


@pytest.mark.parametrize("task", ["MultiRoom-N6-LavaMonsters", "Freeze-Random", "Staircase-Lvl3"])
def test_same_seed_same_trajectory(task):
    # Two fresh envs with the same reset seed and actions must agree on every observation, across resets.
    envs = [gym.make(env_id(task)) for _ in range(2)]
    actions = np.random.default_rng(0).integers(0, envs[0].action_space.n, 300)
    obs = [e.reset(seed=7)[0] for e in envs]
    for a in actions:
        outs = [e.step(a) for e in envs]
        for k in obs[0]:
            assert np.array_equal(outs[0][0][k], outs[1][0][k])
        assert outs[0][1:4] == outs[1][1:4]
        if outs[0][2] or outs[0][3]:
            infos = [e.reset()[1] for e in envs]
            assert infos[0]["context_id"] == infos[1]["context_id"]


def test_different_seeds_different_levels():
    env = gym.make(env_id("MultiRoom-N6-Lava"))
    a, b = env.reset(seed=1)[0]["glyphs"], env.reset(seed=2)[0]["glyphs"]
    assert not np.array_equal(a, b)


def test_observation_layout():
    env = gym.make(env_id("KeyRoom-S10"))
    obs, _ = env.reset(seed=3)
    x, y = obs["blstats"][BL_X], obs["blstats"][BL_Y]
    assert obs["glyphs"].shape == (H, W) and obs["glyphs_crop"].shape == (CROP, CROP)
    assert obs["glyphs"][y, x] == AGENT_GLYPH  # blstats[:2] is (x, y) of the agent
    assert obs["glyphs_crop"][CROP // 2, CROP // 2] == AGENT_GLYPH  # the crop is centred on the agent
    assert chr(obs["chars"][y, x]) == "@"
    assert obs["message"].shape == (256,) and decode_message(obs["message"]) == ""


def test_messages_come_from_the_vocabulary():
    env = gym.make(env_id("LavaCross"))
    env.reset(seed=0)
    seen = set()
    for a in np.random.default_rng(0).integers(0, env.action_space.n, 2000):
        obs, _, term, trunc, _ = env.step(a)
        seen.add(decode_message(obs["message"]))
        if term or trunc:
            env.reset()
    assert seen <= set(MESSAGES)
    # random play over 2000 steps meets at least these (pickup attempts, direction prompts)
    assert {"There is nothing here to pick up.", "In what direction?"} <= seen


def test_observations_are_copies():
    # NLE's observations alias its buffers (environments.md §2.5 pitfall 6); gridhack's must not.
    env = gym.make(env_id("Corridors-R5"))
    obs0, _ = env.reset(seed=0)
    before = {k: v.copy() for k, v in obs0.items()}
    for a in range(4):
        env.step(a)
    for k in obs0:
        assert np.array_equal(obs0[k], before[k])


def test_render_modes():
    env = gym.make(env_id("KeyRoom-S10"), render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 1 + H + 1 and lines[-1].startswith("Dlvl:1 HP:12 T:0")  # message, map, status
    assert "@" in text and ">" in text and "(" in text  # agent, stairs, key
    img = gym.make(env_id("KeyRoom-S10"), render_mode="rgb_array")
    img.reset(seed=0)
    frame = img.render()
    assert frame.shape == (H * 12, W * 12, 3) and frame.dtype == np.uint8


def test_penalty_step_and_action_set():
    env = gym.make(env_id("Corridors-R5"), penalty_step=-0.01, action_set="full")
    env.reset(seed=0)
    assert env.action_space.n == 15
    assert env.step(0)[1] == pytest.approx(-0.01)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_contexts": 0}, "`num_contexts` must be a positive int"),
        ({"context_seed_offset": -1}, "`context_seed_offset`"),
        ({"structure": "walls"}, "`structure` must be one of"),
        ({"observation_keys": ("glyphs", "pixels")}, "`observation_keys`"),
        ({"render_mode": "video"}, "`render_mode`"),
        ({"action_set": "all"}, "`action_set`"),
        ({"penalty_step": float("nan")}, "`penalty_step`"),
    ],
)
def test_invalid_arguments(kwargs, match):
    from rewardlab.envs.gridhack import GridhackEnv, GridhackVectorEnv

    for make in (lambda: GridhackEnv("KeyRoom-S10", **kwargs), lambda: GridhackVectorEnv("KeyRoom-S10", 2, **kwargs)):
        with pytest.raises(InvalidParameter, match=match):
            make()


def test_unknown_task_and_kwarg():
    from rewardlab.envs.gridhack.env import GridhackEnv

    with pytest.raises(InvalidParameter, match="Did you mean: `KeyRoom-S10`"):
        GridhackEnv("KeyRoom-S1O")
    with pytest.raises(TypeError, match="num_context"):
        GridhackEnv("KeyRoom-S10", num_context=3)


def test_invalid_action():
    env = gym.make(env_id("KeyRoom-S10")).unwrapped
    env.reset(seed=0)
    with pytest.raises(InvalidAction, match=r"`action` 10 is outside the action space Discrete\(10\): it must be in \[0, 10\)"):
        env.step(10)


def test_pickle_round_trip_continues_identically():
    import pickle

    env = gym.make(env_id("WoD-Hard"))
    env.reset(seed=0)
    for a in range(5):
        env.step(a)
    twin = pickle.loads(pickle.dumps(env))
    for a in np.random.default_rng(0).integers(0, env.action_space.n, 50):
        out, out2 = env.step(a), twin.step(a)
        assert all(np.array_equal(out[0][k], out2[0][k]) for k in out[0]) and out[1:4] == out2[1:4]
        if out[2] or out[3]:
            break
