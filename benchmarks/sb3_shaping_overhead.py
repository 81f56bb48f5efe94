"""What shaping costs where users train: SB3 PPO steps/s with and without one PBRS term (spec G3).

PPO (CleanRL-like settings: 8 envs, n_steps 128, batch 256, 4 epochs) on CartPole-v1 and
HalfCheetah-v5, trained from the same seed with the env's own reward and with
``EnvReward() + PBRS(...)`` through :class:`SB3RewardShaping`, in interleaved rounds; prints the
median steps/s of each and their ratio (target >= 0.97).

    python benchmarks/sb3_shaping_overhead.py [--rounds 3] [--steps 8192]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

import rewardlab  # noqa: F401
from rewardlab.shaping import PBRS, EnvReward
from rewardlab.envs.control.physics import cartpole_upright
from rewardlab.wrappers import SB3RewardShaping

CASES = {"CartPole-v1": cartpole_upright, "HalfCheetah-v5": lambda obs: obs[:, 8]}


def train_steps_per_second(env_id: str, shaped: bool, steps: int) -> float:
    venv = DummyVecEnv([lambda: gym.make(env_id) for _ in range(8)])
    if shaped:
        venv = SB3RewardShaping(venv, EnvReward() + PBRS(CASES[env_id], gamma=0.99))
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, n_epochs=4, gamma=0.99, seed=0, device="cpu")
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8192)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for env_id in CASES:
        raw, shaped, ratios = [], [], []
        for _ in range(args.rounds):  # interleaved, so both see the same machine load
            r, s = train_steps_per_second(env_id, False, args.steps), train_steps_per_second(env_id, True, args.steps)
            raw.append(r)
            shaped.append(s)
            ratios.append(s / r)
        print(
            f"{env_id:<16} PPO raw {statistics.median(raw):>7,.0f} steps/s   shaped {statistics.median(shaped):>7,.0f} steps/s   "
            f"ratio (median of {args.rounds} paired rounds) {statistics.median(ratios):.3f}   target >= 0.97"
        )


if __name__ == "__main__":
    main()
