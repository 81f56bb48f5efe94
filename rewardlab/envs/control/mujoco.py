"""Sparse-success tasks on Gymnasium's MuJoCo v5 envs (needs the ``mujoco`` extra).

Classes: :class:`SparseReacher`, :class:`SparsePusher`, :class:`SparseHalfCheetah`,
:class:`SparseHopper`, :class:`SparseWalker2d`; potentials :func:`reacher_neg_distance`,
:func:`pusher_neg_distance`, :func:`pusher_neg_tip_distance`, :func:`forward_progress`.

Success is judged on the successor state, from the observation, so the sparse reward is a function
of what the agent sees and the published potentials are functions of the same numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rewardlab.envs.control.base import ControlTask

__all__ = [
    "SparseReacher",
    "SparsePusher",
    "SparseHalfCheetah",
    "SparseHopper",
    "SparseWalker2d",
    "reacher_neg_distance",
    "pusher_neg_distance",
    "pusher_neg_tip_distance",
    "forward_progress",
]

_MUJOCO_METADATA: dict[str, Any] = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

# Observation layouts of the v5 envs (gymnasium/envs/mujoco/reacher_v5.py, pusher_v5.py `_get_obs`).
_REACHER_TIP_MINUS_TARGET = slice(8, 10)  # fingertip - target, x and y (both bodies sit at z = 0.01)
_PUSHER_TIP, _PUSHER_OBJECT, _PUSHER_GOAL = slice(14, 17), slice(17, 20), slice(20, 23)


def reacher_neg_distance(obs: Any) -> Any:
    """Minus the fingertip-to-target distance of Reacher-v5 observations, shape (N,)."""
    return -np.linalg.norm(obs[:, _REACHER_TIP_MINUS_TARGET], axis=-1)


def pusher_neg_distance(obs: Any) -> Any:
    """Minus the object-to-goal distance of Pusher-v5 observations, shape (N,)."""
    return -np.linalg.norm(obs[:, _PUSHER_OBJECT] - obs[:, _PUSHER_GOAL], axis=-1)


def pusher_neg_tip_distance(obs: Any) -> Any:
    """Minus the arm-tip-to-object distance of Pusher-v5 observations, shape (N,)."""
    return -np.linalg.norm(obs[:, _PUSHER_TIP] - obs[:, _PUSHER_OBJECT], axis=-1)


def forward_progress(obs: Any) -> Any:
    """The torso's x position, ``obs[:, 0]`` (locomotion tasks include it in the observation)."""
    return obs[:, 0]


class SparseReacher(ControlTask):
    """Reacher-v5 with +1 per step while the fingertip is within 0.02 of the target.

    ## Description
    Gymnasium's Reacher-v5: a two-joint arm must bring its fingertip to a random target. The easy
    sanity task of the set: about a quarter of random episodes touch the target (spec §3.2).

    ## Action Space
    ``Box(-1, 1, (2,))``: joint torques.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(10,)``, the base env's: cos and sin of the joint angles, target position, joint
    velocities, and ``fingertip - target`` (x, y) at indices 8-9.

    ## Rewards
    Sparse: 1.0 on every step whose successor state is a success, else 0.0.
    Dense (``Dense-Reacher-v0``): the base env's own reward, ``-d - ||a||^2``.

    ## Success
    ``d = ||fingertip - target|| < 0.02`` (spec §3.3; the same distance as ``-info["reward_dist"]``,
    which Reacher-v5 measures after the step).

    ## Potentials
    ``neg_distance``: ``-d``.

    ## Starting State
    The base env's: joints near zero, target uniform in a disc of radius 0.2.

    ## Episode End
    Truncates after ``horizon = 50`` steps (Gymnasium's limit, spec §3.3); never terminates.

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")`` (async does not pay on 2 cores, spec §4).

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = gym.make("rewardlab/Sparse-Reacher-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(np.zeros(2, dtype=np.float32))
        >>> reward, info["is_success"], round(info["dense_reward"], 4)
        (0.0, False, -0.1905)
    """

    metadata: ClassVar[dict[str, Any]] = _MUJOCO_METADATA
    base_id = "Reacher-v5"
    default_horizon = 50
    threshold = 0.02

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        return bool(-reacher_neg_distance(obs[None])[0] < self.threshold)


class SparsePusher(ControlTask):
    """Pusher-v5 with +1 per step while the object is within 0.05 of the goal.

    ## Description
    Gymnasium's Pusher-v5: a 7-DoF arm must push a cylinder to a goal on the table. A random policy
    never succeeds (closest approach about 0.24 in 30 episodes, spec §3.2).

    ## Action Space
    ``Box(-2, 2, (7,))``: joint torques.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(23,)``, the base env's: 7 joint angles, 7 joint velocities, then the arm tip, object and
    goal positions (xyz) at indices 14-16, 17-19 and 20-22.

    ## Rewards
    Sparse: 1.0 on every step whose successor state is a success, else 0.0.
    Dense (``Dense-Pusher-v0``): the base env's own reward,
    ``-||obj - goal|| - 0.5 ||tip - obj|| - 0.1 ||a||^2``.

    ## Success
    ``||obj - goal|| < 0.05`` (spec §3.3; the 3-D distance ``-info["reward_dist"]`` of Pusher-v5).
    The object's centre sits 0.048 above the goal's, so this needs the xy distance below about 0.014.

    ## Potentials
    ``neg_distance``: ``-||obj - goal||``; ``neg_tip_distance``: ``-||tip - obj||``.

    ## Starting State
    The base env's: arm at rest, object uniform at more than 0.17 from the goal.

    ## Episode End
    Truncates after ``horizon = 100`` steps (Gymnasium's limit, spec §3.3); never terminates.

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = gym.make("rewardlab/Sparse-Pusher-v0")
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(np.zeros(7, dtype=np.float32))
        >>> reward, info["is_success"]
        (0.0, False)
    """

    metadata: ClassVar[dict[str, Any]] = _MUJOCO_METADATA
    base_id = "Pusher-v5"
    default_horizon = 100
    threshold = 0.05

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        return bool(-pusher_neg_distance(obs[None])[0] < self.threshold)


class _Locomotion(ControlTask):
    """Shared parts of the locomotion tasks: x in the observation, success on forward distance."""

    metadata: ClassVar[dict[str, Any]] = _MUJOCO_METADATA
    base_kwargs: ClassVar[dict[str, Any]] = {"exclude_current_positions_from_observation": False}
    default_horizon = 1000
    threshold: ClassVar[float]
    relative: ClassVar[bool] = True  # success on x - x0 (else on x)

    def _on_reset(self, obs: Any) -> None:
        self.x0 = float(obs[0])

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        return bool(obs[0] - (self.x0 if self.relative else 0.0) > self.threshold)


class SparseHalfCheetah(_Locomotion):
    """HalfCheetah-v5 with +1 per step while the torso is beyond x = 5.

    ## Description
    Gymnasium's HalfCheetah-v5, run forward. Criterion from VIME (Houthooft et al. 2016,
    openai/vime ``half_cheetah_env_x.py``): r = 1 if the torso's x > 5, every step, no termination.

    ## Action Space
    ``Box(-1, 1, (6,))``.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(18,)``: the base env built with ``exclude_current_positions_from_observation=False``, so
    ``obs[0]`` is the torso's x (the success criterion depends on it, so it must be observed).

    ## Rewards
    Sparse: 1.0 on every step whose successor state is a success, else 0.0.
    Dense (``Dense-HalfCheetah-v0``): the base env's own reward, forward velocity - 0.1 ||a||^2.

    ## Success
    ``x > 5`` (absolute, as in VIME; the start x is within 0.1 of 0). A random policy's best x over
    10 episodes is about 1.0 (spec §3.2).

    ## Potentials
    ``forward_progress``: ``x``.

    ## Starting State
    The base env's (small uniform noise on qpos, Gaussian on qvel).

    ## Episode End
    Truncates after ``horizon = 1000`` steps (spec §3.3); never terminates.

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Sparse-HalfCheetah-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, rewardlab.shaping.potentials_for(env.spec.id)["forward_progress"](obs[None]).shape
        ((18,), (1,))
    """

    base_id = "HalfCheetah-v5"
    threshold = 5.0
    relative = False


class SparseHopper(_Locomotion):
    """Hopper-v5 with +1 per step once the torso is more than 1 unit ahead of its start.

    ## Description
    Gymnasium's Hopper-v5, hop forward. Criterion from sparse-gym-mujoco (fiberleif) and DAC
    (seungyulhan/dac): r = 1 per step if x - x0 > 1, keeping the unhealthy termination (LOGO,
    Rengarajan et al. 2022, uses 2).

    ## Action Space
    ``Box(-1, 1, (3,))``.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(12,)``: the base env with ``exclude_current_positions_from_observation=False``;
    ``obs[0]`` is the torso's x.

    ## Rewards
    Sparse: 1.0 on every step whose successor state is a success, else 0.0.
    Dense (``Dense-Hopper-v0``): the base env's own reward, forward velocity + 1 (healthy)
    - 1e-3 ||a||^2.

    ## Success
    ``x - x0 > 1``, with ``x0`` the torso's x at reset (within 0.005 of 0). Random policies fall
    long before (0 of 30 episodes, spec §3.2).

    ## Potentials
    ``forward_progress``: ``x``.

    ## Starting State
    The base env's.

    ## Episode End
    Terminates when unhealthy (base env); truncates after ``horizon = 1000`` steps (spec §3.3).

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = gym.make("rewardlab/Sparse-Hopper-v0")
        >>> _ = env.reset(seed=0)
        >>> _, reward, terminated, _, info = env.step(np.zeros(3, dtype=np.float32))
        >>> reward, terminated, info["is_success"]
        (0.0, False, False)
    """

    base_id = "Hopper-v5"
    threshold = 1.0


class SparseWalker2d(_Locomotion):
    """Walker2d-v5 with +1 per step once the torso is more than 1 unit ahead of its start.

    ## Description
    Gymnasium's Walker2d-v5, walk forward. Criterion from sparse-gym-mujoco (fiberleif) and DAC:
    r = 1 per step if x - x0 > 1, keeping the unhealthy termination.

    ## Action Space
    ``Box(-1, 1, (6,))``.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(18,)``: the base env with ``exclude_current_positions_from_observation=False``;
    ``obs[0]`` is the torso's x.

    ## Rewards
    Sparse: 1.0 on every step whose successor state is a success, else 0.0.
    Dense (``Dense-Walker2d-v0``): the base env's own reward.

    ## Success
    ``x - x0 > 1``, ``x0`` the torso's x at reset (0 of 30 random episodes, spec §3.2).

    ## Potentials
    ``forward_progress``: ``x``.

    ## Starting State
    The base env's.

    ## Episode End
    Terminates when unhealthy (base env); truncates after ``horizon = 1000`` steps (spec §3.3).

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = gym.make("rewardlab/Dense-Walker2d-v0")
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(np.zeros(6, dtype=np.float32))
        >>> reward == info["dense_reward"], info["is_success"]
        (True, False)
    """

    base_id = "Walker2d-v5"
    threshold = 1.0
