"""The torch step kernel of the gridhack core, for the torch backend: whole-batch tensor operations on any device.

It states no rule of its own: it reads :func:`rewardlab.envs.gridhack.rules.step_tables` (copied to the
device once) and runs the hash and rolls of :mod:`~rewardlab.envs.gridhack.rules` on tensors, as the
numba kernel (:mod:`~rewardlab.envs.gridhack.jitcore`) runs them on one env. Every rule is applied to
every env with masks rather than behind a host check of "did this happen anywhere", so a step reads
nothing back from the device; the one exception is a descent to the next dungeon level on the
Staircase tasks (a host check of whether some env went down, then a copy of those levels). Python
loops run only over monster slots (at most 3), whose moves are resolved in slot order.

``tests/envs/gridhack/test_gridhack_backends.py`` and ``test_gridhack_core.py`` hold this kernel to the
numba kernel's steps, state and display.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rewardlab.envs.gridhack import rules
from rewardlab.envs.gridhack.rules import CMD_SIZE, FLAG_LUCK, INV_WEIGHT, LUCK_SALT, MELEE_SALT, RAY_RANGE, StepTables
from rewardlab.envs.gridhack.tiles import Cell, Msg

__all__ = ["TorchStep"]


class TorchStep:
    """The step of a :class:`~rewardlab.envs.gridhack.core.GridhackCore` on the torch backend.

    Args:
        tables: the task's :class:`~rewardlab.envs.gridhack.rules.StepTables`.
        device: where the core's tensors live.
        n_monsters: monster slots per env.
        penalty: reward added on every step.
        lava: whether the task's levels have lava (else nobody can die on it, and the check is left out).
    """

    def __init__(self, tables: StepTables, device: Any, n_monsters: int, penalty: float, lava: bool = True):
        def dev(x: Any, dtype: torch.dtype = torch.int64) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)

        k, j, c, s, p = tables.k, tables.j, tables.c, tables.s, tables.params
        self.k_slow, self.k_move, self.k_down = (dev(k[n], torch.bool) for n in ("slow", "move", "down"))
        self.k_dflat, self.k_j = dev(k["dflat"]), dev(k["j"])
        self.j_go, self.j_opens = dev(j["go"], torch.bool), dev(j["opens"], torch.bool)
        self.j_msg, self.j_adflat, self.j_mode, self.j_dx, self.j_dy = (
            dev(j[n]) for n in ("msg", "adflat", "mode", "dx", "dy"))
        self.c_move_cell = dev(c["move_cell"], torch.uint8)
        self.c_see_msg, self.c_lava = dev(c["see_msg"]), dev(c["lava"])
        self.c_goal, self.c_blocks = dev(c["goal"], torch.bool), dev(c["blocks_ray"], torch.bool)
        self.c_mon_walkable = dev(c["mon_walkable"], torch.bool)
        self.s_flags, self.s_pend, self.s_msg = dev(s["flags"]), dev(s["pend"]), dev(s["msg"])
        self.s_cell, self.s_changed = dev(s["cell"], torch.uint8), dev(s["changed"], torch.bool)
        self.s_cold, self.s_death = dev(s["cold"], torch.bool), dev(s["death"], torch.bool)
        self.s_dinv = dev(np.stack([s["d_key"], s["d_item"], s["d_lev"]]))  # rows has_key, item, lev
        self.inv_weight = dev(np.array(INV_WEIGHT)[:, None])
        self.dy, self.dx, self.dflat = dev(tables.dirs[0]), dev(tables.dirs[1]), dev(tables.dirs[2])
        self.salts = dev(tables.salts)[None, :]
        self.ray_k = dev(np.arange(1, RAY_RANGE + 1))[None, :]
        self.p = p
        self.blocked, self.wp, self.kind = p["blocked"], p["wp"], p["kind"]
        self.specials = bool(k["slow"].any())  # the action set has commands (else the command tables never apply)
        self.n_monsters, self.penalty, self.lava = n_monsters, float(penalty), bool(lava)
        self.melee_kills, self.mon_moves = bool(p["melee_kills"]), bool(p["mon_moves"])

    def __call__(self, core: Any, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step every env of `core` by one action each (an int64 tensor (B,) on the core's device); returns
        (reward, terminated, truncated) and sets ``core.success``, as ``jitcore.step`` does."""
        M, wp = self.n_monsters, self.wp
        key, time, cells_f = core.key, core.time, core._cells_f
        base = core._row_base
        k = core.pending + actions if self.specials else actions
        opos = base + core.ay * wp + core.ax
        tpos = opos + self.k_dflat[k]
        tc = cells_f[tpos].long()
        j = self.k_j[k] + tc
        redraw = [opos, tpos]  # cells whose terrain may have changed or lost an actor
        if M:  # a move onto a live monster attacks it instead
            on_target = (base[:, None] + core.my * wp + core.mx) == tpos[:, None]
            melee = (core.malive & on_target).any(dim=1) & self.k_move[k]
            j = j + self.blocked * melee
        go, msg = self.j_go[j], self.j_msg[j]
        if M:
            kill = melee & rules.melee_kills(rules.hash32(key, time, MELEE_SALT)) & self.melee_kills
            core.malive &= ~(on_target & kill[:, None])
            msg = torch.where(melee, torch.where(kill, Msg.KILL + self.kind, Msg.MISS + self.kind), msg)
        cells_f[tpos] = torch.where(self.j_opens[j], self.c_move_cell[tc], cells_f[tpos])
        apos = opos + self.j_adflat[j]
        if self.specials:
            msg = self._command(core, j, tpos, apos, msg, redraw)
        uc = cells_f[apos].long()
        msg = torch.where(go, self.c_see_msg[uc], msg)
        if self.lava:
            dead = self.c_lava[uc] > core.lev  # on lava and not levitating
            msg = torch.where(dead, Msg.LAVA_DEATH, msg)
        else:
            dead = torch.zeros_like(go)
        if M:
            msg, dead = self._monsters(core, j, apos, dead, msg, redraw)
        descended = None
        if self.p["multilevel"]:
            down = self.k_down[k]
            on = down & self.c_goal[uc]
            core.depth += on
            success = on & (core.depth >= self.p["depth"])
            msg = torch.where(down, torch.where(on, Msg.DESCEND, Msg.CANT_DOWN), msg)
            nxt = on & ~success
            if bool(nxt.any()):  # the one host check: load the next level of the envs that went down
                descended = torch.nonzero(nxt).flatten()
                lvl = core.depth[descended] - 1
                core.cells[descended] = core.stack[descended, lvl]
                start = core.stack_start[descended, lvl]
                core.ay[descended], core.ax[descended] = start[:, 0], start[:, 1]
        else:
            success = self.c_goal[uc] & ~dead
        core.msg.copy_(msg)
        core.ax += self.j_dx[j]
        core.ay += self.j_dy[j]
        time += 1
        terminated = success | dead
        if self.p["max_steps"] >= 0:
            truncated = (time >= self.p["max_steps"]) & ~terminated
        else:
            truncated = torch.zeros_like(terminated)
        reward = success.double() + self.penalty
        core.success = success
        self._draw(core, torch.cat(redraw), descended)
        return reward, terminated, truncated

    def _command(self, core: Any, j: torch.Tensor, tpos: torch.Tensor, apos: torch.Tensor, msg: torch.Tensor,
                 redraw: list[torch.Tensor]) -> torch.Tensor:
        """Pickup, quaff, wear, apply/zap/kick (which ask for a direction) and their answers: one lookup at
        the state index s in the command tables. A move's state index (mode MOVE) leaves everything as it
        is, so the lookup runs for every env. Returns the message; ray cells are added to `redraw`."""
        inv = core.stats[4:7]  # rows has_key, item, lev
        s = self.j_mode[j] + (inv * self.inv_weight).sum(dim=0)
        lucky = ((self.s_flags[s] & FLAG_LUCK) != 0) & rules.kick_lucky(rules.hash32(core.key, core.time, LUCK_SALT))
        s = s + CMD_SIZE * lucky
        inv += self.s_dinv[:, s]
        core.pending.copy_(self.s_pend[s])
        cells_f = core._cells_f
        cells_f[tpos] = torch.where(self.s_changed[s], self.s_cell[s], cells_f[tpos])
        msg = msg + self.s_msg[s]
        cold, death = self.s_cold[s], self.s_death[s]
        # a bolt of cold freezes lava into ice, a death ray kills monsters; both stop at the first cell that
        # blocks. Every env traces RAY_RANGE cells (those that do not fire are masked out): a ray's cells are
        # distinct, so tracing them at once equals tracing them one after the other
        ray = apos[:, None] + (tpos - apos)[:, None] * self.ray_k  # (B, K)
        c = cells_f[ray].long()
        live = (torch.cumsum(self.c_blocks[c].long(), dim=1) == 0) & (cold | death)[:, None]
        freeze = live & cold[:, None] & (c == Cell.LAVA)
        cells_f[ray] = torch.where(freeze, Cell.ICE, c).to(torch.uint8)
        froze = freeze.any(dim=1)
        msg = torch.where(cold, torch.where(froze, Msg.FREEZE, Msg.COLD_BOUNCE), msg)
        if self.n_monsters:
            mpos = core._row_base[:, None] + core.my * self.wp + core.mx
            hit = core.malive & ((live & death[:, None])[:, :, None] & (ray[:, :, None] == mpos[:, None, :])).any(dim=1)
            core.malive &= ~hit
            msg = torch.where(death, torch.where(hit.any(dim=1), Msg.KILL + self.kind, Msg.DEATH_BOUNCE), msg)
        else:
            msg = torch.where(death, Msg.DEATH_BOUNCE, msg)
        redraw.append(ray.flatten())
        return msg

    def _monsters(self, core: Any, j: torch.Tensor, apos: torch.Tensor, dead: torch.Tensor, msg: torch.Tensor,
                  redraw: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Each live monster bites an adjacent agent (not one already dead this step), or (if its kind
        wanders) tries a random step, refused onto cells it may not walk, onto the agent, or onto a cell
        where a live monster stands when its turn comes (slots act in order). Returns (msg, dead)."""
        wp, lo, hi = self.wp, self.p["lo"], self.p["hi"]
        my, mx = core.my, core.mx
        ay, ax = core.ay + self.j_dy[j], core.ax + self.j_dx[j]  # the agent's cell after its move
        alive = core.malive & ~dead[:, None]
        adj = alive & ((my - ay[:, None]).abs() <= 1) & ((mx - ax[:, None]).abs() <= 1)
        r = rules.hash32(core.key[:, None], core.time[:, None], self.salts)  # (B, M)
        bite = adj & rules.bites(r)
        damage = torch.where(bite, rules.bite_damage(r, lo, hi), 0).sum(dim=1)
        if self.mon_moves:
            d = rules.wander_dir(r)
            mpos = core._row_base[:, None] + my * wp + mx
            npos = mpos + self.dflat[d]
            ok = alive & ~adj & self.c_mon_walkable[core._cells_f[npos].long()] & (npos != apos[:, None])
            cur, moved = mpos.clone(), []
            for m in range(self.n_monsters):
                ok_m = ok[:, m] & ~(core.malive & (cur == npos[:, m, None])).any(dim=1)
                cur[:, m] = torch.where(ok_m, npos[:, m], mpos[:, m])
                moved.append(ok_m)
            ok = torch.stack(moved, dim=1)
            my += torch.where(ok, self.dy[d], 0)
            mx += torch.where(ok, self.dx[d], 0)
            redraw.append(mpos.flatten())  # the cells they left
        bitten = bite.any(dim=1)
        core.hp.copy_(torch.clamp(core.hp - damage, min=0))
        msg = torch.where(bitten, Msg.BITE + self.kind, msg)
        slain = (core.hp <= 0) & ~dead
        return torch.where(slain, Msg.DIE, msg), dead | slain

    def _draw(self, core: Any, pos: torch.Tensor, descended: torch.Tensor | None) -> None:
        """The display after a step: terrain at the cells in `pos` (whole maps of the envs that `descended`),
        then the live monsters, then the agent on top."""
        if descended is not None:
            core._redraw_rows(descended)
        c = core._cells_f[pos].long()
        apos = core._row_base + core.ay * self.wp + core.ax
        if self.n_monsters:
            # dead slots write at the agent's cell, which the agent overwrites next: no mask, no host sync
            mpos = core._row_base[:, None] + core.my * self.wp + core.mx
            mpos = torch.where(core.malive, mpos, apos[:, None]).flatten()
        for layer, table, agent, monster in core._layers_f:
            layer[pos] = table[c]
            if self.n_monsters:
                layer[mpos] = monster
            layer[apos] = agent
