"""Numba-compiled twins of the level generators that fresh-level episodes hit hardest.

On the lava tasks a random agent dies within about 4 steps (on WoD-Hard, the minotaur kills it soon), so
with ``num_contexts=None`` a level is generated every few steps; in Python that is 40-200 us a level and
bounds the throughput. The ``<gen>_into`` functions write levels straight into rows of the core's padded
maps (a reset copies nothing) and :func:`draw_terrain` draws them; they make the same levels as :mod:`rewardlab.envs.gridhack.levels`, bit for bit, from the same
seeds: they reimplement numpy's ``SeedSequence`` hash, its PCG64 generator (``random``, and the
``permutation`` of a ``Generator``) and :class:`~rewardlab.envs.gridhack.levels.FastRng`'s block
draws, because numba's own ``np.random`` is a different generator. The Python generators stay the
readable reference; ``tests/envs/gridhack/test_gridhack_jitlevels.py`` checks both give the same levels.

A random stream here is a tuple ``(pcg, buf, pos)``: ``pcg`` (6,) uint64 holds the 128-bit state and
increment and the buffered 32-bit half, ``buf`` the block of uniforms FastRng would hold, and ``pos``
(3,) int64 its read index, its length, and the uniforms drawn from the generator so far.

Example:
    >>> import numpy as np
    >>> words = seed_words(np.array([[3, 7, 0]], dtype=np.uint32))
    >>> bool((words[0] == np.random.SeedSequence([3, 7, 0]).generate_state(4, np.uint64)).all())
    True
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numba
import numpy as np

from rewardlab.envs.gridhack import levels
from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH, ITEM_CELL, H, W, Cell

__all__ = ["seed_words", "seed_pairs", "uint32_words", "multiroom_into", "crossing_into", "river_into", "wod_into",
           "draw_terrain", "twin"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")  # per-draw helpers: no call, no refcount traffic
# numba reads module-level ints as constants, not the attributes of a Python class
_FLOOR, _WALL_H, _WALL_V, _LAVA, _STAIRS = Cell.FLOOR, Cell.WALL_H, Cell.WALL_V, Cell.LAVA, Cell.STAIRS_DOWN
_CORRIDOR, _DOORWAY, _WAND_DEATH = Cell.CORRIDOR, Cell.DOORWAY, Cell.WAND_DEATH
_U = np.uint64
_M32 = _U(0xFFFFFFFF)

# --- numpy's SeedSequence (a pool of 4 uint32 words) ---------------------------------------------


@_jit
def _hashmix(value, hash_const):  # hash_const: a (1,) array, advanced in place as numpy does
    value = (value ^ hash_const[0]) & _M32
    hash_const[0] = hash_const[0] * _U(0x931E8875) & _M32
    value = value * hash_const[0] & _M32
    return value ^ (value >> _U(16))


@_jit
def _mix(x, y):
    r = (_U(0xCA01F9DD) * x - _U(0x4973F715) * y) & _M32
    return r ^ (r >> _U(16))


@_jit
def _hash_into(entropy, out):
    """``SeedSequence(entropy).generate_state(4, np.uint64)`` into out (4,): entropy is its uint32 words."""
    pool = np.empty(4, dtype=np.uint64)
    hc = np.full(1, 0x43B0D7E5, dtype=np.uint64)
    for i in range(4):
        pool[i] = _hashmix(_U(entropy[i]) if i < entropy.size else _U(0), hc)
    for s in range(4):
        for d in range(4):
            if s != d:
                pool[d] = _mix(pool[d], _hashmix(pool[s], hc))
    for s in range(4, entropy.size):  # words beyond the pool's 4 are mixed into every pool word
        for d in range(4):
            pool[d] = _mix(pool[d], _hashmix(_U(entropy[s]), hc))
    h = _U(0x8B51F9DD)
    for i in range(8):  # 8 uint32 words, paired little-endian into 4 uint64
        v = (pool[i % 4] ^ h) & _M32
        h = h * _U(0x58F38DED) & _M32
        v = v * h & _M32
        v ^= v >> _U(16)
        out[i // 2] = v if i % 2 == 0 else out[i // 2] | (v << _U(32))


@_jit
def seed_words(entropy):
    """PCG64 seed words (m, 4) uint64 of ``SeedSequence(list(row))`` for each row of `entropy` (m, k), its
    32-bit words: numpy's hash written out."""
    out = np.empty((entropy.shape[0], 4), dtype=np.uint64)
    for r in range(entropy.shape[0]):
        _hash_into(entropy[r], out[r])
    return out


def uint32_words(n: int) -> np.ndarray:
    """The 32-bit words numpy's SeedSequence makes of a non-negative int (least significant first; 0 is [0])."""
    words = [0] if n == 0 else []
    while n:
        words.append(n & 0xFFFFFFFF)
        n >>= 32
    return np.array(words, dtype=np.uint32)


@_jit
def seed_pairs(offset_words, ids, vary_layout, vary_objects):
    """Seed words (n, 4) of ``SeedSequence([offset, c, part])`` for the layout (part 0) and the objects (part 1)
    of contexts `ids`, with c = 0 in a part that does not vary; `offset_words` is :func:`uint32_words` (offset)."""
    k = offset_words.size
    entropy = np.empty(k + 2, dtype=np.uint32)
    entropy[:k] = offset_words
    lay, obj = np.empty((ids.size, 4), dtype=np.uint64), np.empty((ids.size, 4), dtype=np.uint64)
    for i in range(ids.size):
        entropy[k], entropy[k + 1] = ids[i] if vary_layout else 0, 0
        _hash_into(entropy, lay[i])
        entropy[k], entropy[k + 1] = ids[i] if vary_objects else 0, 1
        _hash_into(entropy, obj[i])
    return lay, obj


# --- PCG64 (XSL-RR 128/64), as numpy's PCG64 -------------------------------------------------------
_MUL_HI, _MUL_LO = _U(2549297995355413924), _U(4865540595714422341)


@_jit
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    a_lo, a_hi, b_lo, b_hi = a & _M32, a >> _U(32), b & _M32, b >> _U(32)
    mid = a_hi * b_lo + ((a_lo * b_lo) >> _U(32))
    mid2 = a_lo * b_hi + (mid & _M32)
    return a_hi * b_hi + (mid >> _U(32)) + (mid2 >> _U(32))


@_jit
def _step(pcg):
    """state = state * MULT + inc (mod 2**128); pcg[0:2] state (hi, lo), pcg[2:4] increment (hi, lo)."""
    hi, lo = pcg[0], pcg[1]
    new_hi = _mulhi(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    new_lo = lo * _MUL_LO
    s_lo = new_lo + pcg[3]
    pcg[0] = new_hi + pcg[2] + (_U(1) if s_lo < new_lo else _U(0))
    pcg[1] = s_lo


@_jit
def _next64(pcg):
    _step(pcg)
    hi, lo = pcg[0], pcg[1]
    x, rot = hi ^ lo, hi >> _U(58)
    return (x >> rot) | (x << ((_U(64) - rot) & _U(63)))


@_jit
def _next32(pcg):  # numpy hands out the two halves of one 64-bit draw; pcg[4] flags a kept half, pcg[5] holds it
    if pcg[4]:
        pcg[4] = _U(0)
        return pcg[5]
    v = _next64(pcg)
    pcg[4], pcg[5] = _U(1), v >> _U(32)
    return v & _M32


@_jit
def _seed(pcg, words):
    """numpy's ``PCG64(seed_seq)`` into pcg: pcg_srandom(state = words[0:2], seq = words[2:4])."""
    pcg[:] = 0
    pcg[2] = (words[2] << _U(1)) | (words[3] >> _U(63))
    pcg[3] = (words[3] << _U(1)) | _U(1)
    _step(pcg)
    lo = pcg[1] + words[1]
    pcg[0] = pcg[0] + words[0] + (_U(1) if lo < pcg[1] else _U(0))
    pcg[1] = lo
    _step(pcg)


# --- FastRng: scalar integers from blocks of uniforms, and Generator.permutation --------------------
_FULL = 512


@_jit
def _rng():
    """An unseeded stream; levels reseed one (:func:`_reseed`) rather than allocate their own."""
    return np.zeros(6, dtype=np.uint64), np.empty(2 * _FULL, dtype=np.float64), np.zeros(3, dtype=np.int64)


@_jit
def _reseed(r, words):
    """The stream of ``FastRng(default_rng(seed))`` for the seed whose SeedSequence words are `words`."""
    _seed(r[0], words)
    r[2][:] = 0
    return r


@_inline
def _fill(r, n):
    pcg, buf, pos = r
    keep = pos[1] - pos[0]
    for i in range(keep):  # move the unread uniforms to the front (a copy would allocate)
        buf[i] = buf[pos[0] + i]
    for i in range(n):
        buf[keep + i] = (_next64(pcg) >> _U(11)) * (1.0 / 9007199254740992.0)
    pos[0], pos[1] = 0, keep + n
    pos[2] += n


@_inline
def _int(r, low, high):
    """FastRng.integers(low, high): low + floor(u * (high - low)) for the next uniform u."""
    pos = r[2]
    if pos[0] == pos[1]:
        drawn = pos[2]
        _fill(r, min(max(16, drawn), _FULL) if drawn < _FULL else _FULL)
    u = r[1][pos[0]]
    pos[0] += 1
    return low + np.int64(u * (high - low))


@_jit
def _permutation(r, n):
    """FastRng.permutation(n): complete the block of 512, then numpy's shuffle of arange(n)."""
    pcg, _, pos = r
    if pos[2] % _FULL:
        _fill(r, _FULL - pos[2] % _FULL)
    out = np.arange(n)
    for i in range(n - 1, 0, -1):  # numpy's random_interval(i): masked rejection on 32-bit draws
        mask = _U(i)
        for s in (1, 2, 4, 8, 16, 32):
            mask |= mask >> _U(s)
        j = _next32(pcg) & mask
        while j > _U(i):
            j = _next32(pcg) & mask
        out[i], out[j] = out[j], out[i]
    return out


@_jit
def _distinct(r, size, n, out):
    """n distinct indices in [0, size) into out[:n] (a repeat is drawn again), as levels._distinct."""
    k = 0
    while k < n:
        i = _int(r, 0, size)
        for q in range(k):
            if out[q] == i:
                break
        else:
            out[k] = i
            k += 1


@_jit
def _pick_box(r, y0, x0, rows, cols, n, out):
    """n distinct cells of a box into out[:n] as (y, x), as levels._pick_box."""
    idx = np.empty(n, dtype=np.int64)
    _distinct(r, rows * cols, n, idx)
    for q in range(n):
        out[q, 0], out[q, 1] = y0 + idx[q] // cols, x0 + idx[q] % cols


# --- drawing ------------------------------------------------------------------------------------


@_jit
def _room(grid, top, left, h, w, wall):
    """levels._room: walls (with '|' sides unless `wall` is given, i.e. >= 0), then floor inside."""
    grid[top : top + h, left : left + w] = _WALL_H if wall < 0 else wall
    if wall < 0:
        grid[top + 1 : top + h - 1, left] = _WALL_V
        grid[top + 1 : top + h - 1, left + w - 1] = _WALL_V
    grid[top + 1 : top + h - 1, left + 1 : left + w - 1] = _FLOOR


@_jit
def _fix_walls(grid):
    """levels._fix_walls: '-' for a wall with a wall beside it left or right, else '|'."""
    for y in range(H):
        prev = False  # is the cell left of x a wall (before this pass rewrote it: both kinds are walls)
        for x in range(W):
            c = grid[y, x]
            wall = c == _WALL_H or c == _WALL_V
            if wall:
                right = x + 1 < W and (grid[y, x + 1] == _WALL_H or grid[y, x + 1] == _WALL_V)
                grid[y, x] = _WALL_H if prev or right else _WALL_V
            prev = wall


# --- generators: one level into cells[i] (21, 79), start[i] (2,), monsters[i] (M, 2) ----------------


@_jit
def _overlaps_any(t, l, h, w, rooms, n):  # noqa: E741
    for q in range(n):
        t2, l2, h2, w2 = rooms[q, 0], rooms[q, 1], rooms[q, 2], rooms[q, 3]
        if t2 + 1 < t + h and t + 1 < t2 + h2 and l2 + 1 < l + w and l + 1 < l2 + w2:
            return True
    return False


@_jit
def _multiroom(lay, obj, grid, start, mons, n_rooms, max_size, door, lava_walls):
    rooms = np.empty((n_rooms, 4), dtype=np.int64)
    doors = np.empty((n_rooms, 2), dtype=np.int64)
    for _ in range(200):
        h, w = _int(lay, 4, max_size + 1), _int(lay, 4, max_size + 1)
        rooms[0, 0] = _int(lay, 0, H - h + 1)
        rooms[0, 1], rooms[0, 2], rooms[0, 3] = _int(lay, 0, W - w + 1), h, w
        n, entry_side = 1, -1
        while n < n_rooms:
            placed = False
            top, left, rh, rw = rooms[n - 1, 0], rooms[n - 1, 1], rooms[n - 1, 2], rooms[n - 1, 3]
            for _ in range(40):
                side = _int(lay, 0, 4)  # 0 north, 1 east, 2 south, 3 west
                if side == entry_side:
                    continue
                nh, nw = _int(lay, 4, max_size + 1), _int(lay, 4, max_size + 1)
                if side == 0 or side == 2:
                    dx = left + _int(lay, 1, rw - 1)
                    dy = top if side == 0 else top + rh - 1
                    nl = dx - _int(lay, 1, nw - 1)
                    nt = dy - nh + 1 if side == 0 else dy
                else:
                    dy = top + _int(lay, 1, rh - 1)
                    dx = left + rw - 1 if side == 1 else left
                    nt = dy - _int(lay, 1, nh - 1)
                    nl = dx if side == 1 else dx - nw + 1
                if nt < 0 or nl < 0 or nt + nh > H or nl + nw > W or _overlaps_any(nt, nl, nh, nw, rooms, n):
                    continue
                rooms[n, 0], rooms[n, 1], rooms[n, 2], rooms[n, 3] = nt, nl, nh, nw
                doors[n - 1, 0], doors[n - 1, 1] = dy, dx
                n += 1
                entry_side = (side + 2) % 4
                placed = True
                break
            if not placed:
                break
        if n == n_rooms:
            break
    else:
        return False
    for q in range(n_rooms):
        _room(grid, rooms[q, 0], rooms[q, 1], rooms[q, 2], rooms[q, 3], _LAVA if lava_walls else -1)
    if not lava_walls:
        _fix_walls(grid)
    for q in range(n_rooms - 1):
        grid[doors[q, 0], doors[q, 1]] = door
    cell = np.empty((1, 2), dtype=np.int64)
    _pick_box(obj, rooms[0, 0] + 1, rooms[0, 1] + 1, rooms[0, 2] - 2, rooms[0, 3] - 2, 1, cell)
    start[:] = cell[0]
    last = rooms[n_rooms - 1]
    _pick_box(obj, last[0] + 1, last[1] + 1, last[2] - 2, last[3] - 2, 1, cell)
    gy, gx = cell[0, 0], cell[0, 1]
    grid[gy, gx] = _STAIRS
    n_monsters = mons.shape[0]
    if n_monsters:  # levels.multiroom: cells of the interiors of rooms 1.. in row-major order, less the goal
        k = -1  # the goal is one of them
        for q in range(1, n_rooms):
            k += (rooms[q, 2] - 2) * (rooms[q, 3] - 2)
        idx = np.empty(n_monsters, dtype=np.int64)
        _distinct(obj, k, n_monsters, idx)
        for q in range(n_monsters):
            _nth_free(rooms, n_rooms, gy, gx, idx[q], mons[q])
    return True


@_jit
def _nth_free(rooms, n_rooms, gy, gx, i, out):
    """Cell i of the list in :func:`_multiroom`'s monster placement, into out as (y, x), without the list."""
    for q in range(1, n_rooms):
        top, left, h, w = rooms[q, 0], rooms[q, 1], rooms[q, 2], rooms[q, 3]
        size = (h - 2) * (w - 2)
        g = (gy - top - 1) * (w - 2) + gx - left - 1 if top < gy < top + h - 1 and left < gx < left + w - 1 else size
        j = i + (i >= g)  # skip the goal
        if j < size:
            out[0], out[1] = top + 1 + j // (w - 2), left + 1 + j % (w - 2)
            return
        i -= size - (g < size)


@_jit
def _crossing(lay, grid, start, size, n_rivers):
    top, left = (H - size) // 2, (W - size) // 2
    _room(grid, top, left, size, size, -1)
    half = (size - 3) // 2  # candidate rivers per direction: positions 2, 4, ..., size - 3
    order = _permutation(lay, 2 * half)  # candidates 0..half-1 are vertical, then horizontal
    # the chosen rivers' positions in increasing order, framed by the room's walls: the limits of the path
    lim_v, lim_h = np.zeros(half + 2, dtype=np.int64), np.zeros(half + 2, dtype=np.int64)
    n_v = n_h = 0
    for c in np.sort(order[:n_rivers]):
        if c < half:
            n_v += 1
            lim_v[n_v] = 2 + 2 * c
            grid[top + 1 : top + size - 1, left + lim_v[n_v]] = _LAVA
        else:
            n_h += 1
            lim_h[n_h] = 2 + 2 * (c - half)
            grid[top + lim_h[n_h], left + 1 : left + size - 1] = _LAVA
    lim_v[n_v + 1], lim_h[n_h + 1] = size - 1, size - 1
    ri = rj = 0
    for p in _permutation(lay, n_v + n_h):  # the path: "h" steps (through a vertical river) are 0..n_v-1
        if p < n_v:
            x, y = lim_v[ri + 1], _int(lay, lim_h[rj] + 1, lim_h[rj + 1])
            ri += 1
        else:
            x, y = _int(lay, lim_v[ri] + 1, lim_v[ri + 1]), lim_h[rj + 1]
            rj += 1
        grid[top + y, left + x] = _FLOOR
    grid[top + size - 2, left + size - 2] = _STAIRS
    start[0], start[1] = top + 1, left + 1


@_jit
def _river(lay, obj, grid, start, item_cells):
    h, w = _int(lay, 6, 10), _int(lay, 14, 22)
    top, left = _int(lay, 0, H - h + 1), _int(lay, 0, W - w + 1)
    _room(grid, top, left, h, w, -1)
    rx = left + _int(lay, 4, w - 5)
    grid[top + 1 : top + h - 1, rx : rx + 2] = _LAVA
    cells = np.empty((2, 2), dtype=np.int64)
    _pick_box(obj, top + 1, left + 1, h - 2, rx - left - 1, 2, cells)  # start and item, left of the river
    start[:] = cells[0]
    sy, sx = cells[1, 0], cells[1, 1]
    _pick_box(obj, top + 1, rx + 2, h - 2, left + w - rx - 3, 1, cells)
    grid[cells[0, 0], cells[0, 1]] = _STAIRS
    grid[sy, sx] = item_cells[_int(obj, 0, len(item_cells))]


@_jit
def _wod(lay, obj, grid, start, mons):
    h, w = _int(lay, 5, 9), _int(lay, 6, 11)
    top, left = _int(lay, 0, H - h + 1), _int(lay, 0, 20)
    _room(grid, top, left, h, w, -1)
    y = top + _int(lay, 1, h - 1)
    xa = left + w - 1
    length = _int(lay, 4, 8)
    h2, w2 = _int(lay, 5, 8), _int(lay, 5, 9)
    top2 = min(max(y - _int(lay, 1, h2 - 1), 0), H - h2)
    xb = xa + length + 1
    _room(grid, top2, xb, h2, w2, -1)
    y2 = min(max(y, top2 + 1), top2 + h2 - 2)
    grid[y, xa] = _DOORWAY
    grid[y2, xb] = _DOORWAY
    grid[y, xa + 1 : xa + length] = _CORRIDOR
    grid[min(y, y2) : max(y, y2) + 1, xa + length] = _CORRIDOR
    grid[y2, xa + length : xb] = _CORRIDOR
    mons[0, 0], mons[0, 1] = y, xa + 1 + _int(obj, 0, length - 1)  # the minotaur
    cells = np.empty((2, 2), dtype=np.int64)
    _pick_box(obj, top + 1, left + 1, h - 2, w - 2, 2, cells)  # start and wand
    start[:] = cells[0]
    grid[cells[1, 0], cells[1, 1]] = _WAND_DEATH
    _pick_box(obj, top2 + 1, xb + 1, h2 - 2, w2 - 2, 1, cells)
    grid[cells[0, 0], cells[0, 1]] = _STAIRS


# --- batch entry points ---------------------------------------------------------------------------
# Level i is written into the (21, 79) window at row `pad` of grids[rows[i]]: into fresh arrays (pad 0), or
# straight into the maps (padded above and below) of the envs that reset (pad PAD), so a reset copies nothing.


@_jit
def _window(grids, row, pad):
    grid = grids[row, pad : pad + H, :W]
    grid[:] = 0  # stone
    return grid


@_jit
def _multiroom_into(lay, obj, grids, rows, pad, start, mons, n_rooms, max_size, door, lava_walls):
    lr, orr = _rng(), _rng()
    for i in range(rows.size):
        if not _multiroom(_reseed(lr, lay[i]), _reseed(orr, obj[i]), _window(grids, rows[i], pad), start[i], mons[i],
                          n_rooms, max_size, door, lava_walls):
            return False
    start[:, 0] += pad
    mons[..., 0] += pad
    return True


@_jit
def _crossing_into(lay, grids, rows, pad, start, size, n_rivers):
    lr = _rng()
    for i in range(rows.size):
        _crossing(_reseed(lr, lay[i]), _window(grids, rows[i], pad), start[i], size, n_rivers)
    start[:, 0] += pad


@_jit
def _river_into(lay, obj, grids, rows, pad, start, item_cells):
    lr, orr = _rng(), _rng()
    for i in range(rows.size):
        _river(_reseed(lr, lay[i]), _reseed(orr, obj[i]), _window(grids, rows[i], pad), start[i], item_cells)
    start[:, 0] += pad


@_jit
def _wod_into(lay, obj, grids, rows, pad, start, mons):
    lr, orr = _rng(), _rng()
    for i in range(rows.size):
        _wod(_reseed(lr, lay[i]), _reseed(orr, obj[i]), _window(grids, rows[i], pad), start[i], mons[i])
    start[:, 0] += pad
    mons[..., 0] += pad


Placed = tuple[np.ndarray, np.ndarray]  # start (n, 2) and monsters (n, M, 2), as (y, x) in the grids


def multiroom_into(lay: np.ndarray, obj: np.ndarray, grids: np.ndarray, rows: np.ndarray, pad: int, *, n_rooms: int,
                   max_size: int = 10, door: int = Cell.DOOR_CLOSED, lava_walls: bool = False,
                   n_monsters: int = 0) -> Placed | None:
    """:func:`levels.multiroom` for n levels, seeded by the rows of `lay` and `obj` (n, 4); None if a chain
    could not be placed."""
    start, mons = np.empty((rows.size, 2), dtype=np.int64), np.empty((rows.size, n_monsters, 2), dtype=np.int64)
    if not _multiroom_into(lay, obj, grids, rows, pad, start, mons, n_rooms, max_size, door, lava_walls):
        return None
    return start, mons


def crossing_into(lay: np.ndarray, obj: np.ndarray, grids: np.ndarray, rows: np.ndarray, pad: int, *,
                  size: int = 19, n_rivers: int = 13) -> Placed:
    """:func:`levels.crossing` for n levels (its objects generator is unused, as there)."""
    start = np.empty((rows.size, 2), dtype=np.int64)
    _crossing_into(lay, grids, rows, pad, start, size, n_rivers)
    return start, np.empty((rows.size, 0, 2), dtype=np.int64)


def river_into(lay: np.ndarray, obj: np.ndarray, grids: np.ndarray, rows: np.ndarray, pad: int, *,
               items: tuple[int, ...]) -> Placed:
    """:func:`levels.river` for n levels."""
    start = np.empty((rows.size, 2), dtype=np.int64)
    _river_into(lay, obj, grids, rows, pad, start, np.array([ITEM_CELL[int(i)] for i in items], dtype=np.uint8))
    return start, np.empty((rows.size, 0, 2), dtype=np.int64)


def wod_into(lay: np.ndarray, obj: np.ndarray, grids: np.ndarray, rows: np.ndarray, pad: int) -> Placed:
    """:func:`levels.wod` for n levels."""
    start, mons = np.empty((rows.size, 2), dtype=np.int64), np.empty((rows.size, 1, 2), dtype=np.int64)
    _wod_into(lay, obj, grids, rows, pad, start, mons)
    return start, mons


# glyph (int16 as uint16), char and colour of each cell in one word: the default observation draws all three
_PACKED = (CELL_GLYPH.astype(np.uint32) & 0xFFFF) | (CELL_CHAR.astype(np.uint32) << 16) | (CELL_COLOR.astype(np.uint32) << 24)


@_jit
def draw_terrain(cells, rows, pad, glyph, char, color, draw_char, draw_color):
    """Draw the (21, 79) windows at row `pad` of maps `rows` of `cells` into the display layers (CELL_GLYPH,
    CELL_CHAR, CELL_COLOR; the char and color layers only if asked)."""
    for r in rows:
        for y in range(pad, pad + H):  # branch-free inner loops over one row
            src = cells[r, y, :W]
            out = glyph[r, y, :W]
            if draw_char and draw_color:  # one table read per cell for all three layers
                out_c, out_k = char[r, y, :W], color[r, y, :W]
                for x in range(W):
                    p = _PACKED[src[x]]
                    out[x] = np.int16(np.uint16(p & 0xFFFF))
                    out_c[x] = np.uint8((p >> 16) & 0xFF)
                    out_k[x] = np.uint8(p >> 24)
                continue
            for x in range(W):
                out[x] = CELL_GLYPH[src[x]]
            if draw_char:
                out8 = char[r, y, :W]
                for x in range(W):
                    out8[x] = CELL_CHAR[src[x]]
            if draw_color:
                out8 = color[r, y, :W]
                for x in range(W):
                    out8[x] = CELL_COLOR[src[x]]


_TWINS = {levels.multiroom: multiroom_into, levels.crossing: crossing_into, levels.river: river_into,
          levels.wod: wod_into}


def twin(generate: Callable[..., levels.Level]) -> Callable[..., Placed | None] | None:
    """The compiled batch twin (``<gen>_into``) of a task's generator, ``levels.<gen>`` or
    ``partial(levels.<gen>, **kw)``, with the same keywords; None for generators without one (they run in
    Python: their levels are rare or cheap next to their episodes)."""
    func, kw = generate, {}
    if isinstance(generate, functools.partial) and not generate.args:
        func, kw = generate.func, generate.keywords
    return functools.partial(_TWINS[func], **kw) if func in _TWINS else None
