"""IPPO or MAPPO on coopetition games (private reward) beside the best constant scored on the same evaluation episodes.

    python docs/results/marl/probe_games.py MAPPO|IPPO STEPS SEEDS GAME [GAME ...]
    python docs/results/marl/probe_games.py IPPO 3e6 0,1,2 AppleAppStore
    LR=3e-4 python docs/results/marl/probe_games.py MAPPO 3e6 0,1,2 AppleAppStore   # another learning rate (default 1e-3)
    GAMMA=0.999 python docs/results/marl/probe_games.py MAPPO 3e6 0,1,2 AppleAppStore   # another discount (default 0.99)
    N_ENVS=1024 N_STEPS=64 python docs/results/marl/probe_games.py MAPPO 3e6 1 AppleAppStore   # rollout shape (default 256 x 32)

A direct script, not the ablation store. Each run prints the per-agent payoff at its 5 evaluations (8
deterministic episodes, seeds 10,000 + seed + i) and the best common constant fraction of the endowment
(a grid of 101) scored on those same 8 episodes (`const`, `frac`), and the run's wall time in seconds.
"""
import dataclasses, json, os, sys, time
import numpy as np
from rewardlab.baselines.marl import train_coopetition
from rewardlab.baselines.coopetition import _params
from rewardlab.envs.coopetition import CoopetitionCore

def constant_on_eval(game, seed, episodes=8, grid=101):
    p = dataclasses.replace(_params(game), reward_mode="private")
    fr = np.linspace(0, 1, grid)
    best = (-1e18, None)
    for f in fr:
        core = CoopetitionCore(p, num_envs=episodes)
        core.reset(seeds=[10_000 + seed + b for b in range(episodes)])
        joint = np.tile(f * p.endowment, (episodes, 1))
        alive = np.ones((episodes,), bool); tot = np.zeros((episodes, p.n))
        for _ in range(p.max_steps):
            out = core.step(joint)
            tot += np.where(alive[:, None], out.reward, 0.0)
            alive &= ~(out.terminated | out.truncated)
            if not alive.any(): break
        v = tot.mean()
        if v > best[0]: best = (v, f)
    return best

algo, steps = sys.argv[1], int(float(sys.argv[2]))
seeds = [int(s) for s in sys.argv[3].split(",")]
lr, gamma = float(os.environ.get("LR", "1e-3")), float(os.environ.get("GAMMA", "0.99"))
n_envs, n_steps = int(os.environ.get("N_ENVS", "256")), int(os.environ.get("N_STEPS", "32"))
for game in sys.argv[4:]:
    for seed in seeds:
        t = time.time()
        r = train_coopetition(game, total_steps=steps, n_envs=n_envs, algo=algo, env_kwargs={"reward_mode": "private"},
            hyperparams={"n_steps": n_steps, "batch_size": 4096, "learning_rate": lr, "gamma": gamma}, eval_episodes=8, eval_every=steps // 4, seed=seed)
        c = constant_on_eval(game, seed)
        print(json.dumps({"game": game, "algo": algo, "seed": seed, "steps": steps, "lr": lr, "gamma": gamma, "n_envs": n_envs, "n_steps": n_steps, "payoff": [round(x["payoff"], 1) for x in r.curve],
                          "const": round(c[0], 1), "frac": round(c[1], 2), "s": round(time.time() - t)}), flush=True)
