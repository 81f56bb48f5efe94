"""``backend="torch"`` on the coopetition vector env: the numpy backend's steps, as tensors on the device.

Both backends run the same array program (rewardlab.envs.coopetition.mechanics) in float64; numpy's and
torch's log1p, exp and tanh may differ in the last bits, so real values are compared to 1e-6 (the largest
difference measured over this sweep was below 1e-10) and flags exactly. Every registered game, through
``gym.make_vec``, 8 envs x 200 random steps; every game ends its episodes within 200 steps (max_steps
is at most 100), so the on-device autoreset runs.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.envs.coopetition.params import env_names
from rewardlab.errors import InvalidParameter

torch = pytest.importorskip("torch")

COOPETITION_IDS = sorted(i for i, spec in gym.registry.items()
                         if "coopetition" in str(spec.vector_entry_point or ""))
B, STEPS, ATOL = 8, 200, 1e-6


def make(eid: str, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(eid, num_envs=B, vectorization_mode="vector_entry_point", **kwargs)


def as_numpy(x):
    assert isinstance(x, torch.Tensor) and x.device == torch.device("cpu"), type(x)
    return x.numpy()


def close(x, y, where) -> None:
    """numpy `x` equals tensor `y`: exactly for bools and ints, to ATOL for reals."""
    x, y = np.asarray(x), as_numpy(y)
    assert x.shape == y.shape and x.dtype == y.dtype, where
    if x.dtype.kind == "f":
        np.testing.assert_allclose(y, x, rtol=0, atol=ATOL, err_msg=str(where))
    else:
        assert np.array_equal(x, y), where


def test_the_sweep_covers_every_coopetition_game():
    # spec: 20 games, each registered with the coopetition vector entry point
    assert COOPETITION_IDS == sorted(f"rewardlab/{n}-v0" for n in env_names()) and len(COOPETITION_IDS) == 20


def run_both(eid: str, **kwargs) -> np.ndarray:
    """Step both backends side by side, asserting equal outputs; returns how many episodes each sub-env ended."""
    envs = [make(eid, **kwargs), make(eid, backend="torch", device="cpu", **kwargs)]
    obs = [e.reset(seed=11)[0] for e in envs]
    close(obs[0], obs[1], "reset")
    space = envs[0].single_action_space
    rng = np.random.default_rng(5)
    ended = np.zeros(B, dtype=int)
    for t in range(STEPS):
        # mostly inside the bounds, some rows above them (the env clips)
        a = rng.uniform(0.0, 1.1, (B, *space.shape)) * space.high
        out_np, out_t = envs[0].step(a), envs[1].step(torch.as_tensor(a))
        for name, x, y in zip(("obs", "reward", "terminated", "truncated"), out_np[:4], out_t[:4]):
            close(x, y, (name, t))
        info_np, info_t = out_np[4], out_t[4]
        # the torch backend has final_obs in every step (its mask all False when nothing ended), numpy only
        # when some sub-env ended
        assert sorted(info_t) == sorted({*info_np, "final_obs", "_final_obs"}), t
        for key in info_np:
            if key not in ("final_obs", "_final_obs"):
                close(info_np[key], info_t[key], (key, t))
        done = out_np[2] | out_np[3]
        close(done, info_t["_final_obs"], ("_final_obs", t))
        if done.any():
            close(info_np["final_obs"][done], info_t["final_obs"][torch.as_tensor(done)], ("final_obs", t))
        ended += done
    return ended


@pytest.mark.parametrize("eid", COOPETITION_IDS)
def test_torch_backend_steps_as_the_numpy_backend(eid):
    assert run_both(eid).min() >= 1  # every sub-env ended at least once in 200 steps (max_steps <= 100)


@pytest.mark.parametrize("kwargs", [dict(control=0, reward_mode="private"), dict(reward_mode="cooperative"),
                                    dict(aggregate="mean", trust_gated=True)])
def test_torch_backend_steps_as_the_numpy_backend_in_other_modes(kwargs):
    # one agent controlled (the others at their constant Nash levels), and the other reward modes
    assert run_both("rewardlab/ReciprocalDilemma-v0", **kwargs).min() >= 1


def test_tensors_stay_on_the_device_and_masks_are_tensors():
    envs = make("rewardlab/TrustDilemma-v0", backend="torch")
    envs.reset(seed=0)
    obs, reward, term, trunc, info = envs.step(torch.full((B, 2), 30.0, dtype=torch.float64))
    cpu = torch.device("cpu")
    assert all(isinstance(x, torch.Tensor) and x.device == cpu for x in (obs, reward, term, trunc, *info.values()))
    assert info["_payoff"].dtype == torch.bool and info["_final_obs"].tolist() == [False] * B


def test_bad_backend_or_device_is_a_typed_error():
    with pytest.raises(InvalidParameter, match="`backend` must be one of"):
        make("rewardlab/TrustDilemma-v0", backend="jax")
    with pytest.raises(InvalidParameter, match="`device` is for backend='torch'"):
        make("rewardlab/TrustDilemma-v0", device="cpu")
