"""IPPO/MAPPO on a torch-backend coopetition core: stepping, shaping and storage stay on the device (issue 19).

The same checks as TorchPPO's (``test_ppo_device.py``), on the batched coopetition core:

* the host copies (``.cpu()``, ``.numpy()``, ``.tolist()``, ``np.asarray(tensor)``) made during a
  training run do not grow with the number of steps per rollout: none is made per step;
* the device path trains to exactly the numbers of the host path for the same seed (the core's torch
  kernel equals its numpy one, ``tests/envs/coopetition/test_coopetition_backends.py``), so moving to the device
  changed where, not what.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rewardlab.baselines.marl import CoreEnvs, MARLArgs, train  # noqa: E402
from rewardlab.errors import ConfigError  # noqa: E402
from rewardlab.shaping import PBRS, EnvReward  # noqa: E402

GAME, B = "TrustDilemma", 4


def trust_level(obs):  # a potential written for arrays: the agent's first observed trust value
    return obs[:, 0] * 10.0


def _envs(backend, n=B, max_steps=6):
    reward = EnvReward() + PBRS(trust_level, gamma=0.99)
    return CoreEnvs(GAME, n, reward, backend=backend, reward_mode="private", max_steps=max_steps)


def _run(backend, n_steps, critic="central", rollouts=2):
    args = MARLArgs(n_steps=n_steps, batch_size=32, n_epochs=1, critic=critic)
    eval_envs = CoreEnvs(GAME, 2, None, backend=backend, reward_mode="private", max_steps=6)
    return train(args, _envs(backend), rollouts * n_steps * B * 2, seed=5, eval_envs=eval_envs)



def test_core_arrays_are_tensors_on_the_device():
    envs = _envs("torch")
    obs, state, alive = envs.reset(seed=0)
    out = envs.step(torch.full((B, 2, 1), 40.0))
    for x in (obs, state, alive, out.reward, out.task_reward, out.terminated, out.success, *out.terms.values()):
        assert isinstance(x, torch.Tensor) and x.device == torch.device("cpu")
    assert sorted(out.terms) == ["env", "pbrs"]


@pytest.mark.parametrize("critic", ["local", "central"])
def test_no_host_copy_per_step(monkeypatch, host_copies, critic):
    # Same number of rollouts, 6 or 24 steps each (episodes of 6 steps, so games end and reset on the
    # device in both): a per-step copy would add >= 18 * 2 copies to the longer run. The copies that
    # remain are per rollout (the episode log's columns, the metrics) and the evaluations'.
    counts = []
    for n_steps in (6, 24):
        transfers = host_copies()
        result = _run("torch", n_steps, critic, rollouts=2)
        counts.append(transfers.count)
        monkeypatch.undo()
        assert len(result.episodes) == 2 * n_steps // 6 * B * 2  # every game ended on the device and was logged
    assert counts[0] == counts[1], f"host copies grew with the rollout length: {counts}"


@pytest.mark.parametrize("critic", ["local", "central"])
def test_device_path_equals_host_path(critic):
    dev, ref = _run("torch", 12, critic), _run("numpy", 12, critic)
    assert torch.equal(dev.advantages, ref.advantages)
    assert dev.curve == ref.curve
    assert len(ref.episodes) > 0 and len(dev.episodes) == len(ref.episodes)
    for a, b in zip(dev.episodes, ref.episodes, strict=True):
        # the episode's float sums to 1e-12, the rest exactly: the core's float64 pow may differ by an ulp between
        # torch and numpy (measured 2026-12-03, numpy 2.4.6 and torch 2.13: one MAPPO episode's payoff, 1 ulp)
        close = ("terms", "task_return", "payoff")
        assert {k: v for k, v in a.items() if k not in close} == {k: v for k, v in b.items() if k not in close}
        for k in close:
            assert a[k] == pytest.approx(b[k], rel=1e-12)
    assert dev.term_totals == pytest.approx(ref.term_totals, rel=1e-12)
    for a, b in zip(dev.policy.state_dict().values(), ref.policy.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_core_on_another_device_is_an_error():
    # Tensors on one device and a learner on another would copy every step; the trainer says so.
    envs = CoreEnvs(GAME, 2, None, backend="torch", device="meta", reward_mode="private")
    with pytest.raises(ConfigError, match="`meta` but the learner's `device` is `cpu`"):
        train(MARLArgs(n_steps=4, batch_size=8, n_epochs=1), envs, 16, seed=0)


def test_host_path_still_numpy():
    obs, _, alive = _envs("numpy").reset(seed=0)
    assert isinstance(obs, np.ndarray) and isinstance(alive, np.ndarray)
