"""`algo: TorchPPO` in ablation configs: validation errors that name the key, and a gridhack run end to end."""

from __future__ import annotations

import math

import gymnasium as gym
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
        # normalize_obs is the algorithm entry's key (as for SB3), not a hyper-parameter, though PPOArgs has the field.
        (cfg({"algo": "TorchPPO", "hyperparams": {"normalize_obs": True}}), r"`algorithms\[0\].hyperparams.normalize_obs`: give it as `algorithms\[0\].normalize_obs`"),
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


def test_registry_entry(tmp_path):
    from rewardlab.baselines.ppo import PPOArgs
    from rewardlab.baselines.registry import TrainRequest, get_trainer

    entry = get_trainer("TorchPPO")
    assert entry.hyperparams is PPOArgs and entry.resumable and entry.normalize_obs
    assert entry.single_agent and not entry.multi_agent
    # The discount is PPOArgs' default unless given; a collection is one rollout of n_envs x n_steps.
    assert entry.gamma({}) == 0.99 and entry.gamma({"gamma": 0.9}) == 0.9
    assert entry.collection({}, 4) == (512, "rollouts of n_envs x n_steps")
    assert entry.collection({"n_steps": 16}, 3) == (48, "rollouts of n_envs x n_steps")
    with pytest.raises(ConfigError, match="needs a Discrete or Box action space"):
        entry.check_action_space(gym.spaces.MultiBinary(3), "X-v0")
    entry.check_action_space(gym.spaces.Discrete(2), "X-v0")

    request = dict(env={"id": "CartPole-v1", "kwargs": {}, "wrappers": [], "max_episode_steps": None, "parallel_env": None},
                   reward="EnvReward", total_steps=64, seed=0, n_envs=2, hyperparams={"n_steps": 16, "batch_size": 16},
                   eval_every=32, eval_episodes=2)
    result = entry.train(TrainRequest(**request, checkpoint_dir=str(tmp_path / "ckpt"), tensorboard_dir=str(tmp_path / "tb")))
    assert result.steps == 64 and [row["step"] for row in result.curve] == [0, 32, 64]
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file() and any((tmp_path / "tb").iterdir())
    with pytest.raises(ConfigError, match=r"Bad hyper-parameters for `TorchPPO`.*n_step"):
        entry.train(TrainRequest(**{**request, "hyperparams": {"n_step": 16}}))
    # The entry's normalize_obs reaches PPOArgs: CartPole's unbounded velocities (dims 1 and 3) are normalised.
    plain, normalized = (entry.train(TrainRequest(**request, normalize_obs=flag)).agent.obs_encoder for flag in (False, True))
    assert plain._normalized == [] and normalized._normalized == ["obs"]
    assert normalized.free_obs.tolist() == [False, True, False, True]


def test_checkpoint_interval_from_the_environment(monkeypatch, tmp_path):
    from rewardlab.baselines.checkpoint import load_checkpoint
    from rewardlab.baselines.ppo import CHECKPOINT_EVERY_ENV
    from rewardlab.baselines.registry import TrainRequest, get_trainer

    request = TrainRequest(env={"id": "CartPole-v1", "kwargs": {}, "wrappers": [], "max_episode_steps": None},
                           reward="EnvReward", total_steps=96, seed=0, n_envs=2, hyperparams={"n_steps": 16, "batch_size": 16},
                           checkpoint_dir=str(tmp_path))
    monkeypatch.setenv(CHECKPOINT_EVERY_ENV, "soon")
    with pytest.raises(ConfigError, match=r"`REWARDLAB_CHECKPOINT_EVERY_S` must be a non-negative number of seconds. Received 'soon'"):
        get_trainer("TorchPPO").train(request)
    import rewardlab.baselines.ppo as ppo

    saved = []  # a spy on the file writes: which rollout each checkpoint was taken after
    real_save = ppo.save_checkpoint
    monkeypatch.setattr(ppo, "save_checkpoint", lambda folder, state: (saved.append(state["rollout"]), real_save(folder, state)))
    monkeypatch.setenv(CHECKPOINT_EVERY_ENV, "0")
    get_trainer("TorchPPO").train(request)
    # 0 s: a checkpoint after every one of the 3 rollouts (the default 60 s would save only the last).
    assert saved == [1, 2, 3] and load_checkpoint(tmp_path)["rollout"] == 3
    saved.clear()
    monkeypatch.delenv(CHECKPOINT_EVERY_ENV)
    get_trainer("TorchPPO").train(TrainRequest(**{**vars(request), "checkpoint_dir": str(tmp_path / "b")}))
    assert saved == [3]
