"""Preference models and the Bradley-Terry loss (Knox et al., "Models of human preference for learning reward functions").

A preference model says how likely a person is to prefer segment ``a`` to segment ``b``. Both models
here are Bradley-Terry (logistic) in a per-segment *score*; they differ in the score:

* ``partial_return``: the score is the segment's summed reward, ``P(a > b) = logistic(sum r_a - sum r_b)``;
* ``regret``: the score is minus the segment's regret, with ``regret(sigma) = -sum_t A*(s_t, a_t)`` the
  summed negated optimal advantage, so ``P(a > b) = logistic(sum A*_a - sum A*_b)``. A segment that
  acts optimally has regret 0 wherever it starts, which partial return cannot tell from luck of the
  start state.

The same score feeds the teacher (which samples labels) and the loss (which fits a reward so that
the scores it implies explain the labels). Functions: :func:`preference_probability`,
:func:`partial_return_probability`, :func:`segment_regret`, :func:`regret_probability`,
:func:`bradley_terry_loss`, :func:`reward_network`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "PREFERENCE_MODELS",
    "preference_probability",
    "partial_return_probability",
    "segment_regret",
    "regret_probability",
    "bradley_terry_loss",
    "reward_network",
]

#: The preference models a teacher or a loss can use.
PREFERENCE_MODELS = ("partial_return", "regret")


def preference_probability(score_a: Any, score_b: Any, temperature: float = 1.0) -> np.ndarray:
    """Bradley-Terry: ``P(a > b) = logistic((score_a - score_b) / temperature)``, element-wise.

    Example:
        >>> float(preference_probability(1.0, 0.0))          # 1 / (1 + e^-1)
        0.7310585786300049
    """
    d = (np.asarray(score_a, dtype=np.float64) - np.asarray(score_b, dtype=np.float64)) / temperature
    return 0.5 * (1.0 + np.tanh(0.5 * d))  # = 1 / (1 + exp(-d)), without overflow for large |d|


def partial_return_probability(rewards_a: Any, rewards_b: Any, temperature: float = 1.0) -> np.ndarray:
    """``P(a > b)`` under the partial-return model: rewards ``(..., L)``, summed over the last axis.

    Example:
        >>> float(partial_return_probability([1.0, 0.5], [0.0, 0.5]))   # logistic(1.5 - 0.5)
        0.7310585786300049
    """
    return preference_probability(np.sum(rewards_a, axis=-1), np.sum(rewards_b, axis=-1), temperature)


def segment_regret(advantages: Any) -> np.ndarray:
    """Regret of segments from their steps' optimal advantages ``A*(s_t, a_t)`` ``(..., L)``: ``-sum_t A*``.

    Example:
        >>> float(segment_regret([0.0, -0.5, -1.0]))
        1.5
    """
    return -np.sum(np.asarray(advantages, dtype=np.float64), axis=-1)


def regret_probability(advantages_a: Any, advantages_b: Any, temperature: float = 1.0) -> np.ndarray:
    """``P(a > b)`` under the regret model: ``logistic(regret(b) - regret(a))``.

    Example:
        >>> float(regret_probability([0.0, 0.0], [-1.0, 0.0]))          # b lost 1 of value: logistic(1)
        0.7310585786300049
    """
    return preference_probability(-segment_regret(advantages_a), -segment_regret(advantages_b), temperature)


def bradley_terry_loss(score_a: Any, score_b: Any, prefer: Any) -> Any:
    """Mean Bradley-Terry cross-entropy ``-[p log s(d) + (1 - p) log s(-d)]``, ``d = score_a - score_b``.

    ``prefer`` is the label ``P(a > b)``: 1, 0, or 0.5 for "equally good". Torch tensors give a
    differentiable tensor, numpy arrays a float; the log-sigmoid is the stable one of each library.

    Example:
        >>> import torch
        >>> round(float(bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([1.0]))), 6)   # log(1 + e^-1)
        0.313262
        >>> round(float(bradley_terry_loss(np.array([1.0]), np.array([0.0]), np.array([1.0]))), 6)
        0.313262
    """
    d = score_a - score_b
    if hasattr(d, "detach"):
        import torch.nn.functional as F

        log_sigmoid = F.logsigmoid
    else:
        d, prefer = np.asarray(d, dtype=np.float64), np.asarray(prefer, dtype=np.float64)

        def log_sigmoid(x: Any) -> Any:
            return -np.logaddexp(0.0, -x)

    return -(prefer * log_sigmoid(d) + (1.0 - prefer) * log_sigmoid(-d)).mean()


def reward_network(in_dim: int, hidden: int, layers: int = 2) -> Any:
    """The reward model ``r_psi``: an MLP ``in_dim -> hidden x layers -> 1`` with ReLU (torch)."""
    from torch import nn

    sizes = [in_dim] + [hidden] * layers
    mods: list[Any] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    mods.append(nn.Linear(sizes[-1], 1))
    return nn.Sequential(*mods)
