"""Reward learning from preferences on tabular MDPs: segments, exact teachers, a fitted reward table.

Used by the Knox et al. study (``docs/results/preferences/knox.py``) and its tests. A segment is
``L`` steps ``(s_0, a_0, s_1, ..., a_{L-1}, s_L)``; its partial return is ``sum_t R(s_t, a_t, s_{t+1})``
and its regret ``-sum_t A*(s_t, a_t)`` with ``A*`` exact from
:func:`rewardlab.shaping.metrics.optimal_advantage`.

The learner fits a table ``r_hat[s, a, s']`` by the Bradley-Terry loss under either preference
model. Under ``"regret"`` the segment score needs ``A*`` *of the table being fitted*: it is
computed in torch by policy iteration and a differentiable linear solve (so the loss is
differentiable in ``r_hat``), with the same backup and terminal convention as :mod:`rewardlab.shaping.metrics`; a test checks it
against ``metrics.optimal_advantage``.

Functions: :func:`sample_segments`, :func:`segment_scores`, :func:`teacher_labels`,
:func:`fit_reward_table`, :func:`preference_nll`, :func:`advantage_torch`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter
from rewardlab.shaping.metrics import optimal_advantage
from rewardlab.shaping.preferences.model import PREFERENCE_MODELS, bradley_terry_loss, preference_probability

__all__ = ["sample_segments", "segment_scores", "teacher_labels", "fit_reward_table", "preference_nll", "advantage_torch"]


def sample_segments(transitions: np.ndarray, n: int, length: int, rng: np.random.Generator,
                    start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` segments of uniformly random actions: states ``(n, length + 1)`` and actions ``(n, length)``.

    Start states are drawn from ``start`` (default uniform over all states, as Knox et al. do, so
    segments start in good and bad states alike). Terminal states are absorbing, so a segment that
    reaches one stays there.
    """
    num_states, num_actions, _ = transitions.shape
    p0 = np.full(num_states, 1.0 / num_states) if start is None else start
    states = np.zeros((n, length + 1), dtype=np.int64)
    actions = rng.integers(num_actions, size=(n, length))
    states[:, 0] = rng.choice(num_states, size=n, p=p0)
    cdf = np.cumsum(transitions, axis=2)
    for t in range(length):
        u = rng.random(n)[:, None]
        nxt = (u > cdf[states[:, t], actions[:, t]]).sum(axis=1)
        states[:, t + 1] = np.minimum(nxt, num_states - 1)
    return states, actions


def segment_scores(model: str, reward: np.ndarray, states: np.ndarray, actions: np.ndarray,
                   advantage: np.ndarray | None = None) -> np.ndarray:
    """Each segment's score under a preference model: partial return, or minus regret (``sum A*``)."""
    if model == "partial_return":
        return reward[states[:, :-1], actions, states[:, 1:]].sum(axis=1)
    if model == "regret":
        if advantage is None:
            raise InvalidParameter("The regret score needs the optimal advantage table `advantage` (S, A)")
        return advantage[states[:, :-1], actions].sum(axis=1)
    raise InvalidParameter(f"`model` must be one of {PREFERENCE_MODELS}. Received {model!r}")


def teacher_labels(model: str, reward: np.ndarray, transitions: np.ndarray, gamma: float, seg_a: tuple[np.ndarray, np.ndarray],
                   seg_b: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, *, terminal: np.ndarray | None = None,
                   temperature: float = 1.0) -> np.ndarray:
    """Labels ``1[a preferred]`` drawn from the model's Bradley-Terry probability (Knox et al.'s synthetic teacher).

    ``temperature = 0`` gives the noiseless teacher (the larger score wins; ties 0.5).
    """
    adv = optimal_advantage(transitions, reward, gamma, terminal=terminal) if model == "regret" else None
    d = segment_scores(model, reward, *seg_a, adv) - segment_scores(model, reward, *seg_b, adv)
    if temperature == 0:
        return np.where(np.abs(d) < 1e-12, 0.5, (d > 0).astype(np.float64))
    return (rng.random(d.shape) < preference_probability(d, 0.0, temperature)).astype(np.float64)


def preference_nll(model: str, reward: np.ndarray, transitions: np.ndarray, gamma: float, seg_a: tuple[np.ndarray, np.ndarray],
                   seg_b: tuple[np.ndarray, np.ndarray], prefer: np.ndarray, *, terminal: np.ndarray | None = None) -> float:
    """Mean Bradley-Terry negative log-likelihood of the labels under `model` with reward table `reward` (exact A*)."""
    adv = optimal_advantage(transitions, reward, gamma, terminal=terminal) if model == "regret" else None
    d = segment_scores(model, reward, *seg_a, adv) - segment_scores(model, reward, *seg_b, adv)
    return float(bradley_terry_loss(d, 0.0, np.asarray(prefer, dtype=np.float64)))


def advantage_torch(transitions: Any, reward: Any, gamma: float, terminal: Any = None, actions: Any = None) -> tuple[Any, Any]:
    """``A*(s, a)`` of a torch reward table ``(S, A, S)``, differentiable in the table; and the optimal actions.

    Policy iteration (without gradients, warm-started from ``actions`` when given) finds an optimal
    deterministic policy ``pi*``; then ``V = V^{pi*}`` by one differentiable linear solve and
    ``A = Q - V`` with ``Q = E[R + gamma V(s')]``: exact, and its gradient is the gradient of ``A*``
    wherever the optimal policy is unique. Same backup and terminal convention (``V = Q = 0`` on
    terminal states) as :mod:`rewardlab.shaping.metrics`.
    """
    import torch

    t = torch.as_tensor(transitions, dtype=reward.dtype)
    num_states = t.shape[0]
    keep = torch.ones(num_states, dtype=reward.dtype) if terminal is None else torch.as_tensor(~np.asarray(terminal), dtype=reward.dtype)
    eye, rows = torch.eye(num_states, dtype=reward.dtype), torch.arange(num_states)

    def q_and_v(table: Any, act: Any) -> tuple[Any, Any]:
        expected = (t * table).sum(-1)
        p_pi = t[rows, act] * keep[:, None]
        v = torch.linalg.solve(eye - gamma * p_pi, expected[rows, act] * keep)
        return (expected + gamma * t @ (keep * v)) * keep[:, None], v

    with torch.no_grad():
        act = (t * reward).sum(-1).argmax(1) if actions is None else torch.as_tensor(actions)
        for _ in range(1000):
            q, _ = q_and_v(reward, act)
            best = q.max(1).values
            improve = q[rows, act] < best - 1e-12 * (1.0 + best.abs())
            if not improve.any():
                break
            act = torch.where(improve, q.argmax(1), act)
    q, v = q_and_v(reward, act)
    return q - v[:, None], act


def fit_reward_table(model: str, transitions: np.ndarray, gamma: float, seg_a: tuple[np.ndarray, np.ndarray],
                     seg_b: tuple[np.ndarray, np.ndarray], prefer: np.ndarray, *, terminal: np.ndarray | None = None,
                     steps: int = 300, lr: float = 0.05, l2: float = 1e-3, seed: int = 0, init: np.ndarray | None = None,
                     features: np.ndarray | None = None) -> np.ndarray:
    """A reward table ``(S, A, S)`` fitted to labelled segment pairs by Bradley-Terry under `model`.

    The table is free (one parameter per entry), or with ``features`` ``(S, A, S, K)`` linear in
    them, ``r_hat = features @ w`` (Knox et al. learn a linear reward on cell features; a free
    table can represent ``A*`` itself, a feature reward in general cannot); rows of ``terminal``
    states are 0. Full-batch Adam from a small random start (or from the table `init`, projected
    onto the features by least squares); ``l2`` keeps parameters no segment constrains near 0. Under ``"regret"`` the loss is not convex
    (the optimal policy of the table changes as it is fitted) and a start can end in a poor local
    optimum: compare fits from several starts with :func:`preference_nll`.
    """
    import torch

    if model not in PREFERENCE_MODELS:
        raise InvalidParameter(f"`model` must be one of {PREFERENCE_MODELS}. Received {model!r}")
    phi = None
    if features is not None:
        phi = torch.as_tensor(np.asarray(features, dtype=np.float64))
        if phi.ndim != 4 or tuple(phi.shape[:3]) != tuple(transitions.shape):
            raise InvalidParameter(f"`features` must have shape {tuple(transitions.shape)} + (K,). Received {tuple(phi.shape)}")
    shape = transitions.shape if phi is None else phi.shape[3:]
    gen = torch.Generator().manual_seed(seed)
    start = 0.01 * torch.randn(shape, generator=gen, dtype=torch.float64)
    if init is not None:
        start = torch.tensor(np.asarray(init, dtype=np.float64))
        if phi is not None:
            start = torch.linalg.lstsq(phi.reshape(-1, phi.shape[3]), start.reshape(-1, 1)).solution[:, 0]
    w = start.requires_grad_(True)
    # nothing is paid after termination (TabularMDP's convention): without this mask partial return could
    # explain a preference for reaching a terminal state by reward on its absorbing self-loop
    keep = 1.0 if terminal is None else torch.as_tensor(~np.asarray(terminal), dtype=torch.float64)[:, None, None]
    table = lambda: (w if phi is None else phi @ w) * keep  # noqa: E731
    opt = torch.optim.Adam([w], lr=lr)
    p = torch.as_tensor(prefer, dtype=torch.float64)
    (sa, aa), (sb, ab) = seg_a, seg_b
    sa, aa, sb, ab = (torch.as_tensor(x) for x in (sa, aa, sb, ab))

    def score(table: Any, states: Any, actions: Any, adv: Any) -> Any:
        if model == "partial_return":
            return table[states[:, :-1], actions, states[:, 1:]].sum(1)
        return adv[states[:, :-1], actions].sum(1)

    act = None
    for _ in range(steps):
        r, adv = table(), None
        if model == "regret":
            adv, act = advantage_torch(transitions, r, gamma, terminal, act)
        loss = bradley_terry_loss(score(r, sa, aa, adv), score(r, sb, ab, adv), p) + l2 * (w**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return table().detach().numpy().copy()
