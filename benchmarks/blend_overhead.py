"""What a learned blend's outer step costs next to the PPO update it precedes (spec G3, check H17).

SB3 PPO on CartPole-v1 shaped by ``Blend(EnvReward(), aux={"alive": Constant(1)})`` (8 envs x 256
steps = 2,048 samples per rollout, batch 256, 4 epochs: the spec's "2k-sample PPO update"), with
the first-order outer step (``neumann=0``) and the Neumann option (``neumann=5``). In the same
run, each rollout's ``PPO.train()`` and the :class:`~rewardlab.baselines.sb3_blend.BlendCallback`
outer step are timed; prints their medians and the ratio (targets: <= 15 % first-order, <= 60 %
with neumann=5). Then the same for TorchPPO: the outer step against the rest of each rollout's
wall time (collection included, so that ratio is a lower bound of outer/update).

    python benchmarks/blend_overhead.py [--rollouts 8]
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
from rewardlab.baselines import ppo
from rewardlab.baselines.sb3_blend import BlendCallback
from rewardlab.shaping import Constant, EnvReward
from rewardlab.shaping.bilevel import Blend
from rewardlab.wrappers import SB3RewardShaping

N_ENVS, N_STEPS = 8, 256


class TimedPPO(PPO):
    """SB3 PPO that records the wall time of each ``train()`` (the policy update)."""

    def train(self) -> None:
        start = time.perf_counter()
        super().train()
        self.train_times.append(time.perf_counter() - start)


class TimedBlendCallback(BlendCallback):
    """The blend callback with the wall time of each outer step."""

    def _on_rollout_end(self) -> None:
        start = time.perf_counter()
        super()._on_rollout_end()
        self.times.append(time.perf_counter() - start)


def blend(neumann: int) -> Blend:
    # alpha small with Neumann, as in BARFI (5e-4): (I + alpha H) must stay a contraction
    return Blend(EnvReward(), aux={"alive": Constant(1.0)}, neumann=neumann, alpha=1.0 if neumann == 0 else 1e-3, warmup_rollouts=0)


def sb3_times(neumann: int, rollouts: int) -> tuple[float, float]:
    term = blend(neumann)
    venv = SB3RewardShaping(DummyVecEnv([lambda: gym.make("CartPole-v1") for _ in range(N_ENVS)]), term)
    model = TimedPPO("MlpPolicy", venv, n_steps=N_STEPS, batch_size=256, n_epochs=4, seed=0, device="cpu")
    model.train_times = []
    callback = TimedBlendCallback(term)
    callback.times = []
    model.learn(N_ENVS * N_STEPS * rollouts, callback=callback)
    return statistics.median(callback.times[1:]), statistics.median(model.train_times[1:])  # first rollout: warm-up


def torchppo_times(neumann: int, rollouts: int) -> tuple[float, float]:
    term = blend(neumann)
    times: list[float] = []
    inner = term.outer_step

    def timed(batch):  # an instance attribute: what outer_step(term, batch) finds and calls
        start = time.perf_counter()
        out = inner(batch)
        times.append(time.perf_counter() - start)
        return out

    term.outer_step = timed
    envs = ppo.make_vec_env("CartPole-v1", N_ENVS, term)
    args = ppo.PPOArgs(n_steps=N_STEPS, batch_size=256, n_epochs=4)
    result = ppo.train(args, envs, N_ENVS * N_STEPS * rollouts, seed=0)
    envs.close()
    per_rollout = result.wall_time_s / rollouts
    return statistics.median(times[1:]), per_rollout - statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=8)
    ns = parser.parse_args()
    torch.set_num_threads(1)
    print(f"CartPole-v1, {N_ENVS} envs x {N_STEPS} steps = {N_ENVS * N_STEPS} samples per rollout, {ns.rollouts} rollouts, 1 thread")
    print(f"{'trainer':<9} {'neumann':>7} {'outer step ms':>14} {'PPO update ms':>14} {'ratio':>7}  target")
    for neumann, target in ((0, 0.15), (5, 0.60)):
        outer, update = sb3_times(neumann, ns.rollouts)
        print(f"{'SB3 PPO':<9} {neumann:>7} {outer * 1e3:>14.1f} {update * 1e3:>14.1f} {outer / update:>7.1%}  <= {target:.0%}")
    for neumann in (0, 5):
        outer, rest = torchppo_times(neumann, ns.rollouts)
        print(f"{'TorchPPO':<9} {neumann:>7} {outer * 1e3:>14.1f} {rest * 1e3:>13.1f}* {outer / rest:>7.1%}")
    print("* TorchPPO: the rest of the rollout's wall time (collection + update), not the update alone")


if __name__ == "__main__":
    main()
