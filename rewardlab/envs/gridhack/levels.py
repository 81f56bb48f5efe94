"""Procedural level generators of gridhack, driven by numpy generators.

Every generator takes two generators, ``layout`` (walls, rooms, lava, doors) and ``objects``
(agent start, goal, items, monsters), so the ``structure`` knob of the envs can fix one and vary
the other. It returns a :class:`Level` on the ``(21, 79)`` NetHack map. Generation is Python, not
batched: it runs once per context (cached) or once per episode with ``num_contexts=None``.

Generators: :func:`multiroom`, :func:`crossing`, :func:`labyrinth`, :func:`corridors`,
:func:`keyroom`, :func:`river`, :func:`wod`, :func:`staircase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from rewardlab.envs.gridhack.tiles import H, ITEM_CELL, W, Cell

__all__ = ["Level", "FastRng", "SeedWords", "multiroom", "crossing", "labyrinth", "corridors", "keyroom",
           "river", "wod", "staircase"]

Rng = np.random.Generator


@dataclass
class Level:
    """One generated level: ``cells`` (L, 21, 79) uint8 (L dungeon levels), ``start`` (L, 2) as (y, x),
    ``monsters`` (M, 2) as (y, x) on the first dungeon level.

    Example:
        >>> rng = np.random.default_rng
        >>> level = wod(rng(0), rng(1))
        >>> level.cells.shape, level.monsters.shape, int((level.cells == Cell.STAIRS_DOWN).sum())
        ((1, 21, 79), (1, 2), 1)
    """

    cells: np.ndarray
    start: np.ndarray
    monsters: np.ndarray


class GenerationError(RuntimeError):
    """A generator ran out of tries (a bug in its parameters, never expected at the registered sizes)."""


_NO_MONSTERS = np.zeros((0, 2), dtype=np.int64)  # shared by levels without monsters: an empty array cannot change


def _single(grid: np.ndarray, start: tuple[int, int], monsters: list[tuple[int, int]] | None = None) -> Level:
    """A one-level Level; it takes `grid` over (generators make a fresh one per level), so no copy."""
    mons = np.array(monsters, dtype=np.int64).reshape(-1, 2) if monsters else _NO_MONSTERS
    return Level(grid[None], np.array([start], dtype=np.int64), mons)


def _room(grid: np.ndarray, top: int, left: int, h: int, w: int, wall: int | None = None) -> None:
    """Draw a room whose outer rectangle (walls included) is (top, left, h, w)."""
    if wall is None:
        grid[top : top + h, left : left + w] = Cell.WALL_H
        grid[top + 1 : top + h - 1, left : left + w : w - 1] = Cell.WALL_V  # both side walls: a slice, not a gather
    else:
        grid[top : top + h, left : left + w] = wall
    grid[top + 1 : top + h - 1, left + 1 : left + w - 1] = Cell.FLOOR


def _interior(top: int, left: int, h: int, w: int) -> list[tuple[int, int]]:
    return [(y, x) for y in range(top + 1, top + h - 1) for x in range(left + 1, left + w - 1)]


def _distinct(rng: Rng, size: int, n: int) -> list[int]:
    """n distinct indices in [0, size) drawn uniformly (a repeat is drawn again)."""
    idx: list[int] = []
    while len(idx) < n:
        i = int(rng.integers(size))
        if i not in idx:
            idx.append(i)
    return idx


def _pick(rng: Rng, cells: list[tuple[int, int]], n: int = 1) -> list[tuple[int, int]]:
    """n distinct cells drawn uniformly."""
    return [cells[i] for i in _distinct(rng, len(cells), n)]


def _pick_box(rng: Rng, y0: int, x0: int, rows: int, cols: int, n: int = 1) -> list[tuple[int, int]]:
    """n distinct cells of the `rows` x `cols` box at (y0, x0): the draws of :func:`_pick` on its row-major
    cell list, without building the list (tens of microseconds for a room)."""
    return [(y0 + i // cols, x0 + i % cols) for i in _distinct(rng, rows * cols, n)]


def _pick_inside(rng: Rng, top: int, left: int, h: int, w: int) -> tuple[int, int]:
    """One interior cell of a room drawn uniformly: ``_pick(rng, _interior(...))[0]`` without the list."""
    return _pick_box(rng, top + 1, left + 1, h - 2, w - 2)[0]


class SeedWords(ISeedSequence):
    """A seed sequence that hands PCG64 precomputed state words: ``np.random.default_rng(SeedWords(row))``
    for a row of :func:`~rewardlab.envs.gridhack.jitlevels.seed_words` is ``default_rng(entropy)`` without
    hashing the entropy again."""

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if (n_words, np.dtype(dtype)) != (4, np.dtype(np.uint64)):  # PCG64 asks exactly this
            raise NotImplementedError("SeedWords only seeds PCG64")
        return self.words


class FastRng:
    """A numpy Generator, made on first use, whose scalar ``integers`` draws come from blocks of uniforms.

    Level generators make tens to hundreds of scalar draws; one ``Generator.integers`` call costs
    microseconds, a list lookup a few tens of nanoseconds. ``seed`` is anything
    ``np.random.default_rng`` takes (a :class:`SeedWords` skips the SeedSequence hash); the Generator (a
    PCG64 state, a few microseconds) is only built if a draw is made. Blocks grow from 16 uniforms to 512, so a level
    that needs few draws does not pay for 512; the stream is the same as with fixed blocks of 512
    (:meth:`permutation` first completes the current block of 512, as a fixed block would have).

    Example:
        >>> r = FastRng(np.random.default_rng(0))
        >>> all(3 <= r.integers(3, 7) < 7 for _ in range(1000)), r.integers(5) < 5
        (True, True)
    """

    _FULL = 512

    def __init__(self, seed: Any, block: int = 16):
        self._seed, self._rng, self._block = seed, None, block
        self._u: list[float] = []
        self._i = 0
        self._drawn = 0  # uniforms taken from the Generator so far

    @property
    def rng(self) -> np.random.Generator:
        if self._rng is None:
            self._rng = np.random.default_rng(self._seed)
        return self._rng

    def _fill(self, n: int) -> None:
        self._u, self._i = self._u[self._i:] + self.rng.random(n).tolist(), 0
        self._drawn += n

    def integers(self, low: int, high: int | None = None) -> int:
        if high is None:
            low, high = 0, low
        i = self._i
        if i == len(self._u):
            # 16, 16, 32, ..., 256 (512 in all), then blocks of 512: block boundaries stay multiples of 512
            self._fill(min(max(self._block, self._drawn), self._FULL) if self._drawn < self._FULL else self._FULL)
            i = 0
        self._i = i + 1
        return low + int(self._u[i] * (high - low))

    def permutation(self, n: int) -> np.ndarray:
        if self._drawn % self._FULL:
            self._fill(self._FULL - self._drawn % self._FULL)
        return self.rng.permutation(n)


def multiroom(layout: Rng, objects: Rng, *, n_rooms: int, max_size: int = 10, door: int = Cell.DOOR_CLOSED,
              lava_walls: bool = False, n_monsters: int = 0) -> Level:
    """MiniGrid's MultiRoom chain on the NetHack map: rooms joined by one door each, goal in the last.

    Room sides (walls included) are drawn from [4, max_size]; each room hangs off a random wall of the
    previous one, and rooms may share walls but never overlap inside. With ``lava_walls`` every wall
    is lava (MiniHack's ``-Lava`` variants): touching one kills.
    """
    draw = layout.integers  # ~80 draws a level: bind the method once
    for _ in range(200):
        rooms: list[tuple[int, int, int, int]] = []
        doors: list[tuple[int, int]] = []
        h, w = int(draw(4, max_size + 1)), int(draw(4, max_size + 1))
        rooms.append((int(draw(0, H - h + 1)), int(draw(0, W - w + 1)), h, w))
        entry_side = -1
        while len(rooms) < n_rooms:
            placed = False
            top, left, rh, rw = rooms[-1]
            for _ in range(40):
                side = int(draw(4))  # 0 north, 1 east, 2 south, 3 west
                if side == entry_side:
                    continue
                nh, nw = int(draw(4, max_size + 1)), int(draw(4, max_size + 1))
                if side == 0 or side == 2:
                    dx = left + int(draw(1, rw - 1))
                    dy = top if side == 0 else top + rh - 1
                    nl = dx - int(draw(1, nw - 1))
                    nt = dy - nh + 1 if side == 0 else dy
                else:
                    dy = top + int(draw(1, rh - 1))
                    dx = left + rw - 1 if side == 1 else left
                    nt = dy - int(draw(1, nh - 1))
                    nl = dx if side == 1 else dx - nw + 1
                if nt < 0 or nl < 0 or nt + nh > H or nl + nw > W:
                    continue
                if _overlaps_any(nt, nl, nh, nw, rooms):
                    continue
                rooms.append((nt, nl, nh, nw))
                doors.append((dy, dx))
                entry_side = (side + 2) % 4
                placed = True
                break
            if not placed:
                break
        if len(rooms) == n_rooms:
            break
    else:
        raise GenerationError(f"multiroom: could not place {n_rooms} rooms")
    grid = np.zeros((H, W), dtype=np.uint8)
    for r in rooms:
        _room(grid, *r, wall=Cell.LAVA if lava_walls else None)
    if not lava_walls:
        _fix_walls(grid)
    for y, x in doors:
        grid[y, x] = door
    start = _pick_inside(objects, *rooms[0])
    goal = _pick_inside(objects, *rooms[-1])
    grid[goal] = Cell.STAIRS_DOWN
    monsters = []
    if n_monsters:
        free = [c for r in rooms[1:] for c in _interior(*r) if c != goal]
        monsters = _pick(objects, free, n_monsters)
    return _single(grid, start, monsters)


def _overlaps_any(t: int, l: int, h: int, w: int, rooms: list[tuple[int, int, int, int]]) -> bool:  # noqa: E741
    """True when the inside of room (t, l, h, w) meets the rectangle of one of `rooms` (shared walls are
    allowed). That test is symmetric: it is also whether the inside of one of `rooms` meets the new
    rectangle (on each axis both read ``t2 + 1 < t + h and t + 1 < t2 + h2``). Plain loops: placement
    calls it thousands of times."""
    for t2, l2, h2, w2 in rooms:
        if t2 + 1 < t + h and t + 1 < t2 + h2 and l2 + 1 < l + w and l + 1 < l2 + w2:
            return True
    return False


def crossing(layout: Rng, objects: Rng, *, size: int = 19, n_rivers: int = 13) -> Level:
    """MiniGrid's LavaCrossing: `n_rivers` lava rivers across a size x size room, each with one gap
    on a monotone path from the top-left start to the bottom-right goal (MiniGrid CrossingEnv)."""
    del objects  # start and goal are fixed corners, as in MiniGrid
    grid = np.zeros((H, W), dtype=np.uint8)
    top, left = (H - size) // 2, (W - size) // 2
    _room(grid, top, left, size, size)
    rivers = [("v", i) for i in range(2, size - 2, 2)] + [("h", j) for j in range(2, size - 2, 2)]
    order = layout.permutation(len(rivers))
    chosen = [rivers[i] for i in order[:n_rivers].tolist()]
    rv = sorted(p for d, p in chosen if d == "v")
    rh = sorted(p for d, p in chosen if d == "h")
    for x in rv:
        grid[top + 1 : top + size - 1, left + x] = Cell.LAVA
    for y in rh:
        grid[top + y, left + 1 : left + size - 1] = Cell.LAVA
    path = ["h"] * len(rv) + ["v"] * len(rh)
    path = [path[i] for i in layout.permutation(len(path)).tolist()]
    lim_v, lim_h = [0, *rv, size - 1], [0, *rh, size - 1]
    ri = rj = 0
    for d in path:
        if d == "h":
            x, y = lim_v[ri + 1], int(layout.integers(lim_h[rj] + 1, lim_h[rj + 1]))
            ri += 1
        else:
            x, y = int(layout.integers(lim_v[ri] + 1, lim_v[ri + 1])), lim_h[rj + 1]
            rj += 1
        grid[top + y, left + x] = Cell.FLOOR
    grid[top + size - 2, left + size - 2] = Cell.STAIRS_DOWN
    return _single(grid, (top + 1, left + 1))


def labyrinth(layout: Rng, objects: Rng, *, rows: int = 9, cols: int = 38) -> Level:
    """A perfect maze (depth-first carving) filling the map; start near the centre, goal at the cell
    farthest from it. Registered with ``num_contexts=1``: one fixed maze, as MiniHack's Labyrinth-Big."""
    del objects
    grid = np.zeros((H, W), dtype=np.uint8)
    grid[: 2 * rows + 1, : 2 * cols + 1] = Cell.WALL_H
    seen = np.zeros((rows, cols), dtype=bool)
    stack = [(rows // 2, cols // 2)]
    seen[stack[0]] = True
    grid[2 * stack[0][0] + 1, 2 * stack[0][1] + 1] = Cell.CORRIDOR
    while stack:
        r, c = stack[-1]
        nbrs = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= r + dr < rows and 0 <= c + dc < cols and not seen[r + dr, c + dc]]
        if not nbrs:
            stack.pop()
            continue
        nr, nc = nbrs[int(layout.integers(len(nbrs)))]
        seen[nr, nc] = True
        grid[r + nr + 1, c + nc + 1] = Cell.CORRIDOR
        grid[2 * nr + 1, 2 * nc + 1] = Cell.CORRIDOR
        stack.append((nr, nc))
    _fix_walls(grid)
    start = (2 * (rows // 2) + 1, 2 * (cols // 2) + 1)
    dist = bfs_distance(grid == Cell.CORRIDOR, np.array([start]))
    far = np.unravel_index(int(np.argmax(dist)), dist.shape)
    grid[far] = Cell.STAIRS_DOWN
    return _single(grid, start)


def _fix_walls(grid: np.ndarray) -> None:
    """Draw walls NetHack-style: '|' for a wall with no wall beside it left or right, else '-'."""
    wall = (grid == Cell.WALL_H) | (grid == Cell.WALL_V)
    side = np.zeros_like(wall)
    side[:, 1:] |= wall[:, :-1]
    side[:, :-1] |= wall[:, 1:]
    grid[wall & side] = Cell.WALL_H
    grid[wall & ~side] = Cell.WALL_V


def _rooms_and_corridors(layout: Rng, n_rooms: int, door: int = Cell.DOORWAY, dead_ends: int = 2
                         ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """NetHack-like rooms, one per vertical band, joined left to right by dug corridors."""
    grid = np.zeros((H, W), dtype=np.uint8)
    band = W // n_rooms
    rooms = []
    for i in range(n_rooms):
        w = int(layout.integers(5, min(11, band - 3) + 1))
        h = int(layout.integers(4, 9))
        left = i * band + int(layout.integers(1, band - w - 1))
        top = int(layout.integers(1, H - h))
        rooms.append((top, left, h, w))
        _room(grid, top, left, h, w)
    _fix_walls(grid)
    for a, b in zip(rooms[:-1], rooms[1:]):
        ya = a[0] + int(layout.integers(1, a[2] - 1))
        yb = b[0] + int(layout.integers(1, b[2] - 1))
        xa, xb = a[1] + a[3] - 1, b[1]
        grid[ya, xa] = grid[yb, xb] = door
        xm = int(layout.integers(xa + 1, xb))
        grid[ya, xa + 1 : xm + 1] = Cell.CORRIDOR
        grid[min(ya, yb) : max(ya, yb) + 1, xm] = Cell.CORRIDOR
        grid[yb, xm:xb] = Cell.CORRIDOR
    for _ in range(dead_ends):  # corridors from a top or bottom wall that lead nowhere
        top, left, h, w = rooms[int(layout.integers(n_rooms))]
        x = left + int(layout.integers(1, w - 1))
        up = bool(layout.integers(2))
        y0 = top if up else top + h - 1
        length = int(layout.integers(2, 6))
        ys = range(y0 - 1, max(y0 - 1 - length, 0), -1) if up else range(y0 + 1, min(y0 + 1 + length, H - 1))
        ys = [y for y in ys if grid[y, x] == Cell.STONE and grid[y, x - 1] in (Cell.STONE, Cell.CORRIDOR)
              and grid[y, x + 1] in (Cell.STONE, Cell.CORRIDOR)]
        if ys:
            grid[y0, x] = door
            grid[ys, x] = Cell.CORRIDOR
    return grid, rooms


def corridors(layout: Rng, objects: Rng, *, n_rooms: int = 5) -> Level:
    """MiniHack's Corridor-R5 analogue: `n_rooms` rooms joined by corridors with dead ends; start and
    stairs down in two different random rooms."""
    grid, rooms = _rooms_and_corridors(layout, n_rooms)
    a, b = _pick(objects, list(range(n_rooms)), 2)
    start = _pick_inside(objects, *rooms[a])
    goal = _pick_inside(objects, *rooms[b])
    grid[goal] = Cell.STAIRS_DOWN
    return _single(grid, start)


def keyroom(layout: Rng, objects: Rng, *, size: int = 10) -> Level:
    """MiniHack's KeyRoom: a size x size room holding a small locked room with the stairs down; the
    key lies in the big room. Unlock by applying the key towards the door."""
    grid = np.zeros((H, W), dtype=np.uint8)
    top, left = int(layout.integers(0, H - size - 1)), int(layout.integers(0, W - size - 1))
    _room(grid, top, left, size + 2, size + 2)
    sh, sw = int(layout.integers(4, 6)), int(layout.integers(4, 6))  # sub-room with walls: 2-3 inside
    st = top + 1 + int(layout.integers(1, size - sh))  # keep a free ring around the sub-room
    sl = left + 1 + int(layout.integers(1, size - sw))
    _room(grid, st, sl, sh, sw)
    side = int(layout.integers(4))
    if side in (0, 2):
        door = (st if side == 0 else st + sh - 1, sl + int(layout.integers(1, sw - 1)))
    else:
        door = (st + int(layout.integers(1, sh - 1)), sl if side == 3 else sl + sw - 1)
    grid[door] = Cell.DOOR_LOCKED
    goal = _pick_inside(objects, st, sl, sh, sw)
    grid[goal] = Cell.STAIRS_DOWN
    # start and key: the big room's interior outside the sub-room, in row-major order (one flatnonzero
    # instead of a Python list of ~100 cells)
    free = np.ones((size, size), dtype=bool)
    free[st - top - 1 : st - top - 1 + sh, sl - left - 1 : sl - left - 1 + sw] = False
    flat = np.flatnonzero(free).tolist()
    start, key = [(top + 1 + flat[i] // size, left + 1 + flat[i] % size) for i in _distinct(objects, len(flat), 2)]
    grid[key] = Cell.KEY
    return _single(grid, start)


def river(layout: Rng, objects: Rng, *, items: tuple[int, ...]) -> Level:
    """MiniHack's Levitate/Freeze/LavaCross rooms: a lava river two cells wide splits a room; the
    stairs are across it, and one item (drawn from `items`) lies on the start side. Quaffing or
    wearing a levitation item, or freezing the river with cold, gets the agent across."""
    grid = np.zeros((H, W), dtype=np.uint8)
    h, w = int(layout.integers(6, 10)), int(layout.integers(14, 22))
    top, left = int(layout.integers(0, H - h + 1)), int(layout.integers(0, W - w + 1))
    _room(grid, top, left, h, w)
    rx = left + int(layout.integers(4, w - 5))
    grid[top + 1 : top + h - 1, rx : rx + 2] = Cell.LAVA
    start, spot = _pick_box(objects, top + 1, left + 1, h - 2, rx - left - 1, 2)  # interior left of the river
    goal = _pick_box(objects, top + 1, rx + 2, h - 2, left + w - rx - 3)[0]  # interior right of it
    grid[goal] = Cell.STAIRS_DOWN
    grid[spot] = ITEM_CELL[int(items[int(objects.integers(len(items)))])]
    return _single(grid, start)


def wod(layout: Rng, objects: Rng) -> Level:
    """MiniHack's WoD-Hard analogue: a minotaur blocks the one corridor to the stairs; the wand of death
    lies in the start room. Zap it at the minotaur (melee only gets the agent killed)."""
    grid = np.zeros((H, W), dtype=np.uint8)
    h, w = int(layout.integers(5, 9)), int(layout.integers(6, 11))
    top, left = int(layout.integers(0, H - h + 1)), int(layout.integers(0, 20))
    _room(grid, top, left, h, w)
    y = top + int(layout.integers(1, h - 1))
    xa = left + w - 1
    length = int(layout.integers(4, 8))
    h2, w2 = int(layout.integers(5, 8)), int(layout.integers(5, 9))
    top2 = min(max(y - int(layout.integers(1, h2 - 1)), 0), H - h2)  # np.clip on a scalar costs microseconds
    xb = xa + length + 1
    _room(grid, top2, xb, h2, w2)
    y2 = min(max(y, top2 + 1), top2 + h2 - 2)
    grid[y, xa] = grid[y2, xb] = Cell.DOORWAY
    grid[y, xa + 1 : xa + length] = Cell.CORRIDOR
    grid[min(y, y2) : max(y, y2) + 1, xa + length] = Cell.CORRIDOR
    grid[y2, xa + length : xb] = Cell.CORRIDOR
    minotaur = (y, xa + 1 + int(objects.integers(0, length - 1)))
    start, wand = _pick_box(objects, top + 1, left + 1, h - 2, w - 2, 2)
    grid[wand] = Cell.WAND_DEATH
    grid[_pick_inside(objects, top2, xb, h2, w2)] = Cell.STAIRS_DOWN
    return _single(grid, start, [minotaur])


def staircase(layout: Rng, objects: Rng, *, depth: int) -> Level:
    """NLE's Staircase analogue: `depth - 1` stacked levels of rooms and corridors, each with stairs
    down; descending from the last one (to dungeon level `depth`) is success."""
    grids, starts = [], []
    for _ in range(depth - 1):
        grid, rooms = _rooms_and_corridors(layout, 3)
        a, b = _pick(objects, [0, 1, 2], 2)
        start = _pick_inside(objects, *rooms[a])
        grid[start] = Cell.STAIRS_UP
        grid[_pick_inside(objects, *rooms[b])] = Cell.STAIRS_DOWN
        grids.append(grid)
        starts.append(start)
    return Level(np.stack(grids), np.array(starts, dtype=np.int64), np.zeros((0, 2), dtype=np.int64))


def bfs_distance(passable: np.ndarray, sources: np.ndarray, diagonal: bool = True) -> np.ndarray:
    """Shortest 8-way (or 4-way) step counts from `sources` (K, 2) over `passable` (H, W); -1 where
    unreachable. Sources count as passable."""
    h, w = passable.shape
    dist = np.full((h, w), -1, dtype=np.int64)
    frontier = [tuple(int(v) for v in s) for s in sources]
    for y, x in frontier:
        dist[y, x] = 0
    steps = ((-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1))[: 8 if diagonal else 4]
    d = 0
    while frontier:
        d += 1
        nxt = []
        for y, x in frontier:
            for dy, dx in steps:
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and dist[ny, nx] < 0 and passable[ny, nx]:
                    dist[ny, nx] = d
                    nxt.append((ny, nx))
        frontier = nxt
    return dist
