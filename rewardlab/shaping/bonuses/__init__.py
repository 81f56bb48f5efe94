"""Exploration bonuses: global and episodic counts, E3B, RND and NovelD, batched over sub-envs.

Compose them with the term algebra, e.g. the combined count bonus
``GlobalCount("pos") * EpisodicCount("pos", indicator=True)`` or E3B x RND,
``E3B({"num_actions": 8}) * RND(score="obs")``. Learned terms (E3B's encoder, RND) train from
whole rollouts with :func:`update_learned_terms` or, under Stable-Baselines3,
:class:`BonusTrainingCallback` (imported lazily; needs the ``train`` extra).
"""

from __future__ import annotations

from typing import Any

from rewardlab.shaping.bonuses.counts import EpisodicCount, GlobalCount
from rewardlab.shaping.bonuses.e3b import E3B
from rewardlab.shaping.bonuses.features import FEATURES, flatten, hash_rows, resolve_feature
from rewardlab.shaping.bonuses.rnd import RND, NovelD
from rewardlab.shaping.bonuses.training import learned_terms, update_learned_terms

__all__ = [
    "GlobalCount",
    "EpisodicCount",
    "E3B",
    "RND",
    "NovelD",
    "update_learned_terms",
    "learned_terms",
    "BonusTrainingCallback",
    "InverseDynamicsEncoder",
    "RNDModel",
    "FEATURES",
    "resolve_feature",
    "flatten",
    "hash_rows",
]


def __getattr__(name: str) -> Any:
    # torch and SB3 load only when these are asked for (the `train` extra).
    if name == "BonusTrainingCallback":
        from rewardlab.shaping.bonuses.sb3_callback import BonusTrainingCallback

        return BonusTrainingCallback
    if name in ("InverseDynamicsEncoder", "RNDModel"):
        from rewardlab.shaping.bonuses import networks

        return getattr(networks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
