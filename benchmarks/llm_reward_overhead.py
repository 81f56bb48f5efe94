"""Cost of the sandbox: a gated, sandboxed `LLMReward` vs a `FromFunction` running the same code in process.

Both shape the same 16-env Gymnasium vector env (``rewardlab/Sparse-MountainCar-v0`` through
``gym.make_vec`` and ``VectorRewardShaping``) with the same reward program, and do the same per-row
work (the worker's own ``RewardRunner``: read-only views, the call, coercion); the only difference
is the process boundary, i.e. one pipe round trip per vector step. The raw vector env (no shaping)
is the compute floor. Rounds are interleaved with the same pre-sampled actions; the script prints
the median steps/s of each and the ratio sandboxed / in-process (target >= 0.8, issue 14).

Steps/s are wall-clock (``time.perf_counter``): the sandboxed reward runs in another process, so
this process's CPU time would leave its cost out. On a shared machine, run it when it is quiet.

    python benchmarks/llm_reward_overhead.py [--rounds 7] [--steps 1000] [--envs 16]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

import rewardlab  # noqa: F401  (registers the rewardlab/ ids)
from rewardlab.shaping import FromFunction
from rewardlab.shaping.llm.gates import static_check, strip_imports
from rewardlab.shaping.llm.reward import LLMReward
from rewardlab.shaping.llm.sandbox import pack_rows
from rewardlab.shaping.llm.views import descriptor_for
from rewardlab.shaping.llm.worker import RewardRunner
from rewardlab.wrappers import VectorRewardShaping

ENV_ID = "rewardlab/Sparse-MountainCar-v0"
CODE = '''import numpy as np
def compute_reward(obs, action, next_obs, info):
    progress = 10.0 * (next_obs.position - obs.position)
    energy = 0.5 * next_obs.velocity ** 2 + 0.0025 * np.sin(3.0 * next_obs.position)
    bonus = 10.0 * info["is_success"]
    return progress + 100.0 * energy + bonus, {"progress": progress, "energy": 100.0 * energy, "bonus": bonus}
'''


def in_process_reward(code: str, env_id: str):
    """The same gated code, exec'd in this process by the worker's RewardRunner (no sandbox)."""
    desc = descriptor_for(env_id)
    source = strip_imports(code, static_check(code))
    runners: dict[str, RewardRunner] = {}

    def llm_in_process(t):
        rows = np.flatnonzero(t.valid)
        layout, matrix = pack_rows(t.obs, t.action, t.next_obs, t.info, rows, desc.info_keys, desc.obs_keys)
        key = repr(layout)
        if key not in runners:
            runners[key] = RewardRunner(source, desc.to_dict(), layout)
        _, totals, _, _, _ = runners[key].run(matrix)
        out = np.zeros(t.reward.shape[0])
        out[rows] = totals
        return out

    return FromFunction(llm_in_process)


def run(envs, actions: np.ndarray) -> float:
    envs.reset(seed=0)
    start = time.perf_counter()
    for a in actions:
        envs.step(a)
    return len(actions) * envs.num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=1000, help="vector steps per round")
    parser.add_argument("--envs", type=int, default=16)
    args = parser.parse_args()

    term = LLMReward(CODE, ENV_ID)
    variants = {
        "raw vector env (floor)": gym.make_vec(ENV_ID, num_envs=args.envs),
        "FromFunction in process": VectorRewardShaping(gym.make_vec(ENV_ID, num_envs=args.envs), in_process_reward(CODE, ENV_ID)),
        "LLMReward sandboxed": VectorRewardShaping(gym.make_vec(ENV_ID, num_envs=args.envs), term),
    }
    actions = np.random.default_rng(0).integers(0, 3, size=(args.steps, args.envs))
    for envs in variants.values():  # warm-up: worker start, first load, numpy caches
        run(envs, actions[:50])
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, envs in variants.items():
            results[name].append(run(envs, actions))
    medians = {name: statistics.median(v) for name, v in results.items()}
    print(f"{ENV_ID}, {args.envs} envs, {args.steps} vector steps x {args.rounds} rounds (median steps/s, wall clock)")
    for name, value in medians.items():
        print(f"  {name:26s} {value:10.0f} steps/s")
    ratio = medians["LLMReward sandboxed"] / medians["FromFunction in process"]
    print(f"  sandboxed / in-process = {ratio:.3f} (target >= 0.8); layers: {', '.join(term.layers)}")
    print(f"  fallbacks: {term.fallbacks} of {term.calls} calls")
    term.close()


if __name__ == "__main__":
    main()
