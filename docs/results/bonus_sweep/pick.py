"""The bonus coefficient sweep's selection (rewardlab issue 21, study 3 part 1), by the rule fixed before the runs.

Per bonus type, the coefficient with the highest final success IQM over seeds averaged over the
sweep's envs, ties broken by the mean success over the evaluation curves (the area under them); that
one coefficient per bonus type goes into the study. The task reward alone is printed as the reference.
Reads the run store that ``rewardlab ablate examples/bonus_sweep.yaml`` writes.

    python docs/results/bonus_sweep/pick.py docs/results/bonus_sweep
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import numpy as np

from rewardlab.ablation.stats import iqm


def main(folder: str) -> None:
    runs = collections.defaultdict(list)
    for f in sorted(Path(folder, "runs").glob("*.json")):
        r = json.loads(f.read_text())
        if r.get("status") == "completed":
            runs[r["spec"]["reward_name"], r["spec"]["env"]["label"]].append(r)
    envs = sorted({e for _, e in runs})
    cells = collections.defaultdict(dict)  # (bonus, coefficient) -> env -> (final IQM, curve mean, seeds)
    for (name, env), rs in runs.items():
        final = float(iqm(np.array([r["final"]["success"] for r in rs])))
        area = float(np.mean([np.mean([c["success"] for c in r["curve"]]) for r in rs]))
        cells[tuple(name.partition("-")[::2])][env] = (final, area, len(rs))
    print("| bonus | coefficient | " + " | ".join(f"{e}: final success IQM (curve mean, seeds)" for e in envs) + " | mean final | selected |")
    print("|---|---|" + "---|" * len(envs) + "---|---|")
    score = {key: (np.mean([v[0] for v in per.values()]), np.mean([v[1] for v in per.values()])) for key, per in cells.items()}
    for bonus in sorted({b for b, _ in cells}):
        coefs = sorted((c for b, c in cells if b == bonus), key=lambda c: float(c or 0))
        best = max(coefs, key=lambda c: score[bonus, c])
        for c in coefs:
            per = cells[bonus, c]
            row = " | ".join(f"{per[e][0]:.2f} ({per[e][1]:.3f}, {per[e][2]})" if e in per else "-" for e in envs)
            chosen = "yes" if c == best and c else ""
            print(f"| {bonus} | {c or '-'} | {row} | {score[bonus, c][0]:.2f} | {chosen} |")


if __name__ == "__main__":
    main(sys.argv[1])
