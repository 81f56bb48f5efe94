"""Potential-based reward shaping (Ng, Harada & Russell 1999), made safe for episodic, vector envs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardlab._array import batch_obs, namespace
from rewardlab.errors import ConfigError, InvalidParameter, NonFiniteError
from rewardlab.shaping.potentials import Potential, resolve_potential
from rewardlab.shaping.terms import SingleTransition, Term, Transition, register_term, where

__all__ = ["PBRS", "check_gamma", "check_discount"]

TRUNCATION_MODES = ("bootstrap", "terminal")


def check_gamma(gamma: Any) -> float:
    """`gamma` as a float, or an error: it must be a real number in (0, 1]."""
    # A string, NaN or out-of-range discount would shape towards a different objective than the learner's.
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not math.isfinite(gamma):
        raise InvalidParameter(f"`gamma` must be a float in (0, 1]. Received {gamma!r}")
    if not 0.0 < gamma <= 1.0:
        raise InvalidParameter(f"`gamma` must be in the interval (0, 1]. Received {gamma}")
    return float(gamma)


@register_term
class PBRS(Term):
    """Potential-based shaping ``F = gamma * Phi(s') - Phi(s)``, policy-invariant by construction.

    * ``Phi(s') = 0`` on termination, always (a kept terminal potential changes the optimal policy).
    * On truncation ``Phi(s')`` is kept in ``"bootstrap"`` mode (the learner bootstraps there, as
      SB3 does) and zeroed in ``"terminal"`` mode (the learner treats the time limit as the end).
    * ``Phi(s)`` is cached per sub-env from the previous step, never re-evaluated, so a potential
      that changes during learning still telescopes (Devlin & Kudenko 2012).
    * ``gamma`` must be the learner's discount; a different one adds a non-potential term.

    Args:
        potential: a batched callable ``phi(obs) -> array[N]``, the name of a potential the env
            publishes (see :func:`~rewardlab.shaping.potentials_for`), or a 'module:name' string.
        gamma: the learner's discount, in (0, 1].
        truncation: ``"bootstrap"`` or ``"terminal"``, matching how the learner treats time limits.

    Raises:
        InvalidParameter: for a bad gamma or truncation mode.
        NonFiniteError: when the potential returns NaN or inf.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import PBRS, Transition
        >>> pbrs = PBRS(lambda obs: obs[:, 0], gamma=0.9)
        >>> pbrs.reset(np.array([True]), np.array([[1.0]]))
        >>> step = lambda s, s2, done: Transition(s, None, s2, np.zeros(1), np.array([done]), np.zeros(1, bool), np.ones(1, bool))
        >>> [float(pbrs(step(np.array([[a]]), np.array([[b]]), d))[0]) for a, b, d in [(1, 2, False), (2, 3, False), (3, 9, True)]]
        [0.8, 0.7, -3.0]
    """

    callable_params = ("potential",)

    def __init__(
        self,
        potential: str | Potential,
        gamma: float,
        truncation: str = "bootstrap",
        name: str | None = None,
    ):
        gamma = check_gamma(gamma)
        if truncation not in TRUNCATION_MODES:
            raise InvalidParameter(f"`truncation` must be one of {TRUNCATION_MODES}. Received {truncation!r}")
        if not (callable(potential) or isinstance(potential, str)):
            raise InvalidParameter(f"`potential` must be a callable or a name. Received {potential!r}")
        super().__init__(name, potential=potential, gamma=gamma, truncation=truncation)
        self.gamma = gamma
        self.truncation = truncation
        self._zero_on_truncation = truncation == "terminal"
        # A string may be a name the env publishes; it is resolved when the term is bound to an env.
        self._phi: Potential | None = None if isinstance(potential, str) and ":" not in potential else resolve_potential(potential, None)
        self._last_phi: Any = None  # (N,) Phi of each sub-env's current state, as computed on entry

    def default_name(self) -> str:
        p = self._params["potential"]
        return f"pbrs_{p}" if isinstance(p, str) and ":" not in p else "pbrs"

    def bind(self, env_id: str | None) -> None:
        if self._phi is None:
            self._phi = resolve_potential(self._params["potential"], env_id)

    def potential(self, obs: Any) -> Any:
        """Phi of a batch of observations, checked to be finite."""
        phi = self._bound_phi()(obs)
        if not hasattr(phi, "dtype") or phi.dtype == np.float32:
            # float32 observations give float32 potentials; shaping in float64 keeps telescoping exact.
            phi = np.asarray(phi, dtype=np.float64)
        elif not isinstance(phi, np.ndarray) and phi.dtype != namespace(phi).float64:
            phi = namespace(phi).astype(phi, namespace(phi).float64)  # the same on a device, where it stays
        if not bool(namespace(phi).isfinite(phi).all()):
            self._non_finite(phi)
        return phi

    def _bound_phi(self) -> Potential:
        if self._phi is None:
            raise InvalidParameter(
                f"PBRS potential `{self._params['potential']}` is a name and was never bound to an env; "
                "attach the term with a rewardlab wrapper or call term.bind(env_id)"
            )
        return self._phi

    def _require_reset(self) -> None:
        if self._last_phi is None:
            raise InvalidParameter(f"PBRS term `{self.name}` was called before reset(); reset it with the first observations")

    def _non_finite(self, phi: Any) -> None:
        raise NonFiniteError(f"Potential of PBRS term `{self.name}` returned a non-finite value: {phi}")

    def reset(self, mask: Any, obs: Any) -> None:
        phi = self.potential(obs)
        if self._last_phi is None or self._last_phi.shape != phi.shape:
            self._last_phi = namespace(phi).zeros_like(phi)
        self._last_phi = namespace(phi).where(mask, phi, self._last_phi)

    def shaping(self, phi_next: Any, last_phi: Any, terminated: Any, truncated: Any) -> Any:
        """The formula ``F = gamma * Phi(s') * (not end) - Phi(s)``, for arrays ``(N,)`` or one step's
        floats and bools alike (``end`` is termination, or any done in ``"terminal"`` mode)."""
        end = terminated | truncated if self._zero_on_truncation else terminated
        return self.gamma * _unless(phi_next, end) - last_phi

    def __call__(self, t: Transition) -> Any:
        self._require_reset()
        phi_next = self.potential(t.next_obs)
        # Dummy (invalid) steps of a vector env pay 0; masks multiply (exact since phi is finite, and cheap at small N).
        value = self.shaping(phi_next, self._last_phi, t.terminated, t.truncated) * t.valid
        # The cache keeps Phi(s') as computed now: the value subtracted on leaving s' is the one added on entering it.
        self._last_phi = where(t.valid, phi_next, self._last_phi)
        return value

    def single(self, s: SingleTransition) -> float:
        # The same formula on floats (a float32 potential widens exactly to a Python float); a single
        # env has no dummy steps. Checks inlined (no calls when they pass): this runs on every step.
        if self._last_phi is None:
            self._require_reset()
        phi = self._phi if self._phi is not None else self._bound_phi()
        phi_next = float(phi(batch_obs(s.next_obs))[0])
        if not math.isfinite(phi_next):
            self._non_finite(phi_next)
        value = self.shaping(phi_next, float(self._last_phi[0]), s.terminated, s.truncated)
        self._last_phi[0] = phi_next
        return value

    def state_dict(self) -> dict[str, Any]:
        last = self._last_phi
        return {"last_phi": None if last is None else last.copy() if isinstance(last, np.ndarray) else last.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # A copy: single() updates the cache in place, which must not write into the caller's state.
        last = state["last_phi"]
        self._last_phi = None if last is None else namespace(last).asarray(last, copy=True)


def _unless(x: Any, mask: Any) -> Any:
    """``x`` where ``mask`` is False, else 0: for one step's bool or a boolean array (x finite)."""
    if type(mask) is bool:
        return 0.0 if mask else x
    return x * ~mask


def check_discount(term: Term, gamma: float, where: str = "reward") -> None:
    """Raise if a PBRS term in `term` disagrees with the learner on the discount or on time limits.

    PBRS is policy-invariant only when its gamma is the learner's gamma, and the learners here (SB3
    and TorchPPO) bootstrap at truncation, so PBRS must keep ``Phi(s')`` there (``truncation="bootstrap"``).

    Args:
        term: the reward term tree the learner will be trained on.
        gamma: the learner's discount.
        where: what to call the tree in the message (a config key).

    Raises:
        ConfigError: naming the first PBRS term whose gamma or truncation mode disagrees.

    Example:
        >>> from rewardlab.shaping import EnvReward, PBRS
        >>> check_discount(EnvReward() + PBRS("energy", gamma=0.99), gamma=0.99)
        >>> check_discount(EnvReward() + PBRS("energy", gamma=0.9), gamma=0.99)
        Traceback (most recent call last):
        ...
        rewardlab.errors.ConfigError: `reward` has PBRS term `pbrs_energy` with gamma 0.9, but the learner's gamma is 0.99; PBRS is policy-invariant only with the learner's discount: set both to the same value
    """
    for t in term.walk():
        if not isinstance(t, PBRS):
            continue
        if not math.isclose(t.gamma, gamma, rel_tol=0, abs_tol=1e-12):
            raise ConfigError(
                f"`{where}` has PBRS term `{t.name}` with gamma {t.gamma}, but the learner's gamma is {gamma}; "
                "PBRS is policy-invariant only with the learner's discount: set both to the same value"
            )
        if t.truncation != "bootstrap":
            raise ConfigError(
                f"`{where}` has PBRS term `{t.name}` with truncation={t.truncation!r}, but the learner bootstraps "
                "at time limits; use truncation='bootstrap'"
            )
