"""Training the learned parts of a term tree from whole rollouts, off the env loop.

Learned terms (E3B with a learned encoder, RND, anything with ``update(rollout)`` and ``version``)
record their own training inputs as they score real steps, so a trainer only has to call
:func:`update_learned_terms` once per rollout: in an SB3 run :class:`BonusTrainingCallback` does it
at every rollout end; rewardlab's batched trainers and any custom loop call it themselves.

Bonuses reach the learner **before** advantages are computed, by construction: the wrappers add
them to the reward of each step as it is collected, so GAE sees the shaped rewards. SB3 computes
advantages before ``on_rollout_end``, so the callback only trains (the next rollout is scored with
the new weights); it never edits rewards or advantages. Never add bonuses to advantages directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rewardlab.shaping.terms import Term

__all__ = ["learned_terms", "update_learned_terms"]


def learned_terms(term: Term) -> list[Term]:
    """The terms of a tree that learn: those with a callable ``update`` and a ``version``."""
    return [t for t in term.walk() if callable(getattr(t, "update", None)) and hasattr(t, "version")]


def update_learned_terms(term: Term, rollout: Mapping[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """Train every learned term in `term`'s tree; the trainer hook to call once per rollout.

    Args:
        term: the reward term tree the envs are shaped with.
        rollout: None (default) to train each term on the transitions it recorded since its last
            update; or a dict of arrays with one leading batch dimension (flatten ``(T, N)`` first):
            ``obs``, ``next_obs``, ``actions`` and optionally ``valid`` (False rows are skipped).

    Returns:
        Training metrics per term name (e.g. ``{"rnd": {"rnd_loss": ..., "samples": ...}}``; a
        repeated name gets a suffix, ``rnd_2``); terms with nothing to train on are left out.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import EnvReward, Transition
        >>> from rewardlab.shaping.bonuses import RND
        >>> term = EnvReward() + 0.1 * RND(embed_dim=8, hidden=16, seed=0)
        >>> t = Transition(None, np.zeros(1, int), np.ones((1, 3)), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> _ = term(t)
        >>> metrics = update_learned_terms(term)
        >>> sorted(metrics), metrics["rnd"]["samples"], learned_terms(term)[0].version
        (['rnd'], 1.0, 1)
    """
    metrics = {}
    for t in learned_terms(term):
        out = t.update(rollout)
        if out:
            name, i = t.name, 1
            while name in metrics:
                i += 1
                name = f"{t.name}_{i}"
            metrics[name] = out
    return metrics
