"""Cell types, NLE-style glyph/char/colour tables, actions and the fixed message vocabulary of gridhack.

A level is a ``(H, W) = (21, 79)`` uint8 array of *cell types* (terrain with objects lying on it);
the agent and monsters are overlays. Each cell type maps to one glyph id laid out like NetHack 3.6's
(monsters from 0, objects from :data:`GLYPH_OBJ_OFF`, map symbols from :data:`GLYPH_CMAP_OFF`), one
ASCII char and one NetHack colour, through the lookup tables below.

Deliberate differences from NetHack: the whole map is visible (no fog of war), and a locked door
has its own glyph (NetHack's horizontal closed-door glyph) so that potentials can be computed from
the observation alone; it is drawn with the same ``+`` as a closed door.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "H", "W", "PAD", "CROP", "GLYPH_OBJ_OFF", "GLYPH_CMAP_OFF", "Cell", "Item", "Cmd", "Monster",
    "MESSAGES", "Msg", "CELL_GLYPH", "CELL_CHAR", "CELL_COLOR", "GLYPH_CHAR", "GLYPH_COLOR", "AGENT_GLYPH",
    "MONSTER_GLYPH", "MAX_GLYPH", "MESSAGE_BYTES", "BL_X", "BL_Y", "BL_HP", "BL_DEPTH", "BL_HAS_KEY", "BL_ITEM",
    "BL_LEVITATING", "BL_TIME", "BLSTATS_LEN", "ITEM_CELL", "DIRS",
]

H, W = 21, 79  # NetHack's map size
CROP = 9  # side of the egocentric crop, as MiniHack's default glyphs_crop
# Stone rows above and below every map in the core's state, (B, H + 2 * PAD, W): vertical crops and rays
# (range 8) stay inside the array. Columns have no margin, so that the observed (21, 79) window of each env
# is one contiguous block (a batched observation copies half as fast from strided rows). No margin is
# needed there: levels keep the outer columns to walls, stone or lava, so a live agent or monster never
# stands in them and a ray stops at them; crops mask the columns beyond the sides to stone.
PAD = 8

GLYPH_OBJ_OFF = 1906  # NetHack 3.6 GLYPH_OBJ_OFF
GLYPH_CMAP_OFF = 2359  # NetHack 3.6 GLYPH_CMAP_OFF


class Cell:
    """Cell types of a level (uint8)."""

    STONE, FLOOR, CORRIDOR, WALL_H, WALL_V, DOORWAY, DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED = range(9)
    LAVA, ICE, STAIRS_DOWN, STAIRS_UP = 9, 10, 11, 12
    KEY, POTION, BOOTS, HORN, WAND_COLD, WAND_DEATH = 13, 14, 15, 16, 17, 18
    COUNT = 19


class Item:
    """What the agent holds besides a key (``blstats[BL_ITEM]``)."""

    NONE, POTION, BOOTS, HORN, WAND_COLD, WAND_DEATH = range(6)


ITEM_CELL = {Item.POTION: Cell.POTION, Item.BOOTS: Cell.BOOTS, Item.HORN: Cell.HORN,
             Item.WAND_COLD: Cell.WAND_COLD, Item.WAND_DEATH: Cell.WAND_DEATH}


class Monster:
    """Monster kinds; a task has at most one kind."""

    NONE, JACKAL, MINOTAUR = range(3)


class Cmd:
    """Internal commands; a task's action space maps action indices to a subset of these."""

    N, E, S, W, NE, SE, SW, NW = range(8)  # NetHack's k l j h u n b y
    PICKUP, APPLY, QUAFF, WEAR, ZAP, KICK, DOWN = range(8, 15)
    COUNT = 15
    NAMES = ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest",
             "pickup", "apply", "quaff", "wear", "zap", "kick", "down")


# (dy, dx) of the 8 compass commands, in Cmd order
DIRS = np.array([(-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1)], dtype=np.int64)

# --- glyphs, chars, colours -------------------------------------------------------------------
# NetHack colours: 0 black, 1 red, 3 brown, 5 magenta, 6 cyan, 7 gray, 11 yellow, 15 white
_CELL_TABLE = {
    #                   glyph                 char colour
    Cell.STONE: (GLYPH_CMAP_OFF + 0, " ", 0),
    Cell.FLOOR: (GLYPH_CMAP_OFF + 19, ".", 7),
    Cell.CORRIDOR: (GLYPH_CMAP_OFF + 21, "#", 7),
    Cell.WALL_V: (GLYPH_CMAP_OFF + 1, "|", 7),
    Cell.WALL_H: (GLYPH_CMAP_OFF + 2, "-", 7),
    Cell.DOORWAY: (GLYPH_CMAP_OFF + 12, ".", 7),
    Cell.DOOR_OPEN: (GLYPH_CMAP_OFF + 13, "|", 3),
    Cell.DOOR_CLOSED: (GLYPH_CMAP_OFF + 15, "+", 3),
    Cell.DOOR_LOCKED: (GLYPH_CMAP_OFF + 16, "+", 3),
    Cell.LAVA: (GLYPH_CMAP_OFF + 34, "}", 1),
    Cell.ICE: (GLYPH_CMAP_OFF + 33, ".", 6),
    Cell.STAIRS_UP: (GLYPH_CMAP_OFF + 23, "<", 7),
    Cell.STAIRS_DOWN: (GLYPH_CMAP_OFF + 24, ">", 7),
    Cell.KEY: (GLYPH_OBJ_OFF + 213, "(", 6),
    Cell.POTION: (GLYPH_OBJ_OFF + 281, "!", 5),
    Cell.BOOTS: (GLYPH_OBJ_OFF + 95, "[", 3),
    Cell.HORN: (GLYPH_OBJ_OFF + 216, "(", 15),
    Cell.WAND_COLD: (GLYPH_OBJ_OFF + 367, "/", 6),
    Cell.WAND_DEATH: (GLYPH_OBJ_OFF + 372, "/", 11),
}
AGENT_GLYPH, AGENT_CHAR, AGENT_COLOR = 333, "@", 15
MONSTER_GLYPH = {Monster.JACKAL: (16, "d", 3), Monster.MINOTAUR: (119, "H", 3)}
MAX_GLYPH = GLYPH_CMAP_OFF + 64

CELL_GLYPH = np.array([_CELL_TABLE[c][0] for c in range(Cell.COUNT)], dtype=np.int16)
CELL_CHAR = np.array([ord(_CELL_TABLE[c][1]) for c in range(Cell.COUNT)], dtype=np.uint8)
CELL_COLOR = np.array([_CELL_TABLE[c][2] for c in range(Cell.COUNT)], dtype=np.uint8)

# glyph -> char / colour, for every glyph gridhack can show
GLYPH_CHAR = np.zeros(MAX_GLYPH, dtype=np.uint8)
GLYPH_COLOR = np.zeros(MAX_GLYPH, dtype=np.uint8)
GLYPH_CELL = np.full(MAX_GLYPH, -1, dtype=np.int16)  # glyph -> cell type (-1: agent/monster)
for _c, (_g, _ch, _col) in _CELL_TABLE.items():
    GLYPH_CHAR[_g], GLYPH_COLOR[_g], GLYPH_CELL[_g] = ord(_ch), _col, _c
for _g, _ch, _col in [(AGENT_GLYPH, AGENT_CHAR, AGENT_COLOR), *MONSTER_GLYPH.values()]:
    GLYPH_CHAR[_g], GLYPH_COLOR[_g] = ord(_ch), _col

# --- blstats ------------------------------------------------------------------------------------
# x, y first so that the position count key of the count-bonus literature is blstats[:2]
BL_X, BL_Y, BL_HP, BL_DEPTH, BL_HAS_KEY, BL_ITEM, BL_LEVITATING, BL_TIME = range(8)
BLSTATS_LEN = 8

# --- messages -------------------------------------------------------------------------------
MESSAGE_BYTES = 256
MESSAGES: tuple[str, ...] = (
    "",
    "You see here a key.",
    "You see here a potion of levitation.",
    "You see here a pair of levitation boots.",
    "You see here a frost horn.",
    "You see here a wand of cold.",
    "You see here a wand of death.",
    "f - a key.",
    "g - a potion of levitation.",
    "h - a pair of levitation boots.",
    "i - a frost horn.",
    "j - a wand of cold.",
    "k - a wand of death.",
    "There is nothing here to pick up.",
    "The door opens.",
    "The door is locked.",
    "You unlock the door.",
    "WHAMM!!",
    "As you kick the door, it crashes open!",
    "You kick at empty space.",
    "Ouch! That hurts!",
    "In what direction?",
    "Never mind.",
    "You float up!",
    "You don't have anything to drink.",
    "You don't have anything to wear.",
    "You don't have anything to use or apply.",
    "You don't have anything to zap.",
    "The lava cools and solidifies.",
    "The bolt of cold bounces!",
    "The death ray bounces!",
    "You kill the jackal!",
    "You kill the minotaur!",
    "You miss the jackal.",
    "You miss the minotaur.",
    "The jackal bites!",
    "The minotaur hits!",
    "You fall into the lava! You die...",
    "You die...",
    "There is a staircase down here.",
    "You climb down the stairs.",
    "You can't go down here.",
    "You see no door there.",
)


class Msg:
    """Message ids: indices into :data:`MESSAGES`."""

    NONE, SEE_KEY = 0, 1  # SEE_KEY + Item.X gives "You see here <item>."
    PICK_KEY = 7  # PICK_KEY + Item.X gives "<letter> - <item>."
    NOTHING_HERE, DOOR_OPENS, LOCKED, UNLOCK, WHAMM, KICK_OPEN, KICK_AIR, OUCH = range(13, 21)
    DIRECTION, NEVER_MIND, FLOAT_UP, NO_DRINK, NO_WEAR, NO_APPLY, NO_ZAP = range(21, 28)
    FREEZE, COLD_BOUNCE, DEATH_BOUNCE, KILL, MISS, BITE = 28, 29, 30, 31, 33, 35  # + (Monster - 1)
    LAVA_DEATH, DIE, STAIRS, DESCEND, CANT_DOWN, NO_DOOR = range(37, 43)
    COUNT = len(MESSAGES)


MESSAGE_TABLE = np.zeros((len(MESSAGES), MESSAGE_BYTES), dtype=np.uint8)
for _i, _m in enumerate(MESSAGES):
    MESSAGE_TABLE[_i, : len(_m)] = np.frombuffer(_m.encode("ascii"), dtype=np.uint8)


def decode_message(message: np.ndarray) -> str:
    """The text of one 256-byte ``message`` observation."""
    raw = bytes(np.asarray(message, dtype=np.uint8))
    return raw.split(b"\0", 1)[0].decode("ascii")
