"""The run function every backend executes: one run spec in, one record out, never an exception.

Functions: :func:`execute_run`, :func:`planned_steps`, :func:`versions`.
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

    Trainers stop at the first whole collection past the budget: PPO-style learners collect
    rollouts of ``n_envs x n_steps`` steps, SB3's off-policy learners ``n_envs x train_freq``
    steps. A ``parallel_env`` run's vector size depends on its agent count, so it is not predicted.

    Example:
        >>> spec = {"total_steps": 4000, "n_envs": 1, "env": {"parallel_env": None}, "algo": {"algo": "PPO", "hyperparams": {"n_steps": 512}}}
        >>> planned_steps(spec)
        (4096, 'whole rollouts of n_envs x n_steps = 1 x 512')
    """
    import inspect

    from rewardlab.baselines.ppo import ALGO_NAME as TORCH_PPO
    from rewardlab.baselines.ppo import PPOArgs

    if spec["env"].get("parallel_env") is not None:
        return None
    algo, hyper, n_envs = spec["algo"]["algo"], spec["algo"]["hyperparams"], spec["n_envs"]
    if algo == TORCH_PPO:
        unit, what = int(hyper.get("n_steps", PPOArgs.n_steps)), "rollouts of n_envs x n_steps"
    else:
        from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
        from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

        from rewardlab.baselines.sb3 import algorithm_class

        cls = algorithm_class(algo)
        params = inspect.signature(cls.__init__).parameters
        if issubclass(cls, OnPolicyAlgorithm):
            unit, what = int(hyper.get("n_steps", params["n_steps"].default)), "rollouts of n_envs x n_steps"
        elif issubclass(cls, OffPolicyAlgorithm):
            freq = hyper.get("train_freq", params["train_freq"].default)
            if isinstance(freq, (list, tuple)):
                if len(freq) != 2 or freq[1] != "step":  # episode-based collection: its length is not known ahead
                    return None
                freq = freq[0]
            unit, what = int(freq), "collections of n_envs x train_freq"
        else:
            return None
    chunk = n_envs * unit
    return -(-spec["total_steps"] // chunk) * chunk, f"whole {what} = {n_envs} x {unit}"


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
        "budget": spec["total_steps"],
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
        )
    except Exception as e:  # noqa: BLE001 - a crashing run is recorded, and the sweep goes on
        record.update(status=FAILED, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(), steps=0, steps_per_s=math.nan, train_steps_per_s=math.nan)
    record["wall_time_s"] = time.perf_counter() - start
    record["finished_at"] = _now()
    return record
