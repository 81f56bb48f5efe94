"""The record every trainer returns to the ablation runner: what it stores for one run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunResult"]


@dataclass(kw_only=True)
class RunResult:
    """Evaluations, training episodes and term totals of one training run.

    Trainers subclass it with their model (:class:`~rewardlab.baselines.sb3.TrainResult`,
    :class:`~rewardlab.baselines.ppo.PPOResult`); :func:`rewardlab.ablation.run.execute_run` reads
    only these fields.
    """

    #: Evaluations on the task reward: ``{"step", "task_return", "success"}`` rows.
    curve: list[dict[str, float]]
    #: Training episodes: ``{"step", "task_return", "success", "length", "terms"}``.
    episodes: list[dict[str, Any]]
    #: Each reward term summed (and summed in absolute value) over all training steps.
    term_totals: dict[str, float] = field(default_factory=dict)
    term_abs_totals: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    #: Seconds from the start of training to its end, evaluations included.
    wall_time_s: float = 0.0
    #: Seconds of those spent evaluating (not training).
    eval_time_s: float = 0.0
    #: One row per rollout/collection: ``"step"`` and the learned terms' metrics
    #: (``"bonus/<term>/<metric>"``) and outer steps' (``"blend/<term>/<metric>"``).
    learner_log: list[dict[str, float]] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_time_s if self.wall_time_s > 0 else math.nan

    @property
    def train_steps_per_s(self) -> float:
        """Env steps per second of training alone (evaluation time taken out)."""
        train = self.wall_time_s - self.eval_time_s
        return self.steps / train if train > 0 else math.nan
