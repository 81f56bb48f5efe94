"""Gymnasium spaces of one gridhack sub-env (NLE-style Dict observations, Discrete actions)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rewardlab.envs.gridhack import tiles
from rewardlab.envs.gridhack.rules import HP_MAX

__all__ = ["observation_space", "action_space"]


def observation_space(keys: tuple[str, ...], depth: int) -> spaces.Dict:
    """The Dict space of the observation keys `keys` for a task with `depth` dungeon levels."""
    hw, crop = (tiles.H, tiles.W), (tiles.CROP, tiles.CROP)
    high_bl = np.array([tiles.W - 1, tiles.H - 1, HP_MAX, depth, 1, 5, 1, 2**31 - 1], dtype=np.int64)
    every = {
        "glyphs": spaces.Box(0, tiles.MAX_GLYPH - 1, hw, dtype=np.int16),
        "chars": spaces.Box(0, 127, hw, dtype=np.uint8),
        "colors": spaces.Box(0, 15, hw, dtype=np.uint8),
        "glyphs_crop": spaces.Box(0, tiles.MAX_GLYPH - 1, crop, dtype=np.int16),
        "blstats": spaces.Box(np.zeros(tiles.BLSTATS_LEN, dtype=np.int64), high_bl, dtype=np.int64),
        "message": spaces.Box(0, 127, (tiles.MESSAGE_BYTES,), dtype=np.uint8),
    }
    return spaces.Dict({k: every[k] for k in keys})


def action_space(n: int) -> spaces.Discrete:
    return spaces.Discrete(n)
