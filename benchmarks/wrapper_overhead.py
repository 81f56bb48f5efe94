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
from rewardlab.wrappers import RewardShaping


def halfcheetah_velocity(obs: np.ndarray) -> np.ndarray:
    """Forward velocity of HalfCheetah's torso (observation index 8)."""
    return obs[:, 8]


CASES = {
    "CartPole-v1": (cartpole_upright, 0.90),
    "HalfCheetah-v5": (halfcheetah_velocity, 0.95),
}


def steps_per_second(env: gym.Env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


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
        steps_per_second(raw, actions[:500]), steps_per_second(shaped, actions[:500])  # warm-up
        raw_sps, shaped_sps, ratios = [], [], []
        for _ in range(args.rounds):
            r, s = steps_per_second(raw, actions), steps_per_second(shaped, actions)
            raw_sps.append(r)
            shaped_sps.append(s)
            ratios.append(s / r)
        print(
            f"{env_id:<16} raw {statistics.median(raw_sps):>9,.0f} steps/s   shaped {statistics.median(shaped_sps):>9,.0f} steps/s   "
            f"ratio (median of {args.rounds} paired rounds) {statistics.median(ratios):.3f}   target >= {target:.2f}"
        )


if __name__ == "__main__":
    main()
