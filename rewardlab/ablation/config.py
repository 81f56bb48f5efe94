"""The ablation config: schema, validation and expansion into the run grid.

A config (YAML or dict) names environments, reward specs, algorithms, seeds, a budget and an
evaluation schedule::

    name: quickstart
    seeds: 3                      # or a list of seeds
    budget: {total_steps: 40000, n_envs: 4}
    evaluation: {every: 5000, episodes: 5}
    baseline: sparse              # the reward spec others are compared to (default: the first)
    rewards:
      sparse: EnvReward
      pbrs: {type: Sum, terms: [EnvReward, {type: PBRS, potential: energy, gamma: 0.99}]}
    algorithms:
      - {algo: PPO, hyperparams: {n_steps: 256}, normalize_obs: true}     # SB3; hyperparams are the class's arguments
      - {algo: TorchPPO, hyperparams: {n_steps: 64}}   # rewardlab.baselines.ppo; hyperparams are PPOArgs fields
    envs:
      - id: MountainCar-v0
        kwargs: {}                # passed to gym.make
        rewards: [sparse, pbrs]   # optional: the reward specs run on this env (default: all)
        total_steps: 60000        # optional per-env budget
      - parallel_env: rewardlab.envs.coopetition:parallel_env   # a PettingZoo ParallelEnv factory:
        kwargs: {name: ...}       # parameter-shared training, each agent shaped by its own copy of the term

:func:`validate` checks everything before a single step runs (unknown keys, impossible values,
unknown env ids, potentials an env does not publish, PBRS gamma against the learner's gamma,
action spaces an algorithm cannot use) and raises :class:`~rewardlab.errors.ConfigError` naming
the key. :func:`expand` turns a valid config into :class:`RunSpec` dicts, one per run.

Functions: :func:`load_config`, :func:`validate`, :func:`expand`, :func:`run_key`, :func:`describe_grid`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from rewardlab.errors import ConfigError, RewardlabError, did_you_mean

__all__ = ["load_config", "validate", "expand", "run_key", "describe_grid", "RunSpec"]

#: A run's full description: JSON-friendly, hashed into its store key.
RunSpec = dict[str, Any]

_TOP = {
    "name": "a label for the sweep (the default output folder is runs/<name>)",
    "description": "free text",
    "seeds": "an int n (seeds 0..n-1) or a list of distinct seeds",
    "budget": "{total_steps, n_envs}",
    "evaluation": "{every, episodes, deterministic}",
    "baseline": "the reward spec that probability of improvement compares against",
    "rewards": "{name: reward term config}",
    "algorithms": "a list of algorithm names (SB3's PPO, A2C, DQN, SAC, TD3..., or TorchPPO) or {algo, name, hyperparams, normalize_obs}",
    "envs": "a list of env ids or {id | parallel_env, kwargs, wrappers, max_episode_steps, total_steps, rewards, label}",
}
_REQUIRED = ("rewards", "algorithms", "envs")
_BUDGET = {"total_steps", "n_envs"}
_EVALUATION = {"every", "episodes", "deterministic"}
_ENV = {"id", "parallel_env", "label", "kwargs", "wrappers", "max_episode_steps", "total_steps", "rewards"}
_ALGO = {"algo", "name", "hyperparams", "normalize_obs"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config and validate it; the config's name defaults to the file's stem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file `{path}` does not exist")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file `{path}` is not valid YAML: {e}") from e
    if not isinstance(cfg, dict):
        raise ConfigError(f"Config file `{path}` must hold a mapping at the top level. Received {type(cfg).__name__}")
    cfg.setdefault("name", path.stem)
    return validate(cfg)


def _check_keys(d: Any, allowed: set[str] | Mapping[str, str], where: str) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise ConfigError(f"`{where}` must be a mapping. Received {d!r}")
    for key in d:
        if key not in allowed:
            raise ConfigError(f"Unknown key `{where}.{key}` (allowed: {sorted(allowed)}).{did_you_mean(str(key), allowed)}")
    return dict(d)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{where}` must be true or false. Received {value!r}")
    return value


def _positive_int(value: Any, where: str) -> int:
    # bool is an int in Python, and `total_steps: yes` is a YAML typo, not a budget.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"`{where}` must be a positive integer. Received {value!r}")
    return value


def _label(value: Any, where: str) -> str:
    # Labels become file names of plots and table rows; keep them plain.
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"`{where}` must be a name of letters, digits and _.+- . Received {value!r}")
    return value


def validate(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in, or a :class:`ConfigError` naming the first bad key.

    Example:
        >>> validate({"envs": ["CartPole-v1"], "rewards": {"env": "EnvReward"}, "algorithms": ["PPO"], "seeds": 2, "budget": {"total_stesp": 100}})
        Traceback (most recent call last):
        ...
        rewardlab.errors.ConfigError: Unknown key `budget.total_stesp` (allowed: ['n_envs', 'total_steps']). Did you mean: `total_steps`?
    """
    cfg = _check_keys(cfg, _TOP, "config")
    for key in _REQUIRED:
        if key not in cfg:
            raise ConfigError(f"The config needs a `{key}` key: {_TOP[key]}")
    out: dict[str, Any] = {"name": _label(cfg.get("name", "ablation"), "name"), "description": str(cfg.get("description", ""))}

    seeds = cfg.get("seeds", 3)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(_positive_int(seeds, "seeds")))
    if not isinstance(seeds, list) or not seeds or len(set(map(str, seeds))) != len(seeds):
        raise ConfigError(f"`seeds` must be a positive int or a non-empty list of distinct seeds. Received {cfg.get('seeds')!r}")
    for i, s in enumerate(seeds):
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"`seeds[{i}]` must be a non-negative integer. Received {s!r}")
    out["seeds"] = seeds

    budget = _check_keys(cfg.get("budget", {}), _BUDGET, "budget")
    out["budget"] = {
        "total_steps": _positive_int(budget.get("total_steps", 50_000), "budget.total_steps"),
        "n_envs": _positive_int(budget.get("n_envs", 1), "budget.n_envs"),
    }
    evaluation = _check_keys(cfg.get("evaluation", {}), _EVALUATION, "evaluation")
    out["evaluation"] = {
        "every": _positive_int(evaluation.get("every", max(1, out["budget"]["total_steps"] // 10)), "evaluation.every"),
        "episodes": _positive_int(evaluation.get("episodes", 5), "evaluation.episodes"),
        "deterministic": _bool(evaluation.get("deterministic", True), "evaluation.deterministic"),
    }

    out["rewards"] = _validate_rewards(cfg["rewards"])
    baseline = cfg.get("baseline", next(iter(out["rewards"])))
    if baseline not in out["rewards"]:
        raise ConfigError(f"`baseline` must name a reward spec (one of {list(out['rewards'])}). Received {baseline!r}.{did_you_mean(str(baseline), out['rewards'])}")
    out["baseline"] = baseline
    out["algorithms"] = _validate_algorithms(cfg["algorithms"])
    out["envs"] = _validate_envs(cfg["envs"], out)
    return out


def _validate_rewards(rewards: Any) -> dict[str, Any]:
    from rewardlab.shaping.terms import from_config

    if not isinstance(rewards, Mapping) or not rewards:
        raise ConfigError(f"`rewards` must be a non-empty mapping of name -> reward term config. Received {rewards!r}")
    out = {}
    for name, spec in rewards.items():
        _label(name, f"rewards.{name}")
        try:
            out[name] = from_config(spec).to_config()
        except RewardlabError as e:
            raise ConfigError(f"`rewards.{name}`: {e}") from e
    return out


def _validate_algorithms(algorithms: Any) -> list[dict[str, Any]]:
    if not isinstance(algorithms, list) or not algorithms:
        raise ConfigError(f"`algorithms` must be a non-empty list. Received {algorithms!r}")
    out = []
    for i, entry in enumerate(algorithms):
        where = f"algorithms[{i}]"
        entry = _check_keys({"algo": entry} if isinstance(entry, str) else entry, _ALGO, where)
        if "algo" not in entry:
            raise ConfigError(f"`{where}` needs an `algo` key (e.g. PPO)")
        hyper = _check_keys(entry.get("hyperparams") or {}, _hyperparam_names(entry["algo"], where), f"{where}.hyperparams")
        normalize_obs = _bool(entry.get("normalize_obs", False), f"{where}.normalize_obs")
        if entry["algo"] == _torch_ppo().ALGO_NAME:
            _check_torch_ppo(hyper, normalize_obs, where)
        name = _label(entry.get("name", entry["algo"]), f"{where}.name")
        out.append({"name": name, "algo": entry["algo"], "hyperparams": hyper, "normalize_obs": normalize_obs})
    _unique([a["name"] for a in out], "algorithms[].name")
    return out


def _torch_ppo() -> Any:
    from rewardlab.baselines import ppo

    return ppo


def _hyperparam_names(algo: Any, where: str) -> set[str]:
    """What `algo` accepts as hyperparams: TorchPPO's PPOArgs fields, or the SB3 constructor's
    arguments except those train() sets itself."""
    from rewardlab.baselines.sb3 import ALGORITHMS, algorithm_class

    ppo = _torch_ppo()
    if algo == ppo.ALGO_NAME:
        return {f.name for f in fields(ppo.PPOArgs)}
    if algo not in ALGORITHMS:
        known = sorted(ALGORITHMS) + [ppo.ALGO_NAME]
        raise ConfigError(f"`{where}.algo`: Unknown algorithm `{algo}` (known: {known}).{did_you_mean(str(algo), known)}")
    try:
        cls = algorithm_class(algo)
    except RewardlabError as e:
        raise ConfigError(f"`{where}.algo`: {e}") from e
    return set(inspect.signature(cls.__init__).parameters) - {"self", "env", "seed", "verbose", "_init_setup_model"}


def _check_torch_ppo(hyper: dict[str, Any], normalize_obs: bool, where: str) -> None:
    ppo = _torch_ppo()
    # TorchPPO scales bounded Box observations itself and embeds id grids; it has no running normaliser.
    if normalize_obs:
        raise ConfigError(f"`{where}.normalize_obs` is not supported by `{ppo.ALGO_NAME}` (it scales bounded Box "
                          "observations to [-1, 1] and embeds integer grids itself); remove it or set it to false")
    try:
        ppo.PPOArgs(**hyper)
    except RewardlabError as e:
        raise ConfigError(f"`{where}.hyperparams`: {e}") from e


def _algorithm_gamma(algo: dict[str, Any]) -> float:
    from rewardlab.baselines.sb3 import algorithm_gamma

    ppo = _torch_ppo()
    if algo["algo"] == ppo.ALGO_NAME:
        return float(algo["hyperparams"].get("gamma", ppo.PPOArgs.gamma))
    return algorithm_gamma(algo["algo"], algo["hyperparams"])


def _validate_envs(envs: Any, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(envs, list) or not envs:
        raise ConfigError(f"`envs` must be a non-empty list. Received {envs!r}")
    out = []
    for i, entry in enumerate(envs):
        where = f"envs[{i}]"
        entry = _check_keys({"id": entry} if isinstance(entry, str) else entry, _ENV, where)
        if ("id" in entry) == ("parallel_env" in entry):
            raise ConfigError(f"`{where}` needs exactly one of `id` (a Gymnasium id) and `parallel_env` (a 'module:function' making a PettingZoo ParallelEnv)")
        parallel = entry.get("parallel_env")
        name = parallel if parallel is not None else entry["id"]
        if not isinstance(name, str):
            raise ConfigError(f"`{where}.{'parallel_env' if parallel else 'id'}` must be a string. Received {name!r}")
        if parallel is not None and (entry.get("wrappers") or entry.get("max_episode_steps")):
            raise ConfigError(f"`{where}`: `wrappers` and `max_episode_steps` apply to Gymnasium ids only; pass the env's own arguments in `kwargs`")
        kwargs = entry.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"`{where}.kwargs` must be a mapping. Received {kwargs!r}")
        wrappers = entry.get("wrappers") or []
        if not isinstance(wrappers, list):
            raise ConfigError(f"`{where}.wrappers` must be a list of 'module:name' strings. Received {wrappers!r}")
        rewards = entry.get("rewards", list(cfg["rewards"]))
        if not isinstance(rewards, list) or not rewards:
            raise ConfigError(f"`{where}.rewards` must be a non-empty list of reward spec names. Received {rewards!r}")
        for r in rewards:
            if r not in cfg["rewards"]:
                raise ConfigError(f"`{where}.rewards` names `{r}`, which is not in `rewards` ({list(cfg['rewards'])}).{did_you_mean(str(r), cfg['rewards'])}")
        env = {
            "id": entry.get("id"),
            "parallel_env": parallel,
            "label": _label(entry.get("label", name.replace("/", "_").replace(":", "_")), f"{where}.label"),
            "kwargs": dict(kwargs),
            "wrappers": wrappers,
            "max_episode_steps": None if entry.get("max_episode_steps") is None else _positive_int(entry["max_episode_steps"], f"{where}.max_episode_steps"),
            "total_steps": _positive_int(entry.get("total_steps", cfg["budget"]["total_steps"]), f"{where}.total_steps"),
            "rewards": rewards,
        }
        _check_env(env, cfg, where)
        out.append(env)
    _unique([e["label"] for e in out], "envs[].label")
    return out


def _check_env(env: dict[str, Any], cfg: dict[str, Any], where: str) -> None:
    """Make the env once and check every (reward, algorithm) pair that will run on it."""
    from rewardlab.baselines.sb3 import check_action_space, check_reward_for_learner, make_env
    from rewardlab.shaping.terms import from_config, ref_to_callable

    try:
        if env["parallel_env"] is not None:
            from rewardlab.baselines.multiagent import ParallelVecEnv

            probe = ParallelVecEnv([ref_to_callable(env["parallel_env"], f"{where}.parallel_env")(**env["kwargs"])])
            potentials_id = probe.envs[0].metadata.get("name")  # what ParallelRewardShaping binds potentials to
        else:
            probe = make_env(env["id"], env["kwargs"], env["wrappers"], env["max_episode_steps"])
            potentials_id = env["id"]
    except (RewardlabError, TypeError, ValueError) as e:
        raise ConfigError(f"`{where}`: {e}") from e
    action_space = probe.action_space
    probe.close()
    ppo = _torch_ppo()
    for a in cfg["algorithms"]:
        if a["algo"] == ppo.ALGO_NAME:
            if env["parallel_env"] is not None:
                raise ConfigError(f"`{where}`: algorithm `{a['name']}` ({ppo.ALGO_NAME}) trains single-agent Gymnasium "
                                  "envs only; use an SB3 algorithm (parameter-shared) for `parallel_env` entries")
            ppo.check_action_space(action_space, env["id"])
        else:
            check_action_space(a["algo"], action_space, env["id"] or env["parallel_env"])
        gamma = _algorithm_gamma(a)
        for r in env["rewards"]:
            term = from_config(cfg["rewards"][r])
            try:
                term.bind(potentials_id)  # resolves named potentials against this env
                check_reward_for_learner(term, gamma, where=f"rewards.{r}")
            except RewardlabError as e:
                raise ConfigError(f"`{where}` with reward `{r}` and algorithm `{a['name']}`: {e}") from e


def _unique(labels: list[str], where: str) -> None:
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"`{where}` must be unique; repeated: {dupes}")


def run_key(spec: RunSpec) -> str:
    """A stable 16-hex-digit hash of a run's spec (the store's key)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def expand(cfg: Mapping[str, Any]) -> list[RunSpec]:
    """Every run of a validated config: envs x their reward specs x algorithms x seeds.

    Example:
        >>> cfg = validate({"envs": ["CartPole-v1"], "rewards": {"env": "EnvReward", "live": {"type": "Constant", "value": 1.0}}, "algorithms": ["PPO", "A2C"], "seeds": 2})
        >>> runs = expand(cfg)
        >>> len(runs), [(r["reward_name"], r["algo"]["name"], r["seed"]) for r in runs[:3]]
        (8, [('env', 'PPO', 0), ('env', 'PPO', 1), ('env', 'A2C', 0)])
    """
    runs = []
    for env in cfg["envs"]:
        for reward in env["rewards"]:
            for algo in cfg["algorithms"]:
                for seed in cfg["seeds"]:
                    spec = {
                        "env": {k: env[k] for k in ("id", "parallel_env", "label", "kwargs", "wrappers", "max_episode_steps")},
                        "reward_name": reward,
                        "reward": cfg["rewards"][reward],
                        "algo": algo,
                        "seed": seed,
                        "total_steps": env["total_steps"],
                        "n_envs": cfg["budget"]["n_envs"],
                        "evaluation": cfg["evaluation"],
                    }
                    spec["key"] = run_key(spec)
                    runs.append(spec)
    return runs


def describe_grid(cfg: Mapping[str, Any], runs: list[RunSpec]) -> str:
    """A few lines describing the grid, ending with its run count."""
    lines = [f"Sweep `{cfg['name']}`: {len(runs)} runs"]
    for env in cfg["envs"]:
        n = len(env["rewards"]) * len(cfg["algorithms"]) * len(cfg["seeds"])
        lines.append(
            f"  {env['label']} ({env['total_steps']:,} steps): rewards {env['rewards']} x algorithms "
            f"{[a['name'] for a in cfg['algorithms']]} x seeds {cfg['seeds']} = {n} runs"
        )
    return "\n".join(lines)
