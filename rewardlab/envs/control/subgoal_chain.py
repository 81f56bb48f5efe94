"""SubgoalChain: ordered sub-goals with farmable step rewards, the test bed of gated accumulation (G-RA).

The multi-turn setting of "Stabilizing Long-term Multi-turn RL with Gated Rewards" (Sun et al. 2025,
arXiv 2508.10548) in miniature: a task made of ``K`` sub-goals reached in order, an **outcome
reward** only on completing all of them, and an **immediate reward** for every step that enters a
sub-goal cell, paid again on every re-entry of one already reached. The immediate reward can be
collected without ever finishing, so summing it with the outcome (direct accumulation, D-RA)
makes farming worth more than completing; G-RA pays it only when the outcome meets a threshold.
Both rewards are published in ``info`` for terms to read: :func:`immediate` and :func:`outcome`
turn them into reward terms, ``{"type": "FromFunction", "fn": "rewardlab.envs.control.subgoal_chain:immediate"}``.

Registered as ``rewardlab/SubgoalChain-v0`` (4x4, 3 sub-goals, 40 steps) by :func:`register_envs`.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from rewardlab.envs.actions import check_discrete, finished
from rewardlab.envs.control.base import info_reward
from rewardlab.errors import InvalidParameter

__all__ = ["SubgoalChain", "descriptor", "immediate", "outcome", "register_envs", "ENV_ID"]

ENV_ID = "rewardlab/SubgoalChain-v0"
_MOVES = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])  # right, down, left, up as (dx, dy)


def _corners(size: int) -> tuple[tuple[int, int], ...]:
    # the three corners other than the start (0, 0), clockwise: top-right, bottom-right, bottom-left
    return ((size - 1, 0), (size - 1, size - 1), (0, size - 1))


class SubgoalChain(gym.Env[np.ndarray, np.int64]):
    """A ``size x size`` grid with ``K`` sub-goal cells to reach in order; re-entering a reached one pays again.

    ## Description
    The agent starts in the top-left cell (0, 0) and must reach the sub-goal cells in their order
    (default: the other three corners, clockwise). The episode's outcome is 1 when the last one is
    reached, else 0. A step that moves the agent onto the next sub-goal, or onto one it already
    reached, pays the immediate reward ``step_reward``: moving off a reached sub-goal and back on
    (two steps) pays it again, as often as the time limit allows. Staying put (a move into the
    border) pays nothing. Sub-goals ahead of the next one pay nothing until their turn.

    With the defaults (4x4, 0.1, 40 steps), completing by the shortest path (9 steps) is worth
    ``1 + 3 x 0.1 = 1.3`` summed, while farming the first sub-goal until the limit is worth
    ``0.1 + 18 x 0.1 = 1.9`` with outcome 0: direct accumulation prefers farming.

    ## Action Space
    ``Discrete(4)``: 0 right, 1 down, 2 left, 3 up. A move into the border leaves the agent in place.

    ## Observation Space
    ``Box(0, 1, (size*size + K + 1,), float32)``: a one-hot of the agent's cell (row-major, cell
    ``y * size + x``), then a one-hot of the number of sub-goals reached (0..K).

    ## Rewards
    The outcome: 1 on the step that reaches the last sub-goal, else 0 (the task reward).
    ``info["immediate"]``: ``step_reward`` on a step that enters the next or a reached sub-goal,
    else 0. ``info["outcome"]``: the step's outcome (the reward itself). ``info["progress"]``: the
    number of sub-goals reached after the step.

    ## Episode End
    Terminates on the last sub-goal (``info["is_success"]`` True); truncated after ``horizon``
    steps. An action outside the space raises ``InvalidAction``, a step after the end
    ``EpisodeFinished`` (the action contract, ``docs/contracts.md``).

    ## Arguments
    ``size`` (>= 2; default 4), ``subgoals`` (distinct ``(x, y)`` cells inside the grid, not the
    start; default the other three corners clockwise), ``step_reward`` (the immediate reward;
    default 0.1), ``horizon`` (steps per episode; default 40).

    Example:
        >>> env = SubgoalChain()
        >>> obs, info = env.reset(seed=0)
        >>> int(obs[:16].argmax()), int(obs[16:].argmax()), info["immediate"]   # cell (0, 0), 0 reached
        (0, 0, 0.0)
        >>> for a in (0, 0, 0):                                  # right x3: the first sub-goal (3, 0)
        ...     obs, r, term, trunc, info = env.step(a)
        >>> r, info["immediate"], info["progress"]
        (0.0, 0.1, 1)
        >>> [env.step(a)[4]["immediate"] for a in (2, 0, 3)]    # off and back on pays again; a wall bump does not
        [0.0, 0.1, 0.0]
    """

    metadata = {"render_modes": []}

    def __init__(self, size: int = 4, subgoals: Sequence[Sequence[int]] | None = None, step_reward: float = 0.1,
                 horizon: int = 40):
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise InvalidParameter(f"`size` must be an integer >= 2. Received {size!r}")
        if isinstance(step_reward, bool) or not isinstance(step_reward, (int, float)) or not np.isfinite(step_reward):
            raise InvalidParameter(f"`step_reward` must be a finite number. Received {step_reward!r}")
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise InvalidParameter(f"`horizon` must be a positive integer. Received {horizon!r}")
        self.size, self.step_reward, self.horizon = size, float(step_reward), horizon
        self.subgoals = self._check_subgoals(_corners(size) if subgoals is None else subgoals, size)
        k = len(self.subgoals)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (size * size + k + 1,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.start = np.array([0, 0])
        self.pos, self.progress = self.start.copy(), 0
        self._t, self._done = 0, False

    @staticmethod
    def _check_subgoals(subgoals: Any, size: int) -> tuple[tuple[int, int], ...]:
        try:
            cells = tuple((int(x), int(y)) for x, y in subgoals)
            exact = all(float(x) == cx and float(y) == cy for (x, y), (cx, cy) in zip(subgoals, cells))
        except (TypeError, ValueError):
            raise InvalidParameter(f"`subgoals` must be a sequence of (x, y) integer cells. Received {subgoals!r}") from None
        if not cells or not exact:
            raise InvalidParameter(f"`subgoals` must be a non-empty sequence of (x, y) integer cells. Received {subgoals!r}")
        if len(set(cells)) != len(cells):
            raise InvalidParameter(f"`subgoals` must be distinct cells. Received {cells}")
        bad = [c for c in cells if not (0 <= c[0] < size and 0 <= c[1] < size) or c == (0, 0)]
        if bad:
            raise InvalidParameter(f"`subgoals` must lie inside the {size}x{size} grid and not on the start (0, 0). Received {bad}")
        return cells

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        obs[self.pos[1] * self.size + self.pos[0]] = 1.0
        obs[self.size * self.size + self.progress] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.pos, self.progress = self.start.copy(), 0
        self._t, self._done = 0, False
        return self._obs(), {"is_success": False, "immediate": 0.0, "outcome": 0.0, "progress": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise finished("`SubgoalChain`")
        a = check_discrete(action, 4, self.action_space)
        new = np.clip(self.pos + _MOVES[a], 0, self.size - 1)
        entered = (int(new[0]), int(new[1])) if (new != self.pos).any() else None  # a wall bump enters nothing
        self.pos = new
        self._t += 1
        pay = 0.0
        if entered is not None and entered == self.subgoals[self.progress]:
            self.progress += 1  # the next sub-goal, in order
            pay = self.step_reward
        elif entered is not None and entered in self.subgoals[: self.progress]:
            pay = self.step_reward  # a reached sub-goal, entered again: the farmable part
        terminated = self.progress == len(self.subgoals)
        truncated = not terminated and self._t >= self.horizon
        self._done = terminated or truncated
        reward = float(terminated)
        info = {"is_success": terminated, "immediate": pay, "outcome": reward, "progress": self.progress}
        return self._obs(), reward, terminated, truncated, info


def immediate(t: Any) -> np.ndarray:
    """Each step's immediate (sub-goal) reward, ``info["immediate"]``, for ``FromFunction``: the farmable part."""
    return info_reward(t, "immediate")


def outcome(t: Any) -> np.ndarray:
    """Each step's outcome reward, ``info["outcome"]`` (1 on completing every sub-goal), for ``FromFunction``."""
    return info_reward(t, "outcome")


_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # The task's success, plus a little for each sub-goal newly reached (never for re-entering one).
    new_subgoal = 0.1 * float(info["progress"] > obs.reached.argmax())
    success = 1.0 * info["is_success"]
    total = new_subgoal + success
    return total, {"new_subgoal": new_subgoal, "success": success}
'''


def descriptor() -> Any:
    """What LLM-written reward code sees of ``rewardlab/SubgoalChain-v0`` (every registered id has one)."""
    from rewardlab.shaping.llm.views import EnvDescriptor, Field

    return EnvDescriptor(
        env_id=ENV_ID,
        summary=("A 4x4 grid: the agent starts in the top-left cell and must reach three sub-goal cells in order, the "
                 "top-right, bottom-right and bottom-left corners; the task pays 1 when the last is reached and the "
                 "episode ends. Entering a sub-goal already reached pays a step reward again. Episodes last 40 steps."),
        fields=(Field("cell", "one-hot of the agent's cell, shape (16,), row-major (cell y*4 + x; the sub-goals are cells 3, 15, 12)",
                      low=0.0, high=1.0, index=tuple(range(16)), kind="array"),
                Field("reached", "one-hot of the number of sub-goals reached so far, shape (4,) (index 3 only on the final step)",
                      low=0.0, high=1.0, index=(16, 17, 18, 19), kind="array"),),
        action="a python int: 0 right, 1 down, 2 left, 3 up (a move into the border stays put)",
        action_kind="discrete",
        info=(("is_success", "True on the step that reaches the last sub-goal"),
              ("immediate", "0.1 on a step that enters the next sub-goal or one already reached, else 0.0"),
              ("outcome", "1.0 on the step that reaches the last sub-goal, else 0.0"),
              ("progress", "number of sub-goals reached after the step (0 to 3)")),
        success="all three sub-goals reached in order (the bottom-left corner last)",
        example=_EXAMPLE,
    )


def register_envs() -> None:
    """Register ``rewardlab/SubgoalChain-v0`` (4x4, 3 sub-goals, step reward 0.1, 40 steps) and its descriptor."""
    from rewardlab.shaping.llm.views import register_descriptor

    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point="rewardlab.envs.control.subgoal_chain:SubgoalChain")  # its own 40-step horizon
    register_descriptor(ENV_ID, descriptor)


# The "module:id" env form of configs (``rewardlab.envs.control.subgoal_chain:rewardlab/SubgoalChain-v0``)
# imports this module and expects the id registered by the import; registering twice is a no-op.
register_envs()
