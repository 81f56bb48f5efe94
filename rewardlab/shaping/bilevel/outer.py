"""The trainer hook of learned blends: one outer step per rollout (CONTRACTS §4).

A trainer calls :func:`outer_step` once per rollout, after collection and after
``update_learned_terms``, before its policy update, so that the rollout is on-policy for the current
``theta``. It hands over a :class:`PolicyBatch`: a closure recomputing the rollout's log-probabilities
with a graph, the parameters they depend on, and the rollout's episode boundaries. Each term of the
tree with a callable ``outer_step`` (a :class:`~rewardlab.shaping.bilevel.Blend`) takes its step;
the metrics come back flat as ``blend/<term>/<metric>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.shaping.terms import Term

__all__ = ["PolicyBatch", "outer_terms", "outer_step"]


@dataclass
class PolicyBatch:
    """What an outer step needs from the trainer about one rollout of ``T`` steps of ``N`` sub-envs."""

    #: ``log pi_theta(a_t|s_t)`` of the rollout's rows, shape ``(T*N,)``, t-major (row ``t*N + i``),
    #: recomputed with a graph at each call.
    log_prob: Callable[[], Any]
    #: The parameters ``log_prob`` depends on (the actor).
    parameters: Sequence[Any]
    terminated: np.ndarray  # (T, N) bool
    truncated: np.ndarray  # (T, N) bool
    valid: np.ndarray  # (T, N) bool; False for NEXT_STEP reset steps
    step: int  # global env step, for the log


def outer_terms(term: Term) -> list[Term]:
    """The terms of a tree with a callable ``outer_step`` (learned blends).

    Example:
        >>> from rewardlab.shaping import Constant, EnvReward
        >>> from rewardlab.shaping.bilevel import Blend
        >>> [t.name for t in outer_terms(EnvReward() + Blend(EnvReward(), aux={"c": Constant(1.0)}))]
        ['blend']
        >>> outer_terms(EnvReward())
        []
    """
    return [t for t in term.walk() if callable(getattr(t, "outer_step", None))]


def outer_step(term: Term, batch: PolicyBatch) -> dict[str, float]:
    """Run each outer term's step on `batch`; flat metrics ``blend/<term>/<metric>``, ``{}`` without outer terms.

    A repeated term name gets a suffix (``blend_2``), as in ``update_learned_terms``.
    """
    out: dict[str, float] = {}
    seen: set[str] = set()
    for t in outer_terms(term):
        name, i = t.name, 1
        while name in seen:
            i += 1
            name = f"{t.name}_{i}"
        seen.add(name)
        for key, value in t.outer_step(batch).items():
            out[f"blend/{name}/{key}"] = float(value)
    return out
