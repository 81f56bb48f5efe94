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


@pytest.mark.parametrize("name", ["quickstart", "mountaincar_gym", "bonus_study"])
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


def test_evaluation_deterministic_must_be_a_bool():
    from rewardlab.ablation.config import validate
    from rewardlab.errors import ConfigError

    cfg = {"name": "x", "seeds": 1, "rewards": {"sparse": "EnvReward"}, "algorithms": ["PPO"], "envs": ["CartPole-v1"],
           "evaluation": {"every": 100, "episodes": 1, "deterministic": "no"}}
    with pytest.raises(ConfigError, match="evaluation.deterministic"):
        validate(cfg)
    cfg["evaluation"]["deterministic"] = False
    assert validate(cfg)["evaluation"]["deterministic"] is False
