"""Exact planning and the STARC / EPIC reward distances (spec F4, check H14)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rewardlab.envs.tabular import tabular_mdp
from rewardlab.errors import InvalidParameter
from rewardlab.shaping import PBRS, EnvReward, GlobalCount
from rewardlab.shaping.metrics import (
    epic_distance,
    greedy_policy,
    optimal_advantage,
    policy_evaluation,
    policy_return,
    reward_table,
    sampled_starc_distance,
    starc_distance,
    val_canonicalize,
    value_iteration,
)


def random_mdp(rng: np.random.Generator, s: int = 16, a: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """H14's setting: a random dense MDP (Dirichlet rows) and a Gaussian reward (S, A, S)."""
    return rng.dirichlet(np.ones(s), size=(s, a)), rng.normal(size=(s, a, s))


def shaping(phi: np.ndarray, gamma: float, a: int) -> np.ndarray:
    return gamma * phi[None, None, :] - phi[:, None, None] + np.zeros((len(phi), a, len(phi)))


# --- planning ------------------------------------------------------------------------------------


def test_value_iteration_equals_the_best_of_all_deterministic_policies():
    # Brute force: V* is the pointwise max over the A^S deterministic policies, each evaluated exactly.
    rng = np.random.default_rng(0)
    t, r = random_mdp(rng, 4, 3)
    v, q = value_iteration(t, r, 0.95)
    best = np.full(4, -np.inf)
    for actions in itertools.product(range(3), repeat=4):
        pi = np.eye(3)[list(actions)]
        best = np.maximum(best, policy_evaluation(pi, t, r, 0.95))
    np.testing.assert_allclose(v, best, rtol=0, atol=1e-10)
    adv = optimal_advantage(t, r, 0.95)
    assert adv.max() <= 1e-12 and np.allclose(adv.max(axis=1), 0.0, atol=1e-12)  # A* <= 0, 0 at the argmax
    np.testing.assert_allclose(q - v[:, None], adv, atol=1e-12)


def test_frozenlake_values_by_hand():
    # Deterministic 4x4 FrozenLake: the shortest safe path is 6 moves and pays 1 on the 6th: 0.9^5.
    mdp = tabular_mdp("FrozenLake-v1", is_slippery=False, gamma=0.9)
    v, q = value_iteration(mdp.transitions, mdp.reward, 0.9, terminal=mdp.terminal)
    assert v[0] == pytest.approx(0.9**5, abs=1e-12)
    assert policy_return(greedy_policy(q), mdp) == pytest.approx(0.9**5, abs=1e-12)
    # gamma = 1 needs the terminal mask; the goal is reachable for sure, so V*(start) = 1.
    v1, _ = value_iteration(mdp.transitions, mdp.reward, 1.0, terminal=mdp.terminal)
    assert v1[0] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InvalidParameter, match="gamma"):
        value_iteration(mdp.transitions, mdp.reward, 1.0)


def test_slippery_frozenlake_success_probability():
    # V*(start) of slippery 4x4 FrozenLake at gamma = 1 is the optimal success probability; it is
    # checked against a Monte-Carlo estimate of the greedy policy played in the real env.
    import gymnasium as gym

    mdp = tabular_mdp("FrozenLake-v1", gamma=1.0)
    v, q = value_iteration(mdp.transitions, mdp.reward, 1.0, terminal=mdp.terminal)
    assert v[0] == pytest.approx(14 / 17, abs=1e-12)  # 0.8235..., the optimum usually quoted for this map
    pi = greedy_policy(q).argmax(axis=1)
    env = gym.make("FrozenLake-v1", max_episode_steps=10_000)
    wins, n = 0, 4000
    for i in range(n):
        s, _ = env.reset(seed=i)
        done = False
        while not done:
            s, r, term, trunc, _ = env.step(int(pi[s]))
            done = term or trunc
        wins += r
    sd = math.sqrt(v[0] * (1 - v[0]) / n)
    assert abs(wins / n - v[0]) < 4 * sd  # binomial 4-sigma band


def test_bad_arrays_raise_typed_errors():
    t = np.full((2, 1, 2), 0.5)
    with pytest.raises(InvalidParameter, match="sum to 1"):
        value_iteration(np.full((2, 1, 2), 0.4), np.zeros((2, 1, 2)), 0.9)
    with pytest.raises(InvalidParameter, match="shape"):
        starc_distance(np.zeros((2, 1, 2)), np.zeros((2, 2, 2)), t, 0.9)
    with pytest.raises(InvalidParameter, match="gamma"):
        starc_distance(np.zeros((2, 1, 2)), np.zeros((2, 1, 2)), t, 1.0)
    with pytest.raises(InvalidParameter, match="finite"):
        epic_distance(np.full((2, 1, 2), np.nan), np.zeros((2, 1, 2)), 0.9)


# --- STARC: H14 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_starc_h14_invariances(seed):
    # H14: 16 states x 4 actions, gamma = 0.9, VAL + L2; all values are exact identities of c(R).
    rng = np.random.default_rng(seed)
    t, r = random_mdp(rng)
    g = 0.9
    phi = rng.normal(size=16) * 10
    assert starc_distance(r, r + shaping(phi, g, 4), t, g) <= 1e-8
    assert starc_distance(r, 5.0 * r, t, g) <= 1e-8
    assert starc_distance(r, -r, t, g) == pytest.approx(1.0, abs=1e-8)  # 2 on the unhalved scale
    assert starc_distance(r, r + 3.7, t, g) <= 1e-8  # a constant is shaping by c / (1 - gamma)
    # S'-redistribution: X with E_{S'}[X(s, a, S')] = 0 changes nothing.
    x = rng.normal(size=(16, 4, 16))
    x -= (t * x).sum(axis=2, keepdims=True)
    assert starc_distance(r, r + x, t, g) <= 1e-8
    # And a genuinely different reward is far from it.
    assert starc_distance(r, rng.normal(size=r.shape), t, g) > 0.2


def test_starc_metric_axioms_on_100_random_mdps():
    # Symmetry and the triangle inequality: d is half the Euclidean distance of points on the unit
    # sphere (or the origin), a metric; 100 random MDPs, one random triple each.
    rng = np.random.default_rng(123)
    for _ in range(100):
        t, r1 = random_mdp(rng, 6, 3)
        r2, r3 = rng.normal(size=r1.shape), rng.normal(size=r1.shape)
        d12, d21 = starc_distance(r1, r2, t, 0.9), starc_distance(r2, r1, t, 0.9)
        d13, d23 = starc_distance(r1, r3, t, 0.9), starc_distance(r2, r3, t, 0.9)
        assert d12 == pytest.approx(d21, abs=1e-12)
        assert d13 <= d12 + d23 + 1e-12
        assert 0.0 <= d12 <= 1.0


def test_starc_two_state_mdp_by_hand():
    # Two states, action a goes to state a, gamma = 0.5, uniform pi.
    t = np.zeros((2, 2, 2))
    t[:, 0, 0] = t[:, 1, 1] = 1.0
    r1 = np.zeros((2, 2, 2))
    r1[:, 1, :] = 1.0  # pays for action 1: V = 0.5 / (1 - 0.5) = 1, c = [[-.5, .5], [-.5, .5]]
    r3 = np.zeros((2, 2, 2))
    r3[0, 1, :] = 1.0  # pays for action 1 in state 0 only
    # By hand: V3 = (0.75, 0.25); c3(s, a) = R - V(s) + 0.5 V(a) = [[-.375, .375], [.125, -.125]].
    np.testing.assert_allclose(val_canonicalize(r3, t, 0.5), [[-0.375, 0.375], [0.125, -0.125]], atol=1e-15)
    np.testing.assert_allclose(val_canonicalize(r1, t, 0.5), [[-0.5, 0.5], [-0.5, 0.5]], atol=1e-15)
    # s1 . s3 = 0.25 / sqrt(0.3125) = 1 / sqrt(5), so d = sqrt(2 - 2 / sqrt 5) / 2.
    assert starc_distance(r1, r3, t, 0.5) == pytest.approx(math.sqrt((1 - 1 / math.sqrt(5)) / 2), abs=1e-12)
    # Paying for arriving in state 0 is 1 - r1 on every possible transition: a constant minus r1.
    r0 = np.zeros((2, 2, 2))
    r0[:, :, 0] = 1.0
    assert starc_distance(r1, r0, t, 0.5) == pytest.approx(1.0, abs=1e-12)


def test_starc_zero_reward_convention():
    # s(R) = c(R) = 0 when c(R) vanishes (spec F4): distance 1/2 to any other reward, 0 between two such.
    rng = np.random.default_rng(7)
    t, r = random_mdp(rng, 5, 2)
    pure = shaping(rng.normal(size=5), 0.9, 2)
    assert starc_distance(np.zeros_like(r), r, t, 0.9) == pytest.approx(0.5, abs=1e-12)
    assert starc_distance(pure, r, t, 0.9) == pytest.approx(0.5, abs=1e-12)
    assert starc_distance(pure, np.zeros_like(r), t, 0.9) == 0.0


# --- EPIC ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_epic_invariances(seed):
    # Gleave et al.: C(R) is invariant to shaping by any Phi and to a constant; rho to positive scale.
    rng = np.random.default_rng(seed)
    _, r = random_mdp(rng)
    phi = rng.normal(size=16) * 10
    assert epic_distance(r, 0.5 * (r + shaping(phi, 0.9, 4)) + 2.0, 0.9) <= 1e-8
    assert epic_distance(r, -r, 0.9) == pytest.approx(1.0, abs=1e-8)
    # Also with non-uniform distributions.
    ds, da = rng.dirichlet(np.ones(16)), rng.dirichlet(np.ones(4))
    cov = rng.dirichlet(np.ones(16 * 4 * 16)).reshape(16, 4, 16)
    kw = dict(state_dist=ds, action_dist=da, coverage=cov)
    assert epic_distance(r, 3.0 * r + shaping(phi, 0.9, 4), 0.9, **kw) <= 1e-8


def test_epic_metric_axioms_on_100_random_rewards():
    rng = np.random.default_rng(5)
    for _ in range(100):
        r1, r2, r3 = (rng.normal(size=(5, 2, 5)) for _ in range(3))
        d12, d13, d23 = epic_distance(r1, r2, 0.9), epic_distance(r1, r3, 0.9), epic_distance(r2, r3, 0.9)
        assert d12 == pytest.approx(epic_distance(r2, r1, 0.9), abs=1e-12)
        assert d13 <= d12 + d23 + 1e-12


def test_epic_by_hand():
    # One state, three actions: C(R)(a) = R(a) - mean R; rho([1,0,0], [0,1,0]) = -1/2, d = sqrt(3/4).
    r1 = np.array([1.0, 0.0, 0.0]).reshape(1, 3, 1)
    r2 = np.array([0.0, 1.0, 0.0]).reshape(1, 3, 1)
    assert epic_distance(r1, r2, 0.9) == pytest.approx(math.sqrt(0.75), abs=1e-12)
    # A shaped constant has no variance: the origin, 1/2 from anything else (documented convention).
    assert epic_distance(np.full((1, 3, 1), 4.0), r1, 0.9) == pytest.approx(0.5, abs=1e-12)


# --- rewardlab terms through reward_table --------------------------------------------------------


@pytest.mark.parametrize("slippery", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_frozenlake_reward_plus_pbrs_is_distance_zero(slippery, seed):
    # Ng et al.: R + PBRS(phi) orders policies as R does; STARC's c is exactly invariant, for any phi.
    mdp = tabular_mdp("FrozenLake-v1", is_slippery=slippery, gamma=0.99)
    phi = np.random.default_rng(seed).normal(size=16) * 5
    shaped = EnvReward() + PBRS(lambda obs: phi[np.asarray(obs)], gamma=0.99)
    base_table, shaped_table = reward_table(EnvReward(), mdp), reward_table(shaped, mdp)
    assert np.abs(shaped_table - base_table).max() > 1.0  # the shaping really is in the table
    assert starc_distance(base_table, shaped_table, mdp.transitions, 0.99) <= 1e-9
    assert starc_distance(base_table, -base_table, mdp.transitions, 0.99) == pytest.approx(1.0, abs=1e-12)
    # EPIC reads every (s, a, s'); exact when the potential vanishes on terminal states (documented).
    phi[mdp.terminal] = 0.0
    e_base, e_shaped = reward_table(EnvReward(), mdp, support="all"), reward_table(shaped, mdp, support="all")
    assert epic_distance(e_base, e_shaped, 0.99) <= 1e-9


def test_reward_table_values_and_frozen_state():
    mdp = tabular_mdp("FrozenLake-v1", is_slippery=False)
    # EnvReward's table is the env's reward: 1 only on the move into the goal, 14 -> 15 going right
    # (15's other neighbour, 11, is a hole in the 4x4 map).
    table = reward_table(EnvReward(), mdp)
    np.testing.assert_array_equal(np.argwhere(table == 1.0), [[14, 2, 15]])
    # A count bonus is frozen: the term's counts are unchanged, and every row is scored on the same
    # counts (a fresh table: s counted once by reset, then s' -> 1/sqrt(2) on a self-loop, else 1).
    bonus = GlobalCount("obs")
    bonus.counts[bonus.keys(np.array([4]))[0]] = 3  # state 4 seen 3 times
    before = dict(bonus.counts)
    bt = reward_table(bonus, mdp)
    assert bonus.counts == before
    assert bt[0, 1, 4] == pytest.approx(1 / math.sqrt(4))  # N(4) = 3 + this visit
    assert bt[0, 2, 1] == pytest.approx(1.0)
    assert bt[0, 0, 0] == pytest.approx(1 / math.sqrt(2))  # s = 0 registered by reset, then revisited
    assert bt[5].max() == 0.0  # a hole: terminal rows are never scored


# --- the sampled estimate ------------------------------------------------------------------------


def _sample(rng, t, k):
    """k successors of every (s, a) of a tabular MDP, as a simulator reset to s would give."""
    s_n, a_n = t.shape[:2]
    s = np.repeat(np.arange(s_n), a_n * k)
    a = np.tile(np.repeat(np.arange(a_n), k), s_n)
    s2 = np.array([rng.choice(s_n, p=t[i, j]) for i, j in zip(s, a)])
    return s, a, s2


@pytest.mark.parametrize("seed", range(3))
def test_sampled_starc_matches_the_exact_value_within_its_error_bars(seed):
    # One-hot features make LSTD's V the exact V^pi of the empirical model, so the estimate is
    # consistent; with 300 successors per (s, a) it must sit within 4 bootstrap sd (+0.01 for the
    # small bias of normalizing a noisy vector) of the exact distance, whose value it does not see.
    rng = np.random.default_rng(seed)
    t, r1 = random_mdp(rng, 5, 3)
    r2 = r1 + 0.8 * rng.normal(size=r1.shape)
    exact = starc_distance(r1, r2, t, 0.9)
    s, a, s2 = _sample(rng, t, 300)
    eye = np.eye(5)
    est = sampled_starc_distance(r1[s, a, s2], r2[s, a, s2], eye[s], eye[s2], 0.9, groups=s * 3 + a, n_boot=100, seed=seed)
    assert est.n == 15
    assert 0.0 < est.stderr < 0.05
    assert abs(est.value - exact) <= 4 * est.stderr + 0.01
    assert est.low <= est.value <= est.high
    # Potential shaping leaves the sampled estimate at 0 too (c is exactly invariant per sample).
    phi = rng.normal(size=5)
    shaped = r1[s, a, s2] + 0.9 * phi[s2] - phi[s]
    assert sampled_starc_distance(r1[s, a, s2], shaped, eye[s], eye[s2], 0.9, groups=s * 3 + a, n_boot=0).value <= 1e-8


def test_sampled_starc_error_shrinks_with_more_successors():
    # Monte-Carlo over successors: the bootstrap sd falls roughly as 1/sqrt(k) (4x the successors: ~half).
    rng = np.random.default_rng(11)
    t, r1 = random_mdp(rng, 5, 3)
    r2 = r1 + 0.8 * rng.normal(size=r1.shape)
    eye = np.eye(5)
    sds = []
    for k in (25, 400):
        s, a, s2 = _sample(rng, t, k)
        sds.append(sampled_starc_distance(r1[s, a, s2], r2[s, a, s2], eye[s], eye[s2], 0.9, groups=s * 3 + a, n_boot=100).stderr)
    assert sds[1] < 0.5 * sds[0]


def test_reward_table_of_llm_and_learned_terms():
    from rewardlab.shaping import RND, LLMReward

    mdp = tabular_mdp("FrozenLake-v1")
    # LLM-written code, run in its sandbox: on toy-text the observation is the state index.
    code = "def compute_reward(obs, action, next_obs, info):\n    return float(next_obs.x0 - obs.x0)\n"
    term = LLMReward(code)
    try:
        table = reward_table(term, mdp)
    finally:
        term.close()
    s, a, s2 = np.nonzero((mdp.transitions > 0) & ~mdp.terminal[:, None, None])
    np.testing.assert_array_equal(table[s, a, s2], s2 - s)  # the formula, row by row
    assert term.calls == 0  # scored on a copy: the caller's counters are untouched
    # A learned novelty bonus at its current (untrained) weights: the same table twice, varying with s'.
    rnd = RND(lambda obs: np.eye(16)[np.asarray(obs).reshape(-1)])
    first, second = reward_table(rnd, mdp), reward_table(rnd, mdp)
    np.testing.assert_array_equal(first, second)
    assert len(np.unique(first[s, a, s2].round(9))) > 5
