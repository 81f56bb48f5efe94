"""Retrain Sparse-Pusher runs and measure how near their final policies bring the object to the goal.

    python docs/results/robotics_shaping/pusher_distance.py [arm ...]      # default: every arm of the config
    python docs/results/robotics_shaping/pusher_distance.py random          # a uniform-random arm, no training

Success (object within 0.05 of the goal at the episode's end) is the task's own metric and the one
the study reports; when no arm reaches it, the object-to-goal distance says whether an arm learned to
push at all. The ablation store keeps curves, not policies, so this retrains each (arm, seed)
exactly as `rewardlab ablate examples/robotics_shaping_pusher.yaml` does (``train_env`` with the
config's env, reward, budget, hyper-parameters and evaluation schedule; each run's final greedy
success and task return are checked against the store's), then runs the greedy policy for 64
episodes from states the study's evaluations never used (reset seed 10,000) and prints the
object-to-goal and arm-tip-to-object distances at the start, at the end and at their closest,
averaged over the episodes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from rewardlab.ablation.report import sweep_status
from rewardlab.baselines.ppo import make_vec_env, train_env
from rewardlab.envs.control.mujoco import pusher_neg_distance, pusher_neg_tip_distance

CONFIG = Path("examples/robotics_shaping_pusher.yaml")
STORE = Path("docs/results/robotics_shaping/pusher")
EPISODES, RESET_SEED = 64, 10_000


def distances(policy, env_id: str) -> np.ndarray:
    """Means over EPISODES episodes: object-to-goal distance at the start, at the end and at its closest,
    then arm-tip-to-object distance at the start, at the end and at its closest."""
    envs = make_vec_env(env_id, EPISODES)
    obs, _ = envs.reset(seed=RESET_SEED)
    start = np.stack([-pusher_neg_distance(obs), -pusher_neg_tip_distance(obs)])
    closest = start.copy()
    done = np.zeros(EPISODES, bool)
    while not done.all():  # every episode truncates at the same step (horizon 100), so none autoresets before
        obs, _, terminated, truncated, _ = envs.step(policy(obs))
        end = np.stack([-pusher_neg_distance(obs), -pusher_neg_tip_distance(obs)])
        closest = np.minimum(closest, end)
        done |= terminated | truncated
    envs.close()
    return np.stack([start, end, closest], axis=1).mean(axis=-1).ravel()


def stored_finals() -> dict[tuple[str, int], dict[str, float]]:
    """The store's final evaluation per (arm, seed), read as `rewardlab report` reads it (records of this config only)."""
    return {(r["spec"]["reward_name"], r["seed"]): r["final"] for r in sweep_status(STORE).scan.completed.values()}


def main(arms: list[str]) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    (algo,) = cfg["algorithms"]
    (env,) = cfg["envs"]
    finals = stored_finals()
    for arm in arms or list(cfg["rewards"]):
        rows = []
        for seed in range(cfg["seeds"]):
            if arm == "random":
                probe = make_vec_env(env["id"])
                space = probe.single_action_space
                probe.close()
                space.seed(seed)
                row = distances(lambda obs: np.stack([space.sample() for _ in obs]), env["id"])
                note = "uniform-random actions"
            else:
                result = train_env(env["id"], cfg["rewards"][arm], total_steps=cfg["budget"]["total_steps"], seed=seed,
                                   n_envs=cfg["budget"]["n_envs"],
                                   hyperparams={**algo["hyperparams"], "normalize_obs": algo.get("normalize_obs", False)},
                                   eval_every=cfg["evaluation"]["every"], eval_episodes=cfg["evaluation"]["episodes"])
                agent = result.agent

                def greedy(obs: np.ndarray) -> np.ndarray:
                    with torch.no_grad():
                        return agent.act({"obs": torch.as_tensor(obs)}, torch.Generator(), deterministic=True)[0].numpy()

                row = distances(greedy, env["id"])
                final, stored = result.curve[-1], finals.get((arm, seed))
                same = stored is not None and (final["success"], final["task_return"]) == (stored["success"], stored["task_return"])
                note = (f"final greedy success {final['success']:.2f}, task return {final['task_return']:.2f} "
                        f"({'= the store' if same else f'store: {stored}'})")
            rows.append(row)
            print(f"{arm:14s} seed {seed}: {describe(row)}; {note}", flush=True)
        print(f"{arm:14s} mean of {len(rows)} seeds: {describe(np.mean(rows, axis=0))}", flush=True)


def describe(row: np.ndarray) -> str:
    return (f"object-to-goal start {row[0]:.3f}, end {row[1]:.3f}, closest {row[2]:.3f}; "
            f"tip-to-object start {row[3]:.3f}, end {row[4]:.3f}, closest {row[5]:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
