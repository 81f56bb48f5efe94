"""The batched Gymnasium VectorEnv of a coopetition game: the core at B = num_envs, numpy or torch.

Reached through ``gym.make_vec("rewardlab/<Name>-v0", num_envs=B, vectorization_mode="vector_entry_point")``.
Single-env twin: :class:`rewardlab.envs.coopetition.gym_env.CoopetitionEnv`; sub-env i reset with
seed ``s + i`` follows exactly the single env reset with seed ``s + i``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from rewardlab.envs.actions import REAL_KINDS, check_box_batch
from rewardlab.envs.backend import resolve_backend
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.gym_env import resolve_control
from rewardlab.envs.coopetition.parallel import env_id
from rewardlab.envs.coopetition.params import build_params
from rewardlab.errors import InvalidAction, InvalidParameter

__all__ = ["CoopetitionVectorEnv"]


class CoopetitionVectorEnv(gym.vector.VectorEnv):
    """B copies of a coopetition game stepped as one batch (autoreset: SAME_STEP).

    Same observations, actions, rewards and ``control``/``aggregate``/``policies`` arguments as
    :class:`~rewardlab.envs.coopetition.gym_env.CoopetitionEnv`; the others' policies receive batched
    observations ``[B, d]``. When a sub-env ends, the returned observation is already the next
    episode's first one and the last one is in ``info["final_obs"]`` (mask ``info["_final_obs"]``).
    ``info["payoff"]``, ``info["utility"]`` and ``info["rewards"]`` are ``[B, n]``, ``info["is_success"]`` ``[B]``.
    With ``backend="torch"`` (``device=`` a torch device, default CPU) observations, rewards, flags and
    info arrays (and their ``_key`` masks) are torch tensors on ``device``, equal to the numpy backend's
    for the same seed, and ended sub-envs reset on the device: ``info["final_obs"]`` is then in every
    step's info, with ``info["_final_obs"]`` the (B,) bool tensor of the sub-envs that ended (all False
    on most steps), so that no step reads the done flags back to the host.
    ``actions`` has shape ``(num_envs, *single_action_space.shape)``, a real dtype and finite rows
    (else :class:`~rewardlab.errors.InvalidAction` names the rows); out-of-bounds entries are clipped.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> envs = gym.make_vec("rewardlab/TrustDilemma-v0", num_envs=2, vectorization_mode="vector_entry_point",
        ...                     reward_mode="private")
        >>> _ = envs.reset(seed=0)
        >>> _, rewards, _, _, info = envs.step(np.array([[60.0, 20.0], [23.242, 23.242]]))
        >>> rewards.round(3), info["payoff"][0].round(3)
        (array([287.357, 297.309]), array([134.342, 153.015]))
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, name: str, num_envs: int = 1, control: Any = "joint", aggregate: str | None = None,
                 policies: Any = None, backend: str = "numpy", device: Any = None,
                 render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None:
            raise InvalidParameter(f"`render_mode` must be None (coopetition envs do not render). Received {render_mode!r}")
        backend, device = resolve_backend(backend, device)
        self.params = build_params(name, **kwargs)
        self.core = CoopetitionCore(self.params, num_envs=num_envs, backend=backend, device=device)
        self.backend, self.device = backend, self.core.device
        self.xp = self.core.xp
        p, n = self.params, self.params.n
        self.num_envs = int(num_envs)
        self.control, self.aggregate, self._others = resolve_control(name, n, control, aggregate, policies, kwargs)
        self.metadata = {**self.metadata, "name": env_id(name)}
        self.render_mode = None
        if self.control == "joint":
            self.single_observation_space = spaces.Box(0.0, 1.0, (self.core.state_size,), np.float32)
            self.single_action_space = spaces.Box(np.zeros(n, np.float32), p.endowment.astype(np.float32), dtype=np.float32)
        else:
            self.single_observation_space = spaces.Box(0.0, 1.0, (self.core.obs_size,), np.float32)
            high = np.float32(p.endowment[self.control])
            self.single_action_space = spaces.Box(np.float32(0.0), high, (1,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._agent_obs: Any = None
        self._ones = np.ones(self.num_envs, dtype=bool) if backend == "numpy" else \
            self.xp.ones((self.num_envs,), dtype=self.xp.bool, device=self.device)

    def _view(self) -> Any:
        if self.control == "joint":
            return self.core.state_obs()
        self._agent_obs = self.core.agent_obs()
        return self._agent_obs[:, self.control]

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is None:
            seeds: list[int | None] | None = None
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise InvalidParameter(f"`seed` as a list needs one entry per sub-env ({self.num_envs}). Received {len(seeds)}")
        mask = None if options is None else options.get("reset_mask")
        self.core.reset(mask=mask, seeds=seeds)
        return self._view(), {}

    def _check(self, actions: Any) -> Any:
        # A (B, 1) batch for a joint (B, n) space would broadcast one contribution to every agent,
        # and a NaN would spread through trust and reputation; every row is checked, then clipped by the core.
        if self.core.backend == "numpy" or isinstance(actions, (np.ndarray, list, tuple)):
            return check_box_batch(actions, self.num_envs, self.single_action_space, self.action_space, clip=True)
        xp = self.xp
        shape = (self.num_envs, *self.single_action_space.shape)
        kind = "f" if xp.isdtype(actions.dtype, "real floating") else "i" if xp.isdtype(actions.dtype, "integral") else "?"
        if tuple(actions.shape) != shape or kind not in REAL_KINDS:
            raise InvalidAction(f"`actions` of shape {tuple(actions.shape)} and dtype {actions.dtype} is outside the "
                                f"action space {self.action_space}: it needs shape {shape} and a real dtype")
        finite = xp.all(xp.isfinite(xp.reshape(xp.astype(actions, xp.float64), (self.num_envs, -1))), axis=1)
        if not bool(xp.all(finite)):
            rows = np.flatnonzero(~self.core.to_numpy(finite)).tolist()
            raise InvalidAction(f"`actions` is outside the action space {self.action_space}: rows {rows} have non-finite entries")
        return actions

    def _joint(self, actions: Any) -> Any:
        xp, B, n = self.xp, self.num_envs, self.core.n
        a = xp.reshape(self.core.as_array(self._check(actions)), (B, -1))
        if self.control == "joint":
            return a
        cols = []
        for j in range(n):
            if j == self.control:
                cols.append(a[:, 0])
            elif callable(self._others[j]):
                cols.append(xp.reshape(self.core.as_array(self._others[j](self._agent_obs[:, j])), (B,)))
            else:
                cols.append(self.core._full((B,), self._others[j]))
        return xp.stack(cols, axis=-1)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        xp = self.xp
        if self.control != "joint" and self._agent_obs is None:
            self._agent_obs = self.core.agent_obs()
        out = self.core.step(self._joint(actions))
        if self.control == "joint":
            reward = xp.sum(out.reward, axis=-1) if self.aggregate == "sum" else xp.mean(out.reward, axis=-1)
        else:
            reward = out.reward[:, self.control]
        done = out.terminated | out.truncated
        obs = self._view()
        ones = self._ones
        info: dict[str, Any] = {
            "payoff": out.payoff, "_payoff": ones, "utility": out.utility, "_utility": ones,
            "rewards": out.reward, "_rewards": ones, "is_success": out.success, "_is_success": ones,
        }
        if self.backend == "torch":  # reset on the device: the done flags stay there
            info["final_obs"], info["_final_obs"] = obs, done
            self.core.reset(mask=done)
            return self._view(), reward, out.terminated, out.truncated, info
        done_np = self.core.to_numpy(done)
        if done_np.any():
            info["final_obs"], info["_final_obs"] = obs, done_np
            self.core.reset(mask=done_np)
            obs = self._view()
        return obs, reward, out.terminated, out.truncated, info
