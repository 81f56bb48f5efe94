"""Training throughput of rewardlab's TorchPPO against SB3 PPO, side by side (specs G4 and G5).

* G4: CartPole-v1, 8 envs, the same hyper-parameters (n_steps 128, batch 256, 4 epochs, lr 3e-4,
  64x64 tanh actor and critic): TorchPPO on a ``SyncVectorEnv`` vs SB3 PPO on a ``DummyVecEnv``.
  Target: ratio >= 1.0.
* G5-like: gridhack Corridors-R5 (one context, ``glyphs_crop`` + ``blstats``) shaped with the
  global count bonus: TorchPPO on the batched core with 256 envs and the bonus study's settings
  vs SB3 PPO (``MultiInputPolicy``) on 16 ``DummyVecEnv`` envs with the SB3 probe's settings.
  The spec's G5 compares 1,024 batched envs to 8; this compares the two configurations the bonus
  study actually ran (target >= 8x).

Rounds interleave A and B so both see the same machine load; each line prints the medians and
the median of the per-round ratios. ``--quality-seeds N`` also trains both on CartPole for
``--quality-steps`` steps with N seeds and prints each one's greedy evaluation return (10
episodes) with a bootstrap 95% CI of the mean, for G4's "eval return inside SB3's CI".

    python benchmarks/ppo_throughput.py [--rounds 5] [--quality-seeds 0]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

import rewardlab  # noqa: F401  (registers the rewardlab/ ids)
from rewardlab.baselines.ppo import PPOArgs, evaluate, make_vec_env, train
from rewardlab.wrappers import SB3RewardShaping

CARTPOLE = dict(n_steps=128, batch_size=256, n_epochs=4, learning_rate=3e-4, gamma=0.99, gae_lambda=0.95)
GRIDHACK_ID = "rewardlab/Gridhack-Corridors-R5-v0"
GRIDHACK_KWARGS = {"num_contexts": 1, "observation_keys": ["glyphs_crop", "blstats"]}
BONUS = {"type": "Sum", "terms": ["EnvReward", {"type": "Scale", "scale": 0.1, "term": {"type": "GlobalCount", "key": "pos"}}]}
# examples/bonus_study.yaml: the TorchPPO study settings, and the SB3 probe's settings before it.
TORCH_STUDY = dict(n_steps=32, batch_size=512, n_epochs=4, learning_rate=5e-4, ent_coef=0.01, trunk=128, hidden=(64,))
SB3_PROBE = dict(n_steps=128, batch_size=512, n_epochs=4, learning_rate=5e-4, ent_coef=0.01, gamma=0.99, gae_lambda=0.95)


def sb3_cartpole(steps: int, seed: int = 0) -> tuple[float, PPO]:
    venv = DummyVecEnv([lambda: gym.make("CartPole-v1") for _ in range(8)])
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", **CARTPOLE)
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start), model


def torch_cartpole(steps: int, seed: int = 0):
    result = train(PPOArgs(anneal_lr=False, **CARTPOLE), make_vec_env("CartPole-v1", 8), steps, seed)
    return result.steps_per_s, result


def sb3_gridhack(steps: int) -> float:
    def thunk() -> gym.Env:
        return gym.make(GRIDHACK_ID, **GRIDHACK_KWARGS)

    venv = SB3RewardShaping(DummyVecEnv([thunk] * 16), BONUS, env_id=GRIDHACK_ID)
    model = PPO("MultiInputPolicy", venv, seed=0, device="cpu", **SB3_PROBE)
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start)


def torch_gridhack(steps: int, n_envs: int) -> float:
    envs = make_vec_env(GRIDHACK_ID, n_envs, BONUS, GRIDHACK_KWARGS)
    return train(PPOArgs(**TORCH_STUDY), envs, steps, 0).steps_per_s


def compare(name: str, a: str, run_a, b: str, run_b, rounds: int, target: str) -> None:
    sa, sb, ratios = [], [], []
    for _ in range(rounds):  # interleaved
        x, y = run_a(), run_b()
        sa.append(x)
        sb.append(y)
        ratios.append(y / x)
    print(f"{name}: {a} {statistics.median(sa):>8,.0f} steps/s   {b} {statistics.median(sb):>8,.0f} steps/s   "
          f"ratio (median of {rounds} paired rounds) {statistics.median(ratios):.2f}   target {target}", flush=True)


def bootstrap_ci(x: list[float], n: int = 10_000) -> tuple[float, float]:
    means = np.random.default_rng(0).choice(x, (n, len(x))).mean(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def quality(seeds: int, steps: int) -> None:
    sb3, ours = [], []
    eval_env = make_vec_env("CartPole-v1", 10)
    for seed in range(seeds):
        _, model = sb3_cartpole(steps, seed)
        returns = []
        for k in range(10):
            env = gym.make("CartPole-v1")
            obs, _ = env.reset(seed=10_000 + k)
            done, total = False, 0.0
            while not done:
                obs, r, te, tr, _ = env.step(model.predict(obs, deterministic=True)[0])
                total, done = total + r, te or tr
            returns.append(total)
        sb3.append(float(np.mean(returns)))
        _, result = torch_cartpole(steps, seed)
        ours.append(evaluate(result.agent, eval_env, 10_000)[0])
    for name, x in (("SB3 PPO", sb3), ("TorchPPO", ours)):
        lo, hi = bootstrap_ci(x)
        print(f"CartPole-v1 {steps:,} steps, {seeds} seeds, greedy return: {name:<8} mean {np.mean(x):6.1f}  95% CI [{lo:.1f}, {hi:.1f}]  per seed {[round(v) for v in x]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cartpole-steps", type=int, default=16_384)
    parser.add_argument("--sb3-gridhack-steps", type=int, default=8_192)
    parser.add_argument("--torch-gridhack-steps", type=int, default=65_536)
    parser.add_argument("--n-envs", type=int, default=256, help="TorchPPO's batched gridhack envs")
    parser.add_argument("--quality-seeds", type=int, default=0)
    parser.add_argument("--quality-steps", type=int, default=50_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.rounds < 1:  # --rounds 0: only the quality check
        return quality(args.quality_seeds, args.quality_steps)
    compare("G4 CartPole-v1, 8 envs", "SB3 PPO", lambda: sb3_cartpole(args.cartpole_steps)[0],
            "TorchPPO", lambda: torch_cartpole(args.cartpole_steps)[0], args.rounds, ">= 1.0")
    compare("G5-like Corridors-R5 + count bonus", "SB3 PPO (16 envs)", lambda: sb3_gridhack(args.sb3_gridhack_steps),
            f"TorchPPO ({args.n_envs} batched envs)", lambda: torch_gridhack(args.torch_gridhack_steps, args.n_envs), args.rounds, ">= 8")
    if args.quality_seeds:
        quality(args.quality_seeds, args.quality_steps)


if __name__ == "__main__":
    main()
