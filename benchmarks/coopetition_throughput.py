"""Throughput of the coopetition envs (spec §6, §8.19): single-env steps/s and batched env-steps/s.

Targets: >= 5,000 steps/s single-env at n = 2, >= 2,000 at n = 40 (the anchor: 2,868 and 11), and
>= 500,000 env-steps/s batched at B = 1024, n = 2. Each figure is the median of 5 interleaved rounds
with random actions and automatic resets, on one CPU thread.

Usage: ``python benchmarks/coopetition_throughput.py [--rounds 5] [--seconds 1.0]``
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import rewardlab  # noqa: F401  (registers the ids)
from rewardlab.envs.coopetition import CoopetitionVectorEnv, parallel_env


def _parallel(name: str, seconds: float) -> float:
    env = parallel_env(name)
    env.reset(seed=0)
    agents = env.possible_agents
    pool = [{a: env.action_space(a).sample() for a in agents} for _ in range(256)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for actions in pool:
            _, _, terms, truncs, _ = env.step(actions)
            if terms[agents[0]] or truncs[agents[0]]:
                env.reset()
        steps += len(pool)
    return steps / (time.perf_counter() - start)


def _gym(name: str, seconds: float) -> float:
    env = gym.make(f"rewardlab/{name}-v0", disable_env_checker=True)
    env.reset(seed=0)
    pool = [env.action_space.sample() for _ in range(256)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in pool:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        steps += len(pool)
    return steps / (time.perf_counter() - start)


def _batched(name: str, backend: str, num_envs: int, seconds: float) -> float:
    envs = CoopetitionVectorEnv(name, num_envs=num_envs, backend=backend)
    envs.reset(seed=0)
    e = envs.params.endowment
    rng = np.random.default_rng(0)
    pool = [rng.uniform(0, 1, (num_envs, e.shape[0])) * e for _ in range(16)]
    if backend == "torch":
        pool = [torch.as_tensor(a) for a in pool]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in pool:
            envs.step(a)  # SAME_STEP autoreset inside
        steps += len(pool) * num_envs
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="duration of one measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = {
        "single Parallel TrustDilemma (n=2)": lambda s: _parallel("TrustDilemma", s),
        "single Gym joint TrustDilemma (n=2)": lambda s: _gym("TrustDilemma", s),
        "single Parallel ApacheProject (n=40)": lambda s: _parallel("ApacheProject", s),
        "single Gym joint ApacheProject (n=40)": lambda s: _gym("ApacheProject", s),
        "batched numpy B=1024 TrustDilemma (n=2)": lambda s: _batched("TrustDilemma", "numpy", 1024, s),
        "batched torch-cpu B=1024 TrustDilemma (n=2)": lambda s: _batched("TrustDilemma", "torch", 1024, s),
        "batched numpy B=1024 ApacheProject (n=40)": lambda s: _batched("ApacheProject", "numpy", 1024, s),
        "batched torch-cpu B=1024 ApacheProject (n=40)": lambda s: _batched("ApacheProject", "torch", 1024, s),
    }
    results: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):  # interleaved rounds, so machine-load drift hits every case alike
        for key, run in cases.items():
            results[key].append(run(args.seconds))
    print(f"coopetition throughput, median of {args.rounds} rounds x {args.seconds:.1f} s, 1 thread")
    for key, values in results.items():
        unit = "env-steps/s" if key.startswith("batched") else "steps/s"
        print(f"  {key:48s} {np.median(values):>14,.0f} {unit}")
    np_sps = np.median(results["batched numpy B=1024 TrustDilemma (n=2)"])
    torch_sps = np.median(results["batched torch-cpu B=1024 TrustDilemma (n=2)"])
    print(f"  torch-cpu / numpy at B=1024, n=2: {torch_sps / np_sps:.2f}x")


if __name__ == "__main__":
    main()
