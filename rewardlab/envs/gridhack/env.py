"""The single-env Gymnasium front of gridhack: the batched core at B = 1. Vector twin: :class:`GridhackVectorEnv`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rewardlab._array import host
from rewardlab.envs.actions import INT_TYPES, check_discrete, finished
from rewardlab.envs.gridhack import render, spaces
from rewardlab.envs.gridhack.core import OBSERVATION_KEYS, GridhackCore
from rewardlab.envs.gridhack.rules import MAP_WINDOW
from rewardlab.envs.gridhack.tasks import TASKS, TaskSpec
from rewardlab.envs.gridhack.tiles import MESSAGE_TABLE, decode_message
from rewardlab.errors import InvalidParameter, did_you_mean

__all__ = ["GridhackEnv", "task_spec", "RENDER_MODES"]

RENDER_MODES = ("ansi", "rgb_array")


def task_spec(task: str) -> TaskSpec:
    """The :class:`TaskSpec` named `task` (e.g. ``"KeyRoom-S10"``)."""
    if task not in TASKS:
        raise InvalidParameter(f"`task` must be one of the gridhack tasks {sorted(TASKS)}. "
                               f"Received {task!r}.{did_you_mean(str(task), TASKS)}")
    return TASKS[task]


def check_render_mode(render_mode: str | None) -> str | None:
    # An unknown mode would only fail at the first render() call, far from the typo.
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise InvalidParameter(f"`render_mode` must be None or one of {RENDER_MODES}. Received {render_mode!r}")
    return render_mode


class GridhackEnv(gym.Env[dict, np.int64]):
    """A native, fast NetHack-like dungeon task (one of the ``rewardlab/Gridhack-<Task>-v0`` ids).

    ## Description
    MiniHack-style navigation and skill tasks on NetHack's 21x79 map, generated procedurally with
    numpy and stepped by a batched array-API core (:class:`GridhackCore`); this class is that core
    at B = 1. Doors open on bump, locked doors yield to a kick or a key, lava kills unless the agent
    levitates, jackals wander and bite, a minotaur guards WoD-Hard's corridor. The whole map is
    visible. ``rewardlab.envs.gridhack.TASKS`` lists the tasks with a one-line description each.

    ## Action Space
    ``Discrete(n)`` over the task's restricted command set (``action_set="full"``: all 15):
    the 8 compass moves N, E, S, W, NE, SE, SW, NW (NetHack's k l j h u n b y), then, as the task
    needs them, pickup, apply, quaff, wear, zap, kick (apply, zap and kick ask "In what
    direction?"; the next move key answers) and down (``>``). ``env.unwrapped.actions`` names them.
    An action is a Python int or numpy integer in ``[0, n)``; anything else (``2.7``, ``"3"``,
    ``True``, an array) raises :class:`~rewardlab.errors.InvalidAction` (docs/contracts.md).

    ## Observation Space
    A Dict with NLE's keys (``observation_keys`` picks a subset): ``glyphs`` (21, 79) int16,
    ``chars`` and ``colors`` (21, 79) uint8, ``glyphs_crop`` (9, 9) int16 centred on the agent,
    ``blstats`` (8,) int64 = x, y, hp, depth, has_key, item, levitating, time (``blstats[:2]`` is the
    position count key), ``message`` (256,) uint8 from a fixed vocabulary (``tiles.MESSAGES``).

    ## Rewards
    +1 on success, plus ``penalty_step`` on every step (0 by default; MiniHack uses -0.01).

    ## Success
    ``info["is_success"]``: the agent reached the stairs down (Staircase tasks: descended to the
    target dungeon level with ``>``).

    ## Potentials
    ``subgoal_distance``: minus the shortest-path distance to the current subgoal (key, door,
    item, river bank, goal), minus 100 per subgoal still ahead; computed from ``glyphs`` and ``blstats``.

    ## Starting State
    A level from the context pool (``num_contexts``) drawn with the env's ``np_random``.

    ## Episode End
    Terminated on success or death (lava, or hp 0); truncated by the registered time limit.
    Stepping after the env itself terminated or truncated (``max_episode_steps`` here) raises
    :class:`~rewardlab.errors.EpisodeFinished` until ``reset``; Gymnasium's ``TimeLimit`` wrapper,
    which ``gym.make`` adds, truncates outside the env and lets a caller step on, as in Gymnasium.

    ## Arguments
    ``task`` (set by the id), ``num_contexts`` (int k: a pool of k levels; None: a fresh level every
    episode; Labyrinth-Big registers 1), ``context_seed_offset`` (disjoint train/test pools),
    ``structure`` ("all", "layout_only", "objects_only"), ``observation_keys``, ``penalty_step``,
    ``action_set`` ("restricted", "full"), ``render_mode`` ("ansi", "rgb_array"),
    ``max_episode_steps`` (truncation inside the core; ``gym.make`` adds a TimeLimit instead).

    ## Vectorized environment
    ``gym.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point")`` returns
    :class:`GridhackVectorEnv`, the same core at B (NEXT_STEP autoreset); ``backend="torch"`` on the
    core runs it on a torch device.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Gridhack-KeyRoom-S10-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs["glyphs"].shape, obs["blstats"].tolist()[:4], info["context_id"] >= 0
        ((21, 79), [25, 12, 12, 1], True)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> reward, terminated, info["is_success"]
        (0.0, False, False)
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 8}

    def __init__(self, task: str, *, num_contexts: int | None = None, context_seed_offset: int = 0,
                 structure: str = "all", observation_keys: tuple[str, ...] = OBSERVATION_KEYS,
                 penalty_step: float = 0.0, action_set: str = "restricted", render_mode: str | None = None,
                 max_episode_steps: int | None = None):
        spec = task_spec(task)
        self.render_mode = check_render_mode(render_mode)
        self.core = GridhackCore(spec, 1, observation_keys=tuple(observation_keys), max_episode_steps=max_episode_steps,
                                 penalty_step=penalty_step, num_contexts=num_contexts,
                                 context_seed_offset=context_seed_offset, structure=structure, action_set=action_set)
        self.task = spec
        self.actions = self.core.actions
        self.observation_space = spaces.observation_space(self.core.observation_keys, spec.depth)
        self.action_space = spaces.action_space(len(self.actions))
        self._n_actions = len(self.actions)
        self._action = np.zeros(1, dtype=np.int64)
        self._all = np.ones(1, dtype=bool)
        self._done = False

    @staticmethod
    def describe(task: str, **kwargs: Any) -> str:
        """One line for `rewardlab envs`: the task's own summary."""
        return f"Gridhack {task}: {TASKS[task].doc}"

    def _obs(self) -> dict[str, np.ndarray]:
        return self.core.observe(0)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.core.reset_rows(self._all, self.np_random)
        self._done = False
        return self._obs(), {"context_id": int(self.core.context_id[0])}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        # A finished level would keep playing (the core does not autoreset a single env).
        if self._done:
            raise finished(f"`{self.task.name}`")
        # int() would turn 2.7 into 2 and True into 1, and an index outside the action set would wrap
        # around in the lookup table. Inlined fast path for ints in range (this step runs 30k+ times a
        # second); everything else goes through check_discrete, which accepts or names the problem.
        if type(action) in INT_TYPES and 0 <= (a := int(action)) < self._n_actions:
            self._action[0] = a
        else:
            self._action[0] = check_discrete(action, self._n_actions, self.action_space)
        core = self.core
        reward, terminated, truncated = core.step(self._action)
        # item() reads a (1,) array's only value as a Python scalar in one call
        terminated, truncated = terminated.item(), truncated.item()
        self._done = terminated or truncated
        info = {"context_id": core.context_id.item(), "is_success": core.success.item()}
        return core.observe(0), reward.item(), terminated, truncated, info

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("Calling render() without a render_mode; pass render_mode='ansi' or 'rgb_array'.")
            return None
        return render_row(self.core, 0, self.render_mode)


def render_row(core: GridhackCore, i: int, mode: str) -> str | np.ndarray:
    """Render sub-env `i` of a core as text or as a tile image."""
    glyphs = host(core.glyph[(i, *MAP_WINDOW)])  # a tensor on any device (torch backend) comes to the host
    if mode == "rgb_array":
        return render.rgb(glyphs)
    bl = host(core.stats[:, i] - core._bl_offset)
    return render.ansi(glyphs, decode_message(MESSAGE_TABLE[int(core.msg[i])]), bl)
