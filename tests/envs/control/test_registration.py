"""Every control id: Gymnasium's env checker, determinism, argument checks, delays and missing extras."""

from __future__ import annotations

import pickle
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rewardlab
from rewardlab.envs.control import TASKS, task_ids
from rewardlab.errors import InvalidParameter, MissingExtraError
from rewardlab.shaping import PBRS, EnvReward
from rewardlab.wrappers import RewardShaping

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ALL_IDS = task_ids("Sparse") + task_ids("Dense")


def _make(env_id: str, **kwargs) -> gym.Env:
    if "AntMaze" in env_id:
        pytest.importorskip("gymnasium_robotics", reason="AntMaze needs the `robotics` extra (gymnasium-robotics)")
    return gym.make(env_id, **kwargs)


def test_every_task_is_registered_twice():
    # 11 tasks of the issue, each as Sparse-* and Dense-* (22 ids).
    assert len(TASKS) == 11
    registered = set(rewardlab.envs.list_ids())
    assert set(ALL_IDS) <= registered


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env(env_id):
    env = _make(env_id)
    check_env(env.unwrapped, skip_render_check=True)


def _flat(x) -> np.ndarray:
    return np.concatenate([np.ravel(v) for v in x.values()]) if isinstance(x, dict) else np.ravel(x)


@pytest.mark.parametrize("env_id", task_ids("Sparse"))
def test_same_seed_same_trajectory(env_id):
    runs = []
    for _ in range(2):
        env = _make(env_id)
        env.action_space.seed(7)
        obs, _ = env.reset(seed=3)
        traj = [obs]
        for _ in range(30):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            traj += [obs, reward, terminated, truncated, info["dense_reward"], info["is_success"]]
            if terminated or truncated:
                traj.append(env.reset()[0])
        runs.append([_flat(x) for x in traj])
    assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_potentials_are_published_and_batched(env_id):
    env = _make(env_id)
    potentials = rewardlab.shaping.potentials_for(env_id)
    assert sorted(potentials) == sorted(TASKS[env_id.split("-", 1)[1][:-3]][1])
    obs = [env.reset(seed=s)[0] for s in range(3)]
    batch = {k: np.stack([o[k] for o in obs]) for k in obs[0]} if isinstance(obs[0], dict) else np.stack(obs)
    for name, phi in potentials.items():
        values = np.asarray(phi(batch))
        assert values.shape == (3,), name
        assert np.all(np.isfinite(values)), name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reward": "shaped"}, "`reward` must be one of"),
        ({"delay": 0}, "`delay` must be None, 'episode' or an int >= 1"),
        ({"delay": 2.5}, "Received 2.5"),
        ({"horizon": 0}, "`horizon` must be an int >= 1. Received 0"),
    ],
)
def test_bad_arguments_raise_typed_errors(kwargs, match):
    with pytest.raises(InvalidParameter, match=match):
        gym.make("rewardlab/Sparse-MountainCar-v0", **kwargs)


def test_unknown_kwarg_raises():
    with pytest.raises(TypeError, match="horizn"):
        gym.make("rewardlab/Sparse-MountainCar-v0", horizn=10)


def _rewards(env: gym.Env, n: int) -> list[float]:
    env.reset(seed=0)
    out = []
    for _ in range(n):
        _, reward, terminated, truncated, _ = env.step(1)  # no push: the car never reaches the flag
        out.append(float(reward))
        if terminated or truncated:
            break
    return out


def test_delay_pays_accumulated_reward_every_k_steps_and_at_the_end():
    # Dense MountainCar pays -1 per step; with k = 3 and a 7-step horizon the payments are
    # -3 after steps 3 and 6, and the remaining -1 at the time limit (step 7).
    env = gym.make("rewardlab/Dense-MountainCar-v0", delay=3, horizon=7)
    assert _rewards(env, 10) == [0, 0, -3, 0, 0, -3, -1]
    # With delay="episode" the whole return, -5, is paid on the last step.
    env = gym.make("rewardlab/Dense-MountainCar-v0", delay="episode", horizon=5)
    assert _rewards(env, 10) == [0, 0, 0, 0, -5]


def test_delayed_sparse_reward_is_paid_on_termination():
    env = gym.make("rewardlab/Sparse-MountainCar-v0", delay="episode")
    env.reset(seed=0)
    env.unwrapped.base.state = np.array([0.49, 0.02])  # the next step crosses x = 0.5
    _, reward, terminated, _, info = env.step(2)
    assert (reward, terminated, info["is_success"]) == (1.0, True, True)


def test_horizon_truncates():
    env = gym.make("rewardlab/Sparse-Reacher-v0", horizon=3)
    env.reset(seed=0)
    dones = [env.step(np.zeros(2, dtype=np.float32))[3] for _ in range(3)]
    assert dones == [False, False, True]


@pytest.mark.parametrize(
    ("module", "env_id", "extra"),
    [("gymnasium_robotics", "rewardlab/Sparse-AntMaze-UMaze-v0", "robotics"), ("minigrid", "rewardlab/Sparse-DoorKey-8x8-v0", "minigrid")],
)
def test_missing_extra_names_it(monkeypatch, module, env_id, extra):
    # A None entry in sys.modules makes `import module` raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=rf'pip install "rewardlab\[{extra}\]"'):
        gym.make(env_id)


@pytest.mark.parametrize("env_id", task_ids("Sparse"))
def test_sb3_accepts_the_env(env_id):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker", reason="needs the `train` extra")
    sb3_checker.check_env(_make(env_id), warn=False)


@pytest.mark.parametrize("env_id", ["rewardlab/Sparse-MountainCar-v0", "rewardlab/Sparse-DoorKey-8x8-v0"])
def test_pickle_round_trip_rebuilds_the_env(env_id):
    env = _make(env_id)
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(env.reset(seed=11)[0], clone.reset(seed=11)[0])
    assert env.step(1)[1:4] == clone.step(1)[1:4]


@pytest.mark.parametrize(("env_id", "name"), [("rewardlab/Sparse-MountainCar-v0", "energy"), ("rewardlab/Sparse-DoorKey-8x8-v0", "subgoal_distance")])
def test_named_potential_shapes_through_the_rewardlab_wrapper(env_id, name):
    # PBRS("name") resolves against the env id; each step pays 0.99 * Phi(s') - Phi(s) on top of the sparse reward
    # (PBRS shapes in float64, so the float32 potentials are widened before the arithmetic).
    env = RewardShaping(_make(env_id), EnvReward() + PBRS(name, gamma=0.99))
    phi = rewardlab.shaping.potentials_for(env_id)[name]
    obs, _ = env.reset(seed=0)
    for action in [2, 2, 0, 1]:
        next_obs, reward, terminated, _, info = env.step(action)
        expected = 0.99 * np.float64(phi(next_obs[None])[0]) * (not terminated) - np.float64(phi(obs[None])[0])
        assert info["reward_terms"][f"pbrs_{name}"] == pytest.approx(expected, abs=1e-12)
        assert reward == pytest.approx(info["sparse_reward"] + expected, abs=1e-12)
        obs = next_obs
