"""A sweep's records as CSV files, for tools that do not read JSON (spreadsheets, R, pandas elsewhere).

:func:`export_csv` writes three files, each row led by the run's ``key, env, reward, algo, seed``:

* ``curves.csv`` — one row per evaluation: ``step, task_return, success``;
* ``episodes.csv`` — one row per training episode: ``step, task_return, success, length``, each term's
  episode sum as ``terms/<name>``, and any other per-episode field a trainer records (per-agent
  fields of multi-agent runs, ``reward_fallbacks``); nested mappings become ``<field>/<key>``;
* ``learner_log.csv`` — one row per rollout with learned-term and blend metrics (``bonus/...``, ``blend/...``).

Only **completed** runs of the sweep's **current** config count, selected exactly as the report
selects them (:func:`rewardlab.ablation.report.sweep_status`): stale records of another config or
rewardlab version, failed runs and corrupt records are left out, never mixed in.

Functions: :func:`export_csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rewardlab._io import write_atomic
from rewardlab.errors import StoreError

__all__ = ["RUN_COLUMNS", "export_csv"]

#: The columns that name a row's run, first in every file.
RUN_COLUMNS = ("key", "env", "reward", "algo", "seed")


def _run_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    spec = record["spec"]
    return {"key": record["key"], "env": spec["env"]["label"], "reward": spec["reward_name"],
            "algo": spec["algo"]["name"], "seed": spec["seed"]}  # fmt: skip


def _flat(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened to ``a/b`` columns; lists are written as their text."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{name}/"))
        else:
            out[name] = v
    return out


def _csv(rows: Iterable[dict[str, Any]]) -> str:
    rows = list(rows)
    columns: dict[str, None] = dict.fromkeys(RUN_COLUMNS)
    for row in rows:  # the union of every row's columns, in first-seen order
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def export_csv(sweep: str | Path, out: str | Path) -> dict[str, Any]:
    """Write ``curves.csv``, ``episodes.csv`` and ``learner_log.csv`` of `sweep`'s completed runs into `out`.

    Args:
        sweep: the sweep folder (holding ``config.yaml`` and ``runs/``).
        out: the folder to write into (created).

    Returns:
        ``{"runs": completed runs exported, "left_out": failed/missing/stale/corrupt counts, "files": paths}``.

    Raises:
        StoreError: `sweep` is not a sweep folder, or `out` cannot be written.

    Example:
        >>> import tempfile
        >>> try:
        ...     export_csv(tempfile.mkdtemp(), tempfile.mkdtemp())
        ... except StoreError as e:
        ...     print(str(e).split(": ")[0].endswith("is not a sweep folder"))
        True
    """
    from rewardlab.ablation.report import sweep_status

    status = sweep_status(sweep)
    runs = [status.scan.completed[s["key"]] for s in status.runs if s["key"] in status.scan.completed]
    curves, episodes, learner = [], [], []
    for record in runs:
        lead = _run_columns(record)
        curves += [{**lead, **_flat(row)} for row in record.get("curve", [])]
        episodes += [{**lead, **_flat(row)} for row in record.get("episodes", [])]
        learner += [{**lead, **_flat(row)} for row in record.get("learner_log", [])]
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"Cannot create the export folder `{folder}`: {e}") from e
    files = {}
    for name, rows in (("curves.csv", curves), ("episodes.csv", episodes), ("learner_log.csv", learner)):
        path = folder / name
        try:
            write_atomic(path, _csv(rows))
        except OSError as e:
            raise StoreError(f"Cannot write `{path}`: {e}") from e
        files[name] = str(path)
    left_out = {"failed": status.failed, "missing": status.missing, "stale": len(status.stale), "corrupt": len(status.corrupt)}
    return {"runs": len(runs), "left_out": left_out, "files": files}
