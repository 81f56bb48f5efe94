"""Reward ablations: run a grid of (env x reward spec x algorithm x seed), store it, report on it.

* :mod:`~rewardlab.ablation.config` — the YAML schema, validation and grid expansion;
* :mod:`~rewardlab.ablation.runner` — local process pool (default) or Ray backends, progress display;
* :mod:`~rewardlab.ablation.store` — one atomically written JSON record per run, keyed by a hash of its run spec;
* :mod:`~rewardlab.ablation.stats` — IQM, stratified bootstrap CIs, probability of improvement;
* :mod:`~rewardlab.ablation.report` — curves as a DataFrame (:func:`load`), final table, ``report.html``.

:func:`ablate` runs a config end to end, as ``rewardlab ablate CONFIG.yaml`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import yaml

from rewardlab.ablation.config import describe_grid, expand, load_config, validate
from rewardlab.ablation.report import final_table, format_table, load, sweep_status, write_report
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
    "sweep_status",
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
    clean: bool = False,
    ray_timeout: float | None = None,
) -> dict[str, Any]:
    """Validate a config, run its grid (skipping runs already stored), and write the report.

    Args:
        config: a YAML path or a config dict.
        out: the sweep folder (default ``runs/<config name>``).
        backend, workers, retry_failed, ray_timeout: see :func:`run_sweep`.
        report: write ``report.html`` and print the table of what completed.
        stream: where the grid, the notes and the table go (default stdout).
        clean: move stale records (of another config or rewardlab version) into ``<out>/stale/``.

    Returns the counts of :func:`run_sweep` plus ``out`` (the sweep folder) and ``report`` (its path).

    Raises:
        ConfigError: a bad config (before anything runs).
        StoreError: the folder cannot be created, locked or written (before any run trains).
    """
    import sys

    from rewardlab.ablation.run import planned_steps

    stream = stream if stream is not None else sys.stdout
    cfg = load_config(config) if not isinstance(config, dict) else validate(config)
    runs = expand(cfg)
    print(describe_grid(cfg, runs), file=stream, flush=True)
    rounded = {}
    for spec in runs:  # one line per (env, algorithm) whose budget the trainer rounds up
        plan = planned_steps(spec)
        if plan is not None and plan[0] != spec["total_steps"]:
            rounded[(spec["env"]["label"], spec["algo"]["name"])] = (spec["total_steps"], *plan)
    for (env, algo), (budget, steps, why) in rounded.items():
        print(f"  {algo} on {env} rounds {budget:,} steps up to {steps:,} ({why}); records keep both (`budget`, `steps`)", file=stream)
    root = Path(out) if out is not None else Path("runs") / cfg["name"]
    store = RunStore(root)
    store.lock()  # before config.yaml: a second sweep into this folder must not replace the first's config
    store.check_writable()
    store.write_text("config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    counts: dict[str, Any] = dict(run_sweep(runs, store, backend, workers, retry_failed, clean=clean, ray_timeout=ray_timeout,
                                             tensorboard_dir=cfg.get("tensorboard_dir")))
    counts["out"] = str(root)
    if report:
        page, shown = write_report(root)
        counts["report"] = str(page)
        if shown is not None:
            print(shown.to_string(index=False), file=stream)
        print(f"Report: {page}", file=stream, flush=True)
    return counts
