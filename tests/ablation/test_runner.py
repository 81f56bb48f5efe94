"""The sweep runner: store round trip, crash isolation, resume after SIGKILL, and the Ray backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from rewardlab.ablation import ablate, expand, load, validate
from rewardlab.ablation.store import RunStore

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# Tiny PPO runs: 2 rollouts of 16 steps on the 5-step TinyEnv, evaluated at 0, 16 and 32 steps.
ALGO = {"algo": "PPO", "hyperparams": {"n_steps": 16, "batch_size": 16, "n_epochs": 1}}


def tiny_config(name, rewards=None, seeds=2, env_kwargs=None):
    return {
        "name": name,
        "envs": [{"id": "ablation_helpers:Tiny-v0", "label": "Tiny", "kwargs": env_kwargs or {}}],
        "rewards": rewards or {"env": "EnvReward", "bonus": {"type": "Sum", "terms": ["EnvReward", {"type": "Constant", "value": 0.5}]}},
        "algorithms": [ALGO],
        "seeds": seeds,
        "budget": {"total_steps": 32},
        "evaluation": {"every": 16, "episodes": 2},
    }


@pytest.fixture(autouse=True)
def helpers_on_path(monkeypatch):
    # Spawned run processes inherit sys.path; subprocesses and Ray workers inherit PYTHONPATH.
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(HERE.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def test_sweep_store_roundtrip_and_skip(tmp_path):
    out = tmp_path / "sweep"
    counts = ablate(tiny_config("rt"), out, workers=2, report=False)
    assert counts == {"total": 4, "skipped": 0, "completed": 4, "failed": 0, "out": str(out)}
    store = RunStore(out)
    keys = {r["key"] for r in expand(validate(tiny_config("rt")))}
    assert set(store.keys()) == keys
    rec = store.get(sorted(keys)[0])
    assert rec["status"] == "completed" and rec["steps"] == 32
    assert [p["step"] for p in rec["curve"]] == [0, 16, 32]
    assert set(rec["versions"]) >= {"rewardlab", "torch", "stable_baselines3", "gymnasium", "numpy"}
    # TinyEnv pays 1 per action 1 over 5 steps, so every episode's task return is in 0..5 and an
    # evaluation mean of 2 episodes is a multiple of 0.5; success is reported by the env (>= 3).
    for ep in rec["episodes"]:
        assert ep["length"] == 5 and ep["task_return"] == ep["terms"]["env"]
        assert ep["success"] == float(ep["task_return"] >= 3)
    # The Constant(0.5) term contributes 0.5 per step: 2.5 per 5-step episode, never to the task return.
    bonus = [r for r in store.records() if r["spec"]["reward_name"] == "bonus"][0]
    assert all(ep["terms"]["constant"] == 2.5 for ep in bonus["episodes"])
    df = load(out)
    assert list(df.columns) == ["key", "env", "reward", "algo", "seed", "status", "step", "task_return", "success"]
    assert len(df) == 4 * 3 and set(df["reward"]) == {"env", "bonus"} and set(df["seed"]) == {0, 1}
    assert np.all(np.isin(df["task_return"] * 2, np.arange(11)))
    before = {k: store.path(k).read_text() for k in keys}
    again = ablate(tiny_config("rt"), out, workers=2, report=False)
    assert again["skipped"] == 4 and again["completed"] == 0
    assert {k: store.path(k).read_text() for k in keys} == before  # not re-run, not rewritten


def test_parallel_env_run(tmp_path):
    # Rock-paper-scissors, 2 agents, 4 rounds per episode; parameter-shared PPO for 32 agent-steps.
    cfg = tiny_config("rps", rewards={"env": "EnvReward"}, seeds=1)
    cfg["envs"] = [{"parallel_env": "pettingzoo.classic.rps_v2:parallel_env", "kwargs": {"max_cycles": 4}, "label": "rps"}]
    counts = ablate(cfg, tmp_path, report=False)
    assert (counts["completed"], counts["failed"]) == (1, 0)
    rec = RunStore(tmp_path).records()[0]
    assert [p["step"] for p in rec["curve"]] == [0, 16, 32]
    # rps is zero-sum: the two agents' task returns cancel, so the per-agent mean is exactly 0.
    assert all(p["task_return"] == 0.0 for p in rec["curve"])
    # 32 agent-steps / (2 agents x 4 rounds) = 4 episode ends per agent slot pair: 8 agent episodes.
    assert len(rec["episodes"]) == 8 and all(ep["length"] == 4 for ep in rec["episodes"])


def test_crashing_run_is_recorded_and_sweep_continues(tmp_path):
    rewards = {"env": "EnvReward", "crash": {"type": "FromFunction", "fn": "ablation_helpers:boom"}}
    counts = ablate(tiny_config("crash", rewards, seeds=1), tmp_path, workers=2, report=False)
    assert (counts["completed"], counts["failed"]) == (1, 1)
    failed = [r for r in RunStore(tmp_path).records() if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["spec"]["reward_name"] == "crash"
    assert failed[0]["error"] == "RuntimeError: boom: this reward function always crashes"
    assert "ablation_helpers.py" in failed[0]["traceback"]
    # Failed runs are kept (not retried) unless asked.
    assert ablate(tiny_config("crash", rewards, seeds=1), tmp_path, report=False)["skipped"] == 2


def test_resume_after_sigkill(tmp_path):
    # 3 runs, one at a time; each sleeps 30 ms per env step (32 steps + 3 evaluations of 10 steps ~ 2 s),
    # so the sweep is killed while the second run is in flight.
    cfg = tiny_config("kill", rewards={"env": "EnvReward"}, seeds=3, env_kwargs={"delay": 0.03})
    config_path = tmp_path / "kill.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "rewardlab", "ablate", str(config_path), "--out", str(out), "--workers", "1", "--no-report"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runs_dir = out / "runs"
    deadline = time.monotonic() + 120
    while not (runs_dir.is_dir() and any(runs_dir.glob("*.json"))):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no run finished within 120 s"
        time.sleep(0.05)
    time.sleep(0.5)  # the next run process is now started and training
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # an orphan run (if the run process survived its sweep) would keep writing here
    first = {p.stem: json.loads(p.read_text()) for p in runs_dir.glob("*.json")}
    assert 1 <= len(first) < 3, "the kill must land mid-sweep"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    after = {p.stem: json.loads(p.read_text()) for p in runs_dir.glob("*.json")}
    keys = {r["key"] for r in expand(validate(cfg))}
    assert set(after) == keys and len(list(runs_dir.glob("*.json"))) == 3  # each run recorded exactly once
    assert not list(runs_dir.glob(".tmp-*"))
    assert all(r["status"] == "completed" for r in after.values())
    for key, rec in first.items():  # runs finished before the kill were not executed again
        assert after[key] == rec
    assert f"{len(first)} already in store" in done.stderr


def test_ray_backend_runs_two_tiny_runs(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        counts = ablate(tiny_config("ray", rewards={"env": "EnvReward"}), tmp_path, backend="ray", report=False)
    finally:
        ray.shutdown()
    assert (counts["completed"], counts["failed"]) == (2, 0)
    records = RunStore(tmp_path).records()
    # Records come back to the driver, which writes them; the runs ran in Ray worker processes.
    assert len(records) == 2 and all(r["pid"] != os.getpid() for r in records)
    assert sorted(r["seed"] for r in records) == [0, 1]
    assert all([p["step"] for p in r["curve"]] == [0, 16, 32] for r in records)
