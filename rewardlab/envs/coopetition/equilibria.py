"""Stage-game equilibria: closed forms (spec §2.1, §2.4) and a solver on the reward the env pays.

The solver evaluates the environment's own first-step reward (from the reset state, through the
batched core, so every mechanism is included) on a batch of candidate joint actions, and finds

- ``"nash"``: each agent best-responds on its private reward (reward_mode="private");
- ``"coopetitive"``: each agent best-responds on its integrated reward (ungated D, reward_mode="integrated");
- ``"social"``: the joint action maximising the sum of the agents' utilities (reward_mode="cooperative").

Symmetric games are solved on the symmetric profile (bisection on the best-response fixed point);
asymmetric ones by Gauss-Seidel best-response sweeps. A best response is found by a zooming grid
search over [0, e_i], which also handles the kinks of sanction fines and loyalty updates.

Functions: :func:`tr1_symmetric`, :func:`tr3_nash`, :func:`tr3_loyalty_effort`,
:func:`tr3_social_optimum`, :func:`stage_equilibrium`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.params import GameParams
from rewardlab.errors import InvalidParameter

__all__ = ["tr1_symmetric", "tr3_nash", "tr3_loyalty_effort", "tr3_social_optimum", "stage_equilibrium", "KINDS"]

KINDS = {"nash": "private", "coopetitive": "integrated", "social": "cooperative"}
_GRID = 41
_LEVELS = 6


def tr1_symmetric(theta: float, gamma: float, n: int, w: float) -> dict[str, float]:
    """Symmetric TR-1 stage equilibria with alpha = 1/n and partner weight w (spec §2.1).

    Example:
        >>> {k: round(v, 3) for k, v in tr1_symmetric(20, 0.7, 2, 0.6).items()}
        {'nash': 23.242, 'coopetitive': 26.778, 'social': 29.769}
    """
    g = gamma / n**2
    return {
        "nash": theta / (1 - g) - 1,
        "coopetitive": theta / (1 - g * (1 + (n - 1) * w)) - 1,
        "social": theta / (1 - gamma / n) - 1,
    }


def tr3_loyalty_effort(loyalty: float, omega: float, beta: float, cost: float, n: int,
                       phi_b: float, phi_c: float) -> float:
    """Symmetric TR-3 loyalty equilibrium a*(theta) = (1/n)[omega*beta*(1+theta*phi_B)/(n*c*(1-theta*phi_C))]^(1/(1-beta)).

    Unclipped; clip to [0, a_max] for the feasible equilibrium (spec §2.4).

    Example:
        >>> round(tr3_loyalty_effort(0.0, 25, 0.7, 1, 4, 0.8, 0.3), 3)
        34.24
    """
    return (omega * beta * (1 + loyalty * phi_b) / (n * cost * (1 - loyalty * phi_c))) ** (1 / (1 - beta)) / n


def tr3_nash(omega: float, beta: float, cost: float, n: int) -> float:
    """Holmstrom free-riding effort (omega*beta/(c*n^(2-beta)))^(1/(1-beta)); 34.240 at n = 4 (spec §2.4)."""
    return (omega * beta / (cost * n ** (2 - beta))) ** (1 / (1 - beta))


def tr3_social_optimum(omega: float, beta: float, cost: float, n: int) -> float:
    """Per-agent social optimum (omega*beta/c)^(1/(1-beta))/n; 3478.6 at n = 4, so a_max = 50 binds (spec §2.4)."""
    return (omega * beta / cost) ** (1 / (1 - beta)) / n


class _Stage:
    """The first-step reward of a game, evaluated on batches of joint actions."""

    def __init__(self, params: GameParams, mode: str, batch: int):
        self.core = CoopetitionCore(dataclasses.replace(params, reward_mode=mode, trust_gated=False,
                                                        cooperative_aggregate="sum"), batch)
        self.mid_gamma = float(np.mean(params.gamma_range)) if params.special == "random_gamma" else None

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        self.core.reset()
        if self.mid_gamma is not None:  # hidden gamma: solve the game at its expected value
            self.core.gamma = np.full(self.core.num_envs, self.mid_gamma)
        return self.core.step(actions).reward


def _zoom(objective: Any, high: float) -> float:
    """argmax over [0, high] of a batched scalar objective f(x[G]) -> [G], by a zooming grid."""
    lo, hi = 0.0, high
    best = 0.0
    for _ in range(_LEVELS):
        xs = np.linspace(lo, hi, _GRID)
        best = float(xs[int(np.argmax(objective(xs)))])
        step = (hi - lo) / (_GRID - 1)
        lo, hi = max(0.0, best - 2 * step), min(high, best + 2 * step)
    return best


def _symmetric(p: GameParams) -> bool:
    n = p.n
    same = all(np.allclose(v, v[0]) for v in (p.endowment, p.alpha, p.baseline))
    return same and np.allclose(p.D, p.D[0, 1] * (1 - np.eye(n)))


def stage_equilibrium(params: GameParams, kind: str = "nash") -> np.ndarray:
    """The stage-game equilibrium of `kind` ("nash", "coopetitive" or "social"), one level per agent.

    Example:
        >>> from rewardlab.envs.coopetition.params import build_params
        >>> stage_equilibrium(build_params("TrustDilemma"), "nash").round(3)
        array([23.242, 23.242])
    """
    if kind not in KINDS:
        raise InvalidParameter(f"`kind` must be one of {sorted(KINDS)}. Received {kind!r}")
    n, e = params.n, params.endowment
    stage = _Stage(params, KINDS[kind], _GRID)
    if _symmetric(params):
        ones = np.ones((_GRID, n))
        if kind == "social":
            return np.full(n, _zoom(lambda xs: stage(xs[:, None] * ones).sum(-1), float(e[0])))

        def best_reply(x: float) -> float:
            def own(xs: np.ndarray) -> np.ndarray:
                profile = x * ones
                profile[:, 0] = xs
                return stage(profile)[:, 0]

            return _zoom(own, float(e[0]))

        lo, hi = 0.0, float(e[0])  # h(x) = BR(x) - x is >= 0 at 0 and <= 0 at e
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if best_reply(mid) > mid else (lo, mid)
        return np.full(n, 0.5 * (lo + hi))
    profile = e / 2
    for _ in range(200):
        before = profile.copy()
        for i in range(n):
            def own(xs: np.ndarray, i: int = i) -> np.ndarray:
                cand = np.tile(profile, (xs.shape[0], 1))
                cand[:, i] = xs
                r = stage(cand)
                return r.sum(-1) if kind == "social" else r[:, i]

            profile[i] = _zoom(own, float(e[i]))
        if np.max(np.abs(profile - before)) < 1e-6:
            break
    return profile
