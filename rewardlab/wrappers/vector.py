"""Reward shaping for a Gymnasium VectorEnv, in every autoreset mode. Single-env twin: :class:`RewardShaping`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from rewardlab._array import first_leaf, namespace, replace_rows, where_rows
from rewardlab.shaping.terms import Term, Transition
from rewardlab.wrappers.composer import RewardComposer, term_and_config

__all__ = ["VectorRewardShaping"]


class VectorRewardShaping(gym.vector.VectorWrapper, gym.utils.RecordConstructorArgs):
    """Replace a vector env's rewards with a reward term tree, batched over sub-envs.

    Autoreset handling (``metadata["autoreset_mode"]``):

    * NEXT_STEP (Gymnasium's default): the step after a done is a dummy step; every term gives 0
      there (``valid=False``), statistics are not updated, and the term is reset with the new
      first observation.
    * SAME_STEP: the true last observation is read from ``info["final_obs"]`` for ``s'``, then the
      term is reset with the returned (first) observation.
    * DISABLED: terms are reset for the sub-envs named by ``reset(options={"reset_mask": ...})``.

    ``info["task_reward"]`` and ``info["reward_terms"][name]`` are arrays over sub-envs (with
    Gymnasium's ``_key`` masks); the parts sum to the returned rewards.

    A torch-backend env (observations and rewards are tensors) is shaped on its device: flags,
    masks, rewards (float64) and parts are tensors there, and nothing is copied to the host; on an
    accelerator the terms are reset every step with the mask of restarted sub-envs (asking whether
    any restarted would wait for the device).

    Example:
        >>> import gymnasium as gym
        >>> from rewardlab.shaping import EnvReward, PBRS
        >>> from rewardlab.wrappers import VectorRewardShaping
        >>> envs = VectorRewardShaping(gym.make_vec("MountainCar-v0", num_envs=2), EnvReward() + PBRS("energy", gamma=0.99))
        >>> _ = envs.reset(seed=0)
        >>> _, rewards, _, _, info = envs.step(np.array([2, 0]))
        >>> info["task_reward"].tolist(), rewards.round(4).tolist()
        ([-1.0, -1.0], [-0.9948, -0.9947])
    """

    def __init__(self, env: gym.vector.VectorEnv, term: Term | Mapping[str, Any] | str):
        term, recorded = term_and_config(term)
        gym.utils.RecordConstructorArgs.__init__(self, term=recorded)
        gym.vector.VectorWrapper.__init__(self, env)
        self.term = term
        self.autoreset_mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self._composer = RewardComposer(term, env.spec.id if env.spec is not None else None)
        self._obs: Any = None
        self._ones: Any = np.ones(self.num_envs, dtype=bool)
        self._prev_done: Any = np.zeros(self.num_envs, dtype=bool)
        self._device: Any = None  # a tensor of the env's backend once reset returns tensors (None: numpy)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        mask = None
        if options is not None and "reset_mask" in options:  # read first: the vector env pops it
            mask = options["reset_mask"]
        obs, info = self.env.reset(seed=seed, options=options)
        leaf = first_leaf(obs)
        self._device = None if isinstance(leaf, np.ndarray) else leaf  # a tensor of the env's backend and device
        if self._device is not None:
            xp = namespace(leaf)
            self._ones = xp.ones(self.num_envs, dtype=xp.bool, device=leaf.device)
            if not hasattr(self._prev_done, "device") or self._prev_done.device != leaf.device:
                self._prev_done = xp.zeros(self.num_envs, dtype=xp.bool, device=leaf.device)
            mask = self._ones if mask is None else xp.asarray(mask, dtype=xp.bool, device=leaf.device)
        else:
            self._ones = np.ones(self.num_envs, dtype=bool)
            if not isinstance(self._prev_done, np.ndarray):
                self._prev_done = np.zeros(self.num_envs, dtype=bool)
            mask = self._ones if mask is None else np.array(mask, dtype=bool)
        self._composer.reset(mask, obs)
        self._prev_done = self._prev_done & ~mask
        self._obs = obs
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        on_device = self._device is not None
        done = terminated | truncated
        valid, next_obs = self._ones, obs
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            valid = ~self._prev_done
        elif self.autoreset_mode == AutoresetMode.SAME_STEP and on_device:
            if "final_obs" in info:  # a batch of final observations; rows that did not end are ignored
                next_obs = where_rows(done, info["final_obs"], obs)
        elif self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
            # The returned obs of a done sub-env is already the next episode's first one.
            next_obs = replace_rows(obs, {i: info["final_obs"][i] for i in np.flatnonzero(done)})
        task = namespace(rewards).astype(rewards, namespace(rewards).float64) if on_device else np.asarray(rewards, dtype=np.float64)
        t = Transition(self._obs, actions, next_obs, task, terminated, truncated, valid, info)
        total, parts = self._composer(t)

        restarted = ~valid if self.autoreset_mode == AutoresetMode.NEXT_STEP else done
        # On an accelerator, asking whether any sub-env restarted would wait for the device, so the terms
        # are reset with the mask every step; on the host (numpy, or torch on the CPU) asking is free.
        accelerator = on_device and restarted.device.type != "cpu"
        if self.autoreset_mode != AutoresetMode.DISABLED and (accelerator or bool(restarted.any())):
            self._composer.reset(restarted, obs)
        self._prev_done = done
        self._obs = obs
        info = dict(info)
        info["task_reward"], info["_task_reward"] = rewards if on_device else np.asarray(rewards), self._ones
        info["reward_terms"], info["_reward_terms"] = parts, self._ones
        return obs, total, terminated, truncated, info
