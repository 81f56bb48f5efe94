"""How reward terms attach to environments: thin fronts over one composer.

* :class:`RewardShaping` — a single Gymnasium env;
* :class:`VectorRewardShaping` — a Gymnasium VectorEnv (all autoreset modes);
* :class:`SB3RewardShaping` — a Stable-Baselines3 VecEnv (needs the ``train`` extra);
* :class:`ParallelRewardShaping` — a PettingZoo ParallelEnv, with per-agent terms.
"""

from __future__ import annotations

from typing import Any

from rewardlab.wrappers.parallel import ParallelRewardShaping
from rewardlab.wrappers.shaping import RewardShaping
from rewardlab.wrappers.vector import VectorRewardShaping

__all__ = ["RewardShaping", "VectorRewardShaping", "SB3RewardShaping", "ParallelRewardShaping"]


def __getattr__(name: str) -> Any:
    # SB3 is an optional extra; load its front only when asked for.
    if name == "SB3RewardShaping":
        from rewardlab.wrappers.sb3 import SB3RewardShaping

        return SB3RewardShaping
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
