"""Short training runs of reward candidates, through the ablation runner (same run function, same store).

Functions: :func:`candidate_reward`, :func:`reward_name`, :func:`default_algorithm`. Class:
:class:`AblationTrainer`.

Each surviving candidate becomes one reward spec of a validated ablation config (one env, one
algorithm, one seed, a small budget) and runs with :func:`~rewardlab.ablation.run_sweep` on the
local process pool: one spawned process per run (a candidate that crashes or hangs its trainer
takes only its own run down), one atomically written record per run in ``DIR/runs/``, and a
resumed search skips every run whose record is there.

The reward a candidate trains with is, by default, ``EnvReward + LLMReward(code)``
(``combine="add"``): rewardlab's sparse envs pay only the task's own success, so keeping it means
every candidate is "the sparse task reward plus the LLM's shaping", a candidate whose shaping is
useless degrades to the sparse baseline instead of to nothing, and the comparison with the sparse
reward is like for like; it costs nothing. ``combine="replace"`` trains on the LLM reward alone,
as Eureka does (its envs' own rewards are dense and hand-designed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from rewardlab.errors import ConfigError

__all__ = ["candidate_reward", "reward_name", "default_algorithm", "AblationTrainer", "COMBINE", "ALGOS", "LLM_TERM"]

COMBINE = ("add", "replace")
#: The LLM term's name in a candidate's reward (its components log as ``llm_<component>``).
LLM_TERM = "llm"
ALGOS = ("PPO", "TorchPPO")

# The quickstart's small-budget PPO (examples/quickstart.yaml): it solves Sparse-MountainCar with
# PBRS on energy in 30k steps.
_HYPERPARAMS = {"n_steps": 256, "batch_size": 256, "n_epochs": 4, "gamma": 0.99, "gae_lambda": 0.98, "ent_coef": 0.0}


def reward_name(code: str) -> str:
    """The reward spec's name for a candidate: ``llm_`` + 12 hex digits of the code's sha256.

    Named by content, so the same code proposed twice (in two rounds, or twice in one round) is one
    run spec, trained once.

    Example:
        >>> reward_name("def compute_reward(obs, action, next_obs, info):\\n    return 0.0\\n")
        'llm_fa1e3487e2ae'
    """
    return "llm_" + hashlib.sha256(code.encode("utf-8")).hexdigest()[:12]


def candidate_reward(code: str, combine: str = "add") -> dict[str, Any]:
    """The reward config a candidate trains with (see the module docstring for ``combine``).

    Example:
        >>> candidate_reward("def compute_reward(obs, action, next_obs, info):\\n    return 0.0\\n")["terms"][0]
        'EnvReward'
    """
    if combine not in COMBINE:
        raise ConfigError(f"`combine` must be one of {list(COMBINE)}. Received {combine!r}")
    # Named explicitly, so the run record's terms are `llm_<component>` whatever LLMReward's default name is.
    term = {"type": "LLMReward", "code": code, "name": LLM_TERM}
    return {"type": "Sum", "terms": ["EnvReward", term]} if combine == "add" else term


def default_algorithm(algo: str = "PPO", hyperparams: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The algorithm entry of a candidate's config: the quickstart's PPO settings, overridable.

    SB3 ``PPO`` normalises observations (VecNormalize sits outside the shaping, so the reward code
    sees raw observations); ``TorchPPO`` scales bounded observations itself.
    """
    if algo not in ALGOS:
        raise ConfigError(f"`algo` must be one of {list(ALGOS)}. Received {algo!r}")
    hyper = {**_HYPERPARAMS, **dict(hyperparams or {})}
    return {"algo": algo, "hyperparams": hyper, "normalize_obs": algo == "PPO"}


class AblationTrainer:
    """Train candidates with the ablation runner and return their run records.

    Args:
        root: the search folder; records go to ``root/runs/<key>.json`` (a :class:`~rewardlab.ablation.RunStore`).
        env_id: the env every candidate trains on.
        steps: env steps per candidate.
        seed: the training seed (the same for every candidate, so they differ only by their reward).
        algo, hyperparams: see :func:`default_algorithm`.
        n_envs: sub-envs per run.
        eval_every, eval_episodes: the evaluation schedule on the task reward (default: 4 evaluations).
        combine: ``"add"`` or ``"replace"`` (see :func:`candidate_reward`).
        workers: runs at a time (default: the number of cores).
        stream: where the runner's progress lines go (default stderr).
    """

    def __init__(
        self,
        root: str | Path,
        env_id: str,
        steps: int,
        seed: int = 0,
        algo: str = "PPO",
        hyperparams: Mapping[str, Any] | None = None,
        n_envs: int = 8,
        eval_every: int | None = None,
        eval_episodes: int = 5,
        combine: str = "add",
        workers: int | None = None,
        stream: TextIO | None = None,
    ):
        from rewardlab.ablation import RunStore

        self.root, self.env_id, self.steps, self.seed = Path(root), env_id, steps, seed
        self.algorithm = default_algorithm(algo, hyperparams)
        self.n_envs, self.combine, self.workers, self.stream = n_envs, combine, workers, stream
        self.evaluation = {"every": eval_every or max(1, steps // 4), "episodes": eval_episodes}
        candidate_reward("", combine)  # checks `combine` before anything runs
        self.store = RunStore(self.root)
        self._rewards: dict[str, Any] = {}

    def config(self, rewards: Mapping[str, Any]) -> dict[str, Any]:
        """The validated ablation config that trains ``rewards`` (name -> reward config)."""
        from rewardlab.ablation import validate

        return validate({
            "name": "llm_reward_search",
            "envs": [self.env_id],
            "rewards": dict(rewards),
            "algorithms": [self.algorithm],
            "seeds": [self.seed],
            "budget": {"total_steps": self.steps, "n_envs": self.n_envs},
            "evaluation": self.evaluation,
        })  # fmt: skip

    def __call__(self, codes: Sequence[str]) -> list[dict[str, Any]]:
        """Train each code (gated already) and return its run record, in order; duplicates train once."""
        from rewardlab.ablation import expand, run_sweep

        if not codes:
            return []
        # Every code trained so far stays in the grid: its records are then "already in the store"
        # (skipped), not records of another config, which the runner would report as stale.
        self._rewards.update({reward_name(c): candidate_reward(c, self.combine) for c in codes})
        runs = expand(self.config(self._rewards))
        run_sweep(runs, self.store, "local", self.workers, stream=self.stream)
        by_name = {r["reward_name"]: self.store.get(r["key"]) for r in runs}
        return [by_name[reward_name(c)] for c in codes]
