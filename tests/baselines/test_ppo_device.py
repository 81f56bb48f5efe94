"""TorchPPO on a torch-backend vector env: stepping, shaping and storage stay on the device (issue 19).

The env here is a tiny chain written once against the array namespace, so the same class serves as
a numpy env (the host path) and a torch env (the device path). Two checks:

* the host copies (``.cpu()``, ``.numpy()``, ``.tolist()``, ``np.asarray(tensor)``) made during a
  training run do not grow with the number of steps per rollout: none is made per step;
* the device path trains to exactly the numbers of the host path for the same seed (same rewards,
  same sampled actions, same episode log), so moving to the device changed where, not what.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gymnasium.vector import AutoresetMode  # noqa: E402

from rewardlab._array import namespace  # noqa: E402
from rewardlab.baselines.ppo import PPOArgs, train  # noqa: E402
from rewardlab.errors import ConfigError  # noqa: E402
from rewardlab.shaping import PBRS, EnvReward, GlobalCount  # noqa: E402
from rewardlab.wrappers import VectorRewardShaping  # noqa: E402

LENGTH, HORIZON = 6, 12


class ChainVectorEnv(gym.vector.VectorEnv):
    """N chains of LENGTH cells; action 1 moves right, 0 left; reward 1 and termination at the right end,
    truncation after HORIZON steps; NEXT_STEP autoreset. Observations ``[pos / L, steps / H]`` (float32)."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, backend: str = "numpy", device: str = "cpu"):
        self.num_envs, self.backend, self.device = num_envs, backend, device
        self.xp = np if backend == "numpy" else namespace(torch.zeros(1))
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.action_types: set[str] = set()

    def _zeros(self, dtype):
        if self.xp is np:
            return np.zeros(self.num_envs, dtype=dtype)
        return self.xp.zeros(self.num_envs, dtype=dtype, device=self.device)

    def _obs(self):
        xp = self.xp
        return xp.stack([xp.astype(self.pos, xp.float32) / LENGTH, xp.astype(self.steps, xp.float32) / HORIZON], axis=1)

    def reset(self, *, seed=None, options=None):
        self.pos, self.steps = self._zeros(self.xp.int64), self._zeros(self.xp.int64)
        self.pending = self._zeros(self.xp.bool)  # sub-envs whose next step is the autoreset
        return self._obs(), {}

    def step(self, actions):
        xp = self.xp
        self.action_types.add(type(actions).__name__)
        move = xp.astype(actions, xp.int64) * 2 - 1
        pos = xp.clip(self.pos + move, 0, LENGTH - 1)
        self.pos = xp.where(self.pending, 0, pos)
        self.steps = xp.where(self.pending, 0, self.steps + 1)
        terminated = ~self.pending & (self.pos == LENGTH - 1)
        truncated = ~self.pending & ~terminated & (self.steps >= HORIZON)
        reward = xp.astype(terminated, xp.float32)
        self.pending = terminated | truncated
        success = terminated
        return self._obs(), reward, terminated, truncated, {"is_success": success, "_is_success": terminated | truncated}


def progress(obs):  # a potential written for arrays: position along the chain
    return obs[:, 0] * 1.0


def cell(obs):
    xp = namespace(obs)
    return xp.astype(obs[:, :1] * LENGTH, xp.int64)


def _shaped(n, backend):
    return VectorRewardShaping(ChainVectorEnv(n, backend), EnvReward() + PBRS(progress, gamma=0.99) + 0.1 * GlobalCount(cell))



def _run(n_steps, backend, rollouts=2, n_envs=4):
    envs = _shaped(n_envs, backend)
    args = PPOArgs(n_steps=n_steps, batch_size=16, n_epochs=1, device="cpu")
    return train(args, envs, total_steps=rollouts * n_steps * n_envs, seed=3), envs


def test_no_host_copy_per_step(monkeypatch, host_copies):
    # Same number of rollouts, 8 or 32 steps each: a per-step copy would add >= 24 * 2 copies to the
    # longer run. The copies that remain are per rollout (the episode log's columns, the metrics).
    counts = []
    for n_steps in (8, 32):
        transfers = host_copies()
        result, envs = _run(n_steps, "torch")
        counts.append(transfers.count)
        monkeypatch.undo()
        assert envs.unwrapped.action_types == {"Tensor"}  # actions reached the env as tensors
        assert result.rollout.rewards.device == torch.device("cpu")
    assert counts[0] == counts[1], f"host copies grew with the rollout length: {counts}"


def test_device_path_equals_host_path():
    # Deterministic env, same seed, same sampling stream: the rollouts (rewards, shaped by PBRS and a
    # count bonus), the episode log and the trained weights are identical on the two paths.
    (dev, _), (ref, _) = _run(16, "torch"), _run(16, "numpy")
    assert torch.equal(dev.rollout.rewards, ref.rollout.rewards)
    assert torch.equal(dev.rollout.valid, ref.rollout.valid)
    assert len(ref.episodes) > 0 and len(dev.episodes) == len(ref.episodes)
    for a, b in zip(dev.episodes, ref.episodes, strict=True):
        # task metrics exactly; term sums to 1e-12 (torch's float64 pow may differ from Python's by an ulp)
        assert {k: v for k, v in a.items() if k != "terms"} == {k: v for k, v in b.items() if k != "terms"}
        assert a["terms"] == pytest.approx(b["terms"], rel=1e-12)
    assert dev.term_totals == pytest.approx(ref.term_totals, rel=1e-12)
    for a, b in zip(dev.agent.state_dict().values(), ref.agent.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_env_on_another_device_is_an_error():
    # Tensors on one device and a learner on another would copy every step; the trainer says so.
    envs = ChainVectorEnv(2, "torch", device="meta")  # tensors without storage: enough to name a device
    with pytest.raises(ConfigError, match="`meta` but the learner's `device` is `cpu`"):
        train(PPOArgs(n_steps=4, batch_size=8, n_epochs=1, device="cpu"), envs, total_steps=8, seed=0)
