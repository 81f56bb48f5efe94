"""Oracle subgoals of gridhack, read from the observation alone (``glyphs``, ``blstats``, ``message``).

:func:`plan` finds the current subgoal of a task (key, locked door, item, river bank, firing
position, stairs) and :func:`subgoal_potential` turns it into the published potential
``phi = -(shortest-path distance to the subgoal) - 100 * (subgoals still ahead)``;
:class:`OraclePolicy` walks the same shortest paths and uses items, keys, kicks and stairs, and
solves every task (tests/envs/gridhack). Distance fields are cached by (passable map, targets),
so they are recomputed only when a subgoal or the map changes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.envs.gridhack.rules import RAY_RANGE, WALKABLE
from rewardlab.envs.gridhack.levels import bfs_distance
from rewardlab.envs.gridhack.tasks import TASKS, TaskSpec
from rewardlab.envs.gridhack.tiles import (BL_DEPTH, BL_HAS_KEY, BL_ITEM, BL_LEVITATING, BL_X, BL_Y, DIRS, GLYPH_CELL,
                                           MESSAGE_TABLE, MONSTER_GLYPH, Cell, Cmd, Item, Monster, Msg)

__all__ = ["Plan", "plan", "subgoal_potential", "OraclePolicy", "STAGE_COST"]

STAGE_COST = 100  # more than any path on the 21x79 map, so finishing a subgoal always raises phi
_UNREACHABLE = 2 * STAGE_COST
_DIRECTION_MSG = MESSAGE_TABLE[Msg.DIRECTION]
_MINOTAUR = MONSTER_GLYPH[Monster.MINOTAUR][0]
_JACKAL = MONSTER_GLYPH[Monster.JACKAL][0]
_ITEMS = (Cell.POTION, Cell.BOOTS, Cell.HORN, Cell.WAND_COLD, Cell.WAND_DEATH)
_WALK = np.append(WALKABLE, True)  # index -1 (agent, jackal) counts as walkable
_WALK[Cell.DOOR_CLOSED] = True  # bumping opens it
_WALK[Cell.LAVA] = False  # unless levitating


@dataclass
class Plan:
    """The current subgoal: `targets` (H, W) bool, `passable` (H, W) bool, `stages` still ahead after
    it, the command to issue once on a target (None: just walk there) and the direction it needs.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> obs, _ = gym.make("rewardlab/Gridhack-Levitate-Potion-v0").reset(seed=0)
        >>> p = plan(TASKS["Levitate-Potion"], obs["glyphs"], obs["blstats"])
        >>> int(p.targets.sum()), p.stages  # the potion, with quaffing and the stairs still ahead
        (1, 2)
    """

    targets: np.ndarray
    passable: np.ndarray
    stages: int
    command: int | None = None
    direction: int | None = None


def _adjacent_dir(cells: np.ndarray, y: int, x: int, want: np.ndarray) -> int | None:
    """The first compass direction (orthogonal ones first) from (y, x) to a cell where `want` holds."""
    for d, (dy, dx) in enumerate(DIRS):
        ny, nx = y + dy, x + dx
        if 0 <= ny < cells.shape[0] and 0 <= nx < cells.shape[1] and want[ny, nx]:
            return d
    return None


def plan(task: TaskSpec, glyphs: np.ndarray, blstats: np.ndarray) -> Plan:
    """The subgoal of one sub-env from its ``glyphs`` (21, 79) and ``blstats`` (8,)."""
    cells = GLYPH_CELL[glyphs]  # -1 where the agent or a monster hides the cell
    y, x = int(blstats[BL_Y]), int(blstats[BL_X])
    lev, item, key = int(blstats[BL_LEVITATING]), int(blstats[BL_ITEM]), int(blstats[BL_HAS_KEY])
    passable = _WALK[cells]
    minotaur = glyphs == _MINOTAUR
    passable &= ~minotaur
    if lev:
        passable |= cells == Cell.LAVA
    locked = cells == Cell.DOOR_LOCKED
    if task.kind == "kick":
        passable |= locked
    here = np.zeros_like(passable)
    here[y, x] = True
    goal = cells == Cell.STAIRS_DOWN
    if not goal.any():  # standing on the stairs
        goal = here

    if task.kind == "key" and not key:
        keys = cells == Cell.KEY
        return Plan(keys, passable, 2) if keys.any() else Plan(here, passable, 2, Cmd.PICKUP)
    if task.kind == "key" and locked.any():
        d = _adjacent_dir(cells, y, x, locked)
        return Plan(locked, passable | locked, 1, Cmd.APPLY if d is not None else None, d)
    if task.kind in ("item", "wod") and item == Item.NONE and not lev:
        items = np.isin(cells, _ITEMS)
        return Plan(items, passable, 2) if items.any() else Plan(here, passable, 2, Cmd.PICKUP)
    if item == Item.POTION:
        return Plan(here, passable, 1, Cmd.QUAFF)
    if item == Item.BOOTS and not lev:
        return Plan(here, passable, 1, Cmd.WEAR)
    if item in (Item.HORN, Item.WAND_COLD) and _distance(passable, goal)[y, x] < 0:
        lava = cells == Cell.LAVA
        bank = passable & ~lava & (np.roll(lava, 1, axis=1) | np.roll(lava, -1, axis=1))
        cmd = Cmd.APPLY if item == Item.HORN else Cmd.ZAP
        return Plan(bank, passable, 1, cmd, _adjacent_dir(cells, y, x, lava))
    if item == Item.WAND_DEATH and minotaur.any():
        my, mx = (int(v[0]) for v in np.nonzero(minotaur))
        spots = np.zeros_like(passable)
        for k in range(2, RAY_RANGE + 1):  # firing positions west of the minotaur with a clear line
            if mx - k < 0 or not passable[my, mx - k + 1 : mx].all():
                break
            spots[my, mx - k] = passable[my, mx - k]
        return Plan(spots, passable, 1, Cmd.ZAP, 1)  # direction 1 = east
    if task.kind == "stairs":
        return Plan(goal, passable, task.depth - int(blstats[BL_DEPTH]) - 1, Cmd.DOWN if goal[y, x] else None)
    return Plan(goal, passable, 0)


_CACHE: OrderedDict[bytes, np.ndarray] = OrderedDict()


def _distance(passable: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Shortest-path step counts to the nearest target (-1: unreachable), cached."""
    key = np.packbits(passable).tobytes() + np.packbits(targets).tobytes()
    dist = _CACHE.get(key)
    if dist is None:
        dist = bfs_distance(passable | targets, np.argwhere(targets)).astype(np.int16)  # 3 kB an entry
        _CACHE[key] = dist
        if len(_CACHE) > 4096:
            _CACHE.popitem(last=False)
    return dist


def subgoal_potential(task: str) -> Callable[[dict[str, Any]], np.ndarray]:
    """The ``subgoal_distance`` potential of a task: ``phi(obs_batch) -> (N,) float64``.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> from rewardlab.shaping import potentials_for
        >>> env = gym.make("rewardlab/Gridhack-KeyRoom-S10-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> phi = potentials_for("rewardlab/Gridhack-KeyRoom-S10-v0")["subgoal_distance"]
        >>> phi({k: v[None] for k, v in obs.items()})  # key 7 steps away, then the door and the stairs
        array([-207.])
    """
    spec = TASKS[task]

    def subgoal_distance(obs: dict[str, Any]) -> np.ndarray:
        glyphs, blstats = np.asarray(obs["glyphs"]), np.asarray(obs["blstats"])
        out = np.empty(glyphs.shape[0], dtype=np.float64)
        for i in range(glyphs.shape[0]):
            p = plan(spec, glyphs[i], blstats[i])
            d = int(_distance(p.passable, p.targets)[blstats[i, BL_Y], blstats[i, BL_X]])
            out[i] = -((d if d >= 0 else _UNREACHABLE) + STAGE_COST * p.stages)
        return out

    subgoal_distance.__qualname__ = f"subgoal_distance[{task}]"
    return subgoal_distance


class OraclePolicy:
    """Shortest-path policy of one task that acts on observation batches (needs ``glyphs``,
    ``blstats`` and ``message``).

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> envs = gym.make_vec("rewardlab/Gridhack-KeyRoom-S10-v0", num_envs=2, vectorization_mode="vector_entry_point")
        >>> policy = OraclePolicy("KeyRoom-S10")
        >>> obs, _ = envs.reset(seed=0)
        >>> done = np.zeros(2, dtype=bool)
        >>> while not done.all():
        ...     obs, r, term, trunc, info = envs.step(policy(obs))
        ...     done |= info["is_success"]
        >>> done.tolist()
        [True, True]
    """

    def __init__(self, task: str):
        self.spec = TASKS[task]
        self._index = {cmd: i for i, cmd in enumerate(self.spec.actions)}

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        glyphs, bl, msgs = (np.asarray(obs[k]) for k in ("glyphs", "blstats", "message"))
        return np.array([self._act(glyphs[i], bl[i], msgs[i]) for i in range(glyphs.shape[0])], dtype=np.int64)

    def _act(self, glyphs: np.ndarray, bl: np.ndarray, message: np.ndarray) -> int:
        p = plan(self.spec, glyphs, bl)
        y, x = int(bl[BL_Y]), int(bl[BL_X])
        if (message == _DIRECTION_MSG).all():  # answer the "In what direction?" of our last command
            return self._index[p.direction if p.direction is not None else self._step(p, y, x)]
        if p.command is not None and (p.targets[y, x] or (self.spec.kind == "key" and p.direction is not None)):
            return self._index[p.command]
        if self.spec.monster == Monster.JACKAL:  # fight back rather than take bites on the way
            d = _adjacent_dir(glyphs, y, x, glyphs == _JACKAL)
            if d is not None:
                return self._index[d]
        d = self._step(p, y, x)
        if self.spec.kind == "kick" and GLYPH_CELL[glyphs[y + DIRS[d][0], x + DIRS[d][1]]] == Cell.DOOR_LOCKED:
            return self._index[Cmd.KICK]
        return self._index[d]

    @staticmethod
    def _step(p: Plan, y: int, x: int) -> int:
        """The compass direction one step down the distance field (the first of equals)."""
        dist = _distance(p.passable, p.targets)
        best, best_d = 0, None
        for d, (dy, dx) in enumerate(DIRS):
            v = int(dist[y + dy, x + dx]) if 0 <= y + dy < dist.shape[0] and 0 <= x + dx < dist.shape[1] else -1
            if v >= 0 and (best_d is None or v < best_d):
                best, best_d = d, v
        return best
