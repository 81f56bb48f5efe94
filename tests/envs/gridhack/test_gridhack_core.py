"""The batched core: numpy and torch agree exactly, and hand-built levels check each rule and message."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.envs.gridhack.core import GridhackCore
from rewardlab.envs.gridhack.tasks import TASKS
from rewardlab.envs.gridhack.tiles import (AGENT_GLYPH, BL_HAS_KEY, BL_HP, BL_ITEM, BL_LEVITATING, BL_X, BL_Y,
                                           CELL_GLYPH, PAD, Cell, Cmd, Item, decode_message)

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
            grid[PAD + y, PAD + x] = LEGEND[ch]
            if ch == "@":
                core.ay[0], core.ax[0] = PAD + y, PAD + x
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


@pytest.mark.parametrize("B", [1, 3])  # B = 1 takes a slice, B > 1 a gather
def test_crop_is_the_glyph_map_around_the_agent(B):
    core = GridhackCore(TASKS["MultiRoom-N6-LavaMonsters"], B)
    core.reset_rows(np.ones(B, dtype=bool), np.random.default_rng(0))
    rng = np.random.default_rng(0)
    for _ in range(20):
        core.step(rng.integers(0, 8, B))
        obs = core.observe()
        padded = np.pad(obs["glyphs"], ((0, 0), (4, 4), (4, 4)), constant_values=CELL_GLYPH[Cell.STONE])
        for i in range(B):
            x, y = obs["blstats"][i, BL_X], obs["blstats"][i, BL_Y]
            assert np.array_equal(obs["glyphs_crop"][i], padded[i, y : y + 9, x : x + 9])
