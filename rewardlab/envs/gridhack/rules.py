"""gridhack's rules, written once: what each cell, action and command does, and the random rolls.

Both step kernels read this module and nothing else about the rules: :mod:`~rewardlab.envs.gridhack.jitcore`
(numba, a loop over envs, for the numpy backend) and :mod:`~rewardlab.envs.gridhack.torchcore` (whole-batch
torch operations on any device, for the torch backend). A rule is either a table here (per cell, per
action and direction prompt, per command state) or one of the small integer functions at the end (the
hash that drives in-episode randomness and the rolls read from it), which numba compiles and torch runs
elementwise on tensors, so both kernels compute the same integers.

Indices of the tables:

- ``k = pending * n_actions + action``: the action and the direction prompt it may answer (``pending`` is
  0 none, 1 apply, 2 zap, 3 kick, stored premultiplied by ``n_actions``);
- ``j = k * Cell.COUNT + target cell`` (+ :attr:`StepTables.blocked` when a live monster stands on the
  target of a move: the agent attacks it instead);
- ``s = mode index of j + the inventory`` (see :data:`INV_WEIGHT`), + :data:`CMD_SIZE` for a lucky kick:
  a command's whole outcome.

The pinned v0 digests (``tests/envs/gridhack/test_gridhack_v0_pinned.py``) hold these rules fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.envs.gridhack import tiles
from rewardlab.envs.gridhack.tiles import PAD, Cell, Cmd, Item, Monster, Msg

__all__ = ["HP_MAX", "RAY_RANGE", "KEY_RANGE", "MAP_WINDOW", "WALKABLE", "MONSTER_WALKABLE", "BLOCKS_RAY",
           "MON_MOVES", "MON_DAMAGE", "Mode", "CMD_SIZE", "INV_WEIGHT", "FLAG_CELL", "FLAG_RAY", "FLAG_LUCK",
           "command_rule", "CMD_TABLES", "StepTables", "step_tables", "K_ROWS", "J_ROWS", "C_ROWS", "S_ROWS",
           "P_NAMES", "SALT", "MELEE_SALT", "LUCK_SALT", "monster_salts", "hash32", "melee_kills", "kick_lucky",
           "bites", "bite_damage", "wander_dir"]

HP_MAX = 12
RAY_RANGE = 8  # cells a bolt of cold or a death ray travels
KEY_RANGE = 2**31  # per-episode hash keys are drawn from [0, 2**31)
MAP_WINDOW = (slice(PAD, PAD + tiles.H), slice(None))  # the map between the stone rows (see tiles.PAD)
_MASK32 = 0xFFFFFFFF

# --- per-cell rules (index: cell type) ----------------------------------------------------------
WALKABLE = np.zeros(Cell.COUNT, dtype=bool)
WALKABLE[[Cell.FLOOR, Cell.CORRIDOR, Cell.DOORWAY, Cell.DOOR_OPEN, Cell.LAVA, Cell.ICE, Cell.STAIRS_DOWN,
          Cell.STAIRS_UP, Cell.KEY, Cell.POTION, Cell.BOOTS, Cell.HORN, Cell.WAND_COLD, Cell.WAND_DEATH]] = True
MONSTER_WALKABLE = WALKABLE.copy()
MONSTER_WALKABLE[[Cell.LAVA, Cell.STAIRS_DOWN]] = False
BLOCKS_RAY = ~WALKABLE
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
MON_MOVES = {Monster.JACKAL: True, Monster.MINOTAUR: False}
MON_DAMAGE = {Monster.JACKAL: (1, 1), Monster.MINOTAUR: (4, 7)}


# --- commands as tables --------------------------------------------------------------------------
# A step's command is resolved by one table lookup: its *mode* (from the action and the pending
# direction prompt), the inventory (has_key, item, levitating) and the cell it acts on (the agent's
# own cell for pickup, the target cell when a direction answers apply/zap/kick) index the tables
# built here from command_rule, the one statement of the command rules.
class Mode:
    """Command modes: a move, the commands PICKUP .. DOWN (``Cmd - 7``), a cancelled prompt, three answers."""

    MOVE = 0  # a compass move with no prompt pending (resolved by the move tables, not here)
    # PICKUP .. DOWN are 1 .. 7 (Cmd - 7); DOWN has no effect here (the kernels' descent does it)
    CANCEL = 8  # a non-direction key while a direction is asked for
    ANSWER = 9  # 9, 10, 11: a direction answering apply (pending 1), zap (2), kick (3)
    COUNT = 12


_ITEMS, _KEYS, _LEVS = 6, 2, 2
_MODE_SIZE = _ITEMS * _KEYS * _LEVS * Cell.COUNT
CMD_SIZE = Mode.COUNT * _MODE_SIZE  # one layer; a second layer holds the outcomes of a lucky kick
#: weights of (has_key, item, lev) in the command state index
INV_WEIGHT = (_LEVS * Cell.COUNT, _KEYS * _LEVS * Cell.COUNT, Cell.COUNT)
FLAG_CELL, FLAG_RAY, FLAG_LUCK = 1, 2, 4  # some cell changes; a ray is fired; a kick's luck matters


def command_rule(mode: int, item: int, key: int, lev: int, cell: int, lucky: bool) -> tuple[int, ...]:
    """(has_key, item, lev, pending, message, cell, cold ray, death ray) after a command.

    Example:
        >>> command_rule(Cmd.PICKUP - 7, Item.NONE, 0, 0, Cell.POTION, False)[:2] == (0, Item.POTION)
        True
    """
    pend, msg, cold, death = 0, Msg.NONE, False, False
    if mode == Mode.CANCEL:
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
    elif mode == Mode.ANSWER:  # apply: a frost horn blows cold, else a key unlocks
        if item == Item.HORN:
            cold = True
        elif key > 0:
            cell, msg = (Cell.DOOR_OPEN, Msg.UNLOCK) if cell == Cell.DOOR_LOCKED else (cell, Msg.NO_DOOR)
    elif mode == Mode.ANSWER + 1:  # zap
        cold, death = item == Item.WAND_COLD, item == Item.WAND_DEATH
    elif mode == Mode.ANSWER + 2:  # kick: a door crashes open with probability 1/3
        if _IS_DOOR[cell]:
            cell, msg = (Cell.DOORWAY, Msg.KICK_OPEN) if lucky else (cell, Msg.WHAMM)
        else:
            msg = Msg.OUCH if _IS_SOLID[cell] else Msg.KICK_AIR
    return key, item, lev, pend, msg, cell, cold, death


def _command_tables() -> dict[str, np.ndarray]:
    """The outcome of every (luck, mode, item, has_key, lev, cell), flattened in that order."""
    rows = [command_rule(m, i, k, v, c, lucky) for lucky in (False, True) for m in range(Mode.COUNT)
            for i in range(_ITEMS) for k in range(_KEYS) for v in range(_LEVS) for c in range(Cell.COUNT)]
    key, item, lev, pend, msg, cell, cold, death = (np.array(col) for col in zip(*rows))
    changed = cell != np.tile(np.arange(Cell.COUNT), 2 * CMD_SIZE // Cell.COUNT)
    by_luck = changed.reshape(2, -1)
    flags = (FLAG_CELL * changed + FLAG_RAY * (cold | death)).reshape(2, -1)
    flags = flags[0] | flags[1] | FLAG_LUCK * (by_luck[0] != by_luck[1])
    # the inventory each state index starts from: rows has_key, item, lev
    old = np.stack(np.unravel_index(np.arange(_MODE_SIZE) // Cell.COUNT, (_ITEMS, _KEYS, _LEVS)))[[1, 0, 2]]
    d_inv = np.stack([key, item, lev]).astype(np.int64) - np.tile(old, 2 * Mode.COUNT)
    return {"flags": np.tile(flags.astype(np.int64), 2), "pend": pend.astype(np.int64), "msg": msg.astype(np.int64),
            "cell": cell.astype(np.int64), "changed": changed, "cold": cold, "death": death,
            "d_key": d_inv[0], "d_item": d_inv[1], "d_lev": d_inv[2]}


#: the command outcomes by state index s, in the rows of :data:`S_ROWS` (``pend`` not yet times n_actions)
CMD_TABLES = _command_tables()

# Row orders of the packed tables the compiled kernel reads by position (int64 arrays (rows, n)).
K_ROWS = ("slow", "move", "dflat", "j", "down")  # indexed by k (action and prompt)
J_ROWS = ("go", "msg", "opens", "adflat", "mode", "dx", "dy")  # indexed by j (k and target cell)
C_ROWS = ("move_cell", "see_msg", "lava", "goal", "blocks_ray", "mon_walkable", "glyph", "char", "color")  # by cell
S_ROWS = ("flags", "pend", "msg", "cell", "changed", "cold", "death", "d_key", "d_item", "d_lev")  # by state index
P_NAMES = ("blocked", "cmd_size", "w_key", "w_item", "w_lev", "wp", "map_size", "draw_char", "draw_color",
           "melee_kills", "mon_moves", "kind", "lo", "hi", "multilevel", "depth", "max_steps", "n_actions")


@dataclass(frozen=True)
class StepTables:
    """The rule tables of one task and action set (numpy arrays; each kernel copies them where it runs).

    ``k``, ``j``, ``c``, ``s``: dicts in the row orders :data:`K_ROWS`, :data:`J_ROWS`, :data:`C_ROWS`,
    :data:`S_ROWS`; ``params``: the task's scalars named by :data:`P_NAMES`; ``dirs``: rows dy, dx and
    flat step of the 8 compass directions; ``actors``: (glyph, char, color) of the agent (row 0) and of
    the task's monster (row 1); ``salts``: the monsters' hash salts (:func:`monster_salts`).
    """

    k: dict[str, np.ndarray]
    j: dict[str, np.ndarray]
    c: dict[str, np.ndarray]
    s: dict[str, np.ndarray]
    params: dict[str, int]
    dirs: np.ndarray
    actors: np.ndarray
    salts: np.ndarray

    @property
    def blocked(self) -> int:
        """What a j index adds when a live monster stands on the target of a move."""
        return self.params["blocked"]

    def packed(self) -> tuple[np.ndarray, ...]:
        """(params, k, j, c, s) as int64 arrays in the row orders above: the compiled kernel's arguments."""
        def pack(rows: dict[str, np.ndarray], order: tuple[str, ...]) -> np.ndarray:
            return np.stack([np.asarray(rows[name], dtype=np.int64) for name in order])

        params = np.array([int(self.params[name]) for name in P_NAMES], dtype=np.int64)
        return params, pack(self.k, K_ROWS), pack(self.j, J_ROWS), pack(self.c, C_ROWS), pack(self.s, S_ROWS)


def step_tables(monster: int, depth: int, multilevel: bool, actions: tuple[int, ...], n_monsters: int,
                max_episode_steps: int | None, draw_char: bool, draw_color: bool) -> StepTables:
    """The :class:`StepTables` of a task (its `monster` kind, `depth`, whether it is `multilevel`) played
    with the action set `actions` and `n_monsters` monster slots.

    Example:
        >>> t = step_tables(Monster.NONE, 1, False, tuple(range(8)), 0, None, True, True)
        >>> t.k["dflat"][:2].tolist(), t.params["n_actions"]  # N moves up a padded row, E one cell right
        ([-79, 1], 8)
    """
    specials = any(c >= 8 for c in actions)
    pends = range(4 if specials else 1)
    cmd = np.array([c for _ in pends for c in actions])
    modes = np.array([(Mode.ANSWER + p - 1 if p else Mode.MOVE) if c < 8 else (Mode.CANCEL if p else c - 7)
                      for p in pends for c in actions])
    moving = modes == Mode.MOVE
    # a non-move command acts on the agent's own cell (target step 0), an answer on its target
    step = np.where(cmd < 8, tiles.DIRS[cmd & 7].T, 0)
    wp = tiles.W
    dflat = step[0] * wp + step[1]
    n_k = len(cmd)
    k = {"slow": ~moving, "move": moving, "dflat": dflat, "j": np.arange(n_k, dtype=np.int64) * Cell.COUNT,
         "down": cmd == Cmd.DOWN}
    # move tables, indexed by j = k * Cell.COUNT + target cell, then the same again where a monster stands
    # on the target (the agent attacks instead of moving); a non-move never moves the agent
    go = np.stack([moving[:, None] & WALKABLE[None, :], np.zeros((n_k, Cell.COUNT), dtype=bool)])  # (2, K, C)
    move_msg = np.where(moving[:, None], _MOVE_MSG[None, :], 0)
    opens = moving[:, None] & (_MOVE_CELL != np.arange(Cell.COUNT))[None, :]
    j = {"go": go.reshape(-1), "msg": np.tile(move_msg.reshape(-1), 2), "opens": np.tile(opens.reshape(-1), 2),
         "adflat": (go * dflat[None, :, None]).reshape(-1),  # the agent's flat step
         # the command tables' index without the inventory: (mode, acted-on cell)
         "mode": np.tile((modes[:, None] * _MODE_SIZE + np.arange(Cell.COUNT)).reshape(-1), 2),
         "dx": (go * step[1][:, None]).reshape(-1), "dy": (go * step[0][:, None]).reshape(-1)}
    c = {"move_cell": _MOVE_CELL, "see_msg": _SEE_MSG, "lava": _IS_LAVA, "goal": _IS_GOAL, "blocks_ray": BLOCKS_RAY,
         "mon_walkable": MONSTER_WALKABLE, "glyph": tiles.CELL_GLYPH, "char": tiles.CELL_CHAR,
         "color": tiles.CELL_COLOR}
    s = dict(CMD_TABLES, pend=CMD_TABLES["pend"] * len(actions))  # pending is stored times n_actions
    lo, hi = MON_DAMAGE.get(monster, (0, 0))
    params = dict(blocked=n_k * Cell.COUNT, cmd_size=CMD_SIZE, w_key=INV_WEIGHT[0], w_item=INV_WEIGHT[1],
                  w_lev=INV_WEIGHT[2], wp=wp, map_size=(tiles.H + 2 * PAD) * wp, draw_char=int(draw_char),
                  draw_color=int(draw_color), melee_kills=int(monster == Monster.JACKAL),
                  mon_moves=int(MON_MOVES.get(monster, False)), kind=max(monster - 1, 0), lo=lo, hi=hi,
                  multilevel=int(multilevel), depth=depth, n_actions=len(actions),
                  max_steps=-1 if max_episode_steps is None else int(max_episode_steps))
    dirs = np.stack([tiles.DIRS[:, 0], tiles.DIRS[:, 1], tiles.DIRS[:, 0] * wp + tiles.DIRS[:, 1]])
    mon = tiles.MONSTER_GLYPH.get(monster, (0, "?", 0))
    actors = np.array([[tiles.AGENT_GLYPH, ord(tiles.AGENT_CHAR), tiles.AGENT_COLOR],
                       [mon[0], ord(mon[1]), mon[2]]], dtype=np.int64)
    return StepTables(k, j, c, s, params, dirs, actors, monster_salts(n_monsters))


# --- randomness inside an episode ----------------------------------------------------------------
# A counter-based hash of (episode key, time, salt): written with integer operators only, so numba
# compiles these functions for one env and torch runs them on whole tensors, with equal results (every
# intermediate stays below 2**63 in int64).
SALT = 0x1B873593  # salts enter the hash premultiplied by this constant
MELEE_SALT, LUCK_SALT = 1 * SALT, 2 * SALT


def monster_salts(n: int) -> np.ndarray:
    """The premultiplied salts of monster slots 0 .. n-1 (salts 10, 11, ...)."""
    return (10 + np.arange(n, dtype=np.int64)) * SALT


def hash32(key: Any, time: Any, salt: Any) -> Any:
    """A 32-bit hash of an episode's key (< 2**31), its time and a premultiplied salt.

    Example:
        >>> hash32(0, 0, 0), hash32(12345, 7, MELEE_SALT) == hash32(12345, 7, MELEE_SALT)
        (0, True)
    """
    x = (key * 0x2C1B3C6D + time * 0x297A2D39 + salt) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & _MASK32
    x = x ^ (x >> 12)
    x = (x * 0x297A2D39) & _MASK32
    return x ^ (x >> 15)


def melee_kills(r: Any) -> Any:
    """Whether an attack on a jackal kills it (probability 3/4), from the hash at MELEE_SALT."""
    return (r & 3) != 0


def kick_lucky(r: Any) -> Any:
    """Whether a kick crashes a door open (probability 1/3), from the hash at LUCK_SALT."""
    return r % 3 == 0


def bites(r: Any) -> Any:
    """Whether an adjacent monster's bite lands (probability 1/2), from its slot's hash."""
    return (r & 1) == 0


def bite_damage(r: Any, lo: Any, hi: Any) -> Any:
    """A bite's damage, uniform in [lo, hi], from its slot's hash."""
    return lo + (r >> 1) % (hi - lo + 1)


def wander_dir(r: Any) -> Any:
    """The compass direction (index into tiles.DIRS) a wandering monster tries, from its slot's hash."""
    return (r >> 8) & 7
