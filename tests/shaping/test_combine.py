"""KRC, LogSigmoid, PAR and MultiplicativePenalty against hand-computed values (issue 15, spec F3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping import KRC, PAR, Constant, EnvReward, LogSigmoid, MultiplicativePenalty, Transition, from_config
from rewardlab.shaping.combine import RunningQuantile, log_sigmoid, sigmoid
from rewardlab.shaping.terms import SingleTransition


def transition(rewards, valid=None):
    n = len(rewards)
    return Transition(
        np.zeros((n, 1)), None, np.zeros((n, 1)), np.asarray(rewards, float), np.zeros(n, bool), np.zeros(n, bool),
        np.ones(n, bool) if valid is None else np.asarray(valid),
    )


def test_krc_is_the_signed_geometric_mean():
    # r = (0.5, -0.5, 2), c1 = 0.5, c2 = 0.25 -> P = r * 0.125; |P|^(1/3) = |r|^(1/3) * 0.5:
    # 0.5^(1/3) * 0.5 = 0.396850, sign kept for -0.5; 2^(1/3) * 0.5 = 0.629961.
    term = KRC([EnvReward(), Constant(0.5), Constant(0.25)])
    np.testing.assert_allclose(term(transition([0.5, -0.5, 2.0])), [0.396850, -0.396850, 0.629961], atol=1e-6)
    # Two factors: a square root, sign of the product: (-0.09)*(-1) = 0.09 -> +0.3; 0 * anything = 0.
    two = KRC([EnvReward(), Constant(-1.0)])
    np.testing.assert_allclose(two(transition([-0.09, 0.0, 0.04])), [0.3, 0.0, -0.2], atol=1e-12)


def test_log_sigmoid_fixed_reference_and_stability():
    # log sigmoid(x) = -log(1 + e^-x): x = 0 -> -log 2 = -0.693147; x = 2 -> -log(1 + e^-2) = -0.126928;
    # x = -3 -> -log(1 + e^3) = -3.048587. Reference 1: rewards 1, 3, -2.
    term = LogSigmoid(EnvReward(), reference=1.0)
    np.testing.assert_allclose(term(transition([1.0, 3.0, -2.0])), [-0.693147, -0.126928, -3.048587], atol=1e-6)
    # Far tails: -log(1 + e^-1000) = -0.0 (no overflow), -log(1 + e^1000) = -1000 (exactly x for x << 0).
    np.testing.assert_allclose(log_sigmoid(np.array([1000.0, -1000.0])), [0.0, -1000.0])
    assert log_sigmoid(-1000.0) == -1000.0 and isinstance(log_sigmoid(0.5), float)
    # Dummy (invalid) steps pay 0 like every term.
    assert term(transition([5.0], valid=[False]))[0] == 0.0


def test_par_mean_of_sigmoids_over_references():
    # sigmoid(x) = 1 / (1 + e^-x). r = 1, references (0, 1, 3): (sigmoid(1) + sigmoid(0) + sigmoid(-2)) / 3
    # = (0.731059 + 0.5 + 0.119203) / 3 = 0.450087.
    term = PAR(EnvReward(), references=[0.0, 1.0, 3.0])
    np.testing.assert_allclose(term(transition([1.0])), [0.450087], atol=1e-6)
    assert sigmoid(1000.0) == 1.0 and sigmoid(-1000.0) == 0.0  # bounded, no overflow


def test_quantile_reference_uses_the_past_window_only():
    # Median (q=0.5) over a window of 3 past values, updated after computing:
    # step 1, r=1: no past value -> reference = r itself -> log sigmoid(0) = -log 2;
    # step 2, r=3: past (1) -> ref 1 -> log sigmoid(2) = -0.126928;
    # step 3, r=0: past (1, 3) -> median 2 -> log sigmoid(-2) = -2.126928;
    # step 4, r=5: past (1, 3, 0) -> median 1 -> log sigmoid(4) = -0.018150;
    # step 5, r=5: past window (3, 0, 5) (the 1 fell out) -> median 3 -> log sigmoid(2) = -0.126928.
    term = LogSigmoid(EnvReward(), reference={"quantile": 0.5, "window": 3})
    got = [float(term(transition([r]))[0]) for r in [1.0, 3.0, 0.0, 5.0, 5.0]]
    np.testing.assert_allclose(got, [-math.log(2), -0.126928, -2.126928, -0.018150, -0.126928], atol=1e-6)
    # Invalid rows are not pushed: the window still holds (0, 5, 5) -> median 5 -> log sigmoid(0).
    term(transition([100.0], valid=[False]))
    np.testing.assert_allclose(term(transition([5.0])), [-math.log(2)], atol=1e-12)


def test_quantile_state_round_trips():
    # A copy loaded with the state gives the same next value as the original (same window contents).
    a = PAR(EnvReward(), references=[{"quantile": 0.9, "window": 4}, 0.0])
    for r in [0.1, 0.7, 0.3]:
        a(transition([r, -r]))
    b = from_config(a.to_config())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(transition([0.5])), b(transition([0.5])))
    # The 0.9-quantile by linear interpolation of sorted (-0.7, -0.1, 0.1, 0.7): position 0.9 * 3 = 2.7,
    # 0.1 + 0.7 * (0.7 - 0.1) = 0.52.
    ref = RunningQuantile(0.9, 4)
    for r in [0.1, -0.1, 0.7, -0.7]:
        ref.push(r, True)
    assert ref.value(0.0) == pytest.approx(0.52)


def test_multiplicative_penalty_and_its_range_error():
    # CaRL: progress 2 reduced by infractions 0.5 and 0.8 -> 2 * 0.5 * 0.8 = 0.8; progress -1 -> -0.4.
    term = MultiplicativePenalty(EnvReward(), [Constant(0.5), Constant(0.8)])
    np.testing.assert_allclose(term(transition([2.0, -1.0])), [0.8, -0.4])
    bad = MultiplicativePenalty(EnvReward(), [Constant(1.5, name="collision")])
    with pytest.raises(InvalidParameter, match=r"penalty `collision` returned \[1.5\], outside \[0, 1\]"):
        bad(transition([1.0]))
    nan = MultiplicativePenalty(EnvReward(), [EnvReward(name="lane")])
    with pytest.raises(InvalidParameter, match="penalty `lane` returned nan"):
        nan.single(SingleTransition(None, None, None, float("nan"), False, False))  # the float path checks too


def test_configs_build_each_new_term_and_reject_bad_references():
    cfg = {
        "type": "Sum",
        "terms": [
            {"type": "KRC", "terms": [{"type": "EnvReward"}, {"type": "Constant", "value": 0.25}]},
            {"type": "LogSigmoid", "term": {"type": "EnvReward"}, "reference": {"quantile": 0.5, "window": 10}},
            {"type": "PAR", "term": {"type": "EnvReward"}, "references": [0.0, 1.0]},
            {"type": "MultiplicativePenalty", "progress": {"type": "EnvReward"}, "penalties": [{"type": "Constant", "value": 0.5}]},
        ],
    }
    term = from_config(cfg)
    assert term.to_config() == cfg
    # r = 1: KRC sqrt(0.25) = 0.5; LogSigmoid first step log 0.5; PAR (sigmoid(1) + sigmoid(0)) / 2; 1 * 0.5.
    parts = term.components(transition([1.0]))
    np.testing.assert_allclose([v[0] for v in parts.values()], [0.5, -math.log(2), (0.731059 + 0.5) / 2, 0.5], atol=1e-6)
    with pytest.raises(InvalidParameter, match="quantile` must be a number in \\[0, 1\\]"):
        LogSigmoid(EnvReward(), reference={"quantile": 2.0, "window": 3})
    with pytest.raises(InvalidParameter, match="Unknown key `windw`"):
        PAR(EnvReward(), references=[{"quantile": 0.5, "windw": 3}])
    with pytest.raises(InvalidParameter, match="non-empty list"):
        PAR(EnvReward(), references=[])
    with pytest.raises(ConfigError, match="Unknown key `refernce`"):
        from_config({"type": "LogSigmoid", "term": "EnvReward", "refernce": 0.0})
