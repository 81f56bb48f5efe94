"""The coopetition mathematics (spec §2, the (S) equations) as pure batched functions.

Every function takes arrays with any leading batch shape and the array namespace ``xp`` (numpy, or
torch through array-api-compat), so the same code serves the single envs, the batched core and the
stage-game solvers. Agents index the last axis; matrices are ``[..., i, j]`` (observer i, observed j).

Functions: :func:`value`, :func:`synergy`, :func:`tr1_payoff`, :func:`trust_signal`,
:func:`trust_rates`, :func:`trust_update`, :func:`team_payoff`, :func:`loyalty_term`, :func:`reciprocity_term`,
:func:`mode_reward`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "value",
    "synergy",
    "tr1_payoff",
    "trust_signal",
    "trust_rates",
    "trust_update",
    "team_payoff",
    "loyalty_term",
    "reciprocity_term",
    "mode_reward",
]

SYNERGY_FLOOR = 1e-10


def value(a: Any, theta: float, xp: Any) -> Any:
    """Individual value f(a) = theta*ln(1+a) (TR-1, log specification).

    Example:
        >>> import numpy as np
        >>> round(float(value(np.array(50.0), 20.0, np)), 3)
        78.637
    """
    return theta * xp.log1p(a)


def synergy(a: Any, xp: Any) -> Any:
    """Geometric mean over the last axis, (prod a_j)^(1/n); 0 when any a_j <= 1e-10 (TR-1).

    Example:
        >>> import numpy as np
        >>> synergy(np.array([[75.0, 25.0], [0.0, 50.0]]), np).round(3)
        array([43.301,  0.   ])
    """
    positive = xp.all(a > SYNERGY_FLOOR, axis=-1)
    mean_log = xp.sum(xp.log(xp.maximum(a, SYNERGY_FLOOR)), axis=-1) / a.shape[-1]
    return xp.where(positive, xp.exp(mean_log), 0.0)


def tr1_payoff(a: Any, e: Any, alpha: Any, theta: float, gamma: Any, xp: Any, g: Any = None) -> Any:
    """Private payoff pi_i = (e_i - a_i) + f(a_i) + alpha_i*gamma*g(a) (TR-1).

    `gamma` is a scalar or an array with the batch shape; `g` overrides the synergy (per-agent, as in
    partner matching) when given.

    Example:
        >>> import numpy as np
        >>> tr1_payoff(np.array([60.0, 20.0]), np.array([100.0, 100.0]), np.array([.5, .5]), 20.0, 0.7, np).round(3)
        array([134.342, 153.015])
    """
    if g is None:
        g = synergy(a, xp)[..., None]
    if not isinstance(gamma, (int, float)):
        gamma = gamma[..., None]
    return (e - a) + value(a, theta, xp) + alpha * gamma * g


def trust_signal(a: Any, baseline: Any, kappa: float, xp: Any) -> Any:
    """Cooperation signal s_j = tanh(kappa*(a_j - b_j)) of each observed agent j (TR-2)."""
    return xp.tanh(kappa * (a - baseline))


def trust_rates(D: Any, p: Any, xp: Any) -> tuple[Any, Any, Any]:
    """Constant per-pair rates of :func:`trust_update`: (lam+, lam-*(1 + xi*D), mu_R), zero on the diagonal.

    The zero diagonal keeps self-trust at 1 and self-damage at 0 without a separate fix-up.
    """
    off = 1.0 - xp.eye(D.shape[-1], dtype=D.dtype, device=getattr(D, "device", None))
    return p.lam_plus * off, p.lam_minus * (1.0 + p.xi * D) * off, p.mu_r * off


def trust_update(T: Any, R: Any, s: Any, rates: tuple[Any, Any, Any], p: Any, xp: Any) -> tuple[Any, Any]:
    """One TR-2 step of trust T and reputation damage R, ``[..., i, j]``, given signals s ``[..., j]``.

    Building ``lam+ * s * max(0, 1-R-T)`` when s > 0; erosion ``lam- * s * T * (1 + xi*D)`` when s < 0.
    Damage grows ``mu_R*|s|*(1-R)`` on violations and otherwise decays ``-delta_R*R`` (regime-separated).
    The ceiling uses R before the update. Trust stays in [0, 1] (the TR-2 suite's clip never binds,
    see below); with ``p.trust_clip == "ceiling"`` (the anchor envs) it is clipped to [0, 1-R_pre].
    `rates` comes from :func:`trust_rates`.

    Example:
        >>> import numpy as np
        >>> from rewardlab.envs.coopetition.params import build_params
        >>> p = build_params("TrustDilemma")
        >>> T, R = np.array([[1.0, 0.5], [0.5, 1.0]]), np.zeros((2, 2))
        >>> s = trust_signal(np.array([60.0, 20.0]), p.baseline, p.kappa, np)
        >>> T2, R2 = trust_update(T, R, s, trust_rates(p.D, p, np), p, np)
        >>> T2.round(3), R2
        (array([[1.   , 0.194],
               [0.575, 1.   ]]), array([[0. , 0.5],
               [0. , 0. ]]))
    """
    build, erode, damage = rates
    s = s[..., None, :]
    ceiling = 1.0 - R
    # s = 0 gives 0 in both branches, so one where suffices. No clip to [0, 1] is needed: building moves
    # T toward the ceiling by a fraction lam+*s <= 1, erosion scales T by 1 - lam-*|s|*(1+xi*D) >= 0
    # (build_params checks lam-*(1+xi*max D) < 1), damage moves R toward 1 by mu_R*|s| <= 1 or decays it.
    T_new = T + xp.where(s > 0, build * s * xp.maximum(ceiling - T, 0.0), erode * s * T)
    if p.trust_clip == "ceiling":
        T_new = xp.minimum(T_new, ceiling)
    return T_new, R + xp.where(s < 0, -damage * s * ceiling, -p.delta_r * R)


def team_payoff(a: Any, member: Any, p: Any, xp: Any) -> tuple[Any, Any]:
    """TR-3 team payoff and the teammates' mean payoff, over coalition members (``member`` in {0, 1}).

    Q = omega*(sum of members' a)^beta; a member gets pi_i = Q/m - c*a_i, a non-member -c*a_i (its effort
    produces nothing). pi_bar_{-i} = Q/m - c*(mean of the other members' a). PublicGoods adds the kept
    endowment e_i to pi_i (not to pi_bar, which is the spec's TR-3 quantity).

    Example:
        >>> import numpy as np
        >>> from rewardlab.envs.coopetition.params import build_params
        >>> p = build_params("TeamProduction")
        >>> pi, _ = team_payoff(np.full(4, 40.0), np.ones(4), p, np)
        >>> pi.round(3)
        array([178.154, 178.154, 178.154, 178.154])
    """
    members = xp.sum(member, axis=-1, keepdims=True)
    total = xp.sum(member * a, axis=-1, keepdims=True)
    share = p.omega * total**p.beta / xp.maximum(members, 1.0)
    pi = member * share - p.cost * a
    if p.keeps_endowment:
        pi = pi + p.endowment
    others = xp.maximum(members - member, 1.0)
    mean_others = p.cost * (total - member * a) / others
    return pi, share - mean_others


def loyalty_term(a: Any, teammates: Any, loyalty: Any, member: Any, p: Any) -> Any:
    """L_i = theta_i*[phi_B*pi_bar_{-i} + phi_C*c*a_i] for coalition members, 0 otherwise (TR-3)."""
    return member * loyalty * (p.phi_b * teammates + p.phi_c * p.cost * a)


def reciprocity_term(a: Any, memory_mean: Any, has_memory: Any, T: Any, rho_weight: Any, p: Any, xp: Any) -> Any:
    """U_recip,i = lambda_R * sum_j T_ij*(1 + omega*D_ij)*rho_ij*tanh(kappa*s_j) (TR-4, additive).

    s_j = a_j - mean of j's previous min(k, t-1) actions; 0 on the first step (``has_memory`` False).
    ``rho_weight`` is the constant (1 + omega*D_ij)*rho0*D_ij^eta, ``[i, j]``.
    """
    s = xp.where(has_memory[..., None], a - memory_mean, 0.0)
    phi = xp.tanh(p.recip_kappa * s)
    return p.lambda_r * xp.sum(T * rho_weight * phi[..., None, :], axis=-1)


def mode_reward(utility: Any, payoff: Any, weights: Any, p: Any, xp: Any) -> Any:
    """Per-agent reward of the reward mode (spec §2.2).

    ``utility`` is each agent's own utility u_i = pi_i + psi_i (psi: loyalty or reciprocity term, 0 in
    TR-1/TR-2 envs) and ``weights`` the interdependence weights ``[..., i, j]`` (D, or D times effective
    trust when gated). private: u_i; integrated: u_i + sum_j w_ij*pi_j; cooperative: mean (or sum) of u.
    """
    if p.reward_mode == "private":
        return utility
    if p.reward_mode == "integrated":
        return utility + xp.sum(weights * payoff[..., None, :], axis=-1)
    joint = xp.sum(utility, axis=-1, keepdims=True)
    if p.cooperative_aggregate == "mean":
        joint = joint / utility.shape[-1]
    return joint + xp.zeros_like(utility)
