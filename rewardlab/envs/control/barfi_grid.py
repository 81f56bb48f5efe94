"""BonusGrid: a small gridworld with a farmable bonus tile, the test bed of learned blends (spec H16).

The gridworld of BARFI's study (Gupta et al., NeurIPS 2023) in miniature: a sparse goal, plus two
auxiliary rewards published in ``info`` for shaping terms to read, one misleading (a bonus that can
be farmed forever) and one helpful (the negative distance to the goal). Functions
:func:`farm_bonus` and :func:`neg_distance` turn them into reward terms:
``{"type": "FromFunction", "fn": "rewardlab.envs.control.barfi_grid:farm_bonus"}``.

Registered as ``rewardlab/BonusGrid-v0`` (5x5, 30 steps) by :func:`register_envs`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rewardlab.envs.actions import check_discrete, finished
from rewardlab.envs.control.base import info_reward
from rewardlab.errors import InvalidParameter

__all__ = ["BonusGrid", "descriptor", "farm_bonus", "neg_distance", "register_envs", "ENV_ID"]

ENV_ID = "rewardlab/BonusGrid-v0"
_MOVES = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])  # right, down, left, up as (dx, dy)


class BonusGrid(gym.Env[np.ndarray, np.int64]):
    """A ``size x size`` grid: start in the centre, goal in one corner, a farmable bonus in the opposite one.

    ## Description
    The agent starts at the centre cell and must reach the goal at the bottom-right corner. The
    top-left corner is a bonus tile that pays ``bonus`` on every step spent on it (moving into a
    wall stays put, so the tile can be farmed until the time limit). With the bonus simply added to
    the task reward, farming beats reaching the goal; the task itself pays only the goal.

    ## Action Space
    ``Discrete(4)``: 0 right, 1 down, 2 left, 3 up. A move into the border leaves the agent in place.

    ## Observation Space
    ``Box(0, 1, (size*size,), float32)``: a one-hot of the agent's cell (row-major).

    ## Rewards
    1 on reaching the goal, else 0. ``info["bonus"]``: ``bonus`` when the agent is on the bonus tile
    after the step, else 0. ``info["neg_distance"]``: minus the Manhattan distance to the goal after
    the step, divided by its largest value ``2 (size - 1)`` (in [-1, 0]).

    ## Episode End
    Terminates on the goal (``info["is_success"]`` True); truncated after ``horizon`` steps. An
    action outside the space raises ``InvalidAction``, a step after the end ``EpisodeFinished``
    (the action contract, ``docs/contracts.md``).

    ## Arguments
    ``size`` (odd, >= 3; default 5), ``bonus`` (the tile's pay per step; default 0.2), ``horizon``
    (steps per episode; default 30).

    Example:
        >>> env = BonusGrid()
        >>> obs, info = env.reset(seed=0)
        >>> int(obs.argmax()), info["neg_distance"]            # centre cell of 5x5, distance 4 of 8
        (12, -0.5)
        >>> for a in (2, 2, 3, 3):                               # left, left, up, up: the bonus corner
        ...     obs, r, term, trunc, info = env.step(a)
        >>> int(obs.argmax()), r, info["bonus"], term
        (0, 0.0, 0.2, False)
        >>> env.step(3)[4]["bonus"]                              # bumping the wall farms it again
        0.2
    """

    metadata = {"render_modes": []}

    def __init__(self, size: int = 5, bonus: float = 0.2, horizon: int = 30):
        if isinstance(size, bool) or not isinstance(size, int) or size < 3 or size % 2 == 0:
            raise InvalidParameter(f"`size` must be an odd integer >= 3 (the start is the centre cell). Received {size!r}")
        if isinstance(bonus, bool) or not isinstance(bonus, (int, float)) or not np.isfinite(bonus):
            raise InvalidParameter(f"`bonus` must be a finite number. Received {bonus!r}")
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise InvalidParameter(f"`horizon` must be a positive integer. Received {horizon!r}")
        self.size, self.bonus, self.horizon = size, float(bonus), horizon
        self._t, self._done = 0, False
        self.observation_space = gym.spaces.Box(0.0, 1.0, (size * size,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.start = np.array([size // 2, size // 2])
        self.goal = np.array([size - 1, size - 1])
        self.bonus_cell = np.array([0, 0])
        self.pos = self.start.copy()

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.size * self.size, dtype=np.float32)
        obs[self.pos[1] * self.size + self.pos[0]] = 1.0
        return obs

    def _info(self) -> dict[str, Any]:
        distance = int(np.abs(self.goal - self.pos).sum())
        on_bonus = bool((self.pos == self.bonus_cell).all())
        return {
            "is_success": distance == 0,
            "bonus": self.bonus if on_bonus else 0.0,
            "neg_distance": -distance / (2.0 * (self.size - 1)),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.pos = self.start.copy()
        self._t, self._done = 0, False
        info = self._info()
        info["bonus"] = 0.0
        return self._obs(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise finished("`BonusGrid`")
        a = check_discrete(action, 4, self.action_space)
        self.pos = np.clip(self.pos + _MOVES[a], 0, self.size - 1)
        self._t += 1
        info = self._info()
        terminated = bool(info["is_success"])
        truncated = not terminated and self._t >= self.horizon
        self._done = terminated or truncated
        return self._obs(), float(terminated), terminated, truncated, info


def farm_bonus(t: Any) -> np.ndarray:
    """The bonus tile's pay of each step (``info["bonus"]``), for ``FromFunction``: the misleading aux reward."""
    return info_reward(t, "bonus")


def neg_distance(t: Any) -> np.ndarray:
    """Minus the normalised distance to the goal after each step (``info["neg_distance"]``): the helpful aux reward."""
    return info_reward(t, "neg_distance")


_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Get closer to the goal corner; the task's success. (The bonus tile is a trap: it is not the task.)
    closer = 1.0 * (info["neg_distance"] + 1.0) * 0.1
    success = 1.0 * info["is_success"]
    total = closer + success
    return total, {"closer": closer, "success": success}
'''


def descriptor() -> Any:
    """What LLM-written reward code sees of ``rewardlab/BonusGrid-v0`` (every registered id has one)."""
    from rewardlab.shaping.llm.views import EnvDescriptor, Field

    return EnvDescriptor(
        env_id=ENV_ID,
        summary=("A 5x5 grid: the agent starts in the centre and must reach the goal in the bottom-right corner "
                 "(the task pays 1 there and the episode ends); the top-left corner is a bonus tile. Episodes last 30 steps."),
        fields=(Field("cell", "one-hot of the agent's cell, shape (25,), row-major (cell 24 is the goal, 0 the bonus tile)",
                      low=0.0, high=1.0, index=tuple(range(25)), kind="array"),),
        action="a python int: 0 right, 1 down, 2 left, 3 up (a move into the border stays put)",
        action_kind="discrete",
        info=(("is_success", "True on the step that reaches the goal"),
              ("bonus", "0.2 on a step that ends on the bonus tile, else 0.0"),
              ("neg_distance", "minus the Manhattan distance to the goal after the step, divided by 8 (in [-1, 0])")),
        success="the agent's cell is the goal (bottom-right corner) after the step",
        example=_EXAMPLE,
    )


def register_envs() -> None:
    """Register ``rewardlab/BonusGrid-v0`` (5x5, bonus 0.2, 30 steps) and its descriptor."""
    from rewardlab.shaping.llm.views import register_descriptor

    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point="rewardlab.envs.control.barfi_grid:BonusGrid")  # its own 30-step horizon
    register_descriptor(ENV_ID, descriptor)

