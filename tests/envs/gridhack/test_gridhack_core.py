"""The batched core: numpy and torch agree exactly, and hand-built levels check each rule and message.

The numpy backend steps with the numba kernel (jitcore), the torch backend with the torch kernel
(torchcore); both read rewardlab.envs.gridhack.rules. test_gridhack_backends.py sweeps the two
through the Gymnasium fronts.
"""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.envs.gridhack.core import GridhackCore
from rewardlab.envs.gridhack.tasks import TASKS
from rewardlab.envs.gridhack.tiles import (AGENT_GLYPH, BL_HAS_KEY, BL_HP, BL_ITEM, BL_LEVITATING, BL_X, BL_Y,
                                           CELL_GLYPH, PAD, Cell, Cmd, Item, Msg, decode_message)
from rewardlab.envs.gridhack.tiles import W as W_MAP

N, E, S, W = Cmd.N, Cmd.E, Cmd.S, Cmd.W


@pytest.mark.parametrize("task", list(TASKS))
def test_numpy_and_torch_give_identical_trajectories(task):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    B = 8
    cores = [GridhackCore(TASKS[task], B, max_episode_steps=40),
             GridhackCore(TASKS[task], B, backend="torch", max_episode_steps=40)]
    for c in cores:
        c.reset_rows(np.ones(B, dtype=bool), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for t in range(60):
        a = rng.integers(0, len(cores[0].actions), B)
        out_np, out_t = cores[0].step(a), cores[1].step(torch.as_tensor(a))
        for x, y in zip(out_np, out_t):
            assert np.array_equal(x, y.numpy())
        on, ot = cores[0].observe(), cores[1].observe()
        for k in on:
            assert np.array_equal(on[k], ot[k].numpy()), (k, t)
        done = out_np[1] | out_np[2]
        for c in cores:
            c.reset_rows(done, np.random.default_rng(t))


# --- hand-built levels ---------------------------------------------------------------------------
LEGEND = {" ": Cell.STONE, ".": Cell.FLOOR, "-": Cell.WALL_H, "|": Cell.WALL_V, "+": Cell.DOOR_CLOSED,
          "L": Cell.DOOR_LOCKED, "}": Cell.LAVA, ">": Cell.STAIRS_DOWN, "k": Cell.KEY, "!": Cell.POTION,
          "/": Cell.WAND_COLD, "[": Cell.BOOTS, "@": Cell.FLOOR}


def core_on(task: str, rows: list[str]) -> GridhackCore:
    """A B=1 core of `task` whose level is replaced by the ASCII map `rows` ('@' marks the agent)."""
    core = GridhackCore(TASKS[task], 1, action_set="full")
    core.reset_rows(np.ones(1, dtype=bool), np.random.default_rng(0))
    grid = np.zeros(core.cells.shape[1:], dtype=np.uint8)
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            grid[PAD + y, x] = LEGEND[ch]
            if ch == "@":
                core.ay[0], core.ax[0] = PAD + y, x
    core.cells[0] = grid
    core._redraw_rows(core._b)
    return core


def play(core: GridhackCore, *cmds: int):
    for c in cmds:
        reward, term, trunc = core.step(np.array([c]))
    obs = core.observe()
    return obs, float(reward[0]), bool(term[0]), decode_message(obs["message"][0])


ROOM = ["-------",
        "|.@.+.|",
        "-------"]


def test_door_opens_on_bump_then_lets_the_agent_through():
    core = core_on("Corridors-R5", ROOM)
    obs, r, term, msg = play(core, E)
    assert msg == "" and obs["blstats"][0, BL_X] == 3
    obs, r, term, msg = play(core, E)  # bumping the closed door opens it; the agent stays put
    assert msg == "The door opens." and obs["blstats"][0, BL_X] == 3
    obs, r, term, msg = play(core, E, E)
    assert obs["blstats"][0, BL_X] == 5 and obs["glyphs"][0, 1, 4] == CELL_GLYPH[Cell.DOOR_OPEN]


def test_locked_door_then_key():
    core = core_on("KeyRoom-S10", ["-------",
                                   "|k@L>.|",
                                   "-------"])
    assert play(core, E)[3] == "The door is locked."
    assert play(core, W)[3] == "You see here a key."
    obs, _, _, msg = play(core, Cmd.PICKUP)
    assert msg == "f - a key." and obs["blstats"][0, BL_HAS_KEY] == 1
    assert play(core, E, Cmd.APPLY)[3] == "In what direction?"
    assert play(core, E)[3] == "You unlock the door."
    obs, r, term, msg = play(core, E, E)
    assert (r, term, msg) == (1.0, True, "There is a staircase down here.")
    assert core.success[0]


def test_lava_kills_unless_levitating():
    core = core_on("Levitate-Potion", ["------",
                                       "|!@}>|",
                                       "------"])
    obs, r, term, msg = play(core, E)
    assert (r, term, msg) == (0.0, True, "You fall into the lava! You die...")
    core = core_on("Levitate-Potion", ["------",
                                       "|!@}>|",
                                       "------"])
    obs, _, _, msg = play(core, Cmd.QUAFF)
    assert msg == "You don't have anything to drink."
    obs, _, _, msg = play(core, W, Cmd.PICKUP)
    assert msg == "g - a potion of levitation." and obs["blstats"][0, BL_ITEM] == Item.POTION
    obs, _, _, msg = play(core, Cmd.QUAFF)
    assert msg == "You float up!" and obs["blstats"][0, BL_LEVITATING] == 1
    obs, r, term, _ = play(core, E, E)
    assert not term and obs["blstats"][0, BL_X] == 3  # floating over the lava
    assert play(core, E)[1:3] == (1.0, True)


def test_wand_of_cold_freezes_the_river():
    core = core_on("Freeze-Wand", ["--------",
                                   "|/@}}.>|",
                                   "--------"])
    play(core, W, Cmd.PICKUP, E)
    assert play(core, Cmd.ZAP)[3] == "In what direction?"
    obs, _, _, msg = play(core, E)
    assert msg == "The lava cools and solidifies."
    assert (obs["glyphs"][0, 1, 3:5] == CELL_GLYPH[Cell.ICE]).all()
    obs, r, term, _ = play(core, E, E, E, E)
    assert (r, term) == (1.0, True)


def test_a_non_direction_cancels_the_prompt():
    core = core_on("Freeze-Wand", ["------",
                                   "|/@}>|",
                                   "------"])
    play(core, W, Cmd.PICKUP)
    play(core, Cmd.ZAP)
    assert play(core, Cmd.PICKUP)[3] == "Never mind."
    assert int(core.pending[0]) == 0


def test_agent_is_drawn_where_blstats_says():
    core = core_on("Corridors-R5", ROOM)
    obs, *_ = play(core, W)
    x, y = obs["blstats"][0, BL_X], obs["blstats"][0, BL_Y]
    assert (x, y) == (1, 1) and obs["glyphs"][0, y, x] == AGENT_GLYPH
    assert obs["glyphs"][0, 1, 2] == CELL_GLYPH[Cell.FLOOR]  # the cell left behind is redrawn
    assert obs["blstats"][0, BL_HP] == 12


@pytest.mark.parametrize("backend, B", [("numpy", 1), ("numpy", 3), ("torch", 3)])  # compiled, and a gather
def test_crop_is_the_glyph_map_around_the_agent(backend, B):
    # reference: the observed glyph map padded with stone, cut around blstats (x, y). Midway the map's outer
    # columns become walls and agents are put next to them (x = 1 and 77): the maps have no side margin, so the
    # crop must show stone beyond the sides, not the walls at the ends of the neighbouring rows.
    xp = pytest.importorskip("torch") if backend == "torch" else np
    core = GridhackCore(TASKS["MultiRoom-N6-LavaMonsters"], B, backend=backend)
    core.reset_rows(np.ones(B, dtype=bool), np.random.default_rng(0))
    rng = np.random.default_rng(0)
    for t in range(20):
        core.step(xp.asarray(rng.integers(0, 8, B)))
        if t == 10:
            core.cells[:, PAD : -PAD, 0] = core.cells[:, PAD : -PAD, W_MAP - 1] = Cell.WALL_V
            core.ax[0], core.ax[-1] = 1, W_MAP - 2
            core._redraw_rows(core._b)
        obs = {k: np.asarray(v) for k, v in core.observe().items()}
        padded = np.pad(obs["glyphs"], ((0, 0), (4, 4), (4, 4)), constant_values=CELL_GLYPH[Cell.STONE])
        for i in range(B):
            x, y = obs["blstats"][i, BL_X], obs["blstats"][i, BL_Y]
            assert np.array_equal(obs["glyphs_crop"][i], padded[i, y : y + 9, x : x + 9]), (t, i)


def _monsters_one_by_one(core, dead, ay, ax):
    """The monsters' rule written as a plain loop over sub-envs and slots in order (the reference the
    vectorised step must equal): bite if adjacent (prob. 1/2), else try one random step that is
    refused onto lava, walls, stairs, the agent or a cell where another live monster stands now."""
    from rewardlab.envs.gridhack.rules import MONSTER_WALKABLE, hash32, monster_salts
    from rewardlab.envs.gridhack.tiles import DIRS

    r = hash32(core.key[:, None], core.time[:, None], monster_salts(core.n_monsters)[None, :])
    my, mx, hp = core.my.copy(), core.mx.copy(), core.hp.copy()
    for b in range(core.num_envs):
        for m in range(core.n_monsters):
            if not core.malive[b, m] or dead[b]:
                continue
            if abs(my[b, m] - ay[b]) <= 1 and abs(mx[b, m] - ax[b]) <= 1:
                if (r[b, m] & 1) == 0:
                    hp[b] = max(hp[b] - 1, 0)  # a jackal bites for 1
                continue
            dy, dx = DIRS[(r[b, m] >> 8) & 7]
            ny, nx = my[b, m] + dy, mx[b, m] + dx
            taken = any(core.malive[b, k] and (my[b, k], mx[b, k]) == (ny, nx) for k in range(core.n_monsters))
            if MONSTER_WALKABLE[core.cells[b, ny, nx]] and (ny, nx) != (ay[b], ax[b]) and not taken:
                my[b, m], mx[b, m] = ny, nx
    return my, mx, hp


def test_monsters_act_in_slot_order():
    # Three jackals crowded into a 3x3 square next to the agent in 512 sub-envs, so that bites and
    # moves onto a cell another jackal is leaving or entering are common; the torch kernel's vectorised
    # rule must equal the one-by-one loop above in every sub-env, for several random draws.
    torch = pytest.importorskip("torch")
    B = 512
    ref = GridhackCore(TASKS["MultiRoom-N6-LavaMonsters"], B)
    core = GridhackCore(TASKS["MultiRoom-N6-LavaMonsters"], B, backend="torch")
    ref.reset_rows(np.ones(B, dtype=bool), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for trial in range(5):  # the crowd is set up in the numpy core, then copied to the torch core
        ref.cells[:] = Cell.FLOOR
        ref.cells[:, 20, 20] = Cell.LAVA  # a cell no jackal may enter
        cy, cx = 19, 19
        cells = rng.permuted(np.tile(np.arange(9), (B, 1)), axis=1)[:, :3]  # 3 distinct cells of the square
        ref.my[:], ref.mx[:] = cy + cells // 3, cx + cells % 3
        ref.malive[:] = rng.random((B, 3)) < 0.85
        ref.ay[:], ref.ax[:] = cy + rng.integers(-2, 5, B), cx + rng.integers(-2, 5, B)
        ref.ay[:] = np.where((ref.ay == ref.my[:, 0]) & (ref.ax == ref.mx[:, 0]), cy - 3, ref.ay)
        ref.hp[:] = 12
        ref.time[:] = trial
        dead = rng.random(B) < 0.1
        for name in ("cells", "my", "mx", "malive", "stats", "key"):
            getattr(core, name)[...] = torch.as_tensor(getattr(ref, name))
        want_my, want_mx, want_hp = _monsters_one_by_one(ref, dead, ref.ay.copy(), ref.ax.copy())
        # the agent stays put: j = 0 is the first action with a wall (stone) target, which does not move it
        j = torch.zeros(B, dtype=torch.int64)
        apos = core._flat(slice(None), core.ay, core.ax)
        core._torch_step._monsters(core, j, apos, torch.as_tensor(dead), torch.zeros(B, dtype=torch.int64), [])
        assert np.array_equal(core.my.numpy(), want_my) and np.array_equal(core.mx.numpy(), want_mx)
        assert np.array_equal(core.hp.numpy(), want_hp)


def test_a_door_bumped_open_stays_open_when_another_sub_env_kicks_one_in():
    # Sub-env 0 bumps a closed door open in the same step as sub-env 1's kick crashes a door:
    # both doors must end open (an earlier version wrote sub-env 0's old cell back).
    core = GridhackCore(TASKS["MultiRoom-N6-Lava"], 2, action_set="full")
    core.reset_rows(np.ones(2, dtype=bool), np.random.default_rng(0))
    for b in range(2):
        core.cells[b] = Cell.STONE
        core.cells[b, PAD + 1, 1:6] = [Cell.FLOOR, Cell.FLOOR, Cell.DOOR_CLOSED, Cell.FLOOR, Cell.FLOOR]
        core.ay[b], core.ax[b] = PAD + 1, 1 + b  # sub-env 1 starts next to its door
    core._redraw_rows(core._b)
    core.step(np.array([E, Cmd.KICK]))  # 0 walks up to its door; 1 asks to kick
    from rewardlab.envs.gridhack.rules import LUCK_SALT, hash32, kick_lucky

    for key in range(100):  # a key whose hash makes this kick crash the door (probability 1/3)
        core.key[1] = key
        if kick_lucky(hash32(key, int(core.time[1]), LUCK_SALT)):
            break
    core.step(np.array([E, E]))
    obs = core.observe()
    assert decode_message(obs["message"][0]) == "The door opens."
    assert decode_message(obs["message"][1]) == "As you kick the door, it crashes open!"
    assert core.cells[0, PAD + 1, 3] == Cell.DOOR_OPEN and core.cells[1, PAD + 1, 3] == Cell.DOORWAY
    assert obs["glyphs"][0, 1, 3] == CELL_GLYPH[Cell.DOOR_OPEN]


@pytest.mark.parametrize("B", [1, 4])
@pytest.mark.parametrize("task", list(TASKS))
def test_incremental_display_equals_a_full_redraw(task, B):
    # The step redraws only the cells it may have changed (and skips a static minotaur's cell): after
    # every step the display must equal the one drawn from scratch from cells, monsters and agent.
    core = GridhackCore(TASKS[task], B, action_set="full", max_episode_steps=50)
    core.reset_rows(np.ones(B, dtype=bool), np.random.default_rng(0))
    rng = np.random.default_rng(2)
    for t in range(150):
        _, term, trunc = core.step(rng.integers(0, Cmd.COUNT, B))
        shown = [layer.copy() for layer in (core.glyph, core.char, core.color)]
        core._redraw_rows(core._b)
        for name, before, after in zip(("glyph", "char", "color"), shown, (core.glyph, core.char, core.color)):
            assert np.array_equal(before, after), (name, t)
        core.reset_rows(term | trunc, rng)


@pytest.mark.parametrize("task", ["Freeze-Horn", "WoD-Hard", "Staircase-Lvl3"])
def test_partial_resets_draw_the_whole_padded_display(task):
    # Resets write only the maps' interiors once every row has been loaded. Reference: the terrain tables
    # looked up on every padded cell (the agent's and live monsters' cells aside), after a first reset of
    # only some rows, steps of all rows (the unloaded ones draw their agent at (0, 0)), a second partial
    # reset and more steps.
    from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH

    core = GridhackCore(TASKS[task], 5)
    rng = np.random.default_rng(0)
    rows = np.array([False, True, False, True, True])
    core.reset_rows(rows, rng)
    for step in range(30):
        core.step(rng.integers(0, len(core.actions), 5))
        if step == 20:
            core.reset_rows(~rows | (np.arange(5) == 1), rng)
    for i in range(5):
        actors = np.zeros(core.cells.shape[1:], dtype=bool)
        actors[core.ay[i], core.ax[i]] = True
        if core.n_monsters:
            actors[core.my[i][core.malive[i]], core.mx[i][core.malive[i]]] = True
        for layer, table in ((core.glyph, CELL_GLYPH), (core.char, CELL_CHAR), (core.color, CELL_COLOR)):
            assert np.array_equal(layer[i][~actors], table[core.cells[i]][~actors])
        if core.stack is not None:  # the stacked levels' margins are stone too
            margin = np.ones(core.cells.shape[1:], dtype=bool)
            margin[PAD:-PAD] = False
            assert (core.stack[i][:, margin] == Cell.STONE).all()


def compiled_and_array_cores(task: str, B: int, **kwargs) -> list[GridhackCore]:
    """Two cores of `task` on the same levels: the numpy backend (the numba kernel, jitcore.step) and the
    torch backend on CPU (the torch kernel, torchcore.TorchStep)."""
    pytest.importorskip("torch")
    cores = [GridhackCore(TASKS[task], B, max_episode_steps=60, num_contexts=3, backend=b, **kwargs)
             for b in ("numpy", "torch")]
    assert cores[0]._jit_step is not None and cores[1]._torch_step is not None
    for c in cores:
        c.reset_rows(np.ones(B, dtype=bool), np.random.default_rng(0))
    return cores


def step_both(cores: list[GridhackCore], a: np.ndarray, t: int) -> None:
    """Step both cores with actions `a`, assert identical outputs and states, reset the ended episodes."""
    import torch

    out = [cores[0].step(a), [y.numpy() for y in cores[1].step(torch.as_tensor(a))]]
    for x, y in zip(*out):
        assert x.dtype == y.dtype and np.array_equal(x, y), t
    for name in ("stats", "pending", "msg", "key", "my", "mx", "malive", "success", "cells", "glyph", "char", "color"):
        assert np.array_equal(getattr(cores[0], name), getattr(cores[1], name).numpy()), (name, t)
    done = out[0][1] | out[0][2]
    for c in cores:
        c.reset_rows(done, np.random.default_rng(t))


@pytest.mark.parametrize("action_set", ["restricted", "full"])
@pytest.mark.parametrize("task", list(TASKS))
def test_compiled_step_equals_array_rules(task, action_set):
    # 32 envs x 300 random steps on 3 contexts: with the full command set every command, prompt and ray occurs
    B = 32
    cores = compiled_and_array_cores(task, B, action_set=action_set)
    rng = np.random.default_rng(1)
    messages = set()
    for t in range(300):
        step_both(cores, rng.integers(0, len(cores[0].actions), B), t)
        messages.update(cores[0].msg.tolist())
    if action_set == "full":  # the commands ran: apply, zap and kick ask for a direction
        assert Msg.DIRECTION in messages


@pytest.mark.parametrize("task, event", [("Staircase-Lvl3", Msg.DESCEND), ("WoD-Hard", Msg.KILL + 1),
                                         ("MultiRoom-N6-LavaMonsters", Msg.KILL), ("KeyRoom-S10", Msg.UNLOCK),
                                         ("MultiRoom-N4-Locked", Msg.KICK_OPEN), ("Levitate-Boots", Msg.FLOAT_UP)])
def test_compiled_step_equals_array_rules_on_the_oracles_path(task, event):
    # Random play rarely descends, kills or unlocks: the oracle (with a random action one step in four) does,
    # and the task's `event` message must occur while both cores agree.
    from rewardlab.envs.gridhack.oracle import OraclePolicy

    B = 16
    cores = compiled_and_array_cores(task, B)
    policy, rng = OraclePolicy(task), np.random.default_rng(1)
    seen = 0
    for t in range(250):
        a = np.where(rng.random(B) < 0.25, rng.integers(0, len(cores[0].actions), B), policy(cores[0].observe()))
        step_both(cores, a, t)
        seen += int((cores[0].msg == event).sum())
    assert seen > 0


def test_compiled_step_rejects_actions_outside_the_set():
    # compiled code has no bounds checks, so the kernel checks what it indexes with
    core = GridhackCore(TASKS["Corridors-R5"], 2)
    core.reset_rows(np.ones(2, dtype=bool), np.random.default_rng(0))
    with pytest.raises(ValueError, match="outside the action set"):
        core.step(np.array([0, len(core.actions)]))
    with pytest.raises(ValueError, match="one action per env"):
        core.step(np.array([0]))



@pytest.mark.parametrize("task", list(TASKS))
def test_levels_keep_their_outer_columns_closed(task):
    # The maps have no side margin (tiles.PAD): moves, rays and monster steps from the outer columns would run
    # into the neighbouring rows. They cannot, if those columns hold only stone, walls and lava, and lava only
    # where nothing lets the agent float (it dies on stepping there). 100 fresh levels of each task.
    from rewardlab.envs.gridhack.contexts import LevelSource
    from rewardlab.envs.gridhack.rules import WALKABLE

    src = LevelSource(TASKS[task], None)
    for c in range(100):
        cells = src.generate(c).cells
        sides = cells[..., [0, cells.shape[-1] - 1]]
        assert not (WALKABLE[sides] & (sides != Cell.LAVA)).any(), c
        if (sides == Cell.LAVA).any():
            assert not np.isin(cells, [Cell.POTION, Cell.BOOTS]).any(), c
