"""The search end to end with real training, killed and resumed (issue 14: "a killed search resumes").

This is the one search test that trains for real: SB3 PPO through the ablation runner (one spawned
process per candidate, records in DIR/runs), on rewardlab/Sparse-MountainCar-v0, 256 steps per
candidate so it stays small. The LLM is the offline backend (scripted server, script
``mountaincar``: scripted candidates, not written by a model). Expected counts come from the
script (see test_search_replay.py): round 1 trains good and weak, round 2 trains the fixed
import, loop and nan candidates and proposes good again, whose code (so whose run spec) is
round 1's: 5 distinct trainings in all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rewardlab.search import run_search

ENV = "rewardlab/Sparse-MountainCar-v0"
TASK = "Drive the car up the right hill to the flag."
TINY = dict(candidates=4, rounds=2, steps=256, backend="offline", n_envs=2, eval_episodes=1, eval_every=256, workers=2,
            hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1})  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def command(out: Path) -> list[str]:
    """The CLI command equal to ``run_search(ENV, TASK, out=out, **TINY)``."""
    args = [sys.executable, "-m", "rewardlab", "llm-reward", "generate", "--env", ENV, "--task", TASK, "--out", str(out),
            "--hyperparams", json.dumps(TINY["hyperparams"])]  # fmt: skip
    for key, value in TINY.items():
        if key != "hyperparams":
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def records(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}


def test_killed_search_resumes_without_retraining(tmp_path):
    # Reference: the same search, never interrupted.
    reference = run_search(ENV, TASK, out=tmp_path / "ref", **TINY)
    assert reference.status == "finished" and reference.execute_rates == [0.5, 1.0]
    assert len(records(tmp_path / "ref")) == 5
    for rec in map(json.loads, records(tmp_path / "ref").values()):
        # Real runs: completed, trained the budget (at least; SB3 finishes its last rollout of 128),
        # and the fitness is the task's own success rate from the unshaped evaluation.
        assert rec["status"] == "completed" and rec["steps"] >= 256
        assert rec["final"]["success"] in (0.0, 1.0) and "llm" in rec["spec"]["reward_name"]

    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(command(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(list(out.glob("round_1/cand_*/fitness.json"))) < 4:
        assert proc.poll() is None, f"the search ended (status {proc.returncode}) before it could be killed"
        assert time.monotonic() < deadline, "round 1 did not finish in 10 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = records(out)
    assert 2 <= len(before) < 5, sorted(before)  # killed after round 1's two runs, before round 2's three finished
    assert json.loads((out / "search.json").read_text())["status"] == "running"

    resumed = subprocess.run(command(out), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = records(out)
    assert len(after) == 5  # every distinct candidate trained once in all
    assert all(after[name] == data for name, data in before.items())  # finished runs were not re-trained
    search = json.loads((out / "search.json").read_text())
    ref = json.loads((tmp_path / "ref" / "search.json").read_text())
    assert search["status"] == "finished" and search["best"] == ref["best"], (search["best"], ref["best"])
    assert (out / "best_reward.py").read_bytes() == (tmp_path / "ref" / "best_reward.py").read_bytes()
