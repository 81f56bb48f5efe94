"""`algo: TorchPPO` in ablation configs: validation errors that name the key, and a gridhack run end to end."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from rewardlab.ablation import ablate, expand, validate
from rewardlab.ablation.run import execute_run
from rewardlab.ablation.store import RunStore
from rewardlab.errors import ConfigError
from toy_envs import MultiBinaryEnv

CORRIDORS = {"id": "rewardlab/Gridhack-Corridors-R5-v0", "label": "Corridors",
             "kwargs": {"num_contexts": 1, "observation_keys": ["glyphs_crop", "blstats"]}}
COUNT = {"type": "Sum", "terms": ["EnvReward", {"type": "Scale", "scale": 0.1, "term": {"type": "GlobalCount", "key": "pos"}}]}


def cfg(algo=None, envs=None, rewards=None):
    return {
        "name": "torchppo",
        "envs": envs or ["CartPole-v1"],
        "rewards": rewards or {"env": "EnvReward"},
        "algorithms": [algo or {"algo": "TorchPPO"}],
        "seeds": 1,
    }


gym.register("TorchPPOMultiBinary-v0", entry_point=MultiBinaryEnv)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (cfg({"algo": "TorchPPO", "hyperparams": {"n_step": 8}}), r"Unknown key `algorithms\[0\].hyperparams.n_step`.*Did you mean: `n_steps`"),
        (cfg({"algo": "TorchPPO", "hyperparams": {"gamma": 1.5}}), r"`algorithms\[0\].hyperparams.gamma` must be in \(0, 1\].*Received 1.5"),
        (cfg({"algo": "TorchPPO", "normalize_obs": True}), r"`algorithms\[0\].normalize_obs` is not supported by `TorchPPO`"),
        (cfg({"algo": "TorchPP"}), r"Unknown algorithm `TorchPP`.*Did you mean: `TorchPPO`"),
        # The learner's gamma is PPOArgs' default 0.99 unless hyperparams set it.
        (cfg({"algo": "TorchPPO", "hyperparams": {"gamma": 0.9}}, ["MountainCar-v0"],
             {"pbrs": {"type": "Sum", "terms": ["EnvReward", {"type": "PBRS", "potential": "energy", "gamma": 0.99}]}}),
         r"PBRS term `pbrs_energy` with gamma 0.99, but the learner's gamma is 0.9"),
        (cfg(envs=["TorchPPOMultiBinary-v0"]), r"`TorchPPO` needs a Discrete or Box action space"),
        (cfg(envs=[{"parallel_env": "pettingzoo.classic.rps_v2:parallel_env"}]), r"trains single-agent Gymnasium envs only"),
    ],
)
def test_validation_errors_name_the_key(config, message):
    with pytest.raises(ConfigError, match=message):
        validate(config)


def test_valid_config_keeps_hyperparams():
    pbrs = {"pbrs": {"type": "Sum", "terms": ["EnvReward", {"type": "PBRS", "potential": "energy", "gamma": 0.99}]}}
    c = validate(cfg({"algo": "TorchPPO", "hyperparams": {"n_steps": 16, "hidden": [32]}}, ["MountainCar-v0"], pbrs))
    assert c["algorithms"] == [{"name": "TorchPPO", "algo": "TorchPPO", "hyperparams": {"n_steps": 16, "hidden": [32]}, "normalize_obs": False}]


def test_gridhack_run_through_the_ablation_runner(tmp_path):
    # 16 batched sub-envs x 16 steps = 256 steps per rollout, 2 rollouts; evaluations at 0, 256, 512.
    config = {
        "name": "torchppo_gridhack", "seeds": 1, "envs": [CORRIDORS], "rewards": {"global": COUNT},
        "algorithms": [{"algo": "TorchPPO", "hyperparams": {"n_steps": 16, "batch_size": 128, "n_epochs": 1}}],
        "budget": {"total_steps": 512, "n_envs": 16}, "evaluation": {"every": 256, "episodes": 2},
    }
    (spec,) = expand(validate(config))
    record = execute_run(spec)
    assert record["status"] == "completed", record.get("traceback")
    assert record["steps"] == 512 and [row["step"] for row in record["curve"]] == [0, 256, 512]
    # The global count bonus pays 0.1 / sqrt(n) > 0 on every real step: its total is positive and
    # at most 0.1 per transition (512 stored steps include the dummy reset steps, which pay 0).
    assert 0 < record["term_totals"]["global_count_pos"] <= 0.1 * 512
    assert set(record["term_totals"]) == {"env", "global_count_pos"}
    for ep in record["episodes"]:
        # Corridors pays the task reward only at the goal; success is reported by the env.
        assert ep["success"] in (0.0, 1.0) and ep["task_return"] == ep["terms"]["env"]
    assert all(0.0 <= row["success"] <= 1.0 and math.isfinite(row["task_return"]) for row in record["curve"])

    # And through `ablate` (one worker process), stored and resumable like any run.
    counts = ablate(config, tmp_path / "sweep", workers=1, report=False)
    assert counts["completed"] == 1 and counts["failed"] == 0
    assert RunStore(tmp_path / "sweep").get(spec["key"])["steps"] == 512
