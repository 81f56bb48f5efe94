"""Reward terms on torch tensors: the same numbers as on numpy, computed on the tensors' device.

Issue 19: every listed term type computes in torch when given torch tensors (one formula, through
the array namespace), its outputs are tensors on the input's device, and a term or option that
cannot raises :class:`~rewardlab.errors.DeviceUnsupported` naming itself instead of copying the
batch to the host. Reference: the numpy path of the same term (pinned to the float path by
``test_single_batched.py``), fed the same random episode stream from a fresh copy.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rewardlab._array import namespace  # noqa: E402
from rewardlab.errors import DeviceUnsupported  # noqa: E402
from rewardlab.shaping import (  # noqa: E402
    E3B,
    KRC,
    PAR,
    PBRS,
    RND,
    Blend,
    Clip,
    Constant,
    EnvReward,
    EpisodicCount,
    FromFunction,
    Gate,
    GlobalCount,
    LogSigmoid,
    MultiplicativePenalty,
    NovelD,
    Product,
    RunningNormalize,
    Scale,
    Sum,
)
from rewardlab.shaping.terms import Transition  # noqa: E402


# Feature and potential functions written for arrays (numpy or torch alike).
def phi(obs):
    return 2.0 * obs[:, 0] - obs[:, 1]


def cell(obs):
    xp = namespace(obs)
    return xp.astype(xp.floor(obs * 2.0), xp.int64)


def speed(t):
    return 0.5 * t.next_obs[:, 1]


def factor(t):  # in (0, 1): a valid penalty
    xp = namespace(t.next_obs)
    return 1.0 / (1.0 + xp.exp(-t.next_obs[:, 0]))


FACTORIES = {
    "EnvReward": lambda: EnvReward(),
    "Constant": lambda: Constant(0.3),
    "Sum": lambda: Sum([EnvReward(), Constant(0.1), PBRS(phi, gamma=0.9)]),
    "Scale": lambda: Scale(EnvReward() + Constant(0.2), 0.3),
    "Product": lambda: Product([EnvReward(), Constant(2.0), FromFunction(speed)]),
    "FromFunction": lambda: FromFunction(speed),
    "PBRS": lambda: PBRS(phi, gamma=0.9),
    "PBRS-terminal": lambda: PBRS(phi, gamma=0.9, truncation="terminal"),
    "Gate": lambda: Gate(Constant(0.1), outcome=EnvReward(), threshold=0.0),
    "Clip": lambda: Clip(EnvReward(), -0.5, 0.5),
    "RunningNormalize": lambda: RunningNormalize(EnvReward(), center=True),
    "GlobalCount": lambda: GlobalCount(cell),
    "EpisodicCount": lambda: EpisodicCount(cell),
    "EpisodicFirstVisit": lambda: EpisodicCount(cell, indicator=True),
    "CountProduct": lambda: GlobalCount(cell) * EpisodicCount(cell, indicator=True),
    "E3B": lambda: E3B("obs"),
    "RND": lambda: RND(embed_dim=4, hidden=8, seed=0),
    "NovelD": lambda: NovelD(RND(embed_dim=4, hidden=8, seed=0), key=cell),
    "KRC": lambda: KRC([Clip(EnvReward(), -1.0, 1.0), Constant(0.64)]),
    "LogSigmoid": lambda: LogSigmoid(EnvReward(), reference=0.5),
    "PAR": lambda: PAR(EnvReward(), references=[0.0, 1.0]),
    "MultiplicativePenalty": lambda: MultiplicativePenalty(EnvReward(), [FromFunction(factor)]),
    "Blend": lambda: Blend(EnvReward(), {"alive": Constant(0.1), "speed": FromFunction(speed)}, init_w=0.5),
}

#: Options that keep their state on the host by design; each must raise DeviceUnsupported on tensors.
UNSUPPORTED = {
    "LogSigmoid-running-quantile": lambda: LogSigmoid(EnvReward(), reference={"quantile": 0.5, "window": 8}),
    "PAR-running-quantile": lambda: PAR(EnvReward(), references=[{"quantile": 0.5, "window": 8}]),
}

N, STEPS = 4, 40


def _stream(seed: int):
    """A random N-env episode stream: (reset mask, first obs) then transitions, as numpy arrays."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(N, 2))
    yield "reset", np.ones(N, bool), obs
    for step in range(STEPS):
        next_obs = obs + rng.normal(scale=0.7, size=(N, 2))
        terminated = rng.random(N) < 0.1
        truncated = ~terminated & (rng.random(N) < 0.05)
        valid = rng.random(N) > 0.1 if step else np.ones(N, bool)
        reward = rng.normal(size=N)
        yield "step", Transition(obs, rng.integers(0, 3, N), next_obs, reward, terminated, truncated, valid), None
        done = (terminated | truncated) & valid
        obs = np.where(done[:, None], rng.normal(size=(N, 2)), next_obs)
        yield "reset", done, obs


class _Transfers:
    """Counts tensor-to-host copies (``.cpu()``, ``.numpy()``, ``.tolist()``, ``np.asarray(tensor)``) while active."""

    METHODS = ("cpu", "numpy", "tolist", "__array__")

    def __init__(self, monkeypatch):
        self.count, self.active = 0, False
        for method in self.METHODS:
            original = getattr(torch.Tensor, method)

            def counted(tensor, *args, _original=original, **kwargs):
                if self.active:
                    self.count += 1
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, method, counted)


def _torch(x):
    return None if x is None else torch.as_tensor(x)


def _to_torch(t: Transition) -> Transition:
    return Transition(*(_torch(getattr(t, f)) for f in ("obs", "action", "next_obs", "reward", "terminated", "truncated", "valid")))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_torch_equals_numpy(name, monkeypatch):
    # Two fresh copies see the same stream, one as numpy arrays, one as CPU tensors; every step's value
    # and named parts agree to 1e-6 (float64 on both paths: the same arithmetic in another library),
    # and the torch copy never copies a tensor to the host (counted on torch.Tensor's methods).
    host, dev = FACTORIES[name](), FACTORIES[name]()
    transfers = _Transfers(monkeypatch)
    checked = 0
    for kind, a, b in _stream(seed=7):
        if kind == "reset":
            host.reset(a, b)
            ta, tb = torch.as_tensor(a), torch.as_tensor(b)
            transfers.active = True
            dev.reset(ta, tb)
            transfers.active = False
            continue
        want = host.components(a)
        t = _to_torch(a)
        transfers.active = True
        got = dev.components(t)
        transfers.active = False
        assert transfers.count == 0, f"{name} copied tensors to the host {transfers.count} times"
        assert list(got) == list(want)
        for key, value in got.items():
            assert isinstance(value, torch.Tensor), f"{name}: part {key} is {type(value).__name__}, not a tensor"
            assert value.device == torch.device("cpu") and tuple(value.shape) == (N,)
            np.testing.assert_allclose(value.numpy(), want[key], rtol=1e-6, atol=1e-6, err_msg=f"{name}: {key}")
        checked += 1
    assert checked == STEPS


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_host_only_options_raise_naming_the_term(name):
    # Running-quantile references keep a host window (np.quantile); on tensors that would be a silent
    # copy to the host every step, so the term refuses and says which term and why.
    term = UNSUPPORTED[name]()
    term.reset(torch.ones(N, dtype=torch.bool), torch.zeros(N, 2, dtype=torch.float64))
    t = _to_torch(next(s for k, s, _ in _stream(0) if k == "step"))
    with pytest.raises(DeviceUnsupported, match=re.escape(term.name)):
        term(t)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_outputs_stay_on_cuda(name):
    # On a GPU the values are tensors on that GPU (no copy to the host), equal to the numpy path.
    host, dev = FACTORIES[name](), FACTORIES[name]()
    for kind, a, b in _stream(seed=3):
        if kind == "reset":
            host.reset(a, b)
            dev.reset(torch.as_tensor(a, device="cuda"), torch.as_tensor(b, device="cuda"))
            continue
        t = Transition(*(None if getattr(a, f) is None else torch.as_tensor(getattr(a, f), device="cuda")
                         for f in ("obs", "action", "next_obs", "reward", "terminated", "truncated", "valid")))
        got, want = dev(t), host(a)
        assert got.device.type == "cuda"
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["GlobalCount", "EpisodicCount"])
def test_count_tables_round_trip_between_backends(name):
    # The device table (sorted arrays) and the host table (dicts) hold the same counts: after the same
    # stream their state dicts are equal, and a host state loaded into a fresh term continues on tensors
    # exactly as the host term continues on arrays.
    host, dev = FACTORIES[name](), FACTORIES[name]()
    stream = list(_stream(seed=11))
    half = len(stream) // 2
    for kind, a, b in stream[:half]:
        if kind == "reset":
            host.reset(a, b)
            dev.reset(torch.as_tensor(a), torch.as_tensor(b))
        else:
            host(a), dev(_to_torch(a))
    assert dev.state_dict() == host.state_dict()
    resumed = FACTORIES[name]()
    resumed.load_state_dict(host.state_dict())
    for kind, a, b in stream[half:]:
        if kind == "reset":
            host.reset(a, b)
            resumed.reset(torch.as_tensor(a), torch.as_tensor(b))
        else:
            np.testing.assert_allclose(resumed(_to_torch(a)).numpy(), host(a), rtol=0, atol=1e-12)


def test_blend_outer_step_on_a_device_rollout():
    # Blend buffers each step on the rewards' device and copies the rollout to the host once, at the
    # outer step; fed the same one-step bandit rollout (the class docstring's), the numpy and torch
    # copies take the same step and then pay the same blended reward on tensors, still on the device.
    from rewardlab.shaping.bilevel import PolicyBatch, outer_step

    def make():
        return Blend(EnvReward(), aux={"bonus": Constant(0.5)}, warmup_rollouts=0, outer_lr=0.1)

    def batch(theta):
        return PolicyBatch(lambda: torch.log_softmax(theta, 0), [theta], np.ones((1, 2), bool),
                           np.zeros((1, 2), bool), np.ones((1, 2), bool), step=2)

    reward, flags = np.array([1.0, 0.0]), np.zeros(2, bool)
    host, dev = make(), make()
    host(Transition(None, None, None, reward, flags, flags, np.ones(2, bool)))
    dev(Transition(None, None, None, torch.as_tensor(reward), torch.as_tensor(flags), torch.as_tensor(flags), torch.ones(2, dtype=torch.bool)))
    want = outer_step(host, batch(torch.zeros(2, requires_grad=True)))
    got = outer_step(dev, batch(torch.zeros(2, requires_grad=True)))
    assert got == pytest.approx(want, rel=1e-12) and want["blend/blend/grad_norm"] > 0  # a real step was taken
    after = dev(Transition(None, None, None, torch.as_tensor(reward), torch.as_tensor(flags), torch.as_tensor(flags), torch.ones(2, dtype=torch.bool)))
    np.testing.assert_allclose(after.numpy(), host(Transition(None, None, None, reward, flags, flags, np.ones(2, bool))), rtol=1e-12)
