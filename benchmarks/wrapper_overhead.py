"""Overhead of the single-env shaping wrapper: shaped / raw steps per second, one PBRS term.

Raw and shaped envs are stepped in interleaved rounds with the same pre-sampled actions; the
script prints the median steps/s of each and their ratio (targets: CartPole >= 0.90,
HalfCheetah >= 0.95, from specs/performance.md G1/G2). Steps/s are per second of this process's
CPU time (``time.process_time``), so other jobs on a shared machine do not count against either.
A hand-written PBRS wrapper with the same potential is measured beside them as a reference floor.

``--instructions`` counts instructions per step under valgrind instead (cachegrind, the measure
specs/performance.md used for G1/G2): deterministic, so load on a shared machine cannot move it.
Each variant runs in a child process for n and 2n steps; the difference over n is its cost per step.

    python benchmarks/wrapper_overhead.py [--rounds 7] [--steps 20000] [--instructions]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np

import rewardlab  # noqa: F401
from rewardlab.shaping import PBRS
from rewardlab.envs.control.physics import cartpole_upright
from rewardlab.wrappers import RewardShaping, VectorRewardShaping


def halfcheetah_velocity(obs: np.ndarray) -> np.ndarray:
    """Forward velocity of HalfCheetah's torso (observation index 8)."""
    return obs[:, 8]


CASES = {
    "CartPole-v1": (cartpole_upright, 0.90),
    "HalfCheetah-v5": (halfcheetah_velocity, 0.95),
}


class HandWrittenPBRS(gym.Wrapper):
    """Reference floor, not part of rewardlab: PBRS hard-coded for one potential, with no term tree,
    no info parts and no checks. Any wrapper that calls the same potential pays at least this."""

    def __init__(self, env: gym.Env, potential, gamma: float = 0.99):
        super().__init__(env)
        self.potential, self.gamma, self.last = potential, gamma, 0.0

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.last = float(self.potential(obs[None])[0])
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        phi = 0.0 if terminated else float(self.potential(obs[None])[0])
        shaped, self.last = self.gamma * phi - self.last, phi
        return obs, shaped, terminated, truncated, info


def steps_per_second(env: gym.Env, actions: list) -> float:
    env.reset(seed=0)
    start = time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.process_time() - start)


def vector_steps_per_second(envs: gym.vector.VectorEnv, actions: list) -> float:
    envs.reset(seed=0)
    start = time.process_time()
    for action in actions:
        envs.step(action)  # NEXT_STEP autoreset: no manual resets
    return len(actions) * envs.num_envs / (time.process_time() - start)


def compare(label: str, envs: dict, actions: list, rounds: int, run, target: str) -> None:
    """Interleaved rounds over `envs` (the first is the raw env); prints each env's steps/s and ratio to raw."""
    for env in envs.values():
        run(env, actions[:200])  # warm-up
    sps: dict[str, list[float]] = {name: [] for name in envs}
    for _ in range(rounds):  # interleaved, so all see the same machine load
        for name, env in envs.items():
            sps[name].append(run(env, actions))
    raw = sps.pop(next(iter(envs)))
    for name, values in sps.items():
        ratio = statistics.median(s / r for s, r in zip(values, raw))
        print(
            f"{label:<22} {name:<13} {statistics.median(values):>9,.0f} steps/s   raw {statistics.median(raw):>9,.0f}   "
            f"ratio (median of {rounds} paired rounds) {ratio:.3f}   {target if name == 'rewardlab' else '(reference floor)'}"
        )


VARIANTS = ("raw", "rewardlab", "hand-written")


def single_env(env_id: str, variant: str) -> gym.Env:
    potential = CASES[env_id][0]
    if variant == "rewardlab":
        return RewardShaping(gym.make(env_id), PBRS(potential, gamma=0.99))
    if variant == "hand-written":
        return HandWrittenPBRS(gym.make(env_id), potential)
    return gym.make(env_id)


def actions_for(env: gym.Env, n: int) -> list:
    env.action_space.seed(0)
    return [env.action_space.sample() for _ in range(n)]


def instructions(env_id: str, variant: str, steps: int) -> int:
    """Instructions executed by a child process that builds `variant` and steps it `steps` times."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable, __file__, "--child", env_id, variant, str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    return int(re.search(r"I\s+refs:\s+([\d,]+)", out).group(1).replace(",", ""))


def compare_instructions(env_id: str, steps: int, target: float) -> None:
    per_step = {v: (instructions(env_id, v, 2 * steps) - instructions(env_id, v, steps)) / steps for v in VARIANTS}
    for variant in ("rewardlab", "hand-written"):
        print(
            f"{env_id:<22} {variant:<13} {per_step[variant]:>9,.0f} instructions/step   raw {per_step['raw']:>9,.0f}   "
            f"ratio {per_step['raw'] / per_step[variant]:.3f}   {f'target >= {target:.2f}' if variant == 'rewardlab' else '(reference floor)'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind instead of timing")
    parser.add_argument("--child", nargs=3, metavar=("ENV", "VARIANT", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one variant stepped under valgrind by --instructions
        env_id, variant, steps = args.child
        env = single_env(env_id, variant)
        steps_per_second(env, actions_for(env, int(steps)))
        return
    if args.instructions:
        if shutil.which("valgrind") is None:
            sys.exit("--instructions needs valgrind (apt install valgrind)")
        for env_id, (_, target) in CASES.items():
            compare_instructions(env_id, min(args.steps, 2000), target)
        return
    for env_id, (_, target) in CASES.items():
        envs = {v: single_env(env_id, v) for v in VARIANTS}
        compare(env_id, envs, actions_for(envs["raw"], args.steps), args.rounds, steps_per_second, f"target >= {target:.2f}")
    # The same term on a vector env: the per-step Python cost is shared by the sub-envs.
    num_envs = 16
    envs = {
        "raw": gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync"),
        "rewardlab": VectorRewardShaping(gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync"), PBRS(cartpole_upright, gamma=0.99)),
    }
    actions = actions_for(envs["raw"], args.steps // num_envs)
    compare(f"CartPole-v1 sync x{num_envs}", envs, actions, args.rounds, vector_steps_per_second, "(no target; for comparison)")


if __name__ == "__main__":
    main()
