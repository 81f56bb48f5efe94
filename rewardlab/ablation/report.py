"""Read a sweep's store into pandas, summarise it honestly and write ``report.html`` with PNG plots.

Everything here uses the task's own metric: the evaluation return (greedy actions unless the config says otherwise) on the env's own
reward and ``is_success`` where the env defines it (envs without it show task return only).

Only records of the runs in the folder's ``config.yaml`` count (:func:`sweep_status`); the page
says how many stale or corrupt records were left out.

Learned blends (:class:`~rewardlab.shaping.bilevel.Blend`) log their weights per rollout into each
record's ``learner_log`` (``blend/<term>/w_<aux>``, ``.../b``, ``.../gamma``); :func:`load_blend_weights`
reads them and the page plots them over training.

Functions: :func:`sweep_status`, :func:`load`, :func:`load_blend_weights`, :func:`final_table`,
:func:`format_table`, :func:`write_report`; class :class:`SweepStatus`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.ablation.distances import matrices_html
from rewardlab.ablation.stats import iqm, probability_of_improvement, stratified_bootstrap_ci
from rewardlab.ablation.store import COMPLETED, RunStore, Scan
from rewardlab.errors import MissingExtraError, StoreError

__all__ = ["load", "load_blend_weights", "final_table", "format_table", "write_report", "sweep_status", "SweepStatus"]

_KEYS = ["env", "reward", "algo"]


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise MissingExtraError("rewardlab.ablation reports", "report", e) from e
    return pd


def _root(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file():  # report.html or config.yaml inside the sweep folder
        path = path.parent
    if not (path / "config.yaml").is_file() or not (path / "runs").is_dir():
        below = sorted(str(p.parent.relative_to(path)) for p in path.glob("*/*/config.yaml") if (p.parent / "runs").is_dir())
        below += sorted(str(p.parent.relative_to(path)) for p in path.glob("*/config.yaml") if (p.parent / "runs").is_dir())
        hint = f" Sweep folders below it: {', '.join(below)}." if below else ""
        what = "config.yaml" if (path / "runs").is_dir() else "config.yaml and runs/"
        raise StoreError(f"`{path}` is not a sweep folder: it has no {what} (`rewardlab ablate` writes both).{hint}")
    return path


@dataclass
class SweepStatus:
    """A sweep folder's records sorted against its config.yaml (see :func:`sweep_status`)."""

    root: Path
    config: dict[str, Any]
    #: The current config's runs (expanded from config.yaml).
    runs: list[dict[str, Any]]
    scan: Scan

    @property
    def completed(self) -> int:
        return len(self.scan.completed)

    @property
    def failed(self) -> int:
        return len(self.scan.failed)

    @property
    def missing(self) -> int:
        """Runs of the config with no valid record (not run yet, or corrupt)."""
        return len(self.runs) - self.completed - self.failed

    @property
    def stale(self) -> list[Path]:
        return self.scan.stale

    @property
    def corrupt(self) -> list[tuple[Path, str]]:
        return self.scan.corrupt

    def summary(self) -> str:
        """One paragraph: what the report shows and what it left out."""
        text = (f"{len(self.runs)} runs in this config: {self.completed} completed, {self.failed} failed, "
                f"{self.missing} without a record.")  # fmt: skip
        if self.stale:
            text += (f" Left out: {len(self.stale)} stale records (of another config or rewardlab version; "
                     "`rewardlab ablate --clean` moves them to stale/).")  # fmt: skip
        for path, why in self.corrupt:
            text += f" Corrupt record left out: {path} ({why}); `rewardlab ablate` moves it aside and runs it again."
        # Library versions are recorded, not enforced (a torch patch release should not discard a sweep): say when they differ.
        seen: dict[str, set[str]] = {}
        for rec in self.scan.completed.values():
            for lib, version in (rec.get("versions") or {}).items():
                seen.setdefault(lib, set()).add(str(version))
        mixed = [f"{lib} {' / '.join(sorted(v))}" for lib, v in sorted(seen.items()) if len(v) > 1]
        if mixed:
            text += f" Completed runs were made with different library versions: {'; '.join(mixed)}."
        return text


def sweep_status(path: str | Path) -> SweepStatus:
    """Read a sweep folder: the runs of its config.yaml and the records that belong to them.

    Reading changes nothing in the folder (corrupt and stale records are only named; a sweep
    moves them aside).

    Raises:
        StoreError: ``path`` is not a sweep folder (named, with any sweep folders found below it),
            or its config.yaml cannot be read.
    """
    import yaml

    from rewardlab.ablation.config import expand

    root = _root(path)
    cfg_path = root / "config.yaml"
    try:
        # config.yaml is the validated config `ablate` wrote: expand it as is (validating again would
        # build every env, and the keys must be exactly the ones the sweep ran under).
        cfg = yaml.safe_load(cfg_path.read_text())
        runs = expand(cfg)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise StoreError(f"Cannot read the sweep's config `{cfg_path}`: {type(e).__name__}: {e}") from e
    return SweepStatus(root, cfg, runs, RunStore(root, create=False).scan(runs))


def load(path: str | Path | SweepStatus, include_failed: bool = False) -> Any:
    """The evaluation curves of a sweep as a DataFrame, one row per (run, evaluation).

    Only records of the runs in the folder's config.yaml count (:func:`sweep_status`).
    Columns: ``key, env, reward, algo, seed, status, step, task_return, success`` (success is NaN
    for envs without ``is_success``). Failed runs have no curve; ``include_failed`` adds one row each.
    """
    pd = _pandas()
    rows = []
    status = path if isinstance(path, SweepStatus) else sweep_status(path)
    for rec in status.scan.records:
        spec = rec["spec"]
        base = {
            "key": rec["key"],
            "env": spec.get("env", {}).get("label"),
            "reward": spec.get("reward_name"),
            "algo": spec.get("algo", {}).get("name"),
            "seed": rec.get("seed"),
            "status": rec["status"],
        }
        if rec["status"] == COMPLETED:
            rows.extend({**base, **point} for point in rec["curve"])
        elif include_failed:
            rows.append({**base, "step": math.nan, "task_return": math.nan, "success": math.nan})
    columns = ["key", *_KEYS, "seed", "status", "step", "task_return", "success"]
    return pd.DataFrame(rows, columns=columns)


def _is_blend_param(key: str) -> bool:
    # the outer-step metrics plotted over training: the learned weights, bias and discount
    if not key.startswith("blend/"):
        return False
    leaf = key[key.rindex("/"):]
    return leaf.startswith("/w_") or leaf in ("/b", "/gamma")


def load_blend_weights(path: str | Path | SweepStatus) -> Any:
    """The learned blend parameters of a sweep's completed runs, one row per (run, rollout, parameter).

    Read from each record's ``learner_log`` rows: keys ``blend/<term>/w_<aux>``, ``blend/<term>/b``
    and ``blend/<term>/gamma``. Columns: ``key, env, reward, algo, seed, step, param, value``
    (``param`` is the key without its ``blend/`` prefix). Empty when no run learned a blend.
    """
    pd = _pandas()
    rows = []
    status = path if isinstance(path, SweepStatus) else sweep_status(path)
    for rec in status.scan.completed.values():
        spec = rec["spec"]
        base = {"key": rec["key"], "env": spec.get("env", {}).get("label"), "reward": spec.get("reward_name"),
                "algo": spec.get("algo", {}).get("name"), "seed": rec.get("seed")}  # fmt: skip
        for row in rec.get("learner_log") or []:
            for key, value in row.items():
                if _is_blend_param(key) and isinstance(value, (int, float)) and math.isfinite(value):
                    rows.append({**base, "step": row.get("step"), "param": key[len("blend/"):], "value": float(value)})
    return pd.DataFrame(rows, columns=["key", *_KEYS, "seed", "step", "param", "value"])


def _term_shares(records: list[dict[str, Any]]) -> dict[str, float]:
    # A term's share of the training reward: its summed |value| over all terms' summed |value|, averaged over seeds.
    shares: dict[str, list[float]] = {}
    for rec in records:
        totals = rec.get("term_abs_totals") or {}
        denom = sum(totals.values())
        if denom == 0:  # a run that was never paid anything has no shares to average
            continue
        for name, value in totals.items():
            shares.setdefault(name, []).append(value / denom)
    return {name: float(np.mean(v)) for name, v in shares.items()}


def final_table(path: str | Path | SweepStatus, baseline: str | None = None, reps: int = 2000) -> Any:
    """Final performance per (env, reward, algo): IQM over seeds of the last evaluation with a
    stratified-bootstrap 95% CI, the same for success, probability of improvement over ``baseline``
    (default: the config's baseline) on the same env and algorithm, each term's share, and
    training steps per second (evaluation time taken out). Only the current config's records count."""
    pd = _pandas()
    status = path if isinstance(path, SweepStatus) else sweep_status(path)
    records = list(status.scan.completed.values())
    if baseline is None:
        baseline = status.config.get("baseline")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rec in records:
        s = rec["spec"]
        groups.setdefault((s["env"]["label"], s["reward_name"], s["algo"]["name"]), []).append(rec)

    def scores(recs: list[dict[str, Any]], metric: str) -> np.ndarray:
        return np.array([r["final"][metric] for r in sorted(recs, key=lambda r: r["seed"])], dtype=np.float64)

    rows = []
    for (env, reward, algo), recs in sorted(groups.items()):
        ret = stratified_bootstrap_ci(scores(recs, "task_return"), iqm, reps)
        succ = scores(recs, "success")
        succ_ci = stratified_bootstrap_ci(succ, iqm, reps) if not np.isnan(succ).any() else (math.nan,) * 3
        base = groups.get((env, baseline, algo)) if baseline is not None else None
        poi = (math.nan,) * 3
        if base is not None and reward != baseline:
            poi = probability_of_improvement(scores(recs, "task_return"), scores(base, "task_return"), reps)
        rows.append(
            {
                "env": env, "reward": reward, "algo": algo, "seeds": len(recs),
                "return_iqm": ret[0], "return_low": ret[1], "return_high": ret[2],
                "success_iqm": succ_ci[0], "success_low": succ_ci[1], "success_high": succ_ci[2],
                "p_improve": poi[0], "p_improve_low": poi[1], "p_improve_high": poi[2],
                # Training alone: evaluation time is recorded apart (records before it have no train_steps_per_s: NaN).
                "train_steps_per_s": float(np.mean([r.get("train_steps_per_s", math.nan) for r in recs])),
                "term_shares": _term_shares(recs),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _ci(point: float, low: float, high: float, digits: int) -> str:
    if math.isnan(point):
        return "-"
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_table(table: Any, baseline: str | None = None) -> Any:
    """The table as display strings: one column per metric, ``IQM [95% CI]``."""
    pd = _pandas()
    out = pd.DataFrame(
        {
            "env": table["env"], "reward": table["reward"], "algo": table["algo"], "seeds": table["seeds"],
            "task return IQM [95% CI]": [_ci(*r, 1) for r in zip(table["return_iqm"], table["return_low"], table["return_high"])],
            "success IQM [95% CI]": [_ci(*r, 2) for r in zip(table["success_iqm"], table["success_low"], table["success_high"])],
            f"P(improve over {baseline or 'baseline'}) [95% CI]": [_ci(*r, 2) for r in zip(table["p_improve"], table["p_improve_low"], table["p_improve_high"])],
            "term shares of |training reward|": [", ".join(f"{k} {v:.0%}" for k, v in s.items()) or "no reward paid" for s in table["term_shares"]],
            "train steps/s": ["-" if math.isnan(v) else f"{v:,.0f}" for v in table["train_steps_per_s"]],
        }
    )  # fmt: skip
    if table["success_iqm"].isna().all():
        out = out.drop(columns=["success IQM [95% CI]"])
    return out


def _plot_env(df: Any, env: str, out: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise MissingExtraError("rewardlab.ablation report plots", "report", e) from e
    data = df[df["env"] == env]
    metrics = ["task_return"] + (["success"] if data["success"].notna().any() else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for (reward, algo), g in data.groupby(["reward", "algo"], sort=True):
            wide = g.pivot_table(index="step", columns="seed", values=metric).sort_index()
            steps = wide.index.to_numpy()
            values = wide.to_numpy()  # (steps, seeds)
            mean = np.nanmean(values, axis=1)
            # 95% band: percentile bootstrap of the mean over seeds, point by point.
            band = np.array([stratified_bootstrap_ci(v[~np.isnan(v)], _mean, 1000)[1:] for v in values])
            (line,) = ax.plot(steps, mean, label=f"{reward} / {algo} (n={values.shape[1]})")
            ax.fill_between(steps, band[:, 0], band[:, 1], color=line.get_color(), alpha=0.2)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("task return (evaluation)" if metric == "task_return" else "success rate (evaluation)")
        ax.set_title(f"{env}: {metric.replace('_', ' ')}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / f"{env}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_blend_weights(weights: Any, env: str, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = weights[weights["env"] == env]
    groups = sorted(data.groupby(["reward", "algo"], sort=True), key=lambda kv: kv[0])
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4), squeeze=False)
    for ax, ((reward, algo), g) in zip(axes[0], groups):
        for param, p in g.groupby("param", sort=True):
            wide = p.pivot_table(index="step", columns="seed", values="value").sort_index()
            values = wide.to_numpy()
            (line,) = ax.plot(wide.index.to_numpy(), np.nanmean(values, axis=1), label=f"{param} (n={values.shape[1]})")
            ax.fill_between(wide.index.to_numpy(), np.nanmin(values, axis=1), np.nanmax(values, axis=1), color=line.get_color(), alpha=0.15)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("learned parameter")
        ax.set_title(f"{env}: {reward} / {algo}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / f"{env}-blend.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _mean(x: np.ndarray) -> float | np.ndarray:
    # Mean over runs and tasks; keeps a leading batch axis like iqm().
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1).mean(axis=1) if x.ndim == 3 else float(x.mean())


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rewardlab report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
th {{ background: #f2f2f2; }}
img {{ max-width: 100%; }}
.note {{ color: #555; font-size: 0.9em; max-width: 60em; }}
</style></head>
<body data-images="pending">
<h1>rewardlab ablation: {title}</h1>
<p class="note">{summary}</p>
<h2>Final performance</h2>
<p class="note">{evaluation} evaluation on the task's own reward at the end of training. IQM over seeds with
stratified-bootstrap 95% confidence intervals; P(improve) is the probability that a run with this reward
beats a run with the baseline reward <b>{baseline}</b> on the same env and algorithm (ties count half).
Term shares: each reward term's summed absolute value over training, as a share of all terms.</p>
{table}
{distances}
<h2>Learning curves</h2>
<p class="note">Mean over seeds; the band is a 95% bootstrap interval of the mean.</p>
{plots}
{blend}
{failed}
<script>
// Marks the page when every plot has loaded, so a headless browser check can tell.
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) {{ return i.complete && i.naturalWidth > 0; }});
  document.body.setAttribute("data-images", ok ? "loaded" : "broken");
}});
</script>
</body></html>
"""


def write_report(path: str | Path, reps: int = 2000) -> tuple[Path, Any]:
    """Write ``report.html`` and ``plots/<env>.png`` into the sweep folder; returns the page's path and the display table.

    Only records of the runs in config.yaml count; the page says how many stale or corrupt records
    it left out (:meth:`SweepStatus.summary`).

    Raises:
        StoreError: not a sweep folder, or the folder is not writable (the path is named).
    """
    status = sweep_status(path)
    root, cfg = status.root, status.config
    baseline = cfg.get("baseline")
    df = load(status)
    table = final_table(status, baseline, reps)
    shown = format_table(table, baseline) if len(table) else None
    plots_dir = root / "plots"
    try:
        plots_dir.mkdir(exist_ok=True)
        plots = "\n".join(
            f'<h3>{html.escape(env)}</h3><img src="plots/{html.escape(p.name)}" alt="learning curves on {html.escape(env)}">'
            for env in sorted(df["env"].unique())
            for p in [_plot_env(df, env, plots_dir)]
        )
    except OSError as e:
        raise StoreError(f"Cannot write the report's plots into `{plots_dir}`: {e.strerror or e}") from e
    weights = load_blend_weights(status)
    blend_html = ""
    if len(weights):
        try:
            images = "\n".join(
                f'<h3>{html.escape(env)}</h3><img src="plots/{html.escape(p.name)}" alt="learned blend weights on {html.escape(env)}">'
                for env in sorted(weights["env"].unique())
                for p in [_plot_blend_weights(weights, env, plots_dir)]
            )
        except OSError as e:
            raise StoreError(f"Cannot write the report's plots into `{plots_dir}`: {e.strerror or e}") from e
        blend_html = ("<h2>Learned blend weights</h2><p class=\"note\">Per rollout, from each run's outer step "
                      "(<code>blend/&lt;term&gt;/&lt;param&gt;</code> in its learner log): mean over seeds, the band spans min to max.</p>" + images)
    failed = list(status.scan.failed.values())
    failed_html = ""
    if failed:
        items = "".join(f"<li><code>{html.escape(r['key'])}</code>: {html.escape(str(r.get('error')))}</li>" for r in failed)
        failed_html = f"<h2>Failed runs</h2><ul>{items}</ul>"
    page = _PAGE.format(
        title=html.escape(str(cfg.get("name", root.name))),
        summary=html.escape(status.summary()),
        baseline=html.escape(str(baseline)),
        evaluation="Deterministic (greedy)" if (cfg.get("evaluation") or {}).get("deterministic", True) else "Stochastic (sampled actions)",
        table=shown.to_html(index=False, border=0) if shown is not None else "<p>No completed runs.</p>",
        distances=matrices_html(cfg),
        plots=plots or "<p>No curves.</p>",
        blend=blend_html,
        failed=failed_html,
    )
    return RunStore(root, create=False).write_text("report.html", page), shown
