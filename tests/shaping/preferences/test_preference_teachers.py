"""Scripted, hierarchical and recorded teachers: each rule against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping import Transition
from rewardlab.shaping.preferences import (
    Factor,
    HierarchicalTeacher,
    RecordedComparisons,
    ScriptedTeacher,
    Segment,
    save_comparisons,
    teacher_from_config,
)


def seg(rewards, advantage=None, **factors):
    r = np.asarray(rewards, float)
    return Segment(r[:, None], r, {k: np.asarray(v, float) for k, v in factors.items()},
                   None if advantage is None else np.asarray(advantage, float))


RNG = lambda: np.random.default_rng(0)  # noqa: E731


def test_partial_return_teacher_prefers_the_larger_sum_and_skips_ties():
    a = [seg([1.0, 1.0]), seg([0.0]), seg([2.0])]
    b = [seg([0.5]), seg([1.0]), seg([1.0, 1.0])]
    # sums 2 > 0.5 -> 1; 0 < 1 -> 0; 2 == 2 -> skipped (NaN), or 0.5 without skip_equal
    np.testing.assert_array_equal(ScriptedTeacher().label(a, b, RNG()), [1.0, 0.0, np.nan])
    np.testing.assert_array_equal(ScriptedTeacher(skip_equal=False).label(a, b, RNG()), [1.0, 0.0, 0.5])


def test_regret_teacher_uses_the_advantage_not_the_reward():
    # a has the larger return but lost more value (regret 2 vs 0.5): the regret teacher prefers b
    a, b = seg([5.0], advantage=[-2.0]), seg([0.0], advantage=[-0.5])
    assert ScriptedTeacher("partial_return").label([a], [b], RNG()).tolist() == [1.0]
    assert ScriptedTeacher("regret").label([a], [b], RNG()).tolist() == [0.0]
    with pytest.raises(InvalidParameter, match="optimal advantage"):
        ScriptedTeacher("regret").label([seg([1.0])], [seg([0.0])], RNG())


def test_noise_flips_labels_at_its_rate_and_temperature_samples_bradley_terry():
    n = 20000
    a, b = [seg([1.0])] * n, [seg([0.0])] * n
    flipped = 1.0 - ScriptedTeacher(noise=0.2).label(a, b, RNG()).mean()
    assert flipped == pytest.approx(0.2, abs=0.015)  # binomial sd sqrt(.2 * .8 / 20000) = 0.003
    # temperature 1: P(a > b) = logistic(1) = 0.731
    assert ScriptedTeacher(temperature=1.0).label(a, b, RNG()).mean() == pytest.approx(0.7311, abs=0.015)


def test_factor_teacher_scores_weighted_factor_sums():
    t = ScriptedTeacher(on=["speed", "safety"], weights=[1.0, 10.0])
    # a: 1 + 10 * 0 = 1; b: 0 + 10 * 0.2 = 2 -> b
    assert t.label([seg([9.0], speed=[1.0], safety=[0.0])], [seg([0.0], speed=[0.0], safety=[0.2])], RNG()).tolist() == [0.0]
    with pytest.raises(InvalidParameter, match="do not carry"):
        t.label([seg([0.0])], [seg([0.0])], RNG())


def test_hierarchical_teacher_rules():
    teacher = HierarchicalTeacher(["is_success", "energy"], sigma_mult=1.0)
    # energy sums over the observed segments: 0, 2, 4 -> std sqrt(8/3) = 1.633
    teacher.observe([seg([0.0], is_success=[0], energy=[e]) for e in (0.0, 2.0, 4.0)])
    assert teacher.std("energy") == pytest.approx(np.sqrt(8 / 3))
    s = lambda ok, e: seg([0.0], is_success=[ok], energy=[e])  # noqa: E731
    a = [s(1, -9.0), s(0, 2.0), s(0, 1.0), s(0, 0.0)]
    b = [s(0, 9.0), s(0, 0.3), s(0, 0.0), s(0, 5.0)]
    # 1: success decides, no margin, whatever the energy; 2: 2.0 > 0.3 + 1.633 -> a; 3: 1.0 - 0 within
    # the margin -> skipped; 4: 5.0 > 0 + 1.633 -> b
    np.testing.assert_array_equal(teacher.label(a, b, RNG()), [1.0, 1.0, np.nan, 0.0])
    # sigma_mult 0: any strict difference decides
    zero = HierarchicalTeacher(["is_success", "energy"], sigma_mult=0.0)
    np.testing.assert_array_equal(zero.label(a, b, RNG()), [1.0, 1.0, 1.0, 0.0])


def test_factor_reads_every_info_layout_and_signs():
    n = 3
    base = dict(obs=None, action=None, next_obs=None, reward=np.zeros(n), terminated=np.zeros(n, bool), truncated=np.zeros(n, bool), valid=np.ones(n, bool))
    vector = Transition(**base, info={"energy": np.array([1.0, 2.0, 3.0]), "_energy": np.array([True, False, True])})
    sb3 = Transition(**base, info=[{"energy": 1.0}, {}, {"energy": 3.0}])
    for t in (vector, sb3):  # a masked-out or absent entry reads 0
        assert Factor("-energy").values(t).tolist() == [-1.0, 0.0, -3.0]
        assert Factor("energy").present(t)
    assert not Factor("is_success").present(sb3)
    fn = Factor(lambda t: np.arange(3.0))
    assert fn.values(vector).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(InvalidParameter, match="expected \\(3,\\)"):
        Factor(lambda t: np.zeros(2)).values(vector)
    with pytest.raises(InvalidParameter, match="info key"):
        Factor("-")
    # configs name functions 'fn:module:name'; the reference round-trips
    ref = "fn:rewardlab.shaping.preferences.model:segment_regret"
    assert Factor(ref).name == "segment_regret" and Factor(ref).fn is not None
    assert Factor(Factor(ref).fn).to_config() == ref
    with pytest.raises(ConfigError, match="cannot be imported"):
        Factor("fn:rewardlab.nowhere:f")


def test_recorded_comparisons_round_trip(tmp_path):
    path = tmp_path / "c.npz"
    save_comparisons(path, [seg([1.0, 2.0, 3.0]), seg([0.5])], [seg([1.0]), seg([0.0, 0.0])], [1.0, 0.25])
    data = RecordedComparisons(path)
    assert data.features_a.shape == (2, 3, 1)
    np.testing.assert_array_equal(data.mask_a, [[True, True, True], [True, False, False]])
    np.testing.assert_array_equal(data.features_b[1, :, 0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(data.prefer, [1.0, 0.25])
    np.savez(tmp_path / "bad.npz", prefer=np.ones(2))
    with pytest.raises(ConfigError, match="lacks the arrays"):
        RecordedComparisons(tmp_path / "bad.npz")
    with pytest.raises(ConfigError, match="Cannot read"):
        RecordedComparisons(tmp_path / "missing.npz")


def test_teacher_config_errors_name_the_key():
    assert isinstance(teacher_from_config("regret"), ScriptedTeacher)
    assert teacher_from_config({"type": "hierarchical", "factors": ["a", "b"]}).to_config() == {"type": "hierarchical", "factors": ["a", "b"], "sigma_mult": 1.0}
    with pytest.raises(ConfigError, match="Unknown key `nosie`.*noise"):
        teacher_from_config({"type": "scripted", "nosie": 0.1})
    with pytest.raises(ConfigError, match="Unknown teacher type `scriptd`"):
        teacher_from_config({"type": "scriptd"})
    with pytest.raises(ConfigError, match="preference model"):
        teacher_from_config("regert")
    with pytest.raises(InvalidParameter, match="noise"):
        ScriptedTeacher(noise=0.7)
