"""Sparse MiniGrid tasks with a fully observed, SB3-friendly flat observation (needs the ``minigrid`` extra).

Classes: :class:`SparseDoorKey8x8`, :class:`SparseKeyCorridorS3R3`, :class:`SparseMultiRoomN4S5`,
:class:`SubgoalDistance` (the BFS potential); functions :func:`encode_state`, :func:`decode_obs`.

Observation layout (uint8, length ``W*H*3 + 5``), built from the env state, not from MiniGrid's
egocentric view, so that a potential can be computed from the observation alone:

* ``obs[:W*H*3]``: ``grid.encode()`` flattened from shape ``(W, H, 3)`` (x, y, channel), channels
  = object type, colour, state, with MiniGrid's ``OBJECT_TO_IDX`` / ``STATE_TO_IDX`` codes; the
  agent is not drawn into the grid;
* ``obs[-5:]``: agent x, agent y, agent direction (0 = right, 1 = down, 2 = left, 3 = up), the
  carried object's type code (0 when empty-handed) and its colour code.

MiniGrid's mission string is dropped: it is fixed by the task id (and its Text space breaks SB3).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from rewardlab.envs.control.base import ControlTask

__all__ = [
    "SparseDoorKey8x8",
    "SparseKeyCorridorS3R3",
    "SparseMultiRoomN4S5",
    "SubgoalDistance",
    "encode_state",
    "decode_obs",
]

# MiniGrid's codes (minigrid/core/constants.py); copied so that potentials import without minigrid.
# tests/envs/control/test_minigrid_tasks.py checks them against the installed package.
EMPTY, WALL, FLOOR, DOOR, KEY, BALL, BOX, GOAL, LAVA = 1, 2, 3, 4, 5, 6, 7, 8, 9
OPEN, CLOSED, LOCKED = 0, 1, 2
_PASSABLE_TYPES = (EMPTY, FLOOR, GOAL, DOOR)  # doors only when not locked; closed ones open by toggling


def encode_state(env: Any) -> np.ndarray:
    """The flat uint8 observation of a MiniGrid env's current state (layout in the module docstring)."""
    carrying = env.carrying
    tail = [*env.agent_pos, env.agent_dir, *(carrying.encode()[:2] if carrying is not None else (0, 0))]
    return np.concatenate([env.grid.encode().reshape(-1), np.asarray(tail, dtype=np.uint8)])


def decode_obs(obs: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split a batch of flat observations (N, W*H*3+5) into grid (N, W, H, 3), agent xy (N, 2), direction (N,), carried type (N,)."""
    obs = np.asarray(obs)
    grid = obs[:, : width * height * 3].reshape(-1, width, height, 3)
    return grid, obs[:, -5:-3].astype(np.intp), obs[:, -3], obs[:, -2]


def _bfs_steps(passable: np.ndarray, sources: np.ndarray, xy: np.ndarray, unreachable: int) -> np.ndarray:
    """Moves (4-connected) from each agent cell to the nearest source cell, batched as frontier growth.

    A source counts as reached when the agent steps onto it (goal) or faces it from a neighbour
    (key, door, ball: one move less than stepping on it, the same offset for every state of a stage).
    """
    n = np.arange(len(xy))
    reached = sources.copy()
    frontier = sources
    dist = np.full(len(xy), unreachable, dtype=np.int64)
    found = reached[n, xy[:, 0], xy[:, 1]]
    dist[found] = 0
    for d in range(1, unreachable):
        if found.all():
            break
        grown = np.zeros_like(frontier)
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        grown[:, :, 1:] |= frontier[:, :, :-1]
        grown[:, :, :-1] |= frontier[:, :, 1:]
        frontier = grown & passable & ~reached
        if not frontier.any():
            break
        reached |= frontier
        hit = frontier[n, xy[:, 0], xy[:, 1]] & ~found
        dist[hit] = d
        found |= hit
    return dist


class SubgoalDistance:
    """Potential ``Phi = -(stages_left * L + d) / (num_stages * L)``, in [-1, 0], from flat observations.

    The current subgoal is the key while a locked door remains and the agent has no key, then the
    locked door, then the task's target (goal square or ball); ``d`` is the BFS distance to it
    through passable cells (floor, goal, unlocked doors) and ``L = W * H`` bounds every ``d``, so
    finishing a stage always raises ``Phi``. Carrying the target counts as ``d = 0``.

    Args:
        width, height: the grid size of the task.
        target: MiniGrid type code of the final target (8 = goal, 6 = ball).
        num_stages: 3 for key-door tasks, 1 when no door is locked.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Sparse-DoorKey-8x8-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> phi = rewardlab.shaping.potentials_for(env.spec.id)["subgoal_distance"]
        >>> round(float(phi(obs[None])[0]) * 3 * 64)  # -(2 stages left * 64 + 2 moves to the key)
        -130
    """

    def __init__(self, width: int, height: int, target: int, num_stages: int):
        self.width, self.height, self.target, self.num_stages = width, height, target, num_stages

    def steps(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Stages left after the current one, and moves to the current subgoal, each shape (N,)."""
        grid, xy, _, carried = decode_obs(obs, self.width, self.height)
        types, states = grid[..., 0], grid[..., 2]
        locked = (types == DOOR) & (states == LOCKED)
        has_locked = locked.any(axis=(1, 2))
        has_key = carried == KEY
        seek_key, seek_door = has_locked & ~has_key, has_locked & has_key
        sources = np.where(
            seek_key[:, None, None], types == KEY, np.where(seek_door[:, None, None], locked, types == self.target)
        )
        passable = np.isin(types, _PASSABLE_TYPES) & ~locked
        size = self.width * self.height
        dist = _bfs_steps(passable, sources, xy, size)
        dist[(carried == self.target) & ~has_locked] = 0
        return 2 * seek_key + seek_door, dist

    def __call__(self, obs: Any) -> np.ndarray:
        stages_left, dist = self.steps(obs)
        size = self.width * self.height
        return -(stages_left * size + dist) / float(self.num_stages * size)


class _MiniGridTask(ControlTask):
    """Shared parts: flat observation, success = MiniGrid's positive reward, dense = native + progress."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 10}
    base_module = "minigrid"
    terminate_on_success = True
    extra = "minigrid"
    width: ClassVar[int]
    height: ClassVar[int]
    target: ClassVar[int] = GOAL
    num_stages: ClassVar[int] = 3

    @classmethod
    def potential(cls) -> SubgoalDistance:
        return SubgoalDistance(cls.width, cls.height, cls.target, cls.num_stages)

    @functools.cached_property
    def _phi(self) -> SubgoalDistance:
        return self.potential()

    def _base_kwargs(self) -> dict[str, Any]:
        # MiniGrid enforces its own step limit; setting it to the horizon keeps both limits, and the
        # native reward's 1 - 0.9 t / max_steps, consistent.
        return {**self.base_kwargs, "max_steps": self.horizon}

    def _observation_space(self) -> gym.Space:
        return gym.spaces.Box(0, 255, (self.width * self.height * 3 + 5,), np.uint8)

    def _observe(self, base_obs: Any) -> np.ndarray:
        return encode_state(self.base)

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        # MiniGrid pays a positive reward only on reaching the goal / picking up the target object.
        return base_reward > 0.0

    def _on_reset(self, obs: Any) -> None:
        self._last_phi = float(self._phi(obs[None])[0])

    def _dense(self, base_reward: float, obs: Any) -> float:
        # Phi(s) is cached from the previous step: one BFS per step.
        phi, self._last_phi = self._last_phi, float(self._phi(obs[None])[0])
        return float(base_reward) + self._last_phi - phi


_MINIGRID_SECTIONS = """
    ## Action Space
    ``Discrete(7)``: left, right, forward, pickup, drop, toggle, done (MiniGrid's).
    A Python int or numpy integer in range; anything else raises
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Box(0, 255, (W*H*3 + 5,), uint8)``: the full grid encoding plus agent x, y, direction and the
    carried object's type and colour (layout in :mod:`rewardlab.envs.control.minigrid_tasks`).
    SB3's ``MlpPolicy`` takes it as is.

    ## Rewards
    Sparse: 1.0 on success, else 0.0. Dense (``Dense-*`` twin): MiniGrid's native reward
    ``1 - 0.9 t / horizon`` on success (itself sparse) plus the subgoal progress
    ``Phi(s') - Phi(s)`` of the ``subgoal_distance`` potential (rewardlab's reference, since
    MiniGrid has no native dense reward).

    ## Potentials
    ``subgoal_distance``: :class:`SubgoalDistance`, minus the BFS distance to the current subgoal
    (spec §5.2's oracle potential), stage-aware and scaled to [-1, 0].

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")`` (spec §4).

    ## Version History
    * v0: initial release.
"""


class SparseDoorKey8x8(_MiniGridTask):
    __doc__ = """MiniGrid DoorKey-8x8: pick up the key, unlock the door, reach the goal; +1 on success.

    ## Description
    MiniGrid's ``MiniGrid-DoorKey-8x8-v0`` (8x8 grid, random wall, door, key and start).

    ## Success
    Stepping onto the green goal square (MiniGrid's own termination with positive reward). Random
    policies: 0 successes in 4000 steps (spec §2.4).

    ## Starting State
    Random layout from ``reset(seed=...)``.

    ## Episode End
    Terminates at the goal; truncates after ``horizon = 640`` steps (MiniGrid's 10 * 8^2).
    """ + _MINIGRID_SECTIONS + """
    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Sparse-DoorKey-8x8-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype, env.action_space
        ((197,), dtype('uint8'), Discrete(7))
    """

    base_id = "MiniGrid-DoorKey-8x8-v0"
    default_horizon = 640
    width = height = 8


class SparseKeyCorridorS3R3(_MiniGridTask):
    __doc__ = """MiniGrid KeyCorridorS3R3: find the key, unlock a room, pick up the ball; +1 on success.

    ## Description
    MiniGrid's ``MiniGrid-KeyCorridorS3R3-v0`` (7x7 grid, 3 rows of 3x3 rooms off a corridor; the
    ball is in a locked room, the key in another room).

    ## Success
    Picking up the ball (MiniGrid's own termination with positive reward). Random policies: 0
    successes in 4000 steps (spec §2.4).

    ## Starting State
    Random layout from ``reset(seed=...)``.

    ## Episode End
    Terminates on picking up the ball; truncates after ``horizon = 270`` steps (MiniGrid's
    30 * 3^2).
    """ + _MINIGRID_SECTIONS + """
    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Sparse-KeyCorridor-S3R3-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape
        (152,)
    """

    base_id = "MiniGrid-KeyCorridorS3R3-v0"
    default_horizon = 270
    width = height = 7
    target = BALL


class SparseMultiRoomN4S5(_MiniGridTask):
    __doc__ = """MiniGrid MultiRoom with 4 rooms of size <= 5: open doors to reach the goal; +1 on success.

    ## Description
    MiniGrid's ``MultiRoomEnv(minNumRooms=4, maxNumRooms=4, maxRoomSize=5)`` on a 25x25 grid, the
    configuration of ``MiniGrid-MultiRoom-N4-S5-v1``. minigrid 3.2 keeps the legacy id
    ``...-N4-S5-v0`` configured with 6 rooms, so rewardlab passes the 4-room kwargs explicitly.

    ## Success
    Stepping onto the goal square. Random policies: 0 successes in 4000 steps (spec §2.4).

    ## Starting State
    Random layout from ``reset(seed=...)``.

    ## Episode End
    Terminates at the goal; truncates after ``horizon = 80`` steps (MiniGrid's 20 per room).
    """ + _MINIGRID_SECTIONS + """
    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Sparse-MultiRoom-N4-S5-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape
        (1880,)
    """

    # The legacy id MiniGrid-MultiRoom-N4-S5-v0 builds 6 rooms in minigrid 3.2 (and warns); v1, which
    # older releases lack, has these kwargs.
    base_id = "minigrid.envs:MultiRoomEnv"
    base_kwargs: ClassVar[dict[str, Any]] = {"minNumRooms": 4, "maxNumRooms": 4, "maxRoomSize": 5}
    default_horizon = 80
    width = height = 25
    num_stages = 1
