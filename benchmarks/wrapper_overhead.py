"""Overhead of the single-env shaping wrapper: shaped / raw steps per second, one PBRS term.

Raw and shaped envs are stepped in interleaved rounds with the same pre-sampled actions; the
script prints the median steps/s of each and their ratio (targets: CartPole >= 0.90,
HalfCheetah >= 0.95, from specs/performance.md G1/G2).

    python benchmarks/wrapper_overhead.py [--rounds 7] [--steps 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

import rewardlab  # noqa: F401
from rewardlab.shaping import PBRS
from rewardlab.shaping.potentials import cartpole_upright
from rewardlab.wrappers import RewardShaping, VectorRewardShaping


def halfcheetah_velocity(obs: np.ndarray) -> np.ndarray:
    """Forward velocity of HalfCheetah's torso (observation index 8)."""
    return obs[:, 8]


CASES = {
    "CartPole-v1": (cartpole_upright, 0.90),
    "HalfCheetah-v5": (halfcheetah_velocity, 0.95),
}


def steps_per_second(env: gym.Env, actions: list) -> float:
    env.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def vector_steps_per_second(envs: gym.vector.VectorEnv, actions: list) -> float:
    envs.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        envs.step(action)  # NEXT_STEP autoreset: no manual resets
    return len(actions) * envs.num_envs / (time.perf_counter() - start)


def compare(label: str, raw, shaped, actions: list, rounds: int, run, target: str) -> None:
    run(raw, actions[:200]), run(shaped, actions[:200])  # warm-up
    raw_sps, shaped_sps, ratios = [], [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        r, s = run(raw, actions), run(shaped, actions)
        raw_sps.append(r)
        shaped_sps.append(s)
        ratios.append(s / r)
    print(
        f"{label:<24} raw {statistics.median(raw_sps):>9,.0f} steps/s   shaped {statistics.median(shaped_sps):>9,.0f} steps/s   "
        f"ratio (median of {rounds} paired rounds) {statistics.median(ratios):.3f}   {target}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    for env_id, (potential, target) in CASES.items():
        raw = gym.make(env_id)
        shaped = RewardShaping(gym.make(env_id), PBRS(potential, gamma=0.99))
        raw.action_space.seed(0)
        actions = [raw.action_space.sample() for _ in range(args.steps)]
        compare(env_id, raw, shaped, actions, args.rounds, steps_per_second, f"target >= {target:.2f}")
    # The same term on a vector env: the per-step Python cost is shared by the sub-envs.
    num_envs = 16
    raw = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync")
    shaped = VectorRewardShaping(gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync"), PBRS(cartpole_upright, gamma=0.99))
    raw.action_space.seed(0)
    actions = [raw.action_space.sample() for _ in range(args.steps // num_envs)]
    compare(f"CartPole-v1 sync x{num_envs}", raw, shaped, actions, args.rounds, vector_steps_per_second, "(no target; for comparison)")


if __name__ == "__main__":
    main()
