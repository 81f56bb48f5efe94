"""IPPO on the batched coopetition core vs SB3 parameter-shared PPO on the PettingZoo path, side by side.

Same game (TrustDilemma, private reward), same network (64-64 tanh actor and critic), same rollout
length (n_steps), same epochs and minibatches per epoch; steps are agent-steps of training
(evaluation off). Also times the bare IPPO update on random data: the compute floor.

    nice -n 10 python benchmarks/marl_throughput.py [--steps 2000000] [--sb3-steps 20000]
"""

from __future__ import annotations

import argparse
import time

import torch

from rewardlab.baselines import marl
from rewardlab.baselines.multiagent import train_parallel
from rewardlab.envs.coopetition import parallel_env

GAME = "TrustDilemma"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2_000_000, help="IPPO agent-steps (1,024 envs)")
    ap.add_argument("--sb3-steps", type=int, default=20_000, help="SB3 agent-steps")
    ap.add_argument("--n-envs", type=int, default=1024)
    ap.add_argument("--sb3-copies", type=int, default=8)
    ap.add_argument("--n-steps", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(1)
    n_agents = 2
    minibatches, epochs = 4, 4

    ippo_rollout = a.n_steps * a.n_envs * n_agents
    t0 = time.perf_counter()
    r = marl.train_coopetition(GAME, total_steps=a.steps, n_envs=a.n_envs, algo="IPPO", env_kwargs={"reward_mode": "private"},
                               hyperparams={"n_steps": a.n_steps, "n_epochs": epochs, "batch_size": ippo_rollout // minibatches},
                               eval_episodes=1, eval_every=10**12)
    ippo_sps = r.steps / (r.wall_time_s - r.eval_time_s)
    print(f"IPPO  batched core, {a.n_envs} envs: {r.steps} agent-steps in {time.perf_counter() - t0:.1f}s -> {ippo_sps:,.0f} steps/s")

    sb3_rollout = a.n_steps * a.sb3_copies * n_agents
    s = train_parallel(lambda: parallel_env(GAME, reward_mode="private"), total_steps=a.sb3_steps, n_copies=a.sb3_copies,
                       hyperparams={"n_steps": a.n_steps, "n_epochs": epochs, "batch_size": sb3_rollout // minibatches,
                                    "policy_kwargs": {"net_arch": [64, 64]}}, eval_every=10**12, eval_episodes=1)
    sb3_sps = s.steps / (s.wall_time_s - s.eval_time_s)
    print(f"SB3 PPO  PettingZoo path, {a.sb3_copies} copies: {s.steps} agent-steps -> {sb3_sps:,.0f} steps/s")
    print(f"ratio IPPO / SB3: {ippo_sps / sb3_sps:.1f}x (target >= 20x)")

    # Compute floor: the same update (epochs x minibatches of Adam steps) on random data.
    args = marl.MARLArgs(n_steps=a.n_steps, batch_size=ippo_rollout // minibatches, n_epochs=epochs)
    pol = marl.Policy(13 + n_agents, 13 + n_agents, 1, False, args)
    opt = torch.optim.Adam(pol.parameters(), lr=3e-4, eps=1e-5)
    x, act, adv, ret = torch.rand(ippo_rollout, 15), torch.randn(ippo_rollout, 1), torch.randn(ippo_rollout), torch.randn(ippo_rollout)
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        for _e in range(epochs):
            perm = torch.randperm(ippo_rollout)
            for b in range(0, ippo_rollout, args.batch_size):
                mb = perm[b: b + args.batch_size]
                logp, ent = pol.evaluate(x[mb], act[mb])
                loss = -(adv[mb] * logp.exp()).mean() + 0.5 * ((pol.value(x[mb]) - ret[mb]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(pol.parameters(), 0.5)
                opt.step()
    floor = reps * ippo_rollout / (time.perf_counter() - t0)
    print(f"bare update on random data: {floor:,.0f} agent-steps/s (IPPO reaches {ippo_sps / floor:.0%} of it)")
    # The update is the same per sample on both sides, so no env or loop speed-up can lift IPPO past
    # the floor: floor / SB3 is the most this comparison can show on this machine.
    print(f"ceiling: floor / SB3 = {floor / sb3_sps:.1f}x (IPPO / SB3 cannot exceed it; target >= 20x)")


if __name__ == "__main__":
    main()
