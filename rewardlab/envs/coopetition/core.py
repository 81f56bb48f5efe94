"""The batched coopetition core: B independent copies of one environment stepped at once.

:class:`CoopetitionCore` holds the state of B games as arrays of one namespace (numpy, or torch on
any device through array-api-compat) and steps them with the pure functions of
:mod:`rewardlab.envs.coopetition.mechanics`. Every front (ParallelEnv, AEC, Gymnasium env, Gymnasium
VectorEnv) is this core: the single envs at B = 1, the vector env at B = num_envs.

Randomness (only SynergySearch's gamma) is drawn from one numpy generator per sub-env and copied to
the device, so a sub-env seeded s behaves exactly like a single env seeded s, on either backend.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import Any

import numpy as np

from rewardlab.envs.coopetition import mechanics as M
from rewardlab.envs.coopetition.params import GameParams
from rewardlab.errors import InvalidParameter

__all__ = ["CoopetitionCore", "StepResult", "obs_sizes"]

_TIERS = ((0.8, 1.3), (0.5, 1.0), (0.25, 0.7))  # ReputationMarket (reputation floor, payoff multiplier)
_LOW_TIER = 0.4


@dataclass
class StepResult:
    """Outputs of one batched step; arrays ``[B, n]`` or ``[B]`` in the core's namespace."""

    reward: Any  # the reward of the env's reward mode
    payoff: Any  # material payoff pi (TR-1 payoff, TR-3 team payoff, ...), never mode-dependent
    utility: Any  # pi + psi, psi being the loyalty (TR-3) or reciprocity (TR-4) term
    terminated: Any
    truncated: Any
    success: Any


def _extra_size(p: GameParams) -> int:
    n = p.n
    size = {"tr1": 0, "tr3": n, "tr4": n}[p.mechanism]
    size += {"": 0, "partner_selection": 2 * n, "random_gamma": int(p.reveal_gamma), "negotiation": n + 1,
             "market": n, "coalition": n, "sanction": n}[p.special]
    return size


def obs_sizes(p: GameParams) -> tuple[int, int]:
    """(per-agent observation length, global state length) of environment `p`."""
    n, x = p.n, _extra_size(p)
    return 6 * n + 1 + x, n + 2 * n * n + 1 + x


def _fast_numpy() -> SimpleNamespace:
    """numpy as a plain namespace (no module __getattr__) with reductions bound to the ufunc methods,
    which skip ~2 us of Python wrapper per call: at B = 1 the step is a few dozen tiny array ops."""
    ns = SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("_")})
    ns.sum = lambda x, axis=None, keepdims=False: np.add.reduce(x, axis=axis, keepdims=keepdims)
    ns.all = lambda x, axis=None, keepdims=False: np.logical_and.reduce(x, axis=axis, keepdims=keepdims)
    return ns


_NUMPY = _fast_numpy()


def _namespace(backend: str) -> Any:
    if backend == "numpy":
        return _NUMPY
    if backend == "torch":
        import array_api_compat
        import torch

        return array_api_compat.array_namespace(torch.empty(0))
    raise InvalidParameter(f"`backend` must be 'numpy' or 'torch'. Received {backend!r}")


class CoopetitionCore:
    """B copies of one coopetition game, stepped together.

    Args:
        params: the game (see :func:`rewardlab.envs.coopetition.params.build_params`).
        num_envs: B.
        backend: "numpy" or "torch".
        device: torch device (ignored for numpy).

    Example:
        >>> import numpy as np
        >>> from rewardlab.envs.coopetition.params import build_params
        >>> core = CoopetitionCore(build_params("TrustDilemma", reward_mode="private"), num_envs=3)
        >>> core.reset(seeds=[0, 1, 2])
        >>> out = core.step(np.array([[60.0, 20.0]] * 3))
        >>> out.payoff[0].round(3), out.reward.shape
        (array([134.342, 153.015]), (3, 2))
    """

    def __init__(self, params: GameParams, num_envs: int = 1, backend: str = "numpy", device: Any = None):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise InvalidParameter(f"`num_envs` must be an integer >= 1. Received {num_envs!r}")
        self.xp = _namespace(backend)
        self.backend, self.device = backend, (device if backend == "torch" else None)
        self.params, self.num_envs, self.n = params, int(num_envs), params.n
        self.obs_size, self.state_size = obs_sizes(params)
        n = self.n
        # Device copies of the constant arrays; `c` is what the mechanics functions read.
        consts = {f.name: getattr(params, f.name) for f in fields(params)}
        for key in ("endowment", "alpha", "D", "baseline"):
            consts[key] = self._arr(getattr(params, key))
        self.c = SimpleNamespace(**consts)
        self._eye = self._arr(np.eye(n, dtype=bool))
        self._rates = M.trust_rates(self.c.D, params, self.xp)
        self._onehot_b = self._arr(np.broadcast_to(np.eye(n), (self.num_envs, n, n)).copy())
        self._zeros_bn1 = self._full((self.num_envs, n, 1), 0.0)
        # TR-4 constant weight (1 + omega*D_ij) * rho0 * D_ij^eta
        self._rho_weight = self._arr((1.0 + params.omega_r * params.D) * params.rho0 * params.D**params.eta)
        self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
        self._alloc()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["xp"]  # a namespace of functions and modules; rebuilt from `backend`
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.xp = _namespace(self.backend)

    # --- helpers -------------------------------------------------------------------------------

    def _arr(self, x: Any) -> Any:
        if self.backend == "numpy":
            return np.asarray(x)
        return self.xp.asarray(np.asarray(x), device=self.device)

    def as_array(self, x: Any) -> Any:
        """`x` (numpy, list or tensor) as a float64 array of the core's namespace and device."""
        if self.backend == "numpy":
            return np.asarray(x, dtype=np.float64)
        return self.xp.asarray(x, dtype=self.xp.float64, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """A numpy copy (or view, on the numpy backend) of a core array."""
        return x if isinstance(x, np.ndarray) else np.asarray(x.detach().cpu())

    def _full(self, shape: tuple[int, ...], value: float) -> Any:
        return self.xp.full(shape, value, dtype=self.xp.float64, device=self.device)

    def _alloc(self) -> None:
        self._init = self._initial(self.num_envs)
        for key, value in self._init.items():
            setattr(self, key, value)
        self.gamma = self._full((self.num_envs,), self.params.gamma)
        self.reset()

    def _initial(self, B: int) -> dict[str, Any]:
        p, n, xp = self.params, self.n, self.xp
        eye = self._eye
        T0 = xp.where(eye, self._full((B, n, n), 1.0), self._full((B, n, n), p.trust0))
        R0 = xp.where(eye, self._full((B, n, n), 0.0), self._full((B, n, n), p.rep0))
        # At reset the "last action" is the baseline (the anchor's convention, spec §1.1).
        return {
            "t": xp.zeros((B,), dtype=xp.int64, device=self.device),
            "last_action": xp.zeros((B, n), dtype=xp.float64, device=self.device) + self.c.baseline,
            "T": T0, "R": R0,
            "loyalty": self._full((B, n), p.loyalty0),
            "member": self._full((B, n), 1.0),
            "excluded_steps": self._full((B, n), 0.0),
            "history": self._full((B, max(p.memory, 1), n), 0.0),
            "public_rep": self._full((B, n), 0.5),
            "agreed": self._full((B, n), 0.0),
            "agreement": self._full((B,), 0.0),
            "sanction": self._full((B, n), 0.0),
        }

    # --- API -----------------------------------------------------------------------------------

    def reset(self, mask: Any = None, seeds: list[int | None] | None = None) -> None:
        """Reset the sub-envs selected by the boolean `mask` (all when None).

        ``seeds[i]`` (when given and not None) reseeds sub-env i's generator first. No state survives a
        reset: trust, reputation, loyalty, coalition, memory, agreements and public reputations all
        return to their initial values. On the torch backend `mask` may be a bool tensor on the core's
        device: the reset is then a masked write on the device, with no read back to the host (except
        for SynergySearch's gamma, which the host generators draw).
        """
        B, xp = self.num_envs, self.xp
        if self.backend == "torch" and seeds is None and hasattr(mask, "device"):
            for key, value in self._init.items():
                mk = xp.reshape(mask, (B,) + (1,) * (value.ndim - 1))
                setattr(self, key, xp.where(mk, value, getattr(self, key)))
            if self.params.special == "random_gamma":
                self._draw_gamma(self.to_numpy(mask))
            return
        mask_np = np.ones(B, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if seeds is not None:
            for i, s in enumerate(seeds):
                if s is not None and mask_np[i]:
                    self._rngs[i] = np.random.default_rng(s)
        if not mask_np.any():
            return
        if mask_np.all():  # state arrays are replaced, never written in place, so the template can be shared
            for key, value in self._init.items():
                setattr(self, key, value)
        else:
            m = self._arr(mask_np)
            for key, value in self._init.items():
                mk = xp.reshape(m, (B,) + (1,) * (value.ndim - 1))
                setattr(self, key, xp.where(mk, value, getattr(self, key)))
        if self.params.special == "random_gamma":
            self._draw_gamma(mask_np)

    def _draw_gamma(self, mask_np: np.ndarray) -> None:
        """SynergySearch: a new gamma from each reset sub-env's own generator (host mask `mask_np`)."""
        lo, hi = self.params.gamma_range
        g = self.to_numpy(self.gamma).copy()
        for i in np.flatnonzero(mask_np):
            g[i] = self._rngs[i].uniform(lo, hi)
        self.gamma = self._arr(g)

    def _partner(self) -> Any:
        """DynamicPartnerSelection: pairs by public reputation (highest two together, then the next two)."""
        xp = self.xp
        order = xp.argsort(-self.public_rep, axis=-1, stable=True)
        rank = xp.argsort(order, axis=-1, stable=True)
        return xp.take_along_axis(order, xp.bitwise_xor(rank, 1), axis=-1)

    def step(self, actions: Any) -> StepResult:
        """Step every sub-env with joint actions ``[B, n]`` (clipped to [0, e_i])."""
        xp, p, c, n = self.xp, self.params, self.c, self.n
        a = xp.minimum(xp.maximum(self.as_array(actions), 0.0), c.endowment)
        weights = c.D

        # TR-2 trust and reputation, then the post-update trust is used by the reward (spec §1.1 order)
        s = M.trust_signal(a, c.baseline, p.kappa, xp)
        T, R = M.trust_update(self.T, self.R, s, self._rates, p, xp)
        psi = 0.0

        if p.mechanism == "tr3":
            payoff, teammates = M.team_payoff(a, self.member, c, xp)
            r = a / c.endowment
            loyalty = xp.where(r >= 0.5, self.loyalty + p.loyalty_gain * r, self.loyalty - p.loyalty_loss * (0.5 - r))
            self.loyalty = xp.clip(loyalty, 0.0, p.loyalty_cap)
            psi = M.loyalty_term(a, teammates, self.loyalty, self.member, c)
            if p.special == "coalition":
                self._update_coalition()
        elif p.special == "partner_selection":
            partner = self._partner()
            a_partner = xp.take_along_axis(a, partner, axis=-1)
            g = M.synergy(xp.stack([a, a_partner], axis=-1), xp)
            payoff = M.tr1_payoff(a, c.endowment, 0.5, p.value_theta, self.gamma, xp, g=g)
            weights = c.D * (xp.arange(n, device=self.device) == partner[..., None])
            self.public_rep = (1.0 - p.ema_rate) * self.public_rep + p.ema_rate * a / c.endowment
        else:
            payoff = M.tr1_payoff(a, c.endowment, c.alpha, p.value_theta, self.gamma, xp)

        if p.special == "market":
            rep = self.public_rep
            tier = xp.full_like(rep, _LOW_TIER)  # an array operand keeps torch's where in float64
            for floor, multiplier in _TIERS[::-1]:
                tier = xp.where(rep >= floor, multiplier, tier)
            payoff = tier * payoff  # TR-1 payoffs are >= 0 (a <= e), so a multiplier keeps its sign meaning
            self.public_rep = xp.clip(rep + p.reputation_step * (a / c.endowment - 0.5), 0.0, 1.0)
        elif p.special == "negotiation":
            deviation = xp.abs(a - self.agreed)
            bound = self.agreement[..., None] > 0
            breach = bound & (deviation > p.agreement_tolerance)
            payoff = payoff - xp.where(breach, p.breach_penalty * deviation, 0.0)
            forms = (self.agreement <= 0) & (xp.abs(a[..., 0] - a[..., 1]) <= p.agreement_tolerance)
            self.agreed = xp.where(forms[..., None], a, self.agreed)
            self.agreement = xp.where(forms, 1.0, self.agreement)
        elif p.special == "sanction":
            short = a < c.baseline
            level = xp.where(short, xp.minimum(self.sanction + 1.0, float(p.sanction_levels)), xp.maximum(self.sanction - 1.0, 0.0))
            self.sanction = level
            payoff = payoff - xp.where(short, p.sanction_fine * level, 0.0)

        if p.mechanism == "tr4":
            psi = M.reciprocity_term(a, self._memory_mean(), self.t > 0, T, self._rho_weight, p, xp)
            self.history = xp.concat([self.history[:, 1:, :], a[:, None, :]], axis=1)

        if p.trust_gated:
            weights = weights * xp.minimum(T, 1.0 - R)
        utility = payoff + psi
        reward = M.mode_reward(utility, payoff, weights, p, xp)

        self.T, self.R, self.last_action = T, R, a
        self.t = self.t + 1
        terminated, success = self._termination()
        truncated = (self.t >= p.max_steps) & ~terminated
        return StepResult(reward, payoff, utility, terminated, truncated, success)

    def _memory_mean(self) -> Any:
        """TR-4: each agent's mean action over its previous min(k, t) steps (0 before the first step)."""
        xp = self.xp
        steps = xp.astype(xp.clip(self.t, 1, self.params.memory), xp.float64)
        return xp.sum(self.history, axis=-2) / steps[:, None]

    def _update_coalition(self) -> None:
        """CoalitionFormation: exclusion below loyalty 0.15, re-entry after 5 steps out at loyalty >= 0.4."""
        xp, p = self.xp, self.params
        out = self.member <= 0
        steps = xp.where(out, self.excluded_steps + 1.0, 0.0)
        reenter = out & (steps >= p.reentry_wait) & (self.loyalty >= p.reentry_loyalty)
        exclude = ~out & (self.loyalty < p.exclusion_loyalty)
        self.member = xp.where(exclude, 0.0, xp.where(reenter, 1.0, self.member))
        self.excluded_steps = xp.where(exclude | reenter, 0.0, steps)

    def _termination(self) -> tuple[Any, Any]:
        xp, p, n = self.xp, self.params, self.n
        false = xp.zeros((self.num_envs,), dtype=xp.bool, device=self.device)
        kind = p.end_kind
        if kind == "none":
            return false, false
        if kind in ("mean_trust_below", "mean_trust_reaches"):
            mean = (xp.sum(self.T, axis=(-2, -1)) - n) / (n * (n - 1))  # the diagonal is exactly 1
            if kind == "mean_trust_below":
                return mean < p.end_threshold, false
            hit = mean >= p.end_threshold
            return hit, hit
        if kind == "pair_trust_below":
            i, j = p.end_pair
            return self.T[:, i, j] < p.end_threshold, false
        if kind == "spoke_trust_below":
            return xp.mean(self.T[:, 1:, 0], axis=-1) < p.end_threshold, false
        if kind == "coalition_below":
            return xp.sum(self.member, axis=-1) < p.min_coalition, false
        raise AssertionError(kind)  # internal: build_params only produces the kinds above

    # --- observations --------------------------------------------------------------------------

    def _extras(self) -> list[Any]:
        p, c, xp = self.params, self.c, self.xp
        out: list[Any] = []
        if p.mechanism == "tr3":
            out.append(self.loyalty)
        if p.mechanism == "tr4":
            out.append(self._memory_mean() / c.endowment)
        if p.special == "partner_selection":
            out += [self.public_rep, xp.astype(self._partner(), xp.float64) / (self.n - 1)]
        elif p.special == "random_gamma" and p.reveal_gamma:
            out.append(self.gamma[:, None])
        elif p.special == "negotiation":
            out += [self.agreed / c.endowment, self.agreement[:, None]]
        elif p.special == "market":
            out.append(self.public_rep)
        elif p.special == "coalition":
            out.append(self.member)
        elif p.special == "sanction":
            out.append(self.sanction / p.sanction_levels)
        return out

    def _time(self) -> Any:
        return self.xp.astype(self.t, self.xp.float64)[:, None] / self.params.max_steps

    def state_obs(self) -> Any:
        """Global state ``[B, n + 2n^2 + 1 + x]``: last actions/e, T and R flattened, t/T, extras."""
        xp, B, n = self.xp, self.num_envs, self.n
        parts = [self.last_action / self.c.endowment, xp.reshape(self.T, (B, n * n)), xp.reshape(self.R, (B, n * n)),
                 self._time(), *self._extras()]
        return xp.astype(xp.concat(parts, axis=-1), xp.float32)

    def agent_obs(self) -> Any:
        """Per-agent observations ``[B, n, 6n + 1 + x]``.

        Agent i sees: its one-hot id, its trust row T[i, :], the trust column T[:, i] others place in it,
        the damage row R[i, :] and column R[:, i], then the shared block: all last actions/e, t/T and
        the env's extras.
        """
        xp = self.xp
        shared = xp.concat([self.last_action / self.c.endowment, self._time(), *self._extras()], axis=-1)
        parts = [self._onehot_b, self.T, xp.permute_dims(self.T, (0, 2, 1)), self.R, xp.permute_dims(self.R, (0, 2, 1)),
                 shared[:, None, :] + self._zeros_bn1]
        return xp.astype(xp.concat(parts, axis=-1), xp.float32)
