"""Sparse AntMaze (gymnasium-robotics): the 0.45 goal radius on hand-built states; dense = AntMaze_UMazeDense-v5."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401

pytest.importorskip("gymnasium_robotics", reason="AntMaze needs the `robotics` extra (gymnasium-robotics)")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EPS = 1e-4


@pytest.mark.parametrize("offset", [-EPS, EPS])
def test_success_within_045_of_the_goal(offset):
    env = gym.make("rewardlab/Sparse-AntMaze-UMaze-v0").unwrapped
    obs, _ = env.reset(seed=0)
    goal = obs["desired_goal"]
    obs = dict(obs, achieved_goal=goal + np.array([0.6, -0.8]) * (0.45 + offset))  # maze_v4's radius
    assert env._success(obs, 0.0, False, {}) is (offset < 0)


def test_success_on_a_real_step_terminates_with_reward_one():
    # Teleport the ant's torso (qpos[:2]) onto the goal; one zero-torque step cannot move it 0.45 away.
    env = gym.make("rewardlab/Sparse-AntMaze-UMaze-v0")
    obs, _ = env.reset(seed=0)
    ant = env.unwrapped.base.ant_env
    qpos = ant.data.qpos.copy()
    qpos[:2] = obs["desired_goal"]
    ant.set_state(qpos, ant.data.qvel.copy())
    _, reward, terminated, _, info = env.step(np.zeros(8, dtype=np.float32))
    assert (reward, terminated, info["is_success"], info["success"]) == (1.0, True, True, True)


def test_dense_reward_is_the_dense_maze_reward():
    ours = gym.make("rewardlab/Dense-AntMaze-UMaze-v0")
    base = gym.make("AntMaze_UMazeDense-v5", continuing_task=False)
    o1, _ = ours.reset(seed=2)
    o2, _ = base.reset(seed=2)
    base.action_space.seed(0)
    for _ in range(30):
        a = base.action_space.sample()
        o1, r1, _, _, info = ours.step(a)
        o2, r2, _, _, _ = base.step(a)
        for k in o2:
            np.testing.assert_array_equal(o1[k], o2[k])
        d = np.linalg.norm(o1["achieved_goal"] - o1["desired_goal"])
        assert r1 == info["dense_reward"] == float(r2) == pytest.approx(np.exp(-d))  # AntMazeDense: exp(-d)
