"""Exact tabular planning and reward distances (STARC, EPIC) on finite MDPs.

Tabular arrays: ``S`` states, ``A`` actions. ``transitions[s, a, s']`` is a probability and each
row ``transitions[s, a, :]`` sums to 1. Terminal states are **absorbing**: a terminal state loops
to itself with probability 1 and zero reward in the table (gymnasium's FrozenLake ``P`` writes
them so, and :func:`rewardlab.envs.tabular.tabular_mdp` makes every MDP's terminal states so). The planning
functions also take a ``terminal`` mask, which pins ``V = 0`` there; with absorbing zero-reward
terminal states and ``gamma < 1`` that gives the same values, and it makes ``gamma = 1`` solvable
in episodic tasks. The distances take no mask: they canonicalize on the absorbing chain, where
potential shaping is exact for any potential (see :func:`starc_distance`).

Planning: :class:`TabularMDP`, :func:`policy_evaluation`, :func:`value_iteration`,
:func:`optimal_advantage`, :func:`greedy_policy`, :func:`policy_return`.
Distances: :func:`val_canonicalize`, :func:`starc_distance`, :func:`epic_canonicalize`,
:func:`epic_distance`; :func:`reward_table` turns any rewardlab term into an ``(S, A, S')`` table;
:func:`sampled_starc_distance` (:class:`SampledDistance`) estimates STARC from sampled transitions
of an env without a table (a diagnostic with bootstrap error bars).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab._array import take_rows
from rewardlab.errors import InvalidParameter

__all__ = [
    "TabularMDP",
    "policy_evaluation",
    "value_iteration",
    "optimal_advantage",
    "greedy_policy",
    "policy_return",
    "val_canonicalize",
    "starc_distance",
    "epic_canonicalize",
    "epic_distance",
    "reward_table",
    "SampledDistance",
    "sampled_starc_distance",
]


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP with the observation each state emits.

    Attributes:
        transitions: ``(S, A, S)`` float64, ``transitions[s, a, s']``; rows sum to 1; terminal
            states are absorbing (a self-loop with probability 1).
        reward: ``(S, A, S)`` float64, the env's own reward; 0 on the terminal self-loops.
        initial: ``(S,)`` start distribution.
        terminal: ``(S,)`` bool, the absorbing states the env terminates in.
        obs: ``(S, ...)`` the observation the env emits in each state (for :func:`reward_table`), or
            a dict of such arrays for a Dict observation space (gridhack).
        gamma: the discount studies of this MDP use.
        name: the env id it was built from ("" for a synthetic MDP).
    """

    transitions: np.ndarray
    reward: np.ndarray
    initial: np.ndarray
    terminal: np.ndarray
    obs: Any
    gamma: float = 0.99
    name: str = ""

    @property
    def num_states(self) -> int:
        return int(self.transitions.shape[0])

    @property
    def num_actions(self) -> int:
        return int(self.transitions.shape[1])

    def reachable(self) -> np.ndarray:
        """``(S,)`` bool: the states reachable from the start distribution (Taxi's table also lists others).

        Example:
            >>> t = np.zeros((3, 1, 3)); t[0, 0, 1] = t[1, 0, 1] = t[2, 0, 2] = 1.0  # 0 -> 1 -> 1; 2 is cut off
            >>> TabularMDP(t, np.zeros_like(t), np.array([1.0, 0, 0]), np.zeros(3, bool), None).reachable().tolist()
            [True, True, False]
        """
        seen = self.initial > 0
        while True:
            grown = seen | (self.transitions[seen].sum(axis=(0, 1)) > 0)
            if (grown == seen).all():
                return seen
            seen = grown


# --- input checks ------------------------------------------------------------------------------


def _check_gamma(gamma: Any, *, allow_one: bool) -> float:
    # gamma = 1 makes policy evaluation singular on a chain that never ends; only the masked
    # planning functions (terminal states pinned to 0) accept it.
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating)) or not np.isfinite(gamma):
        raise InvalidParameter(f"`gamma` must be a float in [0, 1{']' if allow_one else ')'}. Received {gamma!r}")
    if not (0.0 <= gamma < 1.0 or (allow_one and gamma == 1.0)):
        raise InvalidParameter(f"`gamma` must be in [0, 1{']' if allow_one else ')'}. Received {gamma}")
    return float(gamma)


def _check_transitions(transitions: Any) -> np.ndarray:
    t = np.asarray(transitions, dtype=np.float64)
    if t.ndim != 3 or t.shape[0] != t.shape[2] or t.shape[0] == 0 or t.shape[1] == 0:
        raise InvalidParameter(f"`transitions` must have shape (S, A, S) with S, A >= 1. Received shape {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any():
        raise InvalidParameter("`transitions` must hold finite, non-negative probabilities")
    sums = t.sum(axis=2)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-9):
        s, a = np.unravel_index(np.argmax(np.abs(sums - 1.0)), sums.shape)
        raise InvalidParameter(f"`transitions[s, a, :]` must sum to 1; row (s={s}, a={a}) sums to {sums[s, a]!r}")
    return t


def _check_reward(reward: Any, shape: tuple[int, ...], what: str = "reward") -> np.ndarray:
    r = np.asarray(reward, dtype=np.float64)
    if r.shape != shape:
        raise InvalidParameter(f"`{what}` must have shape (S, A, S) = {shape}, like `transitions`. Received shape {r.shape}")
    if not np.isfinite(r).all():
        raise InvalidParameter(f"`{what}` must be finite; it holds NaN or inf")
    return r


def _check_terminal(terminal: Any, num_states: int) -> np.ndarray:
    if terminal is None:
        return np.zeros(num_states, dtype=bool)
    m = np.asarray(terminal)
    if m.shape != (num_states,) or m.dtype != bool:
        raise InvalidParameter(f"`terminal` must be a bool array of shape ({num_states},). Received {m.dtype} {m.shape}")
    return m


def _check_policy(policy: Any, num_states: int, num_actions: int) -> np.ndarray:
    p = np.asarray(policy, dtype=np.float64)
    if p.shape != (num_states, num_actions):
        raise InvalidParameter(f"`policy` must have shape (S, A) = {(num_states, num_actions)}. Received shape {p.shape}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-9):
        raise InvalidParameter("`policy[s, :]` must be a probability distribution over actions for every state")
    return p


# --- planning ----------------------------------------------------------------------------------


def _evaluate(policy: np.ndarray, t: np.ndarray, r: np.ndarray, gamma: float, terminal: np.ndarray) -> np.ndarray:
    """V^pi by one linear solve: (I - gamma P_pi) V = r_pi, with V = 0 pinned on terminal states."""
    p_pi = np.einsum("sa,sat->st", policy, t)
    r_pi = np.einsum("sa,sat,sat->s", policy, t, r)
    p_pi[terminal] = 0.0
    r_pi[terminal] = 0.0
    try:
        return np.linalg.solve(np.eye(len(r_pi)) - gamma * p_pi, r_pi)
    except np.linalg.LinAlgError as e:
        raise InvalidParameter(
            "policy evaluation is singular: with gamma = 1 the policy must reach a `terminal` state with probability 1"
        ) from e


#: Value-iteration sweeps that warm-start policy iteration when gamma < 1.
WARM_SWEEPS = 200


def _backup(t: np.ndarray, r: np.ndarray, gamma: float, terminal: np.ndarray, v: np.ndarray,
            expected: np.ndarray | None = None) -> np.ndarray:
    """Q(s, a) = E_{s'}[R(s, a, s') + gamma V(s')], and Q = 0 on terminal states (`expected`: E[R] if known)."""
    if expected is None:
        expected = np.einsum("sat,sat->sa", t, r)
    q = expected + gamma * (t @ np.where(terminal, 0.0, v))
    q[terminal] = 0.0
    return q


def policy_evaluation(policy: Any, transitions: Any, reward: Any, gamma: float, *, terminal: Any = None) -> np.ndarray:
    """The value ``V^pi[S]`` of a stochastic policy ``(S, A)``, exact (one linear solve).

    Example:
        >>> import numpy as np
        >>> t = np.zeros((2, 1, 2)); t[0, 0, 1] = t[1, 0, 1] = 1.0   # 0 -> 1, 1 -> 1 forever
        >>> r = np.zeros((2, 1, 2)); r[:, 0, 1] = 1.0                # 1 per step
        >>> policy_evaluation(np.ones((2, 1)), t, r, 0.5).round(12).tolist()   # 1 / (1 - 0.5)
        [2.0, 2.0]
    """
    t = _check_transitions(transitions)
    r = _check_reward(reward, t.shape)
    term = _check_terminal(terminal, t.shape[0])
    g = _check_gamma(gamma, allow_one=terminal is not None)
    return _evaluate(_check_policy(policy, t.shape[0], t.shape[1]), t, r, g, term)


def value_iteration(
    transitions: Any,
    reward: Any,
    gamma: float,
    *,
    terminal: Any = None,
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal ``(V[S], Q[S, A])`` by value iteration, finished by exact policy iteration.

    Value iteration runs until the largest change is below ``tol`` (or ``max_iter`` sweeps; at
    most :data:`WARM_SWEEPS` when ``gamma < 1``); then the greedy policy is evaluated exactly (a
    linear solve) and improved until it is stable (policy iteration, which ends at the optimum
    from any start when ``gamma < 1``), so the result is exact to rounding even when ``gamma`` is
    close to 1.

    Raises:
        InvalidParameter: for malformed arrays or gamma (gamma = 1 needs a ``terminal`` mask).

    Example:
        >>> import numpy as np
        >>> t = np.zeros((2, 2, 2)); t[:, 0, 0] = 1.0; t[:, 1, 1] = 1.0   # action a goes to state a
        >>> r = np.zeros((2, 2, 2)); r[:, :, 1] = 1.0                     # being sent to state 1 pays 1
        >>> v, q = value_iteration(t, r, 0.9)
        >>> v.round(9).tolist(), q[0].round(9).tolist()                  # 1/(1-0.9); 0.9 * 10
        ([10.0, 10.0], [9.0, 10.0])
    """
    t = _check_transitions(transitions)
    r = _check_reward(reward, t.shape)
    term = _check_terminal(terminal, t.shape[0])
    g = _check_gamma(gamma, allow_one=terminal is not None)
    if not isinstance(max_iter, int) or max_iter < 1:
        raise InvalidParameter(f"`max_iter` must be a positive int. Received {max_iter!r}")
    v = np.zeros(t.shape[0])
    expected = np.einsum("sat,sat->sa", t, r)
    # With gamma < 1 policy iteration below ends at the exact optimum from any start, so value
    # iteration only warm-starts it; with gamma = 1 (where a greedy policy may never terminate) it runs to `tol`.
    sweeps = max_iter if g == 1.0 else min(max_iter, WARM_SWEEPS)
    for _ in range(sweeps):
        q = _backup(t, r, g, term, v, expected)
        v_new = q.max(axis=1)
        done = np.max(np.abs(v_new - v)) < tol
        v = v_new
        if done:
            break
    # Policy iteration from the greedy policy: exact values, and a stable greedy policy is optimal.
    # With gamma = 1 a greedy policy may loop forever on a tie (no terminal reached): then the value
    # iteration result stands.
    actions = q.argmax(axis=1)
    rows = np.arange(t.shape[0])
    for _ in range(1000):
        pi = np.zeros((t.shape[0], t.shape[1]))
        pi[rows, actions] = 1.0
        try:
            v_pi = _evaluate(pi, t, r, g, term)
        except InvalidParameter:
            break
        if g == 1.0 and not np.isfinite(v_pi).all():
            break
        v = v_pi
        q = _backup(t, r, g, term, v, expected)
        best = q.max(axis=1)
        # Keep the current action unless another is better by more than rounding (avoids cycling on ties).
        improve = q[rows, actions] < best - 1e-12 * (1.0 + np.abs(best))
        if not improve.any():
            break
        actions = np.where(improve, q.argmax(axis=1), actions)
    return v, q


def optimal_advantage(transitions: Any, reward: Any, gamma: float, *, terminal: Any = None) -> np.ndarray:
    """``A*(s, a) = Q*(s, a) - V*(s)``, shape ``(S, A)``, <= 0 with 0 at optimal actions.

    Example:
        >>> import numpy as np
        >>> t = np.zeros((2, 2, 2)); t[:, 0, 0] = 1.0; t[:, 1, 1] = 1.0
        >>> r = np.zeros((2, 2, 2)); r[:, :, 1] = 1.0
        >>> optimal_advantage(t, r, 0.9).round(9).tolist()
        [[-1.0, 0.0], [-1.0, 0.0]]
    """
    v, q = value_iteration(transitions, reward, gamma, terminal=terminal)
    return q - v[:, None]


def greedy_policy(q: Any, *, tol: float = 1e-9) -> np.ndarray:
    """The ``(S, A)`` policy uniform over the actions within ``tol`` of ``max_a Q(s, a)``.

    Example:
        >>> greedy_policy([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]]).tolist()
        [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2:
        raise InvalidParameter(f"`q` must have shape (S, A). Received shape {q.shape}")
    best = q.max(axis=1, keepdims=True)
    mask = q >= best - tol * (1.0 + np.abs(best))
    return mask / mask.sum(axis=1, keepdims=True)


def policy_return(
    policy: Any,
    mdp: TabularMDP | None = None,
    *,
    transitions: Any = None,
    reward: Any = None,
    initial: Any = None,
    gamma: float | None = None,
    terminal: Any = None,
) -> float:
    """Expected discounted return of an ``(S, A)`` policy from the start distribution.

    Pass a :class:`TabularMDP` (its reward, initial, gamma and terminal mask), optionally
    overriding any of them by keyword (e.g. ``reward=`` to score a policy on another reward), or
    pass ``transitions``, ``reward``, ``initial`` and ``gamma`` alone.

    Example:
        >>> import numpy as np
        >>> t = np.zeros((2, 2, 2)); t[:, 0, 0] = 1.0; t[:, 1, 1] = 1.0
        >>> r = np.zeros((2, 2, 2)); r[:, :, 1] = 1.0
        >>> always_1 = np.array([[0.0, 1.0], [0.0, 1.0]])
        >>> round(policy_return(always_1, transitions=t, reward=r, initial=[1.0, 0.0], gamma=0.9), 9)
        10.0
    """
    if mdp is not None:
        transitions = mdp.transitions if transitions is None else transitions
        reward = mdp.reward if reward is None else reward
        initial = mdp.initial if initial is None else initial
        gamma = mdp.gamma if gamma is None else gamma
        terminal = mdp.terminal if terminal is None else terminal
    if transitions is None or reward is None or initial is None or gamma is None:
        raise InvalidParameter("policy_return needs a TabularMDP or all of `transitions`, `reward`, `initial` and `gamma`")
    t = _check_transitions(transitions)
    d0 = np.asarray(initial, dtype=np.float64)
    if d0.shape != (t.shape[0],) or (d0 < 0).any() or not np.isclose(d0.sum(), 1.0, rtol=0, atol=1e-9):
        raise InvalidParameter(f"`initial` must be a probability vector of shape ({t.shape[0]},). Received {d0!r}")
    return float(d0 @ policy_evaluation(policy, t, reward, gamma, terminal=terminal))


# --- reward distances --------------------------------------------------------------------------

#: A canonical reward whose norm is below this fraction of the reward's own scale counts as zero.
ZERO_TOL = 1e-10


def val_canonicalize(reward: Any, transitions: Any, gamma: float, *, policy: Any = None) -> np.ndarray:
    """STARC's VAL canonicalization ``c(R)(s, a) = E_{S'}[R(s, a, S') - V^pi(s) + gamma V^pi(S')]``, shape ``(S, A)``.

    ``V^pi`` is the value of ``R`` under ``policy`` (uniform by default), on the absorbing chain
    (no terminal mask). For ``R' = R + gamma Phi(s') - Phi(s)``, ``V'^pi = V^pi - Phi`` and so
    ``c(R') = c(R)`` exactly, for any ``Phi``; S'-redistribution leaves it unchanged because only
    the expectation over ``S'`` enters.

    Example:
        >>> import numpy as np
        >>> t = np.ones((1, 2, 1)); r = np.array([[[1.0], [0.0]]])   # one state, action 0 pays 1
        >>> val_canonicalize(r, t, 0.5).round(12).tolist()          # R(a) - (1 - gamma) V, V = 0.5 / (1 - gamma)
        [[0.5, -0.5]]
    """
    t = _check_transitions(transitions)
    r = _check_reward(reward, t.shape)
    g = _check_gamma(gamma, allow_one=False)
    pi = np.full(t.shape[:2], 1.0 / t.shape[1]) if policy is None else _check_policy(policy, *t.shape[:2])
    return _val(r, t, g, pi)[0]


def _val(r: np.ndarray, t: np.ndarray, gamma: float, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c(R), V^pi) of VAL on checked arrays."""
    v = _evaluate(policy, t, r, gamma, np.zeros(t.shape[0], dtype=bool))
    return np.einsum("sat,sat->sa", t, r) - v[:, None] + gamma * (t @ v), v


def _unit(c: np.ndarray, scale: float) -> np.ndarray:
    """``c / ||c||_2``, or 0 when ``||c||`` is rounding noise relative to ``scale`` (STARC's s(R) = c(R) if n(c(R)) = 0)."""
    n = float(np.linalg.norm(c))
    return np.zeros_like(c) if n <= ZERO_TOL * max(scale, 1e-300) * np.sqrt(c.size) or n == 0.0 else c / n


def starc_distance(r1: Any, r2: Any, transitions: Any, gamma: float) -> float:
    """STARC distance (Skalse et al., ICLR 2024) with VAL canonicalization, L2 norm and L2 metric, in [0, 1].

    ``d = ||s(R1) - s(R2)||_2 / 2`` with ``s(R) = c(R) / ||c(R)||_2``: ``c`` is
    :func:`val_canonicalize` under the uniform policy, so ``s'`` is integrated out under
    ``transitions`` and the norm runs over the ``(s, a)`` pairs, unweighted. Halving the [0, 2]
    range gives ``d(R, -R) = 1``.

    * ``d = 0`` for rewards that differ by potential shaping (any ``Phi``), by S'-redistribution,
      by positive scaling, or by a constant (on the absorbing chain a constant is shaping by
      ``Phi = c / (1 - gamma)``).
    * Zero-reward convention: a reward whose canonical form is 0 (the zero reward, or pure shaping:
      every policy is optimal) has ``s(R) = 0`` (spec F4), so its distance to any other reward is
      1/2 and to another such reward 0. "Zero" means ``||c|| <= 1e-10 * sqrt(S A) * scale``, with
      ``scale`` the largest magnitude of R and of ``V^pi`` (what rounding leaves of pure shaping).

    Args:
        r1, r2: rewards ``(S, A, S)``.
        transitions: ``(S, A, S)``, rows summing to 1 (terminal states absorbing).
        gamma: discount in [0, 1).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> t = rng.dirichlet(np.ones(3), size=(3, 2)); r = rng.normal(size=(3, 2, 3)); phi = rng.normal(size=3)
        >>> shaped = 2.0 * r + 0.9 * phi[None, None, :] - phi[:, None, None]
        >>> round(starc_distance(r, shaped, t, 0.9), 9), round(starc_distance(r, -r, t, 0.9), 9)
        (0.0, 1.0)
    """
    t = _check_transitions(transitions)
    g = _check_gamma(gamma, allow_one=False)
    uniform = np.full(t.shape[:2], 1.0 / t.shape[1])
    units = []
    for what, r in (("r1", r1), ("r2", r2)):
        r = _check_reward(r, t.shape, what)
        c, v = _val(r, t, g, uniform)
        units.append(_unit(c, max(float(np.abs(r).max()), float(np.abs(v).max()))))
    return min(1.0, 0.5 * float(np.linalg.norm(units[0] - units[1])))


def _distribution(p: Any, n: int, what: str) -> np.ndarray:
    if p is None:
        return np.full(n, 1.0 / n)
    d = np.asarray(p, dtype=np.float64)
    if d.shape != (n,) or (d < 0).any() or not np.isclose(d.sum(), 1.0, rtol=0, atol=1e-9):
        raise InvalidParameter(f"`{what}` must be a probability vector of shape ({n},). Received {p!r}")
    return d


def epic_canonicalize(reward: Any, gamma: float, *, state_dist: Any = None, action_dist: Any = None) -> np.ndarray:
    """EPIC's canonically shaped reward (Gleave et al., ICLR 2021), shape ``(S, A, S)``:

    ``C(R)(s, a, s') = R(s, a, s') + E[gamma R(s', A, S') - R(s, A, S') - gamma R(S, A, S')]``

    with ``S, S' ~ D_S`` and ``A ~ D_A`` independent (uniform by default). It needs no transition
    model, and ``C(R + gamma Phi(s') - Phi(s)) = C(R)`` for every ``Phi``.

    Example:
        >>> import numpy as np
        >>> phi = np.array([1.0, -2.0])
        >>> shaping = 0.9 * phi[None, None, :] - phi[:, None, None] + np.zeros((2, 3, 2))
        >>> bool(np.allclose(epic_canonicalize(shaping, 0.9), 0.0))
        True
    """
    r = np.asarray(reward, dtype=np.float64)
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise InvalidParameter(f"`reward` must have shape (S, A, S). Received shape {r.shape}")
    if not np.isfinite(r).all():
        raise InvalidParameter("`reward` must be finite; it holds NaN or inf")
    g = _check_gamma(gamma, allow_one=True)
    ds = _distribution(state_dist, r.shape[0], "state_dist")
    da = _distribution(action_dist, r.shape[1], "action_dist")
    m = np.einsum("xat,a,t->x", r, da, ds)  # m(x) = E_{A, S'}[R(x, A, S')]
    return r + g * m[None, None, :] - m[:, None, None] - g * float(ds @ m)


def epic_distance(
    r1: Any,
    r2: Any,
    gamma: float,
    *,
    state_dist: Any = None,
    action_dist: Any = None,
    coverage: Any = None,
) -> float:
    """EPIC pseudometric ``sqrt((1 - rho) / 2)`` of the canonically shaped rewards, in [0, 1].

    ``rho`` is the Pearson correlation of :func:`epic_canonicalize` of ``r1`` and ``r2`` under the
    coverage distribution over ``(s, a, s')`` (uniform over all triples by default, or an
    ``(S, A, S)`` array of weights summing to 1). It is computed as half the coverage-weighted L2
    distance between the standardized canonical rewards, which equals ``sqrt((1 - rho) / 2)``.
    Zero-variance convention (as :func:`starc_distance`): a canonical reward constant under the
    coverage (pure shaping) standardizes to 0, so its distance is 1/2 to any other reward and 0 to
    another such reward. EPIC reads the reward on every ``(s, a, s')``, possible or not: evaluate
    terms with ``reward_table(..., support="all")``. On an episodic table the rows leaving a
    terminal state cannot be shaped, so there EPIC is blind only to potentials that vanish on
    terminal states, while :func:`starc_distance` is blind to every potential.

    Example:
        >>> import numpy as np
        >>> r = np.random.default_rng(1).normal(size=(3, 2, 3))
        >>> round(epic_distance(r, 3.0 * r, 0.9), 9), round(epic_distance(r, -r, 0.9), 9)
        (0.0, 1.0)
    """
    c1 = epic_canonicalize(r1, gamma, state_dist=state_dist, action_dist=action_dist)
    c2 = epic_canonicalize(r2, gamma, state_dist=state_dist, action_dist=action_dist)
    if c1.shape != c2.shape:
        raise InvalidParameter(f"`r1` and `r2` must have the same shape. Received {c1.shape} and {c2.shape}")
    if coverage is None:
        w = np.full(c1.shape, 1.0 / c1.size)
    else:
        w = np.asarray(coverage, dtype=np.float64)
        if w.shape != c1.shape or (w < 0).any() or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-9):
            raise InvalidParameter(f"`coverage` must be non-negative weights of shape {c1.shape} summing to 1")
    z = []
    for r, c in ((r1, c1), (r2, c2)):
        centred = c - float((w * c).sum())
        std = float(np.sqrt((w * centred**2).sum()))
        scale = max(float(np.abs(np.asarray(r, dtype=np.float64)).max()), float(np.abs(c).max()))
        z.append(np.zeros_like(c) if std <= ZERO_TOL * max(scale, 1e-300) else centred / std)
    return min(1.0, 0.5 * float(np.sqrt((w * (z[0] - z[1]) ** 2).sum())))


# --- reward tables of rewardlab terms -----------------------------------------------------------


def reward_table(term: Any, mdp: TabularMDP, *, support: str = "possible", truncated: bool = False) -> np.ndarray:
    """The ``(S, A, S')`` table of a rewardlab term on a :class:`TabularMDP`, frozen at the term's current state.

    With ``support="possible"`` every ``(s, a, s')`` with nonzero probability from a non-terminal
    ``s`` is scored (all STARC reads); ``support="all"`` scores every triple but the absorbing
    self-loops of terminal states (EPIC reads the reward on impossible transitions too).
    ``truncated=True`` scores every row as a step that hits the time limit (the table of a
    finite-horizon MDP's last step; non-terminal rows only). Each scored triple becomes one row of a
    batched :class:`~rewardlab.shaping.terms.Transition` (``obs = mdp.obs[s]``, ``next_obs =
    mdp.obs[s']``, the env's reward ``mdp.reward[s, a, s']``, ``terminated = mdp.terminal[s']``,
    ``truncated`` as asked where not terminated, empty ``info``). The term is evaluated on a deep copy (bound to ``mdp.name``),
    reset with the rows' ``s``, so each row is scored as the first step of an episode started in
    ``s`` and the caller's term is not changed: a count bonus keeps its current counts, a learned
    reward its current weights, PBRS gives ``gamma Phi(s') [not terminated] - Phi(s)``. A term
    whose value on one row depends on the rows before it (a count bonus counts the batch itself) is
    detected by scoring the rows again in reverse order, and then scored one row at a time, each on
    the term's state as it was. Unscored entries are 0. The terminal self-loops (never stepped by
    the env) are 0 in both modes, so a PBRS term's table is exactly potential shaping by ``Phi``
    with ``Phi = 0`` at terminal states on every possible transition (STARC distance 0 for any
    potential); with ``support="all"`` it is shaping on every triple when the potential itself
    vanishes on terminal observations (EPIC distance 0).

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import PBRS
        >>> t = np.zeros((2, 1, 2)); t[0, 0, 1] = 1.0; t[1, 0, 1] = 1.0         # 0 -> 1, 1 terminal
        >>> mdp = TabularMDP(t, np.zeros_like(t), np.array([1.0, 0.0]), np.array([False, True]), np.array([[3.0], [5.0]]))
        >>> reward_table(PBRS(lambda obs: obs[:, 0], gamma=0.9), mdp)[0, 0].tolist()   # 0.9 * 0 - 3 (Phi(s') = 0 at the end)
        [0.0, -3.0]
    """
    from rewardlab.shaping.terms import Term, Transition

    if not isinstance(term, Term):
        raise InvalidParameter(f"`term` must be a rewardlab Term. Received {type(term).__name__}")
    t = mdp.transitions
    if support == "possible":
        scored = (t > 0) & ~mdp.terminal[:, None, None]
    elif support == "all":
        scored = np.ones(t.shape, dtype=bool)
        for x in np.flatnonzero(mdp.terminal):
            scored[x, :, x] = False
    else:
        raise InvalidParameter(f"`support` must be 'possible' or 'all'. Received {support!r}")
    s, a, s2 = np.nonzero(scored)

    def batch(rows: np.ndarray) -> Transition:
        n = len(rows)
        return Transition(take_rows(mdp.obs, s[rows]), a[rows], take_rows(mdp.obs, s2[rows]), mdp.reward[s[rows], a[rows], s2[rows]],
                          mdp.terminal[s2[rows]], np.full(n, truncated) & ~mdp.terminal[s2[rows]], np.ones(n, dtype=bool), {})

    def score(copy_: Term, rows: np.ndarray) -> np.ndarray:
        copy_.reset(np.ones(len(rows), dtype=bool), take_rows(mdp.obs, s[rows]))
        values = np.asarray(copy_(batch(rows)), dtype=np.float64).reshape(-1)
        if values.shape != (len(rows),) or not np.isfinite(values).all():
            raise InvalidParameter(f"term `{term.name}` gave {values.shape} values (finite: {np.isfinite(values).all()}) for {len(rows)} rows")
        return values

    rows = np.arange(len(s))
    saved = copy.deepcopy(term.state_dict())
    first, second = _frozen_copy(term, mdp.name), _frozen_copy(term, mdp.name)
    try:
        values = score(first, rows)
        again = score(second, rows[::-1])[::-1]
        if not np.allclose(values, again, rtol=1e-12, atol=1e-12):
            # Order-dependent: each row on the state the term had before this evaluation.
            for i in rows:
                first.load_state_dict(copy.deepcopy(saved))
                values[i] = score(first, rows[i : i + 1])[0]
    finally:
        for c in (first, second):
            for node in c.walk():
                if callable(getattr(node, "close", None)):
                    node.close()
    table = np.zeros_like(t)
    table[s, a, s2] = values
    return table


def _frozen_copy(term: Any, env_id: str) -> Any:
    """A deep copy of `term` bound to `env_id` (a bound copy of an unbound term, unchanged otherwise)."""
    c = copy.deepcopy(term)
    c.bind(env_id or None)
    return c


# --- sampled STARC for envs without a table ------------------------------------------------------


@dataclass(frozen=True)
class SampledDistance:
    """A sampled distance with its bootstrap spread: ``value`` on all samples, ``stderr`` the
    bootstrap standard deviation, ``[low, high]`` the percentile interval, ``n`` the (s, a) groups."""

    value: float
    stderr: float
    low: float
    high: float
    n: int


def sampled_starc_distance(
    r1: Any,
    r2: Any,
    features: Any,
    next_features: Any,
    gamma: float,
    *,
    terminated: Any = None,
    groups: Any = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    ridge: float = 1e-8,
    seed: int = 0,
) -> SampledDistance:
    """STARC (VAL, L2) estimated from sampled transitions, for envs without a table: a **diagnostic**.

    The samples are transitions ``(s_i, a_i, s'_i)`` of the uniform-random policy (VAL's policy),
    with the two rewards ``r1[i]``, ``r2[i]`` evaluated on them and state features
    ``features[i] = psi(s_i)``, ``next_features[i] = psi(s'_i)``. ``V^pi`` of each reward is fitted
    by LSTD(0) on the features (a linear fitted value function), and
    ``c(R)(s, a) = mean_{s' in group}[R + gamma V(s') [not terminated]] - V(s)`` is the
    Monte-Carlo average over the successors sampled for one ``(s, a)`` (``groups[i]`` labels them;
    by default each sample is its own group). The L2 norm runs over the sampled groups, so the
    sampling distribution of ``(s, a)`` replaces the uniform one of :func:`starc_distance`.
    The bootstrap refits ``V`` on each resample, so the error bars include the value-fit noise.
    With ``groups`` (several successors per ``(s, a)``, from resetting a simulator to ``s``) it
    resamples the successors within each group: the set of ``(s, a)`` pairs is then fixed, as in
    the exact distance. Without ``groups`` it resamples the transitions themselves (the
    ``(s, a)`` are a sample of the state distribution). The error bars do not include the bias of
    a feature map too poor to represent ``V^pi``, nor, with one successor per ``(s, a)``, the
    successor noise that then stays in ``c`` (it can move the estimate either way; use groups
    where the simulator allows). With one-hot features on a tabular MDP and many successors per
    pair the estimate converges to :func:`starc_distance` (tests/shaping/test_metrics.py).

    Args:
        r1, r2: ``(N,)`` rewards of the sampled transitions.
        features, next_features: ``(N, F)`` features of ``s`` and ``s'``.
        gamma: discount in [0, 1).
        terminated: ``(N,)`` bool, successor terminal (its value is 0).
        groups: ``(N,)`` ints, samples sharing an ``(s, a)``.
        n_boot: bootstrap resamples (0: no error bars).
        confidence: width of the percentile interval.
        ridge: added to LSTD's matrix diagonal (features seen rarely).
        seed: the bootstrap's random seed.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> s, a = rng.integers(3, size=500), rng.integers(2, size=500)
        >>> s2 = rng.integers(3, size=500)                      # successors uniform over 3 states
        >>> onehot = np.eye(3)
        >>> r = (a == 1).astype(float)
        >>> d = sampled_starc_distance(r, -r, onehot[s], onehot[s2], 0.9, n_boot=20)
        >>> round(d.value, 6), d.n
        (1.0, 500)
    """
    g = _check_gamma(gamma, allow_one=False)
    r1, r2 = (np.asarray(r, dtype=np.float64).reshape(-1) for r in (r1, r2))
    f, f2 = np.asarray(features, dtype=np.float64), np.asarray(next_features, dtype=np.float64)
    n = len(r1)
    if len(r2) != n or f.ndim != 2 or f.shape != f2.shape or len(f) != n:
        raise InvalidParameter(
            f"`r1`, `r2` must be (N,) and `features`, `next_features` (N, F) for the same N. "
            f"Received {r1.shape}, {r2.shape}, {f.shape}, {f2.shape}"
        )
    if not (np.isfinite(r1).all() and np.isfinite(r2).all() and np.isfinite(f).all() and np.isfinite(f2).all()):
        raise InvalidParameter("sampled rewards and features must be finite")
    if terminated is not None:
        f2 = f2 * ~np.asarray(terminated, dtype=bool).reshape(-1, 1)
    if not isinstance(n_boot, int) or n_boot < 0:
        raise InvalidParameter(f"`n_boot` must be a non-negative int. Received {n_boot!r}")
    labels = np.arange(n) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
    members = np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1])

    def estimate(idx: np.ndarray, slot: np.ndarray) -> float:
        """The distance on samples `idx`, `slot[j]` numbering the (s, a) group of sample idx[j]."""
        a_mat = f[idx].T @ (f[idx] - g * f2[idx]) + ridge * np.eye(f.shape[1])
        units = []
        for r in (r1, r2):
            w = np.linalg.lstsq(a_mat, f[idx].T @ r[idx], rcond=None)[0]  # LSTD(0): V = psi . w
            target = r[idx] + g * (f2[idx] @ w) - f[idx] @ w
            c = np.bincount(slot, weights=target) / np.bincount(slot)
            units.append(_unit(c, max(float(np.abs(r[idx]).max()), float(np.abs(f[idx] @ w).max()))))
        return min(1.0, 0.5 * float(np.linalg.norm(units[0] - units[1])))

    order = np.concatenate(members)
    sizes = np.array([len(m) for m in members])
    value = estimate(order, np.repeat(np.arange(len(members)), sizes))
    if n_boot == 0:
        return SampledDistance(value, float("nan"), float("nan"), float("nan"), len(members))
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        if groups is None or sizes.max() == 1:  # resample the transitions: each its own group
            boots[b] = estimate(rng.integers(n, size=n), np.arange(n))
        else:  # resample successors within each (s, a) group
            idx = np.concatenate([m[rng.integers(len(m), size=len(m))] for m in members])
            boots[b] = estimate(idx, np.repeat(np.arange(len(members)), sizes))
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(boots, [tail, 100.0 - tail])
    return SampledDistance(value, float(boots.std(ddof=1)), float(low), float(high), len(members))
