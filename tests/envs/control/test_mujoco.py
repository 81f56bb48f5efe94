"""MuJoCo v5 sparse tasks: success thresholds on hand-built states, dense reward = the base env's reward."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401

pytest.importorskip("mujoco", reason="the MuJoCo tasks need the `mujoco` extra")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EPS = 1e-4


@pytest.mark.parametrize("offset", [-EPS, EPS])
def test_reacher_success_within_002_of_the_target(offset):
    # Put the target 0.02 +- 1e-4 from the fingertip (arm at rest, no gravity in the plane, zero torque:
    # nothing moves), step, and read the distance back from the observation.
    env = gym.make("rewardlab/Sparse-Reacher-v0")
    env.reset(seed=0)
    base = env.unwrapped.base
    qpos, qvel = base.init_qpos.copy(), np.zeros(base.model.nv)
    base.set_state(qpos, qvel)
    shift = base.get_body_com("fingertip") - base.get_body_com("target") + np.array([0.02 + offset, 0.0, 0.0])
    qpos[2:] += shift[:2]
    base.set_state(qpos, qvel)
    obs, reward, _, _, info = env.step(np.zeros(2, dtype=np.float32))
    assert np.linalg.norm(obs[8:10]) == pytest.approx(0.02 + offset, abs=1e-9)
    assert -info["reward_dist"] == pytest.approx(0.02 + offset, abs=1e-9)  # the same distance as Reacher-v5's
    inside = offset < 0  # success is d < 0.02 (spec §3.3)
    assert info["is_success"] is inside
    assert reward == float(inside)


def _pusher_obs(distance: float) -> np.ndarray:
    obs = np.zeros(23)
    obs[17:20] = [0.3, -0.1, -0.275]  # object
    obs[20:23] = obs[17:20] + np.array([0.6, 0.8, 0.0]) * distance  # goal, `distance` away
    return obs


@pytest.mark.parametrize("offset", [-EPS, EPS])
def test_pusher_success_within_005_of_the_goal(offset):
    # Pusher's object cannot be placed exactly by set_state without contact dynamics moving it, so the
    # criterion is pinned on hand-built observations (layout: object xyz at 17-19, goal at 20-22).
    env = gym.make("rewardlab/Sparse-Pusher-v0").unwrapped
    assert env._success(_pusher_obs(0.05 + offset), 0.0, False, {}) is (offset < 0)


@pytest.mark.parametrize(("dx", "expected"), [(0.005, True), (0.03, False)])
def test_pusher_success_on_a_real_step(dx, expected):
    # The object's slide joints are qpos[-4] (obj_slidey, world y) and qpos[-3] (obj_slidex, world x); with
    # both at 0 it sits above the goal (goal joints 0) but 0.048 higher (z -0.275 vs -0.323), so the 3-D
    # distance of Pusher-v5's reward_dist is sqrt(dx^2 + 0.048^2): 0.0483 < 0.05 for dx = 0.005, 0.0566 for 0.03.
    env = gym.make("rewardlab/Sparse-Pusher-v0")
    env.reset(seed=0)
    base = env.unwrapped.base
    qpos, qvel = base.data.qpos.copy(), np.zeros(base.model.nv)
    qpos[-4:] = [0.0, dx, 0.0, 0.0]
    base.set_state(qpos, qvel)
    obs, reward, _, _, info = env.step(np.zeros(7, dtype=np.float32))
    assert -info["reward_dist"] == pytest.approx(np.hypot(dx, 0.048), abs=1e-6)
    assert (reward, info["is_success"]) == (float(expected), expected)


@pytest.mark.parametrize(
    ("task", "threshold", "relative"),
    [("HalfCheetah", 5.0, False), ("Hopper", 1.0, True), ("Walker2d", 1.0, True)],  # VIME; fiberleif/DAC
)
@pytest.mark.parametrize("offset", [-EPS, EPS])
def test_locomotion_success_threshold(task, threshold, relative, offset):
    env = gym.make(f"rewardlab/Sparse-{task}-v0").unwrapped
    obs, _ = env.reset(seed=0)
    x0 = float(obs[0])
    assert abs(x0) < 0.1  # both start within the reset noise of x = 0
    obs = obs.copy()
    obs[0] = (x0 if relative else 0.0) + threshold + offset
    assert env._success(obs, 0.0, False, {}) is (offset > 0)


@pytest.mark.parametrize("task", ["HalfCheetah", "Hopper", "Walker2d"])
def test_locomotion_success_on_a_real_step(task):
    # Teleport the torso 1.5 (resp. 5.5) units ahead; one step of zero torque moves it by far less than 0.5.
    env = gym.make(f"rewardlab/Sparse-{task}-v0")
    obs, _ = env.reset(seed=0)
    base = env.unwrapped.base
    qpos, qvel = base.data.qpos.copy(), base.data.qvel.copy()
    for ahead, expected in [(0.5, False), (5.5 if task == "HalfCheetah" else 1.5, True)]:
        qpos[0] = obs[0] + ahead
        base.set_state(qpos, qvel)
        step_obs, reward, _, _, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        assert step_obs[0] == pytest.approx(info["x_position"])
        assert (info["is_success"], reward) == (expected, float(expected))


@pytest.mark.parametrize("task", ["Reacher", "Pusher", "HalfCheetah", "Hopper", "Walker2d"])
def test_dense_reward_is_the_base_reward(task):
    # The Dense twin and the plain v5 env, same seed and actions: same observations and rewards.
    ours = gym.make(f"rewardlab/Dense-{task}-v0")
    base = gym.make(f"{task}-v5")
    o1, _ = ours.reset(seed=1)
    o2, _ = base.reset(seed=1)
    drop_x = slice(1, None) if task in ("HalfCheetah", "Hopper", "Walker2d") else slice(None)
    np.testing.assert_array_equal(o1[drop_x], o2)
    base.action_space.seed(0)
    for _ in range(40):
        a = base.action_space.sample()
        o1, r1, t1, _, info = ours.step(a)
        o2, r2, t2, _, _ = base.step(a)
        np.testing.assert_array_equal(o1[drop_x], o2)
        assert r1 == info["dense_reward"] == float(r2)
        assert t1 == t2
        if t1:
            break


def test_potentials_match_the_base_info():
    # neg_distance of Reacher and Pusher equal the v5 envs' own reward_dist on real steps.
    for task, name in [("Reacher", "neg_distance"), ("Pusher", "neg_distance")]:
        env = gym.make(f"rewardlab/Sparse-{task}-v0")
        env.reset(seed=0)
        phi = rewardlab.shaping.potentials_for(env.spec.id)[name]
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert phi(obs[None])[0] == pytest.approx(info["reward_dist"], abs=1e-12)


def test_dense_reference_term_pays_the_dense_reward_and_zero_on_autoreset_steps():
    # FromFunction(dense_reference) on Sparse-Reacher in a vector env: its reward is info["dense_reward"]
    # on every real step; after all sub-envs end together (50-step horizon) comes a NEXT_STEP autoreset
    # step whose infos are reset infos (no dense_reward): it pays 0 there instead of raising KeyError.
    from rewardlab.baselines.ppo import make_vec_env

    envs = make_vec_env("rewardlab/Sparse-Reacher-v0", 2, {"type": "FromFunction", "fn": "rewardlab.envs.control.base:dense_reference"})
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(51):
        _, r, term, trunc, info = envs.step(rng.uniform(-1, 1, (2, 2)).astype(np.float32))
        if t < 50:
            assert np.array_equal(r, info["dense_reward"]) and r.max() < 0.0  # Reacher-v5's reward: -distance - control cost
        else:
            assert r.tolist() == [0.0, 0.0] and "dense_reward" not in info
        if t == 49:
            assert trunc.all()
    envs.close()


def test_dense_reference_term_reads_sb3_infos():
    # SB3's VecEnv hands terms a list of per-env info dicts, not a dict of arrays: the dense reference
    # must pay each sub-env's own info["dense_reward"] there too (it raised AttributeError on the list
    # before, so SB3 SAC on the dense reference could not run).
    from rewardlab.baselines.sb3 import make_vec_env

    venv = make_vec_env("rewardlab/Sparse-Reacher-v0", {"type": "FromFunction", "fn": "rewardlab.envs.control.base:dense_reference"}, n_envs=2)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(5):
        _, r, _, infos = venv.step(rng.uniform(-1, 1, (2, 2)).astype(np.float32))
        # SB3 keeps rewards as float32
        assert r.tolist() == np.float32([i["dense_reward"] for i in infos]).tolist() and r.max() < 0.0
    venv.close()
