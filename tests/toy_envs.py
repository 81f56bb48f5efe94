"""Tiny deterministic envs with known reward and observation sequences, for exact expected values."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np


class CountdownEnv(gym.Env):
    """An episode of exactly `length` steps; obs = [t, offset]; reward 1 on the last step, else 0.

    The last step terminates, or truncates when `truncate=True`. A potential phi(obs) = t + offset + 1
    is non-zero everywhere, so using the auto-reset observation instead of the true final one, or
    keeping Phi at termination, changes the shaped sums tests check.
    """

    metadata = {"render_modes": []}

    def __init__(self, length: int = 3, offset: float = 0.0, truncate: bool = False):
        self.length, self.offset, self.truncate = length, offset, truncate
        self.observation_space = gym.spaces.Box(-1e6, 1e6, (2,), np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t, self.offset], dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        done = self.t >= self.length
        return self._obs(), float(done), done and not self.truncate, done and self.truncate, {}


def phi_countdown(obs):
    """Potential for CountdownEnv: t + offset + 1."""
    return obs[:, 0] + obs[:, 1] + 1.0


class FiveStepEnv(gym.Env):
    """`length` (5) steps per episode; reward 1 for action 1, else 0; success when the episode's reward is at least 3.

    `delay` sleeps that many seconds per step, so a sweep over it can be killed mid-run.
    """

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


class MultiBinaryEnv(gym.Env):
    """A one-step env with a MultiBinary action space, which the PPO trainers refuse."""

    observation_space = gym.spaces.Box(0, 1, (1,))
    action_space = gym.spaces.MultiBinary(2)

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, True, False, {}
