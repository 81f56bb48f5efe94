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

Functions: :func:`load_config`, :func:`validate`, :func:`expand`, :func:`run_key`, :func:`describe_grid`,
:func:`add_import_folder`, :func:`reference` (the generated ``docs/config.md``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rewardlab.ablation.hyperparams import check_hyperparams
from rewardlab.errors import ConfigError, InvalidParameter, RewardlabError, did_you_mean

__all__ = ["load_config", "validate", "expand", "run_key", "describe_grid", "add_import_folder", "RunSpec"]

#: A run's full description: JSON-friendly, hashed into its store key.
RunSpec = dict[str, Any]

@dataclass(frozen=True)
class Key:
    """One config key: its name, type, default (as written in the reference) and meaning."""

    name: str
    type: str
    default: str
    doc: str
    value: Any = None  # the default value validate() fills in, where it is a constant


REQUIRED = "required"

#: The config schema, section by section. Validation reads the allowed keys from here and
#: ``docs/config.md`` is rendered from it (:func:`reference`), so neither can drift from the other.
SCHEMA: dict[str, tuple[Key, ...]] = {
    "config": (
        Key("name", "str (letters, digits, _.+-)", "the file's stem (`ablation` for a dict)",
            "a label for the sweep; the default output folder is `runs/<name>`"),
        Key("description", "str", '""', "free text", ""),
        Key("seeds", "int n or list[int]", "3", "an int n (seeds 0..n-1) or a list of distinct non-negative seeds", 3),
        Key("budget", "mapping", "{}", "training budget of every run: see `budget`"),
        Key("evaluation", "mapping", "{}", "evaluation schedule on the task's own reward and success: see `evaluation`"),
        Key("baseline", "str", "the first reward spec", "the reward spec that the probability of improvement compares against"),
        Key("rewards", "mapping name -> term config", REQUIRED,
            "the reward specs to compare: `{name: term config}`; a term config is a type name (`EnvReward`) "
            "or `{type: ..., <arguments>}` (see *Reward term types* below)"),
        Key("algorithms", "list", REQUIRED,
            "trainer names (SB3's PPO, A2C, DQN, SAC, TD3, ..., TorchPPO, IPPO, MAPPO: see *Trainers* below) or mappings: see `algorithms[]`"),
        Key("envs", "list", REQUIRED, "env ids or mappings: see `envs[]`"),
        Key("tensorboard_dir", "str (a folder)", "none (no TensorBoard logs)",
            "each run writes TensorBoard scalars (task return, success, term episode sums, losses, learned-term "
            "metrics) under `<tensorboard_dir>/<run key>/`; a relative path is relative to the working folder. "
            "Not part of a run's identity: changing it re-runs nothing"),
    ),
    "budget": (
        Key("total_steps", "positive int", "50000", "env steps per run, summed over sub-envs", 50_000),
        Key("n_envs", "positive int", "1", "sub-envs per run (a vector env)", 1),
    ),
    "evaluation": (
        Key("every", "positive int", "total_steps // 10", "env steps between evaluations"),
        Key("episodes", "positive int", "5", "episodes per evaluation", 5),
        Key("deterministic", "bool", "true", "evaluate the policy's mode rather than a sample", True),
    ),
    "algorithms[]": (
        Key("algo", "str", REQUIRED, "a trainer name (see *Trainers* below); a bare string is shorthand for `{algo: ...}`"),
        Key("name", "str (letters, digits, _.+-)", "the `algo`", "the label in tables and plots (unique)"),
        Key("hyperparams", "mapping", "{}",
            "keyword arguments of the SB3 class (e.g. `n_steps`, `learning_rate`) or fields of the trainer's arguments dataclass "
            "(TorchPPO's `PPOArgs`, ...); "
            "each value is checked against the argument's type hint and the ranges in *Hyper-parameter ranges* below"),
        Key("normalize_obs", "bool", "false", "trainers that support it (SB3: VecNormalize; TorchPPO: unbounded Box dimensions): normalise observations (outside the shaping: terms see raw observations)", False),
    ),
    "envs[]": (
        Key("id", "str", "one of `id`, `parallel_env`", "a Gymnasium id (`rewardlab/Sparse-MountainCar-v0`, `CartPole-v1`, or `module:id`); "
            "a bare string is shorthand for `{id: ...}`"),
        Key("parallel_env", "str `module:function`", "one of `id`, `parallel_env`",
            "a PettingZoo ParallelEnv factory (parameter-shared training, each agent shaped by its own copy of the term)"),
        Key("label", "str (letters, digits, _.+-)", "the id, made file-safe", "the env's label in tables and plots (unique)"),
        Key("kwargs", "mapping", "{}", "passed to `gym.make` (or to the `parallel_env` factory)"),
        Key("wrappers", "list of `module:name`", "[]", "Gymnasium ids only: wrappers applied after `gym.make`, innermost first"),
        Key("max_episode_steps", "positive int", "the registration's", "Gymnasium ids only: the TimeLimit"),
        Key("total_steps", "positive int", "`budget.total_steps`", "this env's budget per run"),
        Key("rewards", "list of reward spec names", "every spec in `rewards`", "the reward specs run on this env"),
    ),
}
_TOP = {k.name: k.doc for k in SCHEMA["config"]}
_REQUIRED = tuple(k.name for k in SCHEMA["config"] if k.default == REQUIRED)
_BUDGET = {k.name for k in SCHEMA["budget"]}
_EVALUATION = {k.name for k in SCHEMA["evaluation"]}
_ENV = {k.name for k in SCHEMA["envs[]"]}
_ALGO = {k.name for k in SCHEMA["algorithms[]"]}


def _default(section: str, name: str) -> Any:
    return next(k.value for k in SCHEMA[section] if k.name == name)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config and validate it; the config's name defaults to the file's stem.

    ``'module:name'`` references in the config (``FromFunction`` functions, count keys, wrappers,
    ``parallel_env`` factories) resolve as Python imports, and the config file's folder is searched
    too, after the installed packages: a ``my_features.py`` beside the YAML is found without
    ``PYTHONPATH=.``. The folder is added to ``sys.path`` and to ``PYTHONPATH`` (so the worker
    processes of a sweep resolve the same references).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file `{path}` does not exist")
    add_import_folder(path.resolve().parent)
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file `{path}` is not valid YAML: {e}") from e
    if not isinstance(cfg, dict):
        raise ConfigError(f"Config file `{path}` must hold a mapping at the top level. Received {type(cfg).__name__}")
    cfg.setdefault("name", path.stem)
    return validate(cfg)


def add_import_folder(folder: str | Path) -> None:
    """Let 'module:name' references resolve from `folder`, in this process and the ones it starts.

    Appended, not prepended: a file in the config's folder never shadows an installed package.
    """
    folder = str(folder)
    if folder not in sys.path:
        sys.path.append(folder)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if folder not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([*parts, folder])


def _check_keys(d: Any, allowed: set[str] | Mapping[str, str], where: str) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise ConfigError(f"`{where}` must be a mapping. Received {d!r}")
    for key in d:
        if key not in allowed:
            raise ConfigError(f"Unknown key `{where}.{key}` (allowed: {sorted(allowed)}).{did_you_mean(str(key), allowed)}")
    return dict(d)


def _or_empty(value: Any, empty: Any) -> Any:
    # Only a missing or empty YAML value (None) means "none"; `kwargs: 0` is a mistake, not an empty mapping.
    return empty if value is None else value


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
    out: dict[str, Any] = {"name": _label(cfg.get("name", "ablation"), "name"), "description": str(cfg.get("description", _default("config", "description")))}

    seeds = cfg.get("seeds", _default("config", "seeds"))
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
        "total_steps": _positive_int(budget.get("total_steps", _default("budget", "total_steps")), "budget.total_steps"),
        "n_envs": _positive_int(budget.get("n_envs", _default("budget", "n_envs")), "budget.n_envs"),
    }
    evaluation = _check_keys(cfg.get("evaluation", {}), _EVALUATION, "evaluation")
    out["evaluation"] = {
        "every": _positive_int(evaluation.get("every", max(1, out["budget"]["total_steps"] // 10)), "evaluation.every"),
        "episodes": _positive_int(evaluation.get("episodes", _default("evaluation", "episodes")), "evaluation.episodes"),
        "deterministic": _bool(evaluation.get("deterministic", _default("evaluation", "deterministic")), "evaluation.deterministic"),
    }

    out["rewards"] = _validate_rewards(cfg["rewards"])
    baseline = cfg.get("baseline", next(iter(out["rewards"])))
    if baseline not in out["rewards"]:
        raise ConfigError(f"`baseline` must name a reward spec (one of {list(out['rewards'])}). Received {baseline!r}.{did_you_mean(str(baseline), out['rewards'])}")
    out["baseline"] = baseline
    out["algorithms"] = _validate_algorithms(cfg["algorithms"])
    out["envs"] = _validate_envs(cfg["envs"], out)
    tensorboard_dir = cfg.get("tensorboard_dir")
    if tensorboard_dir is not None and (not isinstance(tensorboard_dir, str) or not tensorboard_dir):
        raise ConfigError(f"`tensorboard_dir` must be a folder path (a non-empty string). Received {tensorboard_dir!r}")
    out["tensorboard_dir"] = tensorboard_dir
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
        trainer = _trainer(entry["algo"], where)
        if isinstance(entry.get("hyperparams"), Mapping) and "normalize_obs" in entry["hyperparams"]:
            raise ConfigError(f"`{where}.hyperparams.normalize_obs`: give it as `{where}.normalize_obs`, a key of the "
                              "algorithm entry beside `hyperparams`")
        hyper = _check_keys(_or_empty(entry.get("hyperparams"), {}), _hyperparam_names(trainer, where), f"{where}.hyperparams")
        check_hyperparams(trainer.hyperparams, hyper, f"{where}.hyperparams")
        normalize_obs = _bool(entry.get("normalize_obs", _default("algorithms[]", "normalize_obs")), f"{where}.normalize_obs")
        _check_trainer_options(trainer, hyper, normalize_obs, where)
        name = _label(entry.get("name", entry["algo"]), f"{where}.name")
        out.append({"name": name, "algo": entry["algo"], "hyperparams": hyper, "normalize_obs": normalize_obs})
    _unique([a["name"] for a in out], "algorithms[].name")
    return out


def _trainer(algo: Any, where: str) -> Any:
    """The registry entry of `algo`, a ConfigError naming the key otherwise."""
    from rewardlab.baselines.registry import get_trainer

    try:
        return get_trainer(algo)
    except RewardlabError as e:
        raise ConfigError(f"`{where}.algo`: {e}") from e


#: Trainer arguments that the trainers set themselves, never hyper-parameters (`normalize_obs` is the
#: algorithm entry's own key, which TorchPPO's arguments also have).
_SET_BY_TRAINER = {"self", "env", "seed", "verbose", "_init_setup_model", "tensorboard_log", "normalize_obs"}


def _hyperparam_names(trainer: Any, where: str) -> set[str]:
    """What `trainer` accepts as hyperparams: the arguments of its ``hyperparams`` callable (a
    dataclass's fields, an SB3 class's ``__init__``) except those the trainer sets itself."""
    try:
        params = inspect.signature(trainer.hyperparams).parameters
    except RewardlabError as e:  # e.g. an sb3-contrib algorithm without sb3-contrib
        raise ConfigError(f"`{where}.algo`: {e}") from e
    return set(params) - _SET_BY_TRAINER


def _check_trainer_options(trainer: Any, hyper: dict[str, Any], normalize_obs: bool, where: str) -> None:
    if normalize_obs and not trainer.normalize_obs:
        raise ConfigError(f"`{where}.normalize_obs` is not supported by `{trainer.name}` (it has no running observation "
                          "normaliser: it scales bounded Box observations itself); remove it or set it to false")
    if inspect.isclass(trainer.hyperparams):  # an arguments dataclass checks its own ranges and combinations
        try:
            trainer.hyperparams(**hyper)
        except RewardlabError as e:
            raise ConfigError(f"`{where}.hyperparams`: {e}") from e


def _validate_envs(envs: Any, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(envs, list) or not envs:
        raise ConfigError(f"`envs` must be a non-empty list. Received {envs!r}")
    out = []
    for i, entry in enumerate(envs):
        where = f"envs[{i}]"
        entry = _check_keys({"id": entry} if isinstance(entry, str) else entry, _ENV, where)
        # A sweep's stored config.yaml writes the unused one as null; it must validate again as it is.
        entry = {k: v for k, v in entry.items() if not (k in ("id", "parallel_env") and v is None)}
        if ("id" in entry) == ("parallel_env" in entry):
            raise ConfigError(f"`{where}` needs exactly one of `id` (a Gymnasium id) and `parallel_env` (a 'module:function' making a PettingZoo ParallelEnv)")
        parallel = entry.get("parallel_env")
        name = parallel if parallel is not None else entry["id"]
        if not isinstance(name, str):
            raise ConfigError(f"`{where}.{'parallel_env' if parallel else 'id'}` must be a string. Received {name!r}")
        if parallel is not None and (entry.get("wrappers") or entry.get("max_episode_steps")):
            raise ConfigError(f"`{where}`: `wrappers` and `max_episode_steps` apply to Gymnasium ids only; pass the env's own arguments in `kwargs`")
        kwargs = _or_empty(entry.get("kwargs"), {})
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"`{where}.kwargs` must be a mapping. Received {kwargs!r}")
        wrappers = _or_empty(entry.get("wrappers"), [])
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
    from rewardlab.baselines.registry import get_trainer
    from rewardlab.baselines.sb3 import make_env
    from rewardlab.shaping.pbrs import check_discount
    from rewardlab.shaping.terms import from_config, ref_to_callable

    parallel = env["parallel_env"] is not None
    try:
        if parallel:
            probe = ref_to_callable(env["parallel_env"], f"{where}.parallel_env")(**env["kwargs"])
            potentials_id = probe.metadata.get("name")  # what ParallelRewardShaping binds potentials to
            action_spaces = {a: probe.action_space(a) for a in probe.possible_agents}
        else:
            probe = make_env(env["id"], env["kwargs"], env["wrappers"], env["max_episode_steps"])
            potentials_id = env["id"]
            action_spaces = {env["id"]: probe.action_space}
    except (RewardlabError, TypeError, ValueError) as e:
        raise ConfigError(f"`{where}`: {e}") from e
    try:
        samples = _sample_observations(probe, parallel)
    except (RewardlabError, TypeError, ValueError) as e:
        raise ConfigError(f"`{where}`: the env could not be reset: {e}") from e
    finally:
        probe.close()
    for a in cfg["algorithms"]:
        trainer = get_trainer(a["algo"])
        if parallel and not trainer.multi_agent:
            raise ConfigError(f"`{where}`: algorithm `{a['name']}` ({trainer.name}) trains single-agent Gymnasium envs only; "
                              "use a multi-agent trainer for `parallel_env` entries")
        if not parallel and not trainer.single_agent:
            raise ConfigError(f"`{where}`: algorithm `{a['name']}` ({trainer.name}) trains `parallel_env` (multi-agent) "
                              "envs only; use a single-agent trainer for Gymnasium ids")
        if parallel and trainer.same_agent_spaces:
            from rewardlab.baselines.multiagent import check_shared_spaces

            try:
                check_shared_spaces(probe)
            except InvalidParameter as e:
                raise ConfigError(f"`{where}` with algorithm `{a['name']}` ({trainer.name}): {e} "
                                  "(IPPO and MAPPO map each agent's own bounds)") from e
        for name, space in action_spaces.items():
            trainer.check_action_space(space, env["id"] or f"{env['parallel_env']} agent `{name}`")
        gamma = trainer.gamma(a["hyperparams"])
        for r in env["rewards"]:
            term = from_config(cfg["rewards"][r])
            try:
                term.bind(potentials_id)  # resolves named potentials against this env
                check_discount(term, gamma, where=f"rewards.{r}")
            except RewardlabError as e:
                raise ConfigError(f"`{where}` with reward `{r}` and algorithm `{a['name']}`: {e}") from e
    for r in env["rewards"]:
        for sample in samples:
            _check_features(from_config(cfg["rewards"][r]), sample, f"`{where}` with reward `{r}`")


def _sample_observations(probe: Any, parallel: bool) -> list[Any]:
    """Real observations of the probe env, batched (leading dimension 1) as terms see them: one per agent
    of a ParallelEnv (each agent's shaping term sees its own), one for a Gymnasium env."""
    obs, _ = probe.reset(seed=0)
    if parallel:
        return [np.asarray(o)[None] for o in obs.values()]
    if isinstance(obs, Mapping):
        return [{k: np.asarray(v)[None] for k, v in obs.items()}]
    return [np.asarray(obs)[None]]


def _check_features(term: Any, obs: Any, where: str) -> None:
    """Evaluate every feature key of the term tree (count keys, RND/E3B/NovelD inputs) on a real observation.

    A key that does not fit the env (``pos`` on a Box observation, a function that fails on it) would
    otherwise pass validation and then fail in every run of the grid.
    """
    from rewardlab.shaping.bonuses.features import flatten, hash_rows

    for node in term.walk():
        # the bonuses keep their resolved key as `_feature`; it is the function each step will call
        feature = getattr(node, "_feature", None)
        if feature is None:
            continue
        try:
            value = feature(obs)
            hash_rows(value) if hasattr(node, "keys") else flatten(value)  # counts hash rows, networks read floats
        except Exception as e:  # noqa: BLE001  (user code: any failure here is a config error)
            raise ConfigError(f"{where}: the feature key of term `{node.name}` does not fit this env's observation: "
                              f"{type(e).__name__}: {e}") from e


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


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _term_rows() -> list[str]:
    """One row per built-in reward term type: its config arguments (from the signature) and summary."""
    import importlib

    from rewardlab.shaping.terms import TERM_TYPES

    # Term types register on import; import every module that defines one, so that the listing does not
    # depend on what happened to be imported before (LLMReward lives in the optional llm subpackage).
    for module in ("rewardlab.shaping", "rewardlab.shaping.llm", "rewardlab.shaping.llm.reward"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    rows = []
    for name in sorted(TERM_TYPES):
        cls = TERM_TYPES[name]
        if not cls.__module__.startswith("rewardlab."):  # terms registered by user code or tests
            continue
        args = []
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            args.append(f"`{p.name}`" if p.default is p.empty else f"`{p.name}={p.default!r}`")
        summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
        rows.append(f"| `{name}` | {_cell(', '.join(args)) or '-'} | {_cell(summary)} |")
    return rows


def reference() -> str:
    """The config reference (``docs/config.md``), rendered from :data:`SCHEMA` and the code it names.

    Regenerate with ``rewardlab config-reference > docs/config.md``; a test checks that the
    committed file equals this text.
    """
    import rewardlab  # noqa: F401  (the same term types registered as in every run)
    from rewardlab.ablation.hyperparams import RANGES

    from rewardlab.baselines.registry import get_trainer, trainer_names

    out = [
        "# Ablation config reference",
        "",
        "<!-- Generated by `rewardlab config-reference > docs/config.md`",
        "     from the schema in rewardlab/ablation/config.py; tests/ablation/test_config.py checks it is current. -->",
        "",
        "`rewardlab ablate CONFIG.yaml` reads a YAML mapping with the keys below. Everything is validated before",
        "the first run starts: an unknown key gets a `Did you mean`, an impossible value a `ConfigError` naming",
        "the key (hyper-parameter values are checked against the algorithm's own type hints, count keys are",
        "evaluated on a real observation of each env, potentials are bound to each env, PBRS's gamma is",
        "compared with the learner's). `examples/quickstart.yaml` is a complete example.",
        "",
        "`module:name` references (`FromFunction` functions, count keys, `wrappers`, `parallel_env`) are Python",
        "imports; the config file's folder is searched too, after the installed packages, so a `my_features.py`",
        "beside the YAML needs no `PYTHONPATH` (the folder is added to `sys.path` and, for the sweep's worker",
        "processes, to `PYTHONPATH`).",
    ]
    titles = {"config": "Top level", "budget": "`budget`", "evaluation": "`evaluation`",
              "algorithms[]": "`algorithms[]` (each entry)", "envs[]": "`envs[]` (each entry)"}
    for section, keys in SCHEMA.items():
        out += ["", f"## {titles[section]}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{k.name}` | {_cell(k.type)} | {_cell(k.default)} | {_cell(k.doc)} |" for k in keys]
    out += ["", "## Hyper-parameter ranges", "",
            "Besides its type hint, a hyper-parameter with one of these names must lie in its range (SB3's and",
            "`PPOArgs`' meaning of the name); a schedule given as a callable (Python configs) is not range-checked.",
            "", "| name | range | why |", "|---|---|---|"]
    for name, (low, high, low_open, high_open, why) in RANGES.items():
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        out.append(f"| `{name}` | {interval} | {why} |")
    out += ["", "## Trainers", "", "| `algo` | single-agent | multi-agent (`parallel_env`) | `normalize_obs` | resumes after a kill |",
            "|---|---|---|---|---|"]
    yes = {True: "yes", False: "no"}
    for name in trainer_names():
        t = get_trainer(name)
        out.append(f"| `{name}` | {yes[t.single_agent]} | {yes[t.multi_agent]} | {yes[t.normalize_obs]} | {yes[t.resumable]} |")
    for name in trainer_names():
        args = get_trainer(name).hyperparams
        if not (inspect.isclass(args) and is_dataclass(args)):
            continue
        out += ["", f"## `{name}` hyper-parameters (`{args.__name__}`)", "", "| field | type | default |", "|---|---|---|"]
        for f in fields(args):
            if f.name not in _SET_BY_TRAINER:
                out.append(f"| `{f.name}` | {_cell(f.type)} | {_cell(repr(f.default))} |")
    out += ["", "SB3 algorithms take the keyword arguments of their class (see the SB3 documentation);",
            "`env`, `seed`, `verbose`, `tensorboard_log` and `_init_setup_model` are set by rewardlab.",
            "", "## Reward term types", "",
            "A term config is `{type: <name>, <argument>: <value>, ...}`; arguments without a default are required.",
            "", "| type | arguments | what it pays |", "|---|---|---|"]
    out += _term_rows()
    return "\n".join(out) + "\n"

