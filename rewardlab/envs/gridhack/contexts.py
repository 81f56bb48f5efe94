"""Contexts (levels) of a gridhack task: a fixed pool of ``num_contexts`` levels, or a fresh one per episode.

Context ``c`` is generated from ``SeedSequence([context_seed_offset, c, part])`` with part 0 for the
layout and 1 for the objects, so two offsets give disjoint train and test pools, and the
``structure`` knob pins one part to context 0: ``"layout_only"`` varies only the layout,
``"objects_only"`` only the objects, ``"all"`` both.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from rewardlab.envs.gridhack.levels import FastRng, Level
from rewardlab.envs.gridhack.tasks import TaskSpec
from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH, PAD, Cell
from rewardlab.errors import InvalidParameter

__all__ = ["LevelSource", "LevelBatch", "STRUCTURES", "FRESH_CONTEXTS"]

STRUCTURES = ("all", "layout_only", "objects_only")
FRESH_CONTEXTS = 2**31  # num_contexts=None draws context ids from [0, 2**31): a new level every episode
_POOL_LIMIT = 4096  # pools up to this size are kept as one array, so resets are a vectorised gather


class LevelBatch(NamedTuple):
    """Padded levels of n contexts: ``cells`` (n, L, H+2P, W+2P), ``start`` (n, L, 2), ``monsters``
    (n, M, 2), and the first dungeon level's terrain drawn as ``glyph``, ``char``, ``color`` (n, H+2P, W+2P).
    :meth:`LevelSource.levels` returns one (see its example)."""

    cells: np.ndarray
    start: np.ndarray
    monsters: np.ndarray
    glyph: np.ndarray
    char: np.ndarray
    color: np.ndarray


class LevelSource:
    """Levels of one task, padded with :data:`PAD` stone cells on every side.

    Example:
        >>> from rewardlab.envs.gridhack.tasks import TASKS
        >>> src = LevelSource(TASKS["KeyRoom-S10"], num_contexts=3)
        >>> cells = src.levels(np.array([0, 2, 0])).cells
        >>> cells.shape, bool((cells[0] == cells[2]).all()), bool((cells[0] == cells[1]).all())
        ((3, 1, 37, 95), True, False)
    """

    def __init__(self, task: TaskSpec, num_contexts: int | None, context_seed_offset: int = 0,
                 structure: str = "all"):
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
        self.task = task
        self.num_contexts = None if num_contexts is None else int(num_contexts)
        self.offset = int(context_seed_offset)
        self.structure = structure
        self.n_ids = FRESH_CONTEXTS if num_contexts is None else self.num_contexts
        probe = self.generate(0)
        self.depth_levels, self.n_monsters = probe.cells.shape[0], probe.monsters.shape[0]
        self.has_lava = bool((probe.cells == Cell.LAVA).any())
        self._pooled = self.num_contexts is not None and self.num_contexts <= _POOL_LIMIT
        if self._pooled:
            self._pool = LevelBatch(*(np.zeros((self.num_contexts, *a.shape), dtype=a.dtype)
                                      for a in self._padded(probe)))
            self._made = np.zeros(self.num_contexts, dtype=bool)
        self._cache: OrderedDict[int, LevelBatch] = OrderedDict()

    def generate(self, context_id: int) -> Level:
        """The (unpadded) level of one context."""
        lay = 0 if self.structure == "objects_only" else context_id
        obj = 0 if self.structure == "layout_only" else context_id
        layout = FastRng(np.random.default_rng(np.random.SeedSequence([self.offset, lay, 0])))
        objects = FastRng(np.random.default_rng(np.random.SeedSequence([self.offset, obj, 1])))
        return self.task.generate(layout, objects)

    @staticmethod
    def _padded(level: Level) -> LevelBatch:
        """One level padded, with its first dungeon level's terrain drawn (resets copy it, not redraw it)."""
        n, h, w = level.cells.shape
        cells = np.full((n, h + 2 * PAD, w + 2 * PAD), Cell.STONE, dtype=np.uint8)  # np.pad costs 10x more
        cells[:, PAD:-PAD, PAD:-PAD] = level.cells
        first = cells[0]
        return LevelBatch(cells, level.start + PAD, level.monsters + PAD, CELL_GLYPH[first], CELL_CHAR[first],
                          CELL_COLOR[first])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` context ids drawn uniformly (from the pool, or from [0, 2**31) for fresh levels)."""
        return rng.integers(0, self.n_ids, size=n, dtype=np.int64)

    def levels(self, ids: np.ndarray) -> LevelBatch:
        """The padded levels of contexts `ids` (n,)."""
        if self._pooled:
            for c in np.unique(ids[~self._made[ids]]):
                for pool, part in zip(self._pool, self._padded(self.generate(int(c)))):
                    pool[c] = part
                self._made[c] = True
            return LevelBatch(*(pool[ids] for pool in self._pool))
        parts = [self._one(int(c)) for c in ids]
        return LevelBatch(*(np.stack(p) for p in zip(*parts)))

    def _one(self, c: int) -> LevelBatch:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        out = self._padded(self.generate(c))
        if self.num_contexts is not None:  # a large finite pool: keep recently used levels
            self._cache[c] = out
            if len(self._cache) > _POOL_LIMIT:
                self._cache.popitem(last=False)
        return out
