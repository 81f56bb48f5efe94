"""The batched Gymnasium front of gridhack: B dungeons in one :class:`GridhackCore`. Single-env twin: :class:`GridhackEnv`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from rewardlab.envs.actions import check_discrete_batch
from rewardlab.envs.backend import resolve_backend
from rewardlab.envs.gridhack import spaces
from rewardlab.envs.gridhack.core import OBSERVATION_KEYS, GridhackCore
from rewardlab.envs.gridhack.env import RENDER_MODES, check_render_mode, render_row, task_spec
from rewardlab.errors import InvalidAction, InvalidParameter

__all__ = ["GridhackVectorEnv"]


class GridhackVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` gridhack dungeons stepped at once by vectorised array code (NEXT_STEP autoreset).

    Same arguments, observations, rewards and success as :class:`GridhackEnv`, batched over a
    leading dimension; ``info`` holds ``context_id`` and ``is_success`` arrays with Gymnasium's
    ``_key`` masks. On the step after a sub-env's episode ends, its action is ignored and it
    starts a new episode (reward 0, not done), as Gymnasium's NEXT_STEP autoreset prescribes.
    ``max_episode_steps`` (passed by ``gym.make_vec`` from the registration) truncates in the core.
    ``actions`` is an integer array of shape ``(num_envs,)`` with every row in ``[0, n)``; otherwise
    :class:`~rewardlab.errors.InvalidAction` names the bad rows (docs/contracts.md).

    ``backend="torch"`` (``device=`` a torch device, default CPU) keeps the dungeons on that device and
    steps them with the torch kernel: observations (a dict of tensors), rewards (float64), the
    terminated and truncated flags (bool) and the info arrays and their masks are tensors on ``device``,
    equal to the numpy backend's arrays for the same seed. Actions may be a tensor on ``device`` (or a
    numpy array). Levels are still generated on the host and copied over when episodes start, so each
    step reads back the (num_envs,) done mask of the step before; nothing else leaves the device.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> envs = gym.make_vec("rewardlab/Gridhack-MultiRoom-N6-Lava-v0", num_envs=3,
        ...                     vectorization_mode="vector_entry_point", num_contexts=2)
        >>> obs, info = envs.reset(seed=0)
        >>> obs["glyphs"].shape, info["context_id"].tolist()
        ((3, 21, 79), [1, 1, 1])
        >>> obs, rewards, terminated, truncated, info = envs.step(np.zeros(3, dtype=np.int64))
        >>> rewards.tolist(), envs.metadata["autoreset_mode"].value
        ([0.0, 0.0, 0.0], 'NextStep')
        >>> import torch
        >>> tenvs = gym.make_vec("rewardlab/Gridhack-MultiRoom-N6-Lava-v0", num_envs=3, num_contexts=2,
        ...                      vectorization_mode="vector_entry_point", backend="torch", device="cpu")
        >>> obs, info = tenvs.reset(seed=0)
        >>> obs["glyphs"].device, info["context_id"]
        (device(type='cpu'), tensor([1, 1, 1]))
        >>> tenvs.step(torch.zeros(3, dtype=torch.int64))[1]
        tensor([0., 0., 0.], dtype=torch.float64)
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 8, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, task: str, num_envs: int = 1, *, max_episode_steps: int | None = None,
                 num_contexts: int | None = None, context_seed_offset: int = 0, structure: str = "all",
                 observation_keys: tuple[str, ...] = OBSERVATION_KEYS, penalty_step: float = 0.0,
                 action_set: str = "restricted", render_mode: str | None = None, backend: str = "numpy",
                 device: Any = None):
        spec = task_spec(task)
        self.render_mode = check_render_mode(render_mode)
        self.backend, self.device = resolve_backend(backend, device)
        self.core = GridhackCore(spec, num_envs, observation_keys=tuple(observation_keys),
                                 max_episode_steps=max_episode_steps, penalty_step=penalty_step,
                                 num_contexts=num_contexts, context_seed_offset=context_seed_offset,
                                 structure=structure, action_set=action_set, backend=self.backend,
                                 device=self.device)
        self.device = self.core.device
        self.task, self.num_envs, self.actions = spec, int(num_envs), self.core.actions
        self.single_observation_space = spaces.observation_space(self.core.observation_keys, spec.depth)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.action_space(len(self.actions))
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._n_actions = len(self.actions)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._all = np.ones(self.num_envs, dtype=bool)
        if self.backend == "torch":
            import torch

            self._torch = torch
            self._all_t = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
            self._autoreset_t = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
            self._context_t = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is not None:
            if not isinstance(seed, (int, np.integer)):
                raise InvalidParameter(f"`seed` must be an int or None (one generator serves all sub-envs). "
                                       f"Received {seed!r}")
            self._np_random, self._np_random_seed = seeding.np_random(int(seed))
        self.core.reset_rows(self._all, self.np_random)
        self._autoreset[:] = False
        if self.backend == "torch":
            self._autoreset_t = self._torch.zeros_like(self._all_t)
            self._context_t = self._torch.as_tensor(self.core.context_id, device=self.device)
            return self.core.observe(), self._info_t(None)
        success = np.zeros(self.num_envs, dtype=bool)
        return self.core.observe(), self._info(success, with_success=False)

    def step(self, actions: Any) -> tuple[dict[str, Any], Any, Any, Any, dict[str, Any]]:
        if self.backend == "torch":
            return self._step_torch(actions)
        # A wrong shape or an out-of-range index would be silently broadcast or wrapped by the lookups;
        # every row is checked, the autoreset ones too (their action is ignored, but must still be one).
        actions = check_discrete_batch(actions, self.num_envs, self._n_actions, self.action_space)
        reward, terminated, truncated = self.core.step(actions)
        success = self.core.success
        if self._autoreset.any():
            self.core.reset_rows(self._autoreset, self.np_random)
            keep = ~self._autoreset
            reward, terminated, truncated, success = reward * keep, terminated & keep, truncated & keep, success & keep
        self._autoreset = terminated | truncated
        return self.core.observe(), reward, terminated, truncated, self._info(success)

    def _step_torch(self, actions: Any) -> tuple[dict[str, Any], Any, Any, Any, dict[str, Any]]:
        """:meth:`step` on the torch backend: the same steps, on tensors."""
        actions = self._check_tensor(actions)
        # the rows that ended last step start new levels, generated on the host: their mask is read back
        # before the step (the step leaves ended rows' state stale, so the order does not matter)
        auto = self._autoreset_t
        auto_np = auto.cpu().numpy()
        reward, terminated, truncated = self.core.step(actions)
        success = self.core.success
        if auto_np.any():
            self.core.reset_rows(auto_np, self.np_random)
            self._context_t = self._torch.as_tensor(self.core.context_id, device=self.device)
            keep = ~auto
            reward, terminated, truncated, success = reward * keep, terminated & keep, truncated & keep, success & keep
        else:
            success = success.clone()  # the core's own tensor, which the next reset writes in place
        self._autoreset_t = terminated | truncated
        return self.core.observe(), reward, terminated, truncated, self._info_t(success)

    def _check_tensor(self, actions: Any) -> Any:
        """`actions` as an int64 tensor on the env's device, with the numpy backend's checks (InvalidAction)."""
        torch = self._torch
        if not isinstance(actions, torch.Tensor):
            actions = check_discrete_batch(actions, self.num_envs, self._n_actions, self.action_space)
            return torch.as_tensor(actions, dtype=torch.int64, device=self.device)
        where = f"`actions` (a tensor of shape {tuple(actions.shape)}, dtype {actions.dtype}, on {actions.device})"
        if tuple(actions.shape) != (self.num_envs,):
            raise InvalidAction(f"{where} is outside the action space {self.action_space}: its shape is not "
                                f"({self.num_envs},) (one action per sub-env)")
        if actions.dtype == torch.bool or actions.dtype.is_floating_point or actions.dtype.is_complex:
            raise InvalidAction(f"{where} is outside the action space {self.action_space}: its dtype is not an "
                                f"integer type")
        if actions.device != self.device:  # a silent copy would hide a transfer in every step
            raise InvalidAction(f"{where} is on another device than the env ({self.device}); move it there first")
        bad = (actions < 0) | (actions >= self._n_actions)
        if bool(bad.any()):  # an index outside the tables would read other rules (or fault on CUDA)
            rows = torch.nonzero(bad).flatten().tolist()
            raise InvalidAction(f"{where} is outside the action space {self.action_space}: rows {rows} are "
                                f"outside [0, {self._n_actions})")
        return actions.long()

    def _info_t(self, success: Any | None) -> dict[str, Any]:
        """:meth:`_info` in tensors on the env's device."""
        info = {"context_id": self._context_t.clone(), "_context_id": self._all_t.clone()}
        if success is not None:
            info["is_success"], info["_is_success"] = success, self._all_t.clone()
        return info

    def _info(self, success: np.ndarray, with_success: bool = True) -> dict[str, Any]:
        info = {"context_id": self.core.context_id.copy(), "_context_id": self._all.copy()}
        if with_success:
            # a copy: `success` may be the core's own array, which the next reset writes in place
            info["is_success"], info["_is_success"] = np.array(success, dtype=bool), self._all.copy()
        return info

    def render(self) -> tuple[Any, ...] | None:
        if self.render_mode is None:
            gym.logger.warn("Calling render() without a render_mode; pass render_mode='ansi' or 'rgb_array'.")
            return None
        return tuple(render_row(self.core, i, self.render_mode) for i in range(self.num_envs))
