"""IQM, stratified bootstrap and probability of improvement against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.ablation.stats import iqm, probability_of_improvement, stratified_bootstrap_ci


@pytest.mark.parametrize(
    "scores, expected",
    [
        # n=8: cut floor(8/4)=2 from each end -> mean(3, 4, 5, 6) = 4.5
        (np.arange(1.0, 9.0), 4.5),
        # n=4: cut 1 from each end -> mean(1, 2) = 1.5; the outlier 100 is gone
        (np.array([0.0, 1.0, 2.0, 100.0]), 1.5),
        # n=3: floor(3/4)=0, nothing is cut -> plain mean (0 + 3 + 9) / 3 = 4
        (np.array([0.0, 3.0, 9.0]), 4.0),
        # (runs=3, tasks=2) flattens to 6 scores [1, 2, 3, 10, 20, 30]; cut 1 each end -> mean(2, 3, 10, 20) = 8.75
        (np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]), 8.75),
    ],
)
def test_iqm_hand_values(scores, expected):
    assert iqm(scores) == pytest.approx(expected)


def test_stratified_resampling_keeps_each_task():
    # Task A scores [0, 0], task B scores [1, 1]: resampling runs within each task always yields
    # one A-matrix of zeros and one B-matrix of ones, so the mean is exactly 0.5 in every resample.
    scores = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert stratified_bootstrap_ci(scores, reps=500) == (0.5, 0.5, 0.5)


def test_bootstrap_distribution_of_two_runs():
    # One task, runs [0, 1]: a resample of size 2 has mean 0 (p=1/4), 0.5 (p=1/2) or 1 (p=1/4),
    # so the 2.5% and 97.5% percentiles are 0 and 1 and the point estimate is 0.5.
    point, low, high = stratified_bootstrap_ci(np.array([0.0, 1.0]), reps=4000, seed=1)
    assert (point, low, high) == (0.5, 0.0, 1.0)
    _, low_40, high_40 = stratified_bootstrap_ci(np.array([0.0, 1.0]), reps=4000, confidence=0.4, seed=1)
    # A 40% interval spans the 30th..70th percentiles, both inside the p=1/2 mass at 0.5 (cumulative 0.25..0.75).
    assert (low_40, high_40) == (0.5, 0.5)


def test_probability_of_improvement_hand_value():
    # X=[1,2,3], Y=[2,2,0]: pairs with x>y count 1, ties 1/2:
    # x=1: (0, 0, 1) -> 1; x=2: (.5, .5, 1) -> 2; x=3: (1, 1, 1) -> 3; total 6 of 9 pairs.
    point, low, high = probability_of_improvement(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 0.0]))
    assert point == pytest.approx(6 / 9)
    assert 0.0 <= low <= point <= high <= 1.0
    # Identical samples tie on average: P = 0.5 exactly (each pair's x>y is matched by a y>x).
    x = np.array([1.0, 4.0, 2.0])
    assert probability_of_improvement(x, x)[0] == pytest.approx(0.5)
    # Two tasks average per task: task 1 X always wins (1), task 2 X always loses (0) -> 0.5.
    assert probability_of_improvement(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, 1.0]]))[0] == 0.5


def test_single_seed_has_degenerate_interval():
    assert stratified_bootstrap_ci(np.array([3.0])) == (3.0, 3.0, 3.0)
