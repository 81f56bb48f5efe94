"""`rewardlab export SWEEP --csv DIR` and per-run TensorBoard logs, on a real tiny sweep."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from rewardlab.ablation import ablate
from rewardlab.ablation.store import RunStore
from rewardlab.cli import main

HERE = Path(__file__).parent
ROOT = HERE.parents[1]

RND = {"type": "Sum", "terms": ["EnvReward", {"type": "Scale", "scale": 0.1,
                                              "term": {"type": "RND", "embed_dim": 4, "hidden": 8, "seed": 0}}]}


def config(name, tensorboard_dir=None):
    # 2 runs (one per reward), each 2 PPO rollouts of 16 steps on the 5-step TinyEnv, evaluated at 0, 16, 32.
    cfg = {
        "name": name,
        "envs": [{"id": "ablation_helpers:Tiny-v0", "label": "Tiny"}],
        "rewards": {"env": "EnvReward", "rnd": RND},
        "algorithms": [{"algo": "PPO", "hyperparams": {"n_steps": 16, "batch_size": 16, "n_epochs": 1}}],
        "seeds": [0],
        "budget": {"total_steps": 32},
        "evaluation": {"every": 16, "episodes": 1},
    }
    if tensorboard_dir is not None:
        cfg["tensorboard_dir"] = str(tensorboard_dir)
    return cfg


@pytest.fixture(autouse=True)
def helpers_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(HERE.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(HERE))
    mp.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(HERE.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out, tb = root / "sweep", root / "tb"
    counts = ablate(config("exp", tb), out, workers=2, report=False)
    assert counts["completed"] == 2
    yield out, tb, root
    mp.undo()


def test_export_writes_completed_runs_of_the_current_config_only(sweep, capsys):
    out, _, root = sweep
    store = RunStore(out)
    records = {r["spec"]["reward_name"]: r for r in store.records()}
    # A stale record (another config's run: its spec differs, so its key does) must not be exported.
    stale = json.loads(json.dumps(records["env"]))
    stale["spec"]["seed"] = 7
    stale["seed"] = 7
    from rewardlab.ablation.config import run_key

    stale["spec"].pop("key")
    stale["key"] = stale["spec"]["key"] = run_key(stale["spec"])
    store.write(stale)

    dest = root / "csv"
    assert main(["export", str(out), "--csv", str(dest)]) == 0
    printed = capsys.readouterr().out
    assert "Exported 2 completed runs" in printed and "1 stale" in printed

    curves = read_csv(dest / "curves.csv")
    # 2 runs x evaluations at steps 0, 16, 32 (the config's schedule).
    assert len(curves) == 6
    assert list(curves[0])[:5] == ["key", "env", "reward", "algo", "seed"]
    assert {(r["reward"], r["step"]) for r in curves} == {(w, s) for w in ("env", "rnd") for s in ("0", "16", "32")}
    assert {r["key"] for r in curves} == {records["env"]["key"], records["rnd"]["key"]}
    assert all(r["seed"] == "0" and r["env"] == "Tiny" and r["algo"] == "PPO" for r in curves)

    episodes = read_csv(dest / "episodes.csv")
    # TinyEnv episodes last 5 steps: 32 steps -> 6 finished episodes per run.
    assert len(episodes) == 12
    rnd_eps = [e for e in episodes if e["reward"] == "rnd"]
    assert {"terms/env", "terms/rnd"} <= set(rnd_eps[0]) and all(e["length"] == "5" for e in episodes)
    stored = records["rnd"]["episodes"][0]
    assert float(rnd_eps[0]["terms/rnd"]) == pytest.approx(stored["terms"]["rnd"])

    learner = read_csv(dest / "learner_log.csv")
    # Only the RND run learns: one row per rollout (steps 16, 32).
    assert [(r["reward"], r["step"]) for r in learner] == [("rnd", "16"), ("rnd", "32")]
    assert float(learner[0]["bonus/rnd/samples"]) == 16.0


def test_tensorboard_dir_writes_one_folder_per_run_with_the_tags(sweep):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rewardlab.ablation.report import sweep_status

    out, tb, _ = sweep
    completed = sweep_status(out).scan.completed  # the config's runs (the export test adds a stale record)
    assert sorted(p.name for p in tb.iterdir()) == sorted(completed)
    for rec in completed.values():
        events = EventAccumulator(str(tb / rec["key"]))
        events.Reload()
        tags = set(events.Tags()["scalars"])
        # The contract's tags (rewardlab/baselines/tensorboard.py): eval, training episodes, terms, sps.
        assert {"eval/task_return", "eval/success", "train/episode_task_return", "train/episode_success", "charts/sps",
                "terms/env"} <= tags
        assert [e.step for e in events.Scalars("eval/task_return")] == [0, 16, 32]
        assert [e.value for e in events.Scalars("eval/task_return")] == pytest.approx([c["task_return"] for c in rec["curve"]])
        if rec["spec"]["reward_name"] == "rnd":
            assert {"terms/rnd", "bonus/rnd/samples"} <= tags
        # SB3's own scalars go to its sub-folder of the run's.
        assert list((tb / rec["key"]).glob("sb3_1/events.out.tfevents.*"))
