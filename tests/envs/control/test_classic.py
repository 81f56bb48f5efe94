"""Sparse MountainCar tasks: success thresholds on hand-built states, and the dense reward is the base env's."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401

EPS = 1e-5


def _step_to(env_id: str, x_next: float, action):
    """Put the car where one step with `action` (no force) lands it exactly at `x_next`, and take that step."""
    env = gym.make(env_id)
    env.reset(seed=0)
    x0 = 0.45 if "Continuous" not in env_id else 0.40
    # MountainCar(Continuous): v' = v + force - 0.0025 cos(3x), x' = x + v'; no force here.
    v0 = (x_next - x0) + 0.0025 * math.cos(3 * x0)
    env.unwrapped.base.state = np.array([x0, v0])
    return env.step(action)


@pytest.mark.parametrize(
    ("env_id", "threshold", "action"),
    [
        ("rewardlab/Sparse-MountainCar-v0", 0.5, 1),  # Gymnasium's goal_position; BARFI's x >= 0.5
        ("rewardlab/Sparse-MountainCarContinuous-v0", 0.45, np.zeros(1, dtype=np.float32)),  # goal_position = 0.45
    ],
)
@pytest.mark.parametrize("offset", [EPS, -EPS])
def test_success_threshold(env_id, threshold, action, offset):
    obs, reward, terminated, _, info = _step_to(env_id, threshold + offset, action)
    inside = offset > 0
    assert obs[0] == pytest.approx(threshold + offset, abs=1e-6)
    assert info["is_success"] is inside
    assert reward == (1.0 if inside else 0.0)
    assert terminated is inside  # +1 and terminate (spec §3.3)


@pytest.mark.parametrize(
    ("task", "base_id", "actions"),
    [("MountainCar", "MountainCar-v0", [0, 1, 2]), ("MountainCarContinuous", "MountainCarContinuous-v0", None)],
)
def test_dense_reward_is_the_base_reward(task, base_id, actions):
    ours, base = gym.make(f"rewardlab/Dense-{task}-v0"), gym.make(base_id)
    rng = np.random.default_rng(0)
    o1, _ = ours.reset(seed=5)
    o2, _ = base.reset(seed=5)
    np.testing.assert_array_equal(o1, o2)
    for _ in range(100):
        a = rng.choice(actions) if actions else rng.uniform(-1, 1, 1).astype(np.float32)
        o1, r1, _, _, info = ours.step(a)
        o2, r2, _, _, _ = base.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == info["dense_reward"] == float(r2)
        assert info["sparse_reward"] == 0.0


def test_energy_potential_is_the_shared_one():
    # The ids reuse rewardlab.envs.control.physics' MountainCar energy: -0.5 at rest on the valley floor.
    phi = rewardlab.shaping.potentials_for("rewardlab/Sparse-MountainCar-v0")["energy"]
    assert phi is rewardlab.envs.control.physics.mountain_car_energy
    assert phi(np.array([[-math.pi / 6, 0.0]]))[0] == pytest.approx(-0.5)
