"""Stable-Baselines3 callback that runs the outer step of learned blends (BARFI) at every rollout end.

SB3 calls ``_on_rollout_end`` after ``compute_returns_and_advantage`` and before ``train()``, with
the rollout buffer holding on-policy data for the current policy: the place of the outer step
(spec G1/G2). Classes: :class:`BlendCallback`; function :func:`blend_callbacks`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter, MissingExtraError
from rewardlab.shaping.bilevel import PolicyBatch, outer_step, outer_terms
from rewardlab.shaping.terms import Term

try:
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import obs_as_tensor
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("rewardlab.baselines.sb3_blend", "train", e) from e

__all__ = ["BlendCallback", "blend_callbacks"]


class BlendCallback(BaseCallback):
    """Run :func:`~rewardlab.shaping.bilevel.outer_step` on `term`'s tree once per SB3 rollout.

    The log-probabilities come from ``model.policy.evaluate_actions`` on the rollout buffer's
    observations and actions (t-major rows), the episode ends from the ``dones`` SB3 sees at each
    step (a done at step ``t`` ends the episode there; SB3 has no dummy reset steps, so every row is
    valid). Metrics go to SB3's logger and to :attr:`log`, one row per rollout with ``"step"``.
    With a Blend that learns its discount, ``model.gamma`` and ``model.rollout_buffer.gamma`` are
    set to it after each step.

    :param term: the reward term tree the training envs are shaped with (it must contain a Blend).
    :param verbose: SB3 verbosity.

    Example:
        >>> import gymnasium as gym
        >>> from stable_baselines3 import PPO
        >>> from stable_baselines3.common.vec_env import DummyVecEnv
        >>> from rewardlab.shaping import Constant, EnvReward
        >>> from rewardlab.shaping.bilevel import Blend
        >>> from rewardlab.wrappers import SB3RewardShaping
        >>> term = Blend(EnvReward(), aux={"alive": Constant(1.0)}, warmup_rollouts=0)
        >>> venv = SB3RewardShaping(DummyVecEnv([lambda: gym.make("CartPole-v1")] * 2), term)
        >>> callback = BlendCallback(term)
        >>> _ = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0).learn(128, callback=callback)
        >>> [row["step"] for row in callback.log], "blend/blend/w_alive" in callback.log[0]
        ([64, 128], True)
    """

    def __init__(self, term: Term, verbose: int = 0):
        super().__init__(verbose)
        if not isinstance(term, Term) or not outer_terms(term):
            raise InvalidParameter(f"BlendCallback needs a term tree with a learned blend (a term with `outer_step`). Received {term!r}")
        self.term = term
        self.log: list[dict[str, Any]] = []
        self._dones: list[np.ndarray] = []

    def _on_rollout_start(self) -> None:
        self._dones.clear()

    def _on_step(self) -> bool:
        self._dones.append(np.asarray(self.locals["dones"], dtype=bool).copy())
        return True

    def _on_rollout_end(self) -> None:
        model: Any = self.model
        buffer = model.rollout_buffer
        T, N = buffer.buffer_size, buffer.n_envs
        if len(self._dones) != T:
            raise InvalidParameter(f"BlendCallback saw {len(self._dones)} steps in a rollout of {T}; it must be attached for the whole run")
        obs = _flat_obs(buffer.observations, T * N, model.device)
        actions = torch.as_tensor(buffer.actions.reshape(T * N, *buffer.actions.shape[2:]), device=model.device)
        if isinstance(model.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        policy = model.policy

        def log_prob() -> torch.Tensor:
            return policy.evaluate_actions(obs, actions)[1]

        batch = PolicyBatch(
            log_prob=log_prob,
            parameters=[p for p in policy.parameters() if p.requires_grad],
            terminated=np.stack(self._dones),
            truncated=np.zeros((T, N), dtype=bool),  # Monte-Carlo returns stop at either; SB3's dones hold both
            valid=np.ones((T, N), dtype=bool),
            step=int(self.num_timesteps),
        )
        metrics = outer_step(self.term, batch)
        for key, value in metrics.items():
            self.logger.record(key, value)
        self.log.append({"step": int(self.num_timesteps), **metrics})
        for t in outer_terms(self.term):
            if getattr(t, "learn_gamma", False):
                model.gamma = buffer.gamma = float(t.discount)


def _flat_obs(observations: Any, rows: int, device: Any) -> Any:
    if isinstance(observations, dict):
        return {k: obs_as_tensor(v.reshape(rows, *v.shape[2:]), device) for k, v in observations.items()}
    return obs_as_tensor(observations.reshape(rows, *observations.shape[2:]), device)


def blend_callbacks(term: Term | None) -> list[BaseCallback]:
    """``[BlendCallback(term)]`` when the tree has a learned blend, else ``[]`` (for ``sb3.train``).

    Example:
        >>> from rewardlab.shaping import EnvReward
        >>> blend_callbacks(EnvReward())
        []
    """
    if term is None or not outer_terms(term):
        return []
    return [BlendCallback(term)]
