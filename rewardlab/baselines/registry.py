"""Trainers as a registry: each trainer is one :class:`Trainer` entry, found by its ``algo`` name.

An entry declares what the ablation layer needs to know about a trainer (its hyper-parameter
schema, its discount, the action spaces it can use, how it collects steps) and the function that
trains one run from a :class:`TrainRequest`. The ablation config and runner read entries only; they
never test trainer names. Adding a trainer is adding one entry to a module's ``TRAINERS`` list and
that module to :data:`ENTRY_MODULES`.

Functions: :func:`get_trainer`, :func:`trainer_names`; classes :class:`Trainer`, :class:`TrainRequest`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from rewardlab.baselines.result import RunResult
from rewardlab.errors import ConfigError, did_you_mean

__all__ = ["ENTRY_MODULES", "TrainRequest", "Trainer", "get_trainer", "trainer_names"]

#: Modules whose ``TRAINERS`` list holds registry entries (imported on first lookup).
ENTRY_MODULES: tuple[str, ...] = ("rewardlab.baselines.sb3", "rewardlab.baselines.ppo", "rewardlab.baselines.marl")


@dataclass(frozen=True, kw_only=True)
class TrainRequest:
    """One run to train: what the ablation runner hands every trainer."""

    #: The run spec's env section: ``id``, ``kwargs``, ``wrappers``, ``max_episode_steps``, ``parallel_env``.
    env: Mapping[str, Any]
    #: A reward config (or a built term).
    reward: Any
    total_steps: int
    seed: int
    n_envs: int
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    normalize_obs: bool = False
    eval_every: int | None = None
    eval_episodes: int = 5
    eval_deterministic: bool = True
    progress: Callable[[int], None] | None = None
    #: This run's own TensorBoard folder (None: no TensorBoard log).
    tensorboard_dir: str | None = None
    #: This run's own checkpoint folder: the trainer saves there and resumes from it when it holds one.
    checkpoint_dir: str | None = None


@dataclass(frozen=True, kw_only=True)
class Trainer:
    """A registry entry: everything the ablation layer knows about one trainer."""

    name: str
    #: Trains one run.
    train: Callable[[TrainRequest], RunResult]
    #: The callable whose keyword arguments are the trainer's hyper-parameters (a dataclass or an
    #: ``__init__``), checked by :func:`rewardlab.ablation.hyperparams.check_hyperparams`.
    hyperparams: Callable[..., Any]
    #: The discount the trainer will use, from its hyper-parameters.
    gamma: Callable[[Mapping[str, Any]], float]
    #: ``check_action_space(space, where)``: raises ConfigError for an action space it cannot use.
    check_action_space: Callable[[gym.Space, str], None]
    #: ``collection(hyperparams, n_envs)``: the steps one collection takes and its description, or
    #: None when that cannot be told ahead (see :func:`rewardlab.ablation.run.planned_steps`).
    collection: Callable[[Mapping[str, Any], int], tuple[int, str] | None]
    single_agent: bool = True
    multi_agent: bool = False
    #: Accepts ``normalize_obs`` (a running observation normaliser).
    normalize_obs: bool = True
    #: Saves checkpoints and resumes from ``TrainRequest.checkpoint_dir``.
    resumable: bool = False
    #: Multi-agent by one policy over a VecEnv of all agents (SB3's parameter sharing): every agent
    #: needs the same observation and action space. IPPO/MAPPO map each agent's own bounds instead.
    same_agent_spaces: bool = True


_REGISTRY: dict[str, Trainer] = {}


def _load() -> dict[str, Trainer]:
    if not _REGISTRY:
        found: dict[str, Trainer] = {}
        for module in ENTRY_MODULES:
            for entry in importlib.import_module(module).TRAINERS:
                if entry.name in found:
                    raise RuntimeError(f"Two trainers named `{entry.name}` ({module})")
                found[entry.name] = entry
        _REGISTRY.update(found)
    return _REGISTRY


def trainer_names() -> list[str]:
    """Every registered trainer's name, sorted."""
    return sorted(_load())


def get_trainer(name: str) -> Trainer:
    """The entry named `name`; ConfigError naming the known ones otherwise."""
    registry = _load()
    if name not in registry:
        known = sorted(registry)
        raise ConfigError(f"Unknown algorithm `{name}` (known: {known}).{did_you_mean(str(name), known)}")
    return registry[name]
