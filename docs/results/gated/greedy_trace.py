"""Retrain the study's runs and look at their final policies: the greedy path, and completion when sampled.

    python docs/results/gated/greedy_trace.py [examples/gated_accumulation.yaml] [arm ...]

The ablation store keeps curves, not policies; this retrains each (arm, seed) exactly as
`rewardlab ablate` does (``train_env`` with the config's env, reward, budget and hyper-parameters;
each run's final greedy success is checked against the store's), then prints the greedy policy's
first 16 cells from the start and its completion rate over 200 episodes with sampled actions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from rewardlab.baselines.ppo import make_vec_env, train_env
from rewardlab.envs.control.subgoal_chain import SubgoalChain


def greedy_path(agent, steps: int = 16) -> list[tuple[int, int]]:
    env = SubgoalChain()
    obs, _ = env.reset(seed=0)
    path = []
    for _ in range(steps):
        with torch.no_grad():
            action, _, _ = agent.act({"obs": torch.as_tensor(obs)[None]}, torch.Generator().manual_seed(0), deterministic=True)
        obs, _, term, trunc, _ = env.step(int(action[0]))
        path.append(tuple(int(v) for v in env.pos))
        if term or trunc:
            break
    return path


def sampled_completion(agent, episodes: int = 200, seed: int = 0) -> float:
    envs = make_vec_env("rewardlab.envs.control.subgoal_chain:rewardlab/SubgoalChain-v0", episodes)
    obs, _ = envs.reset(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    done, success = np.zeros(episodes, bool), np.zeros(episodes, bool)
    while not done.all():
        with torch.no_grad():
            action, _, _ = agent.act({"obs": torch.as_tensor(obs)}, gen)
        obs, _, term, trunc, info = envs.step(action.numpy())
        success |= term & ~done
        done |= term | trunc
    envs.close()
    return float(success.mean())


def stored_final(folder: Path, arm: str, seed: int) -> float | None:
    for f in (folder / "runs").glob("*.json"):
        r = json.loads(f.read_text())
        if r.get("status") == "completed" and r["spec"]["reward_name"] == arm and r["seed"] == seed:
            return r["final"]["success"]
    return None


def main(config: str, arms: list[str]) -> None:
    cfg = yaml.safe_load(Path(config).read_text())
    (algo,) = cfg["algorithms"]
    (env,) = cfg["envs"]
    for arm in arms or list(cfg["rewards"]):
        for seed in range(cfg["seeds"]):
            result = train_env(env["id"], cfg["rewards"][arm], total_steps=cfg["budget"]["total_steps"], seed=seed,
                               n_envs=cfg["budget"]["n_envs"], hyperparams=algo["hyperparams"],
                               eval_every=cfg["evaluation"]["every"], eval_episodes=cfg["evaluation"]["episodes"])
            final = result.curve[-1]["success"]
            stored = stored_final(Path("docs/results/gated"), arm, seed)
            path = greedy_path(result.agent)
            print(f"{arm:8s} seed {seed}: greedy success {final:.2f} (store: {stored}), "
                  f"sampled completion {sampled_completion(result.agent):.2f}, greedy path {path}")


if __name__ == "__main__":
    args = sys.argv[1:]
    config = args.pop(0) if args and args[0].endswith(".yaml") else "examples/gated_accumulation.yaml"
    main(config, args)
