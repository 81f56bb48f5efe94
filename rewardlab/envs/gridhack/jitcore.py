"""Compiled parts of the gridhack core for the numpy backend: the monsters' turn and the start of episodes.

:class:`GridhackCore` states its rules with whole-batch array operations (the torch backend runs them).
Where those are many small calls, e.g. the jackals' turn (about 40 numpy calls on (1, 3) arrays at
B = 1) or the dozen writes that start an episode, these kernels apply the same rules with loops over
envs; the v0 digests and the numpy-vs-torch tests of ``tests/envs/gridhack/test_gridhack_core.py``
check they give the same steps.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["monsters_act", "start_episodes"]

_MASK32 = 0xFFFFFFFF


@numba.njit(cache=True, nogil=True)
def monsters_act(apos, dead, malive, mpos, my, mx, hp, msg, key, time, salts, cells_f, near, near_off, walkable,
                 dy, dx, dflat, lo, hi, bite_msg):
    """Bites, then moves, of every live walking monster (the core binds this only for those); updates hp, msg (in place), my, mx, and returns the monsters'
    flat positions after their moves (B, M). Arguments are the core's arrays of the same names."""
    B, M = mpos.shape
    cur = mpos.copy()
    for b in range(B):
        bitten = False
        damage = 0
        for m in range(M):
            alive = malive[b, m] and not dead[b]
            adj = alive and near[mpos[b, m] - apos[b] + near_off]
            x = (key[b] * 0x2C1B3C6D + time[b] * 0x297A2D39 + salts[m]) & _MASK32  # GridhackCore._rand
            x ^= x >> 15
            x = (x * 0x2C1B3C6D) & _MASK32
            x ^= x >> 12
            x = (x * 0x297A2D39) & _MASK32
            r = x ^ (x >> 15)
            if adj and (r & 1) == 0:
                bitten = True
                damage += lo if lo == hi else lo + (r >> 1) % (hi - lo + 1)
            if not alive or adj:
                continue
            d = (r >> 8) & 7
            npos = mpos[b, m] + dflat[d]
            if not walkable[cells_f[npos]] or npos == apos[b]:
                continue
            taken = False  # a live monster (in slot order: the earlier ones already moved) stands there
            for k in range(M):
                if malive[b, k] and cur[b, k] == npos:
                    taken = True
            if not taken:
                cur[b, m] = npos
                my[b, m] += dy[d]
                mx[b, m] += dx[d]
        if bitten:
            hp[b] = max(hp[b] - damage, 0)
            msg[b] = bite_msg
    return cur


@numba.njit(cache=True, nogil=True)
def start_episodes(rows, start, mons, keys, stack_start, stats, bl_reset, pending, msg, success, key, my, mx, malive,
                   glyph, char, color, draw_char, draw_color, agent, monster):
    """GridhackCore._load's writes for the envs `rows` whose levels are in place: positions and blstats from
    `start` (n, L, 2) and `mons` (n, M, 2) (padded (y, x)), the episode `keys`, cleared prompt, message and
    success, live monsters, and the monsters then the agent drawn ((glyph, char, color) in `agent`, `monster`)."""
    for i in range(rows.size):
        b = rows[i]
        stack_start[b] = start[i]
        stats[0, b], stats[1, b] = start[i, 0, 1], start[i, 0, 0]  # blstats x, y
        stats[2:, b] = bl_reset
        pending[b], msg[b], success[b], key[b] = 0, 0, False, keys[i]
        for m in range(mons.shape[1]):
            my[b, m], mx[b, m] = mons[i, m, 0], mons[i, m, 1]
            malive[b, m] = True
        for who in range(mons.shape[1] + 1):  # monsters, then the agent on top
            y, x, v = (mons[i, who, 0], mons[i, who, 1], monster) if who < mons.shape[1] else \
                (start[i, 0, 0], start[i, 0, 1], agent)
            glyph[b, y, x] = v[0]
            if draw_char:
                char[b, y, x] = v[1]
            if draw_color:
                color[b, y, x] = v[2]
