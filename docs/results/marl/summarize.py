"""Print the multi-agent study's numbers from its store: per-agent payoff vs the best constant, and welfare.

    python docs/results/marl/summarize.py runs/marl_coopetition
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import numpy as np

from rewardlab.baselines.coopetition import best_constant
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.params import build_params


def constant_payoff(params, fraction: float, seed: int) -> np.ndarray:
    """Per-agent episode payoff of every agent playing `fraction` of its endowment (evaluation seed)."""
    core = CoopetitionCore(params, 1)
    core.reset(seeds=[seed])
    total = np.zeros(params.n)
    for _ in range(params.max_steps):
        out = core.step((fraction * params.endowment)[None])
        total += out.payoff[0]
        if out.terminated[0] or out.truncated[0]:
            break
    return total


def main(folder: str) -> None:
    rows = collections.defaultdict(list)
    for f in sorted(Path(folder, "runs").glob("*.json")):
        r = json.loads(f.read_text())
        if r.get("status") != "completed":
            continue
        s = r["spec"]
        rows[(s["env"]["label"], s["env"]["kwargs"]["name"], s["env"]["kwargs"]["reward_mode"], s["algo"]["algo"])].append(r)
    print("| env | reward | algo | seeds | final per-agent payoff (mean ± sd) | best over evaluations | best constant (fraction) | welfare (sum of payoffs) |")
    print("|---|---|---|---|---|---|---|---|")
    for (label, name, mode, algo), runs in sorted(rows.items()):
        p = build_params(name, reward_mode=mode)
        frac, _ = best_constant(p, mode)
        base = constant_payoff(p, frac, 10_000).mean()
        final = np.array([r["curve"][-1]["payoff"] for r in runs])
        best = np.array([max(c["payoff"] for c in r["curve"]) for r in runs])
        print(f"| {name} | {mode} | {algo} | {len(runs)} | {final.mean():,.1f} ± {final.std():,.1f} | {best.mean():,.1f} | "
              f"{base:,.1f} ({frac:.2f}) | {final.mean() * p.n:,.0f} (constant: {base * p.n:,.0f}) |")


if __name__ == "__main__":
    main(sys.argv[1])
