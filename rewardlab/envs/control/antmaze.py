"""Sparse AntMaze on gymnasium-robotics (needs the ``robotics`` extra).

Classes: :class:`SparseAntMazeUMaze`; potential :func:`maze_neg_distance`.

AntMaze builds and steps on mujoco 4.0 with gymnasium-robotics 1.4.2 as released; the
``mujoco_utils`` joint-type shim of spec §2.2 is needed only by Fetch, Hand and FrankaKitchen,
which rewardlab does not register.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rewardlab.envs.control.base import ControlTask

__all__ = ["SparseAntMazeUMaze", "maze_neg_distance", "GOAL_RADIUS"]

#: The maze envs' own success radius (gymnasium_robotics/envs/maze/maze_v4.py, ``compute_reward``).
GOAL_RADIUS = 0.45


def maze_neg_distance(obs: dict[str, Any]) -> Any:
    """Minus the distance from the ant's xy to the goal, for a batch of dict observations, shape (N,)."""
    return -np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"], axis=-1)


class SparseAntMazeUMaze(ControlTask):
    """AntMaze_UMaze-v5 as an episodic task: +1 and terminate within 0.45 of the goal.

    ## Description
    gymnasium-robotics' AntMaze_UMaze-v5 (from D4RL) with ``continuing_task=False``: an 8-DoF ant
    must walk around the U-shaped maze to the goal. The base env is built with
    ``reward_type="dense"`` so that its own reward is the dense reference, ``exp(-d)`` (what
    ``AntMaze_UMazeDense-v5`` pays).

    ## Action Space
    ``Box(-1, 1, (8,))``: hip and ankle torques.
    Entries outside the bounds are clipped to them; NaN, inf or a wrong shape raise
    :class:`~rewardlab.errors.InvalidAction` (see :class:`ControlTask`).

    ## Observation Space
    ``Dict(achieved_goal: Box(2,), desired_goal: Box(2,), observation: Box(105,))``, the base env's
    goal-conditioned observation (SB3: ``MultiInputPolicy``; HER-compatible).

    ## Rewards
    Sparse: 1.0 on the step that reaches the goal, else 0.0 (the base env's native sparse reward).
    Dense (``Dense-AntMaze-UMaze-v0``): ``exp(-d)``, AntMaze_UMazeDense-v5's reward.

    ## Success
    ``d = ||achieved_goal - desired_goal|| <= 0.45`` (the native criterion, ``info["success"]``).

    ## Potentials
    ``neg_distance``: ``-d`` (Euclidean, through walls).

    ## Starting State
    The base env's: ant and goal in opposite ends of the U, with 0.25 xy noise.

    ## Episode End
    Terminates at the goal (base env, ``continuing_task=False``); truncates after
    ``horizon = 700`` steps (gymnasium-robotics' limit, spec §3.3).

    ## Arguments
    ``reward``, ``delay``, ``horizon``, ``render_mode``: see :class:`ControlTask`.

    ## Vectorized environment
    Use ``gym.make_vec(..., vectorization_mode="sync")``.

    ## Version History
    * v0: initial release.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = gym.make("rewardlab/Sparse-AntMaze-UMaze-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> _, reward, terminated, _, info = env.step(np.zeros(8, dtype=np.float32))
        >>> reward, terminated, info["is_success"], sorted(obs)
        (0.0, False, False, ['achieved_goal', 'desired_goal', 'observation'])
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 50}
    base_id = "AntMaze_UMaze-v5"
    base_kwargs: ClassVar[dict[str, Any]] = {"continuing_task": False, "reward_type": "dense"}
    base_module = "gymnasium_robotics"
    default_horizon = 700
    terminate_on_success = True
    extra = "robotics"

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        batch = {k: v[None] for k, v in obs.items()}
        return bool(-maze_neg_distance(batch)[0] <= GOAL_RADIUS)
