"""The env descriptors (what LLM-written reward code sees), swept over every registered rewardlab id.

Sweep (every id, as gymnasium's tests/envs/test_envs.py sweeps check_env): a descriptor is
registered; each field reads inside the observation space (its key exists, its indices are below
the flattened size); ``make_view`` on a real reset observation gives values within the documented
ranges; the descriptor round-trips through JSON; the first prompt names every field with its unit
and range. Then, per family, the fields are checked against the env's own quantities (MuJoCo
``qpos``/``qvel`` and ``info``, MiniGrid's agent, the gridhack agent glyph, the coopetition core)
and each family's example passes both gates (``check_reward_code``).
"""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rewardlab  # noqa: F401  (registers the ids and their descriptors)
from rewardlab.envs import list_ids
from rewardlab.envs.coopetition.descriptor import coopetition_descriptor
from rewardlab.envs.gridhack import tiles
from rewardlab.errors import ConfigError
from rewardlab.shaping.llm.prompts import render_prompt
from rewardlab.shaping.llm.views import EnvDescriptor, descriptor_for, make_info, make_view

IDS = list_ids()


def _space_of(space: gym.Space, key: str | None) -> gym.Space:
    return space if key is None else space.spaces[key]


def _size(space: gym.Space) -> int:
    return 1 if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))


def test_every_registered_id_has_a_descriptor():
    assert len(IDS) == 65  # 22 control (11 tasks x Sparse/Dense) + 21 gridhack + 20 coopetition + BonusGrid + SubgoalChain
    assert [i for i in IDS if descriptor_for(i).env_id != i] == []


@pytest.mark.parametrize("env_id", IDS)
def test_descriptor_matches_the_env(env_id):
    desc = descriptor_for(env_id)
    env = gym.make(env_id)
    space = env.observation_space
    # Keys: a Dict observation's descriptor names its keys; a Box one has none.
    if isinstance(space, spaces.Dict):
        assert desc.obs_keys is not None and set(desc.obs_keys) <= set(space.spaces)
    else:
        assert desc.obs_keys is None
    # Indices: every field reads inside its array; scalar kinds read one element.
    for f in desc.fields:
        sub = _space_of(space, f.key)
        n = _size(sub)
        if isinstance(f.index, int):
            assert 0 <= f.index < n, f.name
        elif isinstance(f.index, tuple):
            assert min(f.index) >= 0 and max(f.index) < n, f.name
            assert len(set(f.index)) == len(f.index), f.name
        else:
            assert f.kind in ("array", "text") or n == 1, f.name
    # Action kind agrees with the action space.
    assert desc.action_kind == ("discrete" if isinstance(env.action_space, spaces.Discrete) else "box")
    # Values on a real observation lie in the documented ranges.
    obs, _ = env.reset(seed=0)
    view = make_view(desc, obs)
    for f in desc.fields:
        value = getattr(view, f.name)
        if f.kind == "text":
            assert isinstance(value, str)
            continue
        values = np.asarray(value, dtype=np.float64).reshape(-1)
        assert values.size > 0 and np.isfinite(values).all(), f.name
        if f.low is not None:
            assert values.min() >= f.low, (f.name, values.min(), f.low)
        if f.high is not None:
            assert values.max() <= f.high, (f.name, values.max(), f.high)
    # np.asarray(view) is the raw observation (the first key's array for a Dict).
    raw = obs[desc.obs_keys[0]] if desc.obs_keys else obs
    np.testing.assert_array_equal(np.asarray(view), raw)
    # Info: the env's step info gives exactly the descriptor's keys, as floats.
    _, _, _, _, info = env.step(env.action_space.sample())
    assert tuple(make_info(desc, info)) == desc.info_keys
    assert "dense_reward" not in desc.info_keys  # the reference reward is never handed to the function
    # JSON round trip (the descriptor travels to the sandbox worker as JSON).
    assert EnvDescriptor.from_dict(json.loads(json.dumps(desc.to_dict()))) == desc
    # The prompt names every field with its unit and range.
    user = render_prompt(desc, "Solve the task.")[1]["content"]
    for f in desc.fields:
        line = next(ln for ln in user.splitlines() if ln.startswith(f"- obs.{f.name} ("))
        assert f.unit in line and f.range_text() in line and f.doc in line
    for key, _ in desc.info:
        assert f'info["{key}"]' in user
    assert desc.success in user
    env.close()


# --- control: fields against the env's own quantities ------------------------------------------------
def _rollout(env_id: str, steps: int, seed: int = 0):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    desc = descriptor_for(env_id)
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        yield env, desc, make_view(desc, obs), info
        if terminated or truncated:
            break


def test_mountain_car_fields_are_the_base_state():
    # CONTRACTS.md fixes these names for the scripted candidates.
    desc = descriptor_for("rewardlab/Sparse-MountainCar-v0")
    assert [(f.name, f.low, f.high) for f in desc.fields] == [("position", -1.2, 0.6), ("velocity", -0.07, 0.07)]
    for env, _, view, info in _rollout("rewardlab/Sparse-MountainCar-v0", 20):
        # The observation is the base env's float64 state cast to float32.
        assert (view.position, view.velocity) == tuple(float(np.float32(s)) for s in env.unwrapped.base.state)
        assert info["is_success"] == (view.position >= 0.5)


def test_reacher_success_distance_from_the_view_equals_the_tasks():
    for env, _, view, info in _rollout("rewardlab/Sparse-Reacher-v0", 30):
        d = math.hypot(view.tip_to_target_x, view.tip_to_target_y)
        # Reacher-v5 reports reward_dist = -||fingertip - target|| after the step; the task's success is d < 0.02.
        assert d == pytest.approx(-info["reward_dist"], abs=1e-9)
        assert info["is_success"] == (d < 0.02)
        base = env.unwrapped.base
        assert (view.target_x, view.target_y) == pytest.approx(tuple(base.data.qpos[2:4]), abs=1e-12)
        assert view.cos_joint1 == pytest.approx(math.cos(base.data.qpos[1]), abs=1e-12)
        assert view.joint0_velocity == pytest.approx(base.data.qvel[0], abs=1e-12)


def test_pusher_positions_are_the_bodies():
    for env, _, view, info in _rollout("rewardlab/Sparse-Pusher-v0", 10):
        base = env.unwrapped.base
        np.testing.assert_allclose(view.tip_pos, base.get_body_com("tips_arm"), atol=1e-12)
        np.testing.assert_allclose(view.object_pos, base.get_body_com("object"), atol=1e-12)
        np.testing.assert_allclose(view.goal_pos, [0.45, -0.05, -0.323], atol=1e-6)  # Pusher-v5's fixed goal
        assert float(np.linalg.norm(view.object_pos - view.goal_pos)) == pytest.approx(-info["reward_dist"], abs=1e-9)


@pytest.mark.parametrize("task, k, clip", [("HalfCheetah", 6, None), ("Hopper", 3, 10.0), ("Walker2d", 6, 10.0)])
def test_locomotion_fields_are_qpos_and_qvel(task, k, clip):
    for env, _, view, info in _rollout(f"rewardlab/Sparse-{task}-v0", 10):
        data = env.unwrapped.base.data
        qvel = data.qvel if clip is None else np.clip(data.qvel, -clip, clip)
        assert view.x == info["x_position"] == pytest.approx(data.qpos[0], abs=1e-12)
        assert (view.z, view.torso_angle) == pytest.approx((data.qpos[1], data.qpos[2]), abs=1e-12)
        np.testing.assert_allclose(view.joint_angles, data.qpos[3:3 + k], atol=1e-12)
        assert (view.x_velocity, view.z_velocity, view.torso_angular_velocity) == pytest.approx(tuple(qvel[:3]), abs=1e-12)
        np.testing.assert_allclose(view.joint_velocities, qvel[3:3 + k], atol=1e-12)


def test_antmaze_fields_are_the_ant_and_goal():
    for env, _, view, info in _rollout("rewardlab/Sparse-AntMaze-UMaze-v0", 5):
        base = env.unwrapped.base
        data = base.ant_env.data
        assert (view.ant_x, view.ant_y) == pytest.approx(tuple(data.qpos[:2]), abs=1e-12)
        assert view.torso_z == pytest.approx(data.qpos[2], abs=1e-12)
        assert (view.x_velocity, view.y_velocity) == pytest.approx(tuple(data.qvel[:2]), abs=1e-12)
        assert (view.goal_x, view.goal_y) == pytest.approx(tuple(base.goal), abs=1e-12)
        assert info["is_success"] == (math.hypot(view.goal_x - view.ant_x, view.goal_y - view.ant_y) <= 0.45)


@pytest.mark.parametrize("task", ["DoorKey-8x8", "KeyCorridor-S3R3", "MultiRoom-N4-S5"])
def test_minigrid_fields_are_the_agent_and_grid(task):
    for env, _, view, _ in _rollout(f"rewardlab/Sparse-{task}-v0", 15):
        base = env.unwrapped.base
        assert (view.agent_x, view.agent_y, view.agent_dir) == (*map(int, base.agent_pos), int(base.agent_dir))
        np.testing.assert_array_equal(view.grid, base.grid.encode())
        carried = base.carrying.encode()[0] if base.carrying is not None else 0
        assert view.carried_type == carried


# --- gridhack ----------------------------------------------------------------------------------------
def test_gridhack_position_is_where_the_agent_glyph_is():
    for env, _, view, _ in _rollout("rewardlab/Gridhack-KeyRoom-S10-v0", 30):
        # The agent's glyph sits at (row, col) of the map and at the centre of the crop.
        assert view.glyphs[view.row, view.col] == tiles.AGENT_GLYPH
        assert view.glyphs_crop[4, 4] == tiles.AGENT_GLYPH
        assert view.message == tiles.decode_message(np.asarray(view.raw["message"]))
        assert view.time == env.unwrapped.core.observe(0)["blstats"][tiles.BL_TIME]


def test_gridhack_message_text_is_decoded():
    env = gym.make("rewardlab/Gridhack-KeyRoom-S10-v0")
    obs, _ = env.reset(seed=0)
    desc = descriptor_for(env.spec.id)
    message = np.zeros_like(obs["message"])
    message[:10] = np.frombuffer(b"f - a key.", dtype=np.uint8)
    assert make_view(desc, {**obs, "message": message}).message == "f - a key."


# --- coopetition -------------------------------------------------------------------------------------
def test_coopetition_joint_fields_are_the_core_state():
    env = gym.make("rewardlab/PlatformEcosystem-v0")
    env.reset(seed=0)
    desc = descriptor_for(env.spec.id)
    e = env.unwrapped.parallel.params.endowment
    action = (0.5 * e).astype(np.float32)
    obs, _, _, _, info = env.step(action)
    view = make_view(desc, obs)
    core = env.unwrapped.parallel.core
    np.testing.assert_allclose(view.last_actions, 0.5, atol=1e-6)  # a_i / e_i of the step just taken
    assert view.last_action_0 == pytest.approx(0.5, abs=1e-6)
    np.testing.assert_allclose(view.trust, np.asarray(core.T[0]), atol=1e-6)
    np.testing.assert_allclose(view.damage, np.asarray(core.R[0]), atol=1e-6)
    assert view.time == pytest.approx(1 / env.unwrapped.parallel.params.max_steps, abs=1e-6)
    got = make_info(desc, info)
    assert [got[f"payoff_{i}"] for i in range(5)] == pytest.approx(list(info["payoff"]))


def test_coopetition_agent_view_reads_own_and_partner_actions():
    env = gym.make("rewardlab/TrustDilemma-v0", control=1)
    env.reset(seed=0)
    desc = coopetition_descriptor("TrustDilemma", control=1)
    obs, *_ = env.step(np.array([30.0], dtype=np.float32))
    view = make_view(desc, obs)
    np.testing.assert_array_equal(view.agent_id, [0.0, 1.0])
    assert view.own_last_action == pytest.approx(0.3, abs=1e-6)  # 30 / e_1 = 30 / 100
    assert view.own_last_action == view.last_actions[1]
    core = env.unwrapped.parallel.core
    np.testing.assert_allclose(view.trust_received, np.asarray(core.T[0])[:, 1], atol=1e-6)


def test_coopetition_descriptor_follows_the_game_arguments():
    # n_agents changes the layout; the descriptor built with the same arguments reads the env's observation.
    env = gym.make("rewardlab/PublicGoods-v0", n_agents=3)
    obs, _ = env.reset(seed=0)
    desc = coopetition_descriptor("PublicGoods", n_agents=3)
    assert make_view(desc, obs).trust.shape == (3, 3) and len(desc.info_keys) == 4


def test_registered_descriptor_refuses_another_configuration():
    # A registered descriptor describes the registered kwargs; other layouts fail at descriptor_for,
    # naming the field, instead of misreading observations in the sandbox worker.
    env = gym.make("rewardlab/PublicGoods-v0", n_agents=3)
    with pytest.raises(ConfigError, match="build a descriptor for this configuration"):
        descriptor_for(env.spec.id, env.observation_space, env.action_space)
    env = gym.make("rewardlab/Gridhack-KeyRoom-S10-v0", observation_keys=("glyphs", "blstats"))
    with pytest.raises(ConfigError, match="lacks"):
        descriptor_for(env.spec.id, env.observation_space, env.action_space)
    env = gym.make("rewardlab/Sparse-Reacher-v0")
    assert descriptor_for(env.spec.id, env.observation_space, env.action_space).env_id == env.spec.id


# --- the examples pass both gates --------------------------------------------------------------------
EXAMPLE_IDS = [
    "rewardlab/Sparse-MountainCar-v0", "rewardlab/Sparse-MountainCarContinuous-v0", "rewardlab/Sparse-Reacher-v0",
    "rewardlab/Sparse-Pusher-v0", "rewardlab/Sparse-Hopper-v0", "rewardlab/Sparse-AntMaze-UMaze-v0",
    "rewardlab/Sparse-DoorKey-8x8-v0", "rewardlab/Gridhack-KeyRoom-S10-v0", "rewardlab/TrustDilemma-v0",
    "rewardlab/CooperativeNegotiation-v0",
]


@pytest.mark.parametrize("env_id", EXAMPLE_IDS)
def test_the_example_passes_the_gates(env_id):
    from rewardlab.shaping.llm.check import check_reward_code

    desc = descriptor_for(env_id)
    report = check_reward_code(desc.example, env_id, samples=64)
    assert report.rows >= 64
    assert not report.constant  # the example's reward varies over the sampled transitions
