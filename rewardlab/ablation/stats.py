"""Aggregate statistics for few-seed RL results (Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice"): IQM, stratified-bootstrap confidence intervals, probability of improvement.

Written here with numpy's Generator instead of importing rliable: rliable 1.2 fails to import with
pandas 3 (through arch 7.2) and breaks with arch 8 (see specs/performance.md).

Scores are arrays of shape ``(runs, tasks)``; a 1-D array is one task. Functions: :func:`iqm`,
:func:`stratified_bootstrap_ci`, :func:`probability_of_improvement`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["iqm", "stratified_bootstrap_ci", "probability_of_improvement"]


def _2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def iqm(scores: np.ndarray) -> float | np.ndarray:
    """Interquartile mean over all runs and tasks: the mean after cutting ``floor(n/4)`` scores off each end
    (scipy's ``trim_mean(x, 0.25)``, which rliable uses). A leading batch axis of 3-D input is kept.

    Example:
        >>> iqm(np.array([0.0, 1.0, 2.0, 100.0]))  # cuts 0 and 100
        1.5
    """
    x = np.asarray(scores, dtype=np.float64)
    flat = x.reshape(x.shape[0], -1) if x.ndim == 3 else x.reshape(1, -1)
    n = flat.shape[1]
    cut = n // 4
    out = np.sort(flat, axis=1)[:, cut : n - cut].mean(axis=1)
    return out if x.ndim == 3 else float(out[0])


def _resample(x: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    # Stratified: runs are drawn with replacement within each task, so every task keeps its weight.
    runs, tasks = x.shape
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return x[idx, np.arange(tasks)]


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float | np.ndarray] = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point estimate, low, high): the statistic and its percentile bootstrap interval.

    ``statistic`` maps a ``(reps, runs, tasks)`` batch of resampled score matrices to ``reps``
    values (as :func:`iqm` does) and a ``(runs, tasks)`` matrix to one value.

    Example:
        >>> stratified_bootstrap_ci(np.array([[0.0, 1.0], [0.0, 1.0]]))  # every resample keeps one 0 task and one 1 task
        (0.5, 0.5, 0.5)
    """
    x = _2d(scores)
    point = float(statistic(x))
    if x.shape[0] < 2:
        return point, point, point
    values = np.asarray(statistic(_resample(x, reps, np.random.default_rng(seed))))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return point, float(low), float(high)


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # P(X > Y) + 0.5 P(X = Y) per task, averaged over tasks; x, y: (..., runs, tasks).
    gt = (x[..., :, None, :] > y[..., None, :, :]).mean(axis=(-3, -2))
    eq = (x[..., :, None, :] == y[..., None, :, :]).mean(axis=(-3, -2))
    return (gt + 0.5 * eq).mean(axis=-1)


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """P(X > Y): the chance that a run of X beats a run of Y on a random task, ties counted half,
    with a stratified bootstrap interval (X and Y resampled independently).

    Example:
        >>> round(probability_of_improvement(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 0.0]))[0], 4)  # 6 of 9 pairs, see tests
        0.6667
    """
    x, y = _2d(x), _2d(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y must cover the same tasks; got {x.shape[1]} and {y.shape[1]}")
    point = float(_poi(x, y))
    if x.shape[0] < 2 and y.shape[0] < 2:
        return point, point, point
    rng = np.random.default_rng(seed)
    values = _poi(_resample(x, reps, rng), _resample(y, reps, rng))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return point, float(low), float(high)
