"""The run function every backend executes: one run spec in, one record out, never an exception.

Functions: :func:`execute_run`, :func:`planned_steps`, :func:`versions`.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import socket
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from rewardlab.ablation.store import COMPLETED, FAILED

__all__ = ["execute_run", "versions", "planned_steps"]


def versions() -> dict[str, str]:
    """Versions of everything that decides a run's numbers."""
    import gymnasium
    import numpy
    import stable_baselines3
    import torch

    import rewardlab

    return {
        "rewardlab": rewardlab.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "gymnasium": gymnasium.__version__,
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
    }


def planned_steps(spec: dict[str, Any]) -> tuple[int, str] | None:
    """The env steps a run will train for, and why that differs from its budget; None when it cannot be told ahead.

    Trainers stop at the first whole collection past the budget; each trainer's registry entry
    says how many steps one collection takes (PPO-style learners ``n_envs x n_steps``, SB3's
    off-policy learners ``n_envs x train_freq``). A ``parallel_env`` run's vector size depends on its agent count, so it is not predicted.

    Example:
        >>> spec = {"total_steps": 4000, "n_envs": 1, "env": {"parallel_env": None}, "algo": {"algo": "PPO", "hyperparams": {"n_steps": 512}}}
        >>> planned_steps(spec)
        (4096, 'whole rollouts of n_envs x n_steps = 1 x 512')
    """
    from rewardlab.baselines.registry import get_trainer

    if spec["env"].get("parallel_env") is not None:
        return None
    n_envs = spec["n_envs"]
    collection = get_trainer(spec["algo"]["algo"]).collection(spec["algo"]["hyperparams"], n_envs)
    if collection is None:
        return None
    chunk, what = collection
    unit = chunk // n_envs
    chunk = n_envs * unit
    return -(-spec["total_steps"] // chunk) * chunk, f"whole {what} = {n_envs} x {unit}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def execute_run(spec: dict[str, Any], progress: Callable[[int], None] | None = None,
                tensorboard_dir: str | None = None, checkpoint_dir: str | None = None) -> dict[str, Any]:
    """Train one run of the grid and return its record; a crash becomes a ``failed`` record with the traceback.

    ``tensorboard_dir`` and ``checkpoint_dir`` are this run's own folders (the runner makes them
    from the sweep's, see :func:`rewardlab.ablation.runner.run_sweep`); they are not part of the run's spec.
    """
    import torch

    from rewardlab.baselines.registry import TrainRequest, get_trainer

    # One torch thread per run process: on a busy CPU more threads made SB3 11x slower (specs/performance.md).
    torch.set_num_threads(1)
    record: dict[str, Any] = {
        "key": spec["key"],
        "spec": spec,
        "seed": spec["seed"],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": _now(),
        "budget": spec["total_steps"],
    }
    start = time.perf_counter()
    try:
        record["versions"] = versions()
        # The trainer gets its own copy: a trainer, or the library under it, may write into what it is given
        # (SB3 adds `use_sde` to `policy_kwargs`), and the record must keep the spec its key hashes.
        run = copy.deepcopy(spec)
        request = TrainRequest(
            env=run["env"],
            reward=run["reward"],
            total_steps=run["total_steps"],
            seed=run["seed"],
            n_envs=run["n_envs"],
            hyperparams=run["algo"]["hyperparams"],
            normalize_obs=run["algo"]["normalize_obs"],
            eval_every=run["evaluation"]["every"],
            eval_episodes=run["evaluation"]["episodes"],
            eval_deterministic=run["evaluation"].get("deterministic", True),
            progress=progress,
            tensorboard_dir=tensorboard_dir,
            checkpoint_dir=checkpoint_dir,
        )
        result = get_trainer(run["algo"]["algo"]).train(request)
        final = result.curve[-1]
        record.update(
            status=COMPLETED,
            steps=result.steps,  # whole rollouts: may exceed the budget (see planned_steps)
            learn_time_s=result.wall_time_s,  # the training loop, its evaluations included
            eval_time_s=result.eval_time_s,
            train_time_s=result.wall_time_s - result.eval_time_s,
            train_steps_per_s=result.train_steps_per_s,  # what the report shows
            steps_per_s=result.steps_per_s,  # evaluations included
            curve=result.curve,
            final={"task_return": final["task_return"], "success": final["success"]},
            episodes=result.episodes,
            term_totals=result.term_totals,
            term_abs_totals=result.term_abs_totals,
            learner_log=result.learner_log,
        )
        if getattr(result, "resumed_at", 0):  # a resumable trainer's result says where it resumed (0: from the start)
            record["resumed_at_rollout"] = int(result.resumed_at)
    except Exception as e:  # noqa: BLE001 - a crashing run is recorded, and the sweep goes on
        record.update(status=FAILED, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(), steps=0, steps_per_s=math.nan, train_steps_per_s=math.nan)
    record["wall_time_s"] = time.perf_counter() - start
    record["finished_at"] = _now()
    return record
