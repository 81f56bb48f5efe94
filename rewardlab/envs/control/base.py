"""The common core of the sparse control tasks: one Gymnasium env around a real base env.

A task subclass names its base env, its horizon and its success criterion; :class:`ControlTask`
does the rest: it pays the sparse success reward (or the dense reference reward for the ``Dense``
twin), optionally delays payment, owns the horizon, and reports ``is_success``, ``sparse_reward``
and ``dense_reward`` in ``info`` on every step.

Classes: :class:`ControlTask`; function :func:`make_base`.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import DependencyNotInstalled

from rewardlab.envs.actions import check_box, check_discrete, finished
from rewardlab.errors import InvalidParameter, MissingExtraError
from rewardlab.shaping.info import info_column

__all__ = ["ControlTask", "make_base", "info_reward", "dense_reference", "REWARD_MODES"]

REWARD_MODES = ("sparse", "dense")


def make_base(env_id: str, extra: str | None, module: str | None = None, **kwargs: Any) -> gym.Env:
    """The raw base env of `env_id` (no TimeLimit/checker wrappers), or a MissingExtraError naming `extra`.

    `env_id` is a registered id or a 'module:Class' entry point. `module` is imported first when the
    base id is registered by a plugin package (minigrid, gymnasium_robotics).
    """
    try:
        if module is not None:
            importlib.import_module(module)  # registers the plugin's ids
        if ":" in env_id:
            return gym.envs.registration.load_env_creator(env_id)(**kwargs)
        return gym.make(env_id, **kwargs).unwrapped
    except (ImportError, DependencyNotInstalled) as e:
        if extra is None:
            raise
        raise MissingExtraError(f"The base env `{env_id}`", extra, e) from e


def _check_delay(delay: Any) -> int | None:
    # k must be a positive step count: 0 or a negative k would never pay, a float would never divide evenly.
    if delay is None:
        return None
    if delay == "episode":
        return 0
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 1:
        raise InvalidParameter(f"`delay` must be None, 'episode' or an int >= 1 (pay every k steps). Received {delay!r}")
    return delay


class ControlTask(gym.Env):
    """Base class: a real Gymnasium/MiniGrid env with a sparse success reward and a dense reference.

    Subclasses set :attr:`base_id`, :attr:`base_kwargs`, :attr:`default_horizon`,
    :attr:`terminate_on_success`, :attr:`extra` and implement :meth:`_success`; they may override
    :meth:`_observe` (observation transform) and :meth:`_dense` (reference dense reward).

    Rewards:
        ``reward="sparse"`` (the ``Sparse-*`` ids) pays ``1.0`` on every step whose successor state
        meets the success criterion, else ``0.0``. ``reward="dense"`` (the ``Dense-*`` twins) pays
        the reference dense reward, ``info["dense_reward"]``. With ``delay=k`` the chosen reward is
        accumulated and paid every ``k`` steps and at episode end (0 in between); with
        ``delay="episode"`` it is paid only at episode end (LIRPG/IRCR-style delayed rewards). The
        undelayed values are always in ``info["sparse_reward"]`` and ``info["dense_reward"]``.

    Actions:
        The base env's action space. A Discrete action must be a Python int or numpy integer in
        range, a Box action a finite real array of the space's shape; anything else raises
        :class:`~rewardlab.errors.InvalidAction` (docs/contracts.md). Box entries outside
        ``[low, high]`` are clipped to the bounds before the base env sees them: MuJoCo clamps
        ``ctrl`` to its ``ctrlrange`` and MountainCarContinuous clips its force anyway, and clipping
        first makes the dense reference reward's control cost agree with what was applied.
        Stepping after the episode terminated or truncated raises
        :class:`~rewardlab.errors.EpisodeFinished` until ``reset``.

    Arguments:
        reward: ``"sparse"`` or ``"dense"``.
        delay: ``None`` (pay every step), an int ``k >= 1`` or ``"episode"``.
        horizon: episode length before truncation (default: the task's, see its docstring). The
            env truncates by itself, so ``spec.max_episode_steps`` is None; pass ``horizon=`` rather
            than ``max_episode_steps=`` so that delayed rewards are paid at the time limit.
        render_mode: passed to the base env.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = gym.make("rewardlab/Dense-MountainCar-v0", delay=2, horizon=5)
        >>> _ = env.reset(seed=0)
        >>> [env.step(1)[1] for _ in range(5)]  # -1 per step, paid in pairs and at the time limit
        [0.0, -2.0, 0.0, -2.0, -1.0]
    """

    base_id: ClassVar[str]
    base_kwargs: ClassVar[dict[str, Any]] = {}
    base_module: ClassVar[str | None] = None
    default_horizon: ClassVar[int]
    terminate_on_success: ClassVar[bool] = False
    extra: ClassVar[str | None] = "mujoco"  # the rewardlab extra that installs the base env

    def __init__(
        self,
        reward: str = "sparse",
        delay: int | str | None = None,
        horizon: int | None = None,
        render_mode: str | None = None,
    ):
        # An unknown mode would silently train on the wrong signal.
        if reward not in REWARD_MODES:
            raise InvalidParameter(f"`reward` must be one of {REWARD_MODES}. Received {reward!r}")
        self._delay = _check_delay(delay)
        horizon = self.default_horizon if horizon is None else horizon
        # A non-positive horizon would truncate before the first step.
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise InvalidParameter(f"`horizon` must be an int >= 1. Received {horizon!r}")
        self.reward_mode = reward
        self.horizon = horizon
        self.render_mode = render_mode
        self.base = make_base(self.base_id, self.extra, self.base_module, render_mode=render_mode, **self._base_kwargs())
        self.action_space = self.base.action_space
        self.observation_space = self._observation_space()
        self._done = False
        self._t = 0
        self._pending = 0.0
        self._obs: Any = None

    # --- what a task defines ------------------------------------------------------------------
    def _base_kwargs(self) -> dict[str, Any]:
        return dict(self.base_kwargs)

    def _observation_space(self) -> gym.Space:
        return self.base.observation_space

    def _observe(self, base_obs: Any) -> Any:
        return base_obs

    def _success(self, obs: Any, base_reward: float, terminated: bool, info: dict[str, Any]) -> bool:
        """Whether the successor state `obs` (after the base step) meets the success criterion."""
        raise NotImplementedError

    def _dense(self, base_reward: float, obs: Any) -> float:
        """The reference dense reward of the step that led to `obs` (default: the base env's own reward)."""
        return float(base_reward)

    def _on_reset(self, obs: Any) -> None:
        """Record per-episode constants (e.g. the start position)."""

    # --- the Gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        base_obs, info = self.base.reset(seed=seed, options=options)
        self._t, self._pending, self._done = 0, 0.0, False
        self._obs = self._observe(base_obs)
        self._on_reset(self._obs)
        return self._obs, info

    def _check_action(self, action: Any) -> Any:
        # The base envs disagree on bad actions (MountainCar asserts, MiniGrid ignores a float,
        # MuJoCo integrates a NaN into the state): refuse them here, once for every task.
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return check_discrete(action, int(space.n), space, int(space.start))
        if isinstance(space, spaces.Box):
            return np.clip(check_box(action, space, clip=True), space.low, space.high)
        return action

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._done:
            raise finished(f"`{type(self).__name__}`")
        action = self._check_action(action)
        base_obs, base_reward, terminated, truncated, info = self.base.step(action)
        self._t += 1
        obs = self._observe(base_obs)
        success = bool(self._success(obs, float(base_reward), bool(terminated), info))
        dense = self._dense(float(base_reward), obs)
        sparse = 1.0 if success else 0.0
        terminated = bool(terminated) or (success and self.terminate_on_success)
        truncated = not terminated and (bool(truncated) or self._t >= self.horizon)
        self._pending += sparse if self.reward_mode == "sparse" else dense
        if self._delay is None or terminated or truncated or (self._delay > 0 and self._t % self._delay == 0):
            paid, self._pending = self._pending, 0.0
        else:
            paid = 0.0
        info = dict(info, is_success=success, sparse_reward=sparse, dense_reward=dense)
        self._obs, self._done = obs, terminated or truncated
        return obs, paid, terminated, truncated, info

    def render(self) -> Any:
        return self.base.render()

    def close(self) -> None:
        self.base.close()


def info_reward(t: Any, key: str) -> np.ndarray:
    """``info[key]`` of each step as a float64 array shaped like ``t.reward``: the reward terms that read an env's info.

    Every front's infos work (:func:`~rewardlab.shaping.info.info_column`): a vector env's ``(N,)``
    array per key (0 where its ``_key`` mask is False), an SB3 VecEnv's list of dicts, a single env's
    float. A step whose infos lack the key (every sub-env on a NEXT_STEP autoreset step, whose reset
    infos carry no reward; such steps are not valid) pays 0.
    """
    shape = np.shape(t.reward)
    return info_column(t.info, key, int(np.prod(shape))).reshape(shape)


def dense_reference(t: Any) -> Any:
    """The task's reference dense reward, ``info["dense_reward"]``, as a reward term function.

    For comparing the dense reference with sparse rewards and shaping on the same Sparse env:
    ``{"type": "FromFunction", "fn": "rewardlab.envs.control.base:dense_reference"}``.

    Example:
        >>> from types import SimpleNamespace
        >>> import numpy as np
        >>> dense_reference(SimpleNamespace(info={"dense_reward": np.array([-0.5, -0.1])}, reward=np.zeros(2))).tolist()
        [-0.5, -0.1]
    """
    return info_reward(t, "dense_reward")
