"""Contexts (levels) of a gridhack task: a fixed pool of ``num_contexts`` levels, or a fresh one per episode.

Context ``c`` is generated from ``SeedSequence([context_seed_offset, c, part])`` with part 0 for the
layout and 1 for the objects, so two offsets give disjoint train and test pools, and the
``structure`` knob pins one part to context 0: ``"layout_only"`` varies only the layout,
``"objects_only"`` only the objects, ``"all"`` both.
"""

from __future__ import annotations

from collections import OrderedDict
from types import ModuleType
from typing import NamedTuple

import numpy as np

from rewardlab.envs.gridhack.levels import FastRng, GenerationError, Level, SeedWords
from rewardlab.envs.gridhack.tasks import TaskSpec
from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH, PAD, Cell, H, W
from rewardlab.errors import InvalidParameter

__all__ = ["LevelSource", "LevelBatch", "STRUCTURES", "LAYERS", "FRESH_CONTEXTS", "INTERIOR", "WHOLE"]

STRUCTURES = ("all", "layout_only", "objects_only")
LAYERS = ("glyph", "char", "color")  # the display layers a LevelBatch may carry
_TABLES = {"glyph": CELL_GLYPH, "char": CELL_CHAR, "color": CELL_COLOR}
FRESH_CONTEXTS = 2**31  # num_contexts=None draws context ids from [0, 2**31): a new level every episode
_POOL_LIMIT = 4096  # pools up to this size are kept as one array, so resets are a vectorised gather
INTERIOR = (slice(PAD, PAD + H), slice(None))  # the (21, 79) map inside a padded one
_OFFSET = np.array([PAD, 0])  # (y, x) of a level's cell in the padded maps, less its own
WHOLE = (slice(None), slice(None))  # the whole padded map


def _filled(shape: tuple[int, ...], value: int, dtype: type) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)  # empty + fill: a third of np.full's cost on these small arrays
    out.fill(value)
    return out


def _stack(levels: list[Level]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levels as arrays (n, ...); concatenate loops in C, where np.stack pays a Python call per level."""
    n, (depth, h, w), m = len(levels), levels[0].cells.shape, len(levels[0].monsters)
    return (np.concatenate([lv.cells for lv in levels]).reshape(n, depth, h, w),
            np.concatenate([lv.start for lv in levels]).reshape(n, depth, 2),
            np.concatenate([lv.monsters for lv in levels]).reshape(n, m, 2))


class LevelBatch(NamedTuple):
    """Padded levels of n contexts: ``cells`` (n, L, H+2P, W), ``start`` (n, L, 2), ``monsters``
    (n, M, 2), and the first dungeon level's terrain drawn as ``glyph``, ``char``, ``color`` (n, H+2P, W;
    None for a layer the source was not asked to draw). :meth:`LevelSource.levels` returns one (see its
    example)."""

    cells: np.ndarray
    start: np.ndarray
    monsters: np.ndarray
    glyph: np.ndarray | None
    char: np.ndarray | None
    color: np.ndarray | None


class LevelSource:
    """Levels of one task, padded with :data:`PAD` stone rows above and below, with the display layers
    named in ``layers`` drawn.

    Example:
        >>> from rewardlab.envs.gridhack.tasks import TASKS
        >>> src = LevelSource(TASKS["KeyRoom-S10"], num_contexts=3)
        >>> cells = src.levels(np.array([0, 2, 0])).cells
        >>> cells.shape, bool((cells[0] == cells[2]).all()), bool((cells[0] == cells[1]).all())
        ((3, 1, 37, 79), True, False)
    """

    def __init__(self, task: TaskSpec, num_contexts: int | None, context_seed_offset: int = 0,
                 structure: str = "all", layers: tuple[str, ...] = LAYERS):
        # A pool of 0 contexts has no level to reset to; a negative offset is not a valid seed.
        if num_contexts is not None and (isinstance(num_contexts, bool) or not isinstance(num_contexts, (int, np.integer))
                                         or num_contexts < 1):
            raise InvalidParameter(f"`num_contexts` must be a positive int or None (a fresh level every episode). "
                                   f"Received {num_contexts!r}")
        if isinstance(context_seed_offset, bool) or not isinstance(context_seed_offset, (int, np.integer)) \
                or context_seed_offset < 0:
            raise InvalidParameter(f"`context_seed_offset` must be a non-negative int. Received {context_seed_offset!r}")
        if structure not in STRUCTURES:
            raise InvalidParameter(f"`structure` must be one of {STRUCTURES}. Received {structure!r}")
        if not set(layers) <= set(LAYERS):
            raise InvalidParameter(f"`layers` must be a subset of {LAYERS}. Received {tuple(layers)!r}")
        self.task = task
        self._tables = [(name, _TABLES[name]) for name in layers]
        self.num_contexts = None if num_contexts is None else int(num_contexts)
        self.offset = int(context_seed_offset)
        self.structure = structure
        self.n_ids = FRESH_CONTEXTS if num_contexts is None else self.num_contexts
        self._twin = self._jit.twin(task.generate)
        self._offset_words = self._jit.uint32_words(self.offset)
        probe = self.generate(0)
        self.depth_levels, self.n_monsters = probe.cells.shape[0], probe.monsters.shape[0]
        self.has_lava = bool((probe.cells == Cell.LAVA).any())
        self._pooled = self.num_contexts is not None and self.num_contexts <= _POOL_LIMIT
        if self._pooled:
            self._pool = LevelBatch(*(None if a is None else np.zeros((self.num_contexts, *a.shape[1:]), dtype=a.dtype)
                                      for a in self._padded(self._drawn(*_stack([probe])))))
            self._made = np.zeros(self.num_contexts, dtype=bool)
        self._cache: OrderedDict[int, Level] = OrderedDict()

    def generate(self, context_id: int) -> Level:
        """The (unpadded) level of one context."""
        cells, start, monsters = self._generate(np.array([context_id]))
        return Level(cells[0], start[0], monsters[0])

    def _seed_words(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The PCG64 seed words (n, 4) of the layout and the objects generators of contexts `ids`: those of
        ``default_rng([offset, c, part])``, with c pinned to 0 in the part the structure keeps fixed."""
        return self._jit.seed_pairs(self._offset_words, ids, self.structure != "objects_only",
                                    self.structure != "layout_only")

    @property
    def _jit(self) -> ModuleType:  # numba is imported when a task is first made, not with rewardlab
        from rewardlab.envs.gridhack import jitlevels
        from rewardlab.envs.gridhack.compile_notice import notice_if_cold

        notice_if_cold(jitlevels)
        return jitlevels

    def _generate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The unpadded levels of contexts `ids` (n,) as arrays: cells (n, L, 21, 79), start (n, L, 2) and
        monsters (n, M, 2), from the task's compiled generator where it has one (the same levels)."""
        lay, obj = self._seed_words(ids)
        if self._twin is not None:
            grids = np.zeros((ids.size, H, W), dtype=np.uint8)
            start, monsters = self._placed(self._twin(lay, obj, grids, np.arange(ids.size), 0))
            return grids[:, None], start[:, None], monsters
        generate = self.task.generate
        return _stack([generate(FastRng(SeedWords(a)), FastRng(SeedWords(b))) for a, b in zip(lay, obj)])

    def _placed(self, placed: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        if placed is None:
            raise GenerationError(f"{self.task.name}: the level generator ran out of tries")
        return placed

    @property
    def writes_fresh(self) -> bool:
        """Whether :meth:`fresh_into` can serve resets: fresh levels of a compiled generator."""
        return self.num_contexts is None and self._twin is not None

    def fresh_into(self, ids: np.ndarray, rows: np.ndarray, cells: np.ndarray, glyph: np.ndarray, char: np.ndarray,
                   color: np.ndarray, draw_char: bool, draw_color: bool) -> tuple[np.ndarray, np.ndarray]:
        """Generate the fresh levels of contexts `ids` (n,) straight into the interiors of padded maps `rows` of
        `cells` (B, H+2P, W) and draw their terrain into the layers; the stone rows are left as they are.
        Returns start (n, 1, 2) and monsters (n, M, 2) in padded coordinates."""
        lay, obj = self._seed_words(ids)
        start, monsters = self._placed(self._twin(lay, obj, cells, rows, PAD))
        self._jit.draw_terrain(cells, rows, PAD, glyph, char, color, draw_char, draw_color)
        return start[:, None], monsters

    def _drawn(self, cells: np.ndarray, start: np.ndarray, monsters: np.ndarray) -> LevelBatch:
        """Unpadded levels with their positions moved to padded coordinates and their first dungeon level's
        terrain drawn (resets copy it, not redraw it)."""
        top = cells[:, 0].astype(np.intp)  # cast once: every table.take would cast it
        drawn = {name: table.take(top) for name, table in self._tables}
        return LevelBatch(cells, start + _OFFSET, monsters + _OFFSET, *(drawn.get(name) for name in LAYERS))

    def _padded(self, batch: LevelBatch) -> LevelBatch:
        """A batch of :meth:`_drawn` maps padded with stone (its cells, and its layers with stone's values)."""
        (n, depth, h, w), p = batch.cells.shape, PAD
        cells = _filled((n, depth, h + 2 * p, w), Cell.STONE, np.uint8)  # np.pad costs 10x more
        cells[:, :, p : p + h] = batch.cells
        drawn = {}
        for name, table in self._tables:
            layer = drawn[name] = _filled((n, h + 2 * p, w), table[Cell.STONE], table.dtype)
            layer[:, p : p + h] = getattr(batch, name)
        return LevelBatch(cells, batch.start, batch.monsters, *(drawn.get(name) for name in LAYERS))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` context ids drawn uniformly (from the pool, or from [0, 2**31) for fresh levels)."""
        return rng.integers(0, self.n_ids, size=n, dtype=np.int64)

    def levels(self, ids: np.ndarray) -> LevelBatch:
        """The padded levels of contexts `ids` (n,). Pooled levels of a single id come as views (callers copy them)."""
        if self._pooled:
            return self._from_pool(ids)
        return self._padded(self._fresh(ids))

    def for_reset(self, ids: np.ndarray) -> tuple[LevelBatch, tuple[slice, slice]]:
        """The levels of contexts `ids` (n,) as a reset writes them, and the (y, x) window of the padded map
        they cover: pooled levels whole (a gather of whole rows), fresh ones without their stone rows
        (maps (n, L, 21, 79), layers (n, 21, 79)): padding them would cost more than the state's stone
        rows, which stay stone. Positions are in padded coordinates. Arrays may be views (callers copy them)."""
        if self._pooled:
            return self._from_pool(ids), WHOLE
        return self._fresh(ids), INTERIOR

    def _from_pool(self, ids: np.ndarray) -> LevelBatch:
        if ids.size == 1:  # a reset of one env: no unique/gather machinery
            c = int(ids[0])
            if not self._made[c]:
                self._make(c)
            return LevelBatch(*(None if pool is None else pool[c : c + 1] for pool in self._pool))
        for c in np.unique(ids[~self._made[ids]]):
            self._make(int(c))
        return LevelBatch(*(None if pool is None else pool[ids] for pool in self._pool))

    def _fresh(self, ids: np.ndarray) -> LevelBatch:
        if self.num_contexts is None:
            return self._drawn(*self._generate(ids))
        return self._drawn(*_stack([self._one(c) for c in ids.tolist()]))

    def _make(self, c: int) -> None:
        for pool, part in zip(self._pool, self._padded(self._drawn(*self._generate(np.array([c]))))):
            if pool is not None:
                pool[c] = part[0]
        self._made[c] = True

    def _one(self, c: int) -> Level:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        out = self.generate(c)
        if self.num_contexts is not None:  # a large finite pool: keep recently used levels
            self._cache[c] = out
            if len(self._cache) > _POOL_LIMIT:
                self._cache.popitem(last=False)
        return out
