"""Potentials for Gymnasium's toy-text FrozenLake 8x8 (``map_name="8x8"``), for the PBRS learning study.

Observations are the state index ``row * 8 + col`` (start 0, goal 63).
``progress`` is a good potential (minus the Manhattan distance to the goal, scaled to [-1, 0]);
``away`` is the misleading one (its negative: it pays for walking away from the goal). Both are
potentials, so neither changes the optimal policy (Ng et al. 1999); they change how fast PPO finds it.
Use them as ``{"type": "PBRS", "potential": "rewardlab.envs.control.toy_text:frozenlake_progress"}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["frozenlake_progress", "frozenlake_away"]

_SIZE = 8  # map_name="8x8"; the 4x4 map is solved by PPO in a few thousand steps with or without shaping
_GOAL = (_SIZE - 1, _SIZE - 1)


def frozenlake_progress(obs: Any) -> np.ndarray:
    """Minus the Manhattan distance to the goal over its largest value 14, in [-1, 0].

    Example:
        >>> frozenlake_progress(np.array([0, 62, 63])).tolist()
        [-1.0, -0.07142857142857142, 0.0]
    """
    s = np.asarray(obs, dtype=np.int64).reshape(-1)
    row, col = np.divmod(s, _SIZE)
    return (np.abs(_GOAL[0] - row) + np.abs(_GOAL[1] - col)) / (-2.0 * (_SIZE - 1)) + 0.0  # + 0.0: no -0.0 at the goal


def frozenlake_away(obs: Any) -> np.ndarray:
    """The misleading potential: the distance to the goal over 14, in [0, 1] (``-frozenlake_progress``).

    Example:
        >>> frozenlake_away(np.array([0, 63])).tolist()
        [1.0, 0.0]
    """
    s = np.asarray(obs, dtype=np.int64).reshape(-1)
    row, col = np.divmod(s, _SIZE)
    return (np.abs(_GOAL[0] - row) + np.abs(_GOAL[1] - col)) / (2.0 * (_SIZE - 1))
