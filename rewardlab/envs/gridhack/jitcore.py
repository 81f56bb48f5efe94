"""The numba step kernel of the gridhack core, for the numpy backend: a compiled loop over envs.

It states no rule of its own: the tables come from :func:`rewardlab.envs.gridhack.rules.step_tables`
(packed in the row orders of :mod:`~rewardlab.envs.gridhack.rules`), and the hash and the rolls are the
functions of that module, compiled here. The torch kernel (:mod:`~rewardlab.envs.gridhack.torchcore`)
reads the same; ``tests/envs/gridhack/test_gridhack_backends.py`` and ``test_gridhack_core.py`` hold the
two to identical steps, and the v0 digests pin them.
"""

from __future__ import annotations

import numba

from rewardlab.envs.gridhack import rules, tiles
from rewardlab.envs.gridhack.rules import (C_ROWS, FLAG_LUCK, J_ROWS, K_ROWS, LUCK_SALT, MELEE_SALT, P_NAMES, RAY_RANGE,
                                           S_ROWS)
from rewardlab.envs.gridhack.tiles import BL_DEPTH, BL_HAS_KEY, BL_HP, BL_ITEM, BL_LEVITATING, BL_TIME, BL_X, BL_Y
from rewardlab.envs.gridhack.tiles import Cell, Msg

__all__ = ["step", "start_episodes", "crops", "DEPENDS_ON"]

#: the source files whose code this module's cached kernels compile in (numba's cache tracks only this file)
DEPENDS_ON = (rules.__file__, tiles.__file__)

(_K_SLOW, _K_MOVE, _K_DFLAT, _K_J, _K_DOWN) = range(len(K_ROWS))
(_J_GO, _J_MSG, _J_OPENS, _J_ADFLAT, _J_MODE, _J_DX, _J_DY) = range(len(J_ROWS))
_C_MOVE_CELL, _C_SEE_MSG, _C_LAVA, _C_GOAL, _C_BLOCKS, _C_MON_WALK, _C_GLYPH, _C_CHAR, _C_COLOR = range(len(C_ROWS))
(_S_FLAGS, _S_PEND, _S_MSG, _S_CELL, _S_CHANGED, _S_COLD, _S_DEATH, _S_KEY, _S_ITEM, _S_LEV) = range(len(S_ROWS))
(_P_BLOCKED, _P_CMD_SIZE, _P_W_KEY, _P_W_ITEM, _P_W_LEV, _P_WP, _P_MAP, _P_DRAW_CHAR, _P_DRAW_COLOR, _P_MELEE_KILLS,
 _P_MON_MOVES, _P_KIND, _P_LO, _P_HI, _P_MULTILEVEL, _P_DEPTH, _P_MAX_STEPS, _P_N_ACTIONS) = range(len(P_NAMES))
_LAVA, _ICE = int(Cell.LAVA), int(Cell.ICE)
_KILL, _MISS, _BITE = int(Msg.KILL), int(Msg.MISS), int(Msg.BITE)
_FREEZE, _COLD_BOUNCE, _DEATH_BOUNCE = int(Msg.FREEZE), int(Msg.COLD_BOUNCE), int(Msg.DEATH_BOUNCE)
_LAVA_DEATH, _DIE, _DESCEND, _CANT_DOWN = int(Msg.LAVA_DEATH), int(Msg.DIE), int(Msg.DESCEND), int(Msg.CANT_DOWN)

# the rules' integer functions, compiled for one env
_hash = numba.njit(inline="always")(rules.hash32)
_melee_kills = numba.njit(inline="always")(rules.melee_kills)
_kick_lucky = numba.njit(inline="always")(rules.kick_lucky)
_bites = numba.njit(inline="always")(rules.bites)
_bite_damage = numba.njit(inline="always")(rules.bite_damage)
_wander_dir = numba.njit(inline="always")(rules.wander_dir)


@numba.njit(inline="always")
def _draw(p, cells_f, ctab, glyph_f, char_f, color_f, draw_char, draw_color):
    """Terrain at flat position p on the drawn layers."""
    c = cells_f[p]
    glyph_f[p] = ctab[_C_GLYPH, c]
    if draw_char:
        char_f[p] = ctab[_C_CHAR, c]
    if draw_color:
        color_f[p] = ctab[_C_COLOR, c]


@numba.njit(inline="always")
def _put(p, value, glyph_f, char_f, color_f, draw_char, draw_color):
    """An actor ((glyph, char, color) in `value`) at flat position p."""
    glyph_f[p] = value[0]
    if draw_char:
        char_f[p] = value[1]
    if draw_color:
        color_f[p] = value[2]


@numba.njit(cache=True, nogil=True)
def step(actions, reward, done, params, penalty, ktab, jtab, ctab, stab, dirs, salts, actors, stats, pending, msg, key,
         my, mx, malive, cells, glyph, char, color, stack, stack_start):
    """GridhackCore.step for every env: updates the state arrays (the core's of the same names) in place and
    writes `reward` (B,) and `done` (3, B): terminated, truncated, success. (The caller makes the outputs:
    returning arrays made here costs more than the step itself at B = 1.) The tables are the task's
    ``rules.StepTables``: `params` .. `stab` as ``StepTables.packed()`` gives them, then its `dirs` (rows dy,
    dx, flat step of the 8 compass directions), `salts` and `actors` ((glyph, char, color) of the agent,
    row 0, and of the task's monster, row 1)."""
    B, M = my.shape
    wp, size = params[_P_WP], params[_P_MAP]
    draw_char, draw_color = params[_P_DRAW_CHAR] != 0, params[_P_DRAW_COLOR] != 0
    kind, max_steps = params[_P_KIND], params[_P_MAX_STEPS]
    cells_f, glyph_f, char_f, color_f = cells.reshape(-1), glyph.reshape(-1), char.reshape(-1), color.reshape(-1)
    # no bounds checks in compiled code: a bad action would read outside the tables
    if actions.shape[0] != B:
        raise ValueError("gridhack step: one action per env is needed")
    for b in range(B):
        if not 0 <= actions[b] < params[_P_N_ACTIONS]:
            raise ValueError("gridhack step: an action is outside the action set")
    for b in range(B):
        base, time = b * size, stats[BL_TIME, b]
        k = pending[b] + actions[b]
        opos = base + stats[BL_Y, b] * wp + stats[BL_X, b]
        tpos = opos + ktab[_K_DFLAT, k]
        tc = cells_f[tpos]
        j = ktab[_K_J, k] + tc
        # a move onto a live monster attacks it instead
        melee = False
        if ktab[_K_MOVE, k]:
            for m in range(M):
                melee |= malive[b, m] and base + my[b, m] * wp + mx[b, m] == tpos
        if melee:
            j += params[_P_BLOCKED]
        go, m_ = jtab[_J_GO, j], jtab[_J_MSG, j]
        if melee:
            kill = params[_P_MELEE_KILLS] != 0 and _melee_kills(_hash(key[b], time, MELEE_SALT))
            if kill:
                for m in range(M):
                    if base + my[b, m] * wp + mx[b, m] == tpos:
                        malive[b, m] = False
            m_ = (_KILL if kill else _MISS) + kind
        if jtab[_J_OPENS, j]:
            cells_f[tpos] = ctab[_C_MOVE_CELL, tc]
        apos = opos + jtab[_J_ADFLAT, j]
        # whether the display may change: the agent moved, a cell changed, or a monster moved or died
        dirty = melee or apos != opos or jtab[_J_OPENS, j] != 0

        if ktab[_K_SLOW, k]:  # a command: one lookup at the state index (rules.CMD_TABLES)
            s = (jtab[_J_MODE, j] + params[_P_W_KEY] * stats[BL_HAS_KEY, b] + params[_P_W_ITEM] * stats[BL_ITEM, b]
                 + params[_P_W_LEV] * stats[BL_LEVITATING, b])
            if stab[_S_FLAGS, s] & FLAG_LUCK and _kick_lucky(_hash(key[b], time, LUCK_SALT)):
                s += params[_P_CMD_SIZE]
            stats[BL_HAS_KEY, b] += stab[_S_KEY, s]
            stats[BL_ITEM, b] += stab[_S_ITEM, s]
            stats[BL_LEVITATING, b] += stab[_S_LEV, s]
            pending[b] = stab[_S_PEND, s]
            if stab[_S_CHANGED, s]:
                cells_f[tpos] = stab[_S_CELL, s]
                dirty = True
            m_ += stab[_S_MSG, s]
            cold, death = stab[_S_COLD, s] != 0, stab[_S_DEATH, s] != 0
            if cold or death:  # a ray: up to the first cell that blocks
                dirty = True
                froze = killed = False
                for r in range(1, RAY_RANGE + 1):
                    p = apos + (tpos - apos) * r
                    c = cells_f[p]
                    if ctab[_C_BLOCKS, c]:
                        break
                    if cold and c == _LAVA:
                        cells_f[p] = _ICE
                        froze = True
                    if death:
                        for m in range(M):
                            if malive[b, m] and base + my[b, m] * wp + mx[b, m] == p:
                                malive[b, m] = False
                                killed = True
                    _draw(p, cells_f, ctab, glyph_f, char_f, color_f, draw_char, draw_color)
                if cold:
                    m_ = _FREEZE if froze else _COLD_BOUNCE
                if death:
                    m_ = _KILL + kind if killed else _DEATH_BOUNCE
        uc = cells_f[apos]
        if go:
            m_ = ctab[_C_SEE_MSG, uc]
        dead = ctab[_C_LAVA, uc] > stats[BL_LEVITATING, b]  # on lava and not levitating
        if dead:
            m_ = _LAVA_DEATH

        if M:  # the monsters' turn, in slot order
            bitten, damage = False, 0
            ay, ax = stats[BL_Y, b] + jtab[_J_DY, j], stats[BL_X, b] + jtab[_J_DX, j]
            for m in range(M):
                alive = malive[b, m] and not dead
                adj = alive and abs(my[b, m] - ay) <= 1 and abs(mx[b, m] - ax) <= 1
                r = _hash(key[b], time, salts[m])
                if adj and _bites(r):
                    bitten = True
                    damage += _bite_damage(r, params[_P_LO], params[_P_HI])
                if not alive or adj or params[_P_MON_MOVES] == 0:
                    continue
                d = _wander_dir(r)
                mpos = base + my[b, m] * wp + mx[b, m]
                npos = mpos + dirs[2, d]
                if not ctab[_C_MON_WALK, cells_f[npos]] or npos == apos:
                    continue
                taken = False  # by a live monster (the earlier slots have moved already)
                for o in range(M):
                    taken |= malive[b, o] and base + my[b, o] * wp + mx[b, o] == npos
                if not taken:
                    my[b, m] += dirs[0, d]
                    mx[b, m] += dirs[1, d]
                    dirty = True
                    _draw(mpos, cells_f, ctab, glyph_f, char_f, color_f, draw_char, draw_color)
            if bitten:
                stats[BL_HP, b] = max(stats[BL_HP, b] - damage, 0)
                m_ = _BITE + kind
            if stats[BL_HP, b] <= 0 and not dead:
                m_, dead = _DIE, True

        descended = False
        if params[_P_MULTILEVEL]:  # the `>` command on stairs: the next level, or success on the last
            succ = False
            if ktab[_K_DOWN, k]:
                on = ctab[_C_GOAL, uc] != 0
                if on:
                    stats[BL_DEPTH, b] += 1
                succ = on and stats[BL_DEPTH, b] >= params[_P_DEPTH]
                m_ = _DESCEND if on else _CANT_DOWN
                if on and not succ:
                    lvl = stats[BL_DEPTH, b] - 1
                    cells[b] = stack[b, lvl]
                    stats[BL_Y, b], stats[BL_X, b] = stack_start[b, lvl, 0], stack_start[b, lvl, 1]
                    descended = dirty = True
        else:
            succ = ctab[_C_GOAL, uc] != 0 and not dead
        msg[b] = m_
        stats[BL_X, b] += jtab[_J_DX, j]
        stats[BL_Y, b] += jtab[_J_DY, j]
        stats[BL_TIME, b] += 1
        done[0, b] = succ or dead
        done[1, b] = max_steps >= 0 and stats[BL_TIME, b] >= max_steps and not done[0, b]
        done[2, b] = succ
        reward[b] = (1.0 if succ else 0.0) + penalty

        # the display: terrain where it may have changed, then live monsters, then the agent on top
        if not dirty:
            continue
        if descended:
            for p in range(base, base + size):
                _draw(p, cells_f, ctab, glyph_f, char_f, color_f, draw_char, draw_color)
        else:
            _draw(opos, cells_f, ctab, glyph_f, char_f, color_f, draw_char, draw_color)
            _draw(tpos, cells_f, ctab, glyph_f, char_f, color_f, draw_char, draw_color)
        for m in range(M):
            if malive[b, m]:
                _put(base + my[b, m] * wp + mx[b, m], actors[1], glyph_f, char_f, color_f, draw_char, draw_color)
        _put(base + stats[BL_Y, b] * wp + stats[BL_X, b], actors[0], glyph_f, char_f, color_f, draw_char, draw_color)


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


@numba.njit(cache=True, nogil=True)
def crops(glyph, stats, stone, out):
    """Fill `out` (B, C, C) with the windows of `glyph` (B, H+2P, W) centred on each env's agent (blstats rows
    x, y of `stats`, y padded) and return it: the egocentric ``glyphs_crop``, `stone` beyond the map's sides."""
    B, C = out.shape[0], out.shape[1]
    W = glyph.shape[2]
    for b in range(B):
        y0, x0 = stats[BL_Y, b] - C // 2, stats[BL_X, b] - C // 2
        for i in range(C):
            for j in range(C):
                x = x0 + j
                out[b, i, j] = glyph[b, y0 + i, x] if 0 <= x < W else stone
    return out
