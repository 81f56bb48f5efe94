"""Throughput of gridhack: single-env steps/s and batched env-steps/s (B = 256), on one core.

Random actions; episodes that end are reset (single env: ``reset()``; batched: NEXT_STEP autoreset),
so resets are included in the figures. Each configuration runs in ``--rounds`` interleaved rounds
and the median is printed, by wall clock and by the thread's CPU time (the CPU figure is the
steadier one on a shared machine: it leaves out time the process waited for a core). The load
average is printed before and after. Targets (issue): single >= 20,000 steps/s, batched B=256
>= 400,000 env-steps/s; a row below its target is marked. Real MiniHack (the ``nethack`` extra)
is measured beside it when installed.

    python benchmarks/gridhack_throughput.py [--rounds 5] [--steps 4000] [--tasks all|...]
        [--configs single batched ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rewardlab  # noqa: E402,F401
from rewardlab.envs.gridhack import TASKS, env_id  # noqa: E402
from rewardlab.envs.minihack import NATIVE_TWIN, make_minihack  # noqa: E402

REAL_TWIN = {twin: real for real, twin in NATIVE_TWIN.items()}  # native id -> real MiniHack/NLE id

LEAN = ("glyphs_crop", "blstats", "message")
CONFIGS = ("single", "single-ctx", "unwrapped-ctx", "single-ctx-lean", "batched", "batched-ctx", "batched-ctx-lean")
TARGETS = {"single": 20_000, "batched": 400_000}  # the targets, on the default configurations



def single_sps(env: gym.Env, steps: int, seed: int) -> tuple[float, float]:
    """(steps/s by wall clock, steps/s by thread CPU time)."""
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, steps)
    env.reset(seed=seed)
    t0, c0 = time.perf_counter(), time.thread_time()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0), steps / (time.thread_time() - c0)


def batched_sps(envs: gym.vector.VectorEnv, steps: int, seed: int) -> tuple[float, float]:
    n = max(steps // envs.num_envs, 20)
    actions = np.random.default_rng(seed).integers(0, envs.single_action_space.n, (n, envs.num_envs))
    envs.reset(seed=seed)
    t0, c0 = time.perf_counter(), time.thread_time()
    for a in actions:
        envs.step(a)
    return n * envs.num_envs / (time.perf_counter() - t0), n * envs.num_envs / (time.thread_time() - c0)


def reset_ms(env: gym.Env, n: int = 200) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        env.reset(seed=i)
    return 1000 * (time.perf_counter() - t0) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=4000, help="steps per single-env round (batched: x64)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--tasks", nargs="+", default=["KeyRoom-S10", "Corridors-R5", "Freeze-Horn", "MultiRoom-N6-Lava"],
                   help="task names, or 'all'")
    p.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS),
                   help="which rows to measure (single and batched are the issue's targets)")
    args = p.parse_args()
    if args.tasks == ["all"]:
        args.tasks = list(TASKS)
    # torch is not imported: the numpy backend does not use it, and its import changes how glibc's malloc
    # recycles the large observation arrays (a process with and one without it can differ by 2x on
    # reset-heavy tasks; see the README's gridhack section)
    try:
        import minihack  # noqa: F401

        have_minihack = True
    except ImportError:
        have_minihack = False

    print(f"gridhack throughput, median of {args.rounds} interleaved rounds, random actions, resets included; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("(wall: steps/s by wall clock; cpu: by the thread's CPU time; ! marks a row below the issue's target)")
    for task in args.tasks:
        eid = env_id(task)
        vec = dict(num_envs=args.batch, vectorization_mode="vector_entry_point")
        lean = "+".join(LEAN)
        configs = {
            "single": ("single gym.make", lambda s: single_sps(gym.make(eid), args.steps, s)),
            "single-ctx": ("single gym.make, 10 contexts", lambda s: single_sps(gym.make(eid, num_contexts=10), args.steps, s)),
            "unwrapped-ctx": ("single unwrapped, 10 contexts", lambda s: single_sps(
                gym.make(eid, num_contexts=10).unwrapped, args.steps, s)),
            "single-ctx-lean": (f"single gym.make, 10 contexts, keys {lean}", lambda s: single_sps(
                gym.make(eid, num_contexts=10, observation_keys=LEAN), args.steps, s)),
            "batched": (f"batched B={args.batch}", lambda s: batched_sps(gym.make_vec(eid, **vec), args.steps * 64, s)),
            "batched-ctx": (f"batched B={args.batch}, 10 contexts", lambda s: batched_sps(
                gym.make_vec(eid, num_contexts=10, **vec), args.steps * 64, s)),
            "batched-ctx-lean": (f"batched B={args.batch}, 10 contexts, keys {lean}", lambda s: batched_sps(
                gym.make_vec(eid, num_contexts=10, observation_keys=LEAN, **vec), args.steps * 64, s)),
        }
        configs = {k: configs[k] for k in args.configs}
        if have_minihack:
            real = REAL_TWIN[eid]
            try:  # as stock as the adapter allows: no level seeding, no observation copies
                make_minihack(real, seed_levels=False, copy_obs=False).close()
                configs["minihack"] = (f"real MiniHack {real}", lambda s: single_sps(
                    make_minihack(real, seed_levels=False, copy_obs=False), args.steps // 4, s))
            except Exception as e:  # the ids that crash with minigrid 3.x
                print(f"real MiniHack {real}: cannot be made ({type(e).__name__}: {str(e)[:100]})")
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in configs}
        for r in range(args.rounds):
            for key, (_, fn) in configs.items():
                results[key].append(fn(r))
        print(f"\n{task}  (fresh-level reset: {reset_ms(gym.make(eid)):.3f} ms)")
        for key, vals in results.items():
            wall, cpu = (statistics.median(v[i] for v in vals) for i in (0, 1))
            mark = "!" if key in TARGETS and cpu < TARGETS[key] else " "
            print(f"  {configs[key][0]:58s} wall {wall:>11,.0f}  cpu {cpu:>11,.0f} {mark} steps/s"
                  f"  ({1e6 / cpu:7.2f} us/step cpu)")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if not have_minihack:
        print("\nreal MiniHack: not installed; `make bench-minihack` runs this beside it in .venv-nethack")


if __name__ == "__main__":
    main()
