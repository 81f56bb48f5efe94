"""Context control: num_contexts pools, fresh levels, disjoint train/test offsets, the structure knob."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.envs.gridhack import TASKS, env_id
from rewardlab.envs.gridhack.contexts import LevelSource
from rewardlab.envs.gridhack.tiles import Cell
from rewardlab.errors import InvalidParameter


def levels_seen(task: str, resets: int, **kw) -> tuple[set[bytes], set[int]]:
    env = gym.make(env_id(task), **kw)
    maps, ids = set(), set()
    for i in range(resets):
        obs, info = env.reset(seed=i) if i == 0 else env.reset()
        maps.add(obs["glyphs"].tobytes())
        ids.add(info["context_id"])
    return maps, ids


@pytest.mark.parametrize("k", [1, 3, 10])
def test_k_contexts_give_exactly_k_levels(k):
    # 200 uniform draws from k <= 10 contexts miss one with probability <= 10 * 0.9**200 < 1e-8
    maps, ids = levels_seen("MultiRoom-N6-Lava", 200, num_contexts=k)
    assert len(maps) == k and ids == set(range(k))


def test_none_gives_a_new_level_every_episode():
    maps, ids = levels_seen("MultiRoom-N6-Lava", 100, num_contexts=None)
    assert len(maps) == 100 and len(ids) == 100


def test_labyrinth_is_one_fixed_maze_by_default():
    maps, _ = levels_seen("Labyrinth-Big", 20)
    assert len(maps) == 1


def test_seed_offsets_give_disjoint_pools():
    train, _ = levels_seen("KeyRoom-S10", 100, num_contexts=5)
    test, _ = levels_seen("KeyRoom-S10", 100, num_contexts=5, context_seed_offset=1)
    assert len(train) == len(test) == 5 and not train & test


def test_context_id_names_the_level():
    # the same context id always gives the same level, in a fresh env too
    src = LevelSource(TASKS["Corridors-R5"], num_contexts=None)
    cells = src.levels(np.array([123, 123, 124])).cells
    assert np.array_equal(cells[0], cells[1]) and not np.array_equal(cells[0], cells[2])
    env = gym.make(env_id("Corridors-R5"), num_contexts=4)
    obs, info = env.reset(seed=0)
    again = LevelSource(TASKS["Corridors-R5"], num_contexts=4).generate(info["context_id"])
    walls = np.isin(again.cells[0], [Cell.WALL_H, Cell.WALL_V])
    assert (np.isin(obs["chars"], [ord("-"), ord("|")]) == walls).all()


def _walls(level):
    return np.isin(level.cells[0], [Cell.WALL_H, Cell.WALL_V, Cell.LAVA, Cell.CORRIDOR])


@pytest.mark.parametrize("task", ["KeyRoom-S10", "Corridors-R5", "Levitate-Potion"])
def test_structure_knob(task):
    spec = TASKS[task]
    def levels(structure):
        src = LevelSource(spec, num_contexts=8, structure=structure)
        return [src.generate(c) for c in range(8)]

    objects_only = levels("objects_only")
    assert all(np.array_equal(_walls(objects_only[0]), _walls(lv)) for lv in objects_only)  # one layout
    assert len({lv.cells.tobytes() + lv.start.tobytes() for lv in objects_only}) == 8  # objects move
    layout_only = levels("layout_only")
    assert len({_walls(lv).tobytes() for lv in layout_only}) == 8
    everything = levels("all")
    assert len({_walls(lv).tobytes() for lv in everything}) == 8


def test_fast_rng_stream_equals_fixed_blocks_of_512():
    # FastRng draws growing blocks (16, 16, 32, ..., 256, then 512) but must give the stream of the
    # original fixed blocks of 512 uniforms, including a permutation made in the middle of a block
    # (the generator had then already handed out a whole block of 512); the reference is that
    # original rule written out here.
    from rewardlab.envs.gridhack.levels import FastRng

    def reference(seed, ops):
        rng, block, i, out = np.random.default_rng(seed), [], 0, []
        for op, arg in ops:
            if op == "perm":
                out.append(tuple(rng.permutation(arg)))
                continue
            if i == len(block):
                block, i = rng.random(512).tolist(), 0
            out.append(int(block[i] * arg))
            i += 1
        return out

    plan = np.random.default_rng(7)
    ops = [("perm", 9) if plan.random() < 0.01 else ("int", int(plan.integers(1, 50))) for _ in range(2000)]
    fast = FastRng([3, 1, 0])
    got = [tuple(fast.permutation(a)) if op == "perm" else fast.integers(a) for op, a in ops]
    assert got == reference([3, 1, 0], ops)


def test_only_the_requested_layers_are_drawn():
    src = LevelSource(TASKS["KeyRoom-S10"], num_contexts=2, layers=("glyph",))
    lv = src.levels(np.array([1]))
    assert lv.char is None and lv.color is None and lv.glyph.shape == (1, 37, 79)
    full = LevelSource(TASKS["KeyRoom-S10"], num_contexts=2).levels(np.array([1]))
    assert np.array_equal(lv.glyph, full.glyph)  # same level, same terrain glyphs
    with pytest.raises(InvalidParameter, match="layers"):
        LevelSource(TASKS["KeyRoom-S10"], num_contexts=2, layers=("glyph", "colour"))


def test_levels_beyond_32_bit_offsets_are_default_rngs():
    # An offset of 2**40 is two entropy words (the compiled seeding takes any number);
    # the reference is the task's generator on FastRng([offset, c, part]), which
    # builds default_rng([offset, c, part]).
    from rewardlab.envs.gridhack.levels import FastRng

    src = LevelSource(TASKS["KeyRoom-S10"], None, context_seed_offset=2**40)
    ref = TASKS["KeyRoom-S10"].generate(FastRng([2**40, 5, 0]), FastRng([2**40, 5, 1]))
    assert np.array_equal(src.generate(5).cells, ref.cells)


def test_overlap_test_equals_both_way_check():
    # _overlaps_any tests only "the new room's inside meets an old rectangle"; the original also tested the
    # converse, which is the same condition (see its docstring). Reference: both tests written out.
    from rewardlab.envs.gridhack.levels import _overlaps_any

    def both(t, l, h, w, t2, l2, h2, w2):  # noqa: E741
        return (not (t + h - 1 <= t2 or t2 + h2 <= t + 1 or l + w - 1 <= l2 or l2 + w2 <= l + 1)
                or not (t2 + h2 - 1 <= t or t + h <= t2 + 1 or l2 + w2 - 1 <= l or l + w <= l2 + 1))

    rng = np.random.default_rng(0)
    rects = [tuple(int(v) for v in r) for r in np.column_stack([rng.integers(0, 12, (4000, 2)), rng.integers(3, 9, (4000, 2))])]
    pairs = zip(rects[::2], rects[1::2])
    results = [(_overlaps_any(*a, [b]), both(*a, *b)) for a, b in pairs]
    assert all(x == y for x, y in results)
    assert 0 < sum(x for x, _ in results) < len(results)  # both outcomes occur


def test_padded_layers_equal_the_tables_on_the_whole_padded_map():
    # _padded looks up only the (21, 79) interior and fills the margin with stone's value; the reference is
    # the lookup of every padded cell, for one level and for a batch.
    from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH

    src = LevelSource(TASKS["WoD-Hard"], None)
    for ids in (np.array([4]), np.arange(5)):
        lv = src.levels(ids)
        for layer, table in ((lv.glyph, CELL_GLYPH), (lv.char, CELL_CHAR), (lv.color, CELL_COLOR)):
            assert layer.dtype == table.dtype and np.array_equal(layer, table[lv.cells[:, 0]])


def test_one_draw_of_ids_and_keys_equals_two_draws():
    # With fresh levels the core draws context ids and episode keys (both in [0, 2**31)) in one call of 2n;
    # the reference is the two calls of n that it replaces, from the same generator state.
    for n in (1, 3, 8):
        one, two = np.random.default_rng(n), np.random.default_rng(n)
        one.random(), two.random()  # leave the generators mid-way through a 64-bit word
        both = one.integers(0, 2**31, size=2 * n, dtype=np.int64)
        ids = two.integers(0, 2**31, size=n, dtype=np.int64)
        keys = two.integers(0, 2**31, size=n, dtype=np.int64)
        assert both.tolist() == ids.tolist() + keys.tolist() and one.random() == two.random()
