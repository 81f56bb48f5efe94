"""Sparse MountainCar tasks on Gymnasium's classic-control MountainCar-v0 and MountainCarContinuous-v0.

Classes: :class:`SparseMountainCar`, :class:`SparseMountainCarContinuous`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rewardlab.envs.control.base import ControlTask
from rewardlab.envs.control.physics import MOUNTAIN_CAR_POTENTIALS

__all__ = ["SparseMountainCar", "SparseMountainCarContinuous", "MOUNTAIN_CAR_POTENTIALS"]

def mountain_car_cell(obs: Any, bins: int = 20) -> Any:
    """MountainCar's (x, v) discretised into a ``bins x bins`` grid: a count key for exploration bonuses.

    In configs: ``{type: EpisodicCount, key: "rewardlab.envs.control.classic:mountain_car_cell"}``.

    Example:
        >>> mountain_car_cell(np.array([[-1.2, -0.07], [0.6, 0.07], [-0.5, 0.0]])).tolist()
        [[0, 0], [19, 19], [7, 10]]
    """
    x = np.clip(((obs[:, 0] + 1.2) / 1.8 * bins).astype(np.int64), 0, bins - 1)
    v = np.clip(((obs[:, 1] + 0.07) / 0.14 * bins).astype(np.int64), 0, bins - 1)
    return np.stack([x, v], axis=1)


class SparseMountainCar(ControlTask):
    """MountainCar-v0 with a +1 success reward at the flag and a 1000-step horizon.

    ## Description
    Gymnasium's MountainCar-v0 (Moore 1990): an under-powered car in a valley must rock back and
    forth to reach the flag at ``x = 0.5``. Dynamics, observation and action are the base env's.

    ## Action Space
    ``Discrete(3)``: push left, no push, push right.
    A Python int or numpy integer in range; anything else raises
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(2,)``: ``[x, v]`` with ``x`` in [-1.2, 0.6] and ``v`` in [-0.07, 0.07].

    ## Rewards
    Sparse (``Sparse-MountainCar-v0``): 1.0 on the step that reaches the flag, else 0.0.
    Dense (``Dense-MountainCar-v0``): the base env's own reward, -1 per step.

    ## Success
    ``x >= 0.5`` after the step (Gymnasium's goal position; BARFI, Gupta et al. 2023, uses the same
    primary reward r = 1 at x >= 0.5). The base env then terminates.

    ## Potentials
    ``energy``: mechanical energy 0.5 v^2 + 0.0025/3 sin 3x, scaled to -0.5 at rest on the valley
    floor and +0.5 at rest at x = pi/6 (the spec's expert PBRS potential); ``height``: sin 3x.

    ## Starting State
    ``x`` uniform in [-0.6, -0.4], ``v = 0`` (base env).

    ## Episode End
    Terminates at the flag; truncates after ``horizon = 1000`` steps (spec §3.3; Gymnasium uses
    200, BARFI 2000). A random policy never reaches the flag in 1000 steps (spec §3.2).

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Sparse-MountainCar-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> env.unwrapped.base.state = [0.49, 0.02]  # one push from the flag
        >>> _, reward, terminated, _, info = env.step(2)
        >>> reward, terminated, info["is_success"], info["dense_reward"]
        (1.0, True, True, -1.0)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 30}
    base_id = "MountainCar-v0"
    default_horizon = 1000
    terminate_on_success = True
    extra = None

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        return bool(obs[0] >= 0.5)


class SparseMountainCarContinuous(ControlTask):
    """MountainCarContinuous-v0 with a +1 success reward at the flag, without the action penalty.

    ## Description
    Gymnasium's MountainCarContinuous-v0: the car of MountainCar with a continuous force, goal at
    ``x = 0.45``. Dynamics, observation and action are the base env's.

    ## Action Space
    ``Box(-1, 1, (1,))``: the force.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(2,)``: ``[x, v]``.

    ## Rewards
    Sparse: 1.0 on the step that reaches the flag, else 0.0 (drops the base env's -0.1 a^2).
    Dense (``Dense-MountainCarContinuous-v0``): the base env's own reward, +100 at the flag minus
    0.1 a^2 per step (known to be deceptive: a policy that never pushes avoids the penalty).

    ## Success
    ``x >= 0.45`` after the step (the base env's goal position, spec §3.3); the base env then
    terminates.

    ## Potentials
    ``energy`` and ``height``, as for :class:`SparseMountainCar`.

    ## Starting State
    ``x`` uniform in [-0.6, -0.4], ``v = 0``.

    ## Episode End
    Terminates at the flag; truncates after ``horizon = 999`` steps (Gymnasium's limit, spec §3.3).

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = gym.make("rewardlab/Dense-MountainCarContinuous-v0")
        >>> _ = env.reset(seed=0)
        >>> _, reward, terminated, _, info = env.step(np.array([1.0], dtype=np.float32))
        >>> reward, terminated, info["is_success"], info["sparse_reward"]
        (-0.1, False, False, 0.0)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 30}
    base_id = "MountainCarContinuous-v0"
    default_horizon = 999
    terminate_on_success = True
    extra = None

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        return bool(obs[0] >= 0.45)
