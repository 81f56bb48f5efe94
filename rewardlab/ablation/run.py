"""The run function every backend executes: one run spec in, one record out, never an exception.

Function: :func:`execute_run`.
"""

from __future__ import annotations

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

__all__ = ["execute_run", "versions"]


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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def execute_run(spec: dict[str, Any], progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train one run of the grid and return its record; a crash becomes a ``failed`` record with the traceback."""
    import torch

    # One torch thread per run process: on a busy CPU more threads made SB3 11x slower (specs/performance.md).
    torch.set_num_threads(1)
    record: dict[str, Any] = {
        "key": spec["key"],
        "spec": spec,
        "seed": spec["seed"],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": _now(),
    }
    start = time.perf_counter()
    try:
        from rewardlab.baselines.ppo import ALGO_NAME as TORCH_PPO

        record["versions"] = versions()
        env = spec["env"]
        common = dict(
            reward=spec["reward"],
            total_steps=spec["total_steps"],
            seed=spec["seed"],
            hyperparams=spec["algo"]["hyperparams"],
            eval_every=spec["evaluation"]["every"],
            eval_episodes=spec["evaluation"]["episodes"],
            eval_deterministic=spec["evaluation"].get("deterministic", True),
            normalize_obs=spec["algo"]["normalize_obs"],
            progress=progress,
        )
        if env["parallel_env"] is not None:
            from rewardlab.baselines.multiagent import train_parallel
            from rewardlab.shaping.terms import ref_to_callable

            make = ref_to_callable(env["parallel_env"], "parallel_env")
            result = train_parallel(lambda: make(**env["kwargs"]), algo=spec["algo"]["algo"], n_copies=spec["n_envs"], **common)
        elif spec["algo"]["algo"] == TORCH_PPO:
            from rewardlab.baselines.ppo import train_env

            del common["normalize_obs"]  # config validation rejects it for TorchPPO
            result = train_env(
                env["id"], n_envs=spec["n_envs"], env_kwargs=env["kwargs"], wrappers=env["wrappers"],
                max_episode_steps=env["max_episode_steps"], **common,
            )  # fmt: skip
        else:
            from rewardlab.baselines.sb3 import train

            result = train(
                spec["algo"]["algo"], env["id"], n_envs=spec["n_envs"], env_kwargs=env["kwargs"],
                wrappers=env["wrappers"], max_episode_steps=env["max_episode_steps"], **common,
            )  # fmt: skip
        final = result.curve[-1]
        record.update(
            status=COMPLETED,
            steps=result.steps,
            train_wall_time_s=result.wall_time_s,
            steps_per_s=result.steps_per_s,
            curve=result.curve,
            final={"task_return": final["task_return"], "success": final["success"]},
            episodes=result.episodes,
            term_totals=result.term_totals,
            term_abs_totals=result.term_abs_totals,
        )
    except Exception as e:  # noqa: BLE001 - a crashing run is recorded, and the sweep goes on
        record.update(status=FAILED, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(), steps=0, steps_per_s=math.nan)
    record["wall_time_s"] = time.perf_counter() - start
    record["finished_at"] = _now()
    return record
