"""The outer gradient of a learned reward blend (BARFI, spec G2), as small functions of a batch.

Each function is one formula of spec G2, written once and used by :class:`~rewardlab.shaping.bilevel.Blend`
(sampled rows, uniform weights) and by the exactness check H15 (every action of a bandit, weighted by
its probability), so the checked formula is the one that trains.

With rows ``r`` of (state, action) pairs and weights ``q_r`` (``1/R`` for a sample, ``pi(a)`` for an
exact expectation):

- :func:`primary_direction`: ``v = grad_theta sum_r q_r log pi(a_r|s_r) A_r`` (``A`` the primary advantage);
- :func:`alignment_scores`: ``u_r = grad_theta log pi(a_r|s_r) . v`` by a central difference;
- :func:`outer_gradient`: ``g = alpha * sum_r q_r u_r (G_r - sum_r' q_r' G_r')`` per blend parameter;
- :func:`neumann_direction`: ``p = sum_{j=0}^{N} (I + alpha H)^j v`` (spec F1), which replaces ``v``
  in ``u`` for the Neumann option;
- :func:`discounted_returns`, :func:`gamma_derivative`: ``G_t = sum_{j>=t} gamma^(j-t) r_j`` within
  episodes and ``dG_t/dgamma``.

torch is imported inside the functions that need it (the ``train`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "discounted_returns",
    "gamma_derivative",
    "primary_direction",
    "alignment_scores",
    "outer_gradient",
    "neumann_direction",
]


def discounted_returns(rewards: np.ndarray, done: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma (1 - done_t) G_{t+1}`` backwards over a ``(T, N, ...)`` rollout.

    Returns stop at every done and at the rollout's end (no bootstrap: Monte-Carlo returns of the
    part of each episode the rollout holds). Dummy autoreset rows should carry a reward of 0.

    Example:
        >>> r = np.array([[1.0], [1.0], [1.0]]); done = np.array([[False], [True], [False]])
        >>> discounted_returns(r, done, 0.5)[:, 0].tolist()
        [1.5, 1.0, 1.0]
    """
    out = np.zeros_like(rewards, dtype=np.float64)
    carry = np.zeros_like(rewards[0], dtype=np.float64)
    for t in range(rewards.shape[0] - 1, -1, -1):
        keep = _expand(1.0 - done[t].astype(np.float64), carry)
        carry = rewards[t] + gamma * keep * carry
        out[t] = carry
    return out


def gamma_derivative(rewards: np.ndarray, done: np.ndarray, gamma: float) -> np.ndarray:
    """``dG_t/dgamma = sum_{j>t} (j - t) gamma^(j-t-1) r_j`` within episodes (spec G2.5).

    From ``G_t = r_t + gamma c_t G_{t+1}``: ``D_t = c_t (G_{t+1} + gamma D_{t+1})``, ``c_t = 1 - done_t``.

    Example:
        >>> r = np.array([[0.0], [1.0], [1.0]]); done = np.zeros((3, 1), bool)
        >>> gamma_derivative(r, done, 0.5)[:, 0].tolist()   # d/dg (g + g^2) = 1 + 2g = 2 at t=0
        [2.0, 1.0, 0.0]
    """
    out = np.zeros_like(rewards, dtype=np.float64)
    g_next = np.zeros_like(rewards[0], dtype=np.float64)
    d_next = np.zeros_like(g_next)
    for t in range(rewards.shape[0] - 1, -1, -1):
        keep = _expand(1.0 - done[t].astype(np.float64), g_next)
        d = keep * (g_next + gamma * d_next)
        g_next = rewards[t] + gamma * keep * g_next
        d_next = d
        out[t] = d
    return out


def _expand(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask.reshape(mask.shape + (1,) * (like.ndim - mask.ndim))


def _flat_grad(output: Any, parameters: Sequence[Any], **kwargs: Any) -> Any:
    import torch

    grads = torch.autograd.grad(output, list(parameters), allow_unused=True, **kwargs)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(parameters, grads)])


def primary_direction(log_prob: Callable[[], Any], parameters: Sequence[Any], advantages: Any, weights: Any) -> Any:
    """``v = grad_theta sum_r q_r log pi_theta(a_r|s_r) A_r``, flat over `parameters` (spec G2.1), not normalised.

    Args:
        log_prob: recomputes ``log pi_theta(a_r|s_r)`` of every row with a graph, shape ``(R,)``.
        parameters: the tensors ``log_prob`` depends on.
        advantages: ``A_r``, shape ``(R,)`` (any array; rows with weight 0 do not count).
        weights: ``q_r``, shape ``(R,)``.

    Example:
        >>> import torch
        >>> theta = torch.zeros(2, requires_grad=True)
        >>> lp = lambda: torch.log_softmax(theta, 0)          # rows: both arms of a bandit
        >>> primary_direction(lp, [theta], [1.0, 0.0], [0.5, 0.5]).tolist()
        [0.25, -0.25]
    """
    import torch

    lp = log_prob()
    scale = torch.as_tensor(np.asarray(advantages, dtype=np.float64) * np.asarray(weights, dtype=np.float64), dtype=lp.dtype, device=lp.device)
    return _flat_grad((lp * scale).sum(), parameters)


def alignment_scores(log_prob: Callable[[], Any], parameters: Sequence[Any], direction: Any, eps: float = 1e-3) -> np.ndarray:
    """``u_r = grad_theta log pi(a_r|s_r) . v``: ``[log pi_{theta + eps v} - log pi_{theta - eps v}] / (2 eps)`` (spec G2.2).

    Two forward passes and no backward; the parameters are restored exactly afterwards.

    Example:
        >>> import torch
        >>> theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> lp = lambda: torch.log_softmax(theta, 0)
        >>> np.round(alignment_scores(lp, [theta], torch.tensor([1.0, -1.0], dtype=torch.float64)), 6).tolist()
        [1.0, -1.0]
    """
    import torch

    saved = [p.detach().clone() for p in parameters]
    chunks, offset = [], 0
    for p in parameters:
        chunks.append(direction[offset: offset + p.numel()].reshape(p.shape).to(p.dtype))
        offset += p.numel()
    try:
        with torch.no_grad():
            for p, d in zip(parameters, chunks):
                p.add_(d, alpha=eps)
            plus = log_prob().detach().double()
            for p, s, d in zip(parameters, saved, chunks):
                p.copy_(s).add_(d, alpha=-eps)
            minus = log_prob().detach().double()
    finally:
        with torch.no_grad():
            for p, s in zip(parameters, saved):
                p.copy_(s)
    return ((plus - minus) / (2.0 * eps)).cpu().numpy()


def outer_gradient(u: np.ndarray, returns: np.ndarray, weights: np.ndarray, alpha: float) -> np.ndarray:
    """``g_k = alpha * sum_r q_r u_r (G_r^(k) - sum_r' q_r' G_r'^(k))`` for each column ``k`` of `returns` (spec G2.4).

    The weighted mean is subtracted as a baseline: it leaves the expectation unchanged (``E[u | s] = 0``)
    and cuts the variance. Regularisation is the caller's.

    Args:
        u: alignment scores, ``(R,)``.
        returns: component returns, ``(R, P)``, one column per blend parameter.
        weights: ``q_r``, ``(R,)``, summing to 1.
        alpha: the inner step size of the one-step unrolled update ``theta' = theta + alpha grad J_phi``.

    Example:
        >>> outer_gradient(np.array([1.0, -1.0]), np.array([[2.0], [0.0]]), np.array([0.5, 0.5]), 1.0).tolist()
        [1.0]
    """
    q = np.asarray(weights, dtype=np.float64)
    centred = returns - q @ returns
    return alpha * ((q * u) @ centred)


def neumann_direction(surrogate: Callable[[], Any], parameters: Sequence[Any], v: Any, alpha: float, n: int) -> Any:
    """``p = sum_{j=0}^{n} v_j`` with ``v_0 = v``, ``v_{j+1} = (I + alpha H) v_j`` and ``H`` the Hessian of `surrogate` (spec F1).

    ``-alpha p`` approximates ``H^-1 v``; with ``n = 0``, ``p = v`` (first order). Each Hessian-vector
    product is a double backward pass through ``surrogate() -> scalar``.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        >>> f = lambda: -(x ** 2).sum()                       # H = -2
        >>> neumann_direction(f, [x], torch.ones(1, dtype=torch.float64), 0.25, 2).tolist()   # 1 + 0.5 + 0.25
        [1.75]
    """
    import torch

    params = list(parameters)
    grad = _flat_grad(surrogate(), params, create_graph=True)
    vj, p = v.detach(), v.detach().clone()
    for _ in range(n):
        hv = torch.autograd.grad(grad, params, grad_outputs=vj.to(grad.dtype), retain_graph=True, allow_unused=True)
        hv = torch.cat([(torch.zeros_like(q) if h is None else h).reshape(-1) for q, h in zip(params, hv)])
        vj = (vj + alpha * hv).detach()
        p = p + vj
    return p

