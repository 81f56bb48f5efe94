"""One coopetition env under the three reward modes, played by the stage oracles and the best constant.

For each reward mode (private, integrated, cooperative) the script computes the stage-game Nash,
coopetitive and social-optimum levels and the best common constant *for that mode's reward*, plays
each as a constant policy for one episode of the ParallelEnv, and prints each agent's summed reward
and summed material payoff (``info["payoff"]``, the same quantity in every mode). Under constant play
the TR-4 reciprocity signal is 0 (no change against one's own memory), so private reward equals payoff.

Usage: ``python examples/coopetition_modes.py [EnvName]`` (default GiftExchange).
"""

from __future__ import annotations

import sys

import numpy as np

from rewardlab.baselines.coopetition import best_constant, stage_oracle
from rewardlab.envs.coopetition import REWARD_MODES, parallel_env


def play(name: str, mode: str, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One seeded episode of constant play: (summed rewards, summed payoffs, episode length)."""
    env = parallel_env(name, reward_mode=mode)
    env.reset(seed=0)
    agents = env.possible_agents
    rewards, payoffs, steps = np.zeros(len(agents)), np.zeros(len(agents)), 0
    while env.agents:
        _, rew, _, _, infos = env.step({a: [levels[i]] for i, a in enumerate(agents)})
        rewards += [rew[a] for a in agents]
        payoffs += [infos[a]["payoff"] for a in agents]
        steps += 1
    return rewards, payoffs, steps


def main(name: str = "GiftExchange") -> None:
    endowment = parallel_env(name).params.endowment
    oracles = {kind: stage_oracle(name, kind) for kind in ("nash", "coopetitive", "social")}
    print(f"{name}: endowments {endowment.tolist()}")
    for kind, levels in oracles.items():
        print(f"  stage {kind:12s} levels {np.round(levels, 2).tolist()}")
    for mode in REWARD_MODES:
        frac, _ = best_constant(name, reward_mode=mode)
        policies = {**oracles, f"best constant {frac:.2f}*e": frac * endowment}
        print(f"\nreward_mode={mode!r}")
        print(f"  {'policy':22s} {'steps':>5s}  {'reward per agent':>28s}  {'payoff per agent':>28s}  {'team reward':>11s}")
        for label, levels in policies.items():
            rewards, payoffs, steps = play(name, mode, levels)
            fmt = lambda x: " ".join(f"{v:9.1f}" for v in x)  # noqa: E731
            print(f"  {label:22s} {steps:5d}  {fmt(rewards):>28s}  {fmt(payoffs):>28s}  {rewards.sum():11.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
