"""A tiny env and reward functions for the ablation tests, importable in spawned run processes and Ray workers.

`gym.make("ablation_helpers:Tiny-v0")` imports this module, which registers the env.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np


class TinyEnv(gym.Env):
    """5 steps per episode; reward 1 for action 1, else 0; success when the episode's reward is at least 3."""

    def __init__(self, delay: float = 0.0, length: int = 5):
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.delay, self.length = delay, length
        self._t = self._total = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = self._total = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        if self.delay:
            time.sleep(self.delay)
        self._t += 1
        reward = float(action == 1)
        self._total += reward
        terminated = self._t >= self.length
        info = {"is_success": self._total >= 3} if terminated else {}
        return np.array([self._t / self.length], np.float32), reward, terminated, False, info


gym.register("Tiny-v0", entry_point=TinyEnv)


def boom(t):
    raise RuntimeError("boom: this reward function always crashes")
