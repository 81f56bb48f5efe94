"""H15: the first-order outer gradient is exact for one inner step (spec G2, check H15).

Two-armed softmax bandit, r_p = [1, 0], r_aux = [0, 2], theta = [0.2, -0.1], alpha = 0.5, w = 1.
F(w) = J(theta + alpha grad J_w(theta)) with J the primary objective; spec H15 measured
dF/dw = -0.12213 both ways. The gradient goes through rewardlab's own formula functions
(primary_direction, alignment_scores, outer_gradient) with exact expectations: one row per arm,
weighted by its probability; the finite difference uses a closed form written here.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # the machine is shared

from rewardlab.shaping.bilevel.gradient import (  # noqa: E402
    alignment_scores,
    discounted_returns,
    gamma_derivative,
    neumann_direction,
    outer_gradient,
    primary_direction,
)

R_P, R_AUX = np.array([1.0, 0.0]), np.array([0.0, 2.0])
THETA0, ALPHA, W = np.array([0.2, -0.1]), 0.5, 1.0


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def grad_j(theta, r):
    # d/dtheta_a sum_b pi_b r_b = pi_a (r_a - pi . r) for a softmax policy (hand derivation)
    pi = softmax(theta)
    return pi * (r - pi @ r)


def unrolled_primary(w):
    theta1 = THETA0 + ALPHA * grad_j(THETA0, R_P + w * R_AUX)
    return softmax(theta1) @ R_P


def rewardlab_outer_gradient():
    theta = torch.tensor(THETA0, dtype=torch.float64, requires_grad=True)
    log_prob = lambda: torch.log_softmax(theta, 0)  # noqa: E731  rows: arm 0, arm 1
    with torch.no_grad():
        pi0 = torch.softmax(theta, 0).numpy()
    # inner step theta' = theta + alpha grad J_w(theta), through primary_direction with the blended reward
    blended = R_P + W * R_AUX
    step = primary_direction(log_prob, [theta], blended - pi0 @ blended, pi0)
    with torch.no_grad():
        theta.add_(step, alpha=ALPHA)
        pi1 = torch.softmax(theta, 0).numpy()
    # v = grad J(theta') on the new policy's data (exact expectation), not normalised: H15's scale
    v = primary_direction(log_prob, [theta], R_P - pi1 @ R_P, pi1)
    with torch.no_grad():
        theta.copy_(torch.tensor(THETA0, dtype=torch.float64))
    # cross term at the old theta: u on its rows, the aux "return" of each arm
    u = alignment_scores(log_prob, [theta], v, eps=1e-3)
    return outer_gradient(u, R_AUX[:, None], pi0, ALPHA)[0]


def test_first_order_gradient_matches_finite_difference_of_unrolled_objective():
    h = 1e-5
    fd = (unrolled_primary(W + h) - unrolled_primary(W - h)) / (2 * h)
    g = rewardlab_outer_gradient()
    assert fd == pytest.approx(-0.12213, abs=5e-6)  # spec H15's measured value
    assert abs(g - fd) / abs(fd) < 1e-6
    assert g < 0  # the harmful aux's weight goes down


def test_neumann_direction_inverts_a_quadratic_hessian():
    # f(x) = -0.5 x^T A x, H = -A; sum_j (I - alpha A)^j v -> A^-1 v / alpha (geometric series)
    A = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    v = torch.tensor([1.0, -1.0], dtype=torch.float64)
    p = neumann_direction(lambda: -0.5 * x @ A @ x, [x], v, 0.3, 200)
    assert np.allclose(0.3 * p.numpy(), np.linalg.solve(A.numpy(), v.numpy()), atol=1e-10)


def test_returns_stop_at_episode_ends():
    # hand computation, gamma 0.9: episode 1 = steps 0-1, episode 2 = step 2..
    r = np.array([[1.0], [2.0], [3.0], [4.0]])
    done = np.array([[False], [True], [False], [False]])
    assert discounted_returns(r, done, 0.9)[:, 0].tolist() == pytest.approx([1 + 0.9 * 2, 2, 3 + 0.9 * 4, 4])
    # dG/dgamma: step 0: r_1 = 2 (power 1); step 2: r_3 = 4
    assert gamma_derivative(r, done, 0.9)[:, 0].tolist() == pytest.approx([2.0, 0.0, 4.0, 0.0])
