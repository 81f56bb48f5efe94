"""Print the gated-accumulation study's per-seed numbers from its store: greedy evaluations and training episodes.

    python docs/results/gated/summarize.py docs/results/gated

`rewardlab ablate` prints the final greedy evaluation (table.txt). Training episodes are sampled
from the policy, as the paper's completion rate is; this prints, per arm and seed, the greedy
success at each evaluation, and over the training episodes of each fifth of the budget: the
completion rate, the mean length of completed episodes and the mean immediate reward per episode.
"""

from __future__ import annotations

import collections
import json
import sys
import warnings
from pathlib import Path

import numpy as np


def main(folder: str) -> None:
    runs = collections.defaultdict(list)
    for f in sorted(Path(folder, "runs").glob("*.json")):
        r = json.loads(f.read_text())
        if r.get("status") == "completed":
            runs[r["spec"]["reward_name"]].append(r)
    for arm, recs in sorted(runs.items()):
        print(f"== {arm}")
        fifths = collections.defaultdict(list)
        for r in sorted(recs, key=lambda r: r["seed"]):
            eps = r["episodes"]
            steps = np.array([e["step"] for e in eps])
            success = np.array([e["success"] for e in eps], dtype=float)
            length = np.array([e["length"] for e in eps], dtype=float)
            imm = np.array([sum(v for k, v in e["terms"].items() if k != "env") for e in eps])
            greedy = "".join(str(int(c["success"])) if c["success"] in (0.0, 1.0) else "?" for c in r["curve"])
            cells = []
            edges = np.linspace(0, r["steps"], 6)
            for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
                m = (steps > lo) & (steps <= hi)
                done = m & (success > 0)
                row = (success[m].mean(), length[done].mean() if done.any() else np.nan, imm[m].mean())
                fifths[i].append(row)
                cells.append("%.2f/%4.1f/%.2f" % row)
            print(f"seed {r['seed']}  greedy evals {greedy}  fifths (completion/len done/paid terms): {'  '.join(cells)}")
        with warnings.catch_warnings():  # a fifth where no seed completed has no length: NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            means = ["%.2f/%4.1f/%.2f" % tuple(np.nanmean(np.array(v), axis=0)) for _, v in sorted(fifths.items())]
        print(f"mean seeds                            {'  '.join(means)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/results/gated")
