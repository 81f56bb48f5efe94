"""Potential-based advice on state-action pairs (Wiewiora, Cottrell & Elkan 2003), for learner adapters.

Look-ahead advice needs the agent's *next* action, so it cannot live in an env wrapper (spec A.4);
a learner that uses it computes the shaping in its target and must act greedily on Q + Phi.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["lookahead_advice", "biased_greedy"]


def lookahead_advice(phi_sa: Any, phi_next_sa: Any, gamma: float, terminated: Any) -> Any:
    """``F = gamma * Phi(s', a') - Phi(s, a)``, with ``Phi(s', a') = 0`` after termination.

    Example:
        >>> lookahead_advice(np.array([5.0]), np.array([2.0]), 0.9, np.array([True]))
        array([-5.])
    """
    return gamma * np.where(terminated, 0.0, phi_next_sa) - phi_sa


def biased_greedy(q_values: Any, phi_sa: Any) -> Any:
    """Greedy action under look-ahead advice: argmax of ``Q(s, .) + Phi(s, .)`` (learned Q converges to Q* - Phi).

    Example:
        >>> biased_greedy(np.array([[-4.0, 0.0]]), np.array([[5.0, 0.0]]))
        array([0])
    """
    return np.argmax(np.asarray(q_values) + np.asarray(phi_sa), axis=-1)
