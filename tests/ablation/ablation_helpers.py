"""A tiny env and reward functions for the ablation tests, importable in spawned run processes and Ray workers.

`gym.make("ablation_helpers:Tiny-v0")` imports this module, which registers the env.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import gymnasium as gym

from toy_envs import FiveStepEnv

gym.register("Tiny-v0", entry_point=FiveStepEnv)


def boom(t):
    raise RuntimeError("boom: this reward function always crashes")


def remount_ro(path: Path) -> None:
    """Make a tmpfs mounted by the ``tmpfs`` fixture (conftest.py) read-only."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
