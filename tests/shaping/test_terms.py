"""The composition algebra, the config round trip and config errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import yaml

from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping import (
    PBRS,
    Clip,
    Constant,
    EnvReward,
    FromFunction,
    Gate,
    Product,
    RunningNormalize,
    Scale,
    ShapingWarning,
    Sum,
    Transition,
    from_config,
)
from toy_envs import phi_countdown


def transition(rewards, valid=None):
    n = len(rewards)
    return Transition(
        np.zeros((n, 2)), None, np.zeros((n, 2)), np.asarray(rewards, float), np.zeros(n, bool), np.zeros(n, bool),
        np.ones(n, bool) if valid is None else np.asarray(valid),
    )


def test_operators_build_flat_trees():
    term = EnvReward() + 0.5 * Constant(1.0) + Constant(2.0) * Constant(3.0) - Constant(1.0)
    assert isinstance(term, Sum) and len(term.children()) == 4
    assert isinstance(term.children()[1], Scale) and isinstance(term.children()[2], Product)
    # 1 + 0.5 * 1 + 2 * 3 - 1 = 6.5 (hand computation)
    np.testing.assert_allclose(term(transition([1.0])), [6.5])


def test_parts_are_weighted_named_and_sum_to_total():
    term = EnvReward() + 0.5 * (Constant(1.0) + Constant(2.0, name="bonus")) + Constant(3.0)
    parts = term.components(transition([1.0, 2.0]))
    # Duplicate leaf names stay separate entries; weights are applied as summed.
    assert {k: v.tolist() for k, v in parts.items()} == {
        "env": [1.0, 2.0], "constant": [0.5, 0.5], "bonus": [1.0, 1.0], "constant_2": [3.0, 3.0]
    }
    np.testing.assert_allclose(sum(parts.values()), term(transition([1.0, 2.0])))


ROUND_TRIP = [
    {"type": "EnvReward"},
    {"type": "Sum", "terms": [{"type": "EnvReward"}, {"type": "PBRS", "potential": "toy_envs:phi_countdown", "gamma": 0.99}]},
    {"type": "Scale", "term": {"type": "Constant", "value": 1.0}, "scale": 0.1, "name": "living"},
    {"type": "Product", "terms": [{"type": "Constant", "value": 2.0}, {"type": "EnvReward"}]},
    {"type": "Gate", "immediate": {"type": "Constant", "value": 0.1}, "outcome": {"type": "EnvReward"}, "threshold": 1.0, "op": "gt"},
    {"type": "Clip", "term": {"type": "EnvReward"}, "low": -0.5},
    {"type": "RunningNormalize", "term": {"type": "Constant", "value": 1.0}, "center": True},
    {"type": "PBRS", "potential": "energy", "gamma": 0.9, "truncation": "terminal"},
    {"type": "FromFunction", "fn": "toy_envs:phi_countdown"},
]


@pytest.mark.parametrize("cfg", ROUND_TRIP, ids=lambda c: c["type"])
def test_config_round_trips_exactly_through_yaml(cfg):
    term = from_config(yaml.safe_load(yaml.safe_dump(cfg)))
    assert term.to_config() == cfg
    assert from_config(term.to_config()).to_config() == cfg


def test_python_built_term_round_trips():
    term = EnvReward() + PBRS(phi_countdown, gamma=0.99) + 0.1 * Gate(Constant(1.0), EnvReward(), threshold=0.5)
    cfg = term.to_config()
    assert cfg["terms"][1] == {"type": "PBRS", "potential": "toy_envs:phi_countdown", "gamma": 0.99}
    assert from_config(cfg).to_config() == cfg


def test_string_shorthand():
    assert from_config("EnvReward").to_config() == {"type": "EnvReward"}


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"type": "PBRS", "potential": "energy", "gamma": 0.99, "gama": 0.9}, "Unknown key `gama`.*Did you mean: `gamma`"),
        ({"type": "PRBS"}, "Unknown reward term type `PRBS`.*Did you mean: `PBRS`"),
        ({"potential": "energy"}, "needs a `type` key"),
        ({"type": "PBRS", "potential": "energy"}, "Bad arguments for reward term `PBRS`"),
        ({"type": "FromFunction", "fn": "toy_envs:no_such_fn"}, "cannot be imported"),
        (["EnvReward"], "must be a dict"),
    ],
)
def test_config_errors_name_the_problem(cfg, message):
    with pytest.raises(ConfigError, match=message):
        from_config(cfg)


def test_config_gamma_error():
    with pytest.raises(InvalidParameter, match=r"`gamma` must be in the interval \(0, 1\]. Received 1.5"):
        from_config({"type": "PBRS", "potential": "energy", "gamma": 1.5})


def test_lambda_cannot_be_written_to_a_config():
    with pytest.raises(ConfigError, match="module:name"):
        PBRS(lambda o: o[:, 0], gamma=0.9).to_config()


def test_clip_and_normalize_warn_only_over_pbrs():
    with pytest.warns(ShapingWarning, match="telescoping"):
        Clip(EnvReward() + PBRS(phi_countdown, gamma=0.9))
    with pytest.warns(ShapingWarning, match="telescoping"):
        RunningNormalize(PBRS(phi_countdown, gamma=0.9))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        term = EnvReward() + PBRS(phi_countdown, gamma=0.9) + Clip(Constant(5.0), -1.0, 1.0)  # bonus-only clip: fine
    assert [c.name for c in term.children()] == ["env", "pbrs", "clip(constant)"]


def test_running_normalize_counts_only_real_steps_and_matches_numpy():
    norm = RunningNormalize(EnvReward())
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(20):
        rewards = rng.normal(3.0, 2.0, size=4)
        valid = rng.uniform(size=4) > 0.3
        out = norm(transition(rewards, valid))
        assert (out[~valid] == 0).all()
        seen.extend(rewards[valid])
    assert norm.count == len(seen)
    assert norm.mean == pytest.approx(np.mean(seen)) and norm.var == pytest.approx(np.var(seen))
    frozen = RunningNormalize(EnvReward(), update=False)
    frozen.load_state_dict(norm.state_dict())
    np.testing.assert_allclose(frozen(transition([2.0])), [2.0 / np.sqrt(np.var(seen) + 1e-8)])
    assert frozen.count == len(seen)


def test_constant_and_scale_reject_non_numbers():
    with pytest.raises(InvalidParameter, match="`value`"):
        Constant("1")
    with pytest.raises(InvalidParameter, match="`scale`"):
        Scale(EnvReward(), float("inf"))
    with pytest.raises(InvalidParameter, match="one value per sub-env"):
        FromFunction(lambda t: np.zeros(3))(transition([1.0]))


def test_every_core_term_runs_on_torch_tensors_and_matches_numpy():
    # The on-device path: the same tree on torch tensors gives the numpy values.
    torch = pytest.importorskip("torch")

    def tree():
        return (
            EnvReward()
            + Constant(0.5)
            + Clip(2.0 * EnvReward(), -1.0, 1.0)
            + Product([Constant(2.0), EnvReward()])
            + RunningNormalize(EnvReward())
            + Gate(Constant(0.1), EnvReward(), threshold=1.0)
        )

    results = []
    for make in (lambda v: np.asarray(v), lambda v: torch.tensor(v, dtype=torch.float64) if isinstance(v[0], float) else torch.tensor(v)):
        term = tree()
        term.reset(make([True, True]), None)
        steps = [Transition(None, None, None, make([1.0, -2.0]), make([d, d]), make([False, False]), make([True, True])) for d in (False, True)]
        results.append([np.asarray(term(t), dtype=np.float64) for t in steps])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # By hand, rewards (1, -2): env (1, -2) + 0.5 + clip(2 env) (1, -1) + 2 env (2, -4) + env / std([1, -2]) = env / 1.5.
    np.testing.assert_allclose(results[0][0], [1 + 0.5 + 1 + 2 + 1 / 1.5, -2 + 0.5 - 1 - 4 - 2 / 1.5], rtol=1e-8)
    # The episode ends at step 2: only env 0's gate opens (env sum 2 >= 1) and pays 2 x 0.1; the normaliser's
    # statistics over (1, -2, 1, -2) are unchanged.
    np.testing.assert_allclose(results[0][1] - results[0][0], [0.2, 0.0], atol=1e-9)
