"""E3B, the elliptical episodic bonus (Henaff, Raileanu, Jiang & Rocktäschel 2022)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rewardlab._array import namespace
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.bonuses._backend import copy, like
from rewardlab.shaping.bonuses.features import flatten, resolve_feature
from rewardlab.shaping.terms import Term, Transition, register_term

__all__ = ["E3B"]


@register_term
class E3B(Term):
    """Elliptical episodic bonus ``b(s_t) = phi(s_t)^T C_{t-1}^{-1} phi(s_t)``, batched over sub-envs.

    ``C_{t-1} = ridge * I + sum of phi(s_i) phi(s_i)^T`` over the states acted from earlier in the
    episode. Each sub-env keeps its own inverse ``cinv[i]`` (shape ``(N, d, d)``, float64), updated
    with the Sherman-Morrison rank-1 step ``u = Cinv phi``, ``b = phi . u``, ``Cinv -= u u^T / (1 + b)``
    after the bonus is read; :meth:`reset` sets the masked rows back to ``I / ridge``. With one-hot
    features this is ``1 / (ridge + N_e(s))``, an episodic count.

    Which state is scored: ``phi(s_t)`` of the state *acted from*, ``t.obs`` (as in the reference
    code), so the episode's first observation is scored on the first step and the final one never.
    ``zero_first_step`` pays 0 on each episode's first step (the reference code does; the covariance
    is still updated with it), which removes the ``1/ridge`` spike at every episode start.

    Arrays follow the observations: numpy in, numpy out; torch tensors on a device in, the inverse
    covariances live on that device.

    Args:
        encoder: where ``phi`` comes from. A feature key or function (see
            :mod:`rewardlab.shaping.bonuses.features`) for fixed features; or the arguments of an
            :class:`~rewardlab.shaping.bonuses.networks.InverseDynamicsEncoder` as a dict (e.g.
            ``{"num_actions": 4}``), or such an encoder, for features learned by inverse dynamics
            from rollouts (see :meth:`update`; needs the ``train`` extra).
        ridge: ``lambda`` of ``C = lambda I + ...``; the first bonus of an episode is ``|phi|^2 / lambda``.
        zero_first_step: pay 0 on the first step of each episode.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> e3b = E3B("obs", ridge=0.1, zero_first_step=False)   # phi = the observation itself
        >>> e3b.reset(np.array([True]), np.array([[1.0, 0.0]]))
        >>> step = lambda s: Transition(np.array([s]), None, None, np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> [round(float(e3b(step([1.0, 0.0]))[0]), 5) for _ in range(3)]
        [10.0, 0.90909, 0.47619]
    """

    callable_params = ("encoder",)

    def __init__(
        self,
        encoder: str | Callable[[Any], Any] | Mapping[str, Any] | Any,
        ridge: float = 0.1,
        zero_first_step: bool = True,
        name: str | None = None,
    ):
        # A zero or negative ridge makes C singular (inf bonus) or indefinite (negative bonus).
        if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not math.isfinite(ridge) or ridge <= 0:
            raise InvalidParameter(f"`ridge` must be a positive number. Received {ridge!r}")
        if not isinstance(zero_first_step, bool):
            raise InvalidParameter(f"`zero_first_step` must be True or False. Received {zero_first_step!r}")
        self.encoder: Any = None  # the learned encoder, if any
        self._feature: Callable[[Any], Any] | None = None
        if isinstance(encoder, Mapping):
            from rewardlab.shaping.bonuses.networks import InverseDynamicsEncoder

            try:
                self.encoder = InverseDynamicsEncoder(**encoder)
            except TypeError as e:
                raise InvalidParameter(f"`encoder` has bad arguments for InverseDynamicsEncoder: {e}") from e
            recorded: Any = dict(encoder)
        elif hasattr(encoder, "embed") and hasattr(encoder, "update"):
            self.encoder, recorded = encoder, encoder.config
        else:
            self._feature, recorded = resolve_feature(encoder, "encoder"), encoder
        super().__init__(name, encoder=recorded, ridge=float(ridge), zero_first_step=zero_first_step)
        self.ridge = float(ridge)
        self.zero_first_step = zero_first_step
        self.cinv: Any = None  # (N, d, d) inverse covariance per sub-env
        self.first: Any = None  # (N,) whether the next step is the episode's first

    @property
    def version(self) -> int:
        """How many times the encoder has been trained (0 for fixed features)."""
        return 0 if self.encoder is None else self.encoder.version

    def embed(self, obs: Any) -> Any:
        """``phi`` of a batch of observations, shape ``(N, d)``, float64, in the observations' backend."""
        if self.encoder is not None:
            return self.encoder.embed(obs)
        x = flatten(self._feature(obs))
        xp = namespace(x)
        return xp.astype(x, xp.float64)

    def _ensure(self, phi: Any) -> Any:
        xp = namespace(phi)
        n, d = phi.shape
        if self.cinv is None:
            device = getattr(phi, "device", "cpu")
            self.cinv = xp.zeros((n, d, d), dtype=phi.dtype, device=device) + xp.eye(d, dtype=phi.dtype, device=device) / self.ridge
            self.first = like(np.ones(n, dtype=bool), phi, dtype=bool)
        elif tuple(self.cinv.shape[:2]) != (n, d):
            raise InvalidParameter(f"E3B `{self.name}` holds state for {tuple(self.cinv.shape[:2])} (sub-envs, features) but got {(n, d)}")
        return xp

    def reset(self, mask: Any, obs: Any) -> None:
        phi = self.embed(obs)
        xp = self._ensure(phi)
        mask = like(mask, phi, dtype=bool)
        eye = xp.eye(phi.shape[1], dtype=phi.dtype, device=getattr(phi, "device", "cpu")) / self.ridge
        self.cinv = xp.where(mask[:, None, None], eye, self.cinv)
        self.first = self.first | mask

    def __call__(self, t: Transition) -> Any:
        phi = self.embed(t.obs)
        xp = self._ensure(phi)
        valid = like(t.valid, phi, dtype=bool)
        u = (self.cinv @ phi[:, :, None])[:, :, 0]
        bonus = xp.sum(phi * u, axis=1)
        updated = self.cinv - (u[:, :, None] * u[:, None, :]) / (1.0 + bonus)[:, None, None]
        self.cinv = xp.where(valid[:, None, None], updated, self.cinv)
        if self.zero_first_step:
            bonus = xp.where(self.first, xp.zeros_like(bonus), bonus)
        self.first = self.first & ~valid
        if self.encoder is not None:
            self.encoder.record(t.obs, t.action, t.next_obs, t.valid)
        bonus = xp.where(valid, bonus, xp.zeros_like(bonus))
        return like(bonus, t.reward)

    def update(self, rollout: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Train the encoder on `rollout` (``obs``, ``actions``, ``next_obs``, optional ``valid``; one
        leading batch dimension) or, when None, on the transitions recorded since the last update.
        Returns training metrics (empty for fixed features)."""
        return {} if self.encoder is None else self.encoder.update(rollout)

    def state_dict(self) -> dict[str, Any]:
        state = {"cinv": copy(self.cinv), "first": copy(self.first)}
        if self.encoder is not None:
            state["encoder"] = self.encoder.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.cinv, self.first = copy(state["cinv"]), copy(state["first"])
        if self.encoder is not None:
            self.encoder.load_state_dict(state["encoder"])
