"""Preference probabilities, the Bradley-Terry loss and exact regret, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.errors import InvalidParameter
from rewardlab.shaping.metrics import optimal_advantage
from rewardlab.shaping.preferences import (
    bradley_terry_loss,
    partial_return_probability,
    preference_probability,
    regret_probability,
    segment_regret,
)
from rewardlab.shaping.preferences.tabular import advantage_torch, fit_reward_table, segment_scores


def logistic(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_preference_probability_is_logistic_of_the_score_difference():
    # Bradley-Terry by hand: logistic(2 - (-1)) = 1/(1+e^-3); temperature divides the difference.
    assert float(preference_probability(2.0, -1.0)) == pytest.approx(logistic(3.0), rel=1e-12)
    assert float(preference_probability(2.0, -1.0, temperature=2.0)) == pytest.approx(logistic(1.5), rel=1e-12)
    # symmetric: P(a > b) + P(b > a) = 1; no overflow at a difference of 1000
    assert float(preference_probability(0.3, 1.1) + preference_probability(1.1, 0.3)) == pytest.approx(1.0, abs=1e-15)
    assert float(preference_probability(1000.0, 0.0)) == 1.0


def test_partial_return_and_regret_probabilities_by_hand():
    # partial return: sums 0.5 + 1 = 1.5 and 2 - 1 = 1 -> logistic(0.5)
    assert float(partial_return_probability([0.5, 1.0], [2.0, -1.0])) == pytest.approx(logistic(0.5), rel=1e-12)
    # regret: A* sums -0.5 and -2.0 -> regrets 0.5 and 2.0 -> logistic(2.0 - 0.5)
    assert float(segment_regret([0.0, -0.5])) == 0.5
    assert float(regret_probability([0.0, -0.5], [-1.5, -0.5])) == pytest.approx(logistic(1.5), rel=1e-12)


def test_bradley_terry_loss_by_hand():
    # -[p log s(d) + (1-p) log s(-d)] averaged: d = 1 with p = 1 -> log(1 + e^-1); d = -2 with p = 0.5
    # -> 0.5 log(1 + e^2) + 0.5 log(1 + e^-2)
    a, b, p = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.5])
    expected = (math.log(1 + math.e**-1) + 0.5 * math.log(1 + math.e**2) + 0.5 * math.log(1 + math.e**-2)) / 2
    assert float(bradley_terry_loss(a, b, p)) == pytest.approx(expected, rel=1e-6)
    # the loss at d = 0 is log 2 whatever the label
    assert float(bradley_terry_loss(torch.zeros(1), torch.zeros(1), torch.tensor([0.0]))) == pytest.approx(math.log(2), rel=1e-6)


def two_state_mdp():
    """s0 --a0--> s0 (r 0), s0 --a1--> s1 (r 1), s1 --a0--> s1 (r 2), s1 --a1--> s0 (r 0); gamma 0.5.

    By hand: V*(s1) = 2 / (1 - 0.5) = 4; V*(s0) = 1 + 0.5 * 4 = 3 (staying: 0.5 * V(s0) is less);
    A*(s0, a0) = 0 + 0.5 * 3 - 3 = -1.5, A*(s0, a1) = 0, A*(s1, a0) = 0, A*(s1, a1) = 0 + 1.5 - 4 = -2.5.
    """
    t = np.zeros((2, 2, 2))
    t[0, 0, 0] = t[0, 1, 1] = t[1, 0, 1] = t[1, 1, 0] = 1.0
    r = np.zeros((2, 2, 2))
    r[0, 1, 1], r[1, 0, 1] = 1.0, 2.0
    return t, r, 0.5


HAND_ADVANTAGE = [[-1.5, 0.0], [0.0, -2.5]]


def test_regret_exact_on_a_hand_made_mdp():
    t, r, gamma = two_state_mdp()
    adv = optimal_advantage(t, r, gamma)
    np.testing.assert_allclose(adv, HAND_ADVANTAGE, atol=1e-12)
    # Segment a: s0 -a0-> s0 -a1-> s1; segment b: s1 -a1-> s0 -a1-> s1. Both sum reward 1 (partial return
    # cannot tell them apart), but a lost 1.5 of value and b lost 2.5: regret prefers a, logistic(1).
    states = np.array([[0, 0, 1], [1, 0, 1]])
    actions = np.array([[0, 1], [1, 1]])
    returns = segment_scores("partial_return", r, states, actions)
    scores = segment_scores("regret", r, states, actions, adv)
    np.testing.assert_allclose(returns, [1.0, 1.0])
    np.testing.assert_allclose(-scores, [1.5, 2.5], atol=1e-12)
    assert float(partial_return_probability(r[[0, 0], [0, 1], [0, 1]], r[[1, 0], [1, 1], [0, 1]])) == 0.5
    assert float(regret_probability(adv[[0, 0], [0, 1]], adv[[1, 0], [1, 1]])) == pytest.approx(logistic(1.0), rel=1e-12)


def test_advantage_torch_equals_metrics_and_has_the_right_gradient():
    rng = np.random.default_rng(3)
    t = rng.dirichlet(np.ones(6), size=(6, 3))
    r = rng.normal(size=(6, 3, 6))
    terminal = np.zeros(6, bool)
    terminal[5] = True
    t[5] = 0.0
    t[5, :, 5] = 1.0  # absorbing, as metrics' convention
    r[5] = 0.0
    for term in (None, terminal):
        adv, _ = advantage_torch(t, torch.tensor(r), 0.9, term)
        np.testing.assert_allclose(adv.numpy(), optimal_advantage(t, r, 0.9, terminal=term), atol=1e-10)
    # gradient = finite difference of metrics' exact A*, on a random MDP without the absorbing state
    # (its tied actions make A* non-differentiable there; random rewards have a unique optimal policy)
    t, r = rng.dirichlet(np.ones(6), size=(6, 3)), rng.normal(size=(6, 3, 6))
    x = torch.tensor(r, requires_grad=True)
    adv, _ = advantage_torch(t, x, 0.9)
    w = rng.normal(size=adv.shape)
    (adv * torch.tensor(w)).sum().backward()
    direction = rng.normal(size=r.shape)
    eps = 1e-6
    fd = ((optimal_advantage(t, r + eps * direction, 0.9) - optimal_advantage(t, r - eps * direction, 0.9)) * w).sum() / (2 * eps)
    assert float((x.grad.numpy() * direction).sum()) == pytest.approx(fd, rel=1e-6)


def test_fit_reward_table_recovers_the_hand_mdp_preferences():
    # Noiseless regret labels on every pair of the 4 one-step segments: the fitted table's A* orders
    # the (s, a) pairs as the true A* does (0 = 0 > -1.5 > -2.5).
    t, r, gamma = two_state_mdp()
    adv = optimal_advantage(t, r, gamma)
    sa = [(0, 0), (0, 1), (1, 0), (1, 1)]
    pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
    nxt = lambda s, a: int(np.argmax(t[s, a]))  # noqa: E731
    seg = lambda idx: (np.array([[sa[k][0], nxt(*sa[k])] for k in idx]), np.array([[sa[k][1]] for k in idx]))  # noqa: E731
    a, b = seg([i for i, _ in pairs]), seg([j for _, j in pairs])
    d = segment_scores("regret", r, *a, adv) - segment_scores("regret", r, *b, adv)
    prefer = np.where(np.abs(d) < 1e-12, 0.5, (d > 0).astype(float))
    table = fit_reward_table("regret", t, gamma, a, b, prefer, steps=300, lr=0.05)
    fitted = optimal_advantage(t, table, gamma)
    order = lambda x: np.argsort(-x.reshape(-1), kind="stable")  # noqa: E731
    assert fitted[0, 0] > fitted[1, 1]  # -1.5 > -2.5
    assert abs(fitted[0, 1]) < 1e-9 and abs(fitted[1, 0]) < 1e-9  # the optimal actions keep A* = 0
    assert set(order(fitted)[:2]) == set(order(adv)[:2])


def test_fit_reward_table_with_features_stays_in_their_span():
    # A feature reward is features @ w for some w (checked by least squares to rounding), rows of terminal
    # states are 0 (nothing is paid after termination), and a malformed feature array is refused by name.
    t, r, gamma = two_state_mdp()
    phi = np.zeros((*t.shape, 2))
    phi[:, :, 1, 0] = 1.0  # entering state 1
    phi[0, 1, :, 1] = 1.0  # action 1 in state 0
    sa = [(0, 0), (0, 1), (1, 0), (1, 1)]
    nxt = lambda s, a: int(np.argmax(t[s, a]))  # noqa: E731
    seg = lambda idx: (np.array([[sa[k][0], nxt(*sa[k])] for k in idx]), np.array([[sa[k][1]] for k in idx]))  # noqa: E731
    a, b = seg([0, 1, 2]), seg([1, 2, 3])
    terminal = np.array([False, True])
    for model in ("partial_return", "regret"):
        table = fit_reward_table(model, t, gamma, a, b, np.array([0.0, 1.0, 1.0]), terminal=terminal, features=phi, steps=50)
        flat = phi[~terminal].reshape(-1, 2)
        w = np.linalg.lstsq(flat, table[~terminal].reshape(-1), rcond=None)[0]
        np.testing.assert_allclose(flat @ w, table[~terminal].reshape(-1), atol=1e-12)
        assert (table[terminal] == 0).all()
    with pytest.raises(InvalidParameter, match=r"`features` must have shape \(2, 2, 2\) \+ \(K,\)"):
        fit_reward_table("regret", t, gamma, a, b, np.ones(3), features=np.ones((2, 2, 2)))
