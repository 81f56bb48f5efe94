"""The monsters' turn of a gridhack step, compiled, for the numpy backend.

:meth:`GridhackCore._monsters_act` states the rules with whole-batch array operations, which at B = 1
cost tens of microseconds for three jackals (about 40 numpy calls on (1, 3) arrays). This kernel
applies the same rules with loops over envs and monster slots, in slot order; the v0 digests and
``tests/envs/gridhack/test_gridhack_core.py`` check it gives the same steps as the array rules (the
torch backend runs those).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["monsters_act"]

_MASK32 = 0xFFFFFFFF


@numba.njit(cache=True, nogil=True)
def monsters_act(apos, dead, malive, mpos, my, mx, hp, msg, key, time, salts, cells_f, near, near_off, walkable,
                 dy, dx, dflat, lo, hi, moves, bite_msg):
    """Bites, then moves, of every live monster; updates hp, msg (in place), my, mx, and returns the monsters'
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
            if not moves or not alive or adj:
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
