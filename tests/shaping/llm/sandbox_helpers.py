"""Shared pieces of the gate/sandbox/LLMReward tests: reward programs, process listing, a counter env."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np

HEADER = "import numpy as np\ndef compute_reward(obs, action, next_obs, info):\n"

#: A valid MountainCar reward (progress to the right plus the success bonus), as components.
GOOD = HEADER + (
    "    progress = 10.0 * (next_obs.position - obs.position)\n"
    "    bonus = 10.0 * info['is_success']\n"
    "    return progress + bonus, {'progress': progress, 'bonus': bonus}\n"
)

MOUNTAINCAR = "rewardlab/Sparse-MountainCar-v0"


def body(*lines: str) -> str:
    """compute_reward with the given body lines (indented for you)."""
    return HEADER + "".join(f"    {line}\n" for line in lines)


def child_pids() -> set[int]:
    """Direct children of this process, read from /proc (no psutil needed)."""
    me, out = os.getpid(), set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:
                out.add(int(name))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class CounterEnv(gym.Env):
    """obs = [t] (the step count); a Discrete(2) action; reward 0; never ends on its own.

    A reward program can key on ``obs.x0`` (the generic descriptor's field) to misbehave from a
    known step on, e.g. loop forever from step 500.
    """

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 1e6, (1,), np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0]), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t)]), 0.0, False, False, {}
