"""Reward terms on a Gymnasium env: EnvReward + PBRS + a G-RA gate on MountainCar-v0.

Runs a few episodes with a hand-written policy and prints each term's episode sum. On every
terminated episode the discounted PBRS sum telescopes to exactly -Phi(s0), whatever the policy did,
which is why PBRS cannot change which policy is optimal.

    python examples/shaping_basics.py
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import rewardlab  # noqa: F401  (registers envs and the potentials of Gymnasium's classic-control ids)
from rewardlab.shaping import PBRS, Constant, EnvReward, FromFunction, Gate, potentials_for
from rewardlab.wrappers import RewardShaping

GAMMA = 0.99


def reached_goal(t):
    """Outcome of a MountainCar episode: 1 on the step that reaches the flag (termination)."""
    return t.terminated.astype(np.float64)


def pump_energy(obs, rng):
    """Push in the direction of motion (a classic energy-pumping controller), with some noise."""
    action = 2 if obs[1] >= 0 else 0
    return int(rng.integers(0, 3)) if rng.uniform() < 0.1 else action


def main() -> None:
    energy = potentials_for("MountainCar-v0")["energy"]
    # The living bonus of 0.01 per step is gated: it is paid (at the last step) only if the car reached the flag.
    reward = EnvReward() + PBRS("energy", gamma=GAMMA) + Gate(Constant(0.01), outcome=FromFunction(reached_goal), threshold=1.0)
    env = RewardShaping(gym.make("MountainCar-v0"), reward)
    rng = np.random.default_rng(0)

    print(f"reward = {reward!r}\n")
    header = f"{'episode':>7} {'policy':>7} {'steps':>5} {'outcome':>10} " + " ".join(f"{k:>18}" for k in ("env", "pbrs_energy", "gate(constant)"))
    print(header + f" {'disc. PBRS':>11} {'-Phi(s0)':>9}")
    for episode, policy in enumerate(["pump", "pump", "random", "pump"]):
        obs, _ = env.reset(seed=episode)
        phi0 = float(energy(obs[None])[0])
        sums: dict[str, float] = {}
        discounted_pbrs, t, done = 0.0, 0, False
        while not done:
            action = pump_energy(obs, rng) if policy == "pump" else int(rng.integers(0, 3))
            obs, _, terminated, truncated, info = env.step(action)
            for name, value in info["reward_terms"].items():
                sums[name] = sums.get(name, 0.0) + value
            discounted_pbrs += GAMMA**t * info["reward_terms"]["pbrs_energy"]
            t, done = t + 1, terminated or truncated
        outcome = "reached" if terminated else "timed out"
        print(
            f"{episode:>7} {policy:>7} {t:>5} {outcome:>10} "
            + " ".join(f"{sums[k]:>18.4f}" for k in ("env", "pbrs_energy", "gate(constant)"))
            + f" {discounted_pbrs:>11.6f} {-phi0:>9.6f}"
        )
        if terminated:
            assert abs(discounted_pbrs + phi0) < 1e-9, "PBRS must telescope to -Phi(s0) on a terminated episode"
    print(
        "\nOn terminated episodes the discounted PBRS sum equals -Phi(s0) (to 1e-9); on time-outs it is\n"
        "gamma^T * Phi(s_T) - Phi(s0), which a bootstrapping learner's value absorbs. The gate paid\n"
        "0.01 per step only to the episodes that reached the flag, at their last step."
    )


if __name__ == "__main__":
    main()
