"""Fitness of a trained candidate and the choice of a round's best (spec llm_and_bilevel.md §B4).

Functions: :func:`fitness_of`, :func:`select_best`, :func:`better`. Constant: :data:`REJECTED_FITNESS`.

Fitness is the task's own metric, never the shaped return: the final evaluation's success rate
when the env reports success (``info["is_success"]``), else its task return. The evaluations run
on an unshaped copy of the env (see :mod:`rewardlab.baselines.sb3_callbacks`), so a candidate
cannot raise its fitness by paying itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["REJECTED_FITNESS", "fitness_of", "select_best", "better", "STD_WINDOW"]

#: Fitness of a candidate that was rejected by a gate or crashed in training (Eureka uses -10000).
REJECTED_FITNESS = -1e4

#: Evaluations at the end of training whose spread is the tie-break ("eval std", lower wins).
STD_WINDOW = 3


def fitness_of(record: Mapping[str, Any]) -> tuple[float, float, str]:
    """``(fitness, eval_std, metric)`` of a completed run record.

    ``metric`` is ``"success"`` when the env reports success (the final success rate is not NaN),
    else ``"task_return"``. ``eval_std`` is the standard deviation of that metric over the last
    :data:`STD_WINDOW` evaluations of the run's curve: a steadier candidate wins a tie.

    Example:
        >>> rec = {"final": {"success": 0.8, "task_return": 0.8},
        ...        "curve": [{"success": 0.0, "task_return": 0.0}, {"success": 0.6, "task_return": 0.6}, {"success": 0.8, "task_return": 0.8}]}
        >>> fitness, std, metric = fitness_of(rec)
        >>> fitness, round(std, 4), metric
        (0.8, 0.3399, 'success')
        >>> fitness_of({"final": {"success": float("nan"), "task_return": -120.0}, "curve": [{"success": float("nan"), "task_return": -120.0}]})
        (-120.0, 0.0, 'task_return')
    """
    final = record["final"]
    metric = "task_return" if _nan(final.get("success")) else "success"
    fitness = float(final[metric])
    values = [float(row[metric]) for row in record.get("curve", [])[-STD_WINDOW:] if not _nan(row.get(metric))]
    if not values:
        values = [fitness]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return fitness, std, metric


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether ``a = (fitness, std)`` beats ``b``: higher fitness, then lower std (a full tie is not better)."""
    return a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


def select_best(fitness: Sequence[float], stds: Sequence[float] | None = None) -> int | None:
    """Index of the best candidate: argmax of fitness, ties to the lower eval std, then the earlier index.

    Returns None when every candidate has :data:`REJECTED_FITNESS` (nothing executed).

    Example:
        >>> select_best([0.1, REJECTED_FITNESS, 0.7, 0.3])   # spec check H13
        2
        >>> select_best([0.5, 0.5, 0.5], stds=[0.2, 0.1, 0.1])   # tie: lower std, then earlier index
        1
        >>> select_best([REJECTED_FITNESS, REJECTED_FITNESS]) is None
        True
    """
    stds = list(stds) if stds is not None else [0.0] * len(fitness)
    best: int | None = None
    for i, f in enumerate(fitness):
        if f <= REJECTED_FITNESS or math.isnan(f):
            continue
        if best is None or better((f, stds[i]), (fitness[best], stds[best])):
            best = i
    return best
