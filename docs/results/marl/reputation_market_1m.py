"""Supplementary runs: IPPO or MAPPO on ReputationMarket (private reward), 1M agent-steps, seeds 0-2.

    python docs/results/marl/reputation_market_1m.py IPPO|MAPPO
"""
import sys, json
from rewardlab.baselines.marl import train_coopetition
algo = sys.argv[1]
for seed in (0, 1, 2):
    r = train_coopetition("ReputationMarket", total_steps=1_000_000, n_envs=256, algo=algo, env_kwargs={"reward_mode": "private"},
        hyperparams={"n_steps": 32, "batch_size": 4096, "learning_rate": 1e-3}, eval_episodes=8, eval_every=250_000, seed=seed)
    print(json.dumps({"algo": algo, "seed": seed, "payoff": [round(c["payoff"], 1) for c in r.curve]}), flush=True)
