"""The batched gridhack core: B dungeons stepped at once, written against the array API.

One :class:`GridhackCore` holds the state of ``B`` episodes as arrays with leading dimension ``B``
(numpy for the Gymnasium fronts, torch on any device for on-device training) and steps them with
vectorised array operations only; Python loops run over monster slots and ray lengths (at most 8),
never over environments. Randomness inside an episode (kicks, monster moves and bites) comes from
a counter-based integer hash of a per-episode key, so numpy and torch give identical trajectories.

The display (glyphs, chars, colours with the agent and monsters drawn in) is kept up to date
incrementally: a step rewrites only the cells it may have changed. Cells are addressed by flat
positions in the padded maps, so each lookup is one 1-D gather.

The rules are tables: per-action rules are indexed by the action and the pending direction prompt
(with the target cell: a move, its message and its blstats change are one index), and a command's
whole outcome is one lookup in tables built from :func:`_command_rule`; rare outcomes (deaths,
melee, bites) are found by one host check before their arrays are built. The torch backend runs
these array rules. The numpy backend, which serves the Gymnasium fronts, runs ``jitcore.step``
instead: the same tables read by a compiled loop over envs, because at B = 1 each of the step's
two dozen array operations costs its fixed overhead of about a microsecond. Tests hold the two to
identical steps.
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
_WIN = (slice(PAD, PAD + tiles.H), slice(None))  # the map between the stone rows (see tiles.PAD)

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


def _np_f64(x: Any) -> Any:  # the method costs a third of np.astype
    return x.astype(np.float64)


def _torch_f64(x: Any) -> Any:
    return x.double()


def _np_any(x: Any) -> bool:
    return bool(x.any())


def _torch_any(x: Any) -> bool:
    return bool(x.any())


def _np_or(x: Any) -> int:  # the OR of flag bits over sub-envs
    return int(np.bitwise_or.reduce(x))


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
        self._multilevel = task.multilevel
        self._melee_kills = task.monster == Monster.JACKAL
        # monsters that neither walk nor die in melee (the minotaur): only a command (a death ray) can
        # change their cells, so a step of moves need not redraw them
        self._mon_static = self.n_monsters > 0 and not self._mon_moves and not self._melee_kills

        xp, B = self.xp, self.num_envs
        a = self._a
        i64 = xp.int64
        self._dy, self._dx = a(tiles.DIRS[:, 0].copy()), a(tiles.DIRS[:, 1].copy())
        self._mon_walkable = a(_MONSTER_WALKABLE)
        self._blocks_ray, self._see_msg = a(_BLOCKS_RAY), a(_SEE_MSG)
        self._cell_glyph, self._cell_char, self._cell_color = a(tiles.CELL_GLYPH), a(tiles.CELL_CHAR), a(tiles.CELL_COLOR)
        self._move_cell = a(_MOVE_CELL)
        self._is_lava, self._is_goal = a(_IS_LAVA), a(_IS_GOAL)
        self._msg_table = a(tiles.MESSAGE_TABLE)
        self._b = xp.arange(B, dtype=i64, device=device)

        hp_, wp_ = tiles.H + 2 * PAD, tiles.W
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
        self._bl_offset = a(np.array([0, PAD, 0, 0, 0, 0, 0, 0], dtype=np.int64))
        self._bl_reset = a(np.array([[HP_MAX], [1], [0], [0], [0], [0]], dtype=np.int64))  # hp .. time at reset
        # pending: the direction prompt (0 none, 1 apply, 2 zap, 3 kick) times the number of actions, so
        # that k = pending + action
        self.pending, self.msg, self.key = z(B), z(B), z(B)
        self.my, self.mx = z(B, self.n_monsters), z(B, self.n_monsters)
        self.malive = z(B, self.n_monsters, dtype=xp.bool)
        self.success = z(B, dtype=xp.bool)
        self.context_id = np.zeros(B, dtype=np.int64)  # host-side, for info
        self._specials = any(c >= 8 for c in self.actions)
        self._map_keys = [(key, name) for key, name in (("glyphs", "glyph"), ("chars", "char"), ("colors", "color"))
                          if key in self.observation_keys]
        self._n_act = len(self.actions)
        self._k_tables(a)
        # the lava check is skipped for tasks whose levels have none
        self._lava = self.source.has_lava
        self._wp = wp_
        off = np.arange(CROP) - CROP // 2
        crop = (off[:, None] * wp_ + off[None, :]).reshape(-1)  # flat offsets of the egocentric crop
        self._crop_flat, self._crop_dx = a(crop[None, :].copy()), a(off[None, :].copy())
        self._stone_glyph = int(tiles.CELL_GLYPH[Cell.STONE])
        self._row_base = self._b * (hp_ * wp_)  # flat offset of each sub-env's map
        self._mbase = self._row_base[:, None]  # the same, for the (B, M) monster slots
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
        # resets of fresh compiled levels write the state in place (numpy only)
        self._writes_fresh = self.source.writes_fresh and self.xp is np
        # (glyph, char, color) of the agent and of the task's monster
        self._actor_values = np.array([[tiles.AGENT_GLYPH, ord(tiles.AGENT_CHAR), tiles.AGENT_COLOR],
                                       [mon[0], ord(mon[1]), mon[2]]], dtype=np.int64)
        self._bind_views()

    def _k_tables(self, a: Any) -> None:
        """Tables indexed by ``k = prompt * n_actions + action`` (the action and the direction prompt
        it answers), and the command tables indexed by the state index of :meth:`_commands`."""
        pends = range(4 if self._specials else 1)
        cmd = np.array([c for _ in pends for c in self.actions])
        modes = np.array([(_Mode.ANSWER + p - 1 if p else _Mode.MOVE) if c < 8 else (_Mode.CANCEL if p else c - 7)
                          for p in pends for c in self.actions])
        moving = modes == _Mode.MOVE
        # a non-move command acts on the agent's own cell (target step 0), an answer on its target
        step = np.where(cmd < 8, tiles.DIRS[cmd & 7].T, 0)
        wp = tiles.W
        dflat = step[0] * wp + step[1]
        self._k_dflat = a(dflat)
        self._k_slow, self._k_move = a(~moving), a(moving)
        self._k_down = a(cmd == Cmd.DOWN)
        # move tables, indexed by j = k * Cell.COUNT + target cell, plus _j_blocked where a monster stands
        # on the target (the agent attacks instead of moving); a non-move never moves the agent
        n_k = len(cmd)
        self._k_j = a(np.arange(n_k, dtype=np.int64) * Cell.COUNT)
        self._j_blocked = n_k * Cell.COUNT
        go = np.stack([moving[:, None] & _WALKABLE[None, :], np.zeros((n_k, Cell.COUNT), dtype=bool)])  # (2, K, C)
        move_msg = np.where(moving[:, None], _MOVE_MSG[None, :], 0)
        opens = moving[:, None] & (_MOVE_CELL != np.arange(Cell.COUNT))[None, :]
        self._go_tab = a(go.reshape(-1))
        self._move_msg_tab, self._opens_tab = a(np.tile(move_msg.reshape(-1), 2)), a(np.tile(opens.reshape(-1), 2))
        # the command tables' index without the inventory: (mode, acted-on cell)
        self._j_mode = a(np.tile((modes[:, None] * _MODE_SIZE + np.arange(Cell.COUNT)).reshape(-1), 2))
        self._adflat_tab = a((go * dflat[None, :, None]).reshape(-1))  # the agent's flat step
        # what a step adds to the blstats rows: the move (x, y) and one tick of time, in one add
        delta = np.zeros((2, n_k, Cell.COUNT, tiles.BLSTATS_LEN), dtype=np.int64)
        delta[..., tiles.BL_X], delta[..., tiles.BL_Y] = go * step[1][:, None], go * step[0][:, None]
        delta[..., tiles.BL_TIME] = 1
        self._delta_tab = a(delta.reshape(-1, tiles.BLSTATS_LEN))
        t = _CMD_TABLES
        # blstats change of each state index: rows has_key, item, lev go from the state's own to the outcome's
        old_inv = np.stack(np.unravel_index(np.arange(_MODE_SIZE) // Cell.COUNT, (_ITEMS, _KEYS, _LEVS)))[[1, 0, 2]]
        dstats = np.zeros((2 * _CMD_SIZE, tiles.BLSTATS_LEN), dtype=np.int64)
        dstats[:, tiles.BL_HAS_KEY:tiles.BL_LEVITATING + 1] = (t["inv"] - np.tile(old_inv, 2 * _Mode.COUNT)).T
        self._c_dstats = a(dstats)
        self._c_pend, self._c_msg, self._c_cell = a(t["pend"] * self._n_act), a(t["msg"]), a(t["cell"])
        self._c_changed, self._c_cold, self._c_death, self._c_flags = a(t["changed"]), a(t["cold"]), a(t["death"]), a(t["flags"])
        self._inv_weight = a(_INV_WEIGHT)

    def _bind_namespace(self) -> None:
        """Set the array namespace and its two helpers (re-done after unpickling: modules do not pickle)."""
        if self.backend == "numpy":
            self.xp, self._long, self._copy, self._f64 = np, _same, _np_copy, _np_f64
            self._any, self._bits = _np_any, _np_or
        else:
            import array_api_compat
            import torch

            self.xp, self._long, self._copy = array_api_compat.array_namespace(torch.empty(0)), _torch_long, _torch_copy
            self._f64 = _torch_f64
            self._any, self._bits = _torch_any, _torch_or

    def _bind_views(self) -> None:
        (self.ax, self.ay, self.hp, self.depth, self.has_key, self.item, self.lev,
         self.time) = (self.stats[i] for i in range(tiles.BLSTATS_LEN))
        # flat views of the maps: a 1-D gather at flat positions costs a fraction of a (b, y, x) gather
        self._cells_f = self.cells.reshape(-1)
        self._layers_f = [(getattr(self, name).reshape(-1), *rest) for name, *rest in self._layer_spec]
        # views of sub-env 0 for the single-env observation (B = 1)
        self._map0 = {name: getattr(self, name)[(0, *_WIN)] for _, name in self._map_keys}
        self._stats0 = self.stats[:, 0]
        # compiled parts (numpy backend): the step and the start of episodes
        self._start_episodes = self._jit_step = self._crops = None
        if self.xp is np:
            from rewardlab.envs.gridhack import jitcore
            from rewardlab.envs.gridhack.compile_notice import notice_if_cold

            notice_if_cold(jitcore)  # a silent half-minute compile on a cold cache looks like a hang
            self._start_episodes, self._jit_step, self._crops = jitcore.start_episodes, jitcore.step, jitcore.crops
            self._jit_args = (*self._jit_tables(), self.stats, self.pending, self.msg, self.key, self.my, self.mx,
                              self.malive, self.cells, self.glyph, self.char, self.color,
                              np.zeros((1, 1, 1, 1), dtype=np.uint8) if self.stack is None else self.stack,
                              self.stack_start)

    def _jit_tables(self) -> tuple[Any, ...]:
        """The rule tables of :meth:`_k_tables` packed in the row orders of ``jitcore.step``'s arguments."""
        from rewardlab.envs.gridhack import jitcore

        def pack(rows: dict[str, Any], order: tuple[str, ...]) -> np.ndarray:
            assert tuple(rows) == order  # the kernel reads rows by position
            return np.stack([np.asarray(r, dtype=np.int64) for r in rows.values()])

        lo, hi = _MON_DAMAGE.get(self.task.monster, (0, 0))
        params = dict(blocked=self._j_blocked, cmd_size=_CMD_SIZE, w_key=_INV_WEIGHT[0, 0], w_item=_INV_WEIGHT[1, 0],
                      w_lev=_INV_WEIGHT[2, 0], wp=self._wp, map_size=self.cells[0].size, draw_char=self._draw_chars,
                      draw_color=self._draw_colors, melee_kills=self._melee_kills, mon_moves=self._mon_moves,
                      kind=max(self.task.monster - 1, 0), lo=lo, hi=hi, multilevel=self._multilevel,
                      depth=self.task.depth, n_actions=self._n_act,
                      max_steps=-1 if self.max_episode_steps is None else self.max_episode_steps)
        params = {name: params[name] for name in jitcore.P_NAMES}
        ktab = dict(slow=self._k_slow, move=self._k_move, dflat=self._k_dflat, j=self._k_j, down=self._k_down)
        jtab = dict(go=self._go_tab, msg=self._move_msg_tab, opens=self._opens_tab, adflat=self._adflat_tab,
                    mode=self._j_mode, dx=self._delta_tab[:, tiles.BL_X], dy=self._delta_tab[:, tiles.BL_Y])
        ctab = dict(move_cell=self._move_cell, see_msg=self._see_msg, lava=self._is_lava, goal=self._is_goal,
                    blocks_ray=self._blocks_ray, mon_walkable=self._mon_walkable, glyph=self._cell_glyph,
                    char=self._cell_char, color=self._cell_color)
        d_inv = self._c_dstats[:, tiles.BL_HAS_KEY:tiles.BL_LEVITATING + 1].T
        stab = dict(flags=np.tile(self._c_flags, 2), pend=self._c_pend, msg=self._c_msg, cell=self._c_cell,
                    changed=self._c_changed, cold=self._c_cold, death=self._c_death, d_key=d_inv[0],
                    d_item=d_inv[1], d_lev=d_inv[2])
        salts = self._mon_salt if self.n_monsters else np.zeros(0, dtype=np.int64)
        return (np.array(list(params.values()), dtype=np.int64), self.penalty_step, pack(ktab, jitcore.K_ROWS),
                pack(jtab, jitcore.J_ROWS), pack(ctab, jitcore.C_ROWS), pack(stab, jitcore.S_ROWS),
                np.stack([self._dy, self._dx, self._dflat]), salts, self._actor_values)

    _UNPICKLED = ("xp", "_long", "_copy", "_f64", "_any", "_bits", "ax", "ay", "hp", "depth", "has_key", "item", "lev",
                  "time", "_cells_f", "_layers_f", "_map0", "_stats0", "_jit_step", "_jit_args",
                  "_start_episodes", "_crops")

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
            # fresh levels draw ids from the keys' range; numpy draws ints below 2**32 from 32-bit halves and keeps
            # an unused half in the generator, so one draw of 2n is the two draws of n (ids, then keys) at half the cost
            ids_keys = self.source.sample(rng, 2 * n)
            ids, keys = ids_keys[:n], ids_keys[n:]
        else:
            ids = self.source.sample(rng, n)
            keys = rng.integers(0, _KEY_RANGE, size=n, dtype=np.int64)
        self.context_id[rows_np] = ids
        rows = slice(None) if n == self.num_envs else self._a(rows_np)  # a slice writes faster than a gather
        if not self._all_loaded:
            self._clear_rows(rows, rows_np)
        if self._writes_fresh:  # compiled generation straight into the rows' maps and layers
            start, mons = self.source.fresh_into(ids, rows_np, self.cells, self.glyph, self.char, self.color,
                                                 self._draw_chars, self._draw_colors)
        else:
            lv, (ys, xs) = self.source.for_reset(ids)
            cells, start, mons = lv.cells, lv.start, lv.monsters
            self.cells[rows, ys, xs] = self._a(cells[:, 0])
            for name, *_ in self._layer_spec:
                getattr(self, name)[rows, ys, xs] = self._a(getattr(lv, name))
            if self.stack is not None:
                self.stack[rows, :, ys, xs] = self._a(cells)
        if self._start_episodes is not None:  # the writes below in one compiled call
            self._start_episodes(rows_np, start, mons, keys, self.stack_start, self.stats, self._bl_reset[:, 0],
                                 self.pending, self.msg, self.success, self.key, self.my, self.mx, self.malive,
                                 self.glyph, self.char, self.color, self._draw_chars, self._draw_colors,
                                 self._actor_values[0], self._actor_values[1])
            return
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
    # on its stone rows (agents and monsters stay inside the walls, rays rewrite stone as stone). A step
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

    def _agent_pos(self) -> Any:
        """Flat positions of the agents (B,)."""
        return self._row_base + self.ay * self._wp + self.ax

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

    def _draw_actors(self, rows: Any, apos: Any = None, mpos: Any = None, monsters: bool = True) -> None:
        """Draw live monsters (unless `monsters` is False: their cells were not redrawn), then the agent,
        over sub-envs `rows` (flat positions `apos` of the agent and `mpos` of the monsters are computed
        if not given)."""
        if self.n_monsters and monsters:
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
        keys, copy, obs = self.observation_keys, self._copy, {}
        one = row is not None and self.num_envs == 1  # the single-env front: copies of views bound once
        lead = slice(None) if row is None else row
        if row is None and self.xp is np:
            # the map layers of all envs as views of one new buffer: one large allocation per step instead of
            # three keeps glibc from returning freed observations to the OS and faulting them back in every step
            layers = [getattr(self, name)[(lead, *_WIN)] for _, name in self._map_keys]
            buf = np.empty(sum(x.nbytes for x in layers), dtype=np.uint8)
            at = 0
            for (key, _), x in zip(self._map_keys, layers):
                out = obs[key] = buf[at : at + x.nbytes].view(x.dtype).reshape(x.shape)
                np.copyto(out, x)
                at += x.nbytes
        else:
            for key, name in self._map_keys:
                obs[key] = copy(self._map0[name] if one else getattr(self, name)[(lead, *_WIN)])
        if "glyphs_crop" in keys:
            if self._crops is not None:
                out = np.empty((self.num_envs, CROP, CROP), dtype=np.int16)
                crop = self._crops(self.glyph, self.stats, self._stone_glyph, out)
            else:  # a gather at flat offsets, where the columns beyond the map's sides are stone
                idx = self._agent_pos()[:, None] + self._crop_flat
                crop = self.glyph.reshape(-1)[idx.reshape(-1)].reshape(self.num_envs, CROP, CROP)
                x = self.ax[:, None] + self._crop_dx
                crop = self.xp.where(((x >= 0) & (x < tiles.W))[:, None, :], crop, self._stone_glyph)
            obs["glyphs_crop"] = crop if row is None else crop[row]
        if "blstats" in keys:
            stats = self._stats0 if one else self.stats.T if row is None else self.stats[:, row]
            obs["blstats"] = stats - self._bl_offset
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
        if self._jit_step is not None:
            reward, done = np.empty(self.num_envs), np.empty((3, self.num_envs), dtype=bool)
            self._jit_step(np.asarray(actions, dtype=np.int64), reward, done, *self._jit_args)
            terminated, truncated, self.success = done
            return reward, terminated, truncated
        xp, long, any_ = self.xp, self._long, self._any
        # k: the action and the direction prompt it may answer; every per-action rule is a table on k
        k = self.pending + actions if self._specials else actions
        # Fast path when every sub-env moves: skip the command machinery (a host check per step).
        slow = self._specials and any_(self._k_slow[k])
        opos = self._agent_pos()
        tpos = opos + self._k_dflat[k]
        tc = long(self._cells_f[tpos])
        # cells to redraw: the agent's old cell always, the target cell only where it may change
        redraw = [opos]
        if self.n_monsters and not self._mon_static:  # a monster there may die in melee
            redraw.append(tpos)

        j = self._k_j[k] + tc  # the move tables' index: (action and prompt, target cell)
        if self.n_monsters:
            mpos = self._mbase + self.my * self._wp + self.mx
            on_target = mpos == tpos[:, None]
            bump = any_(self._or_cols(on_target))  # a monster, live or dead, on some target: rare, so check first
            if bump:
                hits = self.malive & on_target
                melee = self._or_cols(hits)
                if slow:
                    melee = melee & self._k_move[k]
                bump = any_(melee)
                if bump:
                    j = j + self._j_blocked * melee
        go, msg = self._go_tab[j], self._move_msg_tab[j]
        if self.n_monsters and bump:
            kill = melee & ((self._rand(1) & 3) != 0) & self._melee_kills
            self.malive[...] = self.malive & ~(hits & kill[:, None])
            kind = self.task.monster - 1
            msg = xp.where(melee, xp.where(kill, Msg.KILL + kind, Msg.MISS + kind), msg)
        opens = self._opens_tab[j]
        if any_(opens):
            self._cells_f[tpos] = xp.where(opens, self._move_cell[tc], xp.astype(tc, xp.uint8))
            if len(redraw) == 1:
                redraw.append(tpos)
        apos = opos + self._adflat_tab[j]

        fired = False  # whether a ray redrew cells where monsters may stand
        if slow:
            msg, fired = self._commands(j, tpos, apos, msg, redraw)
        uc = long(self._cells_f[apos])
        msg = xp.where(go, self._see_msg[uc], msg)
        # deaths are rare: where nobody died, `dead` stays None and their messages and masks are skipped
        dead = slain = None
        if self._lava:
            lava = self._is_lava[uc] > self.lev  # on lava and not levitating (lev is 0 or 1)
            if any_(lava):
                dead, msg = lava, xp.where(lava, Msg.LAVA_DEATH, msg)
        if self.n_monsters:
            msg, mpos = self._monsters_act(dead, msg, mpos, apos, redraw)
            hp0 = self.hp <= 0
            if any_(hp0):
                slain = hp0 if dead is None else hp0 > dead  # on bools a > b is a & ~b, in one op
                msg = xp.where(slain, Msg.DIE, msg)
                dead = slain if dead is None else dead | slain
        if self._multilevel:
            success, msg, descended = self._descend(k if slow else None, uc, msg)
            if descended:
                apos = None  # the agent now stands on a new level's start: _draw_actors reads it
        else:
            success = self._is_goal[uc]
            if slain is not None:  # lava and the goal are different cells, but a bite can kill on the goal
                success = success > dead
        self.msg[...] = msg  # in place: the compiled step holds these arrays
        self.stats += self._delta_tab[j].T  # the agent's move and time += 1 (after every use of the old time)
        # a fresh array, not `success` itself: reset_rows writes `self.success` in place
        terminated = self._copy(success) if dead is None else success | dead
        if self.max_episode_steps is not None:
            truncated = (self.time >= self.max_episode_steps) & ~terminated
        else:
            truncated = xp.zeros(self.num_envs, dtype=xp.bool, device=self.device)
        reward = self._f64(success)
        if self.penalty_step:
            reward = reward + self.penalty_step
        # nothing to redraw when no agent moved and no cell may have changed (frequent at B = 1)
        if len(redraw) > 1 or apos is None or fired or any_(go):
            self._redraw_flat(redraw[0] if len(redraw) == 1 else xp.concat(redraw))
            monsters = fired or apos is None or not self._mon_static
            self._draw_actors(slice(None), apos, mpos if self.n_monsters else None, monsters)
        self.success = success
        return reward, terminated, truncated

    def _commands(self, j: Any, tpos: Any, apos: Any, msg: Any, redraw: list[Any]) -> tuple[Any, bool]:
        """Pickup, quaff, wear, apply/zap/kick (which ask for a direction), and their resolution.

        One lookup in the command tables (:func:`_command_rule`) at the state index (mode, has_key,
        item, lev, acted-on cell; `j` is the move tables' index of (k, acted-on cell)); only cell
        writes, kick luck and rays are conditional (one host check of the OR of the state's flags).
        Non-move rows enter with ``msg`` 0. Returns the message and whether a ray was fired; a changed
        cell is added to `redraw`.
        """
        xp = self.xp
        inv = self.stats[4:7]  # rows has_key, item, lev
        inv_s = xp.sum(inv * self._inv_weight, axis=0)
        s = self._j_mode[j] + inv_s
        flags = self._bits(self._c_flags[s])
        if flags & _FLAG_LUCK:  # a kick at a door crashes it open with probability 1/3
            s = s + _CMD_SIZE * xp.astype((self._rand(2) % 3) == 0, xp.int64)
        self.stats += self._c_dstats[s].T  # the inventory's change (s encodes the old inventory)
        self.pending[...] = self._c_pend[s]
        if flags & _FLAG_CELL:  # other sub-envs keep their cell as it is now (a door bumped open stays open)
            self._cells_f[tpos] = xp.where(self._c_changed[s], self._c_cell[s], self._cells_f[tpos])
            redraw.append(tpos)
        msg = msg + self._c_msg[s]
        if flags & _FLAG_RAY:
            return self._rays(self._c_cold[s], self._c_death[s], tpos - apos, msg), True
        return msg, False

    def _rays(self, cold: Any, death: Any, step: Any, msg: Any) -> Any:
        """Bolts of cold freeze lava into ice; death rays kill monsters; both stop at walls and doors.

        Only the sub-envs that fire are traced (a gather of their rows), all RAY_RANGE cells from the
        agent (`step` (B,) apart in flat positions) at once: a ray's cells are distinct, so tracing
        them together equals tracing them one after the other.
        """
        xp, long = self.xp, self._long
        every = self.num_envs == 1  # B = 1: the ray flag says the one sub-env fires, so no gather of rows
        rows = slice(None) if every else xp.nonzero(cold | death)[0]
        cold_r, death_r = cold[rows], death[rows]
        ray = self._flat(rows, self.ay[rows], self.ax[rows])[:, None] + step[rows][:, None] * self._ray_k  # (R, K)
        c = long(self._cells_f[ray])
        # a cell is reached if neither it nor a cell before it blocks the ray
        live = xp.cumulative_sum(self._blocks_ray[c], axis=1) == 0  # a bool sum counts in the default int
        freeze = live & cold_r[:, None] & (c == Cell.LAVA)
        froze = freeze.any(axis=1)  # the method: numpy's function wrapper costs as much again
        self._cells_f[ray] = xp.astype(xp.where(freeze, Cell.ICE, c), xp.uint8)
        killed = xp.zeros_like(froze)
        if self.n_monsters:
            alive, mpos = self.malive[rows], self._flat(rows, self.my[rows], self.mx[rows])
            passes = (live & death_r[:, None])[:, :, None] & (ray[:, :, None] == mpos[:, None, :])  # (R, K, M)
            hit = alive & passes.any(axis=1)
            killed = hit.any(axis=1)
            self.malive[rows] = alive & ~hit
        self._redraw_flat(xp.reshape(ray, (-1,)))
        if every:
            froze_all, killed_all = froze, killed
        else:
            froze_all, killed_all = xp.zeros_like(cold), xp.zeros_like(cold)
            froze_all[rows], killed_all[rows] = froze, killed
        msg = xp.where(cold, xp.where(froze_all, Msg.FREEZE, Msg.COLD_BOUNCE), msg)
        kill_msg = Msg.KILL + max(self.task.monster - 1, 0)
        return xp.where(death, xp.where(killed_all, kill_msg, Msg.DEATH_BOUNCE), msg)

    def _monsters_act(self, dead: Any | None, msg: Any, mpos: Any, apos: Any, redraw: list[Any]) -> tuple[Any, Any]:
        """Each live monster bites an adjacent agent, or (if it moves) steps in a random direction.
        Returns the message and the monsters' flat positions after their moves. `dead` (None: nobody):
        agents already dead this step, whom no monster bites.

        Monsters act in slot order; everything but "is the target cell taken by another monster" is
        independent of that order, so it is computed for all slots at once (damage clamps at 0, so
        summing the bites equals applying them one by one).
        """
        near = self._near[mpos - (apos - self._near_off)[:, None]]
        if not self._mon_moves and not self._any(self._or_cols(near)):  # no bite anywhere, and nobody walks
            return msg, mpos
        alive = self.malive if dead is None else self.malive > dead[:, None]
        adj = alive & near
        my, mx = self.my, self.mx
        xp, M = self.xp, self.n_monsters
        kind = self.task.monster
        lo, hi = _MON_DAMAGE[kind]
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
        clash = M > 1 and bool((self.malive[:, None, :] & self._other_slot & (
            (mpos[:, None, :] == npos[:, :, None]) | (npos[:, None, :] == npos[:, :, None]))).any())
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
