"""The store's honesty: only records of the sweep's current config count, corrupt records are named,
moved aside and re-queued, and filesystem faults are typed errors naming the path.

No training here: records are written by hand from ``expand`` of a real config (the runs a sweep
would make), so every expected count below is the number of records the test wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ablation_helpers import remount_ro
import yaml

import rewardlab
from rewardlab.ablation import expand, final_table, validate, write_report
from rewardlab.ablation.report import sweep_status
from rewardlab.ablation.runner import run_sweep
from rewardlab.ablation.store import RunStore
from rewardlab.errors import StoreError

ROOT = Path(__file__).parents[2]


def config(seeds=2, total_steps=64):
    return validate({
        "name": "st", "seeds": seeds, "budget": {"total_steps": total_steps}, "evaluation": {"every": 32, "episodes": 1},
        "rewards": {"env": "EnvReward"}, "algorithms": [{"algo": "PPO", "hyperparams": {"n_steps": 32, "batch_size": 32}}],
        "envs": [{"id": "CartPole-v1", "label": "Pole"}],
    })  # fmt: skip


def record(spec, final=10.0, status="completed"):
    """A record as execute_run writes it (the fields the store and report read)."""
    rec = {"key": spec["key"], "spec": spec, "seed": spec["seed"], "status": status, "versions": {"rewardlab": rewardlab.__version__}}
    if status == "completed":
        rec.update(steps=spec["total_steps"], budget=spec["total_steps"], steps_per_s=100.0, train_steps_per_s=200.0,
                   curve=[{"step": 0, "task_return": 9.0, "success": 0.0}, {"step": spec["total_steps"], "task_return": final, "success": 0.0}],
                   final={"task_return": final, "success": 0.0}, term_abs_totals={"env": 1.0})  # fmt: skip
    else:
        rec.update(error="RuntimeError: boom", steps=0)
    return rec


def sweep(root, cfg, finals=None):
    """Write config.yaml as `ablate` does and one completed record per run."""
    store = RunStore(root)
    (Path(root) / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    runs = expand(cfg)
    for i, spec in enumerate(runs):
        store.write(record(spec, final=(finals or {}).get(i, 10.0)))
    return store, runs


def test_report_uses_only_the_current_config(tmp_path):
    # Found 1: a 2-seed sweep re-run into the same folder with 1 seed and another budget pooled both.
    sweep(tmp_path, config(seeds=2, total_steps=64), finals={0: 0.0, 1: 0.0})
    new = config(seeds=1, total_steps=96)
    sweep(tmp_path, new, finals={0: 50.0})
    table = final_table(tmp_path, reps=100)
    # The current config has 1 run (seed 0, 96 steps); the 2 records of the 64-step config are stale.
    assert table["seeds"].tolist() == [1] and table["return_iqm"].tolist() == [50.0]
    status = sweep_status(tmp_path)
    assert (status.completed, status.failed, status.missing, len(status.stale), len(status.corrupt)) == (1, 0, 0, 2, 0)
    page, shown = write_report(tmp_path, reps=100)
    text = page.read_text()
    assert "2 stale records" in text and "--clean" in text
    assert shown["seeds"].tolist() == [1]


def test_record_of_another_rewardlab_version_is_stale(tmp_path):
    # The key hashes the run spec; the rewardlab version is checked beside it (its trainers and envs make the numbers).
    store, runs = sweep(tmp_path, config(seeds=2))
    rec = store.get(runs[1]["key"])
    rec["versions"]["rewardlab"] = "0.0.1"
    store.write(rec)
    status = sweep_status(tmp_path)
    assert status.completed == 1 and status.missing == 1 and [p.name for p in status.stale] == [f"{runs[1]['key']}.json"]
    assert final_table(tmp_path, reps=100)["seeds"].tolist() == [1]


def test_mixed_library_versions_are_said_not_enforced(tmp_path):
    # Library versions (torch, SB3, numpy...) are recorded but not part of the key: the report says when they differ.
    store, runs = sweep(tmp_path, config(seeds=2))
    for spec, torch_version in zip(runs, ["2.3.0", "2.4.1"]):
        rec = store.get(spec["key"])
        rec["versions"]["torch"] = torch_version
        store.write(rec)
    status = sweep_status(tmp_path)
    assert status.completed == 2 and status.stale == []
    assert "different library versions: torch 2.3.0 / 2.4.1" in status.summary()


def _corruptions(spec):
    good = record(spec)
    wrong_status = dict(good, status="done")
    missing = {k: v for k, v in good.items() if k != "curve"}
    other_spec = dict(good, spec=dict(spec, seed=99))  # spec no longer hashes to the key
    return {
        "json": "{not json",
        "empty": "{}",
        "list": "[1, 2]",
        "status": json.dumps(wrong_status),
        "missing_curve": json.dumps(missing),
        "spec_hash": json.dumps(other_spec),
    }


@pytest.mark.parametrize("kind", ["json", "empty", "list", "status", "missing_curve", "spec_hash"])
def test_corrupt_record_is_named_left_out_and_requeued(tmp_path, kind):
    # Found 2: garbage crashed `report` with a JSONDecodeError naming no file; `{}` counted as finished, then KeyError.
    store, runs = sweep(tmp_path, config(seeds=2))
    bad = store.path(runs[0]["key"])
    bad.write_text(_corruptions(runs[0])[kind])
    status = sweep_status(tmp_path)
    assert status.completed == 1 and status.missing == 1
    assert [p for p, _ in status.corrupt] == [bad]
    page, shown = write_report(tmp_path, reps=100)  # the report still builds, from the one good record
    assert shown["seeds"].tolist() == [1] and str(bad) in page.read_text()
    # The sweep moves it aside as <key>.json.corrupt and runs it again (here: the run plan, before training).
    plan = store.scan(runs, move_aside=True)
    assert [s["key"] for s in plan.todo] == [runs[0]["key"]]
    assert not bad.exists() and bad.with_name(bad.name + ".corrupt").read_text() == _corruptions(runs[0])[kind]


def test_clean_moves_stale_records_aside(tmp_path):
    sweep(tmp_path, config(seeds=2, total_steps=64))
    store, runs = sweep(tmp_path, config(seeds=1, total_steps=96))
    plan = store.scan(runs, clean=True)
    assert plan.todo == [] and len(plan.stale) == 2
    # Moved, not deleted: stale/ keeps them for a human to look at.
    assert sorted(p.parent.name for p in plan.stale) == ["stale", "stale"] and all(p.exists() for p in plan.stale)
    assert store.keys() == [runs[0]["key"]]
    assert sweep_status(tmp_path).stale == []


def test_failed_runs_are_counted_and_kept_unless_retried(tmp_path, capsys):
    # Found 3: a re-run counted failed runs as "already in store" and said nothing.
    store, runs = sweep(tmp_path, config(seeds=2))
    store.write(record(runs[1], status="failed"))
    counts = run_sweep(runs, store, stream=sys.stderr)
    err = capsys.readouterr().err
    assert counts["skipped"] == 1 and counts["failed_earlier"] == 1 and counts["failed_total"] == 1
    assert "1 failed earlier" in err and "--retry-failed" in err


def test_report_of_a_folder_without_a_sweep_is_an_error(tmp_path):
    # Found 8: `rewardlab report .` in the repo root (which has runs/<name>/ folders) wrote an empty report, exit 0.
    sweep(tmp_path / "runs" / "st", config(seeds=1))
    out = subprocess.run([sys.executable, "-m", "rewardlab", "report", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert str(tmp_path) in out.stderr and "config.yaml" in out.stderr and "runs/st" in out.stderr  # names the sweep it found below
    assert not (tmp_path / "report.html").exists()


def test_out_naming_a_file_is_a_store_error(tmp_path):
    # Found 4: `--out` naming a file gave a raw FileExistsError traceback.
    target = tmp_path / "a_file"
    target.write_text("x")
    with pytest.raises(StoreError, match="a_file"):
        RunStore(target)


def test_read_only_runs_folder_is_caught_before_any_run(tmp_path, tmpfs):
    # Found 4: a read-only runs/ let a run train to the end, then lost its record with a raw traceback.
    store, runs = sweep(tmp_path, config(seeds=1))
    more = expand(config(seeds=2))
    remount_ro(tmpfs(tmp_path / "runs"))
    with pytest.raises(StoreError, match=str(tmp_path / "runs")):
        run_sweep(more, RunStore(tmp_path), stream=sys.stderr)


def test_read_only_output_folder_is_a_store_error(tmp_path, tmpfs):
    out = tmpfs(tmp_path / "ro")
    remount_ro(out)
    with pytest.raises(StoreError, match=str(out)):
        RunStore(out / "sweep")


def test_report_into_a_read_only_folder_is_a_store_error(tmp_path, tmpfs):
    root = tmpfs(tmp_path / "sweep")
    sweep(root, config(seeds=1))
    remount_ro(root)
    with pytest.raises(StoreError, match="report.html|plots"):
        write_report(root, reps=100)


def test_store_write_failure_names_the_path(tmp_path, tmpfs):
    # A full disk while writing: the error names the record's path; no temp file is left behind.
    runs_dir = tmpfs(tmp_path / "runs", size="8k")
    store = RunStore(tmp_path)
    spec = expand(config(seeds=1))[0]
    big = dict(record(spec), episodes=[{"x": "y" * 100}] * 200)  # about 20 kB, over the 8 kB disk
    with pytest.raises(StoreError, match=f"{spec['key']}.json"):
        store.write(big)
    assert os.listdir(runs_dir) == []
