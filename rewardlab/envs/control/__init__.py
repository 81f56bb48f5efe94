"""Sparse-reward control tasks: MountainCar, MuJoCo v5, AntMaze and MiniGrid (spec: environments.md §3.3).

Every task is registered twice, ``rewardlab/Sparse-<Task>-v0`` (the success reward) and
``rewardlab/Dense-<Task>-v0`` (the reference dense reward); both report ``info["is_success"]``,
``info["sparse_reward"]`` and ``info["dense_reward"]`` on every step and publish the same named
potentials through :func:`rewardlab.shaping.potentials_for`. Optional dependencies load only when
an env is made; a missing one raises :class:`~rewardlab.errors.MissingExtraError` naming the extra.

Example:
    >>> import gymnasium as gym, rewardlab
    >>> env = gym.make("rewardlab/Sparse-MountainCar-v0", delay="episode")
    >>> sorted(rewardlab.shaping.potentials_for(env.spec.id))
    ['energy', 'height']
"""

from __future__ import annotations

import gymnasium as gym

from rewardlab.envs.control.antmaze import maze_neg_distance
from rewardlab.envs.control.classic import MOUNTAIN_CAR_POTENTIALS
from rewardlab.envs.control.descriptors import descriptor_factory
from rewardlab.envs.control.minigrid_tasks import SparseDoorKey8x8, SparseKeyCorridorS3R3, SparseMultiRoomN4S5
from rewardlab.envs.control.mujoco import (
    forward_progress,
    pusher_neg_distance,
    pusher_neg_tip_distance,
    reacher_neg_distance,
)
from rewardlab.envs.control.physics import register_gymnasium_potentials
from rewardlab.shaping.llm.views import register_descriptor
from rewardlab.shaping.potentials import register_potentials

__all__ = ["register_envs", "TASKS", "task_ids"]

_LOCOMOTION = {"forward_progress": forward_progress}

#: task name -> (entry point, named potentials)
TASKS: dict[str, tuple[str, dict]] = {
    "MountainCar": ("classic:SparseMountainCar", MOUNTAIN_CAR_POTENTIALS),
    "MountainCarContinuous": ("classic:SparseMountainCarContinuous", MOUNTAIN_CAR_POTENTIALS),
    "Reacher": ("mujoco:SparseReacher", {"neg_distance": reacher_neg_distance}),
    "Pusher": ("mujoco:SparsePusher", {"neg_distance": pusher_neg_distance, "neg_tip_distance": pusher_neg_tip_distance}),
    "HalfCheetah": ("mujoco:SparseHalfCheetah", _LOCOMOTION),
    "Hopper": ("mujoco:SparseHopper", _LOCOMOTION),
    "Walker2d": ("mujoco:SparseWalker2d", _LOCOMOTION),
    "AntMaze-UMaze": ("antmaze:SparseAntMazeUMaze", {"neg_distance": maze_neg_distance}),
    "DoorKey-8x8": ("minigrid_tasks:SparseDoorKey8x8", {"subgoal_distance": SparseDoorKey8x8.potential()}),
    "KeyCorridor-S3R3": ("minigrid_tasks:SparseKeyCorridorS3R3", {"subgoal_distance": SparseKeyCorridorS3R3.potential()}),
    "MultiRoom-N4-S5": ("minigrid_tasks:SparseMultiRoomN4S5", {"subgoal_distance": SparseMultiRoomN4S5.potential()}),
}


def task_ids(kind: str = "Sparse") -> list[str]:
    """The registered ids of one kind, ``"Sparse"`` or ``"Dense"``, in :data:`TASKS` order."""
    return [f"rewardlab/{kind}-{task}-v0" for task in TASKS]


def register_envs() -> None:
    """Register ``rewardlab/Sparse-<Task>-v0`` and ``rewardlab/Dense-<Task>-v0`` for every task, and their potentials."""
    from rewardlab.envs.control import barfi_grid, subgoal_chain

    register_gymnasium_potentials()
    barfi_grid.register_envs()
    subgoal_chain.register_envs()
    for task, (entry, potentials) in TASKS.items():
        for kind in ("Sparse", "Dense"):
            env_id = f"rewardlab/{kind}-{task}-v0"
            if env_id not in gym.registry:
                gym.register(env_id, entry_point=f"rewardlab.envs.control.{entry}", kwargs={"reward": kind.lower()})
            register_potentials(env_id, potentials)
            register_descriptor(env_id, descriptor_factory(env_id))
