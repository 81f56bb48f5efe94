"""Shared helpers for the bonus tests: building transitions by hand."""

from __future__ import annotations

import numpy as np

from rewardlab.shaping import Transition


def step(obs, next_obs, valid=None, action=None, done=None) -> Transition:
    """A transition of len(obs) sub-envs with zero env reward."""
    n = len(next_obs) if not isinstance(next_obs, dict) else len(next(iter(next_obs.values())))
    valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    action = np.zeros(n, np.int64) if action is None else np.asarray(action)
    done = np.zeros(n, bool) if done is None else np.asarray(done, bool)
    return Transition(obs, action, next_obs, np.zeros(n), done, np.zeros(n, bool), valid)


def col(*values) -> np.ndarray:
    """A batch of one-number observations, one per sub-env: shape (N, 1)."""
    return np.array(values, dtype=np.float64)[:, None]


def onehot(obs) -> np.ndarray:
    """One-hot of the first position coordinate (10 cells); a module-level feature fn for E3B."""
    pos = np.asarray(obs["agent_pos"])[:, 0]
    return np.eye(10)[pos]
