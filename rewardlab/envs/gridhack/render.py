"""Text (tty) and tile-image renderings of one gridhack sub-env.

The text is NetHack's screen: a message line, the 21 map rows, and a status line. The image draws
each cell as a 12x12 tile: terrain fills the tile, objects, monsters and the agent sit in its middle.
"""

from __future__ import annotations

import numpy as np

from rewardlab.envs.gridhack import tiles
from rewardlab.envs.gridhack.tiles import BL_DEPTH, BL_HAS_KEY, BL_HP, BL_ITEM, BL_LEVITATING, BL_TIME, Cell

__all__ = ["ansi", "rgb", "TILE"]

TILE = 12
# NetHack colours 0..15 as RGB
_PALETTE = np.array([
    (0, 0, 0), (200, 40, 40), (40, 170, 40), (150, 100, 40), (40, 40, 200), (170, 40, 170), (40, 170, 170),
    (160, 160, 160), (110, 110, 110), (255, 140, 0), (90, 255, 90), (255, 255, 60), (90, 90, 255),
    (255, 90, 255), (90, 255, 255), (255, 255, 255)], dtype=np.uint8)
_ITEM_NAMES = {0: "-", 1: "potion", 2: "boots", 3: "horn", 4: "wand of cold", 5: "wand of death"}


def _tile_table() -> np.ndarray:
    """(MAX_GLYPH, TILE, TILE, 3) uint8: the tile of every glyph."""
    table = np.zeros((tiles.MAX_GLYPH, TILE, TILE, 3), dtype=np.uint8)
    terrain_bg = {Cell.FLOOR: 40, Cell.CORRIDOR: 60, Cell.DOORWAY: 40, Cell.ICE: None, Cell.STAIRS_DOWN: 40,
                  Cell.STAIRS_UP: 40}
    floor = np.array((40, 40, 40), dtype=np.uint8)
    for cell in range(Cell.COUNT):
        g = int(tiles.CELL_GLYPH[cell])
        col = _PALETTE[tiles.CELL_COLOR[cell]]
        if cell >= Cell.KEY:  # an object on the floor
            table[g] = floor
            table[g, 3:-3, 3:-3] = col
        elif cell in terrain_bg and terrain_bg[cell] is not None:
            table[g] = terrain_bg[cell]
            if cell in (Cell.STAIRS_DOWN, Cell.STAIRS_UP):
                table[g, 2:-2, 2:-2] = (230, 230, 230)
                table[g, 4:-4, 4:-4] = floor
        else:
            table[g] = col if cell != Cell.STONE else 0
            if cell in (Cell.DOOR_CLOSED, Cell.DOOR_LOCKED):
                table[g, 5:7, 5:7] = (255, 255, 60) if cell == Cell.DOOR_LOCKED else 0
    for g, _, c in [(tiles.AGENT_GLYPH, "@", tiles.AGENT_COLOR), *tiles.MONSTER_GLYPH.values()]:
        table[g] = floor
        table[g, 2:-2, 2:-2] = _PALETTE[c] if g != tiles.AGENT_GLYPH else (255, 255, 255)
        if g == tiles.AGENT_GLYPH:
            table[g, 4:-4, 4:-4] = (60, 120, 255)
    return table


_TILES = _tile_table()


def rgb(glyphs: np.ndarray) -> np.ndarray:
    """The (21*TILE, 79*TILE, 3) uint8 image of one (21, 79) glyph map."""
    img = _TILES[np.asarray(glyphs, dtype=np.int64)]  # (H, W, T, T, 3)
    h, w = img.shape[:2]
    return img.transpose(0, 2, 1, 3, 4).reshape(h * TILE, w * TILE, 3)


def ansi(glyphs: np.ndarray, message: str, blstats: np.ndarray) -> str:
    """NetHack's tty screen of one (21, 79) glyph map: message line, map, status line."""
    chars = tiles.GLYPH_CHAR[np.asarray(glyphs, dtype=np.int64)]
    rows = [bytes(r).decode("ascii").rstrip() for r in chars]
    bl = [int(v) for v in blstats]
    status = (f"Dlvl:{bl[BL_DEPTH]} HP:{bl[BL_HP]} T:{bl[BL_TIME]} Key:{'yes' if bl[BL_HAS_KEY] else 'no'} "
              f"Item:{_ITEM_NAMES[bl[BL_ITEM]]}{' Lev' if bl[BL_LEVITATING] else ''}")
    return "\n".join([message, *rows, status]) + "\n"
