"""The batched gridhack core: B dungeons stepped at once, written against the array API.

One :class:`GridhackCore` holds the state of ``B`` episodes as arrays with leading dimension ``B``
(numpy for the Gymnasium fronts, torch on any device for on-device training) and steps them with
vectorised array operations only; Python loops run over monster slots and ray lengths (at most 8),
never over environments. Randomness inside an episode (kicks, monster moves and bites) comes from
a counter-based integer hash of a per-episode key, so numpy and torch give identical trajectories.

The display (glyphs, chars, colours with the agent and monsters drawn in) is kept up to date
incrementally: a step rewrites only the cells it may have changed. Cells are addressed by flat
positions in the padded maps, so each lookup is one 1-D gather.

At B = 1 every array operation costs its fixed overhead (about a microsecond), so the step keeps
their number low: per-action rules are lookups in tables indexed by the action and the pending
direction prompt, and a command's whole outcome is one lookup in tables built from
:func:`_command_rule`. The only B = 1 specialisations are in plumbing, never in the rules: host checks
read the single item instead of reducing (``_any``), ``observe`` slices the crop instead of
gathering it, and a one-level reset takes views of the level pool.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.envs.gridhack import tiles
from rewardlab.envs.gridhack.contexts import LevelSource
from rewardlab.envs.gridhack.tasks import TaskSpec
from rewardlab.envs.gridhack.tiles import CROP, PAD, Cell, Cmd, Item, Monster, Msg
from rewardlab.errors import InvalidParameter

__all__ = ["GridhackCore", "OBSERVATION_KEYS", "HP_MAX"]

OBSERVATION_KEYS = ("glyphs", "chars", "colors", "glyphs_crop", "blstats", "message")
HP_MAX = 12
RAY_RANGE = 8  # cells a bolt of cold or a death ray travels
_MASK32 = 0xFFFFFFFF
_KEY_RANGE = 2**31  # per-episode hash keys are drawn from [0, 2**31)

# Per-cell rule tables (index: cell type)
_WALKABLE = np.zeros(Cell.COUNT, dtype=bool)
_WALKABLE[[Cell.FLOOR, Cell.CORRIDOR, Cell.DOORWAY, Cell.DOOR_OPEN, Cell.LAVA, Cell.ICE, Cell.STAIRS_DOWN,
           Cell.STAIRS_UP, Cell.KEY, Cell.POTION, Cell.BOOTS, Cell.HORN, Cell.WAND_COLD, Cell.WAND_DEATH]] = True
_MONSTER_WALKABLE = _WALKABLE.copy()
_MONSTER_WALKABLE[[Cell.LAVA, Cell.STAIRS_DOWN]] = False
_BLOCKS_RAY = ~_WALKABLE
_OBJECT = np.full(Cell.COUNT, -1, dtype=np.int64)  # cell -> 0 key, else the Item code
_OBJECT[[Cell.KEY, Cell.POTION, Cell.BOOTS, Cell.HORN, Cell.WAND_COLD, Cell.WAND_DEATH]] = range(6)
_SEE_MSG = np.zeros(Cell.COUNT, dtype=np.int64)  # message when stepping onto a cell
_SEE_MSG[[Cell.KEY, Cell.POTION, Cell.BOOTS, Cell.HORN, Cell.WAND_COLD, Cell.WAND_DEATH]] = range(1, 7)
_SEE_MSG[Cell.STAIRS_DOWN] = Msg.STAIRS
_IS_DOOR = np.zeros(Cell.COUNT, dtype=bool)
_IS_DOOR[[Cell.DOOR_CLOSED, Cell.DOOR_LOCKED]] = True
_MOVE_MSG = np.zeros(Cell.COUNT, dtype=np.int64)  # message of bumping into a cell
_MOVE_MSG[Cell.DOOR_CLOSED], _MOVE_MSG[Cell.DOOR_LOCKED] = Msg.DOOR_OPENS, Msg.LOCKED
_MOVE_CELL = np.arange(Cell.COUNT, dtype=np.uint8)  # what a cell becomes when bumped: doors open
_MOVE_CELL[Cell.DOOR_CLOSED] = Cell.DOOR_OPEN
_IS_LAVA = np.arange(Cell.COUNT) == Cell.LAVA
_IS_GOAL = np.arange(Cell.COUNT) == Cell.STAIRS_DOWN
_IS_SOLID = np.zeros(Cell.COUNT, dtype=bool)
_IS_SOLID[[Cell.STONE, Cell.WALL_H, Cell.WALL_V]] = True

# monster kind -> does it wander?; damage range of a bite (a bite lands with probability 1/2)
_MON_MOVES = {Monster.JACKAL: True, Monster.MINOTAUR: False}
_MON_DAMAGE = {Monster.JACKAL: (1, 1), Monster.MINOTAUR: (4, 7)}


# --- commands as tables ----------------------------------------------------------------------
# A step's command is resolved by one table lookup: its *mode* (from the action and the pending
# direction prompt), the inventory (has_key, item, levitating) and the cell it acts on (the agent's
# own cell for pickup, the target cell when a direction answers apply/zap/kick) index the tables
# built here, which are the one statement of the command rules.
class _Mode:
    MOVE = 0  # a compass move with no prompt pending (resolved by the move tables, not here)
    # PICKUP .. DOWN are 1 .. 7 (Cmd - 7); DOWN has no effect here (see ``_descend``)
    CANCEL = 8  # a non-direction key while a direction is asked for
    ANSWER = 9  # 9, 10, 11: a direction answering apply (pending 1), zap (2), kick (3)
    COUNT = 12


_ITEMS, _KEYS, _LEVS = 6, 2, 2
_MODE_SIZE = _ITEMS * _KEYS * _LEVS * Cell.COUNT
_CMD_SIZE = _Mode.COUNT * _MODE_SIZE  # one layer; a second layer holds the outcomes of a lucky kick
_INV_WEIGHT = np.array([[_LEVS * Cell.COUNT], [_KEYS * _LEVS * Cell.COUNT], [Cell.COUNT]], dtype=np.int64)  # has_key, item, lev
_FLAG_CELL, _FLAG_RAY, _FLAG_LUCK = 1, 2, 4  # some cell changes; a ray is fired; a kick's luck matters


def _command_rule(mode: int, item: int, key: int, lev: int, cell: int, lucky: bool) -> tuple[int, ...]:
    """(has_key, item, lev, pending, message, cell, cold ray, death ray) after a command."""
    pend, msg, cold, death = 0, Msg.NONE, False, False
    if mode == _Mode.CANCEL:
        msg = Msg.NEVER_MIND
    elif mode == Cmd.PICKUP - 7:
        obj = int(_OBJECT[cell])
        if obj >= 0 and (obj == 0 or item == Item.NONE):
            key, item = (1, item) if obj == 0 else (key, obj)
            cell, msg = Cell.FLOOR, Msg.PICK_KEY + obj
        else:
            msg = Msg.NOTHING_HERE
    elif mode == Cmd.QUAFF - 7:
        drink = item == Item.POTION
        lev, item, msg = (1, Item.NONE, Msg.FLOAT_UP) if drink else (lev, item, Msg.NO_DRINK)
    elif mode == Cmd.WEAR - 7:
        don = item == Item.BOOTS and lev == 0
        lev, msg = (1, Msg.FLOAT_UP) if don else (lev, Msg.NO_WEAR)
    elif mode == Cmd.APPLY - 7:
        pend, msg = (1, Msg.DIRECTION) if item == Item.HORN or key > 0 else (0, Msg.NO_APPLY)
    elif mode == Cmd.ZAP - 7:
        pend, msg = (2, Msg.DIRECTION) if item in (Item.WAND_COLD, Item.WAND_DEATH) else (0, Msg.NO_ZAP)
    elif mode == Cmd.KICK - 7:
        pend, msg = 3, Msg.DIRECTION
    elif mode == _Mode.ANSWER:  # apply: a frost horn blows cold, else a key unlocks
        if item == Item.HORN:
            cold = True
        elif key > 0:
            cell, msg = (Cell.DOOR_OPEN, Msg.UNLOCK) if cell == Cell.DOOR_LOCKED else (cell, Msg.NO_DOOR)
    elif mode == _Mode.ANSWER + 1:  # zap
        cold, death = item == Item.WAND_COLD, item == Item.WAND_DEATH
    elif mode == _Mode.ANSWER + 2:  # kick: a door crashes open with probability 1/3
        if _IS_DOOR[cell]:
            cell, msg = (Cell.DOORWAY, Msg.KICK_OPEN) if lucky else (cell, Msg.WHAMM)
        else:
            msg = Msg.OUCH if _IS_SOLID[cell] else Msg.KICK_AIR
    return key, item, lev, pend, msg, cell, cold, death


def _command_tables() -> dict[str, np.ndarray]:
    """The outcome of every (luck, mode, item, has_key, lev, cell), flattened in that order."""
    rows = [_command_rule(m, i, k, v, c, lucky) for lucky in (False, True) for m in range(_Mode.COUNT)
            for i in range(_ITEMS) for k in range(_KEYS) for v in range(_LEVS) for c in range(Cell.COUNT)]
    key, item, lev, pend, msg, cell, cold, death = (np.array(col) for col in zip(*rows))
    changed = cell != np.tile(np.arange(Cell.COUNT), 2 * _CMD_SIZE // Cell.COUNT)
    by_luck = changed.reshape(2, -1)
    flags = (_FLAG_CELL * changed + _FLAG_RAY * (cold | death)).reshape(2, -1)
    flags = flags[0] | flags[1] | _FLAG_LUCK * (by_luck[0] != by_luck[1])
    return {"inv": np.stack([key, item, lev]).astype(np.int64), "pend": pend.astype(np.int64),
            "msg": msg.astype(np.int64), "cell": cell.astype(np.uint8), "changed": changed, "cold": cold,
            "death": death, "flags": flags.astype(np.int64)}


_CMD_TABLES = _command_tables()


def _same(x: Any) -> Any:
    return x


def _np_copy(x: Any) -> Any:
    return x.copy()


def _torch_long(x: Any) -> Any:  # torch indexes with int64 (a uint8 index would be a mask)
    return x.long()


def _torch_copy(x: Any) -> Any:
    return x.clone()


def _np_any(x: Any) -> bool:
    return bool(x.any())


def _np_first(x: Any) -> bool:  # any() of a (1,) array: an item read costs a tenth of a reduction
    return bool(x[0])


def _torch_any(x: Any) -> bool:
    return bool(x.any())


def _np_or(x: Any) -> int:  # the OR of flag bits over sub-envs
    return int(np.bitwise_or.reduce(x))


def _np_first_int(x: Any) -> int:
    return int(x[0])


def _torch_or(x: Any) -> int:
    return sum(bit for bit in (_FLAG_CELL, _FLAG_RAY, _FLAG_LUCK) if bool(((x & bit) != 0).any()))


class GridhackCore:
    """State and dynamics of ``num_envs`` gridhack episodes of one task.

    Args:
        task: the :class:`TaskSpec` to play.
        num_envs: B, the number of episodes stepped together.
        backend: ``"numpy"`` or ``"torch"``.
        device: torch device for the torch backend.
        observation_keys: which of :data:`OBSERVATION_KEYS` to build.
        max_episode_steps: truncate episodes at this length (None: never).
        penalty_step: reward added on every step (MiniHack uses -0.01).
        num_contexts, context_seed_offset, structure: see :class:`LevelSource`.
        action_set: ``"restricted"`` (the task's actions) or ``"full"`` (all 15 commands).

    Example:
        >>> import numpy as np
        >>> from rewardlab.envs.gridhack.tasks import TASKS
        >>> core = GridhackCore(TASKS["Corridors-R5"], 4)
        >>> core.reset_rows(np.ones(4, dtype=bool), np.random.default_rng(0))
        >>> obs = core.observe()
        >>> obs["glyphs"].shape, obs["blstats"].shape
        ((4, 21, 79), (4, 8))
        >>> reward, terminated, truncated = core.step(np.array([0, 1, 2, 3]))
        >>> reward.tolist(), core.observe()["blstats"][:, 7].tolist()
        ([0.0, 0.0, 0.0, 0.0], [1, 1, 1, 1])
    """

    def __init__(self, task: TaskSpec, num_envs: int, *, backend: str = "numpy", device: Any = None,
                 observation_keys: tuple[str, ...] = OBSERVATION_KEYS, max_episode_steps: int | None = None,
                 penalty_step: float = 0.0, num_contexts: int | None = None, context_seed_offset: int = 0,
                 structure: str = "all", action_set: str = "restricted"):
        # B sizes every state array; zero or a non-int has no meaning.
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise InvalidParameter(f"`num_envs` must be a positive int. Received {num_envs!r}")
        unknown = [k for k in observation_keys if k not in OBSERVATION_KEYS]
        if unknown or not observation_keys:
            raise InvalidParameter(f"`observation_keys` must be a non-empty subset of {OBSERVATION_KEYS}. "
                                   f"Received {tuple(observation_keys)!r}")
        if max_episode_steps is not None and (not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1):
            raise InvalidParameter(f"`max_episode_steps` must be a positive int or None. Received {max_episode_steps!r}")
        if not isinstance(penalty_step, (int, float)) or not np.isfinite(penalty_step):
            raise InvalidParameter(f"`penalty_step` must be a finite number. Received {penalty_step!r}")
        if action_set not in ("restricted", "full"):
            raise InvalidParameter(f"`action_set` must be 'restricted' or 'full'. Received {action_set!r}")
        if backend not in ("numpy", "torch"):
            raise InvalidParameter(f"`backend` must be 'numpy' or 'torch'. Received {backend!r}")
        self.backend = backend
        self.task, self.num_envs, self.device = task, int(num_envs), device
        self._bind_namespace()
        self.observation_keys = tuple(observation_keys)
        self.max_episode_steps = max_episode_steps
        self.penalty_step = float(penalty_step)
        self._draw_chars = "chars" in self.observation_keys
        self._draw_colors = "colors" in self.observation_keys
        layers = ("glyph", *(("char",) if self._draw_chars else ()), *(("color",) if self._draw_colors else ()))
        self.source = LevelSource(task, num_contexts, context_seed_offset, structure, layers)
        self.actions = tuple(range(Cmd.COUNT)) if action_set == "full" else task.actions
        self.n_monsters = self.source.n_monsters
        self._mon_moves = _MON_MOVES.get(task.monster, False)

        xp, B = self.xp, self.num_envs
        a = self._a
        i64 = xp.int64
        self._dy, self._dx = a(tiles.DIRS[:, 0].copy()), a(tiles.DIRS[:, 1].copy())
        self._walkable, self._mon_walkable = a(_WALKABLE), a(_MONSTER_WALKABLE)
        self._blocks_ray, self._object, self._see_msg = a(_BLOCKS_RAY), a(_OBJECT), a(_SEE_MSG)
        self._is_door, self._is_solid = a(_IS_DOOR), a(_IS_SOLID)
        self._cell_glyph, self._cell_char, self._cell_color = a(tiles.CELL_GLYPH), a(tiles.CELL_CHAR), a(tiles.CELL_COLOR)
        self._move_cell = a(_MOVE_CELL)
        self._is_lava, self._is_goal = a(_IS_LAVA), a(_IS_GOAL)
        self._msg_table = a(tiles.MESSAGE_TABLE)
        self._b = xp.arange(B, dtype=i64, device=device)

        hp_, wp_ = tiles.H + 2 * PAD, tiles.W + 2 * PAD
        z = lambda *shape, dtype=i64: xp.zeros(shape, dtype=dtype, device=device)  # noqa: E731
        self.cells = z(B, hp_, wp_, dtype=xp.uint8)
        self.glyph = z(B, hp_, wp_, dtype=xp.int16)
        self.char = z(B, hp_, wp_, dtype=xp.uint8)
        self.color = z(B, hp_, wp_, dtype=xp.uint8)
        L = self.source.depth_levels
        self.stack = z(B, L, hp_, wp_, dtype=xp.uint8) if task.multilevel else None
        self.stack_start = z(B, L, 2)
        # blstats rows in blstats order (x, y padded), so one transpose builds the observation; the
        # named attributes are views that the step updates in place
        self.stats = z(tiles.BLSTATS_LEN, B)
        self._bl_offset = a(np.array([PAD, PAD, 0, 0, 0, 0, 0, 0], dtype=np.int64))
        self._bl_reset = a(np.array([[HP_MAX], [1], [0], [0], [0], [0]], dtype=np.int64))  # hp .. time at reset
        self.pending, self.msg, self.key = z(B), z(B), z(B)
        self.my, self.mx = z(B, self.n_monsters), z(B, self.n_monsters)
        self.malive = z(B, self.n_monsters, dtype=xp.bool)
        self.success = z(B, dtype=xp.bool)
        self.context_id = np.zeros(B, dtype=np.int64)  # host-side, for info
        self._specials = any(c >= 8 for c in self.actions)
        self._n_act = len(self.actions)
        self._k_tables(a)
        # the lava check is skipped for tasks whose levels have none
        self._lava = self.source.has_lava
        self._wp = wp_
        off = np.arange(CROP) - CROP // 2
        crop = (off[:, None] * wp_ + off[None, :]).reshape(-1)  # flat offsets of the egocentric crop
        self._crop_flat = a(crop[None, :].copy())
        self._row_base = self._b * (hp_ * wp_)  # flat offset of each sub-env's map
        self._dflat = a(tiles.DIRS[:, 0] * wp_ + tiles.DIRS[:, 1])  # flat step of each compass command
        self._ray_k = a(np.arange(1, RAY_RANGE + 1, dtype=np.int64))
        if self.n_monsters:
            self._mon_salt = a((10 + np.arange(self.n_monsters, dtype=np.int64)) * 0x1B873593)  # salts 10, 11, ..
            # adjacency (or the same cell) by the difference of flat positions, offset to index from 0
            span = hp_ * wp_
            near = np.zeros(2 * span + 1, dtype=bool)
            near[span + (tiles.DIRS[:, 0] * wp_ + tiles.DIRS[:, 1])] = True
            near[span] = True
            self._near, self._near_off = a(near), span
            self._other_slot = a(~np.eye(self.n_monsters, dtype=bool))  # [m, k]: k is another slot than m
        # drawn layers: (name, cell -> value table, agent value, monster value)
        mon = tiles.MONSTER_GLYPH.get(task.monster, (0, "?", 0))
        self._layer_spec = [("glyph", self._cell_glyph, tiles.AGENT_GLYPH, mon[0])]
        if self._draw_chars:
            self._layer_spec.append(("char", self._cell_char, ord(tiles.AGENT_CHAR), ord(mon[1])))
        if self._draw_colors:
            self._layer_spec.append(("color", self._cell_color, tiles.AGENT_COLOR, mon[2]))
        self._bind_views()

    def _k_tables(self, a: Any) -> None:
        """Tables indexed by ``k = pending * n_actions + action`` (the action and the direction prompt
        it answers), and the command tables indexed by the state index of :meth:`_commands`."""
        pends = range(4 if self._specials else 1)
        cmd = np.array([c for _ in pends for c in self.actions])
        modes = np.array([(_Mode.ANSWER + p - 1 if p else _Mode.MOVE) if c < 8 else (_Mode.CANCEL if p else c - 7)
                          for p in pends for c in self.actions])
        moving = modes == _Mode.MOVE
        # a non-move command acts on the agent's own cell (target step 0), an answer on its target
        step = np.where(cmd < 8, tiles.DIRS[cmd & 7].T, 0)
        wp = tiles.W + 2 * PAD
        self._k_dflat = a(step[0] * wp + step[1])
        self._k_dxy = a(np.where(moving, step[::-1], 0))  # (2, K): dx, dy of a move
        self._k_slow, self._k_move = a(~moving), a(moving)
        self._k_mode = a(modes * _MODE_SIZE)
        self._k_down = a(cmd == Cmd.DOWN)
        # move tables: the cell index is offset by Cell.COUNT where the action is not a move
        self._k_cell_off = a(np.where(moving, 0, Cell.COUNT))
        none = lambda t: np.concatenate([t, np.zeros_like(t)])  # noqa: E731
        self._go_tab, self._move_msg_tab = a(none(_WALKABLE)), a(none(_MOVE_MSG))
        self._opens_tab = a(none(_MOVE_CELL != np.arange(Cell.COUNT)))
        t = _CMD_TABLES
        self._c_inv, self._c_pend, self._c_msg, self._c_cell = a(t["inv"]), a(t["pend"]), a(t["msg"]), a(t["cell"])
        self._c_changed, self._c_cold, self._c_death, self._c_flags = a(t["changed"]), a(t["cold"]), a(t["death"]), a(t["flags"])
        self._inv_weight = a(_INV_WEIGHT)

    def _bind_namespace(self) -> None:
        """Set the array namespace and its two helpers (re-done after unpickling: modules do not pickle)."""
        if self.backend == "numpy":
            self.xp, self._long, self._copy = np, _same, _np_copy
            self._any = _np_first if self.num_envs == 1 else _np_any
            self._bits = _np_first_int if self.num_envs == 1 else _np_or
        else:
            import array_api_compat
            import torch

            self.xp, self._long, self._copy = array_api_compat.array_namespace(torch.empty(0)), _torch_long, _torch_copy
            self._any, self._bits = _torch_any, _torch_or

    def _bind_views(self) -> None:
        (self.ax, self.ay, self.hp, self.depth, self.has_key, self.item, self.lev,
         self.time) = (self.stats[i] for i in range(tiles.BLSTATS_LEN))
        # flat views of the maps: a 1-D gather at flat positions costs a fraction of a (b, y, x) gather
        self._cells_f = self.cells.reshape(-1)
        self._layers_f = [(getattr(self, name).reshape(-1), *rest) for name, *rest in self._layer_spec]

    _UNPICKLED = ("xp", "_long", "_copy", "_any", "_bits", "ax", "ay", "hp", "depth", "has_key", "item", "lev", "time",
                  "_cells_f", "_layers_f")

    def __getstate__(self) -> dict[str, Any]:
        # modules do not pickle, and views of `stats` would come back as copies
        return {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_namespace()
        self._bind_views()

    def _a(self, x: np.ndarray) -> Any:
        return self.xp.asarray(x, device=self.device) if self.xp is not np else x

    # --- reset ----------------------------------------------------------------------------------
    def reset_rows(self, mask: np.ndarray, rng: np.random.Generator) -> None:
        """Start new episodes in the sub-envs where `mask` (host bool array (B,)) is True."""
        rows = np.flatnonzero(mask)
        if rows.size:
            self._load(rows, rng)

    def _load(self, rows_np: np.ndarray, rng: np.random.Generator) -> None:
        n = rows_np.size
        if self.source.n_ids == _KEY_RANGE:
            # fresh levels draw ids from the keys' range, and numpy's bounded int64 draws keep no buffer
            # between calls: one draw of 2n is the two draws of n (ids, then keys) at half the call cost
            ids_keys = self.source.sample(rng, 2 * n)
            ids, keys = ids_keys[:n], ids_keys[n:]
        else:
            ids = self.source.sample(rng, n)
            keys = rng.integers(0, _KEY_RANGE, size=n, dtype=np.int64)
        lv, (ys, xs) = self.source.for_reset(ids)
        cells, start, mons = lv.cells, lv.start, lv.monsters
        self.context_id[rows_np] = ids
        rows = slice(None) if n == self.num_envs else self._a(rows_np)  # a slice writes faster than a gather
        if not self._all_loaded:
            self._clear_rows(rows, rows_np)
        self.cells[rows, ys, xs] = self._a(cells[:, 0])
        for name, *_ in self._layer_spec:
            getattr(self, name)[rows, ys, xs] = self._a(getattr(lv, name))
        if self.stack is not None:
            self.stack[rows, :, ys, xs] = self._a(cells)
        self.stack_start[rows] = self._a(start)
        self.stats[0, rows], self.stats[1, rows] = self._a(start[:, 0, 1]), self._a(start[:, 0, 0])  # (y, x) -> rows x, y
        self.stats[2:, rows] = self._bl_reset
        self.pending[rows] = 0
        self.msg[rows] = 0
        self.success[rows] = False
        self.key[rows] = self._a(keys)
        if self.n_monsters:
            m = self._a(mons)
            self.my[rows], self.mx[rows] = m[..., 0], m[..., 1]
            self.malive[rows] = True
        self._draw_actors(rows)

    # Resets of fresh levels write only the (21, 79) interiors of the maps: once a row is loaded nothing draws
    # on its stone margins (agents and monsters stay inside the walls, rays rewrite stone as stone). A step
    # before a row's first load may (its agent stands at (0, 0)), so until every row has been loaded once,
    # loads clear whole rows first.
    _all_loaded = False
    _loaded: np.ndarray | None = None  # host (B,) bool: rows loaded at least once

    def _clear_rows(self, rows: Any, rows_np: np.ndarray) -> None:
        """Whole rows to stone and stone's display, and mark them loaded."""
        self.cells[rows] = int(Cell.STONE)
        if self.stack is not None:
            self.stack[rows] = int(Cell.STONE)
        for name, table, *_ in self._layer_spec:
            getattr(self, name)[rows] = int(table[Cell.STONE])
        if self._loaded is None:
            self._loaded = np.zeros(self.num_envs, dtype=bool)
        self._loaded[rows_np] = True
        self._all_loaded = bool(self._loaded.all())

    def _redraw_rows(self, rows: Any) -> None:
        """Redraw the whole display of some sub-envs (after a reset or a descent)."""
        c = self._long(self.cells[rows])
        for name, table, *_ in self._layer_spec:
            getattr(self, name)[rows] = table[c]
        self._draw_actors(rows)

    def _flat(self, rows: Any, y: Any, x: Any) -> Any:
        """Flat positions in the maps of cells (y, x) of sub-envs `rows` (y, x: (n,) or (n, k))."""
        base = self._row_base[rows]
        return (base if y.ndim == 1 else base[:, None]) + y * self._wp + x

    @staticmethod
    def _or_cols(x: Any) -> Any:
        """``any(x, axis=1)`` for the few monster slots: column ORs cost a fraction of a reduction."""
        out = x[:, 0]
        for m in range(1, x.shape[1]):
            out = out | x[:, m]
        return out

    def _redraw_flat(self, pos: Any) -> None:
        """Redraw the terrain at flat positions `pos` (repeats are fine)."""
        c = self._long(self._cells_f[pos])
        for layer, table, _, _ in self._layers_f:
            layer[pos] = table[c]

    def _draw_actors(self, rows: Any, apos: Any = None, mpos: Any = None) -> None:
        """Draw live monsters, then the agent, over sub-envs `rows` (flat positions `apos` of the agent
        and `mpos` of the monsters are computed if not given)."""
        if self.n_monsters:
            if mpos is None:
                mpos = self._flat(rows, self.my[rows], self.mx[rows])
            live = mpos[self.malive[rows]]
            for layer, _, _, value in self._layers_f:
                layer[live] = value
        if apos is None:
            apos = self._flat(rows, self.ay[rows], self.ax[rows])
        for layer, _, value, _ in self._layers_f:
            layer[apos] = value

    # --- observation ----------------------------------------------------------------------------
    def observe(self, row: int | None = None) -> dict[str, Any]:
        """Fresh copies of the observation arrays (never views of the state); of sub-env `row` alone
        (no leading dimension) if given."""
        xp, keys, obs = self.xp, self.observation_keys, {}
        win = (slice(None) if row is None else row, slice(PAD, PAD + tiles.H), slice(PAD, PAD + tiles.W))
        copy = self._copy
        if "glyphs" in keys:
            obs["glyphs"] = copy(self.glyph[win])
        if "chars" in keys:
            obs["chars"] = copy(self.char[win])
        if "colors" in keys:
            obs["colors"] = copy(self.color[win])
        if "glyphs_crop" in keys and self.num_envs == 1 and xp is np:  # a plain slice beats a gather here
            y, x = int(self.ay[0]), int(self.ax[0])
            obs["glyphs_crop"] = self.glyph[win[0], y - CROP // 2 : y + CROP // 2 + 1, x - CROP // 2 : x + CROP // 2 + 1].copy()
        elif "glyphs_crop" in keys:
            idx = (self._row_base + self.ay * self._wp + self.ax)[:, None] + self._crop_flat
            crop = self.glyph.reshape(-1)[idx.reshape(-1)].reshape(self.num_envs, CROP, CROP)
            obs["glyphs_crop"] = crop if row is None else crop[row]
        if "blstats" in keys:
            obs["blstats"] = (self.stats.T if row is None else self.stats[:, row]) - self._bl_offset
        if "message" in keys:
            obs["message"] = self._msg_table[self.msg] if row is None else copy(self._msg_table[self.msg[row]])
        return obs

    # --- step -----------------------------------------------------------------------------------
    def _rand(self, salt: Any) -> Any:
        """A 32-bit hash of (episode key, time, salt) per sub-env, (B,) for an int salt and (B, k) for
        an array of k salts given premultiplied by the salt constant; identical on every backend."""
        x = self.key * 0x2C1B3C6D + self.time * 0x297A2D39
        if isinstance(salt, int):
            x = (x + salt * 0x1B873593) & _MASK32
        else:  # the monsters' salts, premultiplied in __init__
            x = (x[:, None] + salt) & _MASK32
        x = x ^ (x >> 15)
        x = (x * 0x2C1B3C6D) & _MASK32
        x = x ^ (x >> 12)
        x = (x * 0x297A2D39) & _MASK32
        return x ^ (x >> 15)

    def step(self, actions: Any) -> tuple[Any, Any, Any]:
        """Advance all B sub-envs by one action index each; returns (reward, terminated, truncated), and
        leaves ``success`` (B,) set. Read observations with :meth:`observe`.

        Sub-envs whose episode ended keep stepping on stale state until a front resets them.
        Cells are addressed by flat positions in the maps (``_flat``): one 1-D gather per lookup.
        """
        xp, long, any_ = self.xp, self._long, self._any
        # k: the action and the direction prompt it may answer; every per-action rule is a table on k
        k = self.pending * self._n_act + actions if self._specials else actions
        # Fast path when every sub-env moves: skip the command machinery (a host check per step).
        slow = self._specials and any_(self._k_slow[k])
        opos = self._row_base + self.ay * self._wp + self.ax
        tpos = opos + self._k_dflat[k]
        tc = long(self._cells_f[tpos])
        # cells to redraw: the agent's old cell always, the target cell only where it may change
        redraw = [opos]
        if slow or self.n_monsters:
            redraw.append(tpos)

        cell = tc + self._k_cell_off[k] if slow else tc  # non-moves read the all-zero half of the move tables
        go, msg = self._go_tab[cell], self._move_msg_tab[cell]
        if self.n_monsters:
            mpos = self._flat(slice(None), self.my, self.mx)
            hits = self.malive & (mpos == tpos[:, None])
            melee = self._or_cols(hits)
            go = go & ~melee
            if slow:
                melee = melee & self._k_move[k]
            if any_(melee):
                kill = melee & ((self._rand(1) & 3) != 0) & (self.task.monster == Monster.JACKAL)
                self.malive[...] = self.malive & ~(hits & kill[:, None])
                kind = self.task.monster - 1
                msg = xp.where(melee, xp.where(kill, Msg.KILL + kind, Msg.MISS + kind), msg)
        opens = self._opens_tab[cell]
        if any_(opens):
            self._cells_f[tpos] = xp.where(opens, self._move_cell[tc], xp.astype(tc, xp.uint8))
            if len(redraw) == 1:
                redraw.append(tpos)
        self.stats[:2] += self._k_dxy[:, k] * go  # rows BL_X, BL_Y
        apos = xp.where(go, tpos, opos)

        if slow:
            msg = self._commands(k, tpos, apos, tc, msg)
        uc = long(self._cells_f[apos])
        msg = xp.where(go, self._see_msg[uc], msg)
        dead = None
        if self._lava:
            dead = self._is_lava[uc] & (self.lev == 0)
            msg = xp.where(dead, Msg.LAVA_DEATH, msg)
        if self.n_monsters:
            dead = xp.zeros_like(go) if dead is None else dead
            msg, mpos = self._monsters_act(dead, msg, mpos, apos, redraw)
            slain = (self.hp <= 0) & ~dead
            msg = xp.where(slain, Msg.DIE, msg)
            dead = dead | slain
        if self.task.multilevel:
            success, msg, descended = self._descend(k if slow else None, uc, msg)
            if descended:
                apos = None  # the agent now stands on a new level's start: _draw_actors reads it
        else:
            success = self._is_goal[uc]
            if dead is not None:
                success = success & ~dead
        self.msg = msg
        self.time += 1
        terminated = success if dead is None else success | dead
        if self.max_episode_steps is not None:
            truncated = (self.time >= self.max_episode_steps) & ~terminated
        else:
            truncated = xp.zeros(self.num_envs, dtype=xp.bool, device=self.device)
        reward = xp.astype(success, xp.float64)
        if self.penalty_step:
            reward = reward + self.penalty_step
        # nothing to redraw when no agent moved and no cell may have changed (frequent at B = 1)
        if len(redraw) > 1 or apos is None or any_(go):
            self._redraw_flat(redraw[0] if len(redraw) == 1 else xp.concat(redraw))
            self._draw_actors(slice(None), apos, mpos if self.n_monsters else None)
        self.success = success
        return reward, terminated, truncated

    def _commands(self, k: Any, tpos: Any, apos: Any, tc: Any, msg: Any) -> Any:
        """Pickup, quaff, wear, apply/zap/kick (which ask for a direction), and their resolution.

        One lookup in the command tables (:func:`_command_rule`) at the state index (mode, has_key,
        item, lev, acted-on cell `tc`); only cell writes, kick luck and rays are conditional (one
        host check of the OR of the state's flags). Non-move rows enter with ``msg`` 0.
        """
        xp = self.xp
        s = self._k_mode[k] + xp.sum(self.stats[4:7] * self._inv_weight, axis=0) + tc  # rows has_key, item, lev
        flags = self._bits(self._c_flags[s])
        if flags & _FLAG_LUCK:  # a kick at a door crashes it open with probability 1/3
            s = s + _CMD_SIZE * xp.astype((self._rand(2) % 3) == 0, xp.int64)
        self.stats[4:7] = self._c_inv[:, s]
        self.pending = self._c_pend[s]
        if flags & _FLAG_CELL:  # other sub-envs keep their cell as it is now (a door bumped open stays open)
            self._cells_f[tpos] = xp.where(self._c_changed[s], self._c_cell[s], self._cells_f[tpos])
        msg = msg + self._c_msg[s]
        if flags & _FLAG_RAY:
            msg = self._rays(self._c_cold[s], self._c_death[s], tpos - apos, msg)
        return msg

    def _rays(self, cold: Any, death: Any, step: Any, msg: Any) -> Any:
        """Bolts of cold freeze lava into ice; death rays kill monsters; both stop at walls and doors.

        Only the sub-envs that fire are traced (a gather of their rows), all RAY_RANGE cells from the
        agent (`step` (B,) apart in flat positions) at once: a ray's cells are distinct, so tracing
        them together equals tracing them one after the other.
        """
        xp, long = self.xp, self._long
        rows = xp.nonzero(cold | death)[0]
        cold_r, death_r = cold[rows], death[rows]
        ray = self._flat(rows, self.ay[rows], self.ax[rows])[:, None] + step[rows][:, None] * self._ray_k  # (R, K)
        c = long(self._cells_f[ray])
        # a cell is reached if neither it nor a cell before it blocks the ray
        live = xp.cumulative_sum(xp.astype(self._blocks_ray[c], xp.int64), axis=1) == 0
        freeze = live & cold_r[:, None] & (c == Cell.LAVA)
        froze = xp.any(freeze, axis=1)
        self._cells_f[ray] = xp.astype(xp.where(freeze, Cell.ICE, c), xp.uint8)
        killed = xp.zeros_like(froze)
        if self.n_monsters:
            alive, mpos = self.malive[rows], self._flat(rows, self.my[rows], self.mx[rows])
            passes = (live & death_r[:, None])[:, :, None] & (ray[:, :, None] == mpos[:, None, :])  # (R, K, M)
            hit = alive & xp.any(passes, axis=1)
            killed = xp.any(hit, axis=1)
            self.malive[rows] = alive & ~hit
        self._redraw_flat(xp.reshape(ray, (-1,)))
        froze_all, killed_all = xp.zeros_like(cold), xp.zeros_like(cold)
        froze_all[rows], killed_all[rows] = froze, killed
        msg = xp.where(cold, xp.where(froze_all, Msg.FREEZE, Msg.COLD_BOUNCE), msg)
        kill_msg = Msg.KILL + max(self.task.monster - 1, 0)
        return xp.where(death, xp.where(killed_all, kill_msg, Msg.DEATH_BOUNCE), msg)

    def _monsters_act(self, dead: Any, msg: Any, mpos: Any, apos: Any, redraw: list[Any]) -> tuple[Any, Any]:
        """Each live monster bites an adjacent agent, or (if it moves) steps in a random direction.
        Returns the message and the monsters' flat positions after their moves.

        Monsters act in slot order; everything but "is the target cell taken by another monster" is
        independent of that order, so it is computed for all slots at once (damage clamps at 0, so
        summing the bites equals applying them one by one).
        """
        xp, M = self.xp, self.n_monsters
        kind = self.task.monster
        lo, hi = _MON_DAMAGE[kind]
        alive = self.malive & ~dead[:, None]
        my, mx = self.my, self.mx
        adj = alive & self._near[mpos - (apos - self._near_off)[:, None]]
        if not self._mon_moves and not bool(xp.any(adj)):  # no bite anywhere, and nobody walks
            return msg, mpos
        r = self._rand(self._mon_salt)  # (B, M)
        bite = adj & ((r & 1) == 0)
        dmg = bite * lo if lo == hi else xp.where(bite, lo + (r >> 1) % (hi - lo + 1), 0)
        hp = self.hp - dmg[:, 0]
        for m in range(1, M):
            hp = hp - dmg[:, m]
        self.hp[...] = xp.where(hp < 0, 0, hp)
        msg = xp.where(self._or_cols(bite), Msg.BITE + kind - 1, msg)
        if not self._mon_moves:
            return msg, mpos
        d = (r >> 8) & 7
        ny, nx = my + self._dy[d], mx + self._dx[d]
        npos = mpos + self._dflat[d]
        ok = alive & ~adj & self._mon_walkable[self._long(self._cells_f[npos])]
        ok = ok & (npos != apos[:, None])  # not onto the agent
        # In slot order, a move onto a cell where another live monster stands now is refused. That can
        # only happen where a target is another live monster's cell or target: check that first.
        clash = M > 1 and bool(xp.any(self.malive[:, None, :] & self._other_slot & (
            (mpos[:, None, :] == npos[:, :, None]) | (npos[:, None, :] == npos[:, :, None]))))
        if clash:
            cur = self._copy(mpos)
            for m in range(M):  # a monster's own cell never equals its target: every direction moves
                ok[:, m] = ok[:, m] & ~self._or_cols(self.malive & (cur == npos[:, m, None]))
                cur[:, m] = xp.where(ok[:, m], npos[:, m], mpos[:, m])
        else:
            cur = xp.where(ok, npos, mpos)
        self.my[...] = xp.where(ok, ny, my)
        self.mx[...] = xp.where(ok, nx, mx)
        redraw.append(xp.reshape(mpos, (-1,)))  # the cells they left
        return msg, cur

    def _descend(self, k: Any, uc: Any, msg: Any) -> tuple[Any, Any, bool]:
        """The `>` command on stairs down (`uc`: the agent's cell): load the next dungeon level, or
        succeed on the last. `k` is None when everyone moved. Returns (success, msg, whether some
        sub-env went down to a new level)."""
        xp = self.xp
        if k is None:  # everyone moved
            return xp.zeros(self.num_envs, dtype=xp.bool, device=self.device), msg, False
        down = self._k_down[k]
        on = down & self._is_goal[uc]
        self.depth[...] = xp.where(on, self.depth + 1, self.depth)
        success = on & (self.depth >= self.task.depth)
        nxt = on & ~success
        msg = xp.where(down, xp.where(on, Msg.DESCEND, Msg.CANT_DOWN), msg)
        if self._any(nxt):
            rows = xp.nonzero(nxt)[0]
            lvl = self.depth[rows] - 1
            self.cells[rows] = self.stack[rows, lvl]
            start = self.stack_start[rows, lvl]
            self.ay[rows], self.ax[rows] = start[:, 0], start[:, 1]
            self._redraw_rows(rows)
            return success, msg, True
        return success, msg, False
