"""The one place where a term tree meets an environment step; every wrapper front calls it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rewardlab._array import namespace
from rewardlab.errors import NonFiniteError
from rewardlab.shaping.terms import Term, Transition, from_config

__all__ = ["RewardComposer", "term_and_config"]


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

    def __call__(self, t: Transition) -> tuple[Any, dict[str, Any]]:
        parts = self.term.components(t)
        values = iter(parts.values())
        total = next(values)
        for value in values:
            total = total + value
        # One check covers both: a NaN or inf in the env reward or in any part makes this sum non-finite.
        if not bool(namespace(total).isfinite(total + t.reward).all()):
            xp = namespace(total)
            if not bool(xp.isfinite(t.reward).all()):
                raise NonFiniteError(f"The environment returned a non-finite reward {t.reward}; rewardlab refuses to shape it")
            bad = {k: v for k, v in parts.items() if not bool(xp.isfinite(v).all())}
            raise NonFiniteError(f"Reward terms returned non-finite values: {bad}")
        return total, parts
