"""Reward ablations: run a grid of (env x reward spec x algorithm x seed), store it, report on it.

* :mod:`~rewardlab.ablation.config` — the YAML schema, validation and grid expansion;
* :mod:`~rewardlab.ablation.runner` — local process pool (default) or Ray backends, progress display;
* :mod:`~rewardlab.ablation.store` — one atomically written JSON record per run, keyed by config hash;
* :mod:`~rewardlab.ablation.stats` — IQM, stratified bootstrap CIs, probability of improvement;
* :mod:`~rewardlab.ablation.report` — curves as a DataFrame (:func:`load`), final table, ``report.html``.

:func:`ablate` runs a config end to end, as ``rewardlab ablate CONFIG.yaml`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import yaml

from rewardlab.ablation.config import describe_grid, expand, load_config, validate
from rewardlab.ablation.report import final_table, format_table, load, write_report
from rewardlab.ablation.runner import run_sweep
from rewardlab.ablation.store import RunStore

__all__ = [
    "ablate",
    "load",
    "load_config",
    "validate",
    "expand",
    "describe_grid",
    "run_sweep",
    "final_table",
    "format_table",
    "write_report",
    "RunStore",
]


def ablate(
    config: str | Path | dict[str, Any],
    out: str | Path | None = None,
    backend: str = "local",
    workers: int | None = None,
    retry_failed: bool = False,
    report: bool = True,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Validate a config, run its grid (skipping runs already stored), and write the report.

    Returns the counts of :func:`run_sweep` plus ``out`` (the sweep folder) and ``report`` (its path).
    The default folder is ``runs/<config name>``.
    """
    import sys

    stream = stream if stream is not None else sys.stdout
    cfg = load_config(config) if not isinstance(config, dict) else validate(config)
    runs = expand(cfg)
    print(describe_grid(cfg, runs), file=stream, flush=True)
    root = Path(out) if out is not None else Path("runs") / cfg["name"]
    store = RunStore(root)
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    counts: dict[str, Any] = dict(run_sweep(runs, store, backend, workers, retry_failed))
    counts["out"] = str(root)
    if report:
        page, shown = write_report(root)
        counts["report"] = str(page)
        if shown is not None:
            print(shown.to_string(index=False), file=stream)
        print(f"Report: {page}", file=stream, flush=True)
    return counts
