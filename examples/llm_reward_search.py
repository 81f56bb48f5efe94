"""An LLM reward search on Sparse-MountainCar, then the chosen reward against the sparse one.

    python examples/llm_reward_search.py                 # offline: rewardlab's scripted server
    python examples/llm_reward_search.py --backend live  # a real server (see below)

Step 1 runs the search (K=4 candidates, R=2 rounds, each candidate trained briefly, 10k steps,
with SB3 PPO and scored on the task's own success rate). Step 2 trains the chosen reward and the
sparse reward for the same budget (30k steps, the quickstart's) on fresh seeds (not the seed the
search selected on) and prints both success rates.

By default the LLM is the offline backend: rewardlab's scripted server on 127.0.0.1, whose
candidates are SCRIPTED, NOT WRITTEN BY A MODEL (script ``mountaincar``: a good energy-based reward,
a weak one and five faulty ones, with fixed versions returned after feedback). It shows the
search's machinery (gates, training, selection, feedback, resume) end to end. For a real model,
point the client at any OpenAI-compatible server and pass ``--backend live``::

    export REWARDLAB_LLM_BASE_URL=http://localhost:8000/v1   # vLLM; Ollama :11434/v1, llama.cpp :8080/v1
    export REWARDLAB_LLM_MODEL=Qwen/Qwen2.5-Coder-7B-Instruct
    export OPENAI_API_KEY=...                                 # only where the server needs one

Everything lands in ``--out`` (default ``runs/llm_reward_search``); rerunning resumes.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import yaml

ENV = "rewardlab/Sparse-MountainCar-v0"
TASK = ("Drive the under-powered car up the right hill to the flag at position 0.5. The engine is too weak to "
        "climb directly, so the car has to rock back and forth to build momentum.")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/llm_reward_search")
    p.add_argument("--backend", default="offline", choices=["offline", "replay", "auto", "live"])
    p.add_argument("--search-steps", type=int, default=10_000, help="env steps per candidate in the search (brief on purpose)")
    p.add_argument("--steps", type=int, default=30_000, help="env steps per comparison run, chosen and sparse alike")
    p.add_argument("--seeds", type=int, default=3, help="fresh seeds for the comparison (1..N)")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args()

    from rewardlab.ablation import ablate, expand, validate
    from rewardlab.ablation.store import RunStore
    from rewardlab.search import run_search
    from rewardlab.search.training import default_algorithm

    out = Path(args.out)
    t0 = time.perf_counter()
    result = run_search(ENV, TASK, out=out / "search", candidates=4, rounds=2, steps=args.search_steps, backend=args.backend,
                        workers=args.workers)  # fmt: skip
    t_search = time.perf_counter() - t0
    if result.best is None:
        print(f"No candidate executed (execute rates {result.execute_rates}); nothing to compare.")
        return 1
    b = result.best
    print(f"\nSearch: {t_search:.0f} s; execute rates per round {result.execute_rates}; "
          f"chosen round {b.round} candidate {b.index} ({b.metric} {b.fitness:.2f} on the search seed)")  # fmt: skip

    # Step 2: the chosen reward (best_reward.yaml, as it drops into any ablation config) vs sparse.
    chosen = yaml.safe_load((out / "search" / "best_reward.yaml").read_text())["rewards"]
    name = next(iter(chosen))
    seeds = list(range(1, args.seeds + 1))
    cfg = {
        "name": "llm_vs_sparse",
        "envs": [ENV],
        "rewards": {"sparse": "EnvReward", **chosen},
        "baseline": "sparse",
        "algorithms": [default_algorithm("PPO")],
        "seeds": seeds,
        "budget": {"total_steps": args.steps, "n_envs": 8},
        "evaluation": {"every": max(1, args.steps // 4), "episodes": 5},
    }
    t1 = time.perf_counter()
    ablate(cfg, out / "compare", workers=args.workers, report=False)
    t_compare = time.perf_counter() - t1
    success: dict[str, list[float]] = {"sparse": [], name: []}
    current = {run["key"] for run in expand(validate(cfg))}  # only this config's runs, never stale ones in the folder
    for rec in RunStore(out / "compare").records():
        if rec["key"] in current and rec["status"] == "completed" and rec["spec"]["reward_name"] in success:
            success[rec["spec"]["reward_name"]].append(rec["final"]["success"])

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else math.nan

    print(f"\nFinal success rate after {args.steps:,} steps, seeds {seeds} (5 evaluation episodes each):")
    print(f"  sparse reward (EnvReward)         {mean(success['sparse']):.2f}   per seed {success['sparse']}")
    print(f"  chosen reward ({name})  {mean(success[name]):.2f}   per seed {success[name]}")
    print(f"Time: search {t_search:.0f} s + comparison {t_compare:.0f} s = {time.perf_counter() - t0:.0f} s")
    if args.backend == "offline":
        print("(offline backend: the candidates were scripted, not written by a model)")
    beat = mean(success[name]) > mean(success["sparse"])
    print("The chosen reward beats the sparse one on task success." if beat else "The chosen reward did NOT beat the sparse one.")
    return 0 if beat else 1


if __name__ == "__main__":
    raise SystemExit(main())
