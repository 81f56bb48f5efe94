"""gridhack v0, pinned: the levels and trajectories a seed gives must not change within a version.

Users compare runs across rewardlab releases and store context ids of train/test pools, so a speed-up
that changed one level or one transition would silently change the benchmark. The digests were
recorded from v0 (commit 348030e); a deliberate change to levels or rules needs a new version (-v1)
and new digests, never an edit of these. (A NumPy release that changed ``Generator`` streams would
also show up here.)
"""

from __future__ import annotations

import hashlib
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.envs.gridhack import TASKS, env_id
from rewardlab.envs.gridhack.contexts import STRUCTURES, LevelBatch, LevelSource
from rewardlab.envs.gridhack.tiles import CELL_CHAR, CELL_COLOR, CELL_GLYPH, Cell

# task: (levels, single-env trajectory, vector trajectory), sha256 prefixes
V0 = {
    "MultiRoom-N4-Locked": ("0c934ea6e3dfcca6", "c2a6c41433e2aad5", "4f57861316e9837e"),
    "MultiRoom-N6-Lava": ("b488d05ad83e1edc", "1811387a4dca7974", "2f396550d2dd9e47"),
    "MultiRoom-N6-Lava-OpenDoor": ("f62addc6c3433b4c", "c6eff87241b800d4", "e336e602821961c7"),
    "MultiRoom-N6-LavaMonsters": ("b3dd8325ca632ee7", "b98c4d02607bbccb", "41245ca166cb0452"),
    "MultiRoom-N10-OpenDoor": ("08dc5e096b9e51df", "b00bb1c6bab4a7a4", "7296934d30c91fd0"),
    "MultiRoom-N10-Lava-OpenDoor": ("fb6d1909e302ed3f", "822954f58e3d0c18", "cc9d8874093f7722"),
    "LavaCrossing-S19N13": ("8f4713edda364528", "e08d438e48f20e97", "d8a3ffd603eef2de"),
    "LavaCrossing-S19N17": ("6a1c372056c003ec", "15da07855e3f4dac", "895a175815ff5796"),
    "Labyrinth-Big": ("bf62867adb5d4d0e", "ad6816bda6b55297", "b23f363d398e42c0"),
    "Levitate-Potion": ("e94a67cdab4e7e5f", "197998404da136e1", "275b37fb29746d19"),
    "Levitate-Boots": ("a01753a9e653ba5d", "921ec6d217c6bdb9", "ede540a67457cb14"),
    "Freeze-Horn": ("d98b1663f194abb1", "eac5e80b3304677a", "9fa82288ff2fca7f"),
    "Freeze-Wand": ("5ccefbb110cf938c", "ab9e2d5a28669bef", "da89e49864e510d3"),
    "Freeze-Random": ("049adb4901507217", "8ebf0289531a2b56", "8c9b7744c773a40a"),
    "LavaCross": ("c919400af1764a3f", "710335e9eca34319", "3e0dc065192bb059"),
    "WoD-Hard": ("9717abd5c5f5c103", "2f55c54fab5ab92f", "fb020fdc48b65bf9"),
    "Corridors-R5": ("6675a70c3eae37e8", "830213dd99172f2c", "17406389bd47ab75"),
    "KeyRoom-S10": ("2a349f2c49323bd8", "83357d1738ac706b", "6c6b82b81c5d8828"),
    "Staircase-Lvl2": ("d2ff649b10bfb328", "4098d3b8c0738548", "237fd305c6ec20e1"),
    "Staircase-Lvl3": ("e8a86f8a42b369d3", "0fd0c29a48945e11", "237fd305c6ec20e1"),
    "Staircase-Lvl4": ("c5f2a479fe03b7d7", "0fd0c29a48945e11", "237fd305c6ec20e1"),
}


def _update(h: Any, *xs: Any) -> None:
    for x in xs:
        if isinstance(x, dict):
            for k in sorted(x):
                _update(h, k, x[k])
        elif isinstance(x, np.ndarray):
            h.update(f"{x.dtype}{x.shape}".encode() + np.ascontiguousarray(x).tobytes())
        else:
            h.update(repr(x).encode())


def level_digest(task: str) -> str:
    """Contexts 0..29 of offset 3 (plus 0..4 for each other structure) and one padded batch."""
    h = hashlib.sha256()
    for structure in STRUCTURES:
        src = LevelSource(TASKS[task], None, 3, structure)
        for c in range(30 if structure == "all" else 5):
            lv = src.generate(c)
            _update(h, lv.cells, lv.start, lv.monsters)
        _update(h, *[x for x in _v0_layout(src.levels(np.arange(4))) if x is not None])
    return h.hexdigest()[:16]


def _v0_layout(batch: LevelBatch) -> LevelBatch:
    """A padded batch as v0 laid it out: its maps had 8 stone columns on each side as well (since dropped:
    the observed window of each map is now one contiguous block), so x of its positions was 8 more."""
    side = ((0, 0),) * (batch.cells.ndim - 1) + ((8, 8),)
    stone = {"glyph": CELL_GLYPH, "char": CELL_CHAR, "color": CELL_COLOR}
    layers = {name: None if (x := getattr(batch, name)) is None else
              np.pad(x, side[1:], constant_values=stone[name][Cell.STONE]) for name in stone}
    return LevelBatch(np.pad(batch.cells, side, constant_values=Cell.STONE), batch.start + [0, 8],
                      batch.monsters + [0, 8], **layers)


def single_digest(task: str) -> str:
    """600 random steps with resets, with fresh levels and with 3 contexts."""
    h = hashlib.sha256()
    for kwargs in ({}, {"num_contexts": 3}):
        env = gym.make(env_id(task), **kwargs)
        rng = np.random.default_rng(7)
        _update(h, *env.reset(seed=5))
        for a in rng.integers(0, env.action_space.n, 600):
            out = env.step(a)
            _update(h, *out)
            if out[2] or out[3]:
                _update(h, *env.reset())
    return h.hexdigest()[:16]


def vector_digest(task: str) -> str:
    """150 random steps of 8 batched envs (NEXT_STEP autoreset)."""
    h = hashlib.sha256()
    envs = gym.make_vec(env_id(task), num_envs=8, vectorization_mode="vector_entry_point")
    rng = np.random.default_rng(8)
    _update(h, *envs.reset(seed=11))
    for a in rng.integers(0, envs.single_action_space.n, (150, 8)):
        _update(h, *envs.step(a))
    return h.hexdigest()[:16]


def test_every_task_is_pinned():
    assert set(V0) == set(TASKS)


@pytest.mark.parametrize("task", sorted(V0))
def test_v0_levels_and_trajectories_are_unchanged(task):
    assert (level_digest(task), single_digest(task), vector_digest(task)) == V0[task]
