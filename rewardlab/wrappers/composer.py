"""The one place where a term tree meets an environment step; every wrapper front calls it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardlab._array import batch_obs, namespace
from rewardlab.errors import NonFiniteError
from rewardlab.shaping.terms import SingleTransition, Term, Transition, from_config

__all__ = ["RewardComposer", "term_and_config"]

_ONE_TRUE = np.ones(1, dtype=bool)


def term_and_config(term: Term | Mapping[str, Any] | str) -> tuple[Term, Any]:
    """The term to use and what a wrapper records for its spec: the config when it can be written, else the term."""
    term = from_config(term)
    try:
        return term, term.to_config()
    except Exception:  # a lambda potential cannot be written to a config; the spec then holds the term itself
        return term, term


class RewardComposer:
    """Binds a term tree to an env id and turns a batched transition into (reward, named parts).

    Invariant: the parts sum to the reward. A non-finite env reward or shaped reward raises
    :class:`~rewardlab.errors.NonFiniteError` instead of reaching the learner.
    """

    def __init__(self, term: Term, env_id: str | None):
        self.term = term
        term.bind(env_id)

    def reset(self, mask: Any, obs: Any) -> None:
        self.term.reset(mask, obs)

    def reset_single(self, obs: Any) -> None:
        """Reset for a single env's first observation (unbatched): terms reset in their batched form, N = 1."""
        self.term.reset(_ONE_TRUE, batch_obs(obs))

    def __call__(self, t: Transition) -> tuple[Any, dict[str, Any]]:
        parts = self.term.components(t)
        values = iter(parts.values())
        total = next(values)
        for value in values:
            total = total + value
        # One check covers both: a NaN or inf in the env reward or in any part makes this sum non-finite.
        # numpy directly (the common case, every step); the array-API namespace for torch.
        finite = np.isfinite(total + t.reward) if isinstance(total, np.ndarray) else namespace(total).isfinite(total + t.reward)
        if not bool(finite.all()):
            xp = namespace(total)
            _raise_non_finite(t.reward, parts, lambda v: bool(xp.isfinite(v).all()))
        return total, parts

    def single(self, s: SingleTransition) -> tuple[float, dict[str, float]]:
        """The same for one unbatched step, in floats (the single-env fronts)."""
        parts = self.term.single_components(s)
        total = sum(parts.values())
        if not math.isfinite(total + s.reward):
            _raise_non_finite(s.reward, parts, math.isfinite)
        return total, parts


def _raise_non_finite(reward: Any, parts: dict[str, Any], finite: Any) -> None:
    if not finite(reward):
        raise NonFiniteError(f"The environment returned a non-finite reward {reward}; rewardlab refuses to shape it")
    bad = {k: v for k, v in parts.items() if not finite(v)}
    raise NonFiniteError(f"Reward terms returned non-finite values: {bad}")
