"""Fault injection in the ablation runner: after each fault no finished result is lost, no run is
duplicated, and the report still builds.

Faults: SIGKILL of the driver and of a run process at seeded random points, a corrupt record, a
full disk (a small tmpfs filled up mid-sweep), a read-only store (the tmpfs remounted read-only)
and a Ray worker killed mid-run (a local Ray on loopback). Runs are tiny (the 5-step TinyEnv of
ablation_helpers, 32 PPO steps, each env step sleeping 20-30 ms so a run lasts long enough to be
hit); the invariants, not the numbers, are under test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ablation_helpers import remount_ro
import yaml

from rewardlab.ablation import ablate, expand, validate, write_report
from rewardlab.ablation.store import check_record
from rewardlab.errors import StoreError

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
ALGO = {"algo": "PPO", "hyperparams": {"n_steps": 16, "batch_size": 16, "n_epochs": 1}}


def tiny(name, seeds=2, delay=0.03):
    return {
        "name": name, "seeds": seeds, "budget": {"total_steps": 32}, "evaluation": {"every": 16, "episodes": 2},
        "envs": [{"id": "ablation_helpers:Tiny-v0", "label": "Tiny", "kwargs": {"delay": delay}}],
        "rewards": {"env": "EnvReward"}, "algorithms": [ALGO],
    }  # fmt: skip


@pytest.fixture(autouse=True)
def helpers_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(HERE.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # the process has ended
        return ""


def run_processes(driver: int) -> list[int]:
    """The driver's spawned run processes (not multiprocessing's resource tracker), read from /proc."""
    try:
        children = Path(f"/proc/{driver}/task/{driver}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children if "spawn_main" in cmdline(int(c))]


def cli(config: dict, out: Path, *extra: str) -> list[str]:
    path = out.parent / f"{config['name']}-{config['seeds']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "rewardlab", "ablate", str(path), "--out", str(out), "--no-report", *extra]


def records(out: Path) -> dict[str, dict]:
    """Every record in runs/, each checked to be a complete, valid record (never a partial file)."""
    found = {}
    for p in (out / "runs").glob("*.json"):
        if p.name.startswith("."):  # a writer's temp file (.tmp-*.json), never read as a record
            continue
        rec = json.loads(p.read_text())
        assert check_record(rec, p.stem) is None, p
        found[p.stem] = rec
    return found


def wait_for(predicate, proc, what, limit=120.0):
    """Poll ``predicate`` every 20 ms; fail if ``proc`` (a driver subprocess, or None) ends first or time runs out."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert proc is None or proc.poll() is None, f"the sweep ended before {what}: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline, f"no {what} within {limit} s"
        time.sleep(0.02)


def assert_invariants(out: Path, before: dict[str, dict], cfg: dict) -> dict[str, dict]:
    """No finished result lost (records from before are byte-for-byte unchanged), none duplicated, report builds."""
    after = records(out)
    keys = {r["key"] for r in expand(validate(cfg))}
    assert set(after) <= keys  # one file per run key: a run cannot be stored twice
    for key, rec in before.items():
        if rec["status"] == "completed":
            assert after[key] == rec, f"finished run {key} was lost or re-run"
    page, _ = write_report(out, reps=100)
    assert page.is_file()
    return after


def test_sigkill_of_the_driver_at_random_points(tmp_path):
    rng = random.Random(16)  # seeded: the same kill points on every run of the test
    cfg = tiny("kill", seeds=2)
    out = tmp_path / "sweep"
    cmd = cli(cfg, out, "--workers", "2")
    kills = []
    for _ in range(2):
        seen = len(records(out)) if (out / "runs").is_dir() else 0
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill point: a random 0-4 s after the run processes start (importing, training, evaluating or writing).
        wait_for(lambda: bool(run_processes(proc.pid)) or len(records(out)) > seen, proc, "a run process")
        delay = rng.uniform(0.0, 4.0)
        time.sleep(delay)
        before = records(out)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = records(out)  # a run may have written its record just before the kill
        time.sleep(1.0)  # an orphaned run process would write here; PR_SET_PDEATHSIG must have ended it
        kills.append(round(delay, 2))
        assert records(out) == at_kill
        assert_invariants(out, before, cfg)
    before = records(out)
    counts = ablate(cfg, out, workers=2, report=False)
    assert counts["failed_total"] == 0 and counts["completed"] + counts["skipped"] == 2
    after = assert_invariants(out, before, cfg)
    assert len(after) == 2 and all(r["status"] == "completed" for r in after.values()), kills
    assert not list((out / "runs").glob(".tmp-*"))


def in_background(fn):
    """Run ``fn`` in a daemon thread while the sweep runs in this process; join it after."""
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def test_sigkill_of_a_run_process_then_a_corrupt_record(tmp_path, capsys):
    rng = random.Random(17)
    cfg = tiny("worker", seeds=2)
    out = tmp_path / "sweep"
    killed: list[int] = []

    def kill_a_run_process():
        wait_for(lambda: len(run_processes(os.getpid())) == 2, None, "two run processes")
        time.sleep(rng.uniform(0.0, 1.5))
        killed.append(rng.choice(sorted(run_processes(os.getpid()))))
        os.kill(killed[-1], signal.SIGKILL)

    killer = in_background(kill_a_run_process)
    counts = ablate(cfg, out, workers=2, report=False)
    killer.join(10)
    assert killed, "the killer found no run process"
    # One run died: it is recorded as failed (the CLI's exit status would be 1), the other completed.
    assert (counts["completed"], counts["failed"], counts["failed_total"]) == (1, 1, 1)
    first = records(out)
    assert sorted(r["status"] for r in first.values()) == ["completed", "failed"]
    dead = next(r for r in first.values() if r["status"] == "failed")
    assert dead["error"] == "run process exited with code -9 without writing a record"
    assert_invariants(out, first, cfg)
    # Then a corrupt record (a truncated file, as a crashed copy would leave) beside the failed one: the
    # retry names it by path, moves it aside and runs both again, each once.
    key = next(k for k, r in first.items() if r["status"] == "completed")
    bad = out / "runs" / f"{key}.json"
    bad.write_text(bad.read_text()[: rng.randrange(1, 200)])
    capsys.readouterr()
    retried = ablate(cfg, out, retry_failed=True, report=False)
    assert (retried["corrupt"], retried["completed"], retried["skipped"], retried["failed_total"]) == (1, 2, 0, 0)
    assert f"corrupt record moved aside to {bad}.corrupt" in capsys.readouterr().err
    second = assert_invariants(out, {}, cfg)
    assert len(second) == 2 and all(r["status"] == "completed" for r in second.values()) and Path(f"{bad}.corrupt").is_file()


def test_full_disk_then_read_only_store(tmp_path, tmpfs):
    cfg = tiny("disk", seeds=2, delay=0.03)
    out = tmp_path / "sweep"
    runs = tmpfs(out / "runs", "512k")
    filler = runs / ".filler"
    before: dict[str, dict] = {}

    def fill_the_disk_after_the_first_record():
        # The disk fills up while the second run trains: write a filler until the filesystem refuses.
        wait_for(lambda: len(records(out)) == 1, None, "the first record")
        before.update(records(out))
        try:  # around the `with` too: closing flushes the last buffer, which fails again
            with open(filler, "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass

    filling = in_background(fill_the_disk_after_the_first_record)
    with pytest.raises(StoreError, match=r"Cannot write the run record `.*\.json`: No space left on device \(the disk is full\)"):
        ablate(cfg, out, workers=1, report=False)
    filling.join(10)
    assert len(before) == 1
    assert records(out) == before and not list(runs.glob(".tmp-*"))  # nothing partial, the stored record intact
    filler.unlink()
    assert_invariants(out, before, cfg)
    counts = ablate(cfg, out, workers=1, report=False)
    assert (counts["completed"], counts["skipped"], counts["failed_total"]) == (1, 1, 0)
    full = assert_invariants(out, before, cfg)
    assert len(full) == 2

    # A read-only store: refused before any run trains (a third seed would have run), naming runs/.
    remount_ro(runs)
    with pytest.raises(StoreError, match=f"Cannot write run records into `{runs}`: Read-only file system"):
        ablate(tiny("disk", seeds=3), out, report=False)
    assert records(out) == full
    write_report(out, reps=100)  # report.html lives beside runs/, which it only reads


def test_ray_worker_killed_mid_run(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    rng = random.Random(18)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    cfg = tiny("ray", seeds=2, delay=0.03)
    killed: list[int] = []

    def kill_one_worker():
        # Ray names a worker process after the task it runs; kill the first one seen, after a random wait.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = sorted(int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and "ray::execute_run" in cmdline(int(d.name)))
            if workers:
                time.sleep(rng.uniform(0.0, 1.0))
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    try:
        counts = ablate(cfg, tmp_path, backend="ray", report=False)
        killer.join(10)
        first = records(tmp_path)
        assert killed, "no Ray worker was found running a run"
        # The killed task's run is recorded failed (max_retries=0: Ray does not run it twice); the other completed.
        assert (counts["completed"], counts["failed"]) == (1, 1)
        assert sorted(r["status"] for r in first.values()) == ["completed", "failed"]
        assert "Ray task failed" in next(r for r in first.values() if r["status"] == "failed")["error"]
        assert_invariants(tmp_path, first, cfg)
        again = ablate(cfg, tmp_path, backend="ray", retry_failed=True, report=False)
    finally:
        ray.shutdown()
    assert (again["completed"], again["failed"], again["failed_total"]) == (1, 0, 0)
    final = assert_invariants(tmp_path, first, cfg)
    assert len(final) == 2 and all(r["status"] == "completed" for r in final.values())
