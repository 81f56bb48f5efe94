"""The compiled level generators (jitlevels) against numpy and the Python generators they mirror.

References: numpy's own SeedSequence, default_rng streams and Generator.permutation, and the Python
generators of ``levels`` driven by FastRng (the readable definition of every level).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from rewardlab.envs.gridhack import jitlevels, levels
from rewardlab.envs.gridhack.contexts import STRUCTURES, LevelSource
from rewardlab.envs.gridhack.levels import FastRng, GenerationError, SeedWords
from rewardlab.envs.gridhack.tasks import TASKS, TaskSpec

TWINNED = [name for name, spec in TASKS.items() if jitlevels.twin(spec.generate) is not None]


def test_the_lava_river_room_chain_and_wod_tasks_have_twins():
    # the tasks whose fresh levels bound throughput (a random agent dies within a few steps, on lava or to the
    # minotaur)
    assert set(TWINNED) == {n for n in TASKS if n.startswith(("MultiRoom", "LavaCrossing", "Levitate", "Freeze"))} \
        | {"LavaCross", "WoD-Hard"}
    assert jitlevels.twin(TASKS["KeyRoom-S10"].generate) is None


@pytest.mark.parametrize("k", [1, 3, 4, 6])
def test_seed_words_equal_numpys_seed_sequence(k):
    # extremes 0 and 2**32 - 1 included, so a missing 32-bit mask would show; k = 6 takes numpy's mixing of
    # words beyond the pool of 4
    rng = np.random.default_rng(k)
    extremes = [np.zeros((1, k)), np.full((1, k), 2**32 - 1)]
    entropy = np.vstack([rng.integers(0, 2**32, (6, k)), *extremes]).astype(np.uint32)
    words = jitlevels.seed_words(entropy)
    for row, w in zip(entropy.tolist(), words):
        assert w.tolist() == np.random.SeedSequence(row).generate_state(4, np.uint64).tolist()
    fast, ref = np.random.default_rng(SeedWords(words[0])), np.random.default_rng(entropy[0].tolist())
    assert fast.random(600).tolist() == ref.random(600).tolist()


def test_compiled_stream_equals_fast_rng():
    # integers from blocks of uniforms, and permutations made at the start, mid-block and after a block
    # (numpy's shuffle draws 32-bit halves; the kept half must carry over between permutations)
    plan = np.random.default_rng(7)
    ops = [("perm", int(plan.integers(2, 40))) if plan.random() < 0.02 else ("int", int(plan.integers(1, 50)))
           for _ in range(3000)]
    ops = [("perm", 9), ("perm", 5), *ops]
    seed = [3, 1, 0]
    words = jitlevels.seed_words(np.array([seed], dtype=np.uint32))[0]
    fast, comp = FastRng(seed), jitlevels._reseed(jitlevels._rng(), words)
    for op, a in ops:
        if op == "perm":
            assert jitlevels._permutation(comp, a).tolist() == fast.permutation(a).tolist()
        else:
            assert jitlevels._int(comp, 0, a) == fast.integers(a)


@pytest.mark.parametrize("task", TWINNED)
def test_compiled_levels_equal_python_generators(task):
    # 300 contexts of the default structure and 40 of each other one, against the Python generator on the
    # same seeds
    for structure in STRUCTURES:
        src = LevelSource(TASKS[task], None, context_seed_offset=11, structure=structure)
        ids = np.arange(300 if structure == "all" else 40)
        cells, start, monsters = src._generate(ids)
        lay, obj = src._seed_words(ids)
        for i in range(ids.size):
            ref = TASKS[task].generate(FastRng(SeedWords(lay[i])), FastRng(SeedWords(obj[i])))
            assert np.array_equal(cells[i], ref.cells), (structure, i)
            assert np.array_equal(start[i], ref.start) and np.array_equal(monsters[i], ref.monsters), (structure, i)


@pytest.mark.parametrize("offset", [0, 2**32 - 1, 2**40, 2**70 + 3])
def test_levels_of_any_offset_are_default_rngs(offset):
    # offsets of 1, 2 and 3 entropy words; the reference is the Python generator on FastRng([offset, c, part]),
    # which builds numpy's default_rng([offset, c, part])
    task = TASKS["MultiRoom-N6-LavaMonsters"]
    for c in (0, 5, 2**31 - 1):
        lv = LevelSource(task, None, context_seed_offset=offset).generate(c)
        ref = task.generate(FastRng([offset, c, 0]), FastRng([offset, c, 1]))
        assert np.array_equal(lv.cells, ref.cells) and np.array_equal(lv.monsters, ref.monsters)


def test_a_chain_that_cannot_be_placed_raises_in_both():
    # 40 rooms of side >= 4 cannot chain on a 21 x 79 map without overlap: both give up after 200 tries
    spec = TaskSpec(name="TooMany", generate=partial(levels.multiroom, n_rooms=40))
    with pytest.raises(GenerationError, match="TooMany"):
        LevelSource(spec, None)
    with pytest.raises(GenerationError, match="40 rooms"):
        spec.generate(FastRng([0, 0, 0]), FastRng([0, 0, 1]))


@pytest.mark.parametrize("draw_char, draw_color", [(True, True), (True, False), (False, True), (False, False)])
def test_draw_terrain_is_the_cell_tables(draw_char, draw_color):
    # reference: numpy's table lookups on the window; rows not named and the stone margins stay untouched (-1)
    from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH, PAD, H, W

    cells = np.random.default_rng(0).integers(0, len(CELL_GLYPH), (5, H + 2 * PAD, W)).astype(np.uint8)
    glyph = np.full(cells.shape, -1, dtype=np.int16)
    char, color = np.full(cells.shape, 255, dtype=np.uint8), np.full(cells.shape, 255, dtype=np.uint8)
    rows = np.array([1, 3])
    jitlevels.draw_terrain(cells, rows, PAD, glyph, char, color, draw_char, draw_color)
    win = (rows[:, None, None], np.arange(PAD, PAD + H)[:, None], np.arange(W))
    for layer, table, drawn in ((glyph, CELL_GLYPH, True), (char, CELL_CHAR, draw_char), (color, CELL_COLOR, draw_color)):
        expected = np.full_like(layer, -1 if layer.dtype == np.int16 else 255)
        if drawn:
            expected[win] = table[cells[win]]
        assert np.array_equal(layer, expected)
