"""save/load_checkpoint and the random states (the trainers' resume tests are in test_ppo.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rewardlab.baselines.checkpoint import CHECKPOINT_FILE, load_checkpoint, rng_state, save_checkpoint, set_rng_state


def test_round_trip_and_overwrite_leave_one_file(tmp_path):
    folder = tmp_path / "run"  # created by save_checkpoint
    save_checkpoint(folder, {"step": 1, "w": torch.arange(3.0), "a": np.arange(2)})
    save_checkpoint(folder, {"step": 2, "w": torch.arange(4.0), "a": np.arange(5)})
    state = load_checkpoint(folder)
    assert state["step"] == 2 and state["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and state["a"].tolist() == [0, 1, 2, 3, 4]
    # Atomic write: no temporary file is left next to the checkpoint.
    assert [p.name for p in folder.iterdir()] == [CHECKPOINT_FILE]


def test_none_when_absent(tmp_path):
    assert load_checkpoint(None) is None
    assert load_checkpoint(tmp_path) is None
    assert load_checkpoint(tmp_path / "missing") is None


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    save_checkpoint(tmp_path, {"step": 1})
    with pytest.raises(Exception):
        save_checkpoint(tmp_path, {"step": 2, "bad": lambda: None})  # a lambda does not pickle
    assert load_checkpoint(tmp_path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]


def draws(*generators):
    return ([torch.rand(2).tolist()] + [torch.rand(2, generator=g).tolist() for g in generators]
            + [np.random.rand(2).tolist(), random.random()])


def test_rng_state_restores_every_stream_through_a_file(tmp_path):
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    save_checkpoint(tmp_path, {"rng": rng_state(g1, g2)})
    expected = draws(g1, g2)
    draws(g1, g2)  # move every stream on
    set_rng_state(load_checkpoint(tmp_path)["rng"], g1, g2)
    assert draws(g1, g2) == expected


def test_wrong_number_of_generators():
    with pytest.raises(ValueError, match="holds 1 torch generator states; 2 generators"):
        set_rng_state(rng_state(torch.Generator()), torch.Generator(), torch.Generator())


def step_all(envs, actions):
    out = envs.step(actions)
    obs = out[0] if isinstance(out[0], dict) else {"obs": out[0]}
    return {k: np.asarray(v).tolist() for k, v in obs.items()}, out[1].tolist(), out[2].tolist(), out[3].tolist()


@pytest.mark.parametrize(
    ("env_id", "kwargs", "reward"),
    [("CartPole-v1", None, "EnvReward"),  # a SyncVectorEnv from gym.make_vec (its local factories are left out)
     ("rewardlab/Gridhack-Corridors-R5-v0", {"num_contexts": 1},  # the batched core with a stateful count term
      {"type": "Sum", "terms": ["EnvReward", {"type": "Scale", "scale": 0.1, "term": {"type": "GlobalCount", "key": "pos"}}]})],
)
def test_vector_envs_pickle_and_continue_the_same_episodes(env_id, kwargs, reward):
    from rewardlab.baselines.checkpoint import dump_envs, load_envs
    from rewardlab.baselines.ppo import make_vec_env

    envs = make_vec_env(env_id, 3, reward, kwargs, max_episode_steps=None if env_id == "CartPole-v1" else 20)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        envs.step(rng.integers(0, envs.single_action_space.n, 3))
    copy = load_envs(dump_envs(envs))
    ended = False
    for _ in range(40):  # past episode ends, so autoresets are compared too
        actions = rng.integers(0, envs.single_action_space.n, 3)
        out = step_all(envs, actions)
        assert step_all(copy, actions) == out
        ended |= any(out[2]) or any(out[3])
    assert ended  # CartPole's random episodes last ~20 steps; Corridors is cut at 20
    assert copy.term.state_dict().keys() == envs.term.state_dict().keys()


def test_unpicklable_envs_give_none():
    import gymnasium as gym
    from gymnasium.vector import SyncVectorEnv

    from rewardlab.baselines.checkpoint import dump_envs

    # A lambda inside a sub-env (not one of SyncVectorEnv's factories) cannot be pickled.
    envs = SyncVectorEnv([lambda: gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: r)])
    assert dump_envs(envs) is None
