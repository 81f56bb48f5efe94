"""The sweep runner: store round trip, crash isolation, resume after SIGKILL, and the Ray backend."""

from __future__ import annotations

import io
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
    assert counts == {"total": 4, "skipped": 0, "completed": 4, "failed": 0, "failed_earlier": 0, "failed_total": 0,
                      "stale": 0, "corrupt": 0, "out": str(out)}
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
    # A 40-step budget with 16-step rollouts: PPO trains 48 steps (3 whole rollouts); each env step sleeps 10 ms.
    cfg = tiny_config("crash", rewards, seeds=1, env_kwargs={"delay": 0.01})
    cfg["budget"] = {"total_steps": 40}
    grid = io.StringIO()
    counts = ablate(cfg, tmp_path, workers=2, report=False, stream=grid)
    assert (counts["completed"], counts["failed"]) == (1, 1)
    # Found 8: the rounding was silent. The grid says it, and the record keeps both numbers.
    assert "PPO on Tiny rounds 40 steps up to 48 (whole rollouts of n_envs x n_steps = 1 x 16)" in grid.getvalue()
    records = RunStore(tmp_path).records()
    failed = [r for r in records if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["spec"]["reward_name"] == "crash"
    assert failed[0]["error"] == "RuntimeError: boom: this reward function always crashes"
    assert "ablation_helpers.py" in failed[0]["traceback"]
    done = [r for r in records if r["status"] == "completed"][0]
    assert (done["budget"], done["steps"]) == (40, 48)
    # Found 8: steps/s counted evaluation time. Evaluations at 0, 16, 32 and 48 steps, 2 five-step
    # episodes each: 40 evaluation steps of >= 10 ms, so >= 0.4 s of evaluation, and >= 0.48 s of training.
    assert done["eval_time_s"] >= 0.4 and done["train_time_s"] >= 0.48
    assert done["train_time_s"] + done["eval_time_s"] == pytest.approx(done["learn_time_s"])
    assert done["train_steps_per_s"] == pytest.approx(48 / done["train_time_s"])
    assert done["train_steps_per_s"] > done["steps_per_s"]
    # Found 3: a re-run counted the failed run as "already in store" and exited 0 with no table. Now it
    # is kept (not retried) unless asked, said, the table of what completed is printed, and the exit is 1.
    config_path = tmp_path / "crash.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "rewardlab", "ablate", str(config_path), "--out", str(tmp_path)]
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert again.returncode == 1, again.stderr
    assert "1 already in store, 1 failed earlier" in again.stderr and "--retry-failed" in again.stderr
    rows = [line.split()[:4] for line in again.stdout.splitlines()]
    assert "task return IQM" in again.stdout and ["Tiny", "env", "PPO", "1"] in rows  # the completed run's row: 1 seed
    assert {p.stem for p in (tmp_path / "runs").glob("*.json")} == {r["key"] for r in records}  # nothing re-run


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


def test_unreachable_ray_address_fails_within_the_timeout(tmp_path, monkeypatch):
    # Found 5: an unreachable RAY_ADDRESS hung forever. A port on 127.0.0.1 that nothing listens on
    # (bound, then closed) refuses connections; the sweep must give up after --ray-timeout (2 s here).
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    config_path = tmp_path / "ray.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config("ray", rewards={"env": "EnvReward"}, seeds=1)))
    cmd = [sys.executable, "-m", "rewardlab", "ablate", str(config_path), "--out", str(tmp_path / "out"),
           "--backend", "ray", "--ray-timeout", "2", "--no-report"]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "RAY_ADDRESS": address})
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert f"error: Cannot reach the Ray cluster at `{address}` (RAY_ADDRESS) within 2 s" in done.stderr
    assert "Traceback" not in done.stderr
    # Generous bound (a loaded 2-core box): process start, config validation and the 2 s wait, well under the 60 s default.
    assert took < 50
    assert list((tmp_path / "out" / "runs").glob("*.json")) == []


def test_sigkilled_torchppo_run_resumes_from_its_checkpoint(tmp_path):
    """Issue 17: the store resumes a long run from its last checkpoint after a SIGKILL instead of
    starting over. One TorchPPO run of 10 rollouts x 16 steps on TinyEnv sleeping 30 ms a step
    (~5 s); REWARDLAB_CHECKPOINT_EVERY_S=0 checkpoints after every rollout (ppo._train_request)."""
    from rewardlab.baselines.checkpoint import load_checkpoint

    cfg = tiny_config("resume", rewards={"env": "EnvReward"}, seeds=[0], env_kwargs={"delay": 0.03})
    cfg["algorithms"] = [{"algo": "TorchPPO", "hyperparams": {"n_steps": 16, "batch_size": 16, "n_epochs": 1}}]
    cfg["budget"] = {"total_steps": 160}
    cfg["evaluation"] = {"every": 80, "episodes": 1}
    config_path = tmp_path / "resume.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "sweep"
    (key,) = [r["key"] for r in expand(validate(cfg))]
    folder = out / "checkpoints" / key
    env = {**os.environ, "REWARDLAB_CHECKPOINT_EVERY_S": "0"}
    cmd = [sys.executable, "-m", "rewardlab", "ablate", str(config_path), "--out", str(out), "--workers", "1", "--no-report"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while load_checkpoint(folder) is None or load_checkpoint(folder)["rollout"] < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint of rollout 3 within 120 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # the run process dies with its sweep (PR_SET_PDEATHSIG)
    killed_at = load_checkpoint(folder)["rollout"]
    assert 3 <= killed_at < 10, "the kill must land mid-run"
    assert not (out / "runs" / f"{key}.json").exists()

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    rec = RunStore(out).get(key)
    assert rec["status"] == "completed" and rec["steps"] == 160
    # It went on from the checkpoint, not from rollout 0 ...
    assert rec["resumed_at_rollout"] == killed_at
    # ... and the checkpoint is gone once the record is stored.
    assert not folder.exists()
    # Same numbers as an uninterrupted run of the same spec (PPO's checkpoints pickle the envs).
    whole = tmp_path / "whole"
    ablate(cfg, whole, workers=1, report=False)
    ref = RunStore(whole).get(key)
    assert "resumed_at_rollout" not in ref
    assert rec["curve"] == ref["curve"] and rec["episodes"] == ref["episodes"]
    assert not (whole / "checkpoints" / key).exists()


def test_a_trainer_writing_into_its_hyperparams_leaves_the_record_keyed_and_reused(tmp_path):
    # SB3 adds `use_sde` to the `policy_kwargs` dict it is given. Before the runner handed trainers a copy, that
    # write reached the stored spec, every record failed its key check ("does not hash to its key") and each
    # sweep ran the grid again. Now a second sweep of the same config skips every run.
    cfg = tiny_config("sde", rewards={"env": "EnvReward"}, seeds=1)
    cfg["envs"] = [{"id": "Pendulum-v1", "label": "Pendulum"}]
    cfg["algorithms"] = [{"algo": "SAC", "hyperparams": {"learning_starts": 8, "batch_size": 8, "policy_kwargs": {"net_arch": [8]}}}]
    out = tmp_path / "sweep"
    assert ablate(cfg, out, workers=1, report=False)["completed"] == 1
    (record,) = RunStore(out).records()
    assert record["spec"]["algo"]["hyperparams"]["policy_kwargs"] == {"net_arch": [8]}
    again = ablate(cfg, out, workers=1, report=False)
    assert (again["skipped"], again["corrupt"], again["completed"]) == (1, 0, 0)


def test_a_sweeps_stored_config_runs_again_as_the_same_runs(tmp_path):
    # The sweep folder's config.yaml is the validated config, written with `parallel_env: null` beside the id;
    # fed back to ablate it must validate and expand to the same run keys (it raised "needs exactly one of
    # `id` and `parallel_env`" before), so a sweep can be resumed or extended from its own folder.
    out = tmp_path / "sweep"
    ablate(tiny_config("again", seeds=1), out, workers=1, report=False)
    stored = yaml.safe_load((out / "config.yaml").read_text())
    assert stored["envs"][0]["parallel_env"] is None
    assert [r["key"] for r in expand(validate(stored))] == [r["key"] for r in expand(validate(tiny_config("again", seeds=1)))]
    assert ablate(stored, out, workers=1, report=False)["skipped"] == 2
