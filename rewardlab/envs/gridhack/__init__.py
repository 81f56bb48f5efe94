"""gridhack: native, batched NetHack-like dungeon tasks with NLE-style observations.

Registers ``rewardlab/Gridhack-<Task>-v0`` for every task in :data:`TASKS`, each with an
``entry_point`` (:class:`GridhackEnv`) and a ``vector_entry_point`` (:class:`GridhackVectorEnv`),
and publishes the ``subgoal_distance`` potential of each id.
"""

from __future__ import annotations

import gymnasium as gym

from rewardlab.envs.gridhack.core import OBSERVATION_KEYS, GridhackCore
from rewardlab.envs.gridhack.env import GridhackEnv
from rewardlab.envs.gridhack.tasks import TASKS, TaskSpec
from rewardlab.envs.gridhack.vector import GridhackVectorEnv

__all__ = ["GridhackCore", "GridhackEnv", "GridhackVectorEnv", "TASKS", "TaskSpec", "OBSERVATION_KEYS",
           "env_id", "register_envs"]


def env_id(task: str) -> str:
    """The registered id of a task name: ``"KeyRoom-S10"`` -> ``"rewardlab/Gridhack-KeyRoom-S10-v0"``."""
    return f"rewardlab/Gridhack-{task}-v0"


def register_envs() -> None:
    """Register every gridhack task and publish its potentials."""
    from rewardlab.envs.gridhack.descriptor import descriptor_factory
    from rewardlab.envs.gridhack.oracle import subgoal_potential
    from rewardlab.shaping.llm.views import register_descriptor
    from rewardlab.shaping.potentials import register_potentials

    for name, spec in TASKS.items():
        eid = env_id(name)
        if eid not in gym.registry:
            gym.register(eid, entry_point="rewardlab.envs.gridhack.env:GridhackEnv",
                         vector_entry_point="rewardlab.envs.gridhack.vector:GridhackVectorEnv",
                         max_episode_steps=spec.max_episode_steps,
                         kwargs={"task": name, "num_contexts": spec.num_contexts})
        register_potentials(eid, {"subgoal_distance": subgoal_potential(name)})
        register_descriptor(eid, descriptor_factory(name, eid))
