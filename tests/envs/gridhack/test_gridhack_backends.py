"""``backend="torch"`` on the gridhack vector env: the same steps as the numpy backend, as tensors on the device.

The numpy backend steps with the numba kernel (jitcore) and the torch backend with the torch kernel
(torchcore); both read rewardlab.envs.gridhack.rules, and the numpy one is pinned by the v0 digests. So
for a seed, the torch backend must give the numpy backend's observations, rewards, flags and info exactly
(the arithmetic is integer, and the reward is 1.0 or 0.0 plus the same float64 penalty): every registered
gridhack id, through ``gym.make_vec``, 8 envs x 200 random steps with short episodes so that autoresets
happen many times.
"""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.errors import InvalidAction, InvalidParameter, MissingExtraError

torch = pytest.importorskip("torch")

GRIDHACK_IDS = sorted(i for i in gym.registry if i.startswith("rewardlab/Gridhack-"))
B, STEPS = 8, 200


def make(eid: str, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(eid, num_envs=B, vectorization_mode="vector_entry_point", **kwargs)


def as_numpy(x):
    assert isinstance(x, torch.Tensor) and x.device == torch.device("cpu"), type(x)
    return x.numpy()


def assert_same(a: dict, t: dict, where) -> None:
    """The numpy dict `a` and the tensor dict `t` hold equal keys, dtypes and values."""
    assert sorted(a) == sorted(t), where
    for key in a:
        x, y = np.asarray(a[key]), as_numpy(t[key])
        assert x.dtype == y.dtype and np.array_equal(x, y), (where, key)


def test_the_sweep_covers_every_gridhack_task():
    # the registry holds one id per task of the task table (rewardlab/envs/gridhack/__init__.py)
    from rewardlab.envs.gridhack import TASKS, env_id

    assert GRIDHACK_IDS == sorted(env_id(t) for t in TASKS)


@pytest.mark.parametrize("variant", ["restricted", "full"])
@pytest.mark.parametrize("eid", GRIDHACK_IDS)
def test_torch_backend_steps_as_the_numpy_backend(eid, variant):
    # "full": all 15 commands (pickup, apply, zap, kick and their direction prompts, rays) and a step
    # penalty, so that every rule of the kernels runs; 2 contexts, so that levels repeat across resets
    kwargs = dict(max_episode_steps=25, num_contexts=2) if variant == "restricted" else \
        dict(max_episode_steps=25, action_set="full", penalty_step=-0.01)
    envs = [make(eid, **kwargs), make(eid, backend="torch", device="cpu", **kwargs)]
    obs_np, info_np = envs[0].reset(seed=7)
    obs_t, info_t = envs[1].reset(seed=7)
    assert_same(obs_np, obs_t, "reset")
    assert_same(info_np, info_t, "reset info")
    rng = np.random.default_rng(3)
    ended = 0
    for t in range(STEPS):
        a = rng.integers(0, envs[0].single_action_space.n, B)
        out_np = envs[0].step(a)
        out_t = envs[1].step(torch.as_tensor(a))
        assert_same(out_np[0], out_t[0], ("obs", t))
        for name, x, y in zip(("reward", "terminated", "truncated"), out_np[1:4], out_t[1:4]):
            y = as_numpy(y)
            assert x.dtype == y.dtype and np.array_equal(x, y), (name, t)
        assert_same(out_np[4], out_t[4], ("info", t))
        ended += int((out_np[2] | out_np[3]).sum())
    # episodes of at most 25 steps: every sub-env ended and was autoreset at least 200 // 26 times
    assert ended >= B * (STEPS // 26)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_tensors_come_out_on_the_env_device(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    envs = make("rewardlab/Gridhack-Freeze-Horn-v0", backend="torch", device=device)
    dev = torch.device(device, 0) if device == "cuda" else torch.device("cpu")
    assert envs.unwrapped.device == dev  # "cuda" names the current device, as tensors report it
    obs, info = envs.reset(seed=0)
    out = envs.step(torch.zeros(B, dtype=torch.int64, device=dev))
    tensors = [*obs.values(), *info.values(), *out[0].values(), *out[1:4], *out[4].values()]
    assert all(isinstance(x, torch.Tensor) and x.device == dev for x in tensors)
    assert out[1].dtype == torch.float64 and out[2].dtype == out[3].dtype == torch.bool


def test_numpy_actions_are_accepted_by_the_torch_backend():
    # a host batch is checked as on the numpy backend, then copied over
    envs = make("rewardlab/Gridhack-Corridors-R5-v0", backend="torch")
    envs.reset(seed=0)
    assert envs.step(np.zeros(B, dtype=np.int64))[1].tolist() == [0.0] * B


def test_bad_backend_or_device_is_a_typed_error(monkeypatch):
    eid = "rewardlab/Gridhack-Corridors-R5-v0"
    with pytest.raises(InvalidParameter, match="`backend` must be one of"):
        make(eid, backend="jax")
    with pytest.raises(InvalidParameter, match="`device` is for backend='torch'"):
        make(eid, device="cpu")  # numpy is the default backend
    with pytest.raises(InvalidParameter, match="`device` must name a torch device"):
        make(eid, backend="torch", device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidParameter, match="needs CUDA"):
            make(eid, backend="torch", device="cuda")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed: its import fails
    with pytest.raises(MissingExtraError, match=r"rewardlab\[train\]"):
        make(eid, backend="torch")


def test_bad_tensor_actions_are_refused():
    # docs/contracts.md: an action outside the space is InvalidAction naming the problem, on every backend
    envs = make("rewardlab/Gridhack-Corridors-R5-v0", backend="torch")
    envs.reset(seed=0)
    n = envs.single_action_space.n
    with pytest.raises(InvalidAction, match=r"shape is not \(8,\)"):
        envs.step(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(InvalidAction, match="dtype is not an integer"):
        envs.step(torch.zeros(B))
    with pytest.raises(InvalidAction, match=rf"rows \[2, 5\] are outside \[0, {n}\)"):
        envs.step(torch.tensor([0, 0, n, 0, 0, -1, 0, 0]))
    with pytest.raises(InvalidAction, match="on another device"):
        envs.step(torch.zeros(B, dtype=torch.int64, device="meta"))
