"""Config validation names the bad key; the grid expands to the expected runs with stable keys."""

from __future__ import annotations

import copy

import pytest

from rewardlab.ablation import describe_grid, expand, load_config, validate
from rewardlab.errors import ConfigError

PBRS = {"type": "Sum", "terms": ["EnvReward", {"type": "PBRS", "potential": "energy", "gamma": 0.99}]}
BASE = {
    "name": "t",
    "envs": [{"id": "MountainCar-v0", "total_steps": 500}, "CartPole-v1"],
    "rewards": {"env": "EnvReward", "pbrs": PBRS},
    "algorithms": ["PPO", {"algo": "A2C", "name": "a2c_fast", "hyperparams": {"n_steps": 8}}],
    "seeds": [0, 1],
    "budget": {"total_steps": 300},
}


def cfg(**changes):
    c = copy.deepcopy(BASE)
    c.update(changes)
    return c


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"seedz": 3}, r"Unknown key `config.seedz`.*Did you mean: `seeds`"),
        ({"budget": {"total_steps": 0}}, r"`budget.total_steps` must be a positive integer. Received 0"),
        ({"budget": {"total_steps": True}}, r"`budget.total_steps` must be a positive integer. Received True"),
        ({"seeds": [0, 0]}, r"`seeds` must be .* distinct"),
        ({"seeds": [-1]}, r"`seeds\[0\]` must be a non-negative integer"),
        ({"evaluation": {"episodes": 2, "evrey": 5}}, r"Unknown key `evaluation.evrey`.*Did you mean: `every`"),
        ({"baseline": "sparse"}, r"`baseline` must name a reward spec"),
        ({"rewards": {"env": {"type": "EnvRewrd"}}}, r"`rewards.env`: Unknown reward term type `EnvRewrd`.*Did you mean: `EnvReward`"),
        ({"algorithms": ["PPO2"]}, r"`algorithms\[0\].algo`: Unknown algorithm `PPO2`.*Did you mean: `PPO`"),
        ({"algorithms": [{"algo": "PPO", "hyperparams": {"n_step": 8}}]}, r"Unknown key `algorithms\[0\].hyperparams.n_step`.*Did you mean: `n_steps`"),
        ({"envs": ["MountainCar-v9"]}, r"`envs\[0\]`: Cannot make env `MountainCar-v9`"),
        ({"envs": [{"id": "MountainCar-v0", "kwargs": {"goal_speed": 1}}]}, r"`envs\[0\]`: .*goal_speed"),
        ({"envs": [{"id": "MountainCar-v0", "parallel_env": "pettingzoo.classic.rps_v2:parallel_env"}]}, r"`envs\[0\]` needs exactly one of `id`"),
        ({"envs": [{"parallel_env": "pettingzoo.classic.rps_v2:parallel_env", "max_episode_steps": 5}]}, r"apply to Gymnasium ids only"),
        ({"envs": [{"id": "MountainCar-v0", "kwarg": {}}]}, r"Unknown key `envs\[0\].kwarg`.*Did you mean: `kwargs`"),
        ({"envs": [{"id": "MountainCar-v0", "rewards": ["dense"]}]}, r"`envs\[0\].rewards` names `dense`"),
        # CartPole publishes `upright`, not `energy`: the PBRS spec cannot bind there.
        ({"envs": ["CartPole-v1"]}, r"`envs\[0\]` with reward `pbrs`.*publishes no potential `energy`"),
        # PBRS at 0.99 but the learner discounts at 0.9: not policy-invariant.
        ({"algorithms": [{"algo": "PPO", "hyperparams": {"gamma": 0.9}}]}, r"PBRS term `pbrs_energy` with gamma 0.99, but the learner's gamma is 0.9"),
        ({"algorithms": ["SAC"]}, r"`SAC` needs a Box \(continuous\) action space"),
        ({"algorithms": ["PPO", "PPO"]}, r"`algorithms\[\].name` must be unique; repeated: \['PPO'\]"),
    ],
)
def test_validation_errors_name_the_key(changes, message):
    c = cfg(**changes)
    if "envs" not in changes and changes.get("rewards") is None:
        c["envs"] = [{"id": "MountainCar-v0"}]
    with pytest.raises(ConfigError, match=message):
        validate(c)


def test_missing_required_key():
    c = cfg()
    del c["algorithms"]
    with pytest.raises(ConfigError, match=r"needs a `algorithms` key"):
        validate(c)


def test_grid_expansion_counts_and_keys():
    c = cfg()
    c["envs"][1] = {"id": "CartPole-v1", "rewards": ["env"]}  # CartPole has no energy potential
    v = validate(c)
    runs = expand(v)
    # MountainCar: 2 rewards x 2 algos x 2 seeds = 8; CartPole: 1 x 2 x 2 = 4.
    assert len(runs) == 12
    assert len({r["key"] for r in runs}) == 12
    assert [r["total_steps"] for r in runs[:8]] == [500] * 8 and runs[8]["total_steps"] == 300
    assert expand(validate(c)) == runs  # keys are a pure function of the config
    text = describe_grid(v, runs)
    assert text.splitlines()[0] == "Sweep `t`: 12 runs"
    assert "= 8 runs" in text and "= 4 runs" in text
    # Changing one hyper-parameter changes exactly the keys of that algorithm's runs.
    c2 = copy.deepcopy(c)
    c2["algorithms"][1]["hyperparams"]["n_steps"] = 16
    runs2 = expand(validate(c2))
    changed = [a["key"] != b["key"] for a, b in zip(runs, runs2)]
    assert changed == [r["algo"]["name"] == "a2c_fast" for r in runs]


def test_load_config_from_yaml(tmp_path):
    path = tmp_path / "my_sweep.yaml"
    path.write_text("envs: [CartPole-v1]\nrewards: {env: EnvReward}\nalgorithms: [PPO]\nseeds: 1\n")
    c = load_config(path)
    assert c["name"] == "my_sweep" and c["seeds"] == [0] and c["baseline"] == "env"
    path.write_text("envs: [CartPole-v1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize("name", ["quickstart", "mountaincar_gym", "bonus_study", "barfi_gridworld", "gated_accumulation", "pbrs_learning", "robotics_shaping", "robotics_shaping_sac", "robotics_shaping_pusher", "robotics_shaping_pusher_sac", "marl_two_games", "bonus_sweep", "bonus_contexts", "bonus_multiroom"])
def test_examples_validate(name):
    # Every shipped ablation config validates (ids, potentials, count keys, gammas) as written.
    import rewardlab  # noqa: F401  (registers the rewardlab/ ids the examples use)

    assert len(expand(load_config(f"examples/{name}.yaml"))) > 0


def test_parallel_env_entry():
    c = cfg(envs=[{"parallel_env": "pettingzoo.classic.rps_v2:parallel_env", "kwargs": {"max_cycles": 5}, "rewards": ["env"]}])
    runs = expand(validate(c))
    # 1 reward x 2 algorithms x 2 seeds; the label defaults to the factory reference, made file-safe.
    assert len(runs) == 4 and runs[0]["env"]["label"] == "pettingzoo.classic.rps_v2_parallel_env"
    assert runs[0]["env"]["id"] is None and runs[0]["env"]["kwargs"] == {"max_cycles": 5}
    # rps publishes no `energy` potential: the PBRS spec is refused before anything runs.
    with pytest.raises(ConfigError, match=r"publishes no potential `energy`"):
        validate(cfg(envs=[{"parallel_env": "pettingzoo.classic.rps_v2:parallel_env"}]))


def test_agents_with_different_bounds_need_a_trainer_that_maps_them():
    # AppleAppStore's two agents have different endowments, so different Box action bounds
    # (specs/coopetition.md): SB3's parameter sharing (one VecEnv of all agents) cannot train it and the
    # config says so before anything runs; IPPO and MAPPO map each agent's own bounds and validate.
    env = {"parallel_env": "rewardlab.envs.coopetition:parallel_env", "kwargs": {"name": "AppleAppStore"}}
    base = {"name": "x", "seeds": 1, "rewards": {"env": "EnvReward"}, "envs": [env]}
    assert len(expand(validate({**base, "algorithms": ["IPPO", "MAPPO"]}))) == 2
    with pytest.raises(ConfigError, match=r"algorithm `PPO` \(PPO\): Parameter sharing needs every agent to have the same spaces; agent `agent_1`"):
        validate({**base, "algorithms": ["PPO"]})


def test_evaluation_deterministic_must_be_a_bool():
    from rewardlab.ablation.config import validate
    from rewardlab.errors import ConfigError

    cfg = {"name": "x", "seeds": 1, "rewards": {"sparse": "EnvReward"}, "algorithms": ["PPO"], "envs": ["CartPole-v1"],
           "evaluation": {"every": 100, "episodes": 1, "deterministic": "no"}}
    with pytest.raises(ConfigError, match="evaluation.deterministic"):
        validate(cfg)
    cfg["evaluation"]["deterministic"] = False
    assert validate(cfg)["evaluation"]["deterministic"] is False


# --- issue 16, item 7: values are checked before anything runs --------------------------------------
# Each case passed validation before (only the key was checked), and every run of the grid then
# failed on its own. The expected rule comes from the algorithm's signature and type hints (SB3's
# `PPO.__init__(n_steps: int, learning_rate: float | Callable[[float], float], ...)`) plus the
# positive sizes SB3 needs (n_steps, batch_size, n_epochs) and gamma in (0, 1].
MC = [{"id": "MountainCar-v0", "rewards": ["env"]}]


@pytest.mark.parametrize(
    "algo, hyper, message",
    [
        ("PPO", {"n_steps": -5}, r"`algorithms\[0\].hyperparams.n_steps` must be a positive integer.*Received -5"),
        ("PPO", {"learning_rate": "fast"}, r"`algorithms\[0\].hyperparams.learning_rate` must be float or a callable.*Received 'fast'"),
        ("PPO", {"batch_size": 2.5}, r"`algorithms\[0\].hyperparams.batch_size` must be int.*Received 2.5"),
        ("PPO", {"n_epochs": True}, r"`algorithms\[0\].hyperparams.n_epochs` must be int.*Received True"),
        ("PPO", {"gamma": 1.5}, r"`algorithms\[0\].hyperparams.gamma` must be in \(0, 1\].*Received 1.5"),
        ("PPO", {"normalize_advantage": "yes"}, r"`algorithms\[0\].hyperparams.normalize_advantage` must be bool.*Received 'yes'"),
        ("PPO", {"target_kl": "none"}, r"`algorithms\[0\].hyperparams.target_kl` must be float or None.*Received 'none'"),
        ("A2C", {"n_steps": 0}, r"`algorithms\[0\].hyperparams.n_steps` must be a positive integer.*Received 0"),
        ("DQN", {"train_freq": "4"}, r"`algorithms\[0\].hyperparams.train_freq` must be int or tuple\[int, str\].*Received '4'"),
        ("DQN", {"exploration_fraction": 2.0}, r"`algorithms\[0\].hyperparams.exploration_fraction` must be in \[0, 1\]"),
        ("TorchPPO", {"learning_rate": "fast"}, r"`algorithms\[0\].hyperparams.learning_rate` must be float.*Received 'fast'"),
        ("TorchPPO", {"n_steps": -5}, r"`algorithms\[0\].hyperparams.n_steps` must be a positive integer.*Received -5"),
    ],
)
def test_hyperparameter_values_are_validated(algo, hyper, message):
    c = cfg(algorithms=[{"algo": algo, "hyperparams": hyper}], envs=MC, rewards={"env": "EnvReward"})
    with pytest.raises(ConfigError, match=message):
        validate(c)


def test_valid_hyperparameters_still_pass():
    # the quickstart's values, a schedule given as a callable (Python configs) and None where Optional
    c = cfg(algorithms=[{"algo": "PPO", "hyperparams": {"n_steps": 256, "learning_rate": lambda p: 3e-4 * p,
                                                          "clip_range_vf": None, "gamma": 1.0, "policy_kwargs": {"net_arch": [64]}}},
                        {"algo": "DQN", "hyperparams": {"train_freq": (4, "step"), "learning_starts": 0}}],
             envs=MC, rewards={"env": "EnvReward"})
    assert [a["algo"] for a in validate(c)["algorithms"]] == ["PPO", "DQN"]


@pytest.mark.parametrize(
    "env, key, message",
    [
        # MountainCar observes a Box [x, v]: there is no dict field `glyphs` (or `pos`) to count.
        ("MountainCar-v0", "glyphs", r"`envs\[0\]` with reward `count`.*Feature key `glyphs` names an observation field"),
        ("MountainCar-v0", "pos", r"`envs\[0\]` with reward `count`.*Feature key `pos` needs a dict observation"),
        # a 'module:name' function that fails on this env's observation
        ("CartPole-v1", "rewardlab.envs.gridhack.oracle:subgoal_potential", r"`envs\[0\]` with reward `count`: .*key"),
    ],
)
def test_count_keys_are_evaluated_on_the_env(env, key, message):
    rewards = {"count": {"type": "Sum", "terms": ["EnvReward", {"type": "EpisodicCount", "key": key}]}}
    with pytest.raises(ConfigError, match=message):
        validate(cfg(envs=[env], rewards=rewards, algorithms=["PPO"]))


def test_count_key_that_fits_passes():
    rewards = {"count": {"type": "EpisodicCount", "key": "rewardlab.envs.control.classic:mountain_car_cell"}}
    assert validate(cfg(envs=["MountainCar-v0"], rewards=rewards, algorithms=["PPO"]))["rewards"]["count"]["key"]


def test_n_agents_is_bounded():
    # 10**6 agents would allocate n x n trust matrices of 8 TB before the first step.
    from rewardlab.envs.coopetition.params import MAX_AGENTS, build_params
    from rewardlab.errors import InvalidParameter

    assert MAX_AGENTS == 1024
    with pytest.raises(InvalidParameter, match=r"`n_agents` must be an integer in \[2, 1024\]. Received 1000000"):
        build_params("PublicGoods", n_agents=10**6)
    assert build_params("PublicGoods", n_agents=1024).n == 1024
    c = cfg(envs=[{"parallel_env": "rewardlab.envs.coopetition:parallel_env",
                   "kwargs": {"name": "PublicGoods", "n_agents": 10**6}}], rewards={"env": "EnvReward"}, algorithms=["PPO"])
    with pytest.raises(ConfigError, match=r"`envs\[0\]`: .*n_agents"):
        validate(c)


def test_term_type_that_is_not_a_string():
    with pytest.raises(ConfigError, match=r"`rewards.env`: .*`type` must be a term type name.*Received \['Sum'\]"):
        validate(cfg(rewards={"env": {"type": ["Sum"]}}, envs=MC))


def test_refs_resolve_relative_to_the_config_folder(tmp_path, monkeypatch):
    # A FromFunction / count-key 'module:name' beside the config resolves without PYTHONPATH=.
    # (before: "No module named 'my_features'" unless the shell exported PYTHONPATH).
    import os
    import subprocess
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))  # restored after the test, as is PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    (tmp_path / "my_features.py").write_text(
        "import numpy as np\n\ndef cell(obs):\n    return np.floor(obs * 10).astype(np.int64)\n\n"
        "def bonus(t):\n    return np.zeros(len(t.reward))\n")
    path = tmp_path / "sweep.yaml"
    path.write_text("envs: [MountainCar-v0]\nalgorithms: [PPO]\nseeds: 1\nrewards:\n"
                    "  count: {type: EpisodicCount, key: 'my_features:cell'}\n"
                    "  fn: {type: FromFunction, fn: 'my_features:bonus'}\n")
    assert "my_features" not in sys.modules
    c = load_config(path)
    assert c["rewards"]["count"]["key"] == "my_features:cell"
    # worker processes (the process pool, Ray) resolve it too: the folder is on their PYTHONPATH
    out = subprocess.run([sys.executable, "-c", "import my_features; print(my_features.__file__)"],
                         env=os.environ.copy(), capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == str(tmp_path / "my_features.py"), out.stderr


def test_committed_config_reference_is_current():
    # docs/config.md is generated from the schema; regenerate with `rewardlab config-reference > docs/config.md`.
    from pathlib import Path

    from rewardlab.ablation.config import SCHEMA, reference

    text = reference()
    assert Path("docs/config.md").read_text() == text, "docs/config.md is stale: run `rewardlab config-reference > docs/config.md`"
    # every key the validator accepts is documented, section by section
    for section, keys in SCHEMA.items():
        for key in keys:
            assert f"| `{key.name}` |" in text, (section, key.name)
    assert "| `n_steps` | [1, inf) | steps per rollout |" in text and "| `PBRS` |" in text
